//! Following the person (DESIGN.md section 4, frame step 1): find the person in the frame, crop
//! a box around them at the models' aspect, and keep that box steady over time.
//!
//! The models were trained on pictures where one person fills most of the height. A landscape
//! camera frame letterboxed whole into the models' portrait input shrinks the person to a
//! fraction of it; a crop around the person gives the models what they know.
//! - Finding: the largest figure of non-background pixels (pixels up to `REACH` apart joined)
//!   of a parsing that has a head (face or hair pixels; the largest of all when none has): two
//!   people who overlap are one figure; of separate people the largest is followed.
//! - The box: the figure's box (its dense columns), margins above and below as in the training
//!   pictures, widened or heightened to the models' aspect, and moved inside the frame when it
//!   fits there (the models never saw padding where the frame has pixels).
//! - Over time: an alpha-beta filter moves the box with the person's velocity, its height is
//!   smoothed, and changes smaller than `DEAD_BAND` of a still box are ignored (no jitter); a
//!   person who outran the box is looked for again around where they are; a shot cut (the
//!   frame unlike the last one) or a lost person starts over from a search of the whole frame.

use crate::contract::ParsingGroup;
use crate::frame::{Letterbox, RgbImage};

/// Margin around the person, as a share of their height: above the head, and below the feet
/// (our choice, after the training pictures, where the head sits about 7% of the height below
/// the top and the feet reach the bottom edge). The sides follow from the models' aspect.
pub const MARGIN: f32 = 0.07;
pub const MARGIN_BELOW: f32 = 0.02;
/// A person shorter than this (frame pixels) is too small to dress: the frame passes through.
pub const MIN_PERSON_PX: f32 = 32.0;
/// Share of the new box taken per frame.
pub const SMOOTHING: f32 = 0.5;
/// Changes of the box below this share of its height are ignored.
pub const DEAD_BAND: f32 = 0.03;
/// Mean absolute difference (0..255) of two frames' 32x18 thumbnails above which the shot cut.
pub const CUT_THRESHOLD: f32 = 40.0;

/// A box in frame pixels, `[x0, x1) x [y0, y1)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region {
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
}

impl Region {
    pub fn width(&self) -> f32 {
        self.x1 - self.x0
    }
    pub fn height(&self) -> f32 {
        self.y1 - self.y0
    }
    fn centre(&self) -> (f32, f32) {
        ((self.x0 + self.x1) / 2.0, (self.y0 + self.y1) / 2.0)
    }
    fn around(cx: f32, cy: f32, w: f32, h: f32) -> Region {
        Region { x0: cx - w / 2.0, y0: cy - h / 2.0, x1: cx + w / 2.0, y1: cy + h / 2.0 }
    }
    /// This box scaled by `factor` about its centre.
    pub fn grown(&self, factor: f32) -> Region {
        let (cx, cy) = self.centre();
        Region::around(cx, cy, self.width() * factor, self.height() * factor)
    }
    /// The model's view of this box.
    pub fn fit(&self, model_w: usize, model_h: usize) -> Letterbox {
        Letterbox::crop(self.x0, self.y0, self.x1, self.y1, model_w, model_h)
    }
}

/// Figure pixels this close (model pixels, along each axis) are one figure: the parser leaves
/// thin gaps of background at the neck, the elbows and across a striped garment, and a head cut
/// off from its body is no person of its own.
const REACH: usize = 3;

