//! Training, one stage of the schedule (DESIGN.md section 5) at a time, each resumable.
//!
//! - `config`: every default, and the stages' names and budgets;
//! - `stages/`: one file per stage, the loss of a batch and the frozen networks that teach it;
//! - this module: the loop every stage shares (resume, batches, optimiser, log, checkpoints,
//!   summary); `all`: the whole schedule in order, then the export.

pub mod all;
pub mod batch;
pub mod checkpoint;
pub mod config;
pub mod curves;
pub mod losses;
pub mod run;
pub mod stages;

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::optim::{AdamConfig, GradientsParams};
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::Serialize;

use crate::data::{DataError, Dataset, PersonTensors};
use crate::nn::default_device;
use crate::progress::bar;
pub use checkpoint::{load_network, trained_networks};
pub use config::{DistillSchedule, Stage, TrainConfig};
use run::{RunDir, RunError};
use stages::{StageTrainer, Step};

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("{path}: a run of this stage exists; pass --resume to continue it, or choose another --out")]
    Exists { path: PathBuf },
    #[error("{path}: cannot {what} the checkpoint: {why}")]
    Checkpoint { path: PathBuf, what: &'static str, why: String },
    #[error("{path}: cannot start the network from it (--init-weights): {why}")]
    InitWeights { path: PathBuf, why: String },
    #[error("iteration {0}: no valid sample could be drawn")]
    NoBatch(usize),
    #[error("batch: {0}")]
    Batch(String),
    #[error("{0}: this stage needs that network trained; run its stage into the same --out first")]
    NoTeacher(PathBuf),
}

/// The final numbers of a stage.
#[derive(Debug, Clone, Serialize)]
pub struct StageSummary {
    pub stage: Stage,
    pub iterations: usize,
    pub seconds: f64,
    /// Mean of each term over the last tenth of the run.
    pub final_losses: Vec<(String, f32)>,
    pub skipped_samples: usize,
}

/// Train `config.stage` into `out/STAGE`, resuming from its checkpoint when `resume`.
pub fn train(config: &TrainConfig, out: &Path, resume: bool, progress: bool) -> Result<StageSummary, TrainError> {
    use stages::*;
    let preset = config.preset;
    match config.stage {
        Stage::Parser => run(config, out, resume, progress, || Ok(frame_nets::Parser)),
        Stage::Densepose => run(config, out, resume, progress, || Ok(frame_nets::Densepose)),
        Stage::TeacherParsing => run(config, out, resume, progress, || Ok(teacher_parsing::TeacherParsing)),
        Stage::TeacherWarp => run(config, out, resume, progress, || Ok(teacher_warp::TeacherWarp)),
        Stage::StudentParsing => run(config, out, resume, progress, || student_parsing::StudentParsing::new(out, config)),
        Stage::StudentWarp => run(config, out, resume, progress, || student_warp::StudentWarp::new(out, preset)),
        Stage::Regrowth => run(config, out, resume, progress, || Ok(regrowth::Regrowth)),
        Stage::BaselineSelfSupervised => run(config, out, resume, progress, || Ok(baselines::SelfSupervised)),
        Stage::BaselineOracle => run(config, out, resume, progress, || Ok(baselines::Oracle)),
    }
}

