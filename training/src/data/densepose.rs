//! Dense-pose maps as files: either the part index itself (a grayscale PNG, 0..=24) or the
//! colour rendering that VITON-HD / HR-VITON ship in `image-densepose/` (DensePose's
//! `dp_segm` visualiser: OpenCV's PARULA colormap of `I * 255 / 24` on a black background),
//! which is inverted here by nearest colour.

use gstgarmenttransfer::contract::POSE_PARTS;

/// The colour of each part index in the `dp_segm` rendering; index 0 (background) is black.
pub const COLOURS: [[u8; 3]; POSE_PARTS] = [
    [0, 0, 0],
    [37, 60, 163],
    [20, 80, 194],
    [4, 97, 223],
    [8, 110, 221],
    [14, 122, 216],
    [20, 132, 212],
    [15, 144, 208],
    [11, 156, 203],
    [6, 166, 198],
    [22, 173, 185],
    [38, 179, 172],
    [55, 185, 159],
    [86, 187, 144],
    [114, 189, 130],
    [145, 191, 116],
    [170, 189, 105],
    [192, 188, 96],
    [216, 186, 86],
    [228, 192, 74],
    [240, 199, 60],
    [252, 206, 46],
    [251, 220, 36],
    [250, 235, 25],
    [249, 251, 14],
];

/// The part index of a rendered colour.
pub fn part_of_colour(rgb: [u8; 3]) -> u8 {
    super::nearest_colour(&COLOURS, rgb) as u8
}

pub fn colour_of_part(part: u8) -> [u8; 3] {
    COLOURS.get(part as usize).copied().unwrap_or([255, 0, 255])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colormap_inverts_exactly_and_under_jpeg_like_noise() {
        for part in 0..POSE_PARTS as u8 {
            let c = colour_of_part(part);
            assert_eq!(part_of_colour(c), part);
            let noisy = [c[0].saturating_sub(3), c[1].saturating_add(3), c[2].saturating_sub(2)];
            assert_eq!(part_of_colour(noisy), part, "part {part} under noise");
        }
        // A dark pixel at the edge of a JPEG-compressed rendering is background, not part 1.
        assert_eq!(part_of_colour([6, 4, 9]), 0);
    }
}
