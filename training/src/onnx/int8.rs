//! The 8-bit form of an exported model, for CPUs with 8-bit dot products (AVX-512 VNNI,
//! AVX-VNNI): each convolution reads and writes 8-bit values and multiplies by 8-bit weights.
//!
//! The file stays a float32 model in "QDQ" form, the one ONNX Runtime turns into its integer
//! kernels: before every convolution its input passes QuantizeLinear -> DequantizeLinear (the
//! rounding the 8-bit input makes), its weight is stored in int8 per output channel with a
//! DequantizeLinear, its bias in int32 at the input scale times the weight scale, and its output
//! passes Quantize/DequantizeLinear too. ONNX Runtime fuses each such group into one integer
//! convolution (QLinearConv); every other node computes in float32 on the dequantized values as
//! before (GridSample, the correlations, the upsampling). The contract's tensors stay float32.
//!
//! The activation ranges are calibrated: the input and output of each convolution is observed
//! on what the element's own chain feeds the model (`crate::quantize`), min to max, 0 included.
//! A convolution whose output is a model output stays float32, so that the outputs (the flow
//! above all) keep their precision.

use std::collections::{HashMap, HashSet};

use gstgarmenttransfer::runtime::{cpu_session, pool_threads};
use ndarray::Array4;
use ort::session::{Session, SessionInputValue};
use ort::value::TensorRef;
use prost::Message;

use super::trace::float_tensor;
use super::proto::{AttributeProto, ModelProto, NodeProto, TensorProto, TypeProto, TypeProtoTensor, ValueInfoProto, attribute_type, data_type};

/// Observed range of each calibrated tensor, by name.
pub type Ranges = HashMap<String, (f32, f32)>;

fn tensor(name: &str, dims: &[i64], data_type: i32, raw_data: Vec<u8>) -> TensorProto {
    TensorProto { dims: dims.to_vec(), data_type, name: name.into(), raw_data }
}

fn node(op: &str, inputs: &[&str], output: &str, attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        name: format!("{op}_{output}"),
        op_type: op.into(),
        attribute,
        ..Default::default()
    }
}

