//! `garment-train`: the command line of the training crate.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use garment_training::contact_sheet::{COLUMNS, contact_sheet};
use garment_training::data::{Dataset, DensePoseFormat, Layout};
use garment_training::nn::{Preset, default_device};
use garment_training::onnx::{InferenceNets, export_models};
use garment_training::summary::summary;
use garment_training::synth::World;
use garment_training::synth::world::Framing;
use garment_training::train::{Stage, TrainConfig, train};
use garment_training::synth::writer::{write_dataset, write_video};

#[derive(Parser)]
#[command(name = "garment-train", version, about = "Synthetic try-on data and training for the garmenttransfer element")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a synthetic dataset in the VITON-HD layout, with the true result of every transfer pair.
    Synth {
        /// Output folder (created).
        #[arg(long)]
        out: PathBuf,
        /// Number of people.
        #[arg(long, default_value_t = 100)]
        count: usize,
        /// Image size, WIDTHxHEIGHT.
        #[arg(long, default_value = "192x256", value_parser = parse_size)]
        size: (u32, u32),
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Number of random transfer pairs (A wearing B's garment) to render; default: one per person.
        #[arg(long)]
        pairs: Option<usize>,
        /// Write dense pose as VITON-HD's colour rendering instead of the part index.
        #[arg(long)]
        densepose_colour: bool,
    },
    /// Write a synthetic video: frames of one person moving, a reference person, and the true
    /// transferred frames.
    SynthVideo {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 60)]
        frames: usize,
        #[arg(long, default_value = "192x256", value_parser = parse_size)]
        size: (u32, u32),
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// The person's height as a share of the frame's (e.g. 0.33 for a person at a third of
        /// a 1280x720 frame); default: the person fills most of the frame, as in the datasets.
        #[arg(long)]
        person_height: Option<f32>,
        /// The person walks across the frame, from a fifth of its width to four fifths.
        #[arg(long)]
        walk: bool,
    },
    /// Run the element's chain over a video of `synth-video`, frame after frame, and measure it
    /// against the true transfers: the metrics of `eval` per frame, and flicker.
    EvalVideo {
        #[arg(long)]
        models: PathBuf,
        /// A folder written by `synth-video`.
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        json: bool,
        /// Letterbox the whole frame instead of following the person.
        #[arg(long)]
        no_follow: bool,
        /// Without temporal smoothing.
        #[arg(long)]
        no_temporal: bool,
    },
    /// Draw a dataset's first people as a grid: image, cloth, parsing, dense pose, reference, true transfer.
    ContactSheet {
        /// Dataset folder (VITON-HD layout).
        dir: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 6)]
        rows: usize,
        /// Height of one cell in pixels.
        #[arg(long, default_value_t = 256)]
        cell: u32,
    },
    /// Parameters and GFLOPs at 256x192 of every network of a preset.
    Summary {
        #[arg(long, value_enum, default_value = "lite")]
        preset: Preset,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Export the five inference networks to ONNX, with models/manifest.json, and check each
    /// file against ONNX Runtime.
    Export {
        #[arg(long, value_enum, default_value = "lite")]
        preset: Preset,
        #[arg(long)]
        out: PathBuf,
        /// Random weights (plumbing and benchmarks, not results).
        #[arg(long, conflicts_with_all = ["checkpoints", "weights_from"], required_unless_present_any = ["checkpoints", "weights_from"])]
        untrained: bool,
        /// The weights of a models folder this exporter wrote (its preset and provenance
        /// too), written again by the current exporter. Each new file is run beside the old
        /// one in ONNX Runtime and must agree with it.
        #[arg(long, conflicts_with = "checkpoints")]
        weights_from: Option<PathBuf>,
        /// A training run folder: each network trained there (RUN_DIR/<network>/checkpoint)
        /// is exported with its weights and provenance; the others stay untrained.
        #[arg(long)]
        checkpoints: Option<PathBuf>,
        /// Model resolution, WIDTHxHEIGHT [default: 192x256, or the resolution of
        /// --weights-from].
        #[arg(long, value_parser = parse_size)]
        size: Option<(u32, u32)>,
    },
    /// Train one stage of the schedule into RUN_DIR/STAGE (resumable), or `all` of them in
    /// dependency order followed by the export into --models.
    Train {
        #[arg(value_enum)]
        stage: StageArg,
        /// With `all`: where to export the trained models.
        #[arg(long, default_value = "models")]
        models: PathBuf,
        /// Dataset folder (VITON-HD layout; `garment-train synth` writes one).
        #[arg(long)]
        data: PathBuf,
        #[arg(long, value_enum, default_value = "lite")]
        preset: Preset,
        /// Run folder; the stage writes into RUN_DIR/STAGE.
        #[arg(long)]
        out: PathBuf,
        /// Continue from the stage's last checkpoint (same data order, optimizer state).
        #[arg(long)]
        resume: bool,
        /// Iterations per stage (default: the stage's budget in the preset's schedule).
        #[arg(long)]
        iterations: Option<usize>,
        #[arg(long, default_value_t = 8)]
        batch: usize,
        /// Learning rate (default: the stage's).
        #[arg(long)]
        lr: Option<f64>,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long, default_value_t = 100)]
        checkpoint_every: usize,
        /// Model resolution, WIDTHxHEIGHT (default: the preset's, 96x128 for `lite`).
        #[arg(long, value_parser = parse_size)]
        size: Option<(u32, u32)>,
        /// VGG-19 ImageNet weights for the perceptual loss (not supported yet: the term stays off).
        #[arg(long)]
        vgg: Option<PathBuf>,
        /// Student parsing: epochs where phases 1, 2 and 3 end (Algorithm 1); fractions allowed.
        /// Default: thirds of the stage's iterations.
        #[arg(long, value_delimiter = ',')]
        phases: Option<Vec<f32>>,
        /// Student parsing: temperature of the response loss.
        #[arg(long, default_value_t = 2.0)]
        temperature: f32,
    },
    /// Evaluate a models folder against the true transfers of a synthetic dataset, through the
    /// element's own per-frame chain.
    Eval {
        #[arg(long)]
        models: PathBuf,
        #[arg(long)]
        data: PathBuf,
        /// At most this many transfer pairs.
        #[arg(long, default_value_t = 200)]
        limit: usize,
        #[arg(long)]
        json: bool,
        /// Also evaluate the baselines: the affine paste, and the S_P baselines trained in this
        /// run folder (`garment-train train baselines --out RUN_DIR`).
        #[arg(long)]
        baselines: Option<PathBuf>,
        /// Evaluate the affine-paste baseline even without --baselines.
        #[arg(long)]
        affine_paste: bool,
        /// Record the numbers in the models folder's manifest.json ("evaluation").
        #[arg(long)]
        record: bool,
    },
    /// Measure ONNX Runtime CPU time per network at 256x192, batch 1.
    BenchOnnx {
        #[arg(long, value_enum, default_value = "lite")]
        preset: Preset,
        #[arg(long, default_value_t = 10)]
        runs: usize,
        /// ONNX Runtime intra-op threads.
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
    /// Measure the synthetic world's speed: samples per second in memory, and written to disk.
    BenchSynth {
        #[arg(long, default_value = "192x256", value_parser = parse_size)]
        size: (u32, u32),
        #[arg(long, default_value_t = 400)]
        count: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

/// A stage, or `all` of them.
#[derive(Debug, Clone, Copy)]
enum StageArg {
    All,
    /// The two trained baselines of `eval` (self-supervised and oracle S_P).
    Baselines,
    One(Stage),
}

impl clap::ValueEnum for StageArg {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            StageArg::All,
            StageArg::One(Stage::Parser),
            StageArg::One(Stage::Densepose),
            StageArg::One(Stage::TeacherParsing),
            StageArg::One(Stage::TeacherWarp),
            StageArg::One(Stage::StudentParsing),
            StageArg::One(Stage::StudentWarp),
            StageArg::One(Stage::Regrowth),
            StageArg::Baselines,
            StageArg::One(Stage::BaselineSelfSupervised),
            StageArg::One(Stage::BaselineOracle),
        ]
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        match self {
            StageArg::All => Some(clap::builder::PossibleValue::new("all")),
            StageArg::Baselines => Some(clap::builder::PossibleValue::new("baselines")),
            StageArg::One(s) => s.to_possible_value(),
        }
    }
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(|| format!("size '{s}': expected WIDTHxHEIGHT, e.g. 192x256"))?;
    let num = |v: &str| v.trim().parse::<u32>().map_err(|_| format!("size '{s}': '{v}' is not a whole number of pixels"));
    Ok((num(w)?, num(h)?))
}

fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// Warnings of the library (skipped samples) on stderr, above any progress bar.
struct StderrLog;

impl log::Log for StderrLog {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::Level::Warn
    }
    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            eprintln!("{}: {}", r.level().as_str().to_lowercase(), r.args());
        }
    }
    fn flush(&self) {}
}

fn main() -> Result<()> {
    let _ = log::set_logger(&StderrLog).map(|()| log::set_max_level(log::LevelFilter::Warn));
    match Cli::parse().command {
        Command::Synth { out, count, size, seed, pairs, densepose_colour } => {
            let world = World::new(size.0, size.1, seed)?;
            let pairs = pairs.unwrap_or(count);
            let format = if densepose_colour { DensePoseFormat::Colour } else { DensePoseFormat::Index };
            let layout = Layout::create(&out, format)?;
            let bar = progress((count + pairs) as u64, "synth");
            let start = Instant::now();
            write_dataset(&world, count, pairs, &layout, &bar).with_context(|| format!("writing {}", out.display()))?;
            bar.finish();
            println!(
                "wrote {count} people and {pairs} true transfers at {}x{} (seed {seed}) to {} in {:.1}s",
                size.0,
                size.1,
                out.display(),
                start.elapsed().as_secs_f32()
            );
        }
        Command::SynthVideo { out, frames, size, seed, person_height, walk } => {
            if let Some(p) = person_height
                && !(0.02..=1.5).contains(&p)
            {
                bail!("--person-height {p}: expected a share of the frame height between 0.02 and 1.5");
            }
            let world = World::new(size.0, size.1, seed)?;
            let bar = progress(frames as u64, "frames");
            write_video(&world, frames, Framing { person_height, walk }, &out, &bar).with_context(|| format!("writing {}", out.display()))?;
            bar.finish();
            println!("wrote {frames} frames, their true transfers and reference.png to {}", out.display());
        }
        Command::EvalVideo { models, data, json, no_follow, no_temporal } => {
            let m = garment_training::eval::evaluate_video(&models, &data, !no_follow, !no_temporal)?;
            if json {
                println!("{}", serde_json::to_string(&m)?);
            } else {
                println!("{}: {} frames at {}x{} ({} passed through)", data.display(), m.frames, m.width, m.height, m.passed_through);
                println!("  transfer parsing mIoU {:.3}, garment IoU {:.3}, skin IoU {:.3}", m.parsing_miou, m.garment_iou, m.skin_iou);
                println!("  composite SSIM {:.3}, PSNR {:.2} dB, garment L1 {:.4}", m.composite_ssim, m.composite_psnr, m.garment_l1);
                println!("  flicker {:.2} (truth {:.2}): {:.2}x the truth's", m.flicker, m.truth_flicker, m.flicker_ratio);
            }
        }
        Command::ContactSheet { dir, out, rows, cell } => {
            if rows == 0 || cell == 0 {
                bail!("--rows and --cell must be at least 1");
            }
            let dataset = Dataset::open(&dir)?;
            let drawn = contact_sheet(&dataset, rows, cell, &out)?;
            println!("{} ({drawn} rows; columns: {})", out.display(), COLUMNS.join(", "));
            eprintln!("{}", dataset.summary());
        }
        Command::BenchSynth { size, count, seed } => bench_synth(size, count, seed)?,
        Command::Summary { preset, json } => {
            let s = summary(preset, &default_device())?;
            if json {
                println!("{}", serde_json::to_string(&s)?);
            } else {
                print!("{s}");
            }
        }
        Command::Export { preset, out, untrained: _, checkpoints, weights_from, size } => {
            if let Some(from) = weights_from {
                return reexport(&from, &out, size);
            }
            let device = default_device();
            let (w, h) = size.map_or((192, 256), |(w, h)| (w as usize, h as usize));
            let (nets, training) = match &checkpoints {
                Some(run) => garment_training::train::trained_networks(preset, run, &device)?,
                None => (InferenceNets::untrained(preset, &device), Default::default()),
            };
            for spec in gstgarmenttransfer::contract::MODELS {
                if checkpoints.is_some() {
                    let how = if training.contains_key(spec.name) { "trained" } else { "untrained (no checkpoint)" };
                    println!("{}: {how}", spec.name);
                }
            }
            let manifest = export_models(&nets, preset, h, w, &out, checkpoints.as_ref().map(|_| &training))?;
            for (name, entry) in &manifest.models {
                let bytes = manifest.load_model(&out, &gstgarmenttransfer::contract::MODELS.iter().find(|s| s.name == name).copied().context("contract")?)?;
                gstgarmenttransfer::runtime::cpu_session(&bytes, &entry.file, 1)?;
            }
            let kind = if manifest.untrained { "untrained" } else { "trained" };
            println!("wrote {} models ({} preset, {kind}, {w}x{h}) and manifest.json to {}; ONNX Runtime loads each", manifest.models.len(), preset.name(), out.display());
        }
        Command::BenchOnnx { preset, runs, threads } => bench_onnx(preset, runs, threads)?,
        Command::Eval { models, data, limit, json, baselines, affine_paste, record } => {
            let m = garment_training::eval::evaluate(&models, &data, limit, false)?;
            let others = if baselines.is_some() || affine_paste {
                garment_training::eval::evaluate_baselines(&models, baselines.as_deref(), &data, limit).map_err(|e| anyhow::anyhow!("{e}"))?
            } else {
                Default::default()
            };
            let mut v = serde_json::to_value(&m)?;
            if !others.is_empty() {
                v["baselines"] = serde_json::to_value(&others)?;
            }
            if record {
                let mut manifest = gstgarmenttransfer::manifest::Manifest::read(&models)?;
                let mut recorded = v.clone();
                recorded["data"] = serde_json::json!(data.display().to_string());
                manifest.evaluation = Some(recorded);
                manifest.write(&models)?;
            }
            if json {
                println!("{v}");
            } else {
                for (name, m) in std::iter::once(("models", &m)).chain(others.iter().map(|(k, v)| (k.as_str(), v))) {
                    println!("{name}: {} samples ({} passed through)", m.samples, m.passed_through);
                    println!("  transfer parsing mIoU {:.3}, garment IoU {:.3}, skin IoU {:.3}", m.parsing_miou, m.garment_iou, m.skin_iou);
                    println!("  warped garment L1 {:.4}, SSIM {:.3}", m.garment_l1, m.garment_ssim);
                    println!("  composite SSIM {:.3}, PSNR {:.2} dB, MSE {:.1}", m.composite_ssim, m.composite_psnr, m.composite_mse);
                }
            }
        }
        Command::Train { stage, models, data, preset, out, resume, iterations, batch, lr, seed, checkpoint_every, size, vgg, phases, temperature } => {
            if let Some(v) = vgg {
                eprintln!("--vgg {}: loading VGG-19 weights is not supported yet; the perceptual term stays off", v.display());
            }
            if let Some(p) = &phases
                && (p.len() != 3 || !(p[0] <= p[1] && p[1] <= p[2]))
            {
                bail!("--phases {p:?}: expected three increasing epochs E1,E2,E3 (e.g. 4,8,12)");
            }
            let samples = Dataset::open(&data)?.len();
            let size = size.unwrap_or(preset.default_size());
            let stages: Vec<Stage> = match stage {
                StageArg::All => Stage::ORDER.to_vec(),
                StageArg::Baselines => vec![Stage::BaselineSelfSupervised, Stage::BaselineOracle],
                StageArg::One(s) => vec![s],
            };
            let started = Instant::now();
            for stage in &stages {
                let stage = *stage;
                let iterations = iterations.unwrap_or(stage.default_iterations(preset));
                // Default phases: the stage's iterations in thirds, in epochs of this dataset.
                let epochs = (iterations * batch) as f32 / samples.max(1) as f32;
                let phases = phases.clone().unwrap_or_else(|| vec![epochs / 3.0, epochs * 2.0 / 3.0, epochs]);
                let config = TrainConfig {
                    stage,
                    preset,
                    data: data.clone(),
                    seed,
                    iterations,
                    batch,
                    lr: lr.unwrap_or(stage.default_lr()),
                    beta1: 0.5,
                    checkpoint_every: checkpoint_every.max(1),
                    height: size.1 as usize,
                    width: size.0 as usize,
                    perceptual: false,
                    tv1: 0.01,
                    tv2: 6.0,
                    distill: garment_training::train::schedule::DistillSchedule {
                        e1: phases[0],
                        e2: phases[1],
                        e3: phases[2],
                        temperature,
                        ..Default::default()
                    },
                };
                // In `all`, a stage that already finished is kept; an interrupted one resumes.
                let done = stages.len() > 1 && out.join(stage.name()).join("summary.json").exists();
                if done {
                    println!("{}: already trained in {}", stage.name(), out.join(stage.name()).display());
                    continue;
                }
                let resume_this = resume || (stages.len() > 1 && out.join(stage.name()).join("checkpoint").exists());
                let summary = train(&config, &out, resume_this, true)?;
                println!("{}", serde_json::to_string(&summary)?);
            }
            if matches!(stage, StageArg::All) {
                let (nets, training) = garment_training::train::trained_networks(preset, &out, &default_device())?;
                let manifest = export_models(&nets, preset, size.1 as usize, size.0 as usize, &models, Some(&training))?;
                println!(
                    "all stages in {:.0} s; exported {} models to {} ({})",
                    started.elapsed().as_secs_f64(),
                    manifest.models.len(),
                    models.display(),
                    if manifest.untrained { "some untrained" } else { "trained" }
                );
            }
        }
    }
    Ok(())
}

