//! The composite of `composite.rs` as a graph of its own, for the CUDA path (DESIGN.md section
//! 4, "Where it runs"): the frame's pixels inside the model's view go to the device once, as
//! bytes, are composited there at full resolution, and come back once, as bytes. The
//! reference's garment photo goes once per reference and stays.
//!
//! The graph computes what `composite::composite` computes, byte for byte (the start-up check
//! and a test hold it to that): the same bilinear taps per frame row and column, read column
//! first as the host reads them; the same hard layers where the four model pixels around agree
//! and interpolated probabilities on an edge; the fill, regrown skin and garment blended in the
//! same order; round half away from zero. Where the host skips a pixel (no layer to draw) the
//! graph blends it with weight zero, which leaves its bytes as they were. The fill's push-pull
//! stays on the host, at model resolution: it is a pyramid of dependent passes over a small map.

use ndarray::{Array3, Array4, ArrayView3, Axis};
use ort::memory::AllocationDevice;
use ort::session::Session;
use ort::value::{Tensor, TensorRef};

use crate::composite::{ALL_LAYERS, Transfer, composite, fill_colour, regrown_colour};
use crate::contract::ParsingGroup;
use crate::frame::{FrameMut, Letterbox, PixelFormat, RgbImage};
use crate::glue::{float_scalar, int, int64s, model_bytes, node_outputs};
use crate::maps::Parsing;
use crate::models::{ModelError, Runs, graph_session};
use crate::proto::{Dimension, GraphProto, TensorShapeProto, TypeProto, TypeProtoTensor, ValueInfoProto, data_type, dimension};
use crate::reference::Reference;
use crate::runtime::with_log;

/// What the file name is in errors.
const WHAT: &str = "composite (the element's glue graph)";

/// The model-resolution maps the graph reads, planes of one `[MAPS, H, W]` input.
const LABELS: usize = 0; // old, new group ids
const PROBABILITIES: usize = 2; // old garment, old skin, new garment, new skin
const FILL: usize = 6; // RGB bytes
const REGROWN: usize = 9; // RGB bytes
const FLOW: usize = 12; // x, y
const MAPS: usize = 14;

