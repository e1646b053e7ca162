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
}
