//! Stage 2: the teacher warp T_W, the try-on model's warp (PF-AFN's parser-based appearance
//! flow): the in-shop garment C warped onto A's garment region M^g_A given A's pose, learning
//! the garment as A wears it, with PF-AFN's losses.

use burn::tensor::Device;

use super::{Losses, StageTrainer, Step};
use crate::nn::Preset;
use crate::nn::graph::Eager;
use crate::nn::teacher_warp::TeacherWarp as TeacherWarpNet;
use crate::train::TrainError;
use crate::train::losses::warp_losses;

pub struct TeacherWarp;

impl StageTrainer for TeacherWarp {
    type Net = TeacherWarpNet;
    fn network(preset: Preset, device: &Device) -> TeacherWarpNet {
        preset.teacher_warp(device)
    }
    fn loss(&mut self, t_w: &TeacherWarpNet, step: &Step<'_>) -> Result<Losses, TrainError> {
        let cloth = step.field(|t| &t.cloth);
        let cloth_mask = step.field(|t| &t.cloth_mask);
        let target_mask = step.field(|t| &t.garment_mask);
        let target = step.field(|t| &t.garment);
        let mut g = Eager::new(step.device);
        let out = t_w.forward(&mut g, &cloth, &cloth_mask, &target_mask, &step.field(|t| &t.pose));
        let tv = (step.config.tv1, step.config.tv2);
        let (total, terms) = warp_losses(&mut g, out, (&cloth, &cloth_mask), (&target, &target_mask), tv);
        Ok(Losses { total, terms, notes: Vec::new() })
    }
}
