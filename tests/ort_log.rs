//! ONNX Runtime's own log reaches the GStreamer debug category `garmenttransfer-ort`. Its own
//! test binary: the log must be watched from before the library is loaded in the process.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{ParserVerdict, init, launch, models, person_png, run};

#[test]
fn onnx_runtime_logs_into_its_own_debug_category() {
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let s = seen.clone();
    gst::log::add_log_function(move |category, _level, _file, _func, _line, _obj, _msg| {
        if category.name() == "garmenttransfer-ort" {
            s.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    });
    gst::log::set_threshold_for_name("garmenttransfer-ort", gst::DebugLevel::Trace);
    // Counted above, not printed.
    gst::log::remove_default_log_function();
    init();
    let tmp = tempfile::tempdir().unwrap();
    let m = models(&tmp.path().join("m"), ParserVerdict::AllGarment);
    let r = person_png(tmp.path(), "r.png", 1);
    let pipeline = launch(&format!(
        "videotestsrc num-buffers=1 ! video/x-raw,width=128,height=96 ! videoconvert ! garmenttransfer models={} reference={} execution-provider=cpu ! fakesink",
        m.display(),
        r.display()
    ));
    let ended = run(&pipeline, Duration::from_secs(120));
    assert!(ended.eos, "{:?}", ended.errors);
    assert!(seen.load(std::sync::atomic::Ordering::Relaxed) > 0, "no ONNX Runtime message reached garmenttransfer-ort");
    // The route is scoped to the plugin's calls: the host application can still install its
    // own process-wide subscriber.
    let host = tracing_core::Dispatch::new(tracing_core::subscriber::NoSubscriber::default());
    assert!(tracing_core::dispatcher::set_global_default(host).is_ok(), "the plugin installed a global tracing subscriber");
}
