//! [`Tracer`]: the [`Graph`] that writes ONNX nodes instead of computing. It tracks static
//! shapes (batch 1, the batch axis stays dynamic in the file) and counts multiply-accumulates of
//! every convolution, the way the paper's Table 2 counts FLOPs.

use std::collections::HashMap;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, PaddingConfig2d};
use burn::tensor::Tensor;

use super::proto::{AttributeProto, NodeProto, TensorProto, attribute_type, data_type};
use crate::nn::graph::{Graph, stack_shifts};

/// A GridSample of at least this many channels is written for ONNX Runtime's planned sampling
/// (`Tracer::grid_sample`): measured at 128x96 and 64x48 on 2 threads, 0.20-0.25x the time for
/// 25 and 48 channels, 1.1-1.8x for 3 and 1.
const PLANNED_SAMPLE_CHANNELS: usize = 8;

/// A traced value: its name in the graph and its shape at batch 1.
#[derive(Debug, Clone)]
pub struct Value {
    pub name: String,
    pub dims: [usize; 4],
}

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum TraceError {
    #[error("no ONNX export for {op}: {why}")]
    Unsupported { op: String, why: String },
    #[error("cannot read the weights of {what}: {why}")]
    Weights { what: String, why: String },
}

/// How the tracer writes a local correlation. All three compute the same numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CorrelationForm {
    /// Matrix products of row bands (the default). For a row `y` and a vertical displacement
    /// `dy`, the `W x C` features of `a`'s row times the `C x (W + 2d)` features of `b`'s padded
    /// row `y + dy` give the products of every pair of columns; the correlation keeps the
    /// `2d + 1` diagonals `x + dx` (one Gather). That is `(W + 2d) / (2d + 1)` times the
    /// multiply-adds of the shifts, done as a few large matrix products, instead of writing and
    /// reading `(2d+1)^2` copies of `b` and of the products: the memory traffic was the cost.
    #[default]
    Banded,
    /// The `(2d+1)^2` shifts of `b` stacked once, one multiply and one mean per correlation (the
    /// exporter's second form; what training computes).
    Stacked,
    /// Every shift sliced, multiplied and averaged on its own (the exporter's first form).
    Sliced,
}

#[derive(Default)]
pub struct Tracer {
    pub nodes: Vec<NodeProto>,
    pub initializers: Vec<TensorProto>,
    /// Multiply-accumulates of convolutions at batch 1.
    pub macs: u64,
    /// The first problem met; tracing goes on so the graph stays well formed, export fails.
    pub error: Option<TraceError>,
    /// Every weight initializer in the order written, with the parameter it holds: what reading
    /// the weights of an exported file back into a network goes by (`import`).
    pub params: Vec<(String, ParamId)>,
    /// How correlations are written (an older form compares exports of the same weights).
    pub correlations: CorrelationForm,
    count: usize,
    /// Weights already written, by module address: a module used twice (E_s) is stored once.
    weights: HashMap<usize, (String, Option<String>)>,
    scalars: HashMap<u32, String>,
    ints: HashMap<Vec<i64>, String>,
}

