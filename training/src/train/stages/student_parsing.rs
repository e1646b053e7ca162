//! Stage 3: the student parsing S_P, distilled from the frozen teacher T_P by Algorithm 1 of
//! the paper. For a pair of people (A, B), T_P sees A trying on B's *in-shop* garment (what a
//! try-on model sees); S_P sees A with the garment *as B wears it* (what garment transfer has).
//!
//! - phase 1, epochs [0, e1): feature loss on the decoder's coarsest features `hx6, hx5d` +
//!   response loss;
//! - phase 2, epochs [e1, e2): feature loss on all six decoder features + response loss;
//! - phase 3, from e2 to the end: self-study + response loss. The garment category S_P predicts
//!   for A is split out as a hard mask (argmax == upper garment, detached) and transferred back
//!   onto B: S_P(M^a_B, P_B, that mask) must give B's own parsing. A soft, attached mask would
//!   let S_P lower this loss by pasting the garment mask it was given (B's, in its input) into
//!   its output instead of transferring it; and this second pass, on inputs the element never
//!   gives, normalises by its own batch without touching the batch-norm statistics that ship.
//!
//! With `--student-pose estimated` S_P sees the dense pose the run's dense-pose network
//! estimates from each person's image (and the agnostic map that pose hides), as the element
//! gives it, while T_P keeps the dataset's: the teacher's dense pose is then privileged
//! information, and the student learns to answer as the teacher does from what the element has.
//!
//! The response loss is the KL divergence of S_P's softened parsing from T_P's (Hinton's
//! soft targets, scaled by the temperature squared); the feature loss the mean squared error of
//! the chosen decoder features.

use std::borrow::Cow;
use std::path::Path;

use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Device, Tensor};

use super::{Losses, StageTrainer, Step, constant, frozen, frozen_device};
use crate::data::PersonTensors;
use crate::nn::Preset;
use crate::nn::frame_net::FrameNet;
use crate::nn::graph::Eager;
use crate::nn::u2net::{Decoder, U2Net};
use crate::train::TrainError;
use crate::train::checkpoint::save_weights;
use crate::train::checkpoint::weights_from_models;
use crate::train::config::{DistillSchedule, StudentPose, Teacher, TrainConfig};
use crate::train::losses::{cross_entropy, mse};
use gstgarmenttransfer::contract::{POSE_PARTS, ParsingGroup};
use gstgarmenttransfer::inputs::{agnostic, one_hot};
use gstgarmenttransfer::maps::argmax;

/// The loss terms active in one epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveTerms {
    pub phase: u8,
    /// The decoder features the feature loss matches; none: no feature loss.
    pub features: &'static [Decoder],
    pub response: bool,
    pub self_study: bool,
}

/// Algorithm 1: which terms train S_P at `epoch`.
pub fn active(schedule: &DistillSchedule, epoch: f32) -> ActiveTerms {
    if epoch < schedule.e1 {
        ActiveTerms { phase: 1, features: &[Decoder::Hx6, Decoder::Hx5d], response: true, self_study: false }
    } else if epoch < schedule.e2 {
        ActiveTerms { phase: 2, features: &Decoder::ALL, response: true, self_study: false }
    } else {
        ActiveTerms { phase: 3, features: &[], response: true, self_study: true }
    }
}

/// Where S_P's weights at the end of `phase` are kept, in the stage's run folder.
pub fn phase_snapshot(run_dir: &Path, phase: u8) -> std::path::PathBuf {
    run_dir.join(format!("phase{phase}")).join("model.bpk")
}

pub struct StudentParsing {
    /// T_P, frozen.
    teacher: U2Net,
    /// With `StudentPose::Estimated`: the dense-pose network trained in the same run, frozen,
    /// whose estimate S_P sees.
    estimator: Option<FrameNet>,
    /// Which of B's garment masks the teacher sees: in shop (T_P) or as B wears it (S_P).
    garment_of_b: Teacher,
    phase: u8,
}

