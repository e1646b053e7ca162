//! The element in real pipelines: formats, sizes, caps changes, passthrough, reference swaps,
//! two elements in one process, and every error a user can cause.

mod common;

use std::time::Duration;

use common::{H, ParserVerdict, W, init, launch, models, person_png, run};
use gst::prelude::*;

const TIMEOUT: Duration = Duration::from_secs(120);

/// videotestsrc -> garmenttransfer -> appsink; returns the buffers and how the run ended.
fn through(caps: &str, element: &str, frames: u32) -> (Vec<gst::Sample>, common::Ended) {
    let pipeline = launch(&format!(
        "videotestsrc num-buffers={frames} pattern=ball ! {caps} ! {element} ! appsink name=sink sync=false"
    ));
    let sink = pipeline.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
    let samples = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = samples.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                s2.lock().unwrap().push(sample);
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    let ended = run(&pipeline, TIMEOUT);
    let samples = samples.lock().unwrap().clone();
    (samples, ended)
}

fn element(models: &std::path::Path, reference: &std::path::Path, extra: &str) -> String {
    format!("garmenttransfer name=gt models={} reference={} execution-provider=cpu {extra}", models.display(), reference.display())
}

#[test]
fn every_format_and_many_sizes_pass_through_the_element() {
    init();
    let tmp = tempfile::tempdir().unwrap();
    let m = models(&tmp.path().join("models"), ParserVerdict::AllGarment);
    let r = person_png(tmp.path(), "reference.png", 1);
    for format in ["RGBA", "BGRA", "RGBx", "BGRx", "RGB", "BGR"] {
        let caps = format!("video/x-raw,format={format},width=160,height=120");
        let (samples, ended) = through(&caps, &element(&m, &r, ""), 3);
        assert!(ended.errors.is_empty() && ended.eos, "{format}: {:?}", ended.errors);
        assert_eq!(samples.len(), 3, "{format}");
        let s = samples[0].caps().unwrap().structure(0).unwrap().get::<String>("format").unwrap();
        assert_eq!(s, format);
    }
    for (w, h) in [(64, 64), (333, 197), (1920, 1080), (W as i32, 7 * H as i32)] {
        let caps = format!("video/x-raw,format=RGBx,width={w},height={h}");
        let (samples, ended) = through(&caps, &element(&m, &r, ""), 2);
        assert!(ended.errors.is_empty() && ended.eos, "{w}x{h}: {:?}", ended.errors);
        assert_eq!(samples.len(), 2, "{w}x{h}");
    }
}

#[test]
fn the_frame_changes_where_the_person_is_and_the_stats_count_it() {
    init();
    let tmp = tempfile::tempdir().unwrap();
    let r = person_png(tmp.path(), "reference.png", 1);
    let m = models(&tmp.path().join("models"), ParserVerdict::AllGarment);
    let (dressed, ended) = through("video/x-raw,format=RGB,width=96,height=128", &element(&m, &r, ""), 2);
    assert!(ended.errors.is_empty(), "{:?}", ended.errors);
    let (plain, _) = through("video/x-raw,format=RGB,width=96,height=128", "identity", 2);
    let a = plain[0].buffer().unwrap().map_readable().unwrap().to_vec();
    let b = dressed[0].buffer().unwrap().map_readable().unwrap().to_vec();
    assert_eq!(a.len(), b.len());
    let changed = a.iter().zip(&b).filter(|(x, y)| x != y).count();
    assert!(changed > a.len() / 10, "the garment region (here: the whole frame) must change: {changed} of {} bytes", a.len());
    // Timestamps are kept.
    assert_eq!(plain[1].buffer().unwrap().pts(), dressed[1].buffer().unwrap().pts());
}