fn attr_int(name: &str, i: i64) -> AttributeProto {
    AttributeProto { name: name.into(), i, r#type: attribute_type::INT, ..Default::default() }
}
fn attr_ints(name: &str, ints: &[i64]) -> AttributeProto {
    AttributeProto { name: name.into(), ints: ints.to_vec(), r#type: attribute_type::INTS, ..Default::default() }
}
fn attr_float(name: &str, f: f32) -> AttributeProto {
    AttributeProto { name: name.into(), f, r#type: attribute_type::FLOAT, ..Default::default() }
}
fn attr_str(name: &str, s: &str) -> AttributeProto {
    AttributeProto { name: name.into(), s: s.as_bytes().to_vec(), r#type: attribute_type::STRING, ..Default::default() }
}

pub fn float_tensor(name: &str, dims: &[usize], data: &[f32]) -> TensorProto {
    TensorProto {
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: data_type::FLOAT,
        name: name.into(),
        raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
    }
}

fn int_tensor(name: &str, data: &[i64]) -> TensorProto {
    TensorProto {
        dims: vec![data.len() as i64],
        data_type: data_type::INT64,
        name: name.into(),
        raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
    }
}

fn broadcast(a: [usize; 4], b: [usize; 4]) -> [usize; 4] {
    std::array::from_fn(|i| a[i].max(b[i]))
}

/// The ids of the float tensors of a module, in its visiting order.
struct ParamIds(Vec<ParamId>);

impl ModuleVisitor for ParamIds {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.id);
    }
}

fn running_id<const D: usize>(state: &burn::module::RunningState<Tensor<D>>) -> ParamId {
    let mut ids = ParamIds(Vec::new());
    state.visit(&mut ids);
    ids.0[0]
}

impl Tracer {
    pub fn new() -> Tracer {
        Tracer::default()
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.count += 1;
        format!("{prefix}_{}", self.count)
    }

    fn fail(&mut self, e: TraceError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// Add a node with one output of shape `dims`.
    pub fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>, dims: [usize; 4]) -> Value {
        let out = self.fresh(&op.to_lowercase());
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![out.clone()],
            name: format!("{out}_node"),
            op_type: op.into(),
            attribute: attrs,
            ..Default::default()
        });
        Value { name: out, dims }
    }

    /// A graph input of `channels` x `h` x `w`.
    pub fn input(&mut self, name: &str, channels: usize, h: usize, w: usize) -> Value {
        Value { name: name.into(), dims: [1, channels, h, w] }
    }

    /// Give `v` the name `name` (an output of the contract).
    pub fn rename(&mut self, v: &Value, name: &str) -> Value {
        self.nodes.push(NodeProto {
            input: vec![v.name.clone()],
            output: vec![name.into()],
            name: format!("{name}_identity"),
            op_type: "Identity".into(),
            attribute: vec![],
            ..Default::default()
        });
        Value { name: name.into(), dims: v.dims }
    }

    fn weights<const D: usize>(&mut self, what: &str, t: Tensor<D>) -> Vec<f32> {
        match t.into_data().try_to_vec::<f32>() {
            Ok(v) => v,
            Err(e) => {
                self.fail(TraceError::Weights { what: what.into(), why: format!("{e:?}") });
                Vec::new()
            }
        }
    }

    fn scalar(&mut self, v: f32) -> String {
        if let Some(n) = self.scalars.get(&v.to_bits()) {
            return n.clone();
        }
        let name = self.fresh("scalar");
        self.initializers.push(float_tensor(&name, &[1], &[v]));
        self.scalars.insert(v.to_bits(), name.clone());
        name
    }

    fn int64s(&mut self, v: &[i64]) -> String {
        if let Some(n) = self.ints.get(v) {
            return n.clone();
        }
        let name = self.fresh("ints");
        self.initializers.push(int_tensor(&name, v));
        self.ints.insert(v.to_vec(), name.clone());
        name
    }

    /// A float vector initializer that is not a network weight (`import` skips it).
    fn floats(&mut self, v: &[f32]) -> String {
        let name = self.fresh("floats");
        self.initializers.push(float_tensor(&name, &[v.len()], v));
        name
    }

    fn unary(&mut self, op: &str, x: &Value) -> Value {
        self.node(op, &[&x.name], vec![], x.dims)
    }

    fn binary(&mut self, op: &str, a: &Value, b: &Value) -> Value {
        self.node(op, &[&a.name, &b.name], vec![], broadcast(a.dims, b.dims))
    }
}

impl Graph for Tracer {
    type T = Value;

    fn dims(&self, x: &Value) -> [usize; 4] {
        x.dims
    }

