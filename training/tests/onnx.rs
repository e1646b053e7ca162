//! The exporter against ONNX Runtime: every network, random weights and inputs, burn forward
//! vs the exported file in ONNX Runtime (CPU execution provider).

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Distribution, Tensor};
use garment_training::nn::graph::Eager;
use garment_training::nn::network::Network;
use garment_training::nn::{Preset, default_device};
use garment_training::onnx::check::{max_abs_diff, random_inputs, run_onnx, to_array, to_tensor};
use garment_training::onnx::export::export;
use garment_training::rng::Rng;
use garment_training::onnx::{InferenceNets, Precision, export_models};
use gstgarmenttransfer::contract::MODELS;
use gstgarmenttransfer::manifest::Manifest;
use ndarray::Array4;

/// Moves every 1-D parameter (biases, batch-norm scale, shift, running mean and variance)
/// away from its initial value, so that the comparison exercises all of them.
struct Perturb;

impl ModuleMapper for Perturb {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if D != 1 {
            return param;
        }
        param.map(|t| {
            let noise = Tensor::random(t.shape(), Distribution::Uniform(-0.3, 0.3), &t.device());
            t + noise
        })
    }
}

/// Replaces every parameter by values drawn from its own generator, at the initialiser's scale
/// (weights uniform in +-1/sqrt(fan-in); 1-D parameters 0 or 1, as initialised, plus +-0.3):
/// the same network in every run, whatever the other tests draw from burn's shared generator
/// meanwhile. For comparisons whose bound sits a few float32 roundings above the difference.
struct Fixed(Rng);

impl ModuleMapper for Fixed {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        param.map(|t| {
            let shape = t.shape();
            let n = shape.num_elements();
            let (base, half) = if D == 1 {
                (if t.clone().mean().into_scalar::<f32>() > 0.5 { 1.0 } else { 0.0 }, 0.3)
            } else {
                (0.0, 1.0 / ((n / shape.dims::<D>()[0]) as f32).sqrt())
            };
            let values: Vec<f32> = (0..n).map(|_| self.0.range(base - half, base + half)).collect();
            Tensor::<1>::from_floats(values.as_slice(), &t.device()).reshape(shape)
        })
    }
}

fn compare(preset: Preset, h: usize, w: usize) {
    let device = default_device();
    for name in Network::NAMES {
        let net = Network::new(name, preset, &device).unwrap().map(&mut Perturb);
        let spec = net.spec();
        let inputs = random_inputs(spec, h, w);
        let exported = export(&net, h, w).unwrap_or_else(|e| panic!("{name}: {e}"));
        let onnx = run_onnx(&exported, &inputs).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut g = Eager::new(&device);
        let burn_in: Vec<Tensor<4>> = inputs.iter().map(|a| to_tensor(a, &device)).collect();
        let burn_out = net.forward(&mut g, &burn_in);
        assert_eq!(onnx.len(), spec.outputs.len());
        for ((port, o), b) in spec.outputs.iter().zip(&onnx).zip(&burn_out) {
            let b = to_array(b);
            let err = max_abs_diff(o, &b);
            let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            println!("{} {name}.{}: max |burn - onnx| = {err:.2e} (values up to {scale:.2})", preset.name(), port.name);
            assert!(err <= 1e-4, "{} {name}.{}: max abs error {err} > 1e-4 (values up to {scale})", preset.name(), port.name);
            assert!(scale > 1e-3, "{name}.{}: output is all zeros, the comparison would prove nothing", port.name);
        }
    }
}

#[test]
fn every_network_at_tiny_matches_onnx_runtime() {
    compare(Preset::Tiny, 64, 64);
}

#[test]
fn every_network_at_lite_matches_onnx_runtime() {
    compare(Preset::Lite, 128, 96);
}

#[test]
fn exported_files_load_and_the_manifest_says_what_onnx_runtime_sees() {
    let tmp = tempfile::tempdir().unwrap();
    let device = default_device();
    let nets = InferenceNets::untrained(Preset::Tiny, &device);
    let manifest = export_models(&nets, Preset::Tiny, Precision::Fp32, 64, 64, tmp.path(), None).unwrap();
    assert!(manifest.untrained);
    let read = Manifest::read(tmp.path()).unwrap();
    assert_eq!(read, manifest);
    for spec in MODELS {
        let bytes = read.load_model(tmp.path(), &spec).unwrap();
        let session = gstgarmenttransfer::runtime::cpu_session(&bytes, spec.file, 1).unwrap();
        let entry = &read.models[spec.name];
        let names = |outlets: &[ort::value::Outlet]| outlets.iter().map(|o| o.name().to_string()).collect::<Vec<_>>();
        assert_eq!(names(session.inputs()), entry.inputs.iter().map(|t| t.name.clone()).collect::<Vec<_>>(), "{}", spec.name);
        assert_eq!(names(session.outputs()), entry.outputs.iter().map(|t| t.name.clone()).collect::<Vec<_>>(), "{}", spec.name);
        for (outlet, want) in session.inputs().iter().zip(&entry.inputs).chain(session.outputs().iter().zip(&entry.outputs)) {
            let shape: Vec<i64> = outlet.dtype().tensor_shape().unwrap().iter().copied().collect();
            let want: Vec<i64> = want.shape.iter().map(|d| d.as_i64().unwrap_or(-1)).collect();
            assert_eq!(shape, want, "{}.{}: ONNX Runtime's shape vs the manifest's (-1: dynamic batch)", spec.name, outlet.name());
        }
    }
}

