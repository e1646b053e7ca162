//! Live behaviour: a reference swapped while PLAYING, two elements in one process, caps that
//! change mid-stream, and a frame with nobody in it.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{H, ParserVerdict, W, init, launch, models, person_png, run};
use gst::prelude::*;
use gstgarmenttransfer::chain::{Chain, OutputMode, Outcome};
use gstgarmenttransfer::frame::{FrameMut, PixelFormat};
use gstgarmenttransfer::models::{ExecutionProvider, Models};
use gstgarmenttransfer::reference::Reference;

#[test]
fn reference_swapped_while_playing_and_a_bad_one_keeps_the_old() {
    init();
    let tmp = tempfile::tempdir().unwrap();
    let m = models(&tmp.path().join("m"), ParserVerdict::AllGarment);
    let a = person_png(tmp.path(), "a.png", 1);
    let b = person_png(tmp.path(), "b.png", 2);
    let pipeline = launch(&format!(
        "videotestsrc num-buffers=60 ! video/x-raw,width=128,height=96,framerate=20/1 ! videoconvert ! \
         garmenttransfer name=gt models={} reference={} execution-provider=cpu ! fakesink sync=true",
        m.display(),
        a.display()
    ));
    let gt = pipeline.by_name("gt").unwrap();
    let bad = tmp.path().join("missing.jpg");
    let (gt2, b2, bad2) = (gt.clone(), b.clone(), bad.clone());
    let pipeline2 = pipeline.clone();
    let swapper = std::thread::spawn(move || {
        // Swap once frames flow.
        let _ = pipeline2.state(gst::ClockTime::from_seconds(60));
        std::thread::sleep(Duration::from_millis(300));
        gt2.set_property("reference", b2.to_str().unwrap());
        std::thread::sleep(Duration::from_millis(400));
        gt2.set_property("reference", bad2.to_str().unwrap());
    });
    let ended = run(&pipeline, Duration::from_secs(120));
    swapper.join().unwrap();
    assert!(ended.eos && ended.errors.is_empty(), "{:?}", ended.errors);
    assert!(ended.warnings.iter().any(|w| w.contains("missing.jpg") && w.contains("previous reference")), "{:?}", ended.warnings);
}

#[test]
fn two_elements_in_one_process() {
    init();
    let tmp = tempfile::tempdir().unwrap();
    let m = models(&tmp.path().join("m"), ParserVerdict::AllGarment);
    let a = person_png(tmp.path(), "a.png", 1);
    let b = person_png(tmp.path(), "b.png", 2);
    let pipeline = launch(&format!(
        "videotestsrc num-buffers=3 ! video/x-raw,width=128,height=96 ! videoconvert ! \
         garmenttransfer models={m} reference={a} execution-provider=cpu ! \
         garmenttransfer models={m} reference={b} execution-provider=cpu output=side-by-side ! fakesink",
        m = m.display(),
        a = a.display(),
        b = b.display()
    ));
    let ended = run(&pipeline, Duration::from_secs(120));
    assert!(ended.eos && ended.errors.is_empty(), "{:?}", ended.errors);
}

#[test]
fn caps_change_mid_stream() {
    init();
    let tmp = tempfile::tempdir().unwrap();
    let m = models(&tmp.path().join("m"), ParserVerdict::AllGarment);
    let r = person_png(tmp.path(), "r.png", 1);
    let pipeline = launch(&format!(
        "appsrc name=src format=time ! garmenttransfer models={} reference={} execution-provider=cpu ! appsink name=sink sync=false",
        m.display(),
        r.display()
    ));
    let src = pipeline.by_name("src").unwrap().downcast::<gst_app::AppSrc>().unwrap();
    let sink = pipeline.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    for (i, (w, h, format)) in [(160u32, 120u32, "RGB"), (96, 200, "BGRA")].into_iter().enumerate() {
        let caps = gst::Caps::builder("video/x-raw").field("format", format).field("width", w as i32).field("height", h as i32).field("framerate", gst::Fraction::new(10, 1)).build();
        src.set_caps(Some(&caps));
        let bpp = if format == "RGB" { 3 } else { 4 };
        let mut buffer = gst::Buffer::from_mut_slice(vec![128u8; (w * h * bpp) as usize]);
        buffer.get_mut().unwrap().set_pts(gst::ClockTime::from_mseconds(100 * i as u64));
        src.push_buffer(buffer).unwrap();
        let sample = sink.pull_sample().expect("a frame comes out after each caps change");
        let s = sample.caps().unwrap().structure(0).unwrap().to_owned();
        assert_eq!((s.get::<i32>("width").unwrap(), s.get::<i32>("height").unwrap()), (w as i32, h as i32));
    }
    src.end_of_stream().unwrap();
    pipeline.set_state(gst::State::Null).unwrap();
}

