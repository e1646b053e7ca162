//! The ONNX exporter: networks traced through [`trace::Tracer`] into ModelProto messages
//! (IR version 10, opset 18), written with prost.

pub mod check;
pub mod export;
pub mod folder;
pub mod fp16;
pub mod import;
pub mod int8;
pub mod proto;
pub mod trace;

pub use export::{ExportError, Exported, InferenceNets, export_models};
pub use fp16::Precision;