fn axis0() -> Vec<AttributeProto> {
    vec![AttributeProto { name: "axis".into(), i: 0, r#type: attribute_type::INT, ..Default::default() }]
}

/// Fold every BatchNormalization that is the only reader of a convolution's output into that
/// convolution's weight and bias (what ONNX Runtime does at load for float32; the 8-bit weights
/// must be those of the folded convolution).
pub fn fold_batch_norms(model: &mut ModelProto) {
    let Some(graph) = model.graph.as_mut() else { return };
    let init: HashMap<String, TensorProto> = graph.initializer.iter().map(|t| (t.name.clone(), t.clone())).collect();
    let readers = readers(&graph.node);
    let outputs: HashSet<&str> = graph.output.iter().map(|o| o.name.as_str()).collect();
    let convs: HashMap<&str, &NodeProto> = graph.node.iter().filter(|n| n.op_type == "Conv").map(|n| (n.output[0].as_str(), n)).collect();
    let foldable = |n: &NodeProto| {
        let x = n.input[0].as_str();
        let conv = convs.get(x).filter(|c| c.input[1..].iter().all(|i| init.contains_key(i)));
        conv.is_some() && readers.get(x).is_some_and(|r| r.len() == 1) && !outputs.contains(x) && n.input[1..5].iter().all(|i| init.contains_key(i))
    };
    // Conv output -> the batch norm's output, its scale, bias, mean and variance, and epsilon.
    let mut folded: HashMap<String, (String, [String; 4], f32)> = HashMap::new();
    for n in graph.node.iter().filter(|n| n.op_type == "BatchNormalization" && foldable(n)) {
        let eps = n.attribute.iter().find(|a| a.name == "epsilon").map_or(1e-5, |a| a.f);
        folded.insert(n.input[0].clone(), (n.output[0].clone(), std::array::from_fn(|i| n.input[i + 1].clone()), eps));
    }
    let mut nodes = Vec::with_capacity(graph.node.len());
    for mut n in std::mem::take(&mut graph.node) {
        if n.op_type == "BatchNormalization" && folded.contains_key(&n.input[0]) {
            continue;
        }
        let Some((bn_out, [scale, bias, mean, var], eps)) = (n.op_type == "Conv").then(|| folded.get(&n.output[0])).flatten() else {
            nodes.push(n);
            continue;
        };
        let w = &init[&n.input[1]];
        let [gamma, beta, mu, sigma2] = [scale, bias, mean, var].map(|k| init[k].floats());
        let k: Vec<f32> = gamma.iter().zip(&sigma2).map(|(g, v)| g / (v + eps).sqrt()).collect();
        let mut weight = w.floats();
        let per = weight.len() / k.len();
        for (c, chunk) in weight.chunks_mut(per).enumerate() {
            chunk.iter_mut().for_each(|x| *x *= k[c]);
        }
        let b0 = n.input.get(2).map_or(vec![0.0; k.len()], |b| init[b].floats());
        let b: Vec<f32> = (0..k.len()).map(|c| (b0[c] - mu[c]) * k[c] + beta[c]).collect();
        let (wn, bn) = (format!("{bn_out}_folded_weight"), format!("{bn_out}_folded_bias"));
        graph.initializer.push(float_tensor(&wn, &w.dims.iter().map(|&d| d as usize).collect::<Vec<_>>(), &weight));
        graph.initializer.push(float_tensor(&bn, &[k.len()], &b));
        n.input = vec![n.input[0].clone(), wn, bn];
        n.output[0] = bn_out.clone();
        nodes.push(n);
    }
    graph.node = nodes;
    drop_unused_initializers(model);
}

fn readers(nodes: &[NodeProto]) -> HashMap<&str, Vec<usize>> {
    let mut r: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, n) in nodes.iter().enumerate() {
        for input in &n.input {
            r.entry(input.as_str()).or_default().push(i);
        }
    }
    r
}

fn drop_unused_initializers(model: &mut ModelProto) {
    let Some(graph) = model.graph.as_mut() else { return };
    let used: HashSet<String> = graph.node.iter().flat_map(|n| n.input.iter().cloned()).collect();
    graph.initializer.retain(|t| used.contains(&t.name));
}

/// A convolution made 8-bit: its node, and the tensors quantized before and after it.
struct QuantizedConv {
    node: usize,
    input: String,
    /// Its output, or where a ReLU is its only reader the ReLU's: quantized from 0 (zero point
    /// 0), the 8-bit output clamps what the ReLU would, and ONNX Runtime drops the ReLU.
    output: String,
}

/// The convolutions made 8-bit: input computed, weight an initializer, output not a model output.
fn quantized_convs(model: &ModelProto) -> Vec<QuantizedConv> {
    let Some(graph) = model.graph.as_ref() else { return vec![] };
    let init: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let outputs: HashSet<&str> = graph.output.iter().map(|o| o.name.as_str()).collect();
    let readers = readers(&graph.node);
    let mut convs = Vec::new();
    for (i, n) in graph.node.iter().enumerate() {
        if n.op_type == "Conv" && !init.contains(n.input[0].as_str()) && init.contains(n.input[1].as_str()) && !outputs.contains(n.output[0].as_str()) {
            let out = n.output[0].as_str();
            let relu = match readers.get(out).map(Vec::as_slice) {
                Some(&[r]) if graph.node[r].op_type == "Relu" => Some(graph.node[r].output[0].clone()),
                _ => None,
            };
            convs.push(QuantizedConv { node: i, input: n.input[0].clone(), output: relu.unwrap_or_else(|| out.to_string()) });
        }
    }
    convs
}

/// The tensors whose ranges `to_int8` needs: the input and output of every convolution it
/// makes 8-bit (after `fold_batch_norms`), each once.
pub fn calibrated_tensors(model: &ModelProto) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut names = Vec::new();
    for c in quantized_convs(model) {
        for t in [c.input, c.output] {
            if seen.insert(t.clone()) {
                names.push(t);
            }
        }
    }
    names
}

/// `model` with `names` as outputs too (float32, shape left to the runtime): calibration reads
/// them.
pub fn with_outputs(model: &ModelProto, names: &[String]) -> ModelProto {
    let mut m = model.clone();
    if let Some(graph) = m.graph.as_mut() {
        let declared: HashSet<String> = graph.output.iter().map(|o| o.name.clone()).collect();
        for name in names.iter().filter(|n| !declared.contains(*n)) {
            graph.output.push(ValueInfoProto {
                name: name.clone(),
                r#type: Some(TypeProto { tensor_type: Some(TypeProtoTensor { elem_type: data_type::FLOAT, shape: None }) }),
            });
        }
    }
    m
}

