//! `gst-garment-transfer`: live garment transfer for video, as the GStreamer element
//! `garmenttransfer`.
//!
//! The element replaces the upper garment of the person in every frame with the garment that
//! another person wears in one reference photo. Per frame it runs five ONNX models (parser,
//! dense pose, transfer parsing, warp, arm regrowth); `contract` names what those models and
//! the training crate that produces them agree on.

pub mod contract;
pub mod manifest;
pub mod runtime;
