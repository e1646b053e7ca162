//! Shared by the element's tests: models folders written by the exporter, synthetic pictures,
//! and running a pipeline to its end.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::Duration;

use burn::module::Param;
use burn::tensor::{Tensor, TensorData};
use garment_training::nn::network::Network;
use garment_training::nn::{Preset, default_device};
use garment_training::onnx::{InferenceNets, export_models};
use gst::prelude::*;

/// Model resolution of the test models (tiny networks, small inputs: fast on a CPU).
pub const H: usize = 64;
pub const W: usize = 64;

pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().unwrap();
        gstgarmenttransfer::plugin_register_static().expect("register the plugin");
    });
}

/// What the parser of a test models folder answers, whatever the frame.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ParserVerdict {
    /// Untrained weights.
    Random,
    /// Every pixel is background: nobody is in any frame.
    Nobody,
    /// Every pixel is upper garment.
    AllGarment,
}

/// Export the `tiny` networks into `dir`, with the parser's last layer set to `verdict`.
pub fn models(dir: &Path, verdict: ParserVerdict) -> PathBuf {
    let mut nets = InferenceNets::untrained(Preset::Tiny, &default_device());
    match verdict {
        ParserVerdict::Random => {}
        ParserVerdict::Nobody => constant_parser(&mut nets, 0),
        ParserVerdict::AllGarment => all_garment_parser(&mut nets),
    }
    export_models(&nets, Preset::Tiny, H, W, dir, None).expect("export the test models");
    dir.to_path_buf()
}

/// Make the parser answer `class` for every pixel of every frame.
pub fn constant_parser(nets: &mut InferenceNets, class: usize) {
    let device = default_device();
    for net in nets.nets.iter_mut() {
        if let Network::Parser(p) = net {
            let [cout, cin, kh, kw] = p.head.weight.shape().dims::<4>();
            p.head.weight = Param::from_tensor(Tensor::zeros([cout, cin, kh, kw], &device));
            let bias: Vec<f32> = (0..cout).map(|c| if c == class { 10.0 } else { 0.0 }).collect();
            p.head.bias = Some(Param::from_tensor(Tensor::from_data(TensorData::new(bias, [cout]), &device)));
        }
    }
}

pub fn all_garment_parser(nets: &mut InferenceNets) {
    constant_parser(nets, gstgarmenttransfer::contract::ParsingGroup::UpperGarment as usize)
}

/// A synthetic person (192x256) written as PNG, for references and frames.
pub fn person_png(dir: &Path, name: &str, seed: u64) -> PathBuf {
    let world = garment_training::synth::World::new(192, 256, seed).unwrap();
    let s = world.sample(0).unwrap();
    let path = dir.join(name);
    image::RgbImage::from_raw(192, 256, s.person.rgb).unwrap().save(&path).unwrap();
    path
}

pub struct Ended {
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    pub eos: bool,
}

/// Run `pipeline` until EOS or an error (at most `timeout`), then shut it down.
pub fn run(pipeline: &gst::Pipeline, timeout: Duration) -> Ended {
    let bus = pipeline.bus().unwrap();
    let mut ended = Ended { errors: vec![], warnings: vec![], eos: false };
    if pipeline.set_state(gst::State::Playing).is_err() {
        // The error message, if any, is on the bus.
    }
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) else { continue };
        match msg.view() {
            gst::MessageView::Eos(_) => {
                ended.eos = true;
                break;
            }
            gst::MessageView::Error(e) => {
                ended.errors.push(format!("{} ({})", e.error(), e.debug().map(|d| d.to_string()).unwrap_or_default()));
                break;
            }
            gst::MessageView::Warning(w) => ended.warnings.push(format!("{} ({})", w.error(), w.debug().map(|d| d.to_string()).unwrap_or_default())),
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).expect("the pipeline shuts down cleanly");
    ended
}

pub fn launch(description: &str) -> gst::Pipeline {
    gst::parse::launch(description).unwrap().downcast::<gst::Pipeline>().unwrap()
}
