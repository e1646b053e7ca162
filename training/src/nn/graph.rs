//! The operations our networks are made of, written once and run two ways: eagerly on burn
//! tensors (training, evaluation) and symbolically into an ONNX graph (export). A network's
//! forward is generic over [`Graph`], so the exported file computes exactly what was trained.
//!
//! The conventions that must agree between burn and ONNX Runtime live here and nowhere else:
//! - resizing is bilinear with half-pixel centres (PyTorch `align_corners=False`, ONNX Resize
//!   `coordinate_transformation_mode = half_pixel`);
//! - grid sampling is bilinear, `align_corners = false`, border padding (ONNX GridSample with
//!   the same attributes);
//! - a flow is an absolute sampling grid `[N, 2, H, W]` in [-1, 1], x then y, as in the contract.

use burn::nn::BatchNorm;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::activation;
use burn::tensor::module::{interpolate, max_pool2d};
use burn::tensor::ops::{GridSampleOptions, GridSamplePaddingMode, InterpolateMode, InterpolateOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor, TensorData};

/// Slope of every LeakyReLU in the warp networks (PF-AFN's 0.1).
pub const LEAKY_SLOPE: f32 = 0.1;

pub trait Graph {
    /// A 4D value: `[N, C, H, W]`.
    type T: Clone;

    fn dims(&self, x: &Self::T) -> [usize; 4];
    /// A constant broadcast over the batch (its first dimension is 1).
    fn constant(&mut self, data: Vec<f32>, shape: [usize; 4]) -> Self::T;
    fn conv(&mut self, x: &Self::T, conv: &Conv2d) -> Self::T;
    fn batch_norm(&mut self, x: &Self::T, bn: &BatchNorm) -> Self::T;
    fn relu(&mut self, x: &Self::T) -> Self::T;
    fn leaky_relu(&mut self, x: &Self::T, slope: f32) -> Self::T;
    fn sigmoid(&mut self, x: &Self::T) -> Self::T;
    fn tanh(&mut self, x: &Self::T) -> Self::T;
    /// Softmax over channels.
    fn softmax(&mut self, x: &Self::T) -> Self::T;
    /// Element-wise with broadcasting over dimensions of size 1.
    fn add(&mut self, a: &Self::T, b: &Self::T) -> Self::T;
    fn sub(&mut self, a: &Self::T, b: &Self::T) -> Self::T;
    fn mul(&mut self, a: &Self::T, b: &Self::T) -> Self::T;
    /// `x * scale + shift`.
    fn affine(&mut self, x: &Self::T, scale: f32, shift: f32) -> Self::T;
    /// Concatenation along channels.
    fn concat(&mut self, xs: &[Self::T]) -> Self::T;
    /// `x[.., start..end, ..]` along `axis` (1, 2 or 3).
    fn slice(&mut self, x: &Self::T, axis: usize, start: usize, end: usize) -> Self::T;
    /// Zero padding of `p` pixels on every side.
    fn pad(&mut self, x: &Self::T, p: usize) -> Self::T;
    /// 2x2 max pooling, stride 2, ceil mode (U2-Net's).
    fn max_pool2(&mut self, x: &Self::T) -> Self::T;
    /// Mean over channels: `[N, 1, H, W]`.
    fn mean_channels(&mut self, x: &Self::T) -> Self::T;
    /// Mean over space: `[N, C, 1, 1]`.
    fn mean_spatial(&mut self, x: &Self::T) -> Self::T;
    /// Bilinear resize to `[h, w]`, half-pixel centres.
    fn resize(&mut self, x: &Self::T, size: [usize; 2]) -> Self::T;
    /// Sample `x` at the absolute grid `grid` `[N, 2, H, W]`.
    fn grid_sample(&mut self, x: &Self::T, grid: &Self::T) -> Self::T;
    /// `b` `[N, C, H, W]` prepared once for every local correlation with it within `d` pixels
    /// (see [`correlation`]); by default its `(2d+1)^2` zero-padded shifts stacked shift-major,
    /// `[N, (2d+1)^2 * C, H, W]`.
    fn shifts(&mut self, b: &Self::T, d: usize) -> Self::T {
        stack_shifts(self, b, d)
    }
    /// The local correlation of `a` `[N, C, H, W]` with `b` as [`Graph::shifts`] prepared it:
    /// for every displacement within `d` pixels the channel mean of `a * shifted(b)`,
    /// `[N, (2d+1)^2, H, W]`, displacements in row-major order (dy, then dx).
    fn correlate(&mut self, a: &Self::T, shifts: &Self::T, d: usize) -> Self::T;
}

/// Runs the operations on burn tensors.
pub struct Eager {
    pub device: Device,
    /// Batch norm normalises by the batch's statistics without folding them into the running
    /// statistics (which ship in the exported model): for a training pass on inputs unlike
    /// those the network runs on.
    keep_running_stats: bool,
}

impl Eager {
    pub fn new(device: &Device) -> Eager {
        Eager { device: device.clone(), keep_running_stats: false }
    }

