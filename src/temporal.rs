//! Holding still (DESIGN.md section 4, frame step 8): the networks see each frame afresh, so
//! their parsings and flows jitter a little from frame to frame even where the person did not
//! move, and a video shows that at once. Each frame's parser and transfer-parsing
//! probabilities and the warp's flow are blended with the previous frame's, per model
//! pixel, gated by motion: where the picture did not change, up to `MAX_KEEP` of the previous
//! value is kept; where it changed by `MOTION_SCALE` or more, none is, so moving parts follow at
//! once (no lag). The previous frame's maps are resampled into this frame's crop first (the crop
//! follows the person), and forgotten at a shot cut.

use ndarray::Array4;
use rayon::prelude::*;

use crate::frame::Letterbox;
use crate::maps::{PIXEL_RUN, Tap, bilinear};

/// Most of the previous frame kept where nothing moved (our choice, measured by `eval-video`).
pub const MAX_KEEP: f32 = 0.6;
/// Channel-mean change of the model input (in its [-1, 1] units) at which nothing is kept.
pub const MOTION_SCALE: f32 = 0.12;

/// The maps that are blended, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Map {
    /// Parser probabilities (softmax of its logits).
    Parsing,
    /// S_P probabilities.
    TransferParsing,
    /// The warp's flow (a grid over the reference: the same coordinates in every frame).
    Flow,
}

const MAPS: usize = 3;

struct Previous {
    fit: Letterbox,
    input: Array4<f32>,
    maps: [Option<Array4<f32>>; MAPS],
}

#[derive(Default)]
pub struct Temporal {
    previous: Option<Previous>,
    current: Option<Current>,
    maps: [Option<Array4<f32>>; MAPS],
}

/// This frame: its fit and input, where each of its model pixels lies in the previous frame's
/// model input, as bilinear taps (`None`: outside it; worked out once, used by every channel of
/// every map), and how much of the previous frame each pixel keeps.
struct Current {
    fit: Letterbox,
    input: Array4<f32>,
    at: Vec<Option<(Tap, Tap)>>,
    keep: Vec<f32>,
}

/// Where each model pixel of `to` lies in the model input of `from` (both views of one frame
/// size: the crop moved with the person), as the taps of a bilinear lookup there.
fn correspond(from: &Letterbox, to: &Letterbox) -> Vec<Option<(Tap, Tap)>> {
    (0..to.width * to.height)
        .map(|i| {
            let (sx, sy) = to.to_source((i % to.width) as f32 + 0.5, (i / to.width) as f32 + 0.5);
            let (px, py) = from.to_model(sx, sy);
            from.inside(px, py).then(|| (Tap::new(px, from.width), Tap::new(py, from.height)))
        })
        .collect()
}

/// `map` (at the model resolution of the taps) sampled at `at`, planar `[C][at.len()]` (0 where
/// `at` is `None`).
fn resample(map: &Array4<f32>, at: &[Option<(Tap, Tap)>]) -> Vec<f32> {
    let (channels, fh, fw) = (map.shape()[1], map.shape()[2], map.shape()[3]);
    let data = map.as_slice().expect("model outputs are standard layout");
    let n = at.len();
    let mut out = vec![0.0; channels * n];
    // A plane per task: the channels in parallel.
    out.par_chunks_mut(n.max(1)).zip(data.par_chunks(fh * fw)).for_each(|(plane, field)| {
        for (v, p) in plane.iter_mut().zip(at) {
            if let Some((tx, ty)) = *p {
                *v = bilinear(field, fw, tx, ty);
            }
        }
    });
    out
}

impl Temporal {
    /// Forget the past (a shot cut, a new stream, a lost person).
    pub fn reset(&mut self) {
        self.previous = None;
        self.current = None;
    }

