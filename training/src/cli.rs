//! The command line of `garment-train`: one subcommand per task, each with its arguments
//! struct, whose defaults are `train::config`'s.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::nn::Preset;
use crate::onnx::Precision;
use crate::train::Stage;
use crate::train::config;

#[derive(Parser)]
#[command(name = "garment-train", version, about = "Synthetic try-on data and training for the garmenttransfer element")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Where the networks run: flex (pure Rust, CPU), libtorch (CPU) or libtorch-cuda:N (both
    /// need a build with the `libtorch` feature).
    #[arg(long, global = true, default_value = "flex")]
    pub device: crate::nn::Backend,
}

#[derive(Subcommand)]
pub enum Command {
    /// Write a synthetic dataset in the VITON-HD layout, with the true result of every transfer pair.
    Synth(SynthArgs),
    /// Write a synthetic video: frames of one person moving, a reference person, and the true
    /// transferred frames.
    SynthVideo(SynthVideoArgs),
    /// Run the element's chain over a video of `synth-video`, frame after frame, and measure it
    /// against the true transfers: the metrics of `eval` per frame, and flicker.
    EvalVideo(EvalVideoArgs),
    /// Draw a dataset's first people as a grid: image, cloth, parsing, dense pose, reference, true transfer.
    ContactSheet(ContactSheetArgs),
    /// Parameters and GFLOPs at 256x192 of every network of a preset.
    Summary(SummaryArgs),
    /// Export the five inference networks to ONNX, with models/manifest.json, and check each
    /// file against ONNX Runtime.
    Export(ExportArgs),
    /// The 8-bit form of a float32 models folder, for CPUs with 8-bit dot products: every
    /// convolution in int8, its ranges calibrated on what the element's chain feeds each model.
    Quantize(QuantizeArgs),
    /// Train one stage of the schedule into RUN_DIR/STAGE (resumable), or `all` of them in
    /// dependency order followed by the export into --models.
    Train(TrainArgs),
    /// Evaluate a models folder against the true transfers of a synthetic dataset, through the
    /// element's own per-frame chain.
    Eval(EvalArgs),
    /// Copy a dataset with its dense pose replaced by a models folder's dense-pose network's
    /// (what the element gives the transfer networks), to train T_P and S_P on.
    Estimate(EstimateArgs),
    /// Measure ONNX Runtime CPU time per network at 256x192, batch 1; or the files of a models
    /// folder, against another folder's in the same process.
    BenchOnnx(BenchOnnxArgs),
    /// Measure the synthetic world's speed: samples per second in memory, and written to disk.
    BenchSynth(BenchSynthArgs),
}

/// Arguments of `synth`.
#[derive(Args)]
pub struct SynthArgs {
    /// Output folder (created).
    #[arg(long)]
    pub out: PathBuf,
    /// Number of people.
    #[arg(long, default_value_t = 100)]
    pub count: usize,
    /// Image size, WIDTHxHEIGHT.
    #[arg(long, default_value = "192x256", value_parser = parse_size)]
    pub size: (u32, u32),
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Number of random transfer pairs (A wearing B's garment) to render; default: one per person.
    #[arg(long)]
    pub pairs: Option<usize>,
    /// Write dense pose as VITON-HD's colour rendering instead of the part index.
    #[arg(long)]
    pub densepose_colour: bool,
    /// Shoot people in every framing, as a camera frame letterboxed into the picture shows
    /// them (small, off-centre, grey bars), half as usual: data for the parser, which must
    /// find a person in any frame.
    #[arg(long)]
    pub varied: bool,
}

/// Arguments of `synth-video`.
#[derive(Args)]
pub struct SynthVideoArgs {
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 60)]
    pub frames: usize,
    #[arg(long, default_value = "192x256", value_parser = parse_size)]
    pub size: (u32, u32),
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The person's height as a share of the frame's (e.g. 0.33 for a person at a third of
    /// a 1280x720 frame); default: the person fills most of the frame, as in the datasets.
    #[arg(long)]
    pub person_height: Option<f32>,
    /// The person walks across the frame, from a fifth of its width to four fifths.
    #[arg(long)]
    pub walk: bool,
}

/// Arguments of `eval-video`.
#[derive(Args)]
pub struct EvalVideoArgs {
    #[arg(long)]
    pub models: PathBuf,
    /// A folder written by `synth-video`.
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long)]
    pub json: bool,
    /// Letterbox the whole frame instead of following the person.
    #[arg(long)]
    pub no_follow: bool,
    /// Without temporal smoothing.
    #[arg(long)]
    pub no_temporal: bool,
}

/// Arguments of `contact-sheet`.
#[derive(Args)]
pub struct ContactSheetArgs {
    /// Dataset folder (VITON-HD layout).
    pub dir: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 6)]
    pub rows: usize,
    /// Height of one cell in pixels.
    #[arg(long, default_value_t = 256)]
    pub cell: u32,
}

