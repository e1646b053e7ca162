//! U2-Net (Qin et al. 2020): nested U-structure of residual U-blocks (RSU), with side outputs
//! fused for deep supervision. The backbone of the teacher T_P and the student S_P: 30 input
//! channels (agnostic map 4 + dense pose 25 + garment mask 1), 7 parsing classes out. Its
//! decoder features `hx6, hx5d, hx4d, hx3d, hx2d, hx1d` are what distillation matches.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::tensor::Device;

use super::blocks::{ConvBnRelu, conv};
use super::graph::{Graph, up_concat};

/// A residual U-block of `depth` levels (RSU7..RSU4), or the dilated variant RSU4F that keeps
/// the resolution (used at the coarsest stages).
#[derive(Module, Debug)]
pub struct Rsu {
    pub input: ConvBnRelu,
    pub encoder: Vec<ConvBnRelu>,
    pub decoder: Vec<ConvBnRelu>,
    pub dilated: bool,
}

impl Rsu {
    pub fn new(depth: usize, dilated: bool, cin: usize, mid: usize, cout: usize, device: &Device) -> Rsu {
        let n = depth; // convolutions on the way down, the bottom one included
        let dil = |i: usize| if dilated { 1 << i } else { 1 };
        let mut encoder = vec![ConvBnRelu::new(cout, mid, 1, device)];
        for i in 1..n {
            // The bottom of a plain RSU is dilated by 2; RSU4F dilates 1, 2, 4, 8.
            let d = if dilated { dil(i) } else if i == n - 1 { 2 } else { 1 };
            encoder.push(ConvBnRelu::new(mid, mid, d, device));
        }
        let mut decoder = Vec::new();
        for i in (0..n - 1).rev() {
            let out = if i == 0 { cout } else { mid };
            decoder.push(ConvBnRelu::new(2 * mid, out, dil(i), device));
        }
        Rsu { input: ConvBnRelu::new(cin, cout, 1, device), encoder, decoder, dilated }
    }

    pub fn forward<G: Graph>(&self, g: &mut G, x: &G::T) -> G::T {
        let hxin = self.input.forward(g, x);
        let n = self.encoder.len();
        let mut skips = Vec::with_capacity(n);
        let mut hx = hxin.clone();
        for (i, layer) in self.encoder.iter().enumerate() {
            // Plain RSUs pool between the levels, except before the (dilated) bottom.
            if i > 0 && !self.dilated && i < n - 1 {
                hx = g.max_pool2(&hx);
            }
            hx = layer.forward(g, &hx);
            skips.push(hx.clone());
        }
        let mut d = skips[n - 1].clone();
        for (k, layer) in self.decoder.iter().enumerate() {
            let cat = up_concat(g, &d, &skips[n - 2 - k]);
            d = layer.forward(g, &cat);
        }
        g.add(&d, &hxin)
    }
}

/// Widths of a U2-Net: (mid, out) per encoder stage 1..6 and decoder stage 5d..1d.
#[derive(Debug, Clone, Copy)]
pub struct U2Widths {
    pub encoder: [(usize, usize); 6],
    pub decoder: [(usize, usize); 5],
}

impl U2Widths {
    /// U2NET, the full model of the paper (Table 2: 44.10 M parameters for S_P).
    pub const PAPER: U2Widths = U2Widths {
        encoder: [(32, 64), (32, 128), (64, 256), (128, 512), (256, 512), (256, 512)],
        decoder: [(256, 512), (128, 256), (64, 128), (32, 64), (16, 64)],
    };
    /// U2NETP, the small model of the same authors (1.1 M parameters), with its two
    /// full-resolution stages (1 and 1d) 32 channels out instead of 64: at 64 they held 73% of
    /// its multiply-adds (1.9 of 2.6 GMAC at 128x96); at 32, 1.6 GMAC in all.
    pub const LITE: U2Widths = U2Widths {
        encoder: [(16, 32), (16, 64), (16, 64), (16, 64), (16, 64), (16, 64)],
        decoder: [(16, 64), (16, 64), (16, 64), (16, 64), (16, 32)],
    };
    /// For tests: the same structure, a few channels wide.
    pub const TINY: U2Widths = U2Widths { encoder: [(4, 8); 6], decoder: [(4, 8); 5] };
}

#[derive(Module, Debug)]
pub struct U2Net {
    pub encoder: Vec<Rsu>,
    pub decoder: Vec<Rsu>,
    pub sides: Vec<Conv2d>,
    pub fuse: Conv2d,
}