    /// A graph whose batch norms leave their running statistics as they are.
    pub fn keeping_running_stats(device: &Device) -> Eager {
        Eager { device: device.clone(), keep_running_stats: true }
    }
}

impl Graph for Eager {
    type T = Tensor<4>;

    fn dims(&self, x: &Tensor<4>) -> [usize; 4] {
        x.dims()
    }
    fn constant(&mut self, data: Vec<f32>, shape: [usize; 4]) -> Tensor<4> {
        Tensor::from_data(TensorData::new(data, shape), &self.device)
    }
    fn conv(&mut self, x: &Tensor<4>, conv: &Conv2d) -> Tensor<4> {
        conv.forward(x.clone())
    }
    fn batch_norm(&mut self, x: &Tensor<4>, bn: &BatchNorm) -> Tensor<4> {
        if self.keep_running_stats && x.device().is_autodiff() {
            burn::tensor::module::batch_norm_train(x.clone(), bn.gamma.val(), bn.beta.val(), bn.epsilon).output
        } else {
            bn.forward(x.clone())
        }
    }
    fn relu(&mut self, x: &Tensor<4>) -> Tensor<4> {
        activation::relu(x.clone())
    }
    fn leaky_relu(&mut self, x: &Tensor<4>, slope: f32) -> Tensor<4> {
        activation::leaky_relu(x.clone(), slope as f64)
    }
    fn sigmoid(&mut self, x: &Tensor<4>) -> Tensor<4> {
        activation::sigmoid(x.clone())
    }
    fn tanh(&mut self, x: &Tensor<4>) -> Tensor<4> {
        activation::tanh(x.clone())
    }
    fn softmax(&mut self, x: &Tensor<4>) -> Tensor<4> {
        activation::softmax(x.clone(), 1)
    }
    fn add(&mut self, a: &Tensor<4>, b: &Tensor<4>) -> Tensor<4> {
        a.clone() + b.clone()
    }
    fn sub(&mut self, a: &Tensor<4>, b: &Tensor<4>) -> Tensor<4> {
        a.clone() - b.clone()
    }
    fn mul(&mut self, a: &Tensor<4>, b: &Tensor<4>) -> Tensor<4> {
        a.clone() * b.clone()
    }
    fn affine(&mut self, x: &Tensor<4>, scale: f32, shift: f32) -> Tensor<4> {
        x.clone() * scale + shift
    }
    fn concat(&mut self, xs: &[Tensor<4>]) -> Tensor<4> {
        Tensor::cat(xs.to_vec(), 1)
    }
    fn slice(&mut self, x: &Tensor<4>, axis: usize, start: usize, end: usize) -> Tensor<4> {
        x.clone().narrow(axis, start, end - start)
    }
    fn pad(&mut self, x: &Tensor<4>, p: usize) -> Tensor<4> {
        x.clone().pad((p, p, p, p), burn::tensor::ops::PadMode::Constant(0.0))
    }
    fn max_pool2(&mut self, x: &Tensor<4>) -> Tensor<4> {
        let options = MaxPoolOptions { kernel_size: [2, 2], stride: [2, 2], padding: [(0, 0), (0, 0)], dilation: [1, 1], ceil_mode: true };
        max_pool2d(x.clone(), options)
    }
    fn mean_channels(&mut self, x: &Tensor<4>) -> Tensor<4> {
        x.clone().mean_dim(1)
    }
    fn mean_spatial(&mut self, x: &Tensor<4>) -> Tensor<4> {
        x.clone().mean_dim(2).mean_dim(3)
    }
    fn resize(&mut self, x: &Tensor<4>, size: [usize; 2]) -> Tensor<4> {
        let [_, _, h, w] = x.dims();
        if [h, w] == size {
            return x.clone();
        }
        interpolate(x.clone(), InterpolateOptions::new(InterpolateMode::Bilinear).with_align_corners(false).with_output_size(size))
    }
    fn grid_sample(&mut self, x: &Tensor<4>, grid: &Tensor<4>) -> Tensor<4> {
        let options = GridSampleOptions::new(InterpolateMode::Bilinear)
            .with_padding_mode(GridSamplePaddingMode::Border)
            .with_align_corners(false);
        x.clone().grid_sample_2d(grid.clone().permute([0, 2, 3, 1]), options)
    }
    fn correlate(&mut self, a: &Tensor<4>, stacked: &Tensor<4>, _d: usize) -> Tensor<4> {
        let [n, c, h, w] = a.dims();
        let k = stacked.dims()[1] / c;
        let products = stacked.clone().reshape([n, k, c, h, w]) * a.clone().reshape([n, 1, c, h, w]);
        products.mean_dim(2).reshape([n, k, h, w])
    }
}

/// The identity sampling grid at `h` x `w` (pixel centres, `align_corners = false`): `[1, 2, h, w]`.
pub fn identity_grid<G: Graph>(g: &mut G, h: usize, w: usize) -> G::T {
    let mut data = Vec::with_capacity(2 * h * w);
    for _ in 0..h {
        for x in 0..w {
            data.push((2 * x + 1) as f32 / w as f32 - 1.0);
        }
    }
    for y in 0..h {
        for _ in 0..w {
            data.push((2 * y + 1) as f32 / h as f32 - 1.0);
        }
    }
    g.constant(data, [1, 2, h, w])
}