    fn constant(&mut self, data: Vec<f32>, shape: [usize; 4]) -> Value {
        let name = self.fresh("const");
        self.initializers.push(float_tensor(&name, &shape, &data));
        Value { name, dims: shape }
    }

    fn conv(&mut self, x: &Value, conv: &Conv2d) -> Value {
        let key = conv as *const Conv2d as usize;
        let [cout, cin_g, kh, kw] = conv.weight.shape().dims::<4>();
        let (w_name, b_name) = match self.weights.get(&key) {
            Some(names) => names.clone(),
            None => {
                let w_name = self.fresh("conv_weight");
                let data = self.weights("a convolution's weight", conv.weight.val());
                self.initializers.push(float_tensor(&w_name, &[cout, cin_g, kh, kw], &data));
                self.params.push((w_name.clone(), conv.weight.id));
                let b_name = conv.bias.as_ref().map(|b| {
                    let name = self.fresh("conv_bias");
                    let data = self.weights("a convolution's bias", b.val());
                    self.initializers.push(float_tensor(&name, &[cout], &data));
                    self.params.push((name.clone(), b.id));
                    name
                });
                self.weights.insert(key, (w_name.clone(), b_name.clone()));
                (w_name, b_name)
            }
        };
        let (top, left, bottom, right) = match conv.padding {
            PaddingConfig2d::Explicit(t, l, b, r) => (t, l, b, r),
            PaddingConfig2d::Valid => (0, 0, 0, 0),
            PaddingConfig2d::Same => {
                self.fail(TraceError::Unsupported { op: "Conv2d".into(), why: "padding Same (use explicit padding)".into() });
                (0, 0, 0, 0)
            }
        };
        let [n, _, h, w] = x.dims;
        let out = |size: usize, pad: usize, k: usize, s: usize, d: usize| (size + pad - d * (k - 1) - 1) / s + 1;
        let ho = out(h, top + bottom, kh, conv.stride[0], conv.dilation[0]);
        let wo = out(w, left + right, kw, conv.stride[1], conv.dilation[1]);
        self.macs += (n * cout * ho * wo * cin_g * kh * kw) as u64;
        let attrs = vec![
            attr_ints("kernel_shape", &[kh as i64, kw as i64]),
            attr_ints("strides", &conv.stride.map(|s| s as i64)),
            attr_ints("dilations", &conv.dilation.map(|d| d as i64)),
            attr_ints("pads", &[top as i64, left as i64, bottom as i64, right as i64]),
            attr_int("group", conv.groups as i64),
        ];
        let mut inputs = vec![x.name.as_str(), w_name.as_str()];
        if let Some(b) = &b_name {
            inputs.push(b);
        }
        self.node("Conv", &inputs, attrs, [n, cout, ho, wo])
    }

    fn batch_norm(&mut self, x: &Value, bn: &BatchNorm) -> Value {
        let c = x.dims[1];
        let mut names = Vec::new();
        for (what, t, id) in [
            ("scale", bn.gamma.val(), bn.gamma.id),
            ("bias", bn.beta.val(), bn.beta.id),
            ("mean", bn.running_mean.value(), running_id(&bn.running_mean)),
            ("var", bn.running_var.value(), running_id(&bn.running_var)),
        ] {
            let name = self.fresh(&format!("bn_{what}"));
            let data = self.weights("a batch norm", t);
            self.initializers.push(float_tensor(&name, &[c], &data));
            self.params.push((name.clone(), id));
            names.push(name);
        }
        let inputs: Vec<&str> = std::iter::once(x.name.as_str()).chain(names.iter().map(String::as_str)).collect();
        self.node("BatchNormalization", &inputs, vec![attr_float("epsilon", bn.epsilon as f32)], x.dims)
    }

