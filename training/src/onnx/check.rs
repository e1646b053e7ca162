//! Running an exported model in ONNX Runtime (CPU) next to the burn forward it came from.

use burn::tensor::{Device, Tensor, TensorData};
use gstgarmenttransfer::contract::ModelSpec;
use gstgarmenttransfer::runtime::{RuntimeError, cpu_session};
use ndarray::{Array4, ArrayD};
use ort::value::TensorRef;

use super::export::Exported;

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("{model}: {why}")]
    Run { model: String, why: String },
}

pub fn to_array(t: &Tensor<4>) -> Array4<f32> {
    let dims = t.dims();
    let data = t.to_data().try_to_vec::<f32>().unwrap_or_default();
    Array4::from_shape_vec(dims, data).unwrap_or_else(|_| Array4::zeros(dims))
}

pub fn to_tensor(a: &Array4<f32>, device: &Device) -> Tensor<4> {
    let dims: [usize; 4] = a.dim().into();
    Tensor::from_data(TensorData::new(a.iter().copied().collect::<Vec<f32>>(), dims), device)
}

/// Run `exported` in ONNX Runtime on `inputs` (in the spec's order); outputs in the spec's order.
pub fn run_onnx(exported: &Exported, inputs: &[Array4<f32>]) -> Result<Vec<ArrayD<f32>>, CheckError> {
    run_model(&exported.bytes(), exported.spec, inputs)
}

/// Run the model in `bytes` as `spec` in ONNX Runtime on `inputs`; outputs in the spec's order.
pub fn run_model(bytes: &[u8], spec: ModelSpec, inputs: &[Array4<f32>]) -> Result<Vec<ArrayD<f32>>, CheckError> {
    let model = spec.name.to_string();
    let fail = |why: String| CheckError::Run { model: model.clone(), why };
    let mut session = cpu_session(bytes, &model, 1)?;
    let mut feeds = Vec::new();
    for (port, a) in spec.inputs.iter().zip(inputs) {
        let t = TensorRef::from_array_view(a.view()).map_err(|e| fail(e.to_string()))?;
        feeds.push((port.name, t));
    }
    let outputs = session.run(feeds).map_err(|e| fail(e.to_string()))?;
    spec.outputs
        .iter()
        .map(|p| {
            let v = outputs.get(p.name).ok_or_else(|| fail(format!("no output '{}'", p.name)))?;
            Ok(v.try_extract_array::<f32>().map_err(|e| fail(e.to_string()))?.to_owned())
        })
        .collect()
}

/// Largest absolute difference between two arrays of the same shape (infinite when the shapes
/// differ, so a shape mismatch can never pass).
pub fn max_abs_diff(a: &ArrayD<f32>, b: &Array4<f32>) -> f32 {
    if a.shape() != b.shape() {
        return f32::INFINITY;
    }
    a.iter().zip(b.iter()).map(|(x, y)| (x - y).abs()).fold(0.0, |m, d| if d.is_nan() { f32::INFINITY } else { m.max(d) })
}

/// Reproducible inputs in [-1, 1] for `spec` at `h` x `w` (a small LCG per input).
pub fn random_inputs(spec: ModelSpec, h: usize, w: usize) -> Vec<Array4<f32>> {
    spec.inputs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut s = (i as u64 + 1).wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            Array4::from_shape_fn((1, p.channels, h, w), |_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
        })
        .collect()
}

/// The largest difference between the outputs of two files of the same model on the same
/// reproducible inputs: how a re-export proves it computes what the original did.
pub fn compare_models(a: &[u8], b: &[u8], spec: ModelSpec, h: usize, w: usize) -> Result<f32, CheckError> {
    let inputs = random_inputs(spec, h, w);
    let (x, y) = (run_model(a, spec, &inputs)?, run_model(b, spec, &inputs)?);
    Ok(x.iter()
        .zip(&y)
        .map(|(x, y)| {
            if x.shape() != y.shape() {
                return f32::INFINITY;
            }
            x.iter().zip(y.iter()).map(|(p, q)| (p - q).abs()).fold(0.0, |m, d| if d.is_nan() { f32::INFINITY } else { m.max(d) })
        })
        .fold(0.0, f32::max))
}
