//! Training batches drawn from a dataset folder, reproducibly: the samples of iteration `i` are
//! a function of the seed and `i` alone, so a resumed run sees exactly the data it would have.

use burn::tensor::{Device, Tensor, TensorData};
use ndarray::{Array3, Axis, stack};

use super::TrainError;
use crate::data::{Dataset, PersonSample, PersonTensors};
use crate::rng::Rng;

const BATCH_STREAM: u64 = 0x6261_7463;

/// The samples of iteration `iteration`, at `h` x `w` (broken ones skipped, counted by the dataset).
pub fn draw(dataset: &Dataset, seed: u64, iteration: usize, batch: usize, h: usize, w: usize) -> Vec<PersonSample> {
    let mut out = Vec::with_capacity(batch);
    let mut k = 0u64;
    while out.len() < batch && k < 8 * batch as u64 {
        let mut rng = Rng::derive(seed, BATCH_STREAM, iteration as u64 * 1000 + k);
        k += 1;
        if let Some(s) = dataset.load_or_skip(rng.below(dataset.len())) {
            out.push(s.resized(w as u32, h as u32));
        }
    }
    out
}

/// Stack `[C, H, W]` arrays into a `[B, C, H, W]` tensor: an error for an empty batch or
/// arrays of different shapes.
pub fn to_batch(items: &[Array3<f32>], device: &Device) -> Result<Tensor<4>, TrainError> {
    let views: Vec<_> = items.iter().map(|a| a.view()).collect();
    let a = stack(Axis(0), &views).map_err(|e| TrainError::Batch(format!("cannot stack {} arrays of shapes {:?}: {e}", items.len(), items.iter().map(|a| a.dim()).collect::<Vec<_>>())))?;
    let dims: [usize; 4] = a.dim().into();
    Ok(Tensor::from_data(TensorData::new(a.into_iter().collect::<Vec<f32>>(), dims), device))
}

/// One tensor of every person of a batch, stacked.
pub fn field(tensors: &[PersonTensors], pick: impl Fn(&PersonTensors) -> &Array3<f32>, device: &Device) -> Tensor<4> {
    let items: Vec<Array3<f32>> = tensors.iter().map(|t| pick(t).clone()).collect();
    to_batch(&items, device).expect("a batch is never empty (the loop stops at an empty draw) and its people share one size")
}