    fn relu(&mut self, x: &Value) -> Value {
        self.unary("Relu", x)
    }
    fn leaky_relu(&mut self, x: &Value, slope: f32) -> Value {
        self.node("LeakyRelu", &[&x.name], vec![attr_float("alpha", slope)], x.dims)
    }
    fn sigmoid(&mut self, x: &Value) -> Value {
        self.unary("Sigmoid", x)
    }
    fn tanh(&mut self, x: &Value) -> Value {
        self.unary("Tanh", x)
    }
    fn softmax(&mut self, x: &Value) -> Value {
        self.node("Softmax", &[&x.name], vec![attr_int("axis", 1)], x.dims)
    }
    fn add(&mut self, a: &Value, b: &Value) -> Value {
        self.binary("Add", a, b)
    }
    fn sub(&mut self, a: &Value, b: &Value) -> Value {
        self.binary("Sub", a, b)
    }
    fn mul(&mut self, a: &Value, b: &Value) -> Value {
        self.binary("Mul", a, b)
    }
    fn affine(&mut self, x: &Value, scale: f32, shift: f32) -> Value {
        let s = self.scalar(scale);
        let y = self.node("Mul", &[&x.name, &s], vec![], x.dims);
        let b = self.scalar(shift);
        self.node("Add", &[&y.name, &b], vec![], x.dims)
    }
    fn concat(&mut self, xs: &[Value]) -> Value {
        let mut dims = xs[0].dims;
        dims[1] = xs.iter().map(|x| x.dims[1]).sum();
        let names: Vec<&str> = xs.iter().map(|x| x.name.as_str()).collect();
        self.node("Concat", &names, vec![attr_int("axis", 1)], dims)
    }
    fn slice(&mut self, x: &Value, axis: usize, start: usize, end: usize) -> Value {
        let starts = self.int64s(&[start as i64]);
        let ends = self.int64s(&[end as i64]);
        let axes = self.int64s(&[axis as i64]);
        let mut dims = x.dims;
        dims[axis] = end - start;
        self.node("Slice", &[&x.name, &starts, &ends, &axes], vec![], dims)
    }
    fn pad(&mut self, x: &Value, p: usize) -> Value {
        let p = p as i64;
        let pads = self.int64s(&[0, 0, p, p, 0, 0, p, p]);
        let [n, c, h, w] = x.dims;
        self.node("Pad", &[&x.name, &pads], vec![attr_str("mode", "constant")], [n, c, h + 2 * p as usize, w + 2 * p as usize])
    }
    fn max_pool2(&mut self, x: &Value) -> Value {
        let [n, c, h, w] = x.dims;
        let attrs = vec![attr_ints("kernel_shape", &[2, 2]), attr_ints("strides", &[2, 2]), attr_int("ceil_mode", 1)];
        self.node("MaxPool", &[&x.name], attrs, [n, c, h.div_ceil(2), w.div_ceil(2)])
    }
    fn mean_channels(&mut self, x: &Value) -> Value {
        let axes = self.int64s(&[1]);
        let [n, _, h, w] = x.dims;
        self.node("ReduceMean", &[&x.name, &axes], vec![attr_int("keepdims", 1)], [n, 1, h, w])
    }
    fn mean_spatial(&mut self, x: &Value) -> Value {
        let axes = self.int64s(&[2, 3]);
        let [n, c, _, _] = x.dims;
        self.node("ReduceMean", &[&x.name, &axes], vec![attr_int("keepdims", 1)], [n, c, 1, 1])
    }
    fn resize(&mut self, x: &Value, size: [usize; 2]) -> Value {
        let [n, c, h, w] = x.dims;
        if [h, w] == size {
            return x.clone();
        }
        let mut attrs = vec![attr_str("mode", "linear"), attr_str("coordinate_transformation_mode", "half_pixel")];
        let out = [n, c, size[0], size[1]];
        // A whole-number factor goes as `scales` over all four axes: ONNX Runtime's CPU provider
        // then upsamples inside its blocked (NCHWc) layout, between the convolutions, instead of
        // leaving and re-entering it around every Resize (a Resize with `axes` is left in plain
        // NCHW). Output size and sampling positions are the same as `sizes` gives: the factor
        // is exact, and half_pixel maps through it.
        if size[0] % h == 0 && size[1] % w == 0 {
            let scales = self.floats(&[1.0, 1.0, (size[0] / h) as f32, (size[1] / w) as f32]);
            return self.node("Resize", &[&x.name, "", &scales], attrs, out);
        }
        let sizes = self.int64s(&[size[0] as i64, size[1] as i64]);
        attrs.push(attr_ints("axes", &[2, 3]));
        self.node("Resize", &[&x.name, "", "", &sizes], attrs, out)
    }
    fn grid_sample(&mut self, x: &Value, grid: &Value) -> Value {
        let [n, _, h, w] = grid.dims;
        let [_, channels, xh, xw] = x.dims;
        let mut nhwc = self.node("Transpose", &[&grid.name], vec![attr_ints("perm", &[0, 2, 3, 1])], [n, h, w, 2]);
        let mut padding = "border";
        if channels >= PLANNED_SAMPLE_CHANNELS {
            // ONNX Runtime's CPU GridSample works out each output pixel's four taps and weights
            // once and shares them among the channels only with zeros padding. Border padding is
            // zeros padding of a grid clamped to the centres of the edge pixels ([0, W-1] in
            // pixels): a clamped position reads only pixels inside (at W-1 the second tap, just
            // outside, has weight 0). 4-5x faster for 25-48 channels; for a few channels working
            // out the taps costs more than it saves, and border padding stays.
            let low = self.floats(&[-1.0 + 1.0 / xw as f32, -1.0 + 1.0 / xh as f32]);
            let high = self.floats(&[1.0 - 1.0 / xw as f32, 1.0 - 1.0 / xh as f32]);
            let above = self.node("Max", &[&nhwc.name, &low], vec![], nhwc.dims);
            nhwc = self.node("Min", &[&above.name, &high], vec![], nhwc.dims);
            padding = "zeros";
        }
        let attrs = vec![attr_int("align_corners", 0), attr_str("mode", "bilinear"), attr_str("padding_mode", padding)];
        self.node("GridSample", &[&x.name, &nhwc.name], attrs, [x.dims[0].max(n), channels, h, w])
    }
    fn shifts(&mut self, b: &Value, d: usize) -> Value {
        match self.correlations {
            CorrelationForm::Banded => self.row_bands(b, d),
            CorrelationForm::Stacked => stack_shifts(self, b, d),
            CorrelationForm::Sliced => b.clone(),
        }
    }
    fn correlate(&mut self, a: &Value, shifts: &Value, d: usize) -> Value {
        match self.correlations {
            CorrelationForm::Banded => self.correlate_bands(a, shifts, d),
            CorrelationForm::Stacked => self.correlate_stacked(a, shifts),
            CorrelationForm::Sliced => self.correlate_sliced(a, shifts, d),
        }
    }
}

