//! Compositing at the frame's own resolution (DESIGN.md section 4, step 6): the new garment
//! sampled from the full-resolution reference through the upsampled flow, upper-body skin (A's
//! own where A had skin, regrown elsewhere), a fill where the old garment is uncovered, and
//! the frame everywhere else. Mask edges come from bilinear upsampling of model-resolution
//! masks, which feathers them over about one model pixel.

use ndarray::Array4;
use rayon::prelude::*;

use crate::contract::ParsingGroup;
use crate::frame::{FrameMut, Letterbox, RgbImage};
use crate::inputs::byte;
use crate::maps::{Tap, bilinear, push_pull};
use crate::reference::Reference;

/// What the networks said about one frame, at model resolution.
pub struct Transfer<'a> {
    /// M_A and M'_A: parsing groups.
    pub old_parsing: &'a [u8],
    pub new_parsing: &'a [u8],
    /// The frame as the model saw it `[1, 3, H, W]` in [-1, 1].
    pub model_input: &'a Array4<f32>,
    pub warped_mask: &'a Array4<f32>,
    pub flow: &'a Array4<f32>,
    /// R's output `[1, 3, H, W]`, when some new skin lies outside the old skin.
    pub regrown: Option<&'a Array4<f32>>,
}

/// Which layers to draw (the debugging outputs draw fewer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layers {
    pub garment: bool,
    pub skin: bool,
    pub fill: bool,
}

pub const ALL_LAYERS: Layers = Layers { garment: true, skin: true, fill: true };

fn plane(map: &[u8], group: ParsingGroup) -> Vec<f32> {
    map.iter().map(|&g| if g == group.id() { 1.0 } else { 0.0 }).collect()
}

/// The values of a model-resolution array: every array here comes from a session's output or
/// from `Array4::from_shape_fn`, both in standard layout.
fn standard(a: &Array4<f32>) -> &[f32] {
    a.as_slice().expect("model-resolution arrays are in standard layout")
}

/// Composite `t` over `frame`, in place: only the pixels inside the model's view are read and
/// written, each from itself (rows in parallel). `fit` places the frame in the model input;
/// `background` is an optional plate of the empty scene at frame resolution.
pub fn composite(frame: &mut FrameMut, fit: &Letterbox, t: &Transfer, reference: &Reference, background: Option<&RgbImage>, layers: Layers) {
    let (w, h) = (fit.width, fit.height);
    let n = w * h;
    let old_garment = plane(t.old_parsing, ParsingGroup::UpperGarment);
    let old_skin = plane(t.old_parsing, ParsingGroup::UpperSkin);
    let new_skin = plane(t.new_parsing, ParsingGroup::UpperSkin);
    let warped = standard(t.warped_mask);
    let input = standard(t.model_input);
    // The new garment: where S_P puts it and the warp brings garment pixels.
    let new_garment: Vec<f32> = t.new_parsing.iter().zip(warped).map(|(&g, &m)| if g == ParsingGroup::UpperGarment.id() { m.clamp(0.0, 1.0) } else { 0.0 }).collect();
    // Pixels the old garment leaves uncovered.
    let uncovered: Vec<f32> = (0..n).map(|i| (old_garment[i] - new_garment[i] - new_skin[i]).clamp(0.0, 1.0)).collect();

    // Fill colour at model resolution: inpainted from what is neither old nor new person.
    let mut fill: [Vec<f32>; 3] = std::array::from_fn(|c| (0..n).map(|i| byte(input[c * n + i])).collect());
    if layers.fill && background.is_none() {
        let known: Vec<f32> = (0..n).map(|i| 1.0 - old_garment[i].max(new_garment[i]).max(new_skin[i])).collect();
        push_pull(&mut fill, &known, w, h);
    }

    let regrown: Option<Vec<Vec<f32>>> =
        t.regrown.map(|r| (0..3).map(|c| standard(r)[c * n..(c + 1) * n].iter().map(|&v| byte(v)).collect()).collect());
    let flow = standard(t.flow);
    let (flow_x, flow_y) = (&flow[..n], &flow[n..2 * n]);
    // A frame pixel samples the four model pixels around it: where none of them has a layer to
    // draw, the pixel stays as it is and is skipped (most of a crop around a person).
    let drawn: Vec<bool> = (0..n)
        .map(|i| (layers.fill && uncovered[i] > 0.0) || (layers.skin && new_skin[i] > 0.0) || (layers.garment && new_garment[i] > 0.0))
        .collect();
    let near: Vec<bool> = (0..n)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            let (x1, y1) = ((x + 1).min(w - 1), (y + 1).min(h - 1));
            drawn[i] || drawn[y * w + x1] || drawn[y1 * w + x] || drawn[y1 * w + x1]
        })
        .collect();
    let fw = frame.width;
    let (bpp, o) = (frame.format.bytes_per_pixel(), frame.format.rgb_offsets());
    // Model outputs reach only the frame pixels inside the model's view (the crop).
    let (rx0, ry0, rx1, ry1) = fit.source_rect(frame.width, frame.height);
    // The letterbox maps x and y apart: a column's taps serve every row.
    let columns: Vec<Tap> = (rx0..rx1).map(|x| Tap::new(fit.to_model(x as f32 + 0.5, 0.0).0, w)).collect();
    frame.data.par_chunks_mut(frame.stride).enumerate().skip(ry0).take(ry1.saturating_sub(ry0)).for_each(|(y, row)| {
        let my = fit.to_model(0.0, y as f32 + 0.5).1;
        let ty = Tap::new(my, h);
        for (x, &tx) in (rx0..rx1).zip(&columns) {
            // The four model pixels around this one: none with a layer to draw, nothing to do.
            if !near[ty.i0 * w + tx.i0] {
                continue;
            }
            let at = |field: &[f32]| bilinear(field, w, tx, ty);
            let mut px: [f32; 3] = std::array::from_fn(|c| row[x * bpp + o[c]] as f32);
            if layers.fill {
                let a = at(&uncovered);
                if a > 0.0 {
                    let colour: [f32; 3] = match background {
                        Some(bg) => std::array::from_fn(|c| bg.data[(y * fw + x) * 3 + c] as f32),
                        None => std::array::from_fn(|c| at(&fill[c])),
                    };
                    for c in 0..3 {
                        px[c] += (colour[c] - px[c]) * a;
                    }
                }
            }
            if layers.skin {
                let a = at(&new_skin);
                if a > 0.0 {
                    // A's own skin where A had skin; the regrown arm elsewhere.
                    let own = at(&old_skin);
                    if let Some(r) = &regrown {
                        for c in 0..3 {
                            let colour = at(&r[c]) * (1.0 - own) + px[c] * own;
                            px[c] += (colour - px[c]) * a;
                        }
                    }
                }
            }
            if layers.garment {
                let a = at(&new_garment);
                if a > 0.0 {
                    // The flow is a grid over B's model input: follow it to B's full-resolution photo.
                    let (gx, gy) = (at(flow_x), at(flow_y));
                    let (bx, by) = reference.fit.to_source((gx + 1.0) * 0.5 * w as f32, (gy + 1.0) * 0.5 * h as f32);
                    let colour = reference.image.sample(bx, by);
                    for c in 0..3 {
                        px[c] += (colour[c] - px[c]) * a;
                    }
                }
            }
            for c in 0..3 {
                row[x * bpp + o[c]] = px[c].round().clamp(0.0, 255.0) as u8;
            }
        }
    });
}

