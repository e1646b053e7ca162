//! Training batches drawn from a dataset folder, reproducibly: the samples of iteration `i` are
//! a function of the seed and `i` alone, so a resumed run sees exactly the data it would have.

use burn::tensor::{Device, Tensor, TensorData};
use gstgarmenttransfer::contract::ParsingGroup;
use ndarray::{Array3, Axis, stack};

use crate::data::{Dataset, PersonSample, PersonTensors, cihp};
use crate::synth::rng::Rng;

const BATCH_STREAM: u64 = 0x6261_7463;

/// The samples of iteration `iteration`, at `h` x `w` (broken ones skipped, counted by the dataset).
pub fn draw(dataset: &Dataset, seed: u64, iteration: usize, batch: usize, h: usize, w: usize) -> Vec<PersonSample> {
    let mut out = Vec::with_capacity(batch);
    let mut k = 0u64;
    while out.len() < batch && k < 8 * batch as u64 {
        let mut rng = Rng::derive(seed, BATCH_STREAM, iteration as u64 * 1000 + k);
        k += 1;
        if let Some(s) = dataset.load_or_skip(rng.below(dataset.len())) {
            out.push(s.resized(w as u32, h as u32));
        }
    }
    out
}

/// Stack `[C, H, W]` arrays into a `[B, C, H, W]` tensor.
pub fn to_batch(items: &[Array3<f32>], device: &Device) -> Tensor<4> {
    let views: Vec<_> = items.iter().map(|a| a.view()).collect();
    let a = stack(Axis(0), &views).unwrap_or_else(|_| ndarray::Array4::zeros((0, 0, 0, 0)));
    let dims: [usize; 4] = a.dim().into();
    Tensor::from_data(TensorData::new(a.into_iter().collect::<Vec<f32>>(), dims), device)
}

pub fn field(tensors: &[PersonTensors], pick: impl Fn(&PersonTensors) -> &Array3<f32>, device: &Device) -> Tensor<4> {
    let items: Vec<Array3<f32>> = tensors.iter().map(|t| pick(t).clone()).collect();
    to_batch(&items, device)
}

/// The regrowth cases of the paper (section 3.4), for one person:
/// - swap: the skin A shows when wearing another garment with longer sleeves (from the
///   dataset's true transfers) is the source, A's full skin the target;
/// - crop: A's skin mask minus a random half-plane (horizontal or vertical, equal odds).
///   Returns (source skin mask, target skin mask) `[1, H, W]`.
pub fn regrowth_case(s: &PersonSample, swap_skin: Option<&[u8]>, rng: &mut Rng) -> (Array3<f32>, Array3<f32>) {
    let (w, h) = (s.width as usize, s.height as usize);
    let skin: Vec<bool> = s.cihp.iter().map(|&id| cihp::group(id) == ParsingGroup::UpperSkin).collect();
    let target = Array3::from_shape_fn((1, h, w), |(_, y, x)| if skin[y * w + x] { 1.0 } else { 0.0 });
    let source = match swap_skin {
        Some(t) if rng.chance(0.5) => Array3::from_shape_fn((1, h, w), |(_, y, x)| {
            if skin[y * w + x] && cihp::group(t[y * w + x]) == ParsingGroup::UpperSkin { 1.0 } else { 0.0 }
        }),
        _ => {
            let vertical = rng.chance(0.5);
            let keep_low = rng.chance(0.5);
            let cut = rng.range(0.3, 0.7) * if vertical { w as f32 } else { h as f32 };
            Array3::from_shape_fn((1, h, w), |(_, y, x)| {
                let c = if vertical { x as f32 } else { y as f32 };
                if skin[y * w + x] && ((c < cut) == keep_low) { 1.0 } else { 0.0 }
            })
        }
    };
    (source, target)
}

/// The self-supervised baseline's augmentation: a garment mask `[1, H, W]` moved by up to a
/// tenth of the image and scaled by 0.8..1.2 about its centre (nearest pixel).
pub fn jitter_mask(mask: &Array3<f32>, rng: &mut Rng) -> Array3<f32> {
    let (_, h, w) = mask.dim();
    let (sx, sy) = (rng.range(0.8, 1.2), rng.range(0.8, 1.2));
    let (dx, dy) = (rng.range(-0.1, 0.1) * w as f32, rng.range(-0.1, 0.1) * h as f32);
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    Array3::from_shape_fn((1, h, w), |(_, y, x)| {
        let u = ((x as f32 + 0.5 - cx - dx) / sx + cx).floor();
        let v = ((y as f32 + 0.5 - cy - dy) / sy + cy).floor();
        if u < 0.0 || v < 0.0 || u >= w as f32 || v >= h as f32 { 0.0 } else { mask[(0, v as usize, u as usize)] }
    })
}
