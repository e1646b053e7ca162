//! `garment-training`: the synthetic try-on world, the dataset loader, the networks, the
//! distillation schedule that trains them, and the exporter that writes the element's models.

pub mod bench;
pub mod cli;
pub mod contact_sheet;
pub mod data;
pub mod estimate;
pub mod eval;
pub mod nn;
pub mod onnx;
pub mod progress;
pub mod quantize;
pub mod rng;
pub mod summary;
pub mod synth;
pub mod train;
