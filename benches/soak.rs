//! Soak: many frames through the element on the CPU with the `tiny` models, watching resident
//! memory (a command, not part of the test run).
//!
//!   cargo bench --bench soak [-- FRAMES]     (default 10000 frames at 320x240)
//!
//! Prints resident memory after the first 500 frames and at the end; growth above 5% fails.

#[path = "../tests/common/mod.rs"]
mod common;

use gst::prelude::*;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

fn main() {
    common::init();
    let frames: u64 = std::env::args().skip(1).find(|a| !a.starts_with("--")).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let tmp = tempfile::tempdir().unwrap();
    let device = garment_training::nn::default_device();
    let mut nets = garment_training::onnx::InferenceNets::untrained(garment_training::nn::Preset::Tiny, &device);
    common::all_garment_parser(&mut nets);
    garment_training::onnx::export_models(&nets, garment_training::nn::Preset::Tiny, 256, 192, tmp.path(), None).unwrap();
    let reference = common::person_png(tmp.path(), "reference.png", 1);
    let pipeline = common::launch(&format!(
        "videotestsrc num-buffers={frames} pattern=ball ! video/x-raw,width=320,height=240 ! videoconvert ! \
         garmenttransfer name=gt models={} reference={} execution-provider=cpu ! fakesink name=sink sync=false signal-handoffs=true",
        tmp.path().display(),
        reference.display()
    ));
    let sink = pipeline.by_name("sink").unwrap();
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let at_500 = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (c, a) = (counter.clone(), at_500.clone());
    sink.connect("handoff", false, move |_| {
        let n = c.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if n == 500 {
            a.store(rss_kib(), std::sync::atomic::Ordering::Relaxed);
        }
        if n % 1000 == 0 {
            eprintln!("{n} frames, resident {} MiB", rss_kib() / 1024);
        }
        None
    });
    let start = std::time::Instant::now();
    let ended = common::run(&pipeline, std::time::Duration::from_secs(24 * 3600));
    let end = rss_kib();
    let first = at_500.load(std::sync::atomic::Ordering::Relaxed);
    let n = counter.load(std::sync::atomic::Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    if first == 0 {
        println!("{n} frames at 320x240 in {elapsed:.0} s ({:.0} ms per frame); resident memory at the end {:.1} MiB (fewer than 500 frames: no growth measured)", elapsed * 1e3 / n.max(1) as f64, end as f64 / 1024.0);
    } else {
        println!(
            "{n} frames at 320x240 in {elapsed:.0} s; resident memory after 500 frames {:.1} MiB, at the end {:.1} MiB: growth {:+.2}%",
            first as f64 / 1024.0,
            end as f64 / 1024.0,
            (end as f64 / first as f64 - 1.0) * 100.0
        );
    }
    assert!(ended.errors.is_empty(), "{:?}", ended.errors);
    assert!(n < 500 || (end as f64) < first as f64 * 1.05, "resident memory grew more than 5%");
}