/// The composite graph for models of `h` x `w`, as ONNX bytes. Inputs: `frame` the crop's bytes
/// `[rows, cols, bytes per pixel]`; `channels` where R, G and B are in a pixel `[3]`; `row_at`
/// and `column_at` each crop row's and column's model coordinate; `maps` `[14, H, W]`;
/// `regrown_on` `[1]` (0: no regrown skin this frame); `garment_photo` the reference's
/// `[height, width, 3]`; `reference_fit` its letterbox `[offset x, offset y, scale]`. Output:
/// `composited`, the crop's bytes.
pub fn model(h: usize, w: usize) -> Vec<u8> {
    let g = Builder::default();
    let (garment, skin) = (ParsingGroup::UpperGarment.id() as f32, ParsingGroup::UpperSkin.id() as f32);

    // The taps of `Tap::new`: clamped to the map, the two pixels and the second's weight.
    let taps = |g: &Builder, at: &str, n: usize| -> [String; 3] {
        let f = g.op("Sub", &[at, &g.scalar(0.5)], vec![]);
        let f = g.op("Clip", &[&f, &g.scalar(0.0), &g.scalar((n - 1) as f32)], vec![]);
        let i0 = g.op("Floor", &[&f], vec![]);
        let a = g.op("Sub", &[&f, &i0], vec![]);
        let i0 = g.index(&i0, n);
        let i1 = g.op("Add", &[&i0, &g.int_scalar(1)], vec![]);
        let i1 = g.op("Min", &[&i1, &g.int_scalar(n as i64 - 1)], vec![]);
        [i0, i1, a]
    };
    let [x0, x1, ax] = taps(&g, "column_at", w);
    let [y0, y1, ay] = taps(&g, "row_at", h);
    let ay = g.op("Unsqueeze", &[&ay, &g.ints(&[1])], vec![]);

    // Columns first, then rows, as `maps::bilinear` weighs them.
    let left = g.op("Gather", &["maps", &x0], vec![int("axis", 2)]);
    let right = g.op("Gather", &["maps", &x1], vec![int("axis", 2)]);
    let across = g.lerp(&left, &right, &ax);
    let top = g.op("Gather", &[&across, &y0], vec![int("axis", 1)]);
    let bottom = g.op("Gather", &[&across, &y1], vec![int("axis", 1)]);
    let at = g.lerp(&top, &bottom, &ay);
    let planes = g.split(&at, &[2, 4, 3, 3, 2]);
    let [_, probabilities, fill, regrown, flow] = planes.each_ref();
    let p = g.split(probabilities, &[1, 1, 1, 1]);

    // The parsings' groups at the four model pixels around: settled where they agree.
    let labels = |g: &Builder, side: &str| -> Vec<String> {
        let column = g.op("Gather", &["maps", side], vec![int("axis", 2)]);
        let column = g.op("Slice", &[&column, &g.ints(&[LABELS as i64]), &g.ints(&[LABELS as i64 + 2]), &g.ints(&[0])], vec![]);
        [&y0, &y1].map(|row| g.op("Gather", &[&column, row], vec![int("axis", 1)])).to_vec()
    };
    let (l, r) = (labels(&g, &x0), labels(&g, &x1));
    let corners = [&l[0], &r[0], &l[1], &r[1]];
    let same = (1..4).map(|k| g.op("Equal", &[corners[0], corners[k]], vec![])).collect::<Vec<_>>();
    let settled = g.op("And", &[&same[0], &same[1]], vec![]);
    let settled = g.op("And", &[&settled, &same[2]], vec![]);
    // Hard layers only where both parsings are settled, as the host takes them.
    let [old_settled, new_settled] = g.split(&settled, &[1, 1]);
    let settled = g.op("And", &[&old_settled, &new_settled], vec![]);
    let group = g.split(corners[0], &[1, 1]);
    // Layer weights: 0 or 1 where settled, the interpolated probability on an edge.
    let weight = |g: &Builder, side: usize, id: f32, probability: &str| -> String {
        let is = g.op("Equal", &[&group[side], &g.scalar(id)], vec![]);
        let hard = g.op("Cast", &[&is], vec![int("to", data_type::FLOAT as i64)]);
        g.op("Where", &[&settled, &hard, probability], vec![])
    };
    let old_garment = weight(&g, 0, garment, &p[0]);
    let old_skin = weight(&g, 0, skin, &p[1]);
    let new_garment = weight(&g, 1, garment, &p[2]);
    let new_skin = weight(&g, 1, skin, &p[3]);
    let uncovered = g.op("Sub", &[&old_garment, &new_garment], vec![]);
    let uncovered = g.op("Sub", &[&uncovered, &new_skin], vec![]);
    let uncovered = g.op("Clip", &[&uncovered, &g.scalar(0.0), &g.scalar(1.0)], vec![]);
    let not_old_skin = g.op("Sub", &[&g.scalar(1.0), &old_skin], vec![]);
    let regrown_share = g.op("Mul", &[&new_skin, &not_old_skin], vec![]);

    // The garment: the flow's place in B's model input, in B's full-resolution photo.
    let xy = g.split(flow, &[1, 1]);
    let fit = g.split("reference_fit", &[1, 1, 1]);
    let photo_at = |g: &Builder, v: &str, n: usize, offset: &str| -> String {
        let m = g.op("Add", &[v, &g.scalar(1.0)], vec![]);
        let m = g.op("Mul", &[&m, &g.scalar(0.5)], vec![]);
        let m = g.op("Mul", &[&m, &g.scalar(n as f32)], vec![]);
        let m = g.op("Sub", &[&m, offset], vec![]);
        g.op("Div", &[&m, &fit[2]], vec![])
    };
    let (bx, by) = (photo_at(&g, &xy[0], w, &fit[0]), photo_at(&g, &xy[1], h, &fit[1]));
    let colour = g.sample_photo(&bx, &by);

    // The frame's RGB, blended layer after layer as the host does, rounded half away from zero.
    let rgb = g.op("Gather", &["frame", "channels"], vec![int("axis", 2)]);
    let rgb = g.op("Transpose", &[&rgb], vec![g.perm(&[2, 0, 1])]);
    let mut px = g.op("Cast", &[&rgb], vec![int("to", data_type::FLOAT as i64)]);
    // The host draws a pixel only where the layers' shares add up to more than nothing (the
    // regrown skin's counted whether R ran or not), and each layer only where its share is
    // positive.
    let total = g.op("Add", &[&uncovered, &regrown_share], vec![]);
    let total = g.op("Add", &[&total, &new_garment], vec![]);
    let drawn = g.op("Greater", &[&total, &g.scalar(0.0)], vec![]);
    let regrown_share = g.op("Mul", &[&regrown_share, "regrown_on"], vec![]);
    for (layer, share) in [(fill, &uncovered), (regrown, &regrown_share), (&colour, &new_garment)] {
        let share = g.op("Max", &[share, &g.scalar(0.0)], vec![]);
        let share = g.op("Where", &[&drawn, &share, &g.scalar(0.0)], vec![]);
        let towards = g.op("Sub", &[layer, &px], vec![]);
        let step = g.op("Mul", &[&towards, &share], vec![]);
        px = g.op("Add", &[&px, &step], vec![]);
    }
    let px = g.op("Add", &[&px, &g.scalar(0.5)], vec![]);
    let px = g.op("Floor", &[&px], vec![]);
    let px = g.op("Clip", &[&px, &g.scalar(0.0), &g.scalar(255.0)], vec![]);
    let px = g.op("Cast", &[&px], vec![int("to", data_type::UINT8 as i64)]);
    let px = g.op("Transpose", &[&px], vec![g.perm(&[1, 2, 0])]);
    let shape = g.op("Shape", &[&px], vec![]);
    let at = g.op("Expand", &["channels", &shape], vec![]);
    g.node("ScatterElements", &["frame", &at, &px], &["composited"], vec![int("axis", 2)]);

    let dim = |d: &str| Dimension { value: Some(dimension::Value::DimParam(d.into())) };
    let fixed = |d: usize| Dimension { value: Some(dimension::Value::DimValue(d as i64)) };
    let value = |name: &str, ty: i32, dims: Vec<Dimension>| ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto { tensor_type: Some(TypeProtoTensor { elem_type: ty, shape: Some(TensorShapeProto { dim: dims }) }) }),
    };
    let (u8, f32, i64) = (data_type::UINT8, data_type::FLOAT, data_type::INT64);
    let mut graph = g.graph.into_inner();
    graph.name = "composite".into();
    graph.input = vec![
        value("frame", u8, vec![dim("rows"), dim("cols"), dim("bytes")]),
        value("channels", i64, vec![fixed(3)]),
        value("row_at", f32, vec![dim("rows")]),
        value("column_at", f32, vec![dim("cols")]),
        value("maps", f32, vec![fixed(MAPS), fixed(h), fixed(w)]),
        value("regrown_on", f32, vec![fixed(1)]),
        value("garment_photo", u8, vec![dim("photo_rows"), dim("photo_cols"), fixed(3)]),
        value("reference_fit", f32, vec![fixed(3)]),
    ];
    graph.output = vec![value("composited", u8, vec![dim("rows"), dim("cols"), dim("bytes")])];
    model_bytes(graph)
}

