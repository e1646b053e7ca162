//! Every default of training, once, next to what it sets, with where it comes from. The command
//! line's defaults, the serialised configuration's and "train all"'s are these.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::nn::{Backend, Preset};

/// Images per iteration: our choice, what a 2-core CPU trains the `lite` nets at in ~1 s.
pub const BATCH: usize = 8;
pub const SEED: u64 = 0;
/// Iterations between checkpoints (a killed run loses at most this many).
pub const CHECKPOINT_EVERY: usize = 100;
/// Adam's beta1: 0.5 as in PF-AFN.
pub const BETA1: f32 = 0.5;
/// Warp losses: first- and second-order smoothness weights of the flow (PF-AFN: 0.01 and 6).
pub const TV1: f32 = 0.01;
pub const TV2: f32 = 6.0;
/// Student parsing: softmax temperature of the response (soft-target) loss (Hinton et al.'s
/// usual 2; the paper does not give one).
pub const TEMPERATURE: f32 = 2.0;

/// How the learning rate moves over a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum LrSchedule {
    /// The stage's rate throughout (what runs written before the schedule existed used).
    #[default]
    Constant,
    /// Cosine decay from the stage's rate to zero at its last iteration (Loshchilov and Hutter's
    /// SGDR without restarts): a short schedule at a high rate ends in a minimum instead of
    /// wherever the last noisy steps left it (measured: T_P at a constant 2e-3 jumped from 0.010
    /// to 0.1 fused loss at iteration 655 of 750 and ended at 0.05).
    Cosine,
}

impl LrSchedule {
    /// The default of new runs.
    pub const DEFAULT: LrSchedule = LrSchedule::Cosine;

    /// The rate of `iteration` (0-based) of `iterations`, for base rate `lr`.
    pub fn rate(self, lr: f64, iteration: usize, iterations: usize) -> f64 {
        match self {
            LrSchedule::Constant => lr,
            LrSchedule::Cosine => lr * 0.5 * (1.0 + (std::f64::consts::PI * iteration as f64 / iterations.max(1) as f64).cos()),
        }
    }
}

/// The stages of the schedule (DESIGN.md section 5) and the two trained baselines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    Parser,
    Densepose,
    TeacherParsing,
    TeacherWarp,
    StudentParsing,
    StudentWarp,
    Regrowth,
    /// Baseline: S_P without a teacher, trained on A's own garment mask, randomly moved and
    /// scaled (the paper's augmentation baseline).
    BaselineSelfSupervised,
    /// Baseline: S_P trained directly on the synthetic world's true transfer parsing (an upper
    /// bound no real dataset offers).
    BaselineOracle,
}

impl Stage {
    /// Dependency order: every stage's teachers come before it.
    pub const ORDER: [Stage; 7] = [
        Stage::Parser,
        Stage::Densepose,
        Stage::TeacherParsing,
        Stage::TeacherWarp,
        Stage::StudentParsing,
        Stage::StudentWarp,
        Stage::Regrowth,
    ];
    pub const BASELINES: [Stage; 2] = [Stage::BaselineSelfSupervised, Stage::BaselineOracle];

