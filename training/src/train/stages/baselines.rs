//! The two trained baselines of evaluation, both S_P without a teacher, on the student's
//! budget of iterations:
//! - self-supervised (the paper's augmentation baseline): A's own garment mask, randomly moved
//!   and scaled, as the garment to wear, and A's own parsing as the target;
//! - oracle: B's garment as B wears it, and the synthetic world's true parsing of A wearing it
//!   as the target (an upper bound no real dataset offers).

use burn::tensor::{Device, Tensor};
use gstgarmenttransfer::contract::PARSING_GROUPS;
use gstgarmenttransfer::inputs::one_hot;
use ndarray::Array3;

use super::{Losses, StageTrainer, Step};
use crate::data::cihp;
use crate::data::loader::resize_nearest;
use crate::nn::Preset;
use crate::nn::graph::Eager;
use crate::nn::u2net::U2Net;
use crate::rng::Rng;
use crate::train::TrainError;
use crate::train::batch::to_batch;
use crate::train::losses::cross_entropy;

pub struct SelfSupervised;
pub struct Oracle;

/// The stream of the self-supervised baseline's augmentation.
const JITTER_STREAM: u64 = 0x6175_676d;

/// S_P's loss for garment masks (the third input) and targets.
fn parsing_loss(s_p: &U2Net, step: &Step<'_>, garment_masks: Tensor<4>, targets: Tensor<4>) -> Losses {
    let x = Tensor::cat(vec![step.field(|t| &t.agnostic), step.field(|t| &t.pose), garment_masks], 1);
    Losses::single("cross_entropy", cross_entropy(s_p.forward(&mut Eager::new(step.device), &x).logits, targets))
}

impl StageTrainer for SelfSupervised {
    type Net = U2Net;
    fn network(preset: Preset, device: &Device) -> U2Net {
        preset.parsing(device)
    }
    fn loss(&mut self, s_p: &U2Net, step: &Step<'_>) -> Result<Losses, TrainError> {
        let mut rng = Rng::derive(step.config.seed, JITTER_STREAM, step.iteration as u64);
        let masks: Vec<_> = step.tensors.iter().map(|t| jitter_mask(&t.garment_mask, &mut rng)).collect();
        Ok(parsing_loss(s_p, step, to_batch(&masks, step.device)?, step.field(|t| &t.parsing)))
    }
}

impl StageTrainer for Oracle {
    type Net = U2Net;
    fn network(preset: Preset, device: &Device) -> U2Net {
        preset.parsing(device)
    }
    fn loss(&mut self, s_p: &U2Net, step: &Step<'_>) -> Result<Losses, TrainError> {
        let (h, w) = (step.height as u32, step.width as u32);
        let mut masks = Vec::new();
        let mut targets = Vec::new();
        for (s, own) in step.samples.iter().zip(step.tensors) {
            // B's garment as B wears it, A's true parsing wearing it.
            let truth = step.transfer_of(s).and_then(|t| {
                let b = step.dataset.load_or_skip(t.b)?.resized(w, h);
                let (_, parse) = step.dataset.load_transfer(&t).ok()?;
                Some((b, resize_nearest(&parse.data, parse.width, parse.height, w, h)))
            });
            // A sample without a true transfer is its own pair: A wearing A's garment.
            let (mask, ids) = match truth {
                Some((b, ids)) => (b.tensors().garment_mask, ids),
                None => (own.garment_mask.clone(), s.cihp.clone()),
            };
            let groups: Vec<u8> = ids.iter().map(|&id| cihp::group(id).id()).collect();
            masks.push(mask);
            targets.push(one_hot(&groups, PARSING_GROUPS, h as usize, w as usize));
        }
        Ok(parsing_loss(s_p, step, to_batch(&masks, step.device)?, to_batch(&targets, step.device)?))
    }
}

/// The self-supervised baseline's augmentation: a garment mask `[1, H, W]` moved by up to a
/// tenth of the image and scaled by 0.8..1.2 about its centre (nearest pixel).
pub fn jitter_mask(mask: &Array3<f32>, rng: &mut Rng) -> Array3<f32> {
    let (_, h, w) = mask.dim();
    let (sx, sy) = (rng.range(0.8, 1.2), rng.range(0.8, 1.2));
    let (dx, dy) = (rng.range(-0.1, 0.1) * w as f32, rng.range(-0.1, 0.1) * h as f32);
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    Array3::from_shape_fn((1, h, w), |(_, y, x)| {
        let u = ((x as f32 + 0.5 - cx - dx) / sx + cx).floor();
        let v = ((y as f32 + 0.5 - cy - dy) / sy + cy).floor();
        if u < 0.0 || v < 0.0 || u >= w as f32 || v >= h as f32 { 0.0 } else { mask[(0, v as usize, u as usize)] }
    })
}