/// The largest figure of `parsing` (model resolution, seen through `fit`): its box in source
/// pixels and its size in model pixels.
pub fn largest_person(parsing: &[u8], fit: &Letterbox) -> Option<(Region, usize)> {
    let (w, h) = (fit.width, fit.height);
    let background = ParsingGroup::Background.id();
    // Two figure pixels at most REACH apart along each axis are one figure exactly when the
    // squares of radius REACH / 2 around them touch or overlap (REACH = 3: radius 1, squares
    // at most one pixel apart): the figure grown by that square, taken 8-connected, has the
    // figures as its parts, at 8 neighbours a pixel instead of (2 REACH + 1)^2.
    const _: () = assert!(REACH == 3, "the growth below is radius 1: REACH = 2 * 1 + 1");
    let figure: Vec<bool> = parsing.iter().map(|&p| p != background).collect();
    let mut rows = vec![false; w * h];
    for (row, out) in figure.chunks(w).zip(rows.chunks_mut(w)) {
        for x in 0..w {
            out[x] = row[x.saturating_sub(1)..=(x + 1).min(w - 1)].iter().any(|&f| f);
        }
    }
    let mut grown = vec![false; w * h];
    for (i, g) in grown.iter_mut().enumerate() {
        let (x, y) = (i % w, i / w);
        *g = (y.saturating_sub(1)..=(y + 1).min(h - 1)).any(|y| rows[y * w + x]);
    }
    let mut label = vec![0u32; w * h];
    // (label, pixels, has a head): a figure with a face or hair beats a bigger one without (a
    // patch of background the parser took for clothes is no person).
    let mut best: Option<(u32, usize, bool)> = None;
    let head = [ParsingGroup::Face.id(), ParsingGroup::Hair.id()];
    let mut stack = Vec::new();
    let mut next = 0u32;
    for start in 0..w * h {
        if !figure[start] || label[start] != 0 {
            continue;
        }
        next += 1;
        label[start] = next;
        stack.push(start);
        let (mut count, mut has_head) = (0usize, false);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            if figure[i] {
                count += 1;
                has_head |= head.contains(&parsing[i]);
            }
            for ny in y.saturating_sub(1)..=(y + 1).min(h - 1) {
                for j in ny * w + x.saturating_sub(1)..=ny * w + (x + 1).min(w - 1) {
                    if grown[j] && label[j] == 0 {
                        label[j] = next;
                        stack.push(j);
                    }
                }
            }
        }
        if best.is_none_or(|(_, c, h)| (has_head, count) > (h, c)) {
            best = Some((next, count, has_head));
        }
    }
    // The figure's own pixels keep their label; those it was grown by lose it.
    label.iter_mut().zip(&figure).filter(|(_, f)| !**f).for_each(|(l, _)| *l = 0);
    let (id, count, _) = best?;
    // Columns where the figure is at least a tenth as tall as at its tallest: a thin band the
    // parser drew along the floor's edge, touching the feet, must not widen the crop to the
    // frame (arms held far out may lose their hands to the margin). Rows: wherever the figure
    // is, inside those columns.
    let mut columns = vec![0usize; w];
    for (i, _) in label.iter().enumerate().filter(|&(_, &l)| l == id) {
        columns[i % w] += 1;
    }
    let tallest = columns.iter().copied().max().unwrap_or(0);
    let dense = |c: usize| c * 10 >= tallest && c > 0;
    let x0 = columns.iter().position(|&c| dense(c))?;
    let x1 = columns.iter().rposition(|&c| dense(c))? + 1;
    let (mut y0, mut y1) = (h, 0);
    for (i, _) in label.iter().enumerate().filter(|&(i, &l)| l == id && (x0..x1).contains(&(i % w))) {
        (y0, y1) = (y0.min(i / w), y1.max(i / w + 1));
    }
    let (sx0, sy0) = fit.to_source(x0 as f32, y0 as f32);
    let (sx1, sy1) = fit.to_source(x1 as f32, y1 as f32);
    Some((Region { x0: sx0, y0: sy0, x1: sx1, y1: sy1 }, count))
}

/// The crop around `person` at the model aspect (`model_w` / `model_h`), inside a
/// `frame_w` x `frame_h` frame along each axis where it fits, centred on the frame where not.
pub fn crop_around(person: Region, frame_w: f32, frame_h: f32, model_w: usize, model_h: usize) -> Region {
    let aspect = model_w as f32 / model_h as f32;
    let (w, h) = (person.width() * (1.0 + 2.0 * MARGIN), person.height() * (1.0 + MARGIN + MARGIN_BELOW));
    let (w, h) = if w / h > aspect { (w, w / aspect) } else { (h * aspect, h) };
    let cx = (person.x0 + person.x1) / 2.0;
    // The head's margin kept at the top; a wide figure's extra height goes below.
    let cy = person.y0 - MARGIN * person.height() + h / 2.0;
    let place = |c: f32, half: f32, size: f32| if 2.0 * half >= size { size / 2.0 } else { c.clamp(half, size - half) };
    Region::around(place(cx, w / 2.0, frame_w), place(cy, h / 2.0, frame_h), w, h)
}

