//! Stage 5: arm regrowth R (paper section 3.4). R paints skin into a target skin region from
//! the skin it is shown; it learns from cases made out of single people, where the whole arm
//! is known:
//! - swap: the skin A shows when wearing another garment with longer sleeves (from the
//!   dataset's true transfers) is the source, A's full skin the target;
//! - crop: A's skin minus a random half-plane (horizontal or vertical, equal odds).
//!
//! The loss is L1 inside the target region (the perceptual term needs VGG-19 weights, which
//! no package here carries).

use burn::tensor::Device;
use gstgarmenttransfer::contract::ParsingGroup;
use ndarray::Array3;

use super::{Losses, StageTrainer, Step};
use crate::data::{PersonSample, cihp};
use crate::nn::Preset;
use crate::nn::graph::Eager;
use crate::nn::regrowth::Regrowth as RegrowthNet;
use crate::rng::Rng;
use crate::train::TrainError;
use crate::train::batch::to_batch;

pub struct Regrowth;

/// The stream of the cases' random choices.
const CASE_STREAM: u64 = 0x7265_6772;

impl StageTrainer for Regrowth {
    type Net = RegrowthNet;
    fn network(preset: Preset, device: &Device) -> RegrowthNet {
        preset.regrowth_net(device)
    }

    fn loss(&mut self, r: &RegrowthNet, step: &Step<'_>) -> Result<Losses, TrainError> {
        let (h, w) = (step.height as u32, step.width as u32);
        let mut rng = Rng::derive(step.config.seed, CASE_STREAM, step.iteration as u64);
        let mut sources = Vec::new();
        let mut targets = Vec::new();
        for s in step.samples {
            let swap = step.transfer_of(s).and_then(|t| step.dataset.load_transfer(&t).ok()).map(|(_, parse)| {
                crate::data::loader::resize_nearest(&parse.data, parse.width, parse.height, w, h)
            });
            let (src, tgt) = case(s, swap.as_deref(), &mut rng);
            sources.push(src);
            targets.push(tgt);
        }
        let image = step.field(|t| &t.image);
        let source = to_batch(&sources, step.device)?;
        let target = to_batch(&targets, step.device)?;
        let out = r.forward(&mut Eager::new(step.device), &(image.clone() * source), &target);
        let area = target.clone().sum().add_scalar(1.0);
        let l1 = ((out - image) * target).abs().sum().div(area.mul_scalar(3.0)).reshape([1]);
        Ok(Losses::single("l1", l1))
    }
}

/// One regrowth case for person `s`: (source skin mask, target skin mask), each `[1, H, W]`.
/// `swap_skin` is the parsing of `s` wearing another garment, when the dataset has one.
pub fn case(s: &PersonSample, swap_skin: Option<&[u8]>, rng: &mut Rng) -> (Array3<f32>, Array3<f32>) {
    let (w, h) = (s.width as usize, s.height as usize);
    let skin: Vec<bool> = s.cihp.iter().map(|&id| cihp::group(id) == ParsingGroup::UpperSkin).collect();
    let target = Array3::from_shape_fn((1, h, w), |(_, y, x)| if skin[y * w + x] { 1.0 } else { 0.0 });
    let source = match swap_skin {
        Some(t) if rng.chance(0.5) => Array3::from_shape_fn((1, h, w), |(_, y, x)| {
            if skin[y * w + x] && cihp::group(t[y * w + x]) == ParsingGroup::UpperSkin { 1.0 } else { 0.0 }
        }),
        _ => {
            let vertical = rng.chance(0.5);
            let keep_low = rng.chance(0.5);
            let cut = rng.range(0.3, 0.7) * if vertical { w as f32 } else { h as f32 };
            Array3::from_shape_fn((1, h, w), |(_, y, x)| {
                let c = if vertical { x as f32 } else { y as f32 };
                if skin[y * w + x] && ((c < cut) == keep_low) { 1.0 } else { 0.0 }
            })
        }
    };
    (source, target)
}
