//! `garment-training`: the synthetic try-on world, the dataset loader, and (in time) the
//! networks and the distillation schedule that produce the element's models.

pub mod contact_sheet;
pub mod data;
pub mod font;
pub mod synth;
pub mod nn;
pub mod onnx;
pub mod summary;
pub mod train;
pub mod eval;