impl StudentParsing {
    /// The student of `config.distill.teacher` (T_P trained in `out`, or S_P of
    /// `config.init_weights`), seeing the dense pose `config.distill.student_pose` says (the
    /// estimate of the dense-pose network of `config.init_weights` when given, else of `out`).
    pub fn new(out: &Path, config: &TrainConfig) -> Result<StudentParsing, TrainError> {
        let (device, preset) = (frozen_device(), config.preset);
        fn from_models<M: burn::module::Module>(out: &Path, config: &TrainConfig, name: &str, net: M) -> Result<M, TrainError> {
            match &config.init_weights {
                Some(dir) => weights_from_models(net, dir, name, config.preset),
                None => frozen(out, name, net),
            }
        }
        let estimator = match config.distill.student_pose {
            StudentPose::Dataset => None,
            StudentPose::Estimated => Some(from_models(out, config, "densepose", preset.densepose(&device))?),
        };
        let teacher = match config.distill.teacher {
            Teacher::TeacherParsing => frozen(out, "teacher_parsing", preset.parsing(&device))?,
            Teacher::Student => from_models(out, config, config.stage.name(), preset.parsing(&device))?,
        };
        Ok(StudentParsing { teacher, garment_of_b: config.distill.teacher, estimator, phase: 0 })
    }

    /// `people` as S_P sees them: with an estimator, each person's dense pose is the one-hot
    /// argmax of its estimate from their image, and their agnostic map the one that pose hides
    /// (built by the element's own `inputs`); otherwise as they are.
    fn seen_by_student<'p>(&self, people: &'p [PersonTensors]) -> Cow<'p, [PersonTensors]> {
        let Some(net) = &self.estimator else { return Cow::Borrowed(people) };
        let device = frozen_device();
        let images = crate::train::batch::field(people, |t| &t.image, &device);
        let estimate = net.forward(&mut Eager::new(&device), &images);
        let [n, parts, h, w] = estimate.dims();
        let data = estimate.into_data().try_to_vec::<f32>().expect("the dense-pose network's logits are float");
        let logits = ndarray::Array4::from_shape_vec((n, parts, h, w), data).expect("the logits of n people are [N, 25, H, W]");
        people
            .iter()
            .enumerate()
            .map(|(i, person)| {
                let estimate = argmax(&logits.slice(ndarray::s![i..i + 1, .., .., ..]));
                let pose = one_hot(&estimate, POSE_PARTS, h, w);
                let groups = argmax(&person.parsing.view().insert_axis(ndarray::Axis(0)));
                PersonTensors { agnostic: agnostic(&groups, pose.view()), pose, ..person.clone() }
            })
            .collect::<Vec<_>>()
            .into()
    }
}

impl StageTrainer for StudentParsing {
    type Net = U2Net;
    fn network(preset: Preset, device: &Device) -> U2Net {
        preset.parsing(device)
    }