/// Apply the affine map `theta` `[N, 6, 1, 1]` (row-major 2x3) to a grid `[N|1, 2, H, W]`.
pub fn apply_affine<G: Graph>(g: &mut G, theta: &G::T, grid: &G::T) -> G::T {
    let gx = g.slice(grid, 1, 0, 1);
    let gy = g.slice(grid, 1, 1, 2);
    let mut rows = Vec::with_capacity(2);
    for r in 0..2 {
        let a = g.slice(theta, 1, 3 * r, 3 * r + 1);
        let b = g.slice(theta, 1, 3 * r + 1, 3 * r + 2);
        let c = g.slice(theta, 1, 3 * r + 2, 3 * r + 3);
        let ax = g.mul(&a, &gx);
        let by = g.mul(&b, &gy);
        let s = g.add(&ax, &by);
        rows.push(g.add(&s, &c));
    }
    g.concat(&rows)
}

/// A correlation's second operand `b`, prepared by [`Graph::shifts`] once and shared by every
/// correlation with `b` (the shape and the content flow of a pyramid level both correlate
/// against the target's features).
pub struct Shifts<T> {
    prepared: T,
    d: usize,
}

pub fn shifts<G: Graph>(g: &mut G, b: &G::T, max_displacement: usize) -> Shifts<G::T> {
    Shifts { prepared: g.shifts(b, max_displacement), d: max_displacement }
}

/// Local correlation (FlowNet's cost volume, kernel 1): for every displacement within the
/// shifts' reach, the channel mean of `a * shifted(b)`: `[N, (2d+1)^2, H, W]`, displacements in
/// row-major order (dy, then dx).
pub fn correlation<G: Graph>(g: &mut G, a: &G::T, s: &Shifts<G::T>) -> G::T {
    g.correlate(a, &s.prepared, s.d)
}

/// The `(2d+1)^2` zero-padded shifts of `b` `[N, C, H, W]` stacked shift-major (dy, then dx):
/// `[N, (2d+1)^2 * C, H, W]`.
pub fn stack_shifts<G: Graph + ?Sized>(g: &mut G, b: &G::T, d: usize) -> G::T {
    let [_, _, h, w] = g.dims(b);
    let padded = g.pad(b, d);
    let mut shifted = Vec::with_capacity((2 * d + 1) * (2 * d + 1));
    for dy in 0..=2 * d {
        let rows = g.slice(&padded, 2, dy, dy + h);
        for dx in 0..=2 * d {
            shifted.push(g.slice(&rows, 3, dx, dx + w));
        }
    }
    g.concat(&shifted)
}

/// A U-Net decoder step's input: `x` resized to `skip`'s size, concatenated with `skip`.
pub fn up_concat<G: Graph>(g: &mut G, x: &G::T, skip: &G::T) -> G::T {
    let [_, _, h, w] = g.dims(skip);
    let up = g.resize(x, [h, w]);
    g.concat(&[up, skip.clone()])
}

/// Resize by a factor of two.
pub fn upsample2<G: Graph>(g: &mut G, x: &G::T) -> G::T {
    let [_, _, h, w] = g.dims(x);
    g.resize(x, [2 * h, 2 * w])
}

/// `PaddingConfig2d` that keeps the size of a `k` x `k` convolution with `dilation` at stride 1.
pub fn same_padding(k: usize, dilation: usize) -> PaddingConfig2d {
    let p = dilation * (k - 1) / 2;
    PaddingConfig2d::Explicit(p, p, p, p)
}

#[cfg(test)]
mod tests {
    use burn::nn::BatchNormConfig;
    use burn::tensor::{Distribution, Tensor};

    use super::{Eager, Graph};
    use crate::nn::default_device;

    #[test]
    fn a_pass_keeping_running_stats_normalises_by_the_batch_and_leaves_them_alone() {
        let device = default_device().autodiff();
        let bn = BatchNormConfig::new(3).init(&device);
        let x = Tensor::<4>::random([2, 3, 4, 4], Distribution::Normal(5.0, 2.0), &device);
        let before = bn.running_mean.value_sync().into_data();
        let kept = Eager::keeping_running_stats(&device).batch_norm(&x, &bn);
        assert_eq!(bn.running_mean.value_sync().into_data(), before, "the running statistics moved");
        // Normalised by the batch's own statistics: mean 0 per channel.
        let mean: f32 = kept.clone().mean().into_scalar();
        assert!(mean.abs() < 1e-4, "mean {mean}");
        let trained = Eager::new(&device).batch_norm(&x, &bn);
        assert_ne!(bn.running_mean.value_sync().into_data(), before, "a training pass updates the running statistics");
        assert_eq!(kept.into_data(), trained.into_data(), "both passes normalise alike");
    }
}