#[test]
fn a_frame_with_nobody_passes_through_unchanged_and_is_counted() {
    init();
    let tmp = tempfile::tempdir().unwrap();
    // The reference is prepared by a parser that sees a garment; the frames go to one that sees
    // nobody.
    let dressed = models(&tmp.path().join("dressed"), ParserVerdict::AllGarment);
    let nobody = models(&tmp.path().join("nobody"), ParserVerdict::Nobody);
    let r = person_png(tmp.path(), "r.png", 1);
    let mut dressed = Models::load(&dressed, ExecutionProvider::Cpu, 0, 1).unwrap();
    let reference = Arc::new(Reference::prepare(&r, &mut dressed).unwrap());
    let mut chain = Chain::new(Models::load(&nobody, ExecutionProvider::Cpu, 0, 1).unwrap());
    assert_eq!(chain.front.models.resolution(), (H, W));
    let original: Vec<u8> = (0..120 * 90 * 4).map(|i| (i * 7 % 251) as u8).collect();
    let mut data = original.clone();
    let mut frame = FrameMut { data: &mut data, width: 120, height: 90, stride: 120 * 4, format: PixelFormat::Rgbx };
    let outcome = chain.process(&mut frame, &reference, None, OutputMode::Composite).unwrap();
    assert_eq!(outcome, Outcome::PassedThrough);
    assert_eq!(data, original);
    assert_eq!(chain.stats().passed_through, 1);
    assert_eq!(chain.stats().frames, 0);
}


