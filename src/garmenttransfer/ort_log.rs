//! ONNX Runtime's own log (which the `ort` crate emits as `tracing` events) routed into the
//! GStreamer debug category `garmenttransfer-ort`: `GST_DEBUG=garmenttransfer-ort:5` shows it.

use std::sync::LazyLock;

use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::subscriber::Interest;
use tracing_core::{Event, Level, Metadata, Subscriber};

pub static ORT_CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new("garmenttransfer-ort", gst::DebugColorFlags::empty(), Some("ONNX Runtime, as used by garmenttransfer"))
});

struct GstSubscriber;

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        if field.name() == "message" {
            self.0.push_str(&format!("{value:?}"));
        } else {
            self.0.push_str(&format!("{}={value:?}", field.name()));
        }
    }
}

fn gst_level(level: &Level) -> gst::DebugLevel {
    match *level {
        Level::ERROR => gst::DebugLevel::Error,
        Level::WARN => gst::DebugLevel::Warning,
        Level::INFO => gst::DebugLevel::Info,
        Level::DEBUG => gst::DebugLevel::Debug,
        Level::TRACE => gst::DebugLevel::Trace,
    }
}

impl Subscriber for GstSubscriber {
    // Asked at every event, not cached per call site: the category's threshold can change at
    // run time (`gst::log::set_threshold_for_name`, `GST_DEBUG`).
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if metadata.target().starts_with("ort") { Interest::sometimes() } else { Interest::never() }
    }
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target().starts_with("ort") && ORT_CAT.threshold() >= gst_level(metadata.level())
    }
    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _span: &Id, _values: &Record<'_>) {}
    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut m = Message(String::new());
        event.record(&mut m);
        gst::log_with_level!(*ORT_CAT, gst_level(event.metadata().level()), "{}", m.0);
    }
    fn enter(&self, _span: &Id) {}
    fn exit(&self, _span: &Id) {}
}

/// Install the route, scoped to the threads and calls that enter ONNX Runtime through this
/// plugin (`runtime::with_log`): no process-wide subscriber, so a host application that installs
/// its own `tracing` subscriber keeps it.
pub fn install() {
    LazyLock::force(&ORT_CAT);
    crate::runtime::set_log_dispatch(tracing_core::Dispatch::new(GstSubscriber));
}