/// The loop every stage shares. `stage` builds the stage (loading its frozen teachers) after
/// the network it trains is initialised, so that initialisation depends on the seed alone.
fn run<S: StageTrainer>(
    config: &TrainConfig,
    out: &Path,
    resume: bool,
    progress: bool,
    stage: impl FnOnce() -> Result<S, TrainError>,
) -> Result<StageSummary, TrainError> {
    let run = RunDir::new(&out.join(config.stage.name()))?;
    let device = default_device().autodiff();
    let dataset = Dataset::open(&config.data)?;
    // Initialised on flex from the seed whatever the backend: every backend starts a run from
    // the same weights (and a test compares their first losses). burn initialises parameters
    // lazily; forking a module a clone shares initialises them where they are (flex), in the
    // module's own order, then copies them.
    let init = Device::flex().autodiff();
    init.seed(config.seed);
    let source = S::network(config.preset, &init);
    let mut net = source.clone().fork(&device);
    drop(source);
    device.seed(config.seed);
    let mut optimizer = AdamConfig::new().with_beta_1(config.beta1).init();
    let mut start = 0;
    match run.checkpoint_state()? {
        Some(state) if resume => {
            (net, optimizer) = checkpoint::resume(&run, net, optimizer, state)?;
            start = state.iteration;
            eprintln!("{}: resuming at iteration {start}", run.dir.display());
        }
        Some(_) => return Err(TrainError::Exists { path: run.dir.clone() }),
        None => {
            if let Some(dir) = &config.init_weights {
                net = checkpoint::weights_from_models(net, dir, config.stage.name(), config.preset)?;
                eprintln!("{}: starts from the weights of {}", config.stage.name(), dir.display());
            } else if let Some(from) = config.init_from {
                net = stages::frozen(out, from.name(), net)?;
                eprintln!("{}: starts from {}", config.stage.name(), checkpoint::model_file(out, from.name()).display());
            }
            run.write_json("config.json", config)?;
        }
    }
    if config.iterations == 0 {
        // Nothing to learn: the run keeps the starting weights (`--init-weights`) as the stage's
        // checkpoint, so that later stages learn from a shipped network as from one trained here.
        checkpoint::save(&run, &net, &optimizer, 0)?;
        let summary = StageSummary { stage: config.stage, iterations: 0, seconds: 0.0, final_losses: Vec::new(), skipped_samples: dataset.skipped().len() };
        run.write_json("summary.json", &summary)?;
        return Ok(summary);
    }
    if !config.perceptual && config.stage == Stage::Regrowth {
        eprintln!("regrowth: no VGG-19 weights given (--vgg): the perceptual term is off, L1 only");
    }
    let mut stage = stage()?;

    let bar = bar(config.iterations as u64, config.stage.name(), progress);
    bar.set_position(start as u64);
    let began = Instant::now();
    for iteration in start..config.iterations {
        let (height, width) = config.size_at(iteration);
        let samples = batch::draw(&dataset, config.seed, iteration, config.batch, height, width);
        if samples.is_empty() {
            return Err(TrainError::NoBatch(iteration));
        }
        let tensors: Vec<PersonTensors> = samples.iter().map(|s| s.tensors()).collect();
        let step = Step { iteration, height, width, samples: &samples, tensors: &tensors, dataset: &dataset, config, device: &device, run_dir: &run.dir, bar: &bar };
        let losses = stage.loss(&net, &step)?;
        let mut logged: Vec<(&str, f32)> = losses.terms.iter().map(|(n, t)| (*n, scalar(t))).collect();
        logged.extend(losses.notes);
        let grads = GradientsParams::from_grads(losses.total.backward(), &net);
        net = optimizer.step(config.lr_schedule.rate(config.lr, iteration, config.iterations), net, grads);
        run.append_losses(iteration, &logged)?;
        bar.set_message(logged.iter().map(|(n, v)| format!("{n} {v:.4}")).collect::<Vec<_>>().join(" "));
        bar.inc(1);
        let done = iteration + 1;
        if done % config.checkpoint_every == 0 || done == config.iterations {
            checkpoint::save(&run, &net, &optimizer, done)?;
            if let Err(e) = curves::draw(&run, &run.dir.join("curves.png")) {
                bar.suspend(|| log::warn!("{e}"));
            }
        }
    }
    bar.finish();
    let summary = StageSummary {
        stage: config.stage,
        iterations: config.iterations,
        seconds: began.elapsed().as_secs_f64(),
        final_losses: final_losses(&run.read_losses()),
        skipped_samples: dataset.skipped().len(),
    };
    run.write_json("summary.json", &summary)?;
    eprintln!("{}", dataset.summary());
    Ok(summary)
}

/// The value of a one-element loss (NaN if it holds none, which the log then shows).
fn scalar(t: &Tensor<1>) -> f32 {
    t.clone().into_data().try_to_vec::<f32>().ok().and_then(|v| v.first().copied()).unwrap_or(f32::NAN)
}

/// Mean of each term over the last tenth of the logged iterations.
fn final_losses(losses: &[(usize, Vec<(String, f32)>)]) -> Vec<(String, f32)> {
    let tail = &losses[losses.len() - (losses.len() / 10).max(1).min(losses.len())..];
    let Some((_, first)) = tail.first() else { return Vec::new() };
    first
        .iter()
        .map(|(name, _)| {
            let vals: Vec<f32> = tail.iter().filter_map(|(_, t)| t.iter().find(|(n, _)| n == name).map(|(_, v)| *v)).collect();
            (name.clone(), vals.iter().sum::<f32>() / vals.len().max(1) as f32)
        })
        .collect()
}
