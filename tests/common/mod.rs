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
use garment_training::onnx::{InferenceNets, Precision, export_models};
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
    export_models(&nets, Preset::Tiny, Precision::Fp32, H, W, dir, None).expect("export the test models");
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

/// The error a pipeline of two 128x96 test frames through `element` ends with.
pub fn error_of(element: &str) -> String {
    let pipeline = launch(&format!("videotestsrc num-buffers=2 ! video/x-raw,width=128,height=96 ! videoconvert ! {element} ! fakesink"));
    let ended = run(&pipeline, Duration::from_secs(120));
    assert!(!ended.eos, "{element}: expected an error, the pipeline ran to the end");
    ended.errors.join("\n")
}

/// The element on the CPU with `models` and `reference`.
pub fn gt(models: &Path, reference: &Path) -> String {
    format!("garmenttransfer models={} reference={} execution-provider=cpu", models.display(), reference.display())
}

pub fn launch(description: &str) -> gst::Pipeline {
    gst::parse::launch(description).unwrap().downcast::<gst::Pipeline>().unwrap()
}

/// Hand-written parser models that break the contract in ways the exporter never would: what a
/// model from elsewhere may do. Each replaces `parser.onnx` in a models folder (manifest
/// checksum updated, so only the model's behaviour is wrong).
pub mod parsers {
    use garment_training::onnx::proto::*;
    use prost::Message;

    fn dims(d: &[Option<i64>]) -> Option<TypeProto> {
        dims_typed(d, data_type::FLOAT)
    }

    fn dims_typed(d: &[Option<i64>], elem_type: i32) -> Option<TypeProto> {
        let dim = d
            .iter()
            .map(|v| Dimension { value: Some(match v { Some(n) => dimension::Value::DimValue(*n), None => dimension::Value::DimParam("N".into()) }) })
            .collect();
        Some(TypeProto { tensor_type: Some(TypeProtoTensor { elem_type, shape: Some(TensorShapeProto { dim }) }) })
    }

    fn node(op: &str, inputs: &[&str], output: &str, attribute: Vec<AttributeProto>) -> NodeProto {
        NodeProto { input: inputs.iter().map(|s| s.to_string()).collect(), output: vec![output.into()], name: output.into(), op_type: op.into(), attribute, ..Default::default() }
    }

