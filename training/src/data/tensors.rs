//! A person as the networks see it: float32 CHW tensors in the channel layouts of DESIGN.md
//! section 3. Pictures are RGB in [-1, 1]; masks are {0, 1}; a picture "masked by" a mask is
//! the picture multiplied by it, so masked-out pixels are 0 (mid grey).

use gstgarmenttransfer::contract::{AGNOSTIC_GROUPS, PARSING_GROUPS, POSE_PARTS, ParsingGroup};
use ndarray::{Array3, Axis};

use super::loader::PersonSample;

#[derive(Debug, Clone)]
pub struct PersonTensors {
    /// I: [3, H, W].
    pub image: Array3<f32>,
    /// M as one-hot groups: [7, H, W].
    pub parsing: Array3<f32>,
    /// M^a, the clothing-agnostic map (hair, face, lower garment, legs): [4, H, W].
    pub agnostic: Array3<f32>,
    /// P, one-hot dense pose: [25, H, W].
    pub pose: Array3<f32>,
    /// M^g: [1, H, W].
    pub garment_mask: Array3<f32>,
    /// I masked by M^g: [3, H, W].
    pub garment: Array3<f32>,
    /// M^s: [1, H, W].
    pub skin_mask: Array3<f32>,
    /// I masked by M^s: [3, H, W].
    pub skin: Array3<f32>,
    /// C, the garment in shop masked by its mask (0 outside; PF-AFN warps the masked garment,
    /// so the shop's backdrop never enters the warp's image loss): [3, H, W].
    pub cloth: Array3<f32>,
    /// Mask of C: [1, H, W].
    pub cloth_mask: Array3<f32>,
}

/// RGB bytes to a [3, H, W] tensor in [-1, 1].
pub fn rgb_tensor(rgb: &[u8], width: u32, height: u32) -> Array3<f32> {
    let (w, h) = (width as usize, height as usize);
    Array3::from_shape_fn((3, h, w), |(c, y, x)| rgb[(y * w + x) * 3 + c] as f32 / 127.5 - 1.0)
}

/// Ids to one-hot [classes, H, W]; ids past the last class get no channel.
pub fn one_hot(ids: &[u8], classes: usize, width: u32, height: u32) -> Array3<f32> {
    let (w, h) = (width as usize, height as usize);
    let mut t = Array3::zeros((classes, h, w));
    for (i, &id) in ids.iter().enumerate() {
        if (id as usize) < classes {
            t[[id as usize, i / w, i % w]] = 1.0;
        }
    }
    t
}

impl PersonSample {
    pub fn tensors(&self) -> PersonTensors {
        let (w, h) = (self.width, self.height);
        let groups = self.parsing();
        let parsing = one_hot(&groups, PARSING_GROUPS, w, h);
        let channel = |g: ParsingGroup| parsing.index_axis(Axis(0), g as usize).insert_axis(Axis(0)).to_owned();
        let agnostic = ndarray::concatenate(
            Axis(0),
            &AGNOSTIC_GROUPS.map(|g| parsing.index_axis(Axis(0), g as usize).insert_axis(Axis(0))),
        )
        .unwrap_or_else(|_| Array3::zeros((AGNOSTIC_GROUPS.len(), h as usize, w as usize)));
        let image = rgb_tensor(&self.image, w, h);
        let garment_mask = channel(ParsingGroup::UpperGarment);
        let skin_mask = channel(ParsingGroup::UpperSkin);
        let cloth_mask = Array3::from_shape_fn((1, h as usize, w as usize), |(_, y, x)| {
            if self.cloth_mask[y * w as usize + x] >= 128 { 1.0 } else { 0.0 }
        });
        PersonTensors {
            garment: &image * &garment_mask,
            skin: &image * &skin_mask,
            pose: one_hot(&self.densepose, POSE_PARTS, w, h),
            cloth: &rgb_tensor(&self.cloth, w, h) * &cloth_mask,
            image,
            parsing,
            agnostic,
            garment_mask,
            skin_mask,
            cloth_mask,
        }
    }
}