/// Arguments of `summary`.
#[derive(Args)]
pub struct SummaryArgs {
    #[arg(long, value_enum, default_value = "lite")]
    pub preset: Preset,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `export`.
#[derive(Args)]
pub struct ExportArgs {
    #[arg(long, value_enum, default_value = "lite")]
    pub preset: Preset,
    #[arg(long)]
    pub out: PathBuf,
    /// Random weights (plumbing and benchmarks, not results).
    #[arg(long, conflicts_with_all = ["checkpoints", "weights_from"], required_unless_present_any = ["checkpoints", "weights_from"])]
    pub untrained: bool,
    /// The weights of a models folder this exporter wrote (its preset and provenance
    /// too), written again by the current exporter. Each new file is run beside the old
    /// one in ONNX Runtime and must agree with it.
    /// With --checkpoints: the networks that run trained are taken from there, the others
    /// from this folder.
    #[arg(long)]
    pub weights_from: Option<PathBuf>,
    /// A training run folder: each network trained there (RUN_DIR/<network>/checkpoint)
    /// is exported with its weights and provenance; the others stay untrained.
    #[arg(long)]
    pub checkpoints: Option<PathBuf>,
    /// Model resolution, WIDTHxHEIGHT [default: 192x256, or the resolution of
    /// --weights-from].
    #[arg(long, value_parser = parse_size)]
    pub size: Option<(u32, u32)>,
    /// What the networks compute in: fp16 casts after the inputs and before the outputs (the
    /// files keep the contract's float32 tensors) and keeps GridSample in fp32. For the CUDA
    /// provider; on the CPU ONNX Runtime casts around every node and runs slower.
    #[arg(long, value_enum, default_value = "fp32")]
    pub precision: Precision,
}

/// Arguments of `quantize`.
#[derive(Args)]
pub struct QuantizeArgs {
    /// The fp32 models folder.
    #[arg(long)]
    pub models: PathBuf,
    /// Dataset whose transfer pairs the chain runs to calibrate on (`garment-train synth`).
    #[arg(long)]
    pub data: PathBuf,
    /// At most this many transfer pairs.
    #[arg(long, default_value_t = 100)]
    pub pairs: usize,
    /// Output folder (created).
    #[arg(long)]
    pub out: PathBuf,
}

/// Arguments of `train`.
#[derive(Args)]
pub struct TrainArgs {
    #[arg(value_enum)]
    pub stage: StageArg,
    /// With `all`: where to export the trained models.
    #[arg(long, default_value = "models")]
    pub models: PathBuf,
    /// Dataset folder (VITON-HD layout; `garment-train synth` writes one).
    #[arg(long)]
    pub data: PathBuf,
    /// Dataset of the parser, which must find a person in any frame (`synth --varied` writes
    /// one); default: --data.
    #[arg(long)]
    pub frame_data: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "lite")]
    pub preset: Preset,
    /// Run folder; the stage writes into RUN_DIR/STAGE.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue from the stage's last checkpoint (same data order, optimizer state).
    #[arg(long)]
    pub resume: bool,
    /// Iterations per stage (default: the stage's budget in the preset's schedule). 0 with
    /// `--init-weights` writes that folder's network into the run as the stage's checkpoint
    /// (for later stages to learn from).
    #[arg(long)]
    pub iterations: Option<usize>,
    #[arg(long, default_value_t = config::BATCH)]
    pub batch: usize,
    /// Learning rate (default: the stage's).
    #[arg(long)]
    pub lr: Option<f64>,
    /// How the learning rate moves over the stage: cosine decay to zero, or constant.
    #[arg(long, value_enum, default_value_t = config::LrSchedule::DEFAULT)]
    pub lr_schedule: config::LrSchedule,
    /// Train the first F (a share, 0 to 1) of the iterations at half the resolution (default:
    /// the stage's, 0.6 for T_P and dense pose, 0 for the others).
    #[arg(long)]
    pub coarse_first: Option<f32>,
    /// Parser and dense pose: weight of a soft Dice term (mean over the parts) beside the
    /// cross-entropy; 0: cross-entropy alone.
    #[arg(long, default_value_t = 0.0)]
    pub dice: f32,
    /// Adam's beta1, the decay of its running mean of gradients (default 0.5, PF-AFN's).
    #[arg(long, default_value_t = config::BETA1)]
    pub beta1: f32,
    #[arg(long, default_value_t = config::SEED)]
    pub seed: u64,
    #[arg(long, default_value_t = config::CHECKPOINT_EVERY)]
    pub checkpoint_every: usize,
    /// Model resolution, WIDTHxHEIGHT (default: the preset's, 96x128 for `lite`).
    #[arg(long, value_parser = parse_size)]
    pub size: Option<(u32, u32)>,
    /// VGG-19 ImageNet weights for the perceptual loss (not supported yet: the term stays off).
    #[arg(long)]
    pub vgg: Option<PathBuf>,
    /// Student parsing: epochs E1,E2 where phases 1 and 2 end (Algorithm 1; phase 3 runs to
    /// the end of the stage); fractions allowed. Default: thirds of the stage's iterations.
    #[arg(long, value_delimiter = ',')]
    pub phases: Option<Vec<f32>>,
    /// Student parsing: temperature of the response loss.
    #[arg(long, default_value_t = config::TEMPERATURE)]
    pub temperature: f32,
    /// Student parsing: the dense pose S_P learns from. `dataset`: the dataset's, as T_P sees
    /// it. `estimated`: a dense-pose network run on each person's image, as the element gives
    /// S_P (the one of --init-weights when given, else the one trained in the same --out); T_P
    /// keeps the dataset's.
    #[arg(long, value_enum, default_value_t = config::StudentPose::default())]
    pub student_pose: config::StudentPose,
    /// Student parsing: who teaches S_P. `teacher-parsing`: T_P of the same --out (the paper).
    /// `student`: S_P as --init-weights gives it, frozen, seeing the dataset's dense pose while
    /// the student sees the estimated one (needs --student-pose estimated).
    #[arg(long, value_enum, default_value_t = config::Teacher::default())]
    pub teacher: config::Teacher,
    /// Start every stage from the seed's initialisation (by default S_P starts from the T_P
    /// trained in the same --out).
    #[arg(long)]
    pub scratch: bool,
    /// Start the stage's network from its weights in a models folder this exporter wrote (to
    /// train a shipped network further) instead of the seed's initialisation or --scratch's
    /// rule. One stage of the five networks the element runs.
    #[arg(long, conflicts_with = "scratch")]
    pub init_weights: Option<PathBuf>,
}

