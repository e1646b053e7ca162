//! Frames per second of the chain and of the element in a real pipeline, on the same frames,
//! with every stage split into pre-processing, ONNX Runtime and post-processing, and the
//! machine-independent figures of a frame: ONNX nodes run, session runs, bytes handed to and
//! taken from the sessions (on a GPU: what crosses between host and device).
//!
//!   cargo bench --bench element -- [--models DIR | --preset lite|paper|tiny] [--size WxH]...
//!       [--provider cpu|cuda] [--cuda-graph on|off] [--composite host|device] [--in-flight 1|2]
//!       [--frames N] [--json FILE]
//!
//! Defaults: the shipped `models/`, 640x480 and 1920x1080, the CPU, one frame in flight, 20
//! frames after 2 warm-up frames. `--preset` exports networks of that preset with untrained
//! weights whose parser sees a garment everywhere and whose transfer parsing sees garment or
//! skin everywhere: every stage, arm regrowth included, then runs on every frame, and the
//! timings, which do not depend on the weight values, are those of the architecture. On the
//! CPU the run also times the same weights in float32 where the folder's 8-bit form ran (`int8/`), and with the warp's correlations in their two older
//! forms, stacked shifts and sliced shifts (float32 folders). On CUDA, `--cuda-graph on`
//! captures the models in CUDA graphs (the element's `cuda-graph`, off by default) and also
//! times the chain without them in the same run. `--composite` is where the full-resolution
//! composite runs (the element's `composite`; default as its `auto`: the device on CUDA, the
//! host on the CPU); the other place is timed beside it in the same run.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use gst::prelude::*;
use garment_training::onnx::trace::CorrelationForm;
use gstgarmenttransfer::chain::{Chain, OutputMode, Stage, Stats};
use gstgarmenttransfer::contract::MODELS;
use gstgarmenttransfer::frame::PixelFormat;
use gstgarmenttransfer::models::{ExecutionProvider, Models};
use gstgarmenttransfer::pipeline::{Job, OwnedFrame, Pipelined, Pixels};
use gstgarmenttransfer::reference::Reference;
use serde_json::json;

struct Args {
    models: Option<PathBuf>,
    preset: Option<garment_training::nn::Preset>,
    sizes: Vec<(u32, u32)>,
    cuda: bool,
    in_flight: u32,
    cuda_graph: bool,
    composite_on_device: Option<bool>,
    frames: usize,
    json: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args { models: None, preset: None, sizes: vec![], cuda: false, in_flight: 1, cuda_graph: false, composite_on_device: None, frames: 20, json: None };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--models" => a.models = Some(v().into()),
            "--preset" => {
                use garment_training::nn::Preset;
                a.preset = Some(match v().as_str() {
                    "paper" => Preset::Paper,
                    "lite" => Preset::Lite,
                    "tiny" => Preset::Tiny,
                    other => panic!("--preset {other}: expected paper, lite or tiny"),
                })
            }
            "--size" => {
                let s = v();
                let (w, h) = s.split_once('x').expect("--size WxH");
                a.sizes.push((w.parse().expect("width"), h.parse().expect("height")));
            }
            "--provider" => a.cuda = v() == "cuda",
            "--in-flight" => a.in_flight = v().parse().expect("--in-flight 1|2"),
            "--cuda-graph" => a.cuda_graph = v() == "on",
            "--composite" => {
                a.composite_on_device = Some(match v().as_str() {
                    "device" => true,
                    "host" => false,
                    other => panic!("--composite {other}: expected host or device"),
                })
            }
            "--frames" => a.frames = v().parse().expect("--frames N"),
            "--json" => a.json = Some(v().into()),
            _ => {} // cargo's own --bench
        }
    }
    if a.sizes.is_empty() {
        a.sizes = vec![(640, 480), (1920, 1080)];
    }
    a
}

fn frames(w: u32, h: u32, n: usize) -> Vec<Vec<u8>> {
    let world = garment_training::synth::World::new(w, h, 5).unwrap();
    let seq = world.sequence(n);
    let own = world.tailor(&seq.person.upper).unwrap();
    seq.poses
        .iter()
        .map(|p| world.draw_posed(&seq.person, p, &own).unwrap().rgb.chunks(3).flat_map(|c| [c[0], c[1], c[2], 255]).collect())
        .collect()
}

