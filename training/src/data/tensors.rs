//! A person as the networks see it: float32 CHW tensors in the channel layouts of DESIGN.md
//! section 3. Pictures are RGB in [-1, 1]; masks are {0, 1}; a picture "masked by" a mask is
//! the picture multiplied by it, so masked-out pixels are 0 (mid grey).

use gstgarmenttransfer::contract::{PARSING_GROUPS, POSE_PARTS, ParsingGroup};
use gstgarmenttransfer::inputs::{agnostic, mask, one_hot, picture};
use ndarray::Array3;

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

impl PersonSample {
    /// The person's tensors, built by the element's own input builders (`inputs`).
    pub fn tensors(&self) -> PersonTensors {
        let (w, h) = (self.width as usize, self.height as usize);
        let groups = self.parsing();
        let image = picture(&self.image, h, w);
        let garment_mask = mask(&groups, &[ParsingGroup::UpperGarment], h, w);
        let skin_mask = mask(&groups, &[ParsingGroup::UpperSkin], h, w);
        let cloth_mask = Array3::from_shape_fn((1, h, w), |(_, y, x)| if self.cloth_mask[y * w + x] >= 128 { 1.0 } else { 0.0 });
        let pose = one_hot(&self.densepose, POSE_PARTS, h, w);
        PersonTensors {
            garment: &image * &garment_mask,
            skin: &image * &skin_mask,
            agnostic: agnostic(&groups, pose.view()),
            pose,
            cloth: &picture(&self.cloth, h, w) * &cloth_mask,
            parsing: one_hot(&groups, PARSING_GROUPS, h, w),
            image,
            garment_mask,
            skin_mask,
            cloth_mask,
        }
    }
}
