//! `gst-garment-transfer`: live garment transfer for video, as the GStreamer element
//! `garmenttransfer`.
//!
//! The element replaces the upper garment of the person in every frame with the garment that
//! another person wears in one reference photo. Per frame it runs five ONNX models (parser,
//! dense pose, transfer parsing, warp, arm regrowth). The GStreamer glue
//! (`garmenttransfer/`) is thin; everything else is plain Rust that tests, benchmarks and the
//! training crate's evaluation drive without a pipeline:
//! - `contract`, `manifest`: what the models and the exporter agree on;
//! - `runtime`, `binding`, `models`: ONNX Runtime, execution providers, sessions bound to
//!   their tensors, the checked models folder;
//! - `inputs`: the networks' inputs, built one way for the element and for training;
//! - `person`, `reference`, `chain`, `composite`, `frame`, `maps`: the per-frame data flow;
//! - `glue`, `composite_graph`: the work between and after the models as graphs of their own.

pub mod binding;
pub mod chain;
pub mod composite;
pub mod composite_graph;
pub mod contract;
pub mod files;
pub mod frame;
pub mod glue;
pub mod framing;
pub mod inputs;
pub mod install;
pub mod manifest;
pub mod maps;
pub mod models;
pub mod person;
pub mod pipeline;
pub mod proto;
pub mod reference;
pub mod runtime;
pub mod temporal;

#[cfg(feature = "gst")]
pub mod garmenttransfer;

#[cfg(feature = "gst")]
fn plugin_init(plugin: &gst::Plugin) -> Result<(), gst::glib::BoolError> {
    if let Some(file) = plugin.filename() {
        install::set_plugin_file(file);
    }
    garmenttransfer::register(plugin)
}

#[cfg(feature = "gst")]
gst::plugin_define!(
    garmenttransfer,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MIT/X11",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_REPOSITORY"),
    env!("BUILD_REL_DATE")
);
