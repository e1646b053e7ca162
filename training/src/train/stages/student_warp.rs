//! Stage 4: the student warp S_W, taught by the teacher warp T_W. S_W warps B's garment *as B
//! wears it* (with B's pose) onto A's target garment region given A's pose; its targets come
//! from frozen networks:
//! - the shape M'^g_A: the garment region S_P predicts for A wearing B's garment (what the
//!   element hands S_W at run time);
//! - the content: T_W warping B's *in-shop* garment onto A with that same shape as its
//!   condition, so that the shape S_W is given and the shape it is graded against are one.
//!
//! Losses (DESIGN.md section 5): L_align (the STN's aligned mask against the target region, and
//! their pixel ratio), L_sc (warped mask and garment against the teacher's) and L_reg (the
//! flow's smoothness at every level).

use std::path::Path;

use burn::tensor::{Device, Tensor};
use gstgarmenttransfer::contract::ParsingGroup;

use super::{Losses, Pick, StageTrainer, Step, constant, frozen, frozen_device};
use crate::data::PersonTensors;
use crate::nn::Preset;
use crate::nn::graph::Eager;
use crate::nn::student_warp::StudentWarp as StudentWarpNet;
use crate::nn::teacher_warp::TeacherWarp;
use crate::nn::u2net::U2Net;
use crate::train::TrainError;
use crate::train::batch::field;
use crate::train::losses::{flow_smoothness, l1};

pub struct StudentWarp {
    s_p: U2Net,
    t_w: TeacherWarp,
}

impl StudentWarp {
    /// The student of the teacher warp (and the student parsing) trained in `out`.
    pub fn new(out: &Path, preset: Preset) -> Result<StudentWarp, TrainError> {
        let d = frozen_device();
        Ok(StudentWarp {
            s_p: frozen(out, "transfer_parsing", preset.parsing(&d))?,
            t_w: frozen(out, "teacher_warp", preset.teacher_warp(&d))?,
        })
    }
}

/// The garment region of parsing logits: argmax == upper garment, as a `{0, 1}` mask.
fn garment_region(logits: Tensor<4>) -> Tensor<4> {
    logits.argmax(1).equal_elem(ParsingGroup::UpperGarment as i64).float()
}

impl StageTrainer for StudentWarp {
    type Net = StudentWarpNet;
    fn network(preset: Preset, device: &Device) -> StudentWarpNet {
        preset.student_warp(device)
    }

    fn loss(&mut self, s_w: &StudentWarpNet, step: &Step<'_>) -> Result<Losses, TrainError> {
        let (a, b, device) = (step.tensors, &step.partners()?, step.device);
        let inner = frozen_device();
        let mut gi = Eager::new(&inner);
        let f = |pick: Pick, of: &[PersonTensors]| field(of, pick, &inner);
        // Shape target: S_P's garment region for A wearing B's garment.
        let s_in = Tensor::cat(vec![f(|t| &t.agnostic, a), f(|t| &t.pose, a), f(|t| &t.garment_mask, b)], 1);
        let target_mask = garment_region(self.s_p.forward(&mut gi, &s_in).logits);
        // Content target: T_W warping B's in-shop garment onto that same region.
        let content = self.t_w.forward(&mut gi, &f(|t| &t.cloth, b), &f(|t| &t.cloth_mask, b), &target_mask, &f(|t| &t.pose, a));
        let (target_mask, content_garment, content_mask) = (constant(target_mask, device), constant(content.garment, device), constant(content.mask, device));

        let mut g = Eager::new(device);
        let fd = |pick: Pick, of: &[PersonTensors]| field(of, pick, device);
        let out = s_w.forward(&mut g, &fd(|t| &t.garment, b), &fd(|t| &t.garment_mask, b), &fd(|t| &t.pose, b), &target_mask, &fd(|t| &t.pose, a));
        // L_align: the STN's aligned mask against the target, and their pixel ratio.
        let ratio = (out.aligned_mask.clone().sum().add_scalar(1.0) / target_mask.clone().sum().add_scalar(1.0)).sub_scalar(1.0).abs().reshape([1]);
        let align = l1(out.aligned_mask.clone(), target_mask.clone()) + ratio;
        // L_sc against the teacher's warp, L_reg on every level's flow.
        let sc = l1(out.warped.mask.clone(), content_mask) + l1(out.warped.garment.clone(), content_garment);
        let (tv1, tv2) = flow_smoothness(&out.warped.pyramid.offsets);
        let reg = tv1.mul_scalar(step.config.tv1) + tv2.mul_scalar(step.config.tv2);
        Ok(Losses { total: align.clone() + sc.clone() + reg.clone(), terms: vec![("align", align), ("sc", sc), ("reg", reg)], notes: Vec::new() })
    }
}
