//! Soak: many frames through the element on the CPU with `tiny` models, under the changes a
//! long-running kiosk or broadcast sees, watching resident memory, threads and open files (a
//! command, not part of the test run).
//!
//!   cargo bench --bench soak [-- FRAMES]     (default 10000 frames)
//!
//! Frames alternate 320x240 RGB and 240x320 BGRx (a caps change every 1,000 frames); the
//! reference is swapped every 500 frames and the pipeline cycled NULL-PLAYING every 2,500.
//! Every 1,000 frames it prints resident memory, threads and open file descriptors; from frame
//! 1,000 on, memory growth above 5% fails, and so do more than two extra threads or files (a
//! swap in progress reads its photo on a thread of its own for a moment).

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gst::prelude::*;

const SWAP_EVERY: u64 = 500;
const CAPS_EVERY: u64 = 1000;
const CYCLE_EVERY: u64 = 2500;
const REPORT_EVERY: u64 = 1000;

/// Model resolution: a quarter of the paper's pixels keeps a 10,000-frame run within minutes.
const MODEL_H: usize = 128;
const MODEL_W: usize = 96;

fn frame(w: usize, h: usize, bpp: usize, i: u64) -> Vec<u8> {
    // A moving diagonal gradient: every frame differs.
    let mut data = vec![0u8; w * h * bpp];
    for y in 0..h {
        for x in 0..w {
            let p = (y * w + x) * bpp;
            let v = ((x + y + i as usize * 3) % 256) as u8;
            data[p..p + 3].copy_from_slice(&[v, 255 - v, (x % 256) as u8]);
        }
    }
    data
}

fn main() {
    common::init();
    let frames: u64 = std::env::args().skip(1).find(|a| !a.starts_with("--")).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let tmp = tempfile::tempdir().unwrap();
    let device = garment_training::nn::default_device();
    let mut nets = garment_training::onnx::InferenceNets::untrained(garment_training::nn::Preset::Tiny, &device);
    common::all_garment_parser(&mut nets);
    garment_training::onnx::export_models(&nets, garment_training::nn::Preset::Tiny, garment_training::onnx::Precision::Fp32, MODEL_H, MODEL_W, tmp.path(), None).unwrap();
    let references = [common::person_png(tmp.path(), "a.png", 1), common::person_png(tmp.path(), "b.png", 2)];
    let pipeline = common::launch(&format!(
        "appsrc name=src format=time block=true max-buffers=2 ! videoconvert ! \
         garmenttransfer name=gt models={} reference={} execution-provider=cpu ! fakesink name=sink sync=false signal-handoffs=true",
        tmp.path().display(),
        references[0].display()
    ));
    let src = pipeline.by_name("src").unwrap().downcast::<gst_app::AppSrc>().unwrap();
    let gt = pipeline.by_name("gt").unwrap();
    let sink = pipeline.by_name("sink").unwrap();
    let done = Arc::new(AtomicU64::new(0));
    let d = done.clone();
    sink.connect("handoff", false, move |_| {
        d.fetch_add(1, Ordering::Relaxed);
        None
    });
    let bus = pipeline.bus().unwrap();
    let check_bus = || {
        while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
            if let gst::MessageView::Error(e) = msg.view() {
                panic!("error: {} ({:?})", e.error(), e.debug());
            }
        }
    };
    let layouts = [(320usize, 240usize, "RGB", 3usize), (240, 320, "BGRx", 4)];
    let set_caps = |k: usize| {
        let (w, h, format, _) = layouts[k];
        src.set_caps(Some(&gst::Caps::builder("video/x-raw").field("format", format).field("width", w as i32).field("height", h as i32).field("framerate", gst::Fraction::new(30, 1)).build()));
    };
    set_caps(0);
    pipeline.set_state(gst::State::Playing).unwrap();
    let start = Instant::now();
    let mut base: Option<(u64, usize, usize)> = None;
    let mut most = (0u64, 0usize, 0usize);
    let (mut swaps, mut cycles, mut caps_changes) = (0, 0, 0);
    let mut pts = 0u64;
    for i in 0..frames {
        if i > 0 && i % CYCLE_EVERY == 0 {
            pipeline.set_state(gst::State::Null).unwrap();
            pipeline.set_state(gst::State::Playing).unwrap();
            pts = 0;
            cycles += 1;
        }
        if i > 0 && i % CAPS_EVERY == 0 {
            set_caps(((i / CAPS_EVERY) % 2) as usize);
            caps_changes += 1;
        }
        if i > 0 && i % SWAP_EVERY == 0 {
            gt.set_property("reference", references[((i / SWAP_EVERY) % 2) as usize].to_str().unwrap());
            swaps += 1;
        }
        let (w, h, _, bpp) = layouts[((i / CAPS_EVERY) % 2) as usize];
        let mut buffer = gst::Buffer::from_mut_slice(frame(w, h, bpp, i));
        buffer.get_mut().unwrap().set_pts(gst::ClockTime::from_mseconds(pts * 33));
        pts += 1;
        src.push_buffer(buffer).expect("appsrc takes the frame");
        check_bus();
        if (i + 1) % REPORT_EVERY == 0 {
            let usage = common::process_usage();
            println!(
                "{:>6} frames pushed ({} through), {:>5.0} s: resident {:.1} MiB, {} threads, {} open files",
                i + 1,
                done.load(Ordering::Relaxed),
                start.elapsed().as_secs_f64(),
                usage.0 as f64 / 1024.0,
                usage.1,
                usage.2
            );
            if base.is_none() {
                base = Some(usage);
            } else {
                most = (most.0.max(usage.0), most.1.max(usage.1), most.2.max(usage.2));
            }
        }
    }
    src.end_of_stream().unwrap();
    let _ = bus.timed_pop_filtered(gst::ClockTime::from_seconds(60), &[gst::MessageType::Eos, gst::MessageType::Error]);
    pipeline.set_state(gst::State::Null).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "{frames} frames pushed, {} through, in {elapsed:.0} s ({:.1} ms per frame); {swaps} reference swaps, {caps_changes} caps changes, {cycles} NULL-PLAYING cycles",
        done.load(Ordering::Relaxed),
        elapsed * 1e3 / frames as f64
    );
    let Some(base) = base.filter(|_| frames >= 2 * REPORT_EVERY) else {
        println!("fewer than {} frames: no growth measured", 2 * REPORT_EVERY);
        return;
    };
    let growth = |a: f64, b: f64| (b / a - 1.0) * 100.0;
    let (g_rss, g_threads, g_fds) =
        (growth(base.0 as f64, most.0 as f64), growth(base.1 as f64, most.1 as f64), growth(base.2 as f64, most.2 as f64));
    println!(
        "from frame {REPORT_EVERY} on: resident {:.1} -> at most {:.1} MiB ({g_rss:+.2}%), threads {} -> at most {} ({g_threads:+.1}%), open files {} -> at most {} ({g_fds:+.1}%)",
        base.0 as f64 / 1024.0,
        most.0 as f64 / 1024.0,
        base.1,
        most.1,
        base.2,
        most.2
    );
    assert!(g_rss < 5.0, "resident memory grew {g_rss:.2}%, more than 5%");
    // A swap in progress has a reader thread (and its file) open for a moment: two at most.
    assert!(most.1 <= base.1 + 2 && most.2 <= base.2 + 2, "threads or open files grew");
}