/// The model's view of a crop around `person` in a `src_w` x `src_h` picture, or `None` when it
/// is the whole picture letterboxed (`whole`) anyway: no need to run the models again.
pub fn crop_fit(person: Region, src_w: usize, src_h: usize, whole: &Letterbox) -> Option<Letterbox> {
    let (w, h) = (whole.width, whole.height);
    let fit = crop_around(person, src_w as f32, src_h as f32, w, h).fit(w, h);
    let same = (fit.scale / whole.scale - 1.0).abs() < 0.02 && (fit.offset_x - whole.offset_x).abs() < 1.0 && (fit.offset_y - whole.offset_y).abs() < 1.0;
    (!same).then_some(fit)
}

/// Whether `person` comes closer to an edge of `crop` than half the margin, on a side where the
/// crop could have moved (not at the frame's edge): the crop was behind the person.
pub fn cut_by(person: Region, crop: Region, frame_w: f32) -> bool {
    let room = 0.5 * MARGIN * person.height();
    // Below the feet there is no margin to keep; a cut there shows as a shorter person.
    (person.x0 - crop.x0 < room && crop.x0 > 0.5) || (crop.x1 - person.x1 < room && crop.x1 < frame_w - 0.5) || (person.y0 - crop.y0 < room && crop.y0 > 0.5)
}

/// The crop followed over time: an alpha-beta filter on its centre (the crop moves with the
/// person's velocity, so a walking person is not left behind), an exponential smoothing of its
/// height, and a dead band against jitter.
#[derive(Debug, Clone, Default)]
pub struct Tracker {
    /// The crop the next frame uses.
    pub crop: Option<Region>,
    /// Pixels per frame.
    velocity: (f32, f32),
    thumbnail: Option<Vec<f32>>,
}

/// Share of the position error corrected per frame, and of it taken into the velocity.
const ALPHA: f32 = 0.7;
const BETA: f32 = 0.4;

impl Tracker {
    pub fn reset(&mut self) {
        self.crop = None;
        self.velocity = (0.0, 0.0);
    }

    /// Whether `frame` cuts from the previous one (always false for the first).
    pub fn cut(&mut self, frame: &RgbImage) -> bool {
        let (tw, th) = (32usize, 18usize);
        let thumb: Vec<f32> = (0..tw * th)
            .map(|i| {
                let (x, y) = ((i % tw) as f32 + 0.5, (i / tw) as f32 + 0.5);
                let p = frame.sample(x * frame.width as f32 / tw as f32, y * frame.height as f32 / th as f32);
                (p[0] + p[1] + p[2]) / 3.0
            })
            .collect();
        let cut = self.thumbnail.as_ref().is_some_and(|t| t.iter().zip(&thumb).map(|(a, b)| (a - b).abs()).sum::<f32>() / thumb.len() as f32 > CUT_THRESHOLD);
        self.thumbnail = Some(thumb);
        cut
    }

