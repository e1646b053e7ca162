//! Stage 0: the per-frame networks, the parser (M_A) and dense pose (P_A), each learning the
//! dataset's labels of person A's image by cross-entropy (and, with `--dice`, a soft Dice term
//! that weighs every part alike).

use burn::tensor::Device;

use super::{Losses, Pick, StageTrainer, Step};
use crate::nn::Preset;
use crate::nn::frame_net::FrameNet;
use crate::nn::graph::Eager;
use crate::train::TrainError;
use crate::train::losses::{cross_entropy, soft_dice};

/// The human parser: image to the seven parsing groups.
pub struct Parser;
/// Dense pose: image to the 25 body-part channels.
pub struct Densepose;

fn frame_net_loss(net: &FrameNet, step: &Step<'_>, target: Pick) -> Losses {
    let mut g = Eager::new(step.device);
    let logits = net.forward(&mut g, &step.field(|t| &t.image));
    let target = step.field(target);
    let dice = step.config.dice;
    if dice == 0.0 {
        return Losses::single("cross_entropy", cross_entropy(logits, target));
    }
    let ce = cross_entropy(logits.clone(), target.clone());
    let d = soft_dice(logits, target);
    Losses { total: ce.clone() + d.clone().mul_scalar(dice), terms: vec![("cross_entropy", ce), ("dice", d)], notes: Vec::new() }
}

impl StageTrainer for Parser {
    type Net = FrameNet;
    fn network(preset: Preset, device: &Device) -> FrameNet {
        preset.parser(device)
    }
    fn loss(&mut self, net: &FrameNet, step: &Step<'_>) -> Result<Losses, TrainError> {
        Ok(frame_net_loss(net, step, |t| &t.parsing))
    }
}

impl StageTrainer for Densepose {
    type Net = FrameNet;
    fn network(preset: Preset, device: &Device) -> FrameNet {
        preset.densepose(device)
    }
    fn loss(&mut self, net: &FrameNet, step: &Step<'_>) -> Result<Losses, TrainError> {
        Ok(frame_net_loss(net, step, |t| &t.pose))
    }
}
