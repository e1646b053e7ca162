//! `garment-train train`: one stage, the two baselines, or `all` of the schedule in dependency
//! order followed by the export. In `all`, a stage that finished is kept and an interrupted one
//! resumes, so the same command continues a killed schedule.

use std::time::Instant;

use anyhow::{Result, bail};

use super::config::{DistillSchedule, Stage, StudentPose, Teacher, TrainConfig};
use super::{train, trained_networks};
use crate::cli::{StageArg, TrainArgs};
use crate::data::Dataset;
use crate::nn::default_device;
use crate::onnx::{Precision, export_models};

/// The configuration of `stage` under the command line's arguments: the stage's defaults
/// (`config`) where an argument is not given.
/// `samples`: how many the stage's dataset (`stage_data`) holds.
pub fn stage_config(stage: Stage, args: &TrainArgs, samples: usize) -> Result<TrainConfig> {
    let mut c = TrainConfig::new(stage, args.preset, stage_data(stage, args).to_path_buf(), samples);
    if let Some((w, h)) = args.size {
        (c.width, c.height) = (w as usize, h as usize);
    }
    c.iterations = args.iterations.unwrap_or(c.iterations);
    c.batch = args.batch;
    c.lr = args.lr.unwrap_or(c.lr);
    c.lr_schedule = args.lr_schedule;
    c.coarse_first = match args.coarse_first.unwrap_or(c.coarse_first) {
        f if (0.0..1.0).contains(&f) => f,
        f => bail!("--coarse-first {f}: expected the share of iterations at half resolution, in [0, 1)"),
    };
    c.dice = match args.dice {
        d if d >= 0.0 && d.is_finite() => d,
        d => bail!("--dice {d}: expected a weight >= 0"),
    };
    c.beta1 = match args.beta1 {
        b if (0.0..1.0).contains(&b) => b,
        b => bail!("--beta1 {b}: expected a decay in [0, 1) (0.5 is PF-AFN's, 0.9 Adam's usual)"),
    };
    c.seed = args.seed;
    c.checkpoint_every = args.checkpoint_every.max(1);
    c.distill = match phases(args)? {
        None => DistillSchedule::in_thirds(c.iterations, c.batch, samples),
        Some((e1, e2)) => DistillSchedule::phases(e1, e2),
    };
    c.distill.temperature = args.temperature;
    c.distill.student_pose = args.student_pose;
    c.distill.teacher = args.teacher;
    if args.teacher == Teacher::Student {
        if args.student_pose != StudentPose::Estimated {
            bail!("--teacher student: the student would see what its teacher sees; add --student-pose estimated");
        }
        if args.init_weights.is_none() {
            bail!("--teacher student: the teacher is S_P as --init-weights MODELS gives it; name that folder");
        }
    }
    if args.scratch {
        c.init_from = None;
    }
    c.init_weights = args.init_weights.clone();
    Ok(c)
}

/// The dataset `stage` learns from: `--frame-data` for the parser when given (people in every
/// framing, `synth --varied`: the parser also searches whole frames), `--data` otherwise (dense
/// pose only ever sees the crop around the person).
fn stage_data(stage: Stage, args: &TrainArgs) -> &std::path::Path {
    match (stage, &args.frame_data) {
        (Stage::Parser, Some(frames)) => frames,
        _ => &args.data,
    }
}

/// `--phases E1,E2`, checked.
fn phases(args: &TrainArgs) -> Result<Option<(f32, f32)>> {
    match args.phases.as_deref() {
        None => Ok(None),
        Some(&[e1, e2]) if 0.0 <= e1 && e1 <= e2 => Ok(Some((e1, e2))),
        Some(p) => bail!("--phases {p:?}: expected two increasing epochs E1,E2 where phases 1 and 2 end (e.g. 4,8)"),
    }
}

/// Run the `train` subcommand.
pub fn run(args: &TrainArgs) -> Result<()> {
    phases(args)?;
    if let Some(v) = &args.vgg {
        eprintln!("--vgg {}: loading VGG-19 weights is not supported yet; the perceptual term stays off", v.display());
    }
    // Each dataset indexed once (and its bad samples reported once), not once per stage.
    let samples = Dataset::open(&args.data)?.len();
    let frame_samples = match &args.frame_data {
        Some(dir) => Dataset::open(dir)?.len(),
        None => samples,
    };
    let stages: Vec<Stage> = match args.stage {
        StageArg::All => Stage::ORDER.to_vec(),
        StageArg::Baselines => Stage::BASELINES.to_vec(),
        StageArg::One(s) => vec![s],
    };
    let several = stages.len() > 1;
    if several && args.init_weights.is_some() {
        bail!("--init-weights starts one stage's network from a models folder; name the stage (parser, densepose, student-parsing, student-warp or regrowth), not {}", if matches!(args.stage, StageArg::All) { "all" } else { "baselines" });
    }
    if args.iterations == Some(0) && args.init_weights.is_none() {
        bail!("--iterations 0 trains nothing: with --init-weights DIR it puts that folder's network into the run as it is; to train, give at least 1 iteration");
    }
    let started = Instant::now();
    for &stage in &stages {
        let n = if stage_data(stage, args) == args.data.as_path() { samples } else { frame_samples };
        let config = stage_config(stage, args, n)?;
        let dir = args.out.join(stage.name());
        if several && dir.join("summary.json").exists() {
            println!("{}: already trained in {}", stage.name(), dir.display());
            continue;
        }
        let resume = args.resume || (several && dir.join("checkpoint").exists());
        let summary = train(&config, &args.out, resume, true)?;
        println!("{}", serde_json::to_string(&summary)?);
    }
    if matches!(args.stage, StageArg::All) {
        let (w, h) = args.size.unwrap_or(args.preset.default_size());
        let (nets, training) = trained_networks(args.preset, &args.out, &default_device())?;
        let manifest = export_models(&nets, args.preset, Precision::Fp32, h as usize, w as usize, &args.models, Some(&training))?;
        println!(
            "all stages in {:.0} s; exported {} models to {} ({})",
            started.elapsed().as_secs_f64(),
            manifest.models.len(),
            args.models.display(),
            if manifest.untrained { "some untrained" } else { "trained" }
        );
    }
    Ok(())
}