    fn int_attr(name: &str, i: i64) -> AttributeProto {
        AttributeProto { name: name.into(), i, r#type: attribute_type::INT, ..Default::default() }
    }

    fn ints_attr(name: &str, ints: &[i64]) -> AttributeProto {
        AttributeProto { name: name.into(), ints: ints.to_vec(), r#type: attribute_type::INTS, ..Default::default() }
    }

    fn floats(name: &str, dims: &[i64], v: &[f32]) -> TensorProto {
        TensorProto { dims: dims.to_vec(), data_type: data_type::FLOAT, name: name.into(), raw_data: v.iter().flat_map(|x| x.to_le_bytes()).collect() }
    }

    fn int64s(name: &str, v: &[i64]) -> TensorProto {
        TensorProto { dims: vec![v.len() as i64], data_type: data_type::INT64, name: name.into(), raw_data: v.iter().flat_map(|x| x.to_le_bytes()).collect() }
    }

    /// A 1x1 convolution whose logits say "upper garment" everywhere.
    fn garment_conv() -> (NodeProto, Vec<TensorProto>) {
        let mut bias = vec![0.0f32; 7];
        bias[gstgarmenttransfer::contract::ParsingGroup::UpperGarment as usize] = 10.0;
        let conv = node("Conv", &["image", "w", "b"], "logits", vec![ints_attr("kernel_shape", &[1, 1])]);
        (conv, vec![floats("w", &[7, 3, 1, 1], &[0.0; 21]), floats("b", &[7], &bias)])
    }

    fn model(nodes: Vec<NodeProto>, initializer: Vec<TensorProto>, input: Option<TypeProto>, output: Option<TypeProto>) -> Vec<u8> {
        let graph = GraphProto {
            node: nodes,
            name: "parser".into(),
            initializer,
            input: vec![ValueInfoProto { name: "image".into(), r#type: input }],
            output: vec![ValueInfoProto { name: "parsing_logits".into(), r#type: output }],
            ..Default::default()
        };
        ModelProto {
            ir_version: 10,
            producer_name: "test".into(),
            graph: Some(graph),
            opset_import: vec![OperatorSetIdProto { domain: String::new(), version: 18 }],
            ..Default::default()
        }
        .encode_to_vec()
    }

    fn rename_output(mut nodes: Vec<NodeProto>) -> Vec<NodeProto> {
        if let Some(last) = nodes.last_mut() {
            last.output = vec!["parsing_logits".into()];
        }
        nodes
    }

    /// A parser whose logits say "upper garment" everywhere and are then reshaped to their own
    /// shape plus `delta` when the mean of the model input is above `threshold`: a shape
    /// computed from the pixels, which no shape inference can see before the model runs.
    fn reshaped_by_pixels(h: i64, w: i64, threshold: f32, delta: [i64; 4]) -> Vec<u8> {
        let (conv, mut init) = garment_conv();
        init.push(floats("threshold", &[], &[threshold]));
        init.push(int64s("delta_if_above", &delta));
        let nodes = vec![
            conv,
            node("ReduceMean", &["image"], "mean", vec![int_attr("keepdims", 0)]),
            node("Greater", &["mean", "threshold"], "above", vec![]),
            node("Cast", &["above"], "k", vec![int_attr("to", 7)]),
            node("Mul", &["k", "delta_if_above"], "delta", vec![]),
            node("Shape", &["logits"], "shape", vec![]),
            node("Add", &["shape", "delta"], "new_shape", vec![]),
            node("Reshape", &["logits", "new_shape"], "parsing_logits", vec![]),
        ];
        model(nodes, init, dims(&[None, Some(3), Some(h), Some(w)]), dims(&[None, Some(7), Some(h), Some(w)]))
    }

    /// Declares `[N, 7, H, W]` and outputs `[N, 7, 2H, W/2]` (every input's mean is above -10).
    pub fn lying_about_its_shape(h: i64, w: i64) -> Vec<u8> {
        reshaped_by_pixels(h, w, -10.0, [0, 0, h, -w / 2])
    }

    /// Outputs float16.
    pub fn float16_output(h: i64, w: i64) -> Vec<u8> {
        let (conv, init) = garment_conv();
        let cast = node("Cast", &["logits"], "parsing_logits", vec![int_attr("to", 10)]);
        model(vec![conv, cast], init, dims(&[None, Some(3), Some(h), Some(w)]), dims_typed(&[None, Some(7), Some(h), Some(w)], 10))
    }

    /// Takes only a batch of two.
    pub fn batch_of_two(h: i64, w: i64) -> Vec<u8> {
        let (conv, init) = garment_conv();
        model(rename_output(vec![conv]), init, dims(&[Some(2), Some(3), Some(h), Some(w)]), dims(&[Some(2), Some(7), Some(h), Some(w)]))
    }

    /// Sees a garment everywhere, and fails (a Reshape to one channel too many) when the mean of
    /// the model input is above 0.5: bright frames.
    pub fn failing_on_bright_frames(h: i64, w: i64) -> Vec<u8> {
        reshaped_by_pixels(h, w, 0.5, [0, 1, 0, 0])
    }

    /// Sees a garment everywhere, with fresh noise on its logits at every run: the same frame
    /// never gives the same output twice.
    pub fn different_every_run(h: i64, w: i64) -> Vec<u8> {
        let (conv, init) = garment_conv();
        let high = AttributeProto { name: "high".into(), f: 5.0, r#type: attribute_type::FLOAT, ..Default::default() };
        let nodes = vec![conv, node("RandomUniformLike", &["logits"], "noise", vec![high]), node("Add", &["logits", "noise"], "parsing_logits", vec![])];
        model(nodes, init, dims(&[None, Some(3), Some(h), Some(w)]), dims(&[None, Some(7), Some(h), Some(w)]))
    }

    /// Put `bytes` in `dir` as its parser, the manifest's checksum updated.
    pub fn install(dir: &std::path::Path, bytes: &[u8]) {
        use gstgarmenttransfer::manifest::{Manifest, sha256_hex};
        std::fs::write(dir.join("parser.onnx"), bytes).unwrap();
        let mut manifest = Manifest::read(dir).unwrap();
        manifest.models.get_mut("parser").unwrap().sha256 = sha256_hex(bytes);
        manifest.write(dir).unwrap();
    }
}

/// A flat grey picture (mean 0 in the models' [-1, 1]) written as PNG.
pub fn grey_png(dir: &Path, name: &str, w: u32, h: u32) -> PathBuf {
    let path = dir.join(name);
    image::RgbImage::from_pixel(w, h, image::Rgb([128, 128, 128])).save(&path).unwrap();
    path
}

/// Resident memory (KiB), threads and open file descriptors of this process.
pub fn process_usage() -> (u64, usize, usize) {
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0);
    let count = |d: &str| std::fs::read_dir(d).map(|e| e.count()).unwrap_or(0);
    (rss, count("/proc/self/task"), count("/proc/self/fd"))
}

/// Mean RGB of packed `img` where `pick` holds.
pub fn mean_colour(img: &[u8], pick: &[bool]) -> [f64; 3] {
    let mut sum = [0.0; 3];
    let n = pick.iter().filter(|&&p| p).count().max(1) as f64;
    for (i, _) in pick.iter().enumerate().filter(|(_, p)| **p) {
        for c in 0..3 {
            sum[c] += img[i * 3 + c] as f64;
        }
    }
    sum.map(|s| s / n)
}

/// Euclidean distance of two colours.
pub fn distance(a: [f64; 3], b: [f64; 3]) -> f64 {
    (0..3).map(|c| (a[c] - b[c]).powi(2)).sum::<f64>().sqrt()
}