/// Samples per second of the synthetic world: drawing only (what on-the-fly training pays), on
/// one thread and on all, then drawing and writing the dataset files.
fn bench_synth(size: (u32, u32), count: usize, seed: u64) -> Result<()> {
    use rayon::prelude::*;
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
    let dir = tempfile_dir()?;
    let layout = Layout::create(&dir, DensePoseFormat::Index)?;
    let start = Instant::now();
    write_dataset(&world, count, 0, &layout, &ProgressBar::hidden())?;
    let written = rate(count, start.elapsed());
    let _ = std::fs::remove_dir_all(&dir);
    let threads = rayon::current_num_threads();
    println!("synthetic world at {}x{}, {count} samples (image, parsing, dense pose, in-shop garment and mask):", size.0, size.1);
    println!("  drawn, 1 thread      {one:8.1} samples/s");
    println!("  drawn, {threads} threads     {all:8.1} samples/s  ({:.2}x one thread)", all / one);
    println!("  drawn and written    {written:8.1} samples/s  ({:.2}x drawing on {threads} threads)", written / all);
    Ok(())
}

fn tempfile_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("garment-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// `export --weights-from`: the networks of `from` written to `out` by the current exporter,
/// each new file checked against its original in ONNX Runtime.
fn reexport(from: &std::path::Path, out: &std::path::Path, size: Option<(u32, u32)>) -> Result<()> {
    use garment_training::onnx::check::compare_models;
    let device = default_device();
    let (nets, preset, source) = garment_training::onnx::import::load(from, &device)?;
    let (w, h) = size.map_or((source.width, source.height), |(w, h)| (w as usize, h as usize));
    let same_size = (w, h) == (source.width, source.height);
    let training: std::collections::BTreeMap<String, serde_json::Value> =
        source.models.iter().filter_map(|(name, e)| e.training.clone().map(|t| (name.clone(), t))).collect();
    let mut manifest = export_models(&nets, preset, h, w, out, (!source.untrained).then_some(&training))?;
    let nodes = garment_training::onnx::proto::node_count;
    for spec in gstgarmenttransfer::contract::MODELS {
        let new = manifest.load_model(out, &spec)?;
        if same_size {
            let old = source.load_model(from, &spec)?;
            let diff = compare_models(&old, &new, spec, h, w)?;
            anyhow::ensure!(diff <= 1e-4, "{}: the new file differs from {} by {diff:.2e} (more than 1e-4)", spec.file, from.display());
            println!("{:<18} {:5} -> {:5} nodes, outputs agree to {diff:.1e}", spec.name, nodes(&old)?, nodes(&new)?);
        } else {
            gstgarmenttransfer::runtime::cpu_session(&new, spec.file, 1)?;
        }
    }
    // The same weights compute the same outputs: the evaluation recorded with them still holds.
    if same_size && source.evaluation.is_some() {
        manifest.evaluation = source.evaluation.clone();
        manifest.write(out)?;
    }
    println!("wrote the {} weights of {} ({w}x{h}) to {}", preset.name(), from.display(), out.display());
    Ok(())
}

/// ONNX Runtime CPU time per network of `preset` at 256x192, batch 1, random weights and inputs.
fn bench_onnx(preset: Preset, runs: usize, threads: usize) -> Result<()> {
    use garment_training::nn::network::Network;
    use garment_training::onnx::export::export;
    use ort::value::TensorRef;
    let (h, w) = gstgarmenttransfer::contract::PAPER_RESOLUTION;
    let device = default_device();
    println!("ONNX Runtime {} CPU, {threads} threads, preset {} at {h}x{w}, batch 1, median of {runs} runs:", ort_version(), preset.name());
    let mut total = 0.0;
    for spec in gstgarmenttransfer::contract::MODELS {
        let net = Network::new(spec.name, preset, &device).context("network")?;
        let exported = export(&net, h, w)?;
        let mut session = gstgarmenttransfer::runtime::cpu_session(&exported.bytes(), spec.name, threads)?;
        let inputs: Vec<ndarray::Array4<f32>> =
            spec.inputs.iter().map(|p| ndarray::Array4::from_elem((1, p.channels, h, w), 0.5f32)).collect();
        let mut times = Vec::new();
        for i in 0..runs + 1 {
            let feeds: Vec<(&str, TensorRef<'_, f32>)> =
                spec.inputs.iter().zip(&inputs).map(|(p, a)| Ok((p.name, TensorRef::from_array_view(a.view())?))).collect::<Result<_, ort::Error>>()?;
            let start = Instant::now();
            let out = session.run(feeds)?;
            drop(out);
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
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../.onnxruntime/current/VERSION")).map(|s| s.trim().to_string()).unwrap_or_default()
}