    /// Start a frame seen through `fit` as `input`: work out how much each pixel keeps.
    pub fn begin(&mut self, fit: Letterbox, input: &Array4<f32>) {
        let n = fit.width * fit.height;
        let (at, keep) = match &self.previous {
            None => (vec![None; n], vec![0.0; n]),
            Some(p) => {
                let at = correspond(&p.fit, &fit);
                let then = resample(&p.input, &at);
                let now = input.as_slice().expect("standard layout");
                let keep = (0..n)
                    .into_par_iter()
                    .map(|i| {
                        if at[i].is_none() {
                            return 0.0;
                        }
                        let change = (0..3).map(|c| (now[c * n + i] - then[c * n + i]).abs()).sum::<f32>() / 3.0;
                        MAX_KEEP * (1.0 - change / MOTION_SCALE).clamp(0.0, 1.0)
                    })
                    .collect();
                (at, keep)
            }
        };
        self.current = Some(Current { fit, input: input.clone(), at, keep });
        self.maps = Default::default();
    }

    /// Blend `map` with the previous frame's, in place, and remember it for the next frame.
    pub fn blend(&mut self, which: Map, map: &mut Array4<f32>) {
        let Some(current) = &self.current else { return };
        if let Some(before) = self.previous.as_ref().and_then(|p| p.maps[which as usize].as_ref()) {
            let then = resample(before, &current.at);
            let n = current.keep.len();
            let now = map.as_slice_mut().expect("standard layout");
            now.par_chunks_mut(n.max(1)).zip(then.par_chunks(n.max(1))).for_each(|(plane, then)| {
                for ((v, t), k) in plane.iter_mut().zip(then).zip(&current.keep) {
                    *v += (t - *v) * k;
                }
            });
        }
        self.maps[which as usize] = Some(map.clone());
    }

    /// End the frame: what it blended becomes the past of the next.
    pub fn finish(&mut self) {
        if let Some(Current { fit, input, .. }) = self.current.take() {
            self.previous = Some(Previous { fit, input, maps: std::mem::take(&mut self.maps) });
        }
    }
}

/// Softmax over channels, in place: logits to probabilities (blending probabilities keeps a
/// confident class confident; blending logits would not).
pub fn softmax(logits: &mut Array4<f32>) {
    let (c, h, w) = (logits.shape()[1], logits.shape()[2], logits.shape()[3]);
    let n = h * w;
    let data = logits.as_slice_mut().expect("standard layout");
    // Pixels in parallel, in runs of PIXEL_RUN: each task holds its run of every plane.
    let mut runs: Vec<Vec<&mut [f32]>> = (0..n.div_ceil(PIXEL_RUN)).map(|_| Vec::with_capacity(c)).collect();
    for plane in data.chunks_mut(n.max(1)) {
        for (run, piece) in runs.iter_mut().zip(plane.chunks_mut(PIXEL_RUN)) {
            run.push(piece);
        }
    }
    runs.into_par_iter().for_each(|mut planes| {
        for i in 0..planes.first().map_or(0, |p| p.len()) {
            let m = planes.iter().map(|p| p[i]).fold(f32::MIN, f32::max);
            let mut sum = 0.0;
            for p in planes.iter_mut() {
                p[i] = (p[i] - m).exp();
                sum += p[i];
            }
            for p in planes.iter_mut() {
                p[i] /= sum;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn still_pixels_keep_the_past_and_moving_ones_do_not() {
        let fit = Letterbox::new(4, 1, 4, 1);
        let mut t = Temporal::default();
        let input = Array4::from_shape_vec((1, 3, 1, 4), vec![0.0; 12]).unwrap();
        t.begin(fit, &input);
        let mut first = Array4::from_elem((1, 1, 1, 4), 1.0);
        t.blend(Map::Flow, &mut first);
        t.finish();
        // Pixel 3 changed a lot, the others not at all.
        let mut moved = input.clone();
        for c in 0..3 {
            moved[[0, c, 0, 3]] = 0.9;
        }
        t.begin(fit, &moved);
        let mut second = Array4::from_elem((1, 1, 1, 4), 0.0);
        t.blend(Map::Flow, &mut second);
        assert!((second[[0, 0, 0, 0]] - MAX_KEEP).abs() < 1e-6);
        assert_eq!(second[[0, 0, 0, 3]], 0.0);
    }
}
