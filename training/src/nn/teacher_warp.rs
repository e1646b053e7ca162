//! T_W, the try-on teacher's warp: a parser-based appearance flow in the style of PF-AFN /
//! Flow-Style-VTON. It warps the in-shop garment C (with its mask) onto the target garment
//! region, conditioned on the target garment mask and the dense pose of the person.

use burn::module::Module;
use burn::tensor::Device;

use super::blocks::LeakyStack;
use super::graph::{Graph, LEAKY_SLOPE, correlation, identity_grid, shifts, upsample2};
use super::warp::{COST_CHANNELS, FlowPyramid, MAX_DISPLACEMENT, PyramidEncoder, warp_by_offset, zero_offset};

#[derive(Debug, Clone, Copy)]
pub struct WarpWidths {
    pub encoder: [usize; 5],
    pub fpn: usize,
    /// Hidden widths of each flow estimator (input and the 2 output channels are added).
    pub estimator: [usize; 3],
}

/// Per pyramid level: flow from the cost volume, then a refinement from the warped features.
#[derive(Module, Debug)]
pub struct FlowLevel {
    pub main: LeakyStack,
    pub refine: LeakyStack,
}

#[derive(Module, Debug)]
pub struct TeacherWarp {
    pub garment_encoder: PyramidEncoder,
    pub condition_encoder: PyramidEncoder,
    pub levels: Vec<FlowLevel>,
}

/// A warp's result: warped garment and mask, the absolute sampling grid at full resolution,
/// and the flow offsets per level (coarse to fine) for the smoothness losses.
pub struct Warped<T> {
    pub garment: T,
    pub mask: T,
    pub flow: T,
    pub pyramid: FlowPyramid<T>,
}

/// Inputs: garment image 3 + mask 1; condition: target garment mask 1 + dense pose 25.
pub const GARMENT_CHANNELS: usize = 4;
pub const CONDITION_CHANNELS: usize = 26;

impl TeacherWarp {
    pub fn new(w: WarpWidths, device: &Device) -> TeacherWarp {
        let [a, b, c] = w.estimator;
        TeacherWarp {
            garment_encoder: PyramidEncoder::new(GARMENT_CHANNELS, &w.encoder, w.fpn, device),
            condition_encoder: PyramidEncoder::new(CONDITION_CHANNELS, &w.encoder, w.fpn, device),
            levels: (0..5)
                .map(|_| FlowLevel {
                    main: LeakyStack::new(&[COST_CHANNELS, a, b, c, 2], device),
                    refine: LeakyStack::new(&[2 * w.fpn, a, b, c, 2], device),
                })
                .collect(),
        }
    }

    /// `garment` `[N,3,H,W]`, `mask` `[N,1,H,W]`, `target_mask` `[N,1,H,W]`, `pose` `[N,25,H,W]`.
    pub fn forward<G: Graph>(&self, g: &mut G, garment: &G::T, mask: &G::T, target_mask: &G::T, pose: &G::T) -> Warped<G::T> {
        let src_in = g.concat(&[garment.clone(), mask.clone()]);
        let cond_in = g.concat(&[target_mask.clone(), pose.clone()]);
        let src = self.garment_encoder.forward(g, &src_in);
        let cond = self.condition_encoder.forward(g, &cond_in);
        let mut offset = zero_offset(g, &src[0]);
        let mut offsets = Vec::new();
        for (k, level) in self.levels.iter().enumerate() {
            if k > 0 {
                offset = upsample2(g, &offset);
            }
            let warped = warp_by_offset(g, &src[k], &offset);
            let target = shifts(g, &cond[k], MAX_DISPLACEMENT);
            let cost = correlation(g, &warped, &target);
            let cost = g.leaky_relu(&cost, LEAKY_SLOPE);
            let delta = level.main.forward(g, &cost);
            offset = g.add(&offset, &delta);
            let warped = warp_by_offset(g, &src[k], &offset);
            let both = g.concat(&[warped, cond[k].clone()]);
            let delta = level.refine.forward(g, &both);
            offset = g.add(&offset, &delta);
            offsets.push(offset.clone());
        }
        finish(g, garment, mask, &offset, offsets)
    }
}

/// Bring the finest offset (1/2) to full resolution and sample the garment and its mask.
pub fn finish<G: Graph>(g: &mut G, garment: &G::T, mask: &G::T, offset: &G::T, offsets: Vec<G::T>) -> Warped<G::T> {
    let [_, _, h, w] = g.dims(garment);
    let full = g.resize(offset, [h, w]);
    let id = identity_grid(g, h, w);
    let flow = g.add(&id, &full);
    Warped { garment: g.grid_sample(garment, &flow), mask: g.grid_sample(mask, &flow), flow, pyramid: FlowPyramid { offsets } }
}