/// One model being calibrated: its folded graph, the tensors observed, a session that returns
/// them, their ranges so far and the runs seen.
pub struct Calibration {
    pub model: ModelProto,
    pub tensors: Vec<String>,
    session: Session,
    pub ranges: Ranges,
    /// Runs observed.
    pub runs: usize,
}

impl Calibration {
    /// Decode `bytes` (the float32 file `file`), fold its batch norms and open a session that
    /// returns the tensors to calibrate.
    pub fn new(bytes: &[u8], file: &str) -> anyhow::Result<Calibration> {
        let mut model = ModelProto::decode(bytes).map_err(|e| anyhow::anyhow!("{file}: not an ONNX model: {e}"))?;
        fold_batch_norms(&mut model);
        let tensors = calibrated_tensors(&model);
        let session = cpu_session(&with_outputs(&model, &tensors).encode_to_vec(), file, pool_threads())?;
        Ok(Calibration { model, tensors, session, ranges: Ranges::new(), runs: 0 })
    }

    /// Widen the ranges by what `inputs` (the contract's, in its order) make each tensor.
    pub fn observe(&mut self, names: &[&str], inputs: &[Array4<f32>]) -> anyhow::Result<()> {
        let feeds: Vec<(&str, SessionInputValue)> =
            names.iter().zip(inputs).map(|(n, a)| Ok((*n, TensorRef::from_array_view(a.view())?.into()))).collect::<Result<_, ort::Error>>()?;
        let outputs = self.session.run(feeds)?;
        for name in &self.tensors {
            let a = outputs.get(name.as_str()).ok_or_else(|| anyhow::anyhow!("no output '{name}'"))?.try_extract_array::<f32>()?;
            let (lo, hi) = a.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &x| (lo.min(x), hi.max(x)));
            anyhow::ensure!(lo.is_finite() && hi.is_finite(), "tensor '{name}' is not finite on a calibration frame");
            let r = self.ranges.entry(name.clone()).or_insert((lo, hi));
            *r = (r.0.min(lo), r.1.max(hi));
        }
        self.runs += 1;
        Ok(())
    }
}

/// Scale and zero point of an unsigned 8-bit tensor covering `(lo, hi)` and 0 (so that zero
/// padding and ReLU's zeros are exact).
pub fn activation_scale(lo: f32, hi: f32) -> (f32, u8) {
    let (lo, hi) = (lo.min(0.0), hi.max(0.0));
    if hi - lo < 1e-12 {
        return (1.0, 0);
    }
    let scale = (hi - lo) / 255.0;
    (scale, (-lo / scale).round().clamp(0.0, 255.0) as u8)
}