/// A graph written node by node, each output named after its node.
#[derive(Default)]
struct Builder {
    graph: std::cell::RefCell<GraphProto>,
    names: std::cell::Cell<usize>,
}

impl Builder {
    fn fresh(&self, what: &str) -> String {
        self.names.set(self.names.get() + 1);
        format!("{what}_{}", self.names.get())
    }

    fn node(&self, op: &str, inputs: &[&str], outputs: &[&str], attributes: Vec<crate::proto::AttributeProto>) {
        self.graph.borrow_mut().node.push(node_outputs(op, inputs, outputs, attributes));
    }

    /// One node of one output; its name.
    fn op(&self, op: &str, inputs: &[&str], attributes: Vec<crate::proto::AttributeProto>) -> String {
        let out = self.fresh(&op.to_lowercase());
        self.node(op, inputs, &[&out], attributes);
        out
    }

    fn scalar(&self, v: f32) -> String {
        let name = self.fresh("constant");
        self.graph.borrow_mut().initializer.push(float_scalar(&name, v));
        name
    }

    fn int_scalar(&self, v: i64) -> String {
        let name = self.fresh("constant");
        self.graph.borrow_mut().initializer.push(int64s(&name, vec![], vec![v]));
        name
    }

    fn ints(&self, v: &[i64]) -> String {
        let name = self.fresh("constant");
        self.graph.borrow_mut().initializer.push(int64s(&name, vec![v.len() as i64], v.to_vec()));
        name
    }