#[test]
fn stats_and_latency_are_reported() {
    init();
    let tmp = tempfile::tempdir().unwrap();
    let r = person_png(tmp.path(), "reference.png", 1);
    let m = models(&tmp.path().join("models"), ParserVerdict::AllGarment);
    let pipeline = launch(&format!("videotestsrc num-buffers=3 ! video/x-raw,width=128,height=96 ! videoconvert ! {} ! fakesink", element(&m, &r, "")));
    let ended = run(&pipeline, TIMEOUT);
    assert!(ended.eos, "{:?}", ended.errors);
    let gt = pipeline.by_name("gt").unwrap();
    // Stats survive until the element is restarted: read them before the pipeline is reused.
    let _ = gt;
    let pipeline = launch(&format!("videotestsrc num-buffers=3 ! video/x-raw,width=128,height=96 ! videoconvert ! {} ! fakesink name=sink", element(&m, &r, "")));
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let _ = bus.timed_pop_filtered(gst::ClockTime::from_seconds(120), &[gst::MessageType::Eos, gst::MessageType::Error]);
    let stats = pipeline.by_name("gt").unwrap().property::<gst::Structure>("stats");
    assert_eq!(stats.get::<u64>("frames").unwrap(), 3, "{stats}");
    assert_eq!(stats.get::<u64>("passed-through").unwrap(), 0);
    assert!(stats.get::<f64>("parser-mean-ms").unwrap() > 0.0 && stats.get::<f64>("warp-last-ms").unwrap() > 0.0, "{stats}");
    assert_eq!(stats.get::<&str>("execution-provider").unwrap(), "CPU");
    let mut q = gst::query::Latency::new();
    assert!(pipeline.by_name("gt").unwrap().static_pad("src").unwrap().query(&mut q));
    let (_, min, _) = q.result();
    assert!(min > gst::ClockTime::ZERO, "the element adds its processing time to the latency");
    pipeline.set_state(gst::State::Null).unwrap();

    // Two frames in flight: every frame comes out, and one frame interval (30 fps) more latency
    // than the processing time.
    let pipeline = launch(&format!(
        "videotestsrc num-buffers=3 ! video/x-raw,width=128,height=96,framerate=30/1 ! videoconvert ! {} ! fakesink name=sink",
        element(&m, &r, "frames-in-flight=2")
    ));
    pipeline.set_state(gst::State::Playing).unwrap();
    let msg = pipeline.bus().unwrap().timed_pop_filtered(gst::ClockTime::from_seconds(120), &[gst::MessageType::Eos, gst::MessageType::Error]);
    assert!(matches!(msg.as_ref().map(|m| m.view()), Some(gst::MessageView::Eos(_))), "{msg:?}");
    let gt = pipeline.by_name("gt").unwrap();
    let stats = gt.property::<gst::Structure>("stats");
    assert_eq!(stats.get::<u64>("frames").unwrap(), 3, "{stats}");
    let processing: f64 = ["parser", "densepose", "transfer-parsing", "warp", "regrowth", "composite"]
        .iter()
        .map(|s| stats.get::<f64>(format!("{s}-mean-ms").as_str()).unwrap())
        .sum();
    let mut q = gst::query::Latency::new();
    assert!(gt.static_pad("sink").unwrap().peer_query(&mut q));
    let upstream = q.result().1.nseconds() as f64 / 1e6;
    let mut q = gst::query::Latency::new();
    assert!(gt.static_pad("src").unwrap().query(&mut q));
    let extra = q.result().1.nseconds() as f64 / 1e6 - upstream - processing;
    assert!((extra - 1000.0 / 30.0).abs() < 0.1, "latency {} = upstream {upstream:.3} ms + processing {processing:.3} ms + {extra:.3} ms, expected one frame (33.333 ms)", q.result().1);
    pipeline.set_state(gst::State::Null).unwrap();
}

#[test]
fn a_flushing_seek_with_frames_in_flight_drops_them_and_the_stream_goes_on() {
    init();
    let tmp = tempfile::tempdir().unwrap();
    let r = person_png(tmp.path(), "reference.png", 1);
    let m = models(&tmp.path().join("models"), ParserVerdict::AllGarment);
    for in_flight in [1, 2] {
        let pipeline = launch(&format!(
            "videotestsrc num-buffers=12 ! video/x-raw,width=128,height=96,framerate=30/1 ! videoconvert ! {} ! appsink name=sink sync=false max-buffers=1",
            element(&m, &r, &format!("frames-in-flight={in_flight}"))
        ));
        let sink = pipeline.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        let mut pts = Vec::new();
        for _ in 0..4 {
            pts.push(sink.pull_sample().unwrap().buffer().unwrap().pts().unwrap());
        }
        // Back to the start while frames are in flight.
        pipeline.seek_simple(gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE, gst::ClockTime::ZERO).unwrap();
        let mut after = Vec::new();
        while let Ok(sample) = sink.pull_sample() {
            after.push(sample.buffer().unwrap().pts().unwrap());
        }
        let msg = pipeline.bus().unwrap().timed_pop_filtered(gst::ClockTime::from_seconds(60), &[gst::MessageType::Eos, gst::MessageType::Error]);
        assert!(matches!(msg.as_ref().map(|m| m.view()), Some(gst::MessageView::Eos(_))), "{in_flight} in flight: {msg:?}");
        // After the seek the stream starts again from zero and runs to its end, in order.
        assert_eq!(after.first(), Some(&gst::ClockTime::ZERO), "{in_flight} in flight: {after:?}");
        assert!(after.windows(2).all(|w| w[0] < w[1]), "{in_flight} in flight: {after:?}");
        // videotestsrc's num-buffers counts the frames before the seek too.
        assert!(after.len() >= 3, "{in_flight} in flight: {} frames after the seek", after.len());
        pipeline.set_state(gst::State::Null).unwrap();
    }
}

/// On the CPU the element runs the shipped folder's 8-bit form (`models/int8`) and says so in
/// its stats; `int8=false` runs the float files.
#[test]
fn the_cpu_runs_the_folders_int8_form_unless_int8_is_off() {
    init();
    let tmp = tempfile::tempdir().unwrap();
    let r = person_png(tmp.path(), "reference.png", 1);
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    for (extra, precision) in [("", "int8"), ("int8=false", "fp32")] {
        let pipeline = launch(&format!("videotestsrc num-buffers=2 ! video/x-raw,width=128,height=96 ! videoconvert ! {} ! fakesink", element(&shipped, &r, extra)));
        pipeline.set_state(gst::State::Playing).unwrap();
        let bus = pipeline.bus().unwrap();
        let msg = bus.timed_pop_filtered(gst::ClockTime::from_seconds(120), &[gst::MessageType::Eos, gst::MessageType::Error]);
        assert!(matches!(msg.as_ref().map(|m| m.view()), Some(gst::MessageView::Eos(_))), "{msg:?}");
        let stats = pipeline.by_name("gt").unwrap().property::<gst::Structure>("stats");
        assert_eq!(stats.get::<&str>("precision").unwrap(), precision, "{extra}: {stats}");
        assert_eq!(stats.get::<&str>("composite").unwrap(), "host", "on the CPU the composite runs on the host by default: {stats}");
        pipeline.set_state(gst::State::Null).unwrap();
    }
}
