//! Compositing at the frame's own resolution (DESIGN.md section 4, step 6): the new garment,
//! wherever S_P puts it, sampled through the upsampled flow from the full-resolution reference
//! with everything but its garment painted over (`Reference::garment_photo`, so the flow
//! cannot bring B's arm or background along; S_W's warped mask is not needed), upper-body skin (A's
//! own where A had skin, regrown elsewhere), a fill where the old garment is uncovered, and
//! the frame everywhere else. A frame pixel whose four model pixels agree on the old and new
//! parsing groups takes their layers whole; on an edge, the groups' probabilities interpolated
//! at its place weigh the layers (`maps::Parsing`), which feathers the edge over about one model
//! pixel, where the networks are least sure.

use ndarray::Array4;
use rayon::prelude::*;

use crate::contract::ParsingGroup;
use crate::frame::{FrameMut, Letterbox, RgbImage};
use crate::inputs::byte;
use crate::maps::{Parsing, Tap, bilinear, push_pull};
use crate::reference::Reference;

/// What the networks said about one frame, at model resolution.
pub struct Transfer<'a> {
    /// M_A and M'_A.
    pub old_parsing: Parsing<'a>,
    pub new_parsing: Parsing<'a>,
    /// The frame as the model saw it `[1, 3, H, W]` in [-1, 1].
    pub model_input: &'a Array4<f32>,
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

/// The values of a model-resolution array: every array here comes from a session's output or
/// from `Array4::from_shape_fn`, both in standard layout.
fn standard(a: &Array4<f32>) -> &[f32] {
    a.as_slice().expect("model-resolution arrays are in standard layout")
}

/// The fill's colour at model resolution, planar RGB bytes: the frame as the model saw it,
/// inpainted (push-pull) from what is neither old nor new person where no background plate is
/// given.
pub fn fill_colour(t: &Transfer, layers: Layers, background: Option<&RgbImage>) -> [Vec<f32>; 3] {
    let (_, _, h, w) = t.model_input.dim();
    let n = w * h;
    let (garment, skin) = (ParsingGroup::UpperGarment.id(), ParsingGroup::UpperSkin.id());
    let (old, new) = (t.old_parsing.labels(), t.new_parsing.labels());
    let input = standard(t.model_input);
    let mut fill: [Vec<f32>; 3] = std::array::from_fn(|c| (0..n).map(|i| byte(input[c * n + i])).collect());
    if layers.fill && background.is_none() {
        let known: Vec<f32> = (0..n).map(|i| if old[i] == garment || new[i] == garment || new[i] == skin { 0.0 } else { 1.0 }).collect();
        push_pull(&mut fill, &known, w, h);
    }
    fill
}

/// R's output as planar RGB bytes, when it ran.
pub fn regrown_colour(t: &Transfer) -> Option<[Vec<f32>; 3]> {
    let (_, _, h, w) = t.model_input.dim();
    let n = h * w;
    t.regrown.map(|r| std::array::from_fn(|c| standard(r)[c * n..(c + 1) * n].iter().map(|&v| byte(v)).collect()))
}

