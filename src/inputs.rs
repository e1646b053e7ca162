//! The networks' inputs, built one way for the element and for training (DESIGN.md section 3),
//! so that what a network learns from is what it is given: pictures in [-1, 1], one-hot maps,
//! masks of parsing groups, the clothing-agnostic map. One person, `[C, H, W]`; [`batch`]
//! makes the `[1, C, H, W]` a session takes.

use ndarray::{Array3, Array4, ArrayView3, Axis};

use crate::contract::{AGNOSTIC_GROUPS, POSE_PARTS, ParsingGroup, agnostic_hides};

/// A byte value (or a mean of byte values) in [-1, 1].
#[inline]
pub fn unit(byte: f32) -> f32 {
    byte / 127.5 - 1.0
}

/// A value in [-1, 1] back to the byte scale.
#[inline]
pub fn byte(unit: f32) -> f32 {
    (unit + 1.0) * 127.5
}

/// Interleaved RGB bytes of a `w` x `h` picture to `[3, H, W]` in [-1, 1].
pub fn picture(rgb: &[u8], h: usize, w: usize) -> Array3<f32> {
    Array3::from_shape_fn((3, h, w), |(c, y, x)| unit(rgb[(y * w + x) * 3 + c] as f32))
}

/// Ids to one-hot `[classes, H, W]`; ids past the last class get no channel.
pub fn one_hot(ids: &[u8], classes: usize, h: usize, w: usize) -> Array3<f32> {
    let mut t = Array3::zeros((classes, h, w));
    for (i, &id) in ids.iter().enumerate() {
        if (id as usize) < classes {
            t[[id as usize, i / w, i % w]] = 1.0;
        }
    }
    t
}

/// `[1, H, W]` mask of the pixels of a parsing whose group is one of `groups`.
pub fn mask(parsing: &[u8], groups: &[ParsingGroup], h: usize, w: usize) -> Array3<f32> {
    Array3::from_shape_fn((1, h, w), |(_, y, x)| if groups.iter().any(|g| g.id() == parsing[y * w + x]) { 1.0 } else { 0.0 })
}

/// M^a, the clothing-agnostic map of a parsing: one channel per group of [`AGNOSTIC_GROUPS`]
/// (hair, face, lower garment, legs), `[4, H, W]`, blank where the one-hot dense pose `pose`
/// (`[25, H, W]`) is a part that [`agnostic_hides`] (torso, upper legs: see there why).
pub fn agnostic(parsing: &[u8], pose: ArrayView3<f32>) -> Array3<f32> {
    let (h, w) = (pose.shape()[1], pose.shape()[2]);
    // Each pixel's verdict once, not once per channel.
    let mut visible = vec![true; h * w];
    for part in (0..POSE_PARTS).filter(|&p| agnostic_hides(p as u8)) {
        for (v, &p) in visible.iter_mut().zip(pose.index_axis(Axis(0), part).iter()) {
            *v &= p < 0.5;
        }
    }
    Array3::from_shape_fn((AGNOSTIC_GROUPS.len(), h, w), |(c, y, x)| {
        let i = y * w + x;
        if visible[i] && parsing[i] == AGNOSTIC_GROUPS[c].id() { 1.0 } else { 0.0 }
    })
}

/// One person as a batch of one: `[1, C, H, W]` (no copy).
pub fn batch(a: Array3<f32>) -> Array4<f32> {
    a.insert_axis(Axis(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agnostic_and_masks_are_channels_of_the_one_hot_parsing() {
        let (h, w) = (3, 5);
        let parsing: Vec<u8> = (0..(h * w) as u8).map(|i| i % 8).collect();
        let hot = one_hot(&parsing, 7, h, w);
        // A pose of background, head and lower legs: nothing hidden.
        let shown = one_hot(&[0, 23, 11, 12, 13].repeat(3), POSE_PARTS, h, w);
        let agn = agnostic(&parsing, shown.view());
        for (c, g) in AGNOSTIC_GROUPS.iter().enumerate() {
            assert_eq!(agn.index_axis(Axis(0), c), hot.index_axis(Axis(0), g.id() as usize));
        }
        // Torso (front, back) and upper legs blank every channel there, and only there.
        let pose: Vec<u8> = [2, 1, 7, 10, 11].repeat(3);
        let agn = agnostic(&parsing, one_hot(&pose, POSE_PARTS, h, w).view());
        for (i, &part) in pose.iter().enumerate() {
            let column = agn.slice(ndarray::s![.., i / w, i % w]).sum();
            let expected = if part == 11 { AGNOSTIC_GROUPS.iter().filter(|g| g.id() == parsing[i]).count() } else { 0 };
            assert_eq!(column as usize, expected, "pixel {i}, pose part {part}, parsing {}", parsing[i]);
        }
        assert!(agn.sum() > 0.0);
        let garment = mask(&parsing, &[ParsingGroup::UpperGarment], h, w);
        assert_eq!(garment.index_axis(Axis(0), 0), hot.index_axis(Axis(0), ParsingGroup::UpperGarment as usize));
        // Id 7 is past the last group: no channel.
        assert_eq!(hot.sum() as usize, parsing.iter().filter(|&&id| id < 7).count());
        assert_eq!(picture(&[0, 255, 51], 1, 1).into_raw_vec_and_offset().0, vec![-1.0, 1.0, unit(51.0)]);
    }
}