#[test]
fn a_tampered_model_fails_its_checksum_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let nets = InferenceNets::untrained(Preset::Tiny, &default_device());
    let manifest = export_models(&nets, Preset::Tiny, Precision::Fp32, 64, 64, tmp.path(), None).unwrap();
    let path = tmp.path().join("warp.onnx");
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    let err = manifest.load_model(tmp.path(), &gstgarmenttransfer::contract::WARP).unwrap_err().to_string();
    assert!(err.contains("warp.onnx") && err.contains("sha256"), "{err}");
}

#[test]
fn an_op_without_an_export_is_an_error_naming_it() {
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::Conv2dConfig;
    use garment_training::nn::graph::Graph;
    use garment_training::onnx::export::trace;
    let device = default_device();
    let conv = Conv2dConfig::new([3, 7], [3, 3]).with_padding(PaddingConfig2d::Same).init(&device);
    let err = trace(gstgarmenttransfer::contract::PARSER, 32, 32, |t, inputs| vec![t.conv(&inputs[0], &conv)]).err().unwrap();
    let msg = err.to_string();
    assert!(msg.contains("parser") && msg.contains("Conv2d") && msg.contains("Same"), "{msg}");
}

#[test]
fn batch_axis_is_dynamic() {
    let device = default_device();
    let net = Network::new("regrowth", Preset::Tiny, &device).unwrap();
    let exported = export(&net, 32, 32).unwrap();
    let inputs = random_inputs(net.spec(), 32, 32);
    let two: Vec<Array4<f32>> = inputs.iter().map(|a| ndarray::concatenate![ndarray::Axis(0), a.view(), a.view()]).collect();
    let out = run_onnx(&exported, &two).unwrap();
    assert_eq!(out[0].shape(), &[2, 3, 32, 32]);
}

#[test]
fn the_three_correlation_forms_compute_the_same_warp_and_the_banded_one_with_the_fewest_nodes() {
    use garment_training::onnx::check::compare_models;
    use garment_training::onnx::export::export_with_correlations;
    use garment_training::onnx::trace::CorrelationForm::{Sliced, Stacked};
    let device = default_device();
    for name in ["warp", "teacher_warp"] {
        let net = Network::new(name, Preset::Tiny, &device).unwrap().map(&mut Fixed(Rng::new(7)));
        let banded = export(&net, 128, 96).unwrap();
        let nodes = |e: &garment_training::onnx::Exported| e.model.graph.as_ref().unwrap().node.len();
        for form in [Stacked, Sliced] {
            let older = export_with_correlations(&net, 128, 96, form).unwrap();
            let diff = compare_models(&banded.bytes(), &older.bytes(), net.spec(), 128, 96).unwrap();
            println!("{name}: {} nodes banded, {} {form:?}, outputs agree to {diff:.1e}", nodes(&banded), nodes(&older));
            assert!(diff <= 5e-5, "{name} {form:?}: {diff}");
            assert!(nodes(&banded) < nodes(&older), "{name} {form:?}: {} vs {}", nodes(&banded), nodes(&older));
        }
    }
}

#[test]
fn weights_read_back_from_an_export_export_to_the_same_bytes() {
    use garment_training::onnx::import;
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let device = default_device();
    let mut nets = InferenceNets::untrained(Preset::Tiny, &device);
    nets.nets = nets.nets.into_iter().map(|n| n.map(&mut Perturb)).collect();
    export_models(&nets, Preset::Tiny, Precision::Fp32, 64, 64, &a, None).unwrap();
    let (back, preset, _) = import::load(&a, &device).unwrap();
    assert_eq!(preset, Preset::Tiny);
    export_models(&back, preset, Precision::Fp32, 64, 64, &b, None).unwrap();
    for spec in MODELS {
        assert!(std::fs::read(a.join(spec.file)).unwrap() == std::fs::read(b.join(spec.file)).unwrap(), "{}", spec.file);
    }

    // Files of another architecture than the manifest's preset: an error naming the file.
    let mut manifest = Manifest::read(&a).unwrap();
    manifest.preset = "lite".into();
    manifest.write(&a).unwrap();
    let err = import::load(&a, &device).err().unwrap().to_string();
    assert!(err.contains("parser.onnx") && err.contains("lite"), "{err}");
}