/// Rewrite `model` (as `fold_batch_norms` left it) into the QDQ form of the module's comment,
/// with the activation ranges `ranges` (`calibrated_tensors`). A tensor without a range is an
/// error, named.
pub fn to_int8(model: &mut ModelProto, ranges: &Ranges) -> Result<(), String> {
    let convs = quantized_convs(model);
    let Some(graph) = model.graph.as_mut() else { return Ok(()) };
    let init: HashMap<String, TensorProto> = graph.initializer.iter().map(|t| (t.name.clone(), t.clone())).collect();
    let range = |t: &str| ranges.get(t).copied().ok_or_else(|| format!("no calibrated range for tensor '{t}'"));
    // Each quantized tensor: scale and zero point, and its Quantize/DequantizeLinear pair.
    let mut activations: HashMap<String, (f32, u8)> = HashMap::new();
    for c in &convs {
        for t in [&c.input, &c.output] {
            let (lo, hi) = range(t)?;
            activations.insert(t.clone(), activation_scale(lo, hi));
        }
    }
    let dq = |t: &str| format!("{t}_dq");
    let qdq = |t: &str, (scale, zero): (f32, u8), out: &mut Vec<NodeProto>, inits: &mut Vec<TensorProto>| {
        let (s, z) = (format!("{t}_scale"), format!("{t}_zero_point"));
        inits.push(float_tensor(&s, &[], &[scale]));
        inits.push(tensor(&z, &[], data_type::UINT8, vec![zero]));
        out.push(node("QuantizeLinear", &[t, &s, &z], &format!("{t}_q"), vec![]));
        out.push(node("DequantizeLinear", &[&format!("{t}_q"), &s, &z], &dq(t), vec![]));
    };
    let mut new_inits = Vec::new();
    let mut out = Vec::with_capacity(graph.node.len() * 2);
    for input in &graph.input {
        if let Some(&a) = activations.get(&input.name) {
            qdq(&input.name, a, &mut out, &mut new_inits);
        }
    }
    let conv_set: HashSet<usize> = convs.iter().map(|c| c.node).collect();
    let mut weights_done: HashSet<String> = HashSet::new();
    let mut weight_scales: HashMap<String, Vec<f32>> = HashMap::new();
    for (i, mut n) in std::mem::take(&mut graph.node).into_iter().enumerate() {
        let x = n.input.first().cloned().unwrap_or_default();
        // Every reader of a quantized tensor reads its dequantized value: the convolution that
        // wrote it then writes only to QuantizeLinear, which ONNX Runtime needs to fuse it.
        for input in n.input.iter_mut() {
            if activations.contains_key(input.as_str()) {
                *input = dq(input);
            }
        }
        if conv_set.contains(&i) {
            let w = n.input[1].clone();
            if weights_done.insert(w.clone()) {
                let t = &init[&w];
                let values = t.floats();
                let per = values.len() / t.dims[0] as usize;
                let scales: Vec<f32> = values.chunks(per).map(|c| c.iter().fold(0.0f32, |m, x| m.max(x.abs())) / 127.0).map(|s| if s > 0.0 { s } else { 1.0 }).collect();
                let q: Vec<u8> = values.iter().enumerate().map(|(k, x)| (x / scales[k / per]).round().clamp(-127.0, 127.0) as i8 as u8).collect();
                let c = t.dims[0];
                new_inits.push(tensor(&format!("{w}_int8"), &t.dims, data_type::INT8, q));
                new_inits.push(float_tensor(&format!("{w}_scale"), &[c as usize], &scales));
                new_inits.push(tensor(&format!("{w}_zero_point"), &[c], data_type::INT8, vec![0; c as usize]));
                out.push(node("DequantizeLinear", &[&format!("{w}_int8"), &format!("{w}_scale"), &format!("{w}_zero_point")], &dq(&w), axis0()));
                weight_scales.insert(w.clone(), scales);
            }
            if let Some(b) = n.input.get(2).cloned() {
                // int32 at the input's scale times each channel's weight scale: what the integer
                // convolution adds to its int32 accumulators.
                let x_scale = activations[&x].0;
                let scales: Vec<f32> = weight_scales[&w].iter().map(|s| s * x_scale).collect();
                let name = format!("{}_bias", n.output[0]);
                let q: Vec<u8> = init[&b].floats().iter().zip(&scales).flat_map(|(v, s)| ((v / s).round().clamp(i32::MIN as f32, i32::MAX as f32) as i32).to_le_bytes()).collect();
                let c = scales.len() as i64;
                new_inits.push(tensor(&format!("{name}_int32"), &[c], data_type::INT32, q));
                new_inits.push(float_tensor(&format!("{name}_scale"), &[c as usize], &scales));
                new_inits.push(tensor(&format!("{name}_zero_point"), &[c], data_type::INT32, vec![0; 4 * c as usize]));
                out.push(node("DequantizeLinear", &[&format!("{name}_int32"), &format!("{name}_scale"), &format!("{name}_zero_point")], &name, axis0()));
                n.input[2] = name;
            }
            n.input[1] = dq(&w);
        }
        let written: Vec<String> = n.output.iter().filter(|o| activations.contains_key(o.as_str())).cloned().collect();
        out.push(n);
        for t in written {
            qdq(&t, activations[&t], &mut out, &mut new_inits);
        }
    }
    graph.node = out;
    graph.initializer.extend(new_inits);
    drop_unused_initializers(model);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_ranges_hold_zero_exactly() {
        // The range fits the 256 levels to within half a level at either end.
        let (scale, zero) = activation_scale(-1.0, 1.0);
        let (lo, hi) = (-(zero as f32) * scale, (255.0 - zero as f32) * scale);
        assert!((scale - 2.0 / 255.0).abs() < 1e-9 && (lo + 1.0).abs() <= 0.5 * scale + 1e-6 && (hi - 1.0).abs() <= 0.5 * scale + 1e-6, "{scale} {zero}");
        // Zero is representable: 0 maps to the zero point and back to 0.
        assert_eq!(activation_scale(0.5, 2.0), (2.0 / 255.0, 0));
        assert_eq!(activation_scale(-3.0, -1.0), (3.0 / 255.0, 255));
        // A tensor that is always zero (a mask never set) still gets a usable scale.
        assert_eq!(activation_scale(0.0, 0.0), (1.0, 0));
    }
}