/// Colours of the parsing groups for the debugging outputs.
pub const GROUP_COLOURS: [[u8; 3]; 7] =
    [[0, 0, 0], [254, 0, 0], [0, 0, 254], [51, 169, 220], [254, 85, 0], [0, 85, 85], [85, 254, 169]];

/// Paint a model-resolution parsing over the frame (nearest model pixel).
pub fn draw_parsing(frame: &mut RgbImage, fit: &Letterbox, parsing: &[u8]) {
    let fw = frame.width;
    let (rx0, ry0, rx1, ry1) = fit.source_rect(frame.width, frame.height);
    frame.data.par_chunks_mut(fw * 3).enumerate().skip(ry0).take(ry1.saturating_sub(ry0)).for_each(|(y, row)| {
        for x in rx0..rx1 {
            let (mx, my) = fit.to_model(x as f32 + 0.5, y as f32 + 0.5);
            let (mx, my) = ((mx as usize).min(fit.width - 1), (my as usize).min(fit.height - 1));
            let colour = GROUP_COLOURS[parsing[my * fit.width + mx] as usize % 7];
            row[x * 3..x * 3 + 3].copy_from_slice(&colour);
        }
    });
}

/// A two-pixel frame around `(x0, y0, x1, y1)` (end exclusive).
pub fn draw_box(frame: &mut FrameMut, (x0, y0, x1, y1): (usize, usize, usize, usize), colour: [u8; 3]) {
    let (bpp, o) = (frame.format.bytes_per_pixel(), frame.format.rgb_offsets());
    let mut put = |x: usize, y: usize| {
        if x < frame.width && y < frame.height {
            let i = y * frame.stride + x * bpp;
            for c in 0..3 {
                frame.data[i + o[c]] = colour[c];
            }
        }
    };
    for t in 0..2 {
        for x in x0..x1 {
            put(x, y0 + t);
            put(x, (y1.max(1) - 1).saturating_sub(t));
        }
        for y in y0..y1 {
            put(x0 + t, y);
            put((x1.max(1) - 1).saturating_sub(t), y);
        }
    }
}

/// Input and output side by side in one frame of the same size: each at half scale, centred.
pub fn side_by_side(input: &RgbImage, output: &RgbImage) -> RgbImage {
    let (w, h) = (input.width, input.height);
    let mut out = RgbImage { width: w, height: h, data: vec![0; w * h * 3] };
    let half_w = w / 2;
    let top = (h - h / 2) / 2;
    for (k, img) in [input, output].into_iter().enumerate() {
        for y in 0..h / 2 {
            for x in 0..half_w {
                let p = img.sample((x as f32 + 0.5) * 2.0, (y as f32 + 0.5) * 2.0);
                let d = ((top + y) * w + k * half_w + x) * 3;
                for c in 0..3 {
                    out.data[d + c] = p[c].round() as u8;
                }
            }
        }
    }
    out
}
