//! `bench-onnx` and `bench-synth`: what the networks cost in ONNX Runtime, and how fast the
//! synthetic world draws and writes samples.

use std::path::Path;
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
use gstgarmenttransfer::contract::{MODELS, ModelSpec, PAPER_RESOLUTION};
use gstgarmenttransfer::manifest::Manifest;
use gstgarmenttransfer::runtime::{Feed, cpu_session, run};
use ort::session::Session;

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
    let BenchOnnxArgs { preset, runs, threads, ref models, ref against } = *args;
    anyhow::ensure!(runs >= 1 && threads >= 1, "--runs {runs}, --threads {threads}: expected at least 1 of each");
    if let Some(models) = models {
        return folders(models, against.as_deref(), runs, threads);
    }
    let (h, w) = PAPER_RESOLUTION;
    let device = default_device();
    println!("ONNX Runtime {} CPU, {threads} threads, preset {} at {h}x{w}, batch 1, median of {runs} runs:", ort_version(), preset.name());
    let mut total = 0.0;
    for spec in MODELS {
        let net = Network::new(spec.name, preset, &device).expect("every model of the contract is a network");
        let exported = export(&net, h, w)?;
        let session = cpu_session(&exported.bytes(), spec.name, threads)?;
        let median = medians(vec![session], spec, h, w, runs)?[0];
        total += median;
        println!("  {:<18} {median:8.1} ms  ({:.2} GFLOPs)", spec.name, exported.macs as f64 / 1e9);
    }
    println!("  {:<18} {total:8.1} ms per frame of model time", "all five");
    Ok(())
}

/// The files of the models folder `dir` at its own resolution, batch 1, inputs of 0.5; with
/// `against`, each beside the same model of that folder, the two run alternately (a run of one,
/// then a run of the other) so that both see the same state of the machine.
fn folders(dir: &Path, against: Option<&Path>, runs: usize, threads: usize) -> Result<()> {
    let manifest = Manifest::read(dir)?;
    let (h, w) = (manifest.height, manifest.width);
    let other = against.map(|d| Manifest::read(d).map(|m| (d, m))).transpose()?;
    if let Some((d, m)) = &other {
        anyhow::ensure!((m.height, m.width) == (h, w), "{}: {}x{} models, {}: {}x{}: expected one resolution", dir.display(), w, h, d.display(), m.width, m.height);
    }
    println!("ONNX Runtime {} CPU, {threads} threads, {} at {w}x{h}, batch 1, median of {runs} runs:", ort_version(), dir.display());
    if let Some((d, _)) = &other {
        println!("  {:<18} {:>8} {:>8}  ratio   (second column: {})", "", "ms", "ms", d.display());
    }
    let mut totals = [0.0, 0.0];
    for spec in MODELS {
        let mut folders = vec![(dir, &manifest)];
        folders.extend(other.iter().map(|(d, m)| (*d, m)));
        let mut sessions = Vec::new();
        for (d, m) in folders {
            let bytes = m.load_model(d, &spec)?;
            sessions.push(cpu_session(&bytes, spec.name, threads).map_err(|e| anyhow::anyhow!("{}: {e}", d.join(spec.file).display()))?);
        }
        let medians = medians(sessions, spec, h, w, runs)?;
        for (total, m) in totals.iter_mut().zip(&medians) {
            *total += m;
        }
        match medians[..] {
            [a, b] => println!("  {:<18} {a:8.1} {b:8.1}  {:.3}", spec.name, a / b),
            _ => println!("  {:<18} {:8.1} ms", spec.name, medians[0]),
        }
    }
    match other {
        Some(_) => println!("  {:<18} {:8.1} {:8.1}  {:.3}", "all five", totals[0], totals[1], totals[0] / totals[1]),
        None => println!("  {:<18} {:8.1} ms per frame of model time", "all five", totals[0]),
    }
    Ok(())
}

/// The median milliseconds of `runs` runs of each session (model `spec` at `h` x `w`, batch 1,
/// inputs of 0.5, as the element runs it); the sessions take turns, run by run.
fn medians(mut sessions: Vec<Session>, spec: ModelSpec, h: usize, w: usize, runs: usize) -> Result<Vec<f64>> {
    let inputs: Vec<Array4<f32>> = spec.inputs.iter().map(|p| Array4::from_elem((1, p.channels, h, w), 0.5f32)).collect();
    let views: Vec<Feed> = inputs.iter().map(|a| Feed::Host(a.view())).collect();
    let mut times = vec![Vec::new(); sessions.len()];
    for i in 0..runs + 1 {
        for (session, times) in sessions.iter_mut().zip(&mut times) {
            let start = Instant::now();
            run(session, &spec, &views, h, w).map_err(|why| anyhow::anyhow!("{}: {why}", spec.file))?;
            // The first run pays for allocations: not counted.
            if i > 0 {
                times.push(start.elapsed().as_secs_f64() * 1e3);
            }
        }
    }
    Ok(times
        .into_iter()
        .map(|mut t| {
            t.sort_by(f64::total_cmp);
            t[t.len() / 2]
        })
        .collect())
}

fn ort_version() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../.onnxruntime/current/VERSION");
    std::fs::read_to_string(path).map_or_else(|_| "(version unknown)".into(), |s| s.trim().to_string())
}