/// The three ways of writing a correlation ([`CorrelationForm`]). Values of other ranks than
/// four carry a nominal `Value` shape: only the last node's is read.
impl Tracer {
    /// `b` `[N, C, H, W]` as `[N, H, C, (2d+1)(W+2d)]`: for each output row, the `2d + 1` padded
    /// rows it reaches side by side, divided by `C` (the correlation is a mean over channels).
    fn row_bands(&mut self, b: &Value, d: usize) -> Value {
        let [n, c, h, w] = b.dims;
        let padded = self.pad(b, d);
        let rows_first = self.node("Transpose", &[&padded.name], vec![attr_ints("perm", &[0, 2, 1, 3])], [n, h + 2 * d, c, w + 2 * d]);
        let axis1 = self.int64s(&[1]);
        let bands: Vec<Value> = (0..=2 * d)
            .map(|dy| {
                let (start, end) = (self.int64s(&[dy as i64]), self.int64s(&[(dy + h) as i64]));
                self.node("Slice", &[&rows_first.name, &start, &end, &axis1], vec![], [n, h, c, w + 2 * d])
            })
            .collect();
        let names: Vec<&str> = bands.iter().map(|v| v.name.as_str()).collect();
        let side_by_side = self.node("Concat", &names, vec![attr_int("axis", 3)], [n, h, c, (2 * d + 1) * (w + 2 * d)]);
        let inverse_c = self.scalar(1.0 / c as f32);
        self.node("Mul", &[&side_by_side.name, &inverse_c], vec![], side_by_side.dims)
    }