    fn perm(&self, perm: &[i64]) -> crate::proto::AttributeProto {
        crate::proto::AttributeProto { name: "perm".into(), ints: perm.to_vec(), r#type: crate::proto::attribute_type::INTS, ..Default::default() }
    }

    /// A float coordinate as an index into `n` pixels, clamped: a NaN from a broken flow reads
    /// a pixel of the picture, never outside it.
    fn index(&self, f: &str, n: usize) -> String {
        let i = self.op("Cast", &[f], vec![int("to", data_type::INT64 as i64)]);
        self.op("Clip", &[&i, &self.int_scalar(0), &self.int_scalar(n as i64 - 1)], vec![])
    }

    /// `a + (b - a) * t` as the host writes a bilinear step: `a * (1 - t) + b * t`.
    fn lerp(&self, a: &str, b: &str, t: &str) -> String {
        let keep = self.op("Sub", &[&self.scalar(1.0), t], vec![]);
        let a = self.op("Mul", &[a, &keep], vec![]);
        let b = self.op("Mul", &[b, t], vec![]);
        self.op("Add", &[&a, &b], vec![])
    }

    /// `v` split along its first axis into pieces of these sizes.
    fn split<const N: usize>(&self, v: &str, sizes: &[i64; N]) -> [String; N] {
        let outs: [String; N] = std::array::from_fn(|_| String::new()).map(|_: String| self.fresh("piece"));
        let sizes = self.ints(sizes);
        let refs: Vec<&str> = outs.iter().map(String::as_str).collect();
        self.node("Split", &[v, &sizes], &refs, vec![int("axis", 0)]);
        outs
    }

    /// `RgbImage::sample` of the garment photo at `x`, `y` (`[1, rows, cols]` each): `[3, rows, cols]`.
    fn sample_photo(&self, x: &str, y: &str) -> String {
        let shape = self.op("Shape", &["garment_photo"], vec![]);
        let side = |g: &Builder, axis: i64| -> (String, String) {
            let n = g.op("Gather", &[&shape, &g.int_scalar(axis)], vec![int("axis", 0)]);
            let last = g.op("Sub", &[&n, &g.int_scalar(1)], vec![]);
            let last_f = g.op("Cast", &[&last], vec![int("to", data_type::FLOAT as i64)]);
            (last, last_f)
        };
        let ((last_y, last_y_f), (last_x, last_x_f)) = (side(self, 0), side(self, 1));
        let width = self.op("Add", &[&last_x, &self.int_scalar(1)], vec![]);
        let taps = |g: &Builder, v: &str, last: &str, last_f: &str| -> [String; 3] {
            let f = g.op("Sub", &[v, &g.scalar(0.5)], vec![]);
            let f = g.op("Clip", &[&f, &g.scalar(0.0), last_f], vec![]);
            let i0 = g.op("Floor", &[&f], vec![]);
            let a = g.op("Sub", &[&f, &i0], vec![]);
            let i0 = g.op("Cast", &[&i0], vec![int("to", data_type::INT64 as i64)]);
            let i0 = g.op("Clip", &[&i0, &g.int_scalar(0), last], vec![]);
            let i1 = g.op("Add", &[&i0, &g.int_scalar(1)], vec![]);
            let i1 = g.op("Min", &[&i1, last], vec![]);
            // Weights beside the pixel's three channels.
            let a = g.op("Unsqueeze", &[&a, &g.ints(&[3])], vec![]);
            [i0, i1, a]
        };
        let [x0, x1, ax] = taps(self, x, &last_x, &last_x_f);
        let [y0, y1, ay] = taps(self, y, &last_y, &last_y_f);
        let pixels = self.op("Reshape", &["garment_photo", &self.ints(&[-1, 3])], vec![]);
        let read = |g: &Builder, yi: &str, xi: &str| -> String {
            let row = g.op("Mul", &[yi, &width], vec![]);
            let i = g.op("Add", &[&row, xi], vec![]);
            let p = g.op("Gather", &[&pixels, &i], vec![int("axis", 0)]);
            g.op("Cast", &[&p], vec![int("to", data_type::FLOAT as i64)])
        };
        let (p00, p01, p10, p11) = (read(self, &y0, &x0), read(self, &y0, &x1), read(self, &y1, &x0), read(self, &y1, &x1));
        let top = self.lerp(&p00, &p01, &ax);
        let bottom = self.lerp(&p10, &p11, &ax);
        let colour = self.lerp(&top, &bottom, &ay);
        // [1, rows, cols, 3] -> [3, rows, cols]
        let colour = self.op("Squeeze", &[&colour, &self.ints(&[0])], vec![]);
        self.op("Transpose", &[&colour], vec![self.perm(&[2, 0, 1])])
    }
}

/// The composite graph's session, and the reference photo it holds.
pub struct DeviceComposite {
    session: Session,
    /// On CUDA: the device the session runs on, where the photo is held.
    cuda: Option<i32>,
    /// The reference whose garment photo `photo` is, and the photo as the session reads it.
    photo: Option<(u64, Tensor<u8>)>,
    nodes: u64,
    h: usize,
    w: usize,
}

impl DeviceComposite {
    /// The graph for models of `h` x `w` in a session on `cuda` (none: the CPU), checked at
    /// once against the host's composite on a made-up frame: a device whose graph does not
    /// give the host's bytes is refused here, not found out on the first frame.
    pub fn open(h: usize, w: usize, cuda: Option<i32>) -> Result<DeviceComposite, ModelError> {
        let bytes = model(h, w);
        let session = graph_session(&bytes, WHAT, cuda)?;
        let nodes = crate::proto::node_count(&bytes).unwrap_or(0) as u64;
        let mut composite = DeviceComposite { session, cuda, photo: None, nodes, h, w };
        let check = |why: String| ModelError::Run { model: WHAT.into(), why: format!("start-up check: {why}") };
        let probe = Probe::new(h, w);
        let (host, device) = probe.both(&mut composite).map_err(check)?;
        if let Some(i) = host.iter().zip(&device).position(|(a, b)| a != b) {
            return Err(check(format!("byte {i} of the made-up frame is {} on the device, {} on the host", device[i], host[i])));
        }
        Ok(composite)
    }

