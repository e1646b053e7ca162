//! 200 NULL-PLAYING cycles of one pipeline: resident memory, threads and file descriptors stay
//! level. Its own test binary: it counts the whole process's threads and files, which other
//! tests running beside it would change.

mod common;

use std::time::{Duration, Instant};

use common::{ParserVerdict, gt, init, launch, models, person_png};
use gst::prelude::*;

#[test]
fn null_playing_cycles_keep_memory_threads_and_files_level() {
    init();
    let tmp = tempfile::tempdir().unwrap();
    let m = models(&tmp.path().join("m"), ParserVerdict::AllGarment);
    let r = person_png(tmp.path(), "reference.png", 1);
    let pipeline = launch(&format!("videotestsrc num-buffers=2 ! video/x-raw,width=128,height=96 ! videoconvert ! {} ! fakesink", gt(&m, &r)));
    let bus = pipeline.bus().unwrap();
    let cycle = |i: usize| {
        pipeline.set_state(gst::State::Playing).unwrap();
        let msg = bus.timed_pop_filtered(gst::ClockTime::from_seconds(60), &[gst::MessageType::Eos, gst::MessageType::Error]);
        assert!(matches!(msg.as_ref().map(|m| m.view()), Some(gst::MessageView::Eos(_))), "cycle {i}: {msg:?}");
        pipeline.set_state(gst::State::Null).unwrap();
    };
    // Threads that end on their own (the reference worker, file readers) get a moment to.
    let settled = |threads: usize| {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let usage = common::process_usage();
            if usage.1 <= threads || Instant::now() > deadline {
                return usage;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    cycle(0);
    let (rss0, threads0, fds0) = settled(0);
    let mut most = rss0;
    for i in 1..200 {
        cycle(i);
        let (rss, threads, fds) = settled(threads0);
        most = most.max(rss);
        assert!(threads <= threads0 && fds <= fds0, "cycle {i}: {threads} threads and {fds} files, {threads0} and {fds0} after the first");
    }
    eprintln!("resident memory after the first cycle {} KiB, at most {} KiB over 200 cycles", rss0, most);
    assert!(most as f64 <= rss0 as f64 * 1.25, "resident memory {most} KiB, more than 1.25x the {rss0} KiB after the first cycle");
}
