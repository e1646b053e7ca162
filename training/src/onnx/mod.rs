//! The ONNX exporter: networks traced through [`trace::Tracer`] into ModelProto messages
//! (IR version 10, opset 18), written with prost.

pub mod check;
pub mod export;
pub mod folder;
pub mod fp16;
pub mod import;
pub mod int8;
pub mod trace;

/// ONNX's protobuf messages live in the element's crate, which writes its own glue graphs with them.
pub use gstgarmenttransfer::proto;

pub use export::{ExportError, Exported, InferenceNets, export_models};
pub use fp16::Precision;