/// Composite `t` over `frame`, in place: only the pixels inside the model's view are read and
/// written, each from itself (rows in parallel). `fit` places the frame in the model input;
/// `background` is an optional plate of the empty scene at frame resolution.
pub fn composite(frame: &mut FrameMut, fit: &Letterbox, t: &Transfer, reference: &Reference, background: Option<&RgbImage>, layers: Layers) {
    let (w, h) = (fit.width, fit.height);
    let n = w * h;
    let (garment, skin) = (ParsingGroup::UpperGarment.id(), ParsingGroup::UpperSkin.id());
    let fill = fill_colour(t, layers, background);
    let regrown = regrown_colour(t);
    let flow = standard(t.flow);
    let (flow_x, flow_y) = (&flow[..n], &flow[n..2 * n]);
    // Whether a frame pixel whose old and new groups are these has a layer to draw.
    let drawn = |o: u8, g: u8| (layers.fill && o == garment) || (layers.skin && g == skin) || (layers.garment && g == garment);
    let fw = frame.width;
    let (bpp, o) = (frame.format.bytes_per_pixel(), frame.format.rgb_offsets());
    // Model outputs reach only the frame pixels inside the model's view (the crop).
    let (rx0, ry0, rx1, ry1) = fit.source_rect(frame.width, frame.height);
    // The letterbox maps x and y apart: a column's taps serve every row.
    let columns: Vec<Tap> = (rx0..rx1).map(|x| Tap::new(fit.to_model(x as f32 + 0.5, 0.0).0, w)).collect();
    frame.data.par_chunks_mut(frame.stride).enumerate().skip(ry0).take(ry1.saturating_sub(ry0)).for_each(|(y, row)| {
        let ty = Tap::new(fit.to_model(0.0, y as f32 + 0.5).1, h);
        for (x, &tx) in (rx0..rx1).zip(&columns) {
            let at = |field: &[f32]| bilinear(field, w, tx, ty);
            let settled = t.old_parsing.settled(tx, ty).zip(t.new_parsing.settled(tx, ty));
            // The four model pixels around this one agree on groups with no layer to draw (most
            // of a crop around a person): nothing to do.
            if settled.is_some_and(|(was, is)| !drawn(was, is)) {
                continue;
            }
            // How much of each layer the pixel takes: the old and new garment and skin, hard
            // where the model pixels around agree, their interpolated probabilities on an edge
            // (which feathers it over about one model pixel, where it is least certain).
            let [old_garment, old_skin, new_garment, new_skin] = match settled {
                Some((was, is)) => [was == garment, was == skin, is == garment, is == skin].map(|b| b as u8 as f32),
                None => {
                    let p = |m: &Parsing, g: u8| m.probability(g, tx, ty);
                    [p(&t.old_parsing, garment), p(&t.old_parsing, skin), p(&t.new_parsing, garment), p(&t.new_parsing, skin)]
                }
            };
            // The new garment where S_P puts it; what the old garment leaves uncovered; new
            // skin where A had none, regrown (A's own stays).
            let uncovered = (old_garment - new_garment - new_skin).clamp(0.0, 1.0);
            let regrown_share = new_skin * (1.0 - old_skin);
            if uncovered + regrown_share + new_garment <= 0.0 {
                continue;
            }
            let mut px: [f32; 3] = std::array::from_fn(|c| row[x * bpp + o[c]] as f32);
            if layers.fill {
                let a = uncovered;
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
            if layers.skin
                && regrown_share > 0.0
                && let Some(r) = &regrown
            {
                for c in 0..3 {
                    px[c] += (at(&r[c]) - px[c]) * regrown_share;
                }
            }
            if layers.garment {
                let a = new_garment;
                if a > 0.0 {
                    // The flow is a grid over B's model input: follow it to B's full-resolution photo.
                    let (gx, gy) = (at(flow_x), at(flow_y));
                    let (bx, by) = reference.fit.to_source((gx + 1.0) * 0.5 * w as f32, (gy + 1.0) * 0.5 * h as f32);
                    let colour = reference.garment_photo.sample(bx, by);
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

/// Paint a parsing over the frame, read at frame resolution.
pub fn draw_parsing(frame: &mut RgbImage, fit: &Letterbox, parsing: &Parsing) {
    let fw = frame.width;
    let (rx0, ry0, rx1, ry1) = fit.source_rect(frame.width, frame.height);
    frame.data.par_chunks_mut(fw * 3).enumerate().skip(ry0).take(ry1.saturating_sub(ry0)).for_each(|(y, row)| {
        for x in rx0..rx1 {
            let (mx, my) = fit.to_model(x as f32 + 0.5, y as f32 + 0.5);
            let colour = GROUP_COLOURS[parsing.at(Tap::new(mx, fit.width), Tap::new(my, fit.height)) as usize % 7];
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