/// `export --precision fp16`: the contract's float32 tensors outside, float16 weights inside
/// (half the bytes), GridSample fed float32, outputs within half precision's error of the fp32
/// file's; its weights are not read back as training results.
#[test]
fn an_fp16_export_computes_the_fp32_outputs_to_half_precision() {
    use garment_training::onnx::check::run_model;
    use garment_training::onnx::proto::{ModelProto, data_type};
    use garment_training::onnx::import;
    use prost::Message;

    let device = default_device();
    let nets = InferenceNets::untrained(Preset::Tiny, &device);
    let (full, half) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = export_models(&nets, Preset::Tiny, Precision::Fp32, 64, 64, full.path(), None).unwrap();
    let b = export_models(&nets, Preset::Tiny, Precision::Fp16, 64, 64, half.path(), None).unwrap();
    assert_eq!((a.precision.as_str(), b.precision.as_str()), ("fp32", "fp16"));
    assert_eq!(Manifest::read(half.path()).unwrap(), b);
    for spec in MODELS {
        let (x, y) = (a.load_model(full.path(), &spec).unwrap(), b.load_model(half.path(), &spec).unwrap());
        let graph = ModelProto::decode(&y[..]).unwrap().graph.unwrap();
        // Bytes of the initializers of type `ty`, less Resize's scales (float32 by the standard).
        let weight_bytes = |bytes: &[u8], ty: i32| -> usize {
            let g = ModelProto::decode(bytes).unwrap().graph.unwrap();
            let scales: Vec<&String> = g.node.iter().filter(|n| n.op_type == "Resize").filter_map(|n| n.input.get(2)).collect();
            g.initializer.iter().filter(|t| t.data_type == ty && !scales.contains(&&t.name)).map(|t| t.raw_data.len()).sum()
        };
        assert_eq!(weight_bytes(&y, data_type::FLOAT), 0, "{}: float32 weights left", spec.name);
        assert_eq!(2 * weight_bytes(&y, data_type::FLOAT16), weight_bytes(&x, data_type::FLOAT), "{}", spec.name);
        let cast_to = |name: &str| {
            graph.node.iter().find(|n| n.output.iter().any(|o| o == name)).filter(|n| n.op_type == "Cast").map(|n| n.attribute[0].i)
        };
        for n in graph.node.iter().filter(|n| n.op_type == "GridSample") {
            for i in &n.input {
                assert_eq!(cast_to(i), Some(data_type::FLOAT as i64), "{}: GridSample input {i} is not cast to float32", spec.name);
            }
        }
        let inputs = random_inputs(spec, 64, 64);
        let (want, got) = (run_model(&x, spec, &inputs).unwrap(), run_model(&y, spec, &inputs).unwrap());
        for ((w, g), port) in want.iter().zip(&got).zip(spec.outputs) {
            let scale = w.iter().fold(0f32, |m, v| m.max(v.abs())).max(1.0);
            // The warp's two sampled outputs read its inputs, white noise here, at positions
            // the flow puts a thousandth of the grid off: neighbouring samples differ by up to
            // 2, so the sampled values move by a few hundredths (0.018 measured) while the
            // flow itself stays within half precision's error.
            let bound = if matches!(port.name, "warped_garment" | "warped_mask") { 5e-2 } else { 1e-2 } * scale;
            let diff = max_abs_diff(w, g);
            assert!(diff > 0.0 && diff <= bound, "{}.{}: fp16 differs by {diff} (bound {bound})", spec.name, port.name);
        }
    }
    let err = import::load(half.path(), &device).err().expect("fp16 weights are not read back").to_string();
    assert!(err.contains("fp16") && err.contains("manifest.json"), "{err}");
}

