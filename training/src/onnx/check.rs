//! Running an exported model in ONNX Runtime (CPU) next to the burn forward it came from.

use burn::tensor::{Device, Tensor, TensorData};
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
    let model = exported.spec.name.to_string();
    let fail = |why: String| CheckError::Run { model: model.clone(), why };
    let mut session = cpu_session(&exported.bytes(), &model, 1)?;
    let mut feeds = Vec::new();
    for (port, a) in exported.spec.inputs.iter().zip(inputs) {
        let t = TensorRef::from_array_view(a.view()).map_err(|e| fail(e.to_string()))?;
        feeds.push((port.name, t));
    }
    let outputs = session.run(feeds).map_err(|e| fail(e.to_string()))?;
    exported
        .spec
        .outputs
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