    /// `composite::composite` with all layers and no background plate, on the session's device.
    /// Returns the cost of the run, as `Models::take_runs` counts a model's (ONNX Runtime's time:
    /// the run with its copies to and from the device).
    pub fn run(&mut self, frame: &mut FrameMut, fit: &Letterbox, t: &Transfer, reference: &Reference) -> Result<Runs, ModelError> {
        let fail = |why: String| ModelError::Run { model: WHAT.into(), why };
        let (rx0, ry0, rx1, ry1) = fit.source_rect(frame.width, frame.height);
        if rx1 <= rx0 || ry1 <= ry0 {
            return Ok(Runs::default());
        }
        let (bpp, (rows, cols)) = (frame.format.bytes_per_pixel(), (ry1 - ry0, rx1 - rx0));
        let mut crop = Array3::<u8>::zeros((rows, cols, bpp));
        for (y, mut out) in crop.axis_iter_mut(Axis(0)).enumerate() {
            let at = (ry0 + y) * frame.stride + rx0 * bpp;
            out.as_slice_mut().expect("a fresh array is contiguous").copy_from_slice(&frame.data[at..at + cols * bpp]);
        }
        let channels = ndarray::Array1::from_iter(frame.format.rgb_offsets().map(|o| o as i64));
        let row_at = ndarray::Array1::from_iter((ry0..ry1).map(|y| fit.to_model(0.0, y as f32 + 0.5).1));
        let column_at = ndarray::Array1::from_iter((rx0..rx1).map(|x| fit.to_model(x as f32 + 0.5, 0.0).0));
        let maps = self.maps(t);
        let regrown_on = ndarray::Array1::from_elem(1, if t.regrown.is_some() { 1.0f32 } else { 0.0 });
        let f = reference.fit;
        let reference_fit = ndarray::Array1::from_vec(vec![f.offset_x, f.offset_y, f.scale]);
        let mut bytes_in = (crop.len() + maps.len() * 4 + (rows + cols + 4) * 4 + 24) as u64;
        if self.photo.as_ref().is_none_or(|(id, _)| *id != reference.id) {
            let p = &reference.garment_photo;
            bytes_in += p.data.len() as u64;
            let photo = photo_tensor(p, self.cuda).map_err(fail)?;
            self.photo = Some((reference.id, photo));
        }
        let photo = &self.photo.as_ref().expect("held above").1;
        let e = |e: ort::Error| fail(e.to_string());
        let ran;
        let composited = {
            let inputs = ort::inputs![
                "frame" => TensorRef::from_array_view(crop.view()).map_err(e)?,
                "channels" => TensorRef::from_array_view(channels.view()).map_err(e)?,
                "row_at" => TensorRef::from_array_view(row_at.view()).map_err(e)?,
                "column_at" => TensorRef::from_array_view(column_at.view()).map_err(e)?,
                "maps" => TensorRef::from_array_view(maps.view()).map_err(e)?,
                "regrown_on" => TensorRef::from_array_view(regrown_on.view()).map_err(e)?,
                "garment_photo" => photo,
                "reference_fit" => TensorRef::from_array_view(reference_fit.view()).map_err(e)?,
            ];
            let start = std::time::Instant::now();
            let outputs = with_log(|| self.session.run(inputs)).map_err(e)?;
            ran = (start, std::time::Instant::now());
            let out = outputs["composited"].try_extract_array::<u8>().map_err(e)?;
            if out.shape() != crop.shape() {
                return Err(fail(format!("output has shape {:?}, expected {:?}", out.shape(), crop.shape())));
            }
            out.to_owned().into_dimensionality::<ndarray::Ix3>().map_err(|e| fail(e.to_string()))?
        };
        write_back(frame, &composited.view(), rx0, ry0);
        let (start, end) = ran;
        Ok(Runs { count: 1, ort: end - start, bytes_in, bytes_out: composited.len() as u64, nodes: self.nodes, last_end: Some(end) })
    }

