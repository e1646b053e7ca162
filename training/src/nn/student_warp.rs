//! S_W, the student warp of the paper: STN initial aligning, then five shape-content-aware
//! warping modules (SCAW) coarse to fine.
//!
//! The garment comes as B wears it (not flat), so both sides are described by the
//! weak-semantic shape representation: dense pose restricted to the garment mask (P * M).
//! The STN regresses an affine theta from the two representations and aligns B's garment
//! roughly; each SCAW then refines a flow first by shape (warped source shape features against
//! target shape features) and then by content (warped garment features against the same
//! target). The result samples B's original garment through theta composed with the flow, so
//! the garment is resampled once, and the element can use the same grid at full resolution.

use burn::module::{Module, Param};
use burn::nn::conv::Conv2d;
use burn::tensor::{Device, Tensor, TensorData};

use super::blocks::{ConvBnRelu, LeakyStack, conv};
use super::graph::{Graph, LEAKY_SLOPE, apply_affine, correlation, identity_grid, shifts, upsample2};
use super::teacher_warp::{FlowLevel, WarpWidths, Warped};
use super::warp::{COST_CHANNELS, FlowPyramid, MAX_DISPLACEMENT, PyramidEncoder, warp_by_offset, zero_offset};
use gstgarmenttransfer::contract::POSE_PARTS;

/// The STN: strided convolutions over (source repr, target repr), global pooling, a 1x1
/// regression of the 6 affine parameters, initialised to the identity.
#[derive(Module, Debug)]
pub struct Stn {
    pub convs: Vec<ConvBnRelu>,
    pub regress: Conv2d,
}

impl Stn {
    pub fn new(widths: &[usize], device: &Device) -> Stn {
        let mut convs = Vec::new();
        let mut c = 2 * POSE_PARTS;
        for &w in widths {
            convs.push(ConvBnRelu::strided(c, w, 3, 2, 1, device));
            c = w;
        }
        let mut regress = conv(c, 6, 1, 1, 1, device);
        // Start from the identity: no weight, bias = [1 0 0; 0 1 0].
        regress.weight = Param::from_tensor(Tensor::zeros([6, c, 1, 1], device));
        regress.bias = Some(Param::from_tensor(Tensor::from_data(TensorData::new(vec![1.0f32, 0.0, 0.0, 0.0, 1.0, 0.0], [6]), device)));
        Stn { convs, regress }
    }

    /// theta `[N, 6, 1, 1]`.
    pub fn forward<G: Graph>(&self, g: &mut G, source: &G::T, target: &G::T) -> G::T {
        let mut y = g.concat(&[source.clone(), target.clone()]);
        for c in &self.convs {
            y = c.forward(g, &y);
        }
        let pooled = g.mean_spatial(&y);
        g.conv(&pooled, &self.regress)
    }
}

#[derive(Module, Debug)]
pub struct StudentWarp {
    pub stn: Stn,
    /// E_s, shared by the source and the target shape representations.
    pub shape_encoder: PyramidEncoder,
    /// E_c, for the aligned garment.
    pub content_encoder: PyramidEncoder,
    /// SCAW modules, coarse to fine: `main` is the shape-aware stage, `refine` the content-aware one.
    pub scaw: Vec<FlowLevel>,
}

/// What the student warp returns beyond the warp itself: the STN's alignment, for L_align.
pub struct StudentWarped<T> {
    pub warped: Warped<T>,
    pub theta: T,
    pub aligned_mask: T,
}

impl StudentWarp {
    pub fn new(w: WarpWidths, stn: &[usize], device: &Device) -> StudentWarp {
        let [a, b, c] = w.estimator;
        StudentWarp {
            stn: Stn::new(stn, device),
            shape_encoder: PyramidEncoder::new(POSE_PARTS, &w.encoder, w.fpn, device),
            content_encoder: PyramidEncoder::new(3, &w.encoder, w.fpn, device),
            scaw: (0..5)
                .map(|_| FlowLevel {
                    main: LeakyStack::new(&[COST_CHANNELS, a, b, c, 2], device),
                    refine: LeakyStack::new(&[COST_CHANNELS, a, b, c, 2], device),
                })
                .collect(),
        }
    }

    /// The contract's inputs: garment `[N,3,H,W]` (I_B masked by M^g_B), garment_mask,
    /// source_pose (P_B), target_mask (garment channel of M'_A), target_pose (P_A).
    pub fn forward<G: Graph>(
        &self,
        g: &mut G,
        garment: &G::T,
        garment_mask: &G::T,
        source_pose: &G::T,
        target_mask: &G::T,
        target_pose: &G::T,
    ) -> StudentWarped<G::T> {
        let source_repr = g.mul(source_pose, garment_mask);
        let target_repr = g.mul(target_pose, target_mask);
        let theta = self.stn.forward(g, &source_repr, &target_repr);
        let [_, _, h, w] = g.dims(garment);
        let id = identity_grid(g, h, w);
        let align = apply_affine(g, &theta, &id);
        let aligned_garment = g.grid_sample(garment, &align);
        let aligned_mask = g.grid_sample(garment_mask, &align);
        let aligned_repr = g.grid_sample(&source_repr, &align);

        let src_shape = self.shape_encoder.forward(g, &aligned_repr);
        let tgt_shape = self.shape_encoder.forward(g, &target_repr);
        let content = self.content_encoder.forward(g, &aligned_garment);
        let mut offset = zero_offset(g, &src_shape[0]);
        let mut offsets = Vec::new();
        for (k, module) in self.scaw.iter().enumerate() {
            if k > 0 {
                offset = upsample2(g, &offset);
            }
            // Shape-aware flow.
            let target = shifts(g, &tgt_shape[k], MAX_DISPLACEMENT);
            let warped = warp_by_offset(g, &src_shape[k], &offset);
            let cost = correlation(g, &warped, &target);
            let cost = g.leaky_relu(&cost, LEAKY_SLOPE);
            let delta = module.main.forward(g, &cost);
            offset = g.add(&offset, &delta);
            // Content-aware flow.
            let warped = warp_by_offset(g, &content[k], &offset);
            let cost = correlation(g, &warped, &target);
            let cost = g.leaky_relu(&cost, LEAKY_SLOPE);
            let delta = module.refine.forward(g, &cost);
            offset = g.add(&offset, &delta);
            offsets.push(offset.clone());
        }
        // Grid in the aligned frame, then through theta back to B's original garment.
        let full = g.resize(&offset, [h, w]);
        let grid = g.add(&id, &full);
        let flow = apply_affine(g, &theta, &grid);
        let warped = Warped {
            garment: g.grid_sample(garment, &flow),
            mask: g.grid_sample(garment_mask, &flow),
            flow,
            pyramid: FlowPyramid { offsets },
        };
        StudentWarped { warped, theta, aligned_mask }
    }
}
