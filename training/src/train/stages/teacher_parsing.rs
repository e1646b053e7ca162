//! Stage 1: the teacher parsing T_P, the try-on model's parsing generator. It sees what a
//! try-on model sees - A's clothing-agnostic map and pose, and the *in-shop* garment's mask -
//! and learns A's own parsing with U2-Net's deep supervision (the fused logits and the six side
//! outputs, each by cross-entropy).

use burn::tensor::{Device, Tensor};

use super::{Losses, StageTrainer, Step};
use crate::nn::Preset;
use crate::nn::graph::Eager;
use crate::nn::u2net::U2Net;
use crate::train::TrainError;
use crate::train::losses::{cross_entropy, zero};

pub struct TeacherParsing;

impl StageTrainer for TeacherParsing {
    type Net = U2Net;
    fn network(preset: Preset, device: &Device) -> U2Net {
        preset.parsing(device)
    }
    fn loss(&mut self, t_p: &U2Net, step: &Step<'_>) -> Result<Losses, TrainError> {
        let x = Tensor::cat(vec![step.field(|t| &t.agnostic), step.field(|t| &t.pose), step.field(|t| &t.cloth_mask)], 1);
        let target = step.field(|t| &t.parsing);
        let out = t_p.forward(&mut Eager::new(step.device), &x);
        let fused = cross_entropy(out.logits, target.clone());
        let mut sides = zero(&fused);
        for side in out.sides {
            sides = sides + cross_entropy(side, target.clone());
        }
        Ok(Losses { total: fused.clone() + sides.clone(), terms: vec![("fused", fused), ("sides", sides)], notes: Vec::new() })
    }
}