    /// The `[MAPS, H, W]` planes the graph reads.
    fn maps(&self, t: &Transfer) -> Array3<f32> {
        let (h, w) = (self.h, self.w);
        let n = h * w;
        let mut maps = Array3::<f32>::zeros((MAPS, h, w));
        let mut plane = |k: usize, values: &mut dyn Iterator<Item = f32>| {
            for (v, x) in maps.index_axis_mut(Axis(0), k).iter_mut().zip(values) {
                *v = x;
            }
        };
        let (garment, skin) = (ParsingGroup::UpperGarment.id(), ParsingGroup::UpperSkin.id());
        for (k, parsing) in [&t.old_parsing, &t.new_parsing].into_iter().enumerate() {
            plane(LABELS + k, &mut parsing.labels().iter().map(|&g| g as f32));
            for (j, g) in [garment, skin].into_iter().enumerate() {
                plane(PROBABILITIES + 2 * k + j, &mut parsing.plane(g).iter().copied());
            }
        }
        for (c, values) in fill_colour(t, ALL_LAYERS, None).iter().enumerate() {
            plane(FILL + c, &mut values.iter().copied());
        }
        if let Some(regrown) = regrown_colour(t) {
            for (c, values) in regrown.iter().enumerate() {
                plane(REGROWN + c, &mut values.iter().copied());
            }
        }
        let flow = t.flow.as_slice().expect("model outputs are in standard layout");
        for c in 0..2 {
            plane(FLOW + c, &mut flow[c * n..(c + 1) * n].iter().copied());
        }
        maps
    }
}

/// The reference's garment photo as the session reads it: on CUDA, copied to the device once.
fn photo_tensor(p: &RgbImage, cuda: Option<i32>) -> Result<Tensor<u8>, String> {
    let host = Tensor::from_array(Array3::from_shape_vec((p.height, p.width, 3), p.data.clone()).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    match cuda {
        Some(device) => with_log(|| host.to(AllocationDevice::CUDA, device)).map_err(|e| e.to_string()),
        None => Ok(host),
    }
}

/// The composited crop's rows into the frame at `(x0, y0)`.
fn write_back(frame: &mut FrameMut, crop: &ArrayView3<u8>, x0: usize, y0: usize) {
    let bpp = frame.format.bytes_per_pixel();
    for (y, row) in crop.axis_iter(Axis(0)).enumerate() {
        let at = (y0 + y) * frame.stride + x0 * bpp;
        let dst = &mut frame.data[at..at + row.len()];
        match row.as_slice() {
            Some(src) => dst.copy_from_slice(src),
            None => dst.iter_mut().zip(row.iter()).for_each(|(d, s)| *d = *s),
        }
    }
}

/// A made-up frame and transfer with every case of the composite in it: settled and edge
/// pixels of every group, regrown skin, a flow reaching past the photo's edges, a frame with
/// padding at the end of its rows and a crop that is not all of it.
struct Probe {
    frame: Vec<u8>,
    width: usize,
    height: usize,
    stride: usize,
    fit: Letterbox,
    old: (Array4<f32>, Vec<u8>),
    new: (Array4<f32>, Vec<u8>),
    input: Array4<f32>,
    flow: Array4<f32>,
    regrown: Array4<f32>,
    reference: Reference,
}

impl Probe {
    fn new(h: usize, w: usize) -> Probe {
        let mut seed = 0x5eed_u64;
        let mut noise = move || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 40) as f32 / (1u64 << 24) as f32
        };
        // Parsings in blocks of model pixels, so that most pixels are settled and blocks meet at edges.
        let parsing = |noise: &mut dyn FnMut() -> f32| {
            let block: Vec<u8> = (0..64).map(|_| (noise() * 7.0) as u8).collect();
            let mut p = Array4::from_shape_fn((1, 7, h, w), |_| noise() * 0.5);
            let labels: Vec<u8> = (0..h * w).map(|i| block[((i / w) / 3 % 8) * 8 + (i % w) / 3 % 8]).collect();
            for (i, &g) in labels.iter().enumerate() {
                p[[0, g as usize, i / w, i % w]] += 1.0;
            }
            let labels = crate::maps::argmax(&p.view());
            (p, labels)
        };
        let old = parsing(&mut noise);
        let new = parsing(&mut noise);
        let input = Array4::from_shape_fn((1, 3, h, w), |_| noise() * 2.0 - 1.0);
        let flow = Array4::from_shape_fn((1, 2, h, w), |_| noise() * 2.6 - 1.3);
        let regrown = Array4::from_shape_fn((1, 3, h, w), |_| noise() * 2.0 - 1.0);
        let (width, height) = (w * 3 + 5, h * 2 + 3);
        let stride = width * 4 + 8;
        let frame = (0..stride * height).map(|_| (noise() * 256.0) as u8).collect();
        // A crop narrower than the frame, reaching past its top.
        let fit = Letterbox { scale: 0.6, offset_x: -20.0, offset_y: 2.5, width: w, height: h };
        let photo = RgbImage { width: w * 2 + 1, height: h * 2 - 1, data: (0..(w * 2 + 1) * (h * 2 - 1) * 3).map(|_| (noise() * 256.0) as u8).collect() };
        let reference = Reference {
            id: u64::MAX,
            path: "composite start-up check".into(),
            fit: Letterbox::new(photo.width, photo.height, w, h),
            garment_photo: photo,
            parsing: vec![],
            garment: Array4::zeros((1, 3, 1, 1)),
            garment_mask: Array4::zeros((1, 1, 1, 1)),
            pose: Array4::zeros((1, 1, 1, 1)),
        };
        Probe { frame, width, height, stride, fit, old, new, input, flow, regrown, reference }
    }