    fn correlate_bands(&mut self, a: &Value, bands: &Value, d: usize) -> Value {
        let [n, c, h, w] = a.dims;
        let (k, padded_w) = (2 * d + 1, w + 2 * d);
        let pixels_last = self.node("Transpose", &[&a.name], vec![attr_ints("perm", &[0, 2, 3, 1])], [n, h, w, c]);
        // [N, H, W, C] x [N, H, C, k (W + 2d)]: every column of a row against every padded
        // column of its k bands.
        let pairs = self.node("MatMul", &[&pixels_last.name, &bands.name], vec![], [n, h, w, k * padded_w]);
        let row_major = self.int64s(&[0, h as i64, (w * k * padded_w) as i64]);
        let flat = self.node("Reshape", &[&pairs.name, &row_major], vec![], [n, h, w, k * padded_w]);
        // Column x of band dy against padded column x + dx, ordered x, dy, dx.
        let diagonals: Vec<i64> = (0..w)
            .flat_map(|x| (0..k).flat_map(move |dy| (0..k).map(move |dx| (x * k * padded_w + dy * padded_w + x + dx) as i64)))
            .collect();
        let diagonals = self.int64s(&diagonals);
        let kept = self.node("Gather", &[&flat.name, &diagonals], vec![attr_int("axis", 2)], [n, h, w, k * k]);
        let shape = self.int64s(&[0, h as i64, w as i64, (k * k) as i64]);
        let by_pixel = self.node("Reshape", &[&kept.name, &shape], vec![], [n, h, w, k * k]);
        self.node("Transpose", &[&by_pixel.name], vec![attr_ints("perm", &[0, 3, 1, 2])], [n, k * k, h, w])
    }

    fn correlate_stacked(&mut self, a: &Value, stacked: &Value) -> Value {
        // [N, K*C, H, W] -> [N, K, C, H, W] times a as [N, 1, C, H, W], mean over C.
        let [n, c, h, w] = a.dims;
        let k = stacked.dims[1] / c;
        let shape = self.int64s(&[0, k as i64, c as i64, h as i64, w as i64]);
        let shifts = self.node("Reshape", &[&stacked.name, &shape], vec![], stacked.dims);
        let axis1 = self.int64s(&[1]);
        let a5 = self.node("Unsqueeze", &[&a.name, &axis1], vec![], a.dims);
        let products = self.node("Mul", &[&shifts.name, &a5.name], vec![], stacked.dims);
        let axis2 = self.int64s(&[2]);
        self.node("ReduceMean", &[&products.name, &axis2], vec![attr_int("keepdims", 0)], [n, k, h, w])
    }

    fn correlate_sliced(&mut self, a: &Value, b: &Value, d: usize) -> Value {
        let [_, _, h, w] = a.dims;
        let padded = self.pad(b, d);
        let mut planes = Vec::with_capacity((2 * d + 1) * (2 * d + 1));
        for dy in 0..=2 * d {
            let rows = self.slice(&padded, 2, dy, dy + h);
            for dx in 0..=2 * d {
                let shifted = self.slice(&rows, 3, dx, dx + w);
                let prod = self.mul(a, &shifted);
                planes.push(self.mean_channels(&prod));
            }
        }
        self.concat(&planes)
    }
}
