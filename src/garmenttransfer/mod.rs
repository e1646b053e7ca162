//! The `garmenttransfer` element.

use gst::glib;
use gst::prelude::*;

mod imp;
mod ort_log;

glib::wrapper! {
    pub struct GarmentTransfer(ObjectSubclass<imp::GarmentTransfer>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

/// What the element writes into the frame.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstGarmentTransferOutput")]
pub enum Output {
    #[default]
    #[enum_value(name = "Composite: the person wearing the reference garment", nick = "composite")]
    Composite = 0,
    #[enum_value(name = "Parsing of the frame (debugging)", nick = "parsing")]
    Parsing = 1,
    #[enum_value(name = "Parsing of the person wearing the reference garment (debugging)", nick = "transfer-parsing")]
    TransferParsing = 2,
    #[enum_value(name = "Only the warped garment over the frame (debugging)", nick = "warped-garment")]
    WarpedGarment = 3,
    #[enum_value(name = "Input and composite side by side (demos)", nick = "side-by-side")]
    SideBySide = 4,
    #[enum_value(name = "Composite with the crop the models saw drawn over it (debugging)", nick = "framing")]
    Framing = 5,
}

/// Where the models run.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstGarmentTransferExecutionProvider")]
pub enum ExecutionProvider {
    #[default]
    #[enum_value(name = "CUDA when it initialises, else CPU with a warning", nick = "auto")]
    Auto = 0,
    #[enum_value(name = "CUDA, or an error", nick = "cuda")]
    Cuda = 1,
    #[enum_value(name = "CPU", nick = "cpu")]
    Cpu = 2,
}

/// Where the full-resolution composite runs.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstGarmentTransferComposite")]
pub enum Composite {
    #[default]
    #[enum_value(name = "On the GPU when the models run on CUDA, else on the host", nick = "auto")]
    Auto = 0,
    #[enum_value(name = "On the host's cores", nick = "host")]
    Host = 1,
    #[enum_value(name = "As a graph on the models' device (CUDA or CPU), or an error", nick = "device")]
    Device = 2,
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    ort_log::install();
    Output::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    ExecutionProvider::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    Composite::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(Some(plugin), "garmenttransfer", gst::Rank::NONE, GarmentTransfer::static_type())
}