    fn transfer(&self) -> Transfer<'_> {
        Transfer {
            old_parsing: Parsing::new(&self.old.0, &self.old.1),
            new_parsing: Parsing::new(&self.new.0, &self.new.1),
            model_input: &self.input,
            flow: &self.flow,
            regrown: Some(&self.regrown),
        }
    }

    fn view<'a>(&self, data: &'a mut [u8]) -> FrameMut<'a> {
        FrameMut { data, width: self.width, height: self.height, stride: self.stride, format: PixelFormat::Bgrx }
    }

    /// The frame composited on the host and through `device`.
    fn both(&self, device: &mut DeviceComposite) -> Result<(Vec<u8>, Vec<u8>), String> {
        let (mut host, mut on_device) = (self.frame.clone(), self.frame.clone());
        composite(&mut self.view(&mut host), &self.fit, &self.transfer(), &self.reference, None, ALL_LAYERS);
        device.run(&mut self.view(&mut on_device), &self.fit, &self.transfer(), &self.reference).map_err(|e| e.to_string())?;
        if host == self.frame {
            return Err("the made-up frame has nothing to composite".into());
        }
        Ok((host, on_device))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn differing(a: &[u8], b: &[u8]) -> usize {
        a.iter().zip(b).filter(|(x, y)| x != y).count()
    }

    #[test]
    fn the_graph_composites_what_the_host_composites_byte_for_byte() {
        let (h, w) = (20, 15);
        let mut device = DeviceComposite::open(h, w, None).expect("the start-up check passes on the CPU");
        let probe = Probe::new(h, w);
        let (host, graph) = probe.both(&mut device).unwrap();
        let changed = host.iter().zip(&probe.frame).filter(|(a, b)| a != b).count();
        assert!(changed > 1000, "{changed} bytes composited");
        assert_eq!(differing(&host, &graph), 0);
        // Without regrown skin, and with a new reference (its photo written again).
        let transfer = Transfer { regrown: None, ..probe.transfer() };
        let mut reference = Reference { id: 7, ..Probe::new(h, w).reference };
        reference.garment_photo.data.iter_mut().for_each(|v| *v = 255 - *v);
        let run = |device: Option<&mut DeviceComposite>| {
            let mut data = probe.frame.clone();
            let mut frame = probe.view(&mut data);
            match device {
                Some(d) => drop(d.run(&mut frame, &probe.fit, &transfer, &reference).unwrap()),
                None => composite(&mut frame, &probe.fit, &transfer, &reference, None, ALL_LAYERS),
            }
            data
        };
        let (host, graph) = (run(None), run(Some(&mut device)));
        assert_ne!(host, probe.frame);
        assert_eq!(differing(&host, &graph), 0);
    }
}
