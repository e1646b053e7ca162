//! The per-frame networks: the human parser (image -> 7 parsing groups) and dense pose
//! (image -> 25 parts). The paper ran Grapy-ML and DensePose offline; the element must run live,
//! so both are one small U-Net each: four poolings give a receptive field that covers the
//! torso at 256 x 192, and the `lite` widths (16..128) keep each under 1 GMAC, a few
//! milliseconds of the frame budget on a CPU.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::tensor::Device;

use super::blocks::{ConvBnRelu, conv};
use super::graph::{Graph, up_concat};

#[derive(Module, Debug)]
pub struct DoubleConv {
    pub a: ConvBnRelu,
    pub b: ConvBnRelu,
}

impl DoubleConv {
    pub fn new(cin: usize, cout: usize, device: &Device) -> DoubleConv {
        DoubleConv { a: ConvBnRelu::new(cin, cout, 1, device), b: ConvBnRelu::new(cout, cout, 1, device) }
    }
    pub fn forward<G: Graph>(&self, g: &mut G, x: &G::T) -> G::T {
        let y = self.a.forward(g, x);
        self.b.forward(g, &y)
    }
}

/// A U-Net: an encoder of `widths.len()` levels, a decoder with skip connections, logits out.
#[derive(Module, Debug)]
pub struct FrameNet {
    pub down: Vec<DoubleConv>,
    pub up: Vec<DoubleConv>,
    pub head: Conv2d,
}

impl FrameNet {
    pub fn new(widths: &[usize], cin: usize, classes: usize, device: &Device) -> FrameNet {
        let mut down = Vec::new();
        let mut c = cin;
        for &w in widths {
            down.push(DoubleConv::new(c, w, device));
            c = w;
        }
        let mut up = Vec::new();
        for i in (0..widths.len() - 1).rev() {
            up.push(DoubleConv::new(c + widths[i], widths[i], device));
            c = widths[i];
        }
        FrameNet { down, up, head: conv(c, classes, 1, 1, 1, device) }
    }

    pub fn forward<G: Graph>(&self, g: &mut G, x: &G::T) -> G::T {
        let mut skips = Vec::new();
        let mut y = x.clone();
        for (i, d) in self.down.iter().enumerate() {
            if i > 0 {
                y = g.max_pool2(&y);
            }
            y = d.forward(g, &y);
            skips.push(y.clone());
        }
        for (k, u) in self.up.iter().enumerate() {
            let cat = up_concat(g, &y, &skips[skips.len() - 2 - k]);
            y = u.forward(g, &cat);
        }
        g.conv(&y, &self.head)
    }
}
