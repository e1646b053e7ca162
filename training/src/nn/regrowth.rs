//! R, the arm-regrowth network: a ResUNet that paints skin into the target skin region from
//! the skin the person shows (I_A masked by M^s_A) and that region's mask (M'^s_A).

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::tensor::Device;

use super::blocks::{ConvBnRelu, ResBlock, conv};
use super::graph::{Graph, up_concat};

#[derive(Module, Debug)]
pub struct Level {
    pub entry: ConvBnRelu,
    pub res: Vec<ResBlock>,
}

impl Level {
    fn new(cin: usize, cout: usize, kernel: usize, stride: usize, blocks: usize, device: &Device) -> Level {
        Level {
            entry: ConvBnRelu::strided(cin, cout, kernel, stride, 1, device),
            res: (0..blocks).map(|_| ResBlock::new(cout, device)).collect(),
        }
    }
    fn forward<G: Graph>(&self, g: &mut G, x: &G::T) -> G::T {
        let mut y = self.entry.forward(g, x);
        for r in &self.res {
            y = r.forward(g, &y);
        }
        y
    }
}

#[derive(Module, Debug)]
pub struct Regrowth {
    pub down: Vec<Level>,
    pub up: Vec<Level>,
    pub head: Conv2d,
}

/// Inputs: skin 3 + target skin mask 1.
pub const INPUT_CHANNELS: usize = 4;

impl Regrowth {
    /// `widths` per level, finest first, with `blocks` residual blocks per encoder level; the
    /// decoder has one block per level and merges each skip with a 1x1 convolution, so the
    /// full-resolution levels stay cheap and the capacity sits at the coarse levels.
    pub fn new(widths: &[usize], blocks: &[usize], device: &Device) -> Regrowth {
        let mut down = Vec::new();
        let mut c = INPUT_CHANNELS;
        for (i, &w) in widths.iter().enumerate() {
            down.push(Level::new(c, w, 3, if i == 0 { 1 } else { 2 }, blocks[i], device));
            c = w;
        }
        let mut up = Vec::new();
        for i in (0..widths.len() - 1).rev() {
            up.push(Level::new(c + widths[i], widths[i], 1, 1, 1, device));
            c = widths[i];
        }
        Regrowth { down, up, head: conv(c, 3, 3, 1, 1, device) }
    }

    /// Regrown skin in [-1, 1].
    pub fn forward<G: Graph>(&self, g: &mut G, skin: &G::T, target_mask: &G::T) -> G::T {
        let mut y = g.concat(&[skin.clone(), target_mask.clone()]);
        let mut skips = Vec::new();
        for d in &self.down {
            y = d.forward(g, &y);
            skips.push(y.clone());
        }
        for (k, u) in self.up.iter().enumerate() {
            let cat = up_concat(g, &y, &skips[skips.len() - 2 - k]);
            y = u.forward(g, &cat);
        }
        let y = g.conv(&y, &self.head);
        g.tanh(&y)
    }
}
