//! Running an exported model in ONNX Runtime (CPU) next to the burn forward it came from.

use burn::tensor::{Device, Tensor, TensorData};
use gstgarmenttransfer::contract::ModelSpec;
use gstgarmenttransfer::runtime::{Feed, RuntimeError, cpu_session, run};
use ndarray::Array4;

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
    let data = t.to_data().try_to_vec::<f32>().expect("the networks compute in f32");
    Array4::from_shape_vec(dims, data).expect("a tensor holds as many values as its dimensions say")
}

pub fn to_tensor(a: &Array4<f32>, device: &Device) -> Tensor<4> {
    let dims: [usize; 4] = a.dim().into();
    Tensor::from_data(TensorData::new(a.iter().copied().collect::<Vec<f32>>(), dims), device)
}

/// Run `exported` in ONNX Runtime on `inputs` (in the spec's order); outputs in the spec's order.
pub fn run_onnx(exported: &Exported, inputs: &[Array4<f32>]) -> Result<Vec<Array4<f32>>, CheckError> {
    run_model(&exported.bytes(), exported.spec, inputs)
}

/// Run the model in `bytes` as `spec` in ONNX Runtime on `inputs` (the element's own `run`);
/// outputs in the spec's order.
pub fn run_model(bytes: &[u8], spec: ModelSpec, inputs: &[Array4<f32>]) -> Result<Vec<Array4<f32>>, CheckError> {
    let mut session = cpu_session(bytes, spec.name, 1)?;
    let [h, w] = inputs.first().map_or([0, 0], |a| [a.shape()[2], a.shape()[3]]);
    let views: Vec<Feed> = inputs.iter().map(|a| Feed::Host(a.view())).collect();
    run(&mut session, &spec, &views, h, w).map_err(|why| CheckError::Run { model: spec.name.to_string(), why })
}

/// Largest absolute difference between two arrays of the same shape (infinite when the shapes
/// differ, so a shape mismatch can never pass).
pub fn max_abs_diff(a: &Array4<f32>, b: &Array4<f32>) -> f32 {
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
    Ok(x.iter().zip(&y).map(|(x, y)| max_abs_diff(x, y)).fold(0.0, f32::max))
}