/// Nodes of each model's graph, by contract name.
fn nodes(dir: &Path) -> Vec<(&'static str, usize)> {
    let count = |spec: &gstgarmenttransfer::contract::ModelSpec| garment_training::onnx::proto::node_count(&std::fs::read(dir.join(spec.file)).unwrap()).unwrap();
    MODELS.iter().map(|spec| (spec.name, count(spec))).collect()
}

/// The same weights as `dir` with the warp's correlations written in an older `form`.
fn older_copy(dir: &Path, out: &Path, form: CorrelationForm) -> PathBuf {
    let device = garment_training::nn::default_device();
    let (nets, preset, manifest) = garment_training::onnx::import::load(dir, &device).unwrap();
    garment_training::onnx::export_models(&nets, preset, garment_training::onnx::Precision::Fp32, manifest.height, manifest.width, out, None).unwrap();
    let warp = nets.nets.iter().find(|n| n.spec().name == "warp").unwrap();
    let older = garment_training::onnx::export::export_with_correlations(warp, manifest.height, manifest.width, form).unwrap().bytes();
    std::fs::write(out.join("warp.onnx"), &older).unwrap();
    let mut m = gstgarmenttransfer::manifest::Manifest::read(out).unwrap();
    m.models.get_mut("warp").unwrap().sha256 = gstgarmenttransfer::manifest::sha256_hex(&older);
    m.write(out).unwrap();
    out.to_path_buf()
}

/// How the bare chain runs: where, on how many threads, how many frames in flight, on CUDA
/// whether the models are captured in CUDA graphs, and where the composite runs.
#[derive(Clone, Copy)]
struct Setup {
    provider: ExecutionProvider,
    threads: usize,
    in_flight: u32,
    cuda_graph: bool,
    composite_on_device: bool,
}

/// Seconds per frame of the bare chain over `frames` (the first two warm up, one after the
/// other), its stats, and the models that run on CUDA without a CUDA graph (and why).
fn bare_chain(dir: &Path, setup: Setup, reference_path: &Path, frames: &[Vec<u8>], w: u32, h: u32) -> (f64, Stats, Vec<String>) {
    let Setup { provider, threads, in_flight, cuda_graph, composite_on_device } = setup;
    let files = gstgarmenttransfer::models::ModelFiles::read(dir).unwrap();
    let mut models = Models::open_with(&files, &MODELS, provider, 0, threads, cuda_graph).unwrap();
    let without_graph = models.provider.without_cuda_graph.clone();
    let reference = Arc::new(Reference::prepare(reference_path, &mut models).unwrap());
    models.take_runs();
    let mut chain = Chain::new(models);
    chain.back.composite_on_device(composite_on_device).unwrap();
    let owned = |f: &Vec<u8>| OwnedFrame { data: f.clone(), width: w as usize, height: h as usize, stride: w as usize * 4, format: PixelFormat::Rgbx };
    for f in &frames[..2] {
        chain.process(&mut owned(f).view().unwrap(), &reference, None, OutputMode::Composite).unwrap();
    }
    chain.reset_stats();
    let timed = &frames[2..];
    let start = Instant::now();
    if in_flight <= 1 {
        for f in timed {
            chain.process(&mut owned(f).view().unwrap(), &reference, None, OutputMode::Composite).unwrap();
        }
        return (start.elapsed().as_secs_f64() / timed.len() as f64, chain.stats(), without_graph);
    }
    // Two frames in flight: the halves on their own threads (the time includes filling the
    // pipeline once).
    let mut p = Pipelined::new(chain).unwrap();
    let mut stats = Stats::default();
    for f in timed {
        p.submit(Job { pixels: owned(f), reference: reference.clone(), background: None, mode: OutputMode::Composite, follow: true, temporal: true });
        while p.in_flight() >= in_flight as usize {
            let done = p.oldest().unwrap();
            done.result.unwrap();
            stats = done.stats;
        }
    }
    while let Some(done) = p.oldest() {
        stats = done.stats;
    }
    (start.elapsed().as_secs_f64() / timed.len() as f64, stats, without_graph)
}