/// A whole-number upsampling is written (Resize with `scales`, no `axes`) so that ONNX
/// Runtime's CPU provider keeps it inside its blocked (NCHWc) layout between the convolutions:
/// in the graph ONNX Runtime optimises from the lite parser, no plain Resize is left and only
/// the input's and the output's layout changes are (a Resize with `sizes` and `axes` stays
/// plain NCHW, with a reorder out of the blocked layout before it and back in after it).
#[test]
fn whole_number_upsampling_stays_in_onnx_runtimes_blocked_layout() {
    use garment_training::onnx::proto::ModelProto;
    use prost::Message;
    let device = default_device();
    let net = Network::new("parser", Preset::Lite, &device).unwrap();
    let exported = export(&net, 128, 96).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let optimised = tmp.path().join("parser.optimised.onnx");
    gstgarmenttransfer::runtime::session_builder(1, "parser")
        .unwrap()
        .with_optimized_model_path(&optimised)
        .unwrap()
        .commit_from_memory(&exported.bytes())
        .unwrap();
    let graph = ModelProto::decode(std::fs::read(&optimised).unwrap().as_slice()).unwrap().graph.unwrap();
    let count = |op: &str, domain: &str| graph.node.iter().filter(|n| n.op_type == op && n.domain == domain).count();
    let nchwc = "com.microsoft.nchwc";
    let (resizes, upsamples, reorders) = (count("Resize", ""), count("Upsample", nchwc), count("ReorderInput", nchwc) + count("ReorderOutput", nchwc));
    println!("optimised lite parser: {} nchwc convolutions, {upsamples} nchwc upsamplings, {resizes} plain Resize, {reorders} reorders", count("Conv", nchwc));
    if count("Conv", nchwc) == 0 {
        // A CPU without the blocked layout (ONNX Runtime uses it where MLAS has NCHWc kernels,
        // as on x86-64): nothing to check.
        return;
    }
    assert_eq!(resizes, 0, "every upsampling of the parser doubles its input: none should stay a plain Resize");
    assert_eq!(upsamples, 4, "the parser's decoder upsamples four times");
    assert!(reorders <= 2, "{reorders} layout reorders: only the input's and the output's should be left");
}

/// The 8-bit form: batch norms folded into their convolutions compute what they did; ONNX
/// Runtime runs every convolution but the output's as an integer convolution (the ReLUs after
/// them absorbed); the outputs stay near float32's on the inputs calibrated on.
#[test]
fn an_int8_model_folds_batch_norms_exactly_and_runs_its_convolutions_in_8_bits() {
    use garment_training::onnx::check::run_model;
    use garment_training::onnx::int8::{Calibration, fold_batch_norms, to_int8};
    use prost::Message;
    let device = default_device();
    let net = Network::new("parser", Preset::Lite, &device).unwrap().map(&mut Perturb);
    let (h, w) = (128, 96);
    let exported = export(&net, h, w).unwrap();
    let spec = exported.spec;
    let inputs = random_inputs(spec, h, w);
    let float = run_model(&exported.bytes(), spec, &inputs).unwrap();

    let mut folded = exported.model.clone();
    fold_batch_norms(&mut folded);
    let graph = folded.graph.as_ref().unwrap();
    assert_eq!(graph.node.iter().filter(|n| n.op_type == "BatchNormalization").count(), 0, "a batch norm left unfolded");
    let diff = max_abs_diff(&run_model(&folded.encode_to_vec(), spec, &inputs).unwrap()[0], &float[0]);
    assert!(diff < 1e-4, "folded parser differs by {diff}");
    // A convolution that writes a model output stays float32.
    let convs = graph.node.iter().filter(|n| n.op_type == "Conv" && !graph.output.iter().any(|o| o.name == n.output[0])).count();

    let mut calibration = Calibration::new(&exported.bytes(), spec.file).unwrap();
    let names: Vec<&str> = spec.inputs.iter().map(|p| p.name).collect();
    for _ in 0..4 {
        calibration.observe(&names, &random_inputs(spec, h, w)).unwrap();
    }
    calibration.observe(&names, &inputs).unwrap();
    let mut int8 = calibration.model.clone();
    to_int8(&mut int8, &calibration.ranges).unwrap();
    let bytes = int8.encode_to_vec();
    let quantized = run_model(&bytes, spec, &inputs).unwrap();
    let (diff, scale) = (max_abs_diff(&quantized[0], &float[0]), float[0].iter().fold(0.0f32, |m, x| m.max(x.abs())));
    println!("int8 parser: max difference {diff} on outputs up to {scale}");
    assert!(diff < 0.05 * scale, "int8 parser differs by {diff} on outputs up to {scale}");

    let tmp = tempfile::tempdir().unwrap();
    let optimised = tmp.path().join("parser.int8.optimised.onnx");
    gstgarmenttransfer::runtime::session_builder(1, "parser").unwrap().with_optimized_model_path(&optimised).unwrap().commit_from_memory(&bytes).unwrap();
    let graph = garment_training::onnx::proto::ModelProto::decode(std::fs::read(&optimised).unwrap().as_slice()).unwrap().graph.unwrap();
    let count = |op: &str| graph.node.iter().filter(|n| n.op_type == op).count();
    println!("optimised int8 parser: {} QLinearConv, {} Conv, {} Relu", count("QLinearConv"), count("Conv"), count("Relu"));
    assert_eq!(count("QLinearConv"), convs, "every convolution but an output's should be an integer one");
    assert_eq!(count("Relu"), 0, "a ReLU after a quantized convolution should be absorbed by its 8-bit output");
}
