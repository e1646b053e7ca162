//! Building blocks shared by the networks.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::tensor::Device;

use super::graph::{Graph, LEAKY_SLOPE, same_padding};

pub fn conv(cin: usize, cout: usize, k: usize, stride: usize, dilation: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [k, k])
        .with_stride([stride, stride])
        .with_dilation([dilation, dilation])
        .with_padding(same_padding(k, dilation))
        .init(device)
}

/// Convolution, batch norm, ReLU (U2-Net's REBNCONV).
#[derive(Module, Debug)]
pub struct ConvBnRelu {
    pub conv: Conv2d,
    pub bn: BatchNorm,
}

impl ConvBnRelu {
    pub fn new(cin: usize, cout: usize, dilation: usize, device: &Device) -> ConvBnRelu {
        ConvBnRelu::strided(cin, cout, 3, 1, dilation, device)
    }
    pub fn strided(cin: usize, cout: usize, k: usize, stride: usize, dilation: usize, device: &Device) -> ConvBnRelu {
        ConvBnRelu { conv: conv(cin, cout, k, stride, dilation, device), bn: BatchNormConfig::new(cout).init(device) }
    }
    pub fn forward<G: Graph>(&self, g: &mut G, x: &G::T) -> G::T {
        let y = g.conv(x, &self.conv);
        let y = g.batch_norm(&y, &self.bn);
        g.relu(&y)
    }
}

/// Residual block: two 3x3 convolutions with batch norm, added to the input, then ReLU.
#[derive(Module, Debug)]
pub struct ResBlock {
    pub a: ConvBnRelu,
    pub b: Conv2d,
    pub bn: BatchNorm,
}

impl ResBlock {
    pub fn new(c: usize, device: &Device) -> ResBlock {
        ResBlock { a: ConvBnRelu::new(c, c, 1, device), b: conv(c, c, 3, 1, 1, device), bn: BatchNormConfig::new(c).init(device) }
    }
    pub fn forward<G: Graph>(&self, g: &mut G, x: &G::T) -> G::T {
        let y = self.a.forward(g, x);
        let y = g.conv(&y, &self.b);
        let y = g.batch_norm(&y, &self.bn);
        let y = g.add(&y, x);
        g.relu(&y)
    }
}

/// A stack of 3x3 convolutions with LeakyReLU between them, ending in a plain convolution: the
/// flow estimators of PF-AFN and of the SCAW modules ("4 x (Conv2d + LeakyReLU)").
#[derive(Module, Debug)]
pub struct LeakyStack {
    pub convs: Vec<Conv2d>,
}

impl LeakyStack {
    /// Convolutions through `widths` (input first, output last).
    pub fn new(widths: &[usize], device: &Device) -> LeakyStack {
        LeakyStack { convs: widths.windows(2).map(|w| conv(w[0], w[1], 3, 1, 1, device)).collect() }
    }
    pub fn forward<G: Graph>(&self, g: &mut G, x: &G::T) -> G::T {
        let mut y = x.clone();
        for (i, c) in self.convs.iter().enumerate() {
            y = g.conv(&y, c);
            if i + 1 < self.convs.len() {
                y = g.leaky_relu(&y, LEAKY_SLOPE);
            }
        }
        y
    }
}