    /// Move the crop towards `target` (the crop around where the person is in this frame),
    /// and on by the velocity, to where the person will be in the next.
    pub fn follow(&mut self, target: Region) {
        let Some(c) = self.crop else {
            self.crop = Some(target);
            return;
        };
        let ((cx, cy), (tx, ty)) = (c.centre(), target.centre());
        let (rx, ry) = (tx - cx, ty - cy);
        // A small error while the crop is not moving is jitter: ignored, and what is left of
        // the velocity decays (no drift). While moving, every error counts.
        let band = DEAD_BAND * c.height();
        let still = rx.abs().max(ry.abs()) < band && self.velocity.0.abs().max(self.velocity.1.abs()) < band;
        let (rx, ry) = if still { (0.0, 0.0) } else { (rx, ry) };
        self.velocity = (self.velocity.0 + BETA * rx, self.velocity.1 + BETA * ry);
        if still {
            self.velocity = (self.velocity.0 * 0.5, self.velocity.1 * 0.5);
        }
        let h = if (target.height() - c.height()).abs() < DEAD_BAND * c.height() { c.height() } else { c.height() + SMOOTHING * (target.height() - c.height()) };
        let aspect = c.width() / c.height();
        let (nx, ny) = (cx + ALPHA * rx + self.velocity.0, cy + ALPHA * ry + self.velocity.1);
        self.crop = Some(Region::around(nx, ny, h * aspect, h));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Figure pixels at most REACH apart along each axis are one figure, exactly: on random
    /// specks, the figure found has the size of the best figure of a plain search of every
    /// pixel's (2 REACH + 1)^2 neighbourhood.
    #[test]
    fn figures_are_joined_across_gaps_of_up_to_reach_pixels() {
        let (w, h) = (23, 17);
        let fit = Letterbox::new(w, h, w, h);
        let mut seed = 7u64;
        for density in [2, 4, 8, 16, 30] {
            for _ in 0..40 {
                let parsing: Vec<u8> = (0..w * h)
                    .map(|_| {
                        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        let r = (seed >> 33) % 100;
                        if r < density { 1 + (r % 6) as u8 } else { 0 }
                    })
                    .collect();
                // The plain search: (pixels, has a head) of each figure, the best kept.
                let mut seen = vec![false; w * h];
                let mut best: Option<(bool, usize)> = None;
                for start in (0..w * h).filter(|&i| parsing[i] != 0) {
                    if seen[start] {
                        continue;
                    }
                    seen[start] = true;
                    let (mut todo, mut count, mut head) = (vec![start], 0, false);
                    while let Some(i) = todo.pop() {
                        count += 1;
                        head |= [ParsingGroup::Face.id(), ParsingGroup::Hair.id()].contains(&parsing[i]);
                        for j in 0..w * h {
                            if parsing[j] != 0 && !seen[j] && (j % w).abs_diff(i % w) <= REACH && (j / w).abs_diff(i / w) <= REACH {
                                seen[j] = true;
                                todo.push(j);
                            }
                        }
                    }
                    best = best.max(Some((head, count)));
                }
                assert_eq!(largest_person(&parsing, &fit).map(|(_, n)| n), best.map(|(_, n)| n), "density {density}%");
            }
        }
    }

    #[test]
    fn the_largest_figure_is_found_and_cropped_at_the_model_aspect() {
        let (w, h) = (32, 32);
        let mut parsing = vec![0u8; w * h];
        // A tall figure with a face, a speck of hair, and a bigger headless blob (background
        // taken for clothes).
        for y in 4..28 {
            for x in 10..16 {
                parsing[y * w + x] = if y < 7 { 2 } else { 4 };
            }
        }
        parsing[30 * w + 1] = 1;
        for y in 0..32 {
            for x in 20..28 {
                parsing[y * w + x] = 5;
            }
        }
        let fit = Letterbox::new(320, 320, w, h);
        let (person, count) = largest_person(&parsing, &fit).unwrap();
        assert_eq!(count, 24 * 6);
        assert!((person.x0 - 100.0).abs() < 1e-3 && (person.y1 - 280.0).abs() < 1e-3, "{person:?}");
        // A head the parser cut off from its body by two rows of background is still theirs.
        let mut cut = parsing.clone();
        for x in 10..16 {
            cut[7 * w + x] = 0;
            cut[8 * w + x] = 0;
        }
        assert_eq!(largest_person(&cut, &fit).unwrap().1, 24 * 6 - 12);
        let crop = crop_around(person, 1280.0, 720.0, 96, 128);
        assert!((crop.width() / crop.height() - 0.75).abs() < 1e-4);
        assert!(crop.y0 <= person.y0 && crop.y1 >= person.y1 && crop.x0 <= person.x0 && crop.x1 >= person.x1);
        // Near the frame's edge the crop moves inside it.
        let edge = Region { x0: 0.0, y0: 100.0, x1: 40.0, y1: 300.0 };
        let crop = crop_around(edge, 1280.0, 720.0, 96, 128);
        assert!(crop.x0 >= 0.0, "{crop:?}");
    }

    #[test]
    fn the_crop_ignores_jitter_and_keeps_up_with_a_walk() {
        let mut t = Tracker::default();
        let a = Region { x0: 100.0, y0: 100.0, x1: 175.0, y1: 200.0 };
        t.follow(a);
        t.follow(Region { x0: 101.0, y0: 100.5, x1: 176.0, y1: 200.5 });
        assert_eq!(t.crop, Some(a), "a pixel of jitter is ignored");
        // Walking 20 pixels a frame: after a few frames the crop predicts where the next one is.
        for f in 1..30 {
            let x = 100.0 + 20.0 * f as f32;
            t.follow(Region { x0: x, y0: 100.0, x1: x + 75.0, y1: 200.0 });
        }
        let next = 100.0 + 20.0 * 30.0;
        let c = t.crop.unwrap();
        assert!((c.x0 - next).abs() < 2.0, "the crop is at {} for a person at {next}", c.x0);
    }
}