/// Seconds per frame of the element in `appsrc ! garmenttransfer ! appsink`, and its latency.
fn element(dir: &Path, ep: &str, setup: Setup, reference_path: &Path, frames: &[Vec<u8>], w: u32, h: u32) -> (f64, gst::ClockTime) {
    let Setup { in_flight, cuda_graph, .. } = setup;
    let composite = if setup.composite_on_device { "device" } else { "host" };
    let pipeline = common::launch(&format!(
        "appsrc name=src format=time caps=video/x-raw,format=RGBx,width={w},height={h},framerate=30/1 ! \
         garmenttransfer name=gt models={} reference={} execution-provider={ep} frames-in-flight={in_flight} cuda-graph={cuda_graph} composite={composite} ! appsink name=sink sync=false",
        dir.display(),
        reference_path.display()
    ));
    let src = pipeline.by_name("src").unwrap().downcast::<gst_app::AppSrc>().unwrap();
    let sink = pipeline.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut start = Instant::now();
    let mut pulled = 0;
    for (i, f) in frames.iter().enumerate() {
        let mut b = gst::Buffer::from_mut_slice(f.clone());
        b.get_mut().unwrap().set_pts(gst::ClockTime::from_mseconds(33 * i as u64));
        src.push_buffer(b).unwrap();
        // With two in flight the first frame comes out when the second goes in.
        if i + 1 >= in_flight as usize {
            sink.pull_sample().unwrap();
            pulled += 1;
            if pulled == 2 {
                start = Instant::now();
            }
        }
    }
    src.end_of_stream().unwrap();
    while pulled < frames.len() {
        sink.pull_sample().unwrap();
        pulled += 1;
    }
    let secs = start.elapsed().as_secs_f64() / (frames.len() - 2) as f64;
    let mut q = gst::query::Latency::new();
    let asked = sink.static_pad("sink").unwrap().peer_query(&mut q);
    let latency = if asked { q.result().1 } else { gst::ClockTime::ZERO };
    pipeline.set_state(gst::State::Null).unwrap();
    (secs, latency)
}

/// Make untrained transfer parsing answer upper garment or upper-body skin at every pixel, which
/// of the two left to its untrained features: over a parser that sees a garment everywhere, the
/// skin is new skin, so arm regrowth runs on every frame, beside a garment to warp and sample.
fn skin_or_garment_transfer_parsing(nets: &mut garment_training::onnx::InferenceNets) {
    use burn::module::Param;
    use burn::tensor::{Tensor, TensorData};
    use gstgarmenttransfer::contract::ParsingGroup;
    for net in nets.nets.iter_mut() {
        if let garment_training::nn::network::Network::TransferParsing(u) = net {
            // Skin's logit the negative of the garment's, both far above the other groups': the
            // sign of one untrained projection of the side outputs picks between them per pixel.
            let [classes, cin, kh, kw] = u.fuse.weight.shape().dims::<4>();
            let (garment, skin) = (ParsingGroup::UpperGarment as usize, ParsingGroup::UpperSkin as usize);
            let device = u.fuse.weight.device();
            let mut w = u.fuse.weight.val().into_data().try_to_vec::<f32>().unwrap();
            let row = cin * kh * kw;
            for i in 0..row {
                w[skin * row + i] = -w[garment * row + i];
            }
            u.fuse.weight = Param::from_tensor(Tensor::from_data(TensorData::new(w, [classes, cin, kh, kw]), &device));
            let bias: Vec<f32> = (0..classes).map(|c| if c == garment || c == skin { 10.0 } else { -10.0 }).collect();
            u.fuse.bias = Some(Param::from_tensor(Tensor::from_data(TensorData::new(bias, [classes]), &device)));
        }
    }
}