    /// The network the stage trains, which also names its run folder.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Parser => "parser",
            Stage::Densepose => "densepose",
            Stage::TeacherParsing => "teacher_parsing",
            Stage::TeacherWarp => "teacher_warp",
            Stage::StudentParsing => "transfer_parsing",
            Stage::StudentWarp => "warp",
            Stage::Regrowth => "regrowth",
            Stage::BaselineSelfSupervised => "transfer_parsing_self_supervised",
            Stage::BaselineOracle => "transfer_parsing_oracle",
        }
    }

    /// The network of the same run folder this stage starts from instead of the seed's
    /// initialisation. S_P starts from T_P: the same U2-Net on inputs that differ only in the
    /// garment mask (as B wears it instead of in shop), so the student begins where its teacher
    /// is and distillation refines it (`--scratch` starts from the seed, as the paper does).
    pub fn default_init(self) -> Option<Stage> {
        match self {
            Stage::StudentParsing => Some(Stage::TeacherParsing),
            _ => None,
        }
    }

    /// Learning rate (Adam): our choice for the per-frame networks; for the warps PF-AFN's
    /// 5e-5 raised, since a CPU schedule runs hundreds of iterations, not PF-AFN's epochs. S_P,
    /// which starts from T_P's weights, refines them at half T_P's rate (measured: garment IoU
    /// of the chain 0.712 -> 0.717 against 2e-3; training/README.md).
    pub fn default_lr(self) -> f64 {
        match self {
            Stage::StudentParsing => 1e-3,
            Stage::Parser | Stage::Densepose | Stage::TeacherParsing => 2e-3,
            Stage::BaselineSelfSupervised | Stage::BaselineOracle => 2e-3,
            Stage::TeacherWarp | Stage::StudentWarp => 3e-4,
            Stage::Regrowth => 5e-4,
        }
    }

    /// Share of the stage's iterations, the first ones, at half the resolution: T_P learns the
    /// layout of a body at 48x64 for 60% of its iterations, then refines at 96x128 (1100 of
    /// them this way took 0.93x the time of 750 at 96x128 and did better: garment IoU of the
    /// chain 0.712 -> 0.722 on held-out people; training/README.md). Dense pose likewise: 2000
    /// iterations this way took 475 s, 0.53x of 2000 at 96x128, for most of their gain over 800
    /// (chain garment IoU 0.884 -> 0.889, against 0.893). The others: not measured, none.
    pub fn default_coarse_first(self) -> f32 {
        match self {
            Stage::TeacherParsing | Stage::Densepose => 0.6,
            _ => 0.0,
        }
    }

    /// Iterations of the stage in the schedule of a preset, at its default batch and size:
    /// `lite` is sized to run all seven stages in about 91 minutes on 2 CPU cores with
    /// `--device libtorch` (about three times that on flex; training/README.md gives the
    /// measured time per stage). The teacher and the students get the most: they are what
    /// limits quality.
    pub fn default_iterations(self, preset: Preset) -> usize {
        let lite = match self {
            // The parser learns every framing (`synth --varied`), dense pose only the crop. Dense
            // pose has the body under the clothes to guess, and the chain's garment and skin depend
            // on it most (fed the true dense pose: 0.908 / 0.845): 2000, the first 60% coarse.
            Stage::Parser => 1200,
            Stage::Densepose => 2000,
            // Twice the 1100 that first fitted: the teacher is what limits S_P (training/README.md).
            Stage::TeacherParsing => 2200,
            Stage::TeacherWarp => 500,
            Stage::StudentParsing => 450,
            // Twice the 300 that first fitted: garment L1 0.110 -> 0.103, PSNR 22.06 -> 22.27.
            Stage::StudentWarp => 600,
            Stage::Regrowth => 250,
            // The baselines get the student's budget: a fair comparison.
            Stage::BaselineSelfSupervised | Stage::BaselineOracle => 450,
        };
        match preset {
            Preset::Tiny => 50,
            Preset::Lite => lite,
            Preset::Paper => lite * 20,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainConfig {
    pub stage: Stage,
    pub preset: Preset,
    pub data: PathBuf,
    pub seed: u64,
    pub iterations: usize,
    pub batch: usize,
    pub lr: f64,
    #[serde(default)]
    pub lr_schedule: LrSchedule,
    pub beta1: f32,
    pub checkpoint_every: usize,
    pub height: usize,
    pub width: usize,
    /// The perceptual term needs ImageNet VGG-19 weights, which no package here carries.
    pub perceptual: bool,
    #[serde(default = "tv1")]
    pub tv1: f32,
    #[serde(default = "tv2")]
    pub tv2: f32,
    /// Phases, temperature and weights of the student parsing's distillation.
    pub distill: DistillSchedule,
    /// The stage whose trained network this one starts from (`Stage::default_init`); none: the
    /// seed's initialisation.
    #[serde(default)]
    pub init_from: Option<Stage>,
    /// A models folder whose network of this stage it starts from instead (fine-tuning a
    /// shipped network; `--init-weights`).
    #[serde(default)]
    pub init_weights: Option<PathBuf>,
    /// Where it trained (`--device`).
    #[serde(default)]
    pub backend: Backend,
    /// What made the dataset (its `synth.json`: generator seed, people, size), when known.
    #[serde(default)]
    pub dataset: Option<serde_json::Value>,
    /// The command line that ran the stage.
    #[serde(default)]
    pub command: Vec<String>,
    /// Share of the iterations, the first ones, trained at half the resolution (lower
    /// resolution first: a quarter of the pixels per iteration for the same fully convolutional
    /// nets); 0: all at full resolution.
    #[serde(default)]
    pub coarse_first: f32,
    /// Weight of a soft Dice term beside the cross-entropy of the per-frame networks (parser,
    /// dense pose): every part counts as much as every other, however few pixels it has (an
    /// arm is a few pixels across; the torso is most of the body). 0: cross-entropy alone.
    #[serde(default)]
    pub dice: f32,
}

fn tv1() -> f32 {
    TV1
}
fn tv2() -> f32 {
    TV2
}

impl TrainConfig {
    /// The defaults of `stage` for `preset` on a dataset of `samples` people: the stage's
    /// iterations and learning rate, the preset's model size, Algorithm 1's phases in thirds.
    pub fn new(stage: Stage, preset: Preset, data: PathBuf, samples: usize) -> TrainConfig {
        let (width, height) = preset.default_size();
        let iterations = stage.default_iterations(preset);
        TrainConfig {
            stage,
            preset,
            seed: SEED,
            iterations,
            batch: BATCH,
            lr: stage.default_lr(),
            lr_schedule: LrSchedule::DEFAULT,
            beta1: BETA1,
            checkpoint_every: CHECKPOINT_EVERY,
            height: height as usize,
            width: width as usize,
            perceptual: false,
            tv1: TV1,
            tv2: TV2,
            distill: DistillSchedule::in_thirds(iterations, BATCH, samples),
            init_from: stage.default_init(),
            init_weights: None,
            backend: crate::nn::backend(),
            dataset: std::fs::read_to_string(data.join(crate::data::layout::SYNTH)).ok().and_then(|t| serde_json::from_str(&t).ok()),
            command: std::env::args().collect(),
            coarse_first: stage.default_coarse_first(),
            dice: 0.0,
            data,
        }
    }

    /// The resolution (height, width) of iteration `iteration` (0-based): half the stage's for
    /// the first `coarse_first` share of the iterations, the stage's after.
    pub fn size_at(&self, iteration: usize) -> (usize, usize) {
        if iteration < (self.coarse_first as f64 * self.iterations as f64).round() as usize {
            (self.height / 2, self.width / 2)
        } else {
            (self.height, self.width)
        }
    }

    /// Epochs of the dataset seen after `iterations` iterations.
    pub fn epochs(&self, iterations: usize, samples: usize) -> f32 {
        (iterations * self.batch) as f32 / samples.max(1) as f32
    }
}

/// Algorithm 1's schedule for the student parsing S_P: phase 1 until epoch `e1`, phase 2 until
/// `e2`, phase 3 to the end of the stage (`stages::student_parsing` says what each phase trains).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DistillSchedule {
    /// Phase boundaries in epochs (fractions allowed: a short CPU run sees less than one epoch
    /// of a large synthetic set). The paper gives the phases, not their lengths.
    pub e1: f32,
    pub e2: f32,
    pub temperature: f32,
    /// Weights of the feature, response and self-study terms: 1, as the paper sums them.
    pub feature_weight: f32,
    pub response_weight: f32,
    pub self_study_weight: f32,
    /// The dense pose S_P sees (the teacher always sees the dataset's).
    #[serde(default)]
    pub student_pose: StudentPose,
    /// Who teaches S_P.
    #[serde(default)]
    pub teacher: Teacher,
}

/// The network that teaches the student parsing S_P (`--teacher`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Teacher {
    /// T_P of the same run, A trying on B's in-shop garment: Algorithm 1 of the paper.
    #[default]
    TeacherParsing,
    /// S_P as the stage starts (`--init-weights`), frozen, on the student's own garment input
    /// and the dataset's dense pose, while the student sees the estimated one (`StudentPose`):
    /// the knowledge it passes on is what the true dense pose tells (our addition, for a run
    /// that has no T_P at hand).
    Student,
}