/// Arguments of `eval`.
#[derive(Args)]
pub struct EvalArgs {
    #[arg(long)]
    pub models: PathBuf,
    #[arg(long)]
    pub data: PathBuf,
    /// At most this many transfer pairs.
    #[arg(long, default_value_t = 200)]
    pub limit: usize,
    #[arg(long)]
    pub json: bool,
    /// Also evaluate the baselines: the affine paste, and the S_P baselines trained in this
    /// run folder (`garment-train train baselines --out RUN_DIR`).
    #[arg(long)]
    pub baselines: Option<PathBuf>,
    /// Evaluate the affine-paste baseline even without --baselines.
    #[arg(long)]
    pub affine_paste: bool,
    /// Record the numbers in the models folder's manifest.json ("evaluation").
    #[arg(long)]
    pub record: bool,
    /// Also draw the first pairs into this PNG: person A, reference B, the output, the truth
    /// and their difference, one pair a row.
    #[arg(long)]
    pub sheet: Option<std::path::PathBuf>,
    /// Pairs drawn into --sheet.
    #[arg(long, default_value_t = 8)]
    pub sheet_rows: usize,
    /// Height in pixels of a picture in --sheet.
    #[arg(long, default_value_t = 256)]
    pub sheet_cell: u32,
}

/// Arguments of `estimate`.
#[derive(Args)]
pub struct EstimateArgs {
    /// The models folder whose dense-pose network estimates.
    #[arg(long)]
    pub models: PathBuf,
    /// The dataset to copy.
    #[arg(long)]
    pub data: PathBuf,
    /// The copy (a new folder).
    #[arg(long)]
    pub out: PathBuf,
}

/// Arguments of `bench-onnx`.
#[derive(Args)]
pub struct BenchOnnxArgs {
    #[arg(long, value_enum, default_value = "lite")]
    pub preset: Preset,
    #[arg(long, default_value_t = 10)]
    pub runs: usize,
    /// ONNX Runtime intra-op threads.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Time the files of this models folder (at its resolution) instead of a preset's random
    /// weights.
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// With --models: time each file against the same model of this folder (same resolution),
    /// the two run alternately in one process, and report the ratio.
    #[arg(long, requires = "models")]
    pub against: Option<PathBuf>,
}

/// Arguments of `bench-synth`.
#[derive(Args)]
pub struct BenchSynthArgs {
    #[arg(long, default_value = "192x256", value_parser = parse_size)]
    pub size: (u32, u32),
    #[arg(long, default_value_t = 400)]
    pub count: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// A stage, or `all` of them.
#[derive(Debug, Clone, Copy)]
pub enum StageArg {
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

pub fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(|| format!("size '{s}': expected WIDTHxHEIGHT, e.g. 192x256"))?;
    let num = |v: &str| v.trim().parse::<u32>().map_err(|_| format!("size '{s}': '{v}' is not a whole number of pixels"));
    Ok((num(w)?, num(h)?))
}