/// What U2-Net computes: fused logits, the six side logits (deep supervision) and the decoder
/// features distillation matches.
pub struct U2Output<T> {
    pub logits: T,
    pub sides: Vec<T>,
    pub features: U2Features<T>,
}

/// The decoder's features by U2-Net's names: the bottom stage `hx6` and the decoder stages
/// `hx5d` (coarse) to `hx1d` (full resolution).
pub struct U2Features<T> {
    pub hx6: T,
    pub hx5d: T,
    pub hx4d: T,
    pub hx3d: T,
    pub hx2d: T,
    pub hx1d: T,
}

/// A decoder feature of [`U2Features`], for choosing which ones a loss matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoder {
    Hx6,
    Hx5d,
    Hx4d,
    Hx3d,
    Hx2d,
    Hx1d,
}

impl Decoder {
    /// Coarse to fine.
    pub const ALL: [Decoder; 6] = [Decoder::Hx6, Decoder::Hx5d, Decoder::Hx4d, Decoder::Hx3d, Decoder::Hx2d, Decoder::Hx1d];
}

impl<T> U2Features<T> {
    pub fn get(&self, layer: Decoder) -> &T {
        match layer {
            Decoder::Hx6 => &self.hx6,
            Decoder::Hx5d => &self.hx5d,
            Decoder::Hx4d => &self.hx4d,
            Decoder::Hx3d => &self.hx3d,
            Decoder::Hx2d => &self.hx2d,
            Decoder::Hx1d => &self.hx1d,
        }
    }

    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> U2Features<U> {
        U2Features { hx6: f(self.hx6), hx5d: f(self.hx5d), hx4d: f(self.hx4d), hx3d: f(self.hx3d), hx2d: f(self.hx2d), hx1d: f(self.hx1d) }
    }
}

impl U2Net {
    pub fn new(widths: U2Widths, cin: usize, classes: usize, device: &Device) -> U2Net {
        let depths = [7, 6, 5, 4, 4, 4];
        let mut encoder = Vec::new();
        let mut c = cin;
        for (i, &(mid, out)) in widths.encoder.iter().enumerate() {
            encoder.push(Rsu::new(depths[i], i >= 4, c, mid, out, device));
            c = out;
        }
        // Decoder stage k (5d..1d) takes the upsampled stage below and encoder stage k.
        let mut decoder = Vec::new();
        let mut below = widths.encoder[5].1;
        for (k, &(mid, out)) in widths.decoder.iter().enumerate() {
            let stage = 4 - k; // encoder index 4..0
            let cin = below + widths.encoder[stage].1;
            decoder.push(Rsu::new(depths[stage], stage >= 4, cin, mid, out, device));
            below = out;
        }
        // Side outputs from hx1d..hx5d and hx6.
        let mut side_in: Vec<usize> = widths.decoder.iter().rev().map(|d| d.1).collect();
        side_in.push(widths.encoder[5].1);
        let sides = side_in.iter().map(|&c| conv(c, classes, 3, 1, 1, device)).collect();
        let fuse = conv(6 * classes, classes, 1, 1, 1, device);
        U2Net { encoder, decoder, sides, fuse }
    }

    pub fn forward<G: Graph>(&self, g: &mut G, x: &G::T) -> U2Output<G::T> {
        let mut skips = Vec::new();
        let mut hx = x.clone();
        for (i, stage) in self.encoder.iter().enumerate() {
            if i > 0 {
                hx = g.max_pool2(&hx);
            }
            hx = stage.forward(g, &hx);
            skips.push(hx.clone());
        }
        let mut decoded = vec![hx.clone()];
        let mut d = hx;
        for (k, stage) in self.decoder.iter().enumerate() {
            let cat = up_concat(g, &d, &skips[4 - k]);
            d = stage.forward(g, &cat);
            decoded.push(d.clone());
        }
        // Side outputs, finest first, all at the input resolution.
        let [_, _, h, w] = g.dims(x);
        let sources: Vec<G::T> = decoded.iter().rev().cloned().collect();
        let sides: Vec<G::T> = sources
            .iter()
            .zip(&self.sides)
            .map(|(f, side)| {
                let s = g.conv(f, side);
                g.resize(&s, [h, w])
            })
            .collect();
        let cat = g.concat(&sides);
        let logits = g.conv(&cat, &self.fuse);
        let [hx6, hx5d, hx4d, hx3d, hx2d, hx1d]: [G::T; 6] = decoded.try_into().unwrap_or_else(|_| panic!("U2Net::new builds five decoder stages"));
        U2Output { logits, sides, features: U2Features { hx6, hx5d, hx4d, hx3d, hx2d, hx1d } }
    }
}