/// The reference's tensors (B's garment, its mask, B's pose) are the same for every frame: the
/// sessions are handed them at the first frame of a reference and hold them in their bound
/// tensors (on CUDA, on the device), so later frames hand over only their own tensors; a new
/// reference is handed over again. Held or handed over, bound or not, the models compute the
/// same.
#[test]
fn the_reference_is_handed_to_the_sessions_once_per_reference() {
    use gstgarmenttransfer::chain::warp_inputs;
    use gstgarmenttransfer::chain::Stage;
    use gstgarmenttransfer::contract::{REFERENCE_INPUTS, TRANSFER_PARSING, WARP};
    use gstgarmenttransfer::runtime::Feed;
    init();
    let tmp = tempfile::tempdir().unwrap();
    let dir = models(&tmp.path().join("m"), ParserVerdict::AllGarment);
    let r = person_png(tmp.path(), "r.png", 1);
    let mut front_end = Models::load(&dir, ExecutionProvider::Cpu, 0, 1).unwrap();
    let first = Arc::new(Reference::prepare(&r, &mut front_end).unwrap());
    let second = Arc::new(Reference::prepare(&r, &mut front_end).unwrap());
    assert_ne!(first.id, second.id);
    let mut chain = Chain::new(Models::load(&dir, ExecutionProvider::Cpu, 0, 1).unwrap());
    // The same model input every frame: no smoothing, no crop that follows.
    (chain.front.temporal, chain.front.follow) = (false, false);
    let input: Vec<u8> = (0..120 * 90 * 4).map(|i| (i * 7 % 251) as u8).collect();
    let frame = |chain: &mut Chain, reference: &Arc<Reference>| {
        chain.reset_stats();
        let mut data = input.clone();
        let mut f = FrameMut { data: &mut data, width: 120, height: 90, stride: 120 * 4, format: PixelFormat::Rgbx };
        assert!(matches!(chain.process(&mut f, reference, None, OutputMode::Composite).unwrap(), Outcome::Transferred(_)));
        // What is the frame's own, handed over once each: the model input to the parser and
        // to dense pose, the parsing's group ids (to the agnostic glue graph), the target mask,
        // and R's two inputs where it ran. A's one-hot pose and agnostic map are made where
        // the sessions run and never handed over.
        let regrowth = chain.stats().count(Stage::Regrowth) as usize;
        let own = ((3 + 3 + 1 + 1 + 4 * regrowth) * H * W * 4) as u64;
        (chain.stats().bytes_in, own, data)
    };
    let (first_bytes, own, first_out) = frame(&mut chain, &first);
    let (next_bytes, next_own, next_out) = frame(&mut chain, &first);
    let (again_bytes, _, again_out) = frame(&mut chain, &second);
    let channels: usize = [TRANSFER_PARSING, WARP]
        .iter()
        .flat_map(|s| s.inputs.iter().filter(|p| REFERENCE_INPUTS.contains(&(s.name, p.name))).map(|p| p.channels))
        .sum();
    assert_eq!(channels, 1 + 3 + 1 + 25);
    let reference_bytes = (channels * H * W * 4) as u64;
    assert_eq!(first_bytes - next_bytes, reference_bytes, "bytes handed in: first frame {first_bytes}, next {next_bytes}");
    assert_eq!((next_bytes, next_own), (own, own), "a frame hands over its own tensors once");
    assert_eq!(again_bytes, first_bytes, "a new reference is handed over again");
    assert_eq!(next_out, first_out);
    assert_eq!(again_out, first_out);

    // The warp on held reference tensors computes what it computes on host arrays; a frame does
    // not fetch the warped garment and mask (`UNREAD_OUTPUTS`), and the flow is the same.
    let pose = ndarray::Array4::<f32>::from_shape_fn((1, 25, H, W), |(_, c, y, x)| ((c + y * W + x) % 25 == 0) as u8 as f32);
    let parsing = vec![4u8; H * W];
    let inputs = warp_inputs(&first, &parsing, H, W);
    let views: Vec<_> = inputs.iter().map(|a| a.view()).chain([pose.view()]).collect();
    let host = chain.back.models.run(&WARP, &views).unwrap();
    let feeds: Vec<Feed> = views.iter().map(|v| Feed::Host(*v)).collect();
    let held = chain.back.models.run_with_reference(&WARP, &feeds, first.id).unwrap();
    assert_eq!(host.len(), 3);
    assert_eq!(host[2..], held[..]);
    // While the reference stays, its inputs are not read again: what the session's bound
    // tensors hold is what runs (here, against zeros fed in their place).
    let zeros: Vec<ndarray::Array4<f32>> = views.iter().map(|v| ndarray::Array4::zeros(v.raw_dim())).collect();
    let feeds: Vec<Feed> = WARP
        .inputs
        .iter()
        .zip(views.iter().zip(&zeros))
        .map(|(p, (v, z))| Feed::Host(if REFERENCE_INPUTS.contains(&(WARP.name, p.name)) { z.view() } else { *v }))
        .collect();
    assert_eq!(chain.back.models.run_with_reference(&WARP, &feeds, first.id).unwrap(), held);
    // The bound session computes what a plain run of the same file computes.
    let bytes = std::fs::read(dir.join(WARP.file)).unwrap();
    let mut plain = gstgarmenttransfer::runtime::cpu_session(&bytes, WARP.file, 1).unwrap();
    let feeds: Vec<Feed> = views.iter().map(|v| Feed::Host(*v)).collect();
    let unbound = gstgarmenttransfer::runtime::run(&mut plain, &WARP, &feeds, H, W).unwrap();
    let largest = unbound.iter().zip(&host).map(|(a, b)| (a - b).abs().fold(0f32, |m, d| m.max(*d))).fold(0f32, f32::max);
    assert!(largest < 1e-5, "bound and plain runs differ by {largest}");
}

/// The element's sessions (as many threads as the process may use cores) share the process's
/// one ONNX Runtime pool: opening its five models starts no thread, where a pool per session
/// starts threads for each. Counted in a child process that runs only this test, so that the
/// threads of the other tests do not count.
#[test]
fn the_sessions_share_one_thread_pool() {
    use gstgarmenttransfer::runtime::{environment, pool_threads};
    let threads = pool_threads();
    if threads < 2 {
        eprintln!("one core: a pool of one thread starts no thread, shared or not; nothing to compare");
        return;
    }
    if std::env::var_os("GARMENT_POOL_CHILD").is_none() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "the_sessions_share_one_thread_pool", "--nocapture", "--test-threads=1"])
            .env("GARMENT_POOL_CHILD", "1")
            .output()
            .unwrap();
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success() && said.contains("1 passed"), "{said}");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = models(&tmp.path().join("m"), ParserVerdict::AllGarment);
    environment().unwrap();
    let running = || std::fs::read_dir("/proc/self/task").unwrap().count();
    let before = running();
    let shared = Models::load(&dir, ExecutionProvider::Cpu, 0, threads).unwrap();
    assert_eq!(running(), before, "the element's five sessions started threads of their own");
    // A count other than the pool's gets a pool of its own: `threads` workers for each session
    // (the calling thread is the pool's last).
    let own = Models::load(&dir, ExecutionProvider::Cpu, 0, threads + 1).unwrap();
    assert!(running() >= before + 5 * threads, "{} threads after five sessions with pools of their own, {before} before", running());
    drop((shared, own));
}
