//! Per-stage milliseconds and frames per second, bare chain against the element in a real
//! pipeline on the same frames, at 640x480 and 1920x1080.
//!
//!   cargo bench --bench element [-- MODELS_DIR [FRAMES]]
//!
//! `GARMENT_EP=cuda` runs both on the CUDA execution provider (an error where it cannot run).
//!
//! Without MODELS_DIR it exports `lite` networks with untrained weights whose parser sees a
//! garment everywhere: every stage then runs on every frame, and the timings, which do not
//! depend on the weight values, are those of the `lite` architecture.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Instant;

use gst::prelude::*;
use gstgarmenttransfer::chain::{Chain, OutputMode, STAGES};
use gstgarmenttransfer::frame::{FrameMut, PixelFormat};
use gstgarmenttransfer::models::{ExecutionProvider, Models};
use gstgarmenttransfer::reference::Reference;

fn frames(w: u32, h: u32, n: usize) -> Vec<Vec<u8>> {
    let world = garment_training::synth::World::new(w, h, 5).unwrap();
    let seq = world.sequence(n);
    let own = world.tailor(&seq.person.upper).unwrap();
    seq.poses
        .iter()
        .map(|p| world.draw_posed(&seq.person, p, &own).unwrap().rgb.chunks(3).flat_map(|c| [c[0], c[1], c[2], 255]).collect())
        .collect()
}

fn main() {
    common::init();
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let tmp = tempfile::tempdir().unwrap();
    let models_dir = match args.first() {
        Some(d) => std::path::PathBuf::from(d),
        None => {
            let device = garment_training::nn::default_device();
            let mut nets = garment_training::onnx::InferenceNets::untrained(garment_training::nn::Preset::Lite, &device);
            common::all_garment_parser(&mut nets);
            garment_training::onnx::export_models(&nets, garment_training::nn::Preset::Lite, 256, 192, tmp.path(), None).unwrap();
            tmp.path().to_path_buf()
        }
    };
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(12);
    let reference_path = common::person_png(tmp.path(), "reference.png", 3);
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let cuda = std::env::var("GARMENT_EP").is_ok_and(|v| v == "cuda");
    let (provider, ep) = if cuda { (ExecutionProvider::Cuda, "cuda") } else { (ExecutionProvider::Cpu, "cpu") };
    println!("models {} ({threads} threads, {ep} execution provider), {n} frames after 2 warm-up frames", models_dir.display());
    for (w, h) in [(640u32, 480u32), (1920, 1080)] {
        let frames = frames(w, h, n + 2);
        // The bare chain.
        let mut models = Models::load(&models_dir, provider, 0, threads).unwrap();
        let reference = Arc::new(Reference::prepare(&reference_path, &mut models).unwrap());
        let mut chain = Chain::new(models);
        let mut start = Instant::now();
        for (i, f) in frames.iter().enumerate() {
            if i == 2 {
                start = Instant::now();
                chain.stats = Default::default();
            }
            let mut data = f.clone();
            let mut frame = FrameMut { data: &mut data, width: w as usize, height: h as usize, stride: w as usize * 4, format: PixelFormat::Rgbx };
            chain.process(&mut frame, &reference, None, OutputMode::Composite).unwrap();
        }
        let bare = start.elapsed().as_secs_f64() / n as f64;
        drop(chain.models);

        // The element in a pipeline, same frames.
        let pipeline = common::launch(&format!(
            "appsrc name=src format=time caps=video/x-raw,format=RGBx,width={w},height={h},framerate=30/1 ! \
             garmenttransfer name=gt models={} reference={} execution-provider={ep} ! appsink name=sink sync=false",
            models_dir.display(),
            reference_path.display()
        ));
        let src = pipeline.by_name("src").unwrap().downcast::<gst_app::AppSrc>().unwrap();
        let sink = pipeline.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        let mut start = Instant::now();
        for (i, f) in frames.iter().enumerate() {
            if i == 2 {
                start = Instant::now();
            }
            let mut b = gst::Buffer::from_mut_slice(f.clone());
            b.get_mut().unwrap().set_pts(gst::ClockTime::from_mseconds(33 * i as u64));
            src.push_buffer(b).unwrap();
            sink.pull_sample().unwrap();
        }
        let element = start.elapsed().as_secs_f64() / n as f64;
        let stats = pipeline.by_name("gt").unwrap().property::<gst::Structure>("stats");
        pipeline.set_state(gst::State::Null).unwrap();

        println!("{w}x{h}:");
        for (i, stage) in STAGES.iter().enumerate() {
            println!("  {stage:<18} {:8.1} ms", chain.stats.mean_ms(i));
        }
        println!("  bare chain         {:8.1} ms/frame  {:5.2} fps", bare * 1e3, 1.0 / bare);
        println!("  element            {:8.1} ms/frame  {:5.2} fps", element * 1e3, 1.0 / element);
        println!("  element / chain    {:8.3}   (target <= 1.10)", element / bare);
        let _ = stats;
    }
}
