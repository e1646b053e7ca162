//! `bench-onnx` and `bench-synth`: what the networks cost in ONNX Runtime, and how fast the
//! synthetic world draws and writes samples.

use std::time::{Duration, Instant};

use anyhow::Result;
use ndarray::Array4;
use rayon::prelude::*;

use crate::cli::{BenchOnnxArgs, BenchSynthArgs};
use crate::data::DensePoseFormat;
use crate::nn::default_device;
use crate::nn::network::Network;
use crate::onnx::export::export;
use crate::synth::World;
use crate::synth::writer::{Layout, write_dataset};
use gstgarmenttransfer::contract::{MODELS, PAPER_RESOLUTION};
use gstgarmenttransfer::runtime::{Feed, cpu_session, run};

/// Samples per second of the synthetic world: drawing only (what on-the-fly training pays), on
/// one thread and on all, then drawing and writing the dataset files.
pub fn synth(args: &BenchSynthArgs) -> Result<()> {
    let BenchSynthArgs { size, count, seed } = *args;
    let world = World::new(size.0, size.1, seed)?;
    let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64();
    // Warm up allocations and caches.
    for i in 0..8 {
        world.sample(i);
    }
    let start = Instant::now();
    for i in 0..count as u64 {
        std::hint::black_box(world.sample(i));
    }
    let one = rate(count, start.elapsed());
    let start = Instant::now();
    (0..count as u64).into_par_iter().for_each(|i| {
        std::hint::black_box(world.sample(i));
    });
    let all = rate(count, start.elapsed());
    let dir = tempfile::tempdir()?;
    let layout = Layout::create(dir.path(), DensePoseFormat::Index)?;
    let start = Instant::now();
    write_dataset(&world, count, 0, &layout, &indicatif::ProgressBar::hidden())?;
    let written = rate(count, start.elapsed());
    let threads = rayon::current_num_threads();
    println!("synthetic world at {}x{}, {count} samples (image, parsing, dense pose, in-shop garment and mask):", size.0, size.1);
    println!("  drawn, 1 thread      {one:8.1} samples/s");
    println!("  drawn, {threads} threads     {all:8.1} samples/s  ({:.2}x one thread)", all / one);
    println!("  drawn and written    {written:8.1} samples/s  ({:.2}x drawing on {threads} threads)", written / all);
    Ok(())
}

/// ONNX Runtime CPU time per network of a preset at 256x192, batch 1, random weights and
/// inputs, each run as the element runs it.
pub fn onnx(args: &BenchOnnxArgs) -> Result<()> {
    let BenchOnnxArgs { preset, runs, threads } = *args;
    anyhow::ensure!(runs >= 1 && threads >= 1, "--runs {runs}, --threads {threads}: expected at least 1 of each");
    let (h, w) = PAPER_RESOLUTION;
    let device = default_device();
    println!("ONNX Runtime {} CPU, {threads} threads, preset {} at {h}x{w}, batch 1, median of {runs} runs:", ort_version(), preset.name());
    let mut total = 0.0;
    for spec in MODELS {
        let net = Network::new(spec.name, preset, &device).expect("every model of the contract is a network");
        let exported = export(&net, h, w)?;
        let mut session = cpu_session(&exported.bytes(), spec.name, threads)?;
        let inputs: Vec<Array4<f32>> = spec.inputs.iter().map(|p| Array4::from_elem((1, p.channels, h, w), 0.5f32)).collect();
        let views: Vec<Feed> = inputs.iter().map(|a| Feed::Host(a.view())).collect();
        let mut times = Vec::new();
        for i in 0..runs + 1 {
            let start = Instant::now();
            run(&mut session, &spec, &views, h, w, &[]).map_err(|why| anyhow::anyhow!("{}: {why}", spec.file))?;
            // The first run pays for allocations: not counted.
            if i > 0 {
                times.push(start.elapsed().as_secs_f64() * 1e3);
            }
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        total += median;
        println!("  {:<18} {median:8.1} ms  ({:.2} GFLOPs)", spec.name, exported.macs as f64 / 1e9);
    }
    println!("  {:<18} {total:8.1} ms per frame of model time", "all five");
    Ok(())
}

fn ort_version() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../.onnxruntime/current/VERSION");
    std::fs::read_to_string(path).map_or_else(|_| "(version unknown)".into(), |s| s.trim().to_string())
}