/// The dense pose the student parsing S_P learns from (`--student-pose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum StudentPose {
    /// The dataset's, as T_P sees it (the paper: both networks learn from one dense pose).
    #[default]
    Dataset,
    /// What the run's dense-pose network estimates from each person's image, as the element
    /// gives S_P: the teacher keeps the dataset's dense pose, a privileged input, and the
    /// student learns to give the teacher's answer from the estimate (our choice: the chain's
    /// skin IoU is 0.820 with the estimated dense pose, 0.859 with the true one).
    Estimated,
}

impl DistillSchedule {
    /// Phases of equal length over `iterations` of `batch` images from `samples` people.
    pub fn in_thirds(iterations: usize, batch: usize, samples: usize) -> DistillSchedule {
        let epochs = (iterations * batch) as f32 / samples.max(1) as f32;
        DistillSchedule::phases(epochs / 3.0, epochs * 2.0 / 3.0)
    }

    pub fn phases(e1: f32, e2: f32) -> DistillSchedule {
        DistillSchedule {
            e1,
            e2,
            temperature: TEMPERATURE,
            feature_weight: 1.0,
            response_weight: 1.0,
            self_study_weight: 1.0,
            student_pose: StudentPose::Dataset,
            teacher: Teacher::TeacherParsing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{LrSchedule, Stage, TrainConfig};
    use crate::nn::Preset;

    #[test]
    fn lower_resolution_first_halves_the_size_of_the_first_share_of_iterations() {
        let mut c = TrainConfig::new(Stage::TeacherParsing, Preset::Lite, "data".into(), 3000);
        assert_eq!((c.iterations, c.coarse_first), (2200, 0.6), "T_P's schedule");
        c.coarse_first = 0.0;
        assert_eq!(c.size_at(0), (128, 96));
        c.coarse_first = 0.6;
        assert_eq!((c.size_at(0), c.size_at(1319)), ((64, 48), (64, 48)));
        assert_eq!((c.size_at(1320), c.size_at(2199)), ((128, 96), (128, 96)));
    }

    #[test]
    fn the_cosine_schedule_starts_at_the_rate_halves_midway_and_ends_near_zero() {
        let rate = |i| LrSchedule::Cosine.rate(2e-3, i, 100);
        assert!((rate(0) - 2e-3).abs() < 1e-12);
        assert!((rate(50) - 1e-3).abs() < 1e-12);
        assert!(rate(99) < 2e-6 && rate(99) > 0.0);
        assert!((1..100).all(|i| rate(i) < rate(i - 1)));
        assert_eq!(LrSchedule::Constant.rate(2e-3, 99, 100), 2e-3);
    }
}
