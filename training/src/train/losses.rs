//! The loss terms the stages combine: cross-entropy, L1 and L2, the flow's smoothness, and
//! PF-AFN's warp losses.

use burn::tensor::Tensor;
use burn::tensor::activation::log_softmax;

use crate::nn::graph::{Eager, Graph};
use crate::nn::teacher_warp::Warped;
use crate::nn::warp::warp_by_offset;

/// Cross-entropy of logits `[B, C, H, W]` against one-hot (or soft) targets, per pixel.
pub fn cross_entropy(logits: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
    let [b, _, h, w] = logits.dims();
    (target * log_softmax(logits, 1)).sum().neg().div_scalar((b * h * w) as f32).reshape([1])
}

/// Soft Dice loss of `logits` against one-hot `target` ([B, C, H, W]): one minus the mean over
/// the channels of 2|P∩T| / (|P| + |T|) on the softmax, summed over the batch. A part absent
/// from the batch and not predicted scores 1 (the smoothing term), so it neither rewards nor
/// punishes.
pub fn soft_dice(logits: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
    let [_, c, _, _] = logits.dims();
    let p = burn::tensor::activation::softmax(logits, 1);
    let per_channel = |t: Tensor<4>| t.sum_dim(0).sum_dim(2).sum_dim(3).reshape([c]);
    let overlap = per_channel(p.clone() * target.clone());
    let size = per_channel(p) + per_channel(target);
    let smooth = 1.0;
    let dice = overlap.mul_scalar(2.0).add_scalar(smooth) / size.add_scalar(smooth);
    dice.mean().neg().add_scalar(1.0).reshape([1])
}

pub fn mse(a: Tensor<4>, b: Tensor<4>) -> Tensor<1> {
    let d = a - b;
    (d.clone() * d).mean().reshape([1])
}

pub fn l1(a: Tensor<4>, b: Tensor<4>) -> Tensor<1> {
    (a - b).abs().mean().reshape([1])
}

/// A zero that stays on the tape of `like` (a sum's start).
pub fn zero(like: &Tensor<1>) -> Tensor<1> {
    like.clone().mul_scalar(0.0)
}

/// Mean absolute first and second differences of offsets, along x and y (0 along an axis too
/// short to have them: the coarsest levels of small inputs).
pub fn smoothness(offset: &Tensor<4>) -> (Tensor<1>, Tensor<1>) {
    let [_, _, h, w] = offset.dims();
    let zero = offset.clone().sum().mul_scalar(0.0).reshape([1]);
    let (mut first, mut second) = (zero.clone(), zero);
    for (axis, len) in [(3, w), (2, h)] {
        if len < 2 {
            continue;
        }
        let d = offset.clone().narrow(axis, 1, len - 1) - offset.clone().narrow(axis, 0, len - 1);
        first = first + d.clone().abs().mean().reshape([1]);
        if len > 2 {
            let dd = d.clone().narrow(axis, 1, len - 2) - d.narrow(axis, 0, len - 2);
            second = second + dd.abs().mean().reshape([1]);
        }
    }
    (first, second)
}

/// PF-AFN's L_reg: the smoothness of every pyramid level's flow, first and second order.
pub fn flow_smoothness(offsets: &[Tensor<4>]) -> (Tensor<1>, Tensor<1>) {
    let mut sums: Option<(Tensor<1>, Tensor<1>)> = None;
    for offset in offsets {
        let (a, b) = smoothness(offset);
        sums = Some(match sums {
            Some((s1, s2)) => (s1 + a, s2 + b),
            None => (a, b),
        });
    }
    sums.expect("every warp has at least one pyramid level")
}

/// The warp losses of PF-AFN: L1 on the warped image and mask at full resolution and at every
/// pyramid level (the source warped by that level's flow against the downsampled target), and
/// first- and second-order smoothness of every level's flow weighted by `tv`.
pub fn warp_losses(
    g: &mut Eager,
    out: Warped<Tensor<4>>,
    (source, source_mask): (&Tensor<4>, &Tensor<4>),
    (target, target_mask): (&Tensor<4>, &Tensor<4>),
    tv: (f32, f32),
) -> (Tensor<1>, Vec<(&'static str, Tensor<1>)>) {
    let image = l1(out.garment, target.clone());
    let mask = l1(out.mask, target_mask.clone());
    let mut levels = zero(&image);
    for offset in &out.pyramid.offsets {
        let [_, _, h, w] = offset.dims();
        let src = g.resize(source, [h, w]);
        let src_mask = g.resize(source_mask, [h, w]);
        let warped = warp_by_offset(g, &src, offset);
        let warped_mask = warp_by_offset(g, &src_mask, offset);
        levels = levels + l1(warped, g.resize(target, [h, w])) + l1(warped_mask, g.resize(target_mask, [h, w]));
    }
    let (tv1, tv2) = flow_smoothness(&out.pyramid.offsets);
    let loss = image.clone() + mask.clone() + levels.clone() + tv1.clone().mul_scalar(tv.0) + tv2.clone().mul_scalar(tv.1);
    (loss, vec![("image", image), ("mask", mask), ("levels", levels), ("tv1", tv1), ("tv2", tv2)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    /// Two parts on a 1x4 image: the first covers three pixels, the second one.
    fn target(device: &burn::tensor::Device) -> Tensor<4> {
        Tensor::from_data(TensorData::new(vec![1.0f32, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0], [1, 2, 1, 4]), device)
    }

    fn logits(second_at: &[usize], device: &burn::tensor::Device) -> Tensor<4> {
        let mut v = vec![20.0f32, 20.0, 20.0, 20.0, 0.0, 0.0, 0.0, 0.0];
        for &x in second_at {
            (v[x], v[4 + x]) = (0.0, 20.0);
        }
        Tensor::from_data(TensorData::new(v, [1, 2, 1, 4]), device)
    }

    #[test]
    fn soft_dice_weighs_a_small_part_as_much_as_a_large_one() {
        let device = crate::nn::default_device();
        let value = |t: Tensor<1>| t.into_data().to_vec::<f32>().unwrap()[0];
        let right = value(soft_dice(logits(&[3], &device), target(&device)));
        assert!(right < 1e-3, "a right answer scores {right}");
        // One pixel wrong either way: cross-entropy cannot tell the two apart (a quarter of the
        // pixels at 20 nats), Dice weighs losing the one-pixel part more (0.31 against 0.21).
        let missed_small = value(soft_dice(logits(&[], &device), target(&device)));
        let missed_big = value(soft_dice(logits(&[0, 3], &device), target(&device)));
        for wrong in [&[][..], &[0, 3][..]] {
            let ce = value(cross_entropy(logits(wrong, &device), target(&device)));
            assert!((ce - 5.0).abs() < 0.1, "cross-entropy with part 2 at {wrong:?}: {ce}");
        }
        assert!(missed_small > 0.3, "missing the small part scores {missed_small}");
        assert!(missed_small > 1.4 * missed_big, "small {missed_small}, one pixel of the big part {missed_big}");
    }
}
