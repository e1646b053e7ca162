//! What the two warp networks share (PF-AFN's appearance flow): a feature-pyramid encoder, the
//! flow kept as an offset to the identity grid while it is refined coarse to fine, and sampling.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::tensor::Device;

use super::blocks::{ConvBnRelu, ResBlock, conv};
use super::graph::{Graph, identity_grid, upsample2};

/// Maximum displacement of the local correlation (FlowNet2 / PF-AFN).
pub const MAX_DISPLACEMENT: usize = 3;
/// Channels of the cost volume: (2 * 3 + 1)^2.
pub const COST_CHANNELS: usize = (2 * MAX_DISPLACEMENT + 1) * (2 * MAX_DISPLACEMENT + 1);

/// One encoder level: a strided convolution halving the resolution, then two residual blocks.
#[derive(Module, Debug)]
pub struct EncoderLevel {
    pub down: ConvBnRelu,
    pub res: Vec<ResBlock>,
}

/// Five downsampling levels (1/2 .. 1/32), then a top-down refinement pyramid (FPN) bringing
/// every level to `fpn` channels.
#[derive(Module, Debug)]
pub struct PyramidEncoder {
    pub levels: Vec<EncoderLevel>,
    pub lateral: Vec<Conv2d>,
    pub smooth: Vec<Conv2d>,
}

impl PyramidEncoder {
    pub fn new(cin: usize, widths: &[usize; 5], fpn: usize, device: &Device) -> PyramidEncoder {
        let mut levels = Vec::new();
        let mut c = cin;
        for &w in widths {
            levels.push(EncoderLevel {
                down: ConvBnRelu::strided(c, w, 3, 2, 1, device),
                res: vec![ResBlock::new(w, device), ResBlock::new(w, device)],
            });
            c = w;
        }
        PyramidEncoder {
            levels,
            lateral: widths.iter().map(|&w| conv(w, fpn, 1, 1, 1, device)).collect(),
            smooth: widths.iter().map(|_| conv(fpn, fpn, 3, 1, 1, device)).collect(),
        }
    }

    /// Features coarse to fine: 1/32, 1/16, 1/8, 1/4, 1/2.
    pub fn forward<G: Graph>(&self, g: &mut G, x: &G::T) -> Vec<G::T> {
        let mut feats = Vec::new();
        let mut y = x.clone();
        for level in &self.levels {
            y = level.down.forward(g, &y);
            for r in &level.res {
                y = r.forward(g, &y);
            }
            feats.push(y.clone());
        }
        let mut out: Vec<G::T> = Vec::new();
        let mut top: Option<G::T> = None;
        for i in (0..feats.len()).rev() {
            let mut f = g.conv(&feats[i], &self.lateral[i]);
            if let Some(t) = &top {
                let up = upsample2(g, t);
                f = g.add(&f, &up);
            }
            top = Some(f.clone());
            out.push(g.conv(&f, &self.smooth[i]));
        }
        out
    }
}

/// Sample `x` through the grid `identity + offset` (offset `[N, 2, h, w]` at x's resolution).
pub fn warp_by_offset<G: Graph>(g: &mut G, x: &G::T, offset: &G::T) -> G::T {
    let [_, _, h, w] = g.dims(offset);
    let id = identity_grid(g, h, w);
    let grid = g.add(&id, offset);
    g.grid_sample(x, &grid)
}

/// A zero offset shaped like the spatial size of `like`.
pub fn zero_offset<G: Graph>(g: &mut G, like: &G::T) -> G::T {
    let [_, _, h, w] = g.dims(like);
    let z = g.constant(vec![0.0; 2 * h * w], [1, 2, h, w]);
    // Broadcast to the batch: multiply a batch-shaped channel by zero and add.
    let first = g.slice(like, 1, 0, 1);
    let zero_batch = g.affine(&first, 0.0, 0.0);
    g.add(&z, &zero_batch)
}

/// Flow per level, coarse to fine, as offsets (for the per-level losses).
pub struct FlowPyramid<T> {
    pub offsets: Vec<T>,
}