fn main() {
    common::init();
    let a = args();
    let tmp = tempfile::tempdir().unwrap();
    let models_dir = match (&a.models, a.preset) {
        (Some(d), _) => d.clone(),
        (None, Some(preset)) => {
            let device = garment_training::nn::default_device();
            let mut nets = garment_training::onnx::InferenceNets::untrained(preset, &device);
            common::all_garment_parser(&mut nets);
            skin_or_garment_transfer_parsing(&mut nets);
            let dir = tmp.path().join("models");
            garment_training::onnx::export_models(&nets, preset, garment_training::onnx::Precision::Fp32, 256, 192, &dir, None).unwrap();
            dir
        }
        (None, None) => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models"),
    };
    let manifest = gstgarmenttransfer::manifest::Manifest::read(&models_dir).unwrap();
    let reference_path = common::person_png(tmp.path(), "reference.png", 3);
    let cores = gstgarmenttransfer::runtime::pool_threads();
    // As the element chooses: every session may use every core.
    let threads = cores;
    let (provider, ep) = if a.cuda { (ExecutionProvider::Cuda, "cuda") } else { (ExecutionProvider::Cpu, "cpu") };
    // On the CPU a folder with an 8-bit form runs that; the float32 files of the same weights
    // are timed beside it.
    let int8 = !a.cuda && models_dir.join(gstgarmenttransfer::models::INT8_FOLDER).join("manifest.json").exists();
    let mut forms = vec![("stacked", CorrelationForm::Stacked), ("sliced", CorrelationForm::Sliced)];
    if int8 {
        forms.insert(0, ("float32", CorrelationForm::Banded));
    }
    // The older forms are written from the weights, which an fp16 folder does not give back.
    let older: Vec<(&str, PathBuf)> = if !a.cuda && manifest.precision == "fp32" {
        forms.into_iter().map(|(name, form)| (name, older_copy(&models_dir, &tmp.path().join(name), form))).collect()
    } else {
        Vec::new()
    };
    let precision = if int8 { "int8" } else { manifest.precision.as_str() };
    // The nodes of the files that run.
    let graph_nodes = nodes(&if int8 { models_dir.join(gstgarmenttransfer::models::INT8_FOLDER) } else { models_dir.clone() });
    println!(
        "models {} ({} {} {}x{}), {ep}, {cores} cores, {} frame(s) in flight, {} frames after 2 warm-up frames",
        models_dir.display(),
        manifest.preset,
        precision,
        manifest.width,
        manifest.height,
        a.in_flight,
        a.frames
    );
    let mut runs = Vec::new();
    let composite_on_device = a.composite_on_device.unwrap_or(a.cuda);
    let setup = Setup { provider, threads, in_flight: a.in_flight, cuda_graph: a.cuda_graph, composite_on_device };
    let mut refused_graph = Vec::new();
    for &(w, h) in &a.sizes {
        let frames = frames(w, h, a.frames + 2);
        let (bare, stats, without_graph) = bare_chain(&models_dir, setup, &reference_path, &frames, w, h);
        for why in &without_graph {
            println!("  without a CUDA graph: {why}");
        }
        refused_graph = without_graph;
        let (elem, latency) = element(&models_dir, ep, setup, &reference_path, &frames, w, h);
        let per_frame = |v: f64| v / stats.frames.max(1) as f64;
        // Nodes a frame runs: each run's graph nodes (the glue graphs' included), as counted by
        // the chain.
        let frame_nodes = per_frame(stats.nodes as f64);
        let runs_of = |stage: Stage| stats.count(stage) as f64 / stats.frames.max(1) as f64;
        println!("{w}x{h}:");
        println!("  {:<18} {:>8} {:>8} {:>8} {:>8}", "stage (ms)", "total", "pre", "onnx", "post");
        let mut stages = serde_json::Map::new();
        for stage in Stage::ALL {
            let [pre, ort, post] = stats.mean_split_ms(stage);
            println!("  {:<18} {:8.1} {pre:8.1} {ort:8.1} {post:8.1}", stage.name(), stats.mean_ms(stage));
            stages.insert(stage.name().to_string(), json!({"ms": stats.mean_ms(stage), "pre_ms": pre, "onnx_ms": ort, "post_ms": post, "runs_per_frame": runs_of(stage)}));
        }
        println!(
            "  per frame: {:.0} ONNX nodes, {:.2} session runs, {:.2} MB in, {:.2} MB out",
            frame_nodes,
            per_frame(stats.runs as f64),
            per_frame(stats.bytes_in as f64) / 1e6,
            per_frame(stats.bytes_out as f64) / 1e6
        );
        println!("  bare chain         {:8.1} ms/frame  {:5.2} fps", bare * 1e3, 1.0 / bare);
        println!("  element            {:8.1} ms/frame  {:5.2} fps   latency {latency}", elem * 1e3, 1.0 / elem);
        println!("  element / chain    {:8.3}   (target <= 1.10)", elem / bare);
        let mut run = json!({
            "width": w, "height": h, "stages": stages,
            "nodes_per_frame": frame_nodes, "session_runs_per_frame": per_frame(stats.runs as f64),
            "bytes_in_per_frame": per_frame(stats.bytes_in as f64), "bytes_out_per_frame": per_frame(stats.bytes_out as f64),
            "chain_ms": bare * 1e3, "chain_fps": 1.0 / bare, "element_ms": elem * 1e3, "element_fps": 1.0 / elem,
            "element_over_chain": elem / bare, "latency_ms": latency.nseconds() as f64 / 1e6,
        });
        if a.cuda && a.cuda_graph {
            // The same models without CUDA graphs, in the same process: what capturing them gives.
            let (plain, plain_stats, _) = bare_chain(&models_dir, Setup { cuda_graph: false, ..setup }, &reference_path, &frames, w, h);
            println!("  without CUDA graphs: chain {:.2} ms/frame ({:.1} fps); with/without: {:.3}", plain * 1e3, 1.0 / plain, bare / plain);
            let stages: serde_json::Map<_, _> = Stage::ALL.into_iter().map(|s| (s.name().to_string(), json!(plain_stats.mean_ms(s)))).collect();
            run["without_cuda_graphs"] = json!({"chain_ms": plain * 1e3, "chain_fps": 1.0 / plain, "chain_ratio": bare / plain, "stages_ms": stages});
        }
        {
            // The composite in the other place, in the same run.
            let other = Setup { composite_on_device: !composite_on_device, ..setup };
            let (there, there_stats, _) = bare_chain(&models_dir, other, &reference_path, &frames, w, h);
            let (here_name, there_name) = if composite_on_device { ("device", "host") } else { ("host", "device") };
            let c = Stage::Composite;
            println!(
                "  composite on the {there_name}: chain {:.1} ms/frame, composite {:.1} ms; {here_name}/{there_name}: chain {:.3}, composite {:.3}",
                there * 1e3,
                there_stats.mean_ms(c),
                bare / there,
                stats.mean_ms(c) / there_stats.mean_ms(c)
            );
            run["composite_elsewhere"] = json!({"on": there_name, "chain_ms": there * 1e3, "composite_ms": there_stats.mean_ms(c), "chain_ratio": bare / there, "composite_ratio": stats.mean_ms(c) / there_stats.mean_ms(c)});
        }
        for (name, dir) in &older {
            let (old, old_stats, _) = bare_chain(dir, setup, &reference_path, &frames, w, h);
            let warp = Stage::Warp;
            let what = if *name == "float32" { "float32 (same weights)".to_string() } else { format!("float32, {name} correlations (same weights)") };
            println!(
                "  {what}: chain {:.1} ms/frame, warp {:.1} ms; this/that: chain {:.3}, warp {:.3}",
                old * 1e3,
                old_stats.mean_ms(warp),
                bare / old,
                stats.mean_ms(warp) / old_stats.mean_ms(warp)
            );
            run[*name] = json!({"chain_ms": old * 1e3, "warp_ms": old_stats.mean_ms(warp), "chain_ratio": bare / old, "warp_ratio": stats.mean_ms(warp) / old_stats.mean_ms(warp)});
        }
        runs.push(run);
    }
    if let Some(path) = &a.json {
        let out = json!({
            "models": models_dir.display().to_string(), "preset": manifest.preset, "model_width": manifest.width, "model_height": manifest.height,
            "untrained": manifest.untrained, "precision": precision, "provider": ep, "cuda_graph": a.cuda && a.cuda_graph, "composite": if composite_on_device { "device" } else { "host" }, "cores": cores, "threads_per_session": threads, "frames_in_flight": a.in_flight,
            "frames": a.frames, "graph_nodes": graph_nodes.iter().map(|(n, c)| (n.to_string(), json!(c))).collect::<serde_json::Map<_, _>>(),
            "cuda_graph_refused": refused_graph, "runs": runs,
        });
        std::fs::write(path, serde_json::to_string_pretty(&out).unwrap()).unwrap();
        println!("wrote {}", path.display());
    }
}