    fn loss(&mut self, s_p: &U2Net, step: &Step<'_>) -> Result<Losses, TrainError> {
        let (schedule, device) = (&step.config.distill, step.device);
        let epoch = (step.iteration * step.config.batch) as f32 / step.dataset.len() as f32;
        let active = active(schedule, epoch);
        if active.phase != self.phase {
            // S_P as each phase leaves it, for evaluation (`eval --baselines RUN_DIR`).
            if self.phase > 0 {
                save_weights(s_p, &phase_snapshot(step.run_dir, self.phase))?;
            }
            self.phase = active.phase;
            step.say(&format!("iteration {}, epoch {epoch:.2}: phase {}: {active:?}", step.iteration, active.phase));
        }
        let (a, b) = (step.tensors, &step.partners()?);
        // What S_P sees of A (`StudentPose`); T_P sees the dataset's A.
        let a_seen = self.seen_by_student(a);
        let tau = schedule.temperature;
        // Teacher signal: A trying on B's in-shop garment (T_P), or wearing it as B does (S_P
        // on the dataset's dense pose); frozen: computed off the tape.
        let inner = frozen_device();
        let field = |of: &[PersonTensors], pick: super::Pick, on: &Device| crate::train::batch::field(of, pick, on);
        let b_garment: super::Pick = match self.garment_of_b {
            Teacher::TeacherParsing => |t| &t.cloth_mask,
            Teacher::Student => |t| &t.garment_mask,
        };
        let tx = Tensor::cat(vec![field(a, |t| &t.agnostic, &inner), field(a, |t| &t.pose, &inner), field(b, b_garment, &inner)], 1);
        let t_out = self.teacher.forward(&mut Eager::new(&inner), &tx);
        let t_logits = constant(t_out.logits, device);
        let t_features = t_out.features.map(|f| constant(f, device));
        // Student input: B's garment as B wears it.
        let mut g = Eager::new(device);
        let sx = Tensor::cat(vec![field(&a_seen, |t| &t.agnostic, device), field(&a_seen, |t| &t.pose, device), field(b, |t| &t.garment_mask, device)], 1);
        let s_out = s_p.forward(&mut g, &sx);
        let [n, _, h, w] = s_out.logits.dims();
        let p_t = softmax(t_logits.div_scalar(tau), 1);
        let log_p_s = log_softmax(s_out.logits.clone().div_scalar(tau), 1);
        let response = (p_t.clone() * (p_t.clamp_min(1e-8).log() - log_p_s)).sum().div_scalar((n * h * w) as f32).mul_scalar(tau * tau).reshape([1]);
        let mut total = response.clone().mul_scalar(schedule.response_weight);
        let mut terms = vec![("response", response)];
        if let Some((first, rest)) = active.features.split_first() {
            let matched = |layer: &Decoder| mse(s_out.features.get(*layer).clone(), t_features.get(*layer).clone());
            let feature = rest.iter().fold(matched(first), |sum, layer| sum + matched(layer)).div_scalar(active.features.len() as f32);
            total = total + feature.clone().mul_scalar(schedule.feature_weight);
            terms.push(("feature", feature));
        }
        if active.self_study {
            let garment_category = s_out.logits.detach().argmax(1).equal_elem(ParsingGroup::UpperGarment as i64).float();
            let b_seen = self.seen_by_student(b);
            let bx = Tensor::cat(vec![field(&b_seen, |t| &t.agnostic, device), field(&b_seen, |t| &t.pose, device), garment_category], 1);
            let back = s_p.forward(&mut Eager::keeping_running_stats(device), &bx);
            let self_study = cross_entropy(back.logits, field(b, |t| &t.parsing, device));
            total = total + self_study.clone().mul_scalar(schedule.self_study_weight);
            terms.push(("self_study", self_study));
        }
        Ok(Losses { total, terms, notes: vec![("phase", active.phase as f32)] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_follow_algorithm_1() {
        let s = DistillSchedule::phases(2.0, 5.0);
        let phases: Vec<u8> = (0..7).map(|e| active(&s, e as f32).phase).collect();
        assert_eq!(phases, vec![1, 1, 2, 2, 2, 3, 3]);
        assert_eq!(active(&s, 0.0), ActiveTerms { phase: 1, features: &[Decoder::Hx6, Decoder::Hx5d], response: true, self_study: false });
        assert_eq!(active(&s, 3.0), ActiveTerms { phase: 2, features: &Decoder::ALL, response: true, self_study: false });
        assert_eq!(active(&s, 6.0), ActiveTerms { phase: 3, features: &[], response: true, self_study: true });
        // The response loss runs through every phase.
        assert!((0..7).all(|e| active(&s, e as f32).response));
        // Fractional boundaries: a run shorter than an epoch still goes through all three.
        let short = DistillSchedule::phases(0.1, 0.2);
        assert_eq!([0.05, 0.15, 0.25].map(|e| active(&short, e).phase), [1, 2, 3]);
    }
}
