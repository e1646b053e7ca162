// SPDX-License-Identifier: MIT OR Apache-2.0

/**
 * SECTION:element-garmenttransfer
 *
 * Dresses the person in the video in the upper garment that another person wears in one
 * reference photo: the garment is warped to the person's pose and body, arms are regrown where
 * the new sleeves are shorter, and face, hair, lower garment, legs and background stay as they
 * were. Five ONNX models run per frame through ONNX Runtime, on CUDA when there is a GPU and on
 * the CPU otherwise. A frame with nobody in it passes through unchanged.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=walk.mp4 ! decodebin ! videoconvert ! \
 *     garmenttransfer reference=shirt.jpg ! videoconvert ! x264enc ! mp4mux ! filesink location=out.mp4
 * ]|
 * `filesrc ! decodebin` reads and decodes the recording; `videoconvert` gives the element a
 * packed RGB layout it works in (RGBA, BGRA, RGBx, BGRx, RGB or BGR); `garmenttransfer` with
 * `reference=shirt.jpg` (a photo of someone wearing the shirt) dresses the person in it, using
 * the shipped `models/`; the second `videoconvert ! x264enc ! mp4mux` writes H.264 in MP4.
 *
 * `reference` may change while PLAYING: the new photo is prepared by the element's own worker
 * thread (with its own parser and dense-pose sessions, so the stream never waits for it) and
 * swapped in at a frame boundary; the latest request wins; if it cannot be used, the old one
 * stays and the element posts a warning naming the file. The `stats` property says which photo
 * is active.
 *
 * User files are read with limits: regular files only (no FIFO, device or endless file), at
 * most 64 MiB for a photo and 1 GiB for a model, each within 10 s; photos are PNG or JPEG of at
 * most 16384 pixels a side and 50 megapixels, at least 64x64, EXIF orientation applied. Model
 * files are plain names inside the models folder, never links; each model runs once at start,
 * and what it really outputs is checked against the contract.
 *
 * A frame whose inference fails passes through unchanged with a warning; after
 * `max-consecutive-failures` such frames in a row the element errors out. The models stay
 * loaded across stop and start while their folder, provider and files are unchanged, so a
 * pipeline that cycles NULL-PLAYING for each customer does not reload them.
 */
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::SystemTime;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;

use super::{Composite, ExecutionProvider, Output};
use crate::chain::{Chain, Outcome, OutputMode, Stage, Stats};
use crate::contract::{DENSEPOSE, MODELS, PARSER};
use crate::frame::{FrameMut, PixelFormat, RgbImage};
use crate::install::default_models;
use crate::models::{self, ModelError, ModelFiles, Models};
use crate::pipeline::{Done, Job, Pipelined, Pixels};
use crate::reference::{Reference, read_image};

static CAT: LazyLock<gst::DebugCategory> =
    LazyLock::new(|| gst::DebugCategory::new("garmenttransfer", gst::DebugColorFlags::empty(), Some("Garment transfer element")));

/// Smallest frame side the models can make sense of.
pub const MIN_SIDE: u32 = 64;
/// Latency reported before the first frame has been timed: about a `lite` frame on a 2-core CPU.
const LATENCY_ESTIMATE_MS: u64 = 200;
/// Default of `max-consecutive-failures`.
const DEFAULT_MAX_FAILURES: u32 = 10;
/// Most of `frames-in-flight`: the chain has two halves.
const MAX_FRAMES_IN_FLIGHT: u32 = 2;

/// A poisoned lock means a panic elsewhere already reported itself; the data is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug, Clone)]
struct Settings {
    reference: Option<PathBuf>,
    models: PathBuf,
    execution_provider: ExecutionProvider,
    device_id: i32,
    cuda_graph: bool,
    composite: Composite,
    output: Output,
    background: Option<PathBuf>,
    max_failures: u32,
    follow_person: bool,
    temporal_smoothing: bool,
    frames_in_flight: u32,
    int8: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            reference: None,
            models: default_models(),
            execution_provider: ExecutionProvider::Auto,
            device_id: 0,
            cuda_graph: false,
            composite: Composite::Auto,
            output: Output::Composite,
            background: None,
            max_failures: DEFAULT_MAX_FAILURES,
            follow_person: true,
            temporal_smoothing: true,
            frames_in_flight: 1,
            int8: true,
        }
    }
}

/// What the models were opened from: when nothing of it changed, a new start reuses them.
#[derive(Debug, Clone, PartialEq)]
struct ModelsKey {
    dir: PathBuf,
    provider: ExecutionProvider,
    device_id: i32,
    cuda_graph: bool,
    threads: usize,
    int8: bool,
    /// Name, size, modification time and inode of every entry of the folder and its int8/.
    files: Vec<(std::ffi::OsString, u64, Option<SystemTime>, u64)>,
}

impl ModelsKey {
    fn of(settings: &Settings, threads: usize) -> ModelsKey {
        use std::os::unix::fs::MetadataExt;
        let entries = |dir: &std::path::Path| -> Vec<_> {
            std::fs::read_dir(dir)
                .map(|entries| {
                    entries
                        .flatten()
                        .take(256)
                        .filter_map(|e| e.metadata().ok().map(|m| (e.file_name(), m.len(), m.modified().ok(), m.ino())))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut files = entries(&settings.models);
        files.sort();
        let mut int8 = entries(&settings.models.join(models::INT8_FOLDER));
        int8.sort();
        files.extend(int8);
        let (provider, device_id) = (settings.execution_provider, settings.device_id);
        ModelsKey { dir: settings.models.clone(), provider, device_id, cuda_graph: settings.cuda_graph, threads, int8: settings.int8, files }
    }
}

/// Opened models, kept across stop and start.
struct Loaded {
    key: ModelsKey,
    /// The five models, for the streaming thread.
    models: Models,
    /// Parser and dense pose again, for preparing references off the streaming thread.
    front_end: Arc<Mutex<Models>>,
}

/// A reference photo to prepare; only the latest `generation` is applied.
struct Request {
    generation: u64,
    path: PathBuf,
}

/// The chain, run on the streaming thread, or its two halves on their own threads.
enum Engine {
    Serial(Chain),
    Pipelined(Pipelined<Mapped>),
}

/// A buffer mapped for writing while it is in flight.
struct Mapped {
    frame: gst_video::VideoFrame<gst_video::video_frame::Writable>,
    format: PixelFormat,
}

impl Pixels for Mapped {
    fn view(&mut self) -> Result<FrameMut<'_>, crate::frame::GeometryError> {
        let (width, height) = (self.frame.width() as usize, self.frame.height() as usize);
        let stride = self.frame.plane_stride()[0] as isize;
        let format = self.format;
        let data = self.frame.plane_data_mut(0).map_err(|e| crate::frame::GeometryError { width, height, format, why: e.to_string() })?;
        FrameMut::new(data, width, height, stride, format)
    }
}

/// What the streaming thread owns between start and stop.
struct State {
    engine: Engine,
    front_end: Arc<Mutex<Models>>,
    key: ModelsKey,
    /// The active reference: the worker exchanges the pointer, a frame takes a clone of it.
    reference: Arc<Mutex<Arc<Reference>>>,
    background: Option<Arc<RgbImage>>,
    /// The background resized to the last frame's size.
    background_fitted: Option<Arc<RgbImage>>,
    format: Option<PixelFormat>,
    /// The negotiated caps, for mapping buffers that go in flight.
    info: Option<gst_video::VideoInfo>,
    provider: &'static str,
    consecutive_failures: u32,
}

impl State {
    /// Count a finished frame: the failures in a row it makes.
    fn count(&mut self, ok: bool) -> u32 {
        self.consecutive_failures = if ok { 0 } else { self.consecutive_failures + 1 };
        self.consecutive_failures
    }
}

/// What `stats` reads: copied after each frame, so reading never waits for one.
#[derive(Debug, Clone, Default)]
struct Snapshot {
    stats: Stats,
    provider: &'static str,
    /// The manifest's precision of the files running: fp32, fp16, or int8 (the 8-bit form).
    precision: String,
    /// Where the composite runs: "host" or "device".
    composite: &'static str,
    failed: u64,
    reference: Option<PathBuf>,
}

#[derive(Default)]
pub struct GarmentTransfer {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    loaded: Mutex<Option<Loaded>>,
    /// Requests to the reference worker while started.
    requests: Mutex<Option<mpsc::Sender<Request>>>,
    /// Generation of the latest reference request.
    generation: Arc<AtomicU64>,
    snapshot: Arc<Mutex<Snapshot>>,
    /// Mean processing time in microseconds, for the LATENCY query (0 before the first frame).
    latency_us: AtomicU64,
    /// What two frames in flight add to the latency: one frame interval (0 with one frame).
    flight_latency_ns: AtomicU64,
}

#[glib::object_subclass]
impl ObjectSubclass for GarmentTransfer {
    const NAME: &'static str = "GstGarmentTransfer";
    type Type = super::GarmentTransfer;
    type ParentType = gst_video::VideoFilter;
}

fn output_mode(o: Output) -> OutputMode {
    match o {
        Output::Composite => OutputMode::Composite,
        Output::Parsing => OutputMode::Parsing,
        Output::TransferParsing => OutputMode::TransferParsing,
        Output::WarpedGarment => OutputMode::WarpedGarment,
        Output::SideBySide => OutputMode::SideBySide,
        Output::Framing => OutputMode::Framing,
    }
}

fn provider_of(p: ExecutionProvider) -> models::ExecutionProvider {
    match p {
        ExecutionProvider::Auto => models::ExecutionProvider::Auto,
        ExecutionProvider::Cuda => models::ExecutionProvider::Cuda,
        ExecutionProvider::Cpu => models::ExecutionProvider::Cpu,
    }
}

/// The reference worker: one per started element. Takes the latest request, prepares it with
/// its own sessions, and swaps it in unless a newer request came meanwhile. Ends when the
/// element stops (the sender is dropped); a request in progress then finishes unobserved.
fn reference_worker(
    requests: mpsc::Receiver<Request>,
    front_end: Arc<Mutex<Models>>,
    active: Arc<Mutex<Arc<Reference>>>,
    latest: Arc<AtomicU64>,
    snapshot: Arc<Mutex<Snapshot>>,
    element: glib::WeakRef<super::GarmentTransfer>,
) {
    while let Ok(mut request) = requests.recv() {
        while let Ok(newer) = requests.try_recv() {
            request = newer;
        }
        let prepared = Reference::prepare(&request.path, &mut lock(&front_end));
        if latest.load(Ordering::SeqCst) != request.generation {
            continue; // A newer photo was set while this one was prepared.
        }
        let Some(element) = element.upgrade() else { return };
        match prepared {
            Ok(reference) => {
                *lock(&active) = Arc::new(reference);
                lock(&snapshot).reference = Some(request.path.clone());
                gst::info!(CAT, obj = element, "reference is now {}", request.path.display());
            }
            Err(e) => {
                gst::warning!(CAT, obj = element, "keeping the previous reference: {e}");
                gst::element_warning!(element, gst::LibraryError::Settings, ("Keeping the previous reference: {}", e));
            }
        }
    }
}

impl GarmentTransfer {
    /// Processing time of a frame, plus a frame interval with two frames in flight.
    fn latency(&self) -> gst::ClockTime {
        let us = self.latency_us.load(Ordering::Relaxed);
        let processing = if us == 0 { gst::ClockTime::from_mseconds(LATENCY_ESTIMATE_MS) } else { gst::ClockTime::from_useconds(us) };
        processing + gst::ClockTime::from_nseconds(self.flight_latency_ns.load(Ordering::Relaxed))
    }

    /// Ask the worker for `path` (latest wins). Before start there is no worker: start loads it.
    fn request_reference(&self, path: PathBuf) {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(tx) = lock(&self.requests).as_ref() {
            let _ = tx.send(Request { generation, path });
        }
    }

    /// Models for `settings`: the ones kept from the last start when nothing changed.
    fn models_for(&self, settings: &Settings, threads: usize) -> Result<Loaded, gst::ErrorMessage> {
        let key = ModelsKey::of(settings, threads);
        let kept = lock(&self.loaded).take();
        if let Some(loaded) = kept.filter(|l| l.key == key) {
            gst::debug!(CAT, imp = self, "models from {} kept from the last start", settings.models.display());
            return Ok(loaded);
        }
        // Anything kept was dropped above, before the new models take memory.
        let error = |e: models::ModelError| gst::error_msg!(gst::LibraryError::Settings, ("{}", e));
        let files = if settings.int8 { ModelFiles::read(&settings.models) } else { ModelFiles::read_own(&settings.models) }.map_err(error)?;
        let provider = provider_of(settings.execution_provider);
        let models = Models::open_with(&files, &MODELS, provider, settings.device_id, threads, settings.cuda_graph).map_err(error)?;
        // The front end runs where the models ended up (no second CUDA attempt), on one thread:
        // it shares the machine with the stream.
        let front_provider = if models.provider.name == "CUDA" { provider } else { models::ExecutionProvider::Cpu };
        let front_end = Models::open_with(&files, &[PARSER, DENSEPOSE], front_provider, settings.device_id, 1, settings.cuda_graph).map_err(error)?;
        Ok(Loaded { key, models, front_end: Arc::new(Mutex::new(front_end)) })
    }

    fn stats(&self) -> gst::Structure {
        let snap = lock(&self.snapshot).clone();
        let st = &snap.stats;
        let mut s = gst::Structure::builder("garmenttransfer-stats")
            .field("frames", st.frames)
            .field("passed-through", st.passed_through)
            .field("failed", snap.failed)
            .field("execution-provider", snap.provider)
            .field("precision", snap.precision.as_str())
            .field("composite", snap.composite)
            .field("reference", snap.reference.map(|p| p.to_string_lossy().into_owned()).unwrap_or_default());
        if let Some([x, y, w, h]) = st.crop {
            s = s.field("crop-x", x as f64).field("crop-y", y as f64).field("crop-width", w as f64).field("crop-height", h as f64);
        }
        for stage in Stage::ALL {
            let name = stage.name().replace('_', "-");
            s = s.field(format!("{name}-mean-ms"), st.mean_ms(stage)).field(format!("{name}-last-ms"), st.last_ms[stage as usize]);
        }
        s.build()
    }
}

impl ObjectImpl for GarmentTransfer {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("reference")
                    .nick("Reference photo")
                    .blurb("Photo of a person wearing the upper garment to transfer: PNG or JPEG, a regular file of at most 64 MiB, at most 16384 pixels a side and 50 megapixels, at least 64x64, EXIF orientation applied. Required. May change while PLAYING: prepared in the background, the latest wins; a bad one keeps the old and posts a warning; setting the same path again retries it. Cannot be emptied while running")
                    .mutable_playing()
                    .build(),
                glib::ParamSpecString::builder("models")
                    .nick("Models folder")
                    .blurb("Folder with the five ONNX models and manifest.json; each file is checked against the manifest (plain names inside the folder, no links, at most 1 GiB, sha256) and run once against the contract. Default: the shipped models (installed: garmenttransfer/models beside the plugin or in the XDG data folders)")
                    .default_value(Some(default_models().to_string_lossy().as_ref()))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("execution-provider", ExecutionProvider::Auto)
                    .nick("Execution provider")
                    .blurb("Where the models run: auto (CUDA when it starts, else CPU with a warning saying why: no driver, no device, bad device-id, out of memory), cuda (any of those is an error), cpu")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecInt::builder("device-id")
                    .nick("CUDA device")
                    .blurb("Index of the CUDA device for execution-provider auto or cuda")
                    .minimum(0)
                    .maximum(255)
                    .default_value(0)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("cuda-graph")
                    .nick("CUDA graphs")
                    .blurb("On CUDA, capture each model in a CUDA graph at start and replay it on every frame (one launch instead of one per node); a model whose graph cannot be captured, or whose replay differs from a plain run at start, runs without one, with a warning saying why. Off by default: with ONNX Runtime 1.31.1 on an H200 the replays were seen to leave the outputs unwritten")
                    .default_value(false)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("composite", Composite::Auto)
                    .nick("Where the composite runs")
                    .blurb("auto: on the GPU when the models run on CUDA (the frame's pixels inside the person's crop go to the device once and come back once), else on the host's cores; host; device: as a graph on the models' device, CUDA or CPU, or an error. Either way the same bytes (checked at start). The debugging outputs that draw fewer layers, and a background plate, composite on the host")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("output", Output::Composite)
                    .nick("Output")
                    .blurb("What to write into the frame: composite (the result), parsing, transfer-parsing, warped-garment (debugging), side-by-side (input beside result, for demos)")
                    .mutable_playing()
                    .build(),
                glib::ParamSpecString::builder("background")
                    .nick("Background plate")
                    .blurb("Optional photo of the empty scene, same framing as the video (PNG or JPEG, same limits as reference); fills pixels the old garment leaves uncovered. Without it they are inpainted from their surroundings")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("max-consecutive-failures")
                    .nick("Failures before an error")
                    .blurb("A frame whose inference fails passes through unchanged with a warning; this many failed frames in a row end the stream with an error (1: the first failure is an error)")
                    .minimum(1)
                    .default_value(DEFAULT_MAX_FAILURES)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("follow-person")
                    .nick("Follow the person")
                    .blurb("Run the models on a crop around the person (found in the whole frame, then followed from frame to frame, smoothed, reset at shot cuts); of several separate people the largest is followed. Off: the whole frame, letterboxed")
                    .default_value(true)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("temporal-smoothing")
                    .nick("Temporal smoothing")
                    .blurb("Blend parsings and the garment's flow with the previous frame's where the picture did not move (up to 60%, none where it moved), so the output holds still without lagging")
                    .default_value(true)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("int8")
                    .nick("8-bit models on the CPU")
                    .blurb("On the CPU, run the models folder's 8-bit form (its int8/ folder, written by `garment-train quantize`) where it has one: about 0.7 of the float models' time at the same quality. Off: the float files on the CPU too. CUDA always runs the float files")
                    .default_value(true)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("frames-in-flight")
                    .nick("Frames in flight")
                    .blurb("1: each frame is done before the next comes in. 2: the models' front half (parser, dense pose, transfer parsing) works on a frame while the back half (warp, regrowth, composite) finishes the one before, sharing the cores: more frames per second on the CPU, every frame one frame interval later (the latency reported says so). For recorded video")
                    .minimum(1)
                    .maximum(MAX_FRAMES_IN_FLIGHT)
                    .default_value(1)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
                    .nick("Statistics")
                    .blurb("Never waits for a frame. Frames processed, passed through (nobody in them, or nobody taller than 32 pixels), failed (inference error, passed through), execution provider, precision, where the composite runs (host or device), the active reference, the last crop (crop-x, crop-y, crop-width, crop-height in frame pixels; absent when nobody was found), and mean and last milliseconds per stage: parser, densepose, transfer-parsing, warp, regrowth, composite")
                    .read_only()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let path = |v: &glib::Value| v.get::<Option<String>>().ok().flatten().filter(|s| !s.is_empty()).map(PathBuf::from);
        match pspec.name() {
            "reference" => {
                let new = path(value);
                let running = lock(&self.requests).is_some();
                match (new, running) {
                    (Some(p), true) => {
                        lock(&self.settings).reference = Some(p.clone());
                        // Also when it equals the current value: a fixed file is retried.
                        self.request_reference(p);
                    }
                    (None, true) => {
                        let kept = lock(&self.settings).reference.clone();
                        let kept = kept.map(|p| p.display().to_string()).unwrap_or_default();
                        gst::warning!(CAT, imp = self, "the reference cannot be emptied while running; keeping {kept}");
                        gst::element_imp_warning!(self, gst::LibraryError::Settings, ("The reference cannot be emptied while running; keeping {}", kept));
                    }
                    (p, false) => {
                        lock(&self.settings).reference = p;
                        self.generation.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
            "models" => lock(&self.settings).models = path(value).unwrap_or_else(default_models),
            "execution-provider" => lock(&self.settings).execution_provider = value.get().unwrap_or_default(),
            "device-id" => lock(&self.settings).device_id = value.get().unwrap_or(0),
            "cuda-graph" => lock(&self.settings).cuda_graph = value.get().unwrap_or(false),
            "composite" => lock(&self.settings).composite = value.get().unwrap_or_default(),
            "output" => lock(&self.settings).output = value.get().unwrap_or_default(),
            "background" => lock(&self.settings).background = path(value),
            "max-consecutive-failures" => lock(&self.settings).max_failures = value.get::<u32>().unwrap_or(DEFAULT_MAX_FAILURES).max(1),
            "follow-person" => lock(&self.settings).follow_person = value.get().unwrap_or(true),
            "temporal-smoothing" => lock(&self.settings).temporal_smoothing = value.get().unwrap_or(true),
            "int8" => lock(&self.settings).int8 = value.get().unwrap_or(true),
            "frames-in-flight" => lock(&self.settings).frames_in_flight = value.get::<u32>().unwrap_or(1).clamp(1, MAX_FRAMES_IN_FLIGHT),
            other => gst::warning!(CAT, imp = self, "no property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        if pspec.name() == "stats" {
            return self.stats().to_value();
        }
        let s = lock(&self.settings).clone();
        let show = |p: &Option<PathBuf>| p.as_ref().map(|p| p.to_string_lossy().into_owned());
        match pspec.name() {
            "reference" => show(&s.reference).to_value(),
            "models" => s.models.to_string_lossy().into_owned().to_value(),
            "execution-provider" => s.execution_provider.to_value(),
            "device-id" => s.device_id.to_value(),
            "cuda-graph" => s.cuda_graph.to_value(),
            "composite" => s.composite.to_value(),
            "output" => s.output.to_value(),
            "background" => show(&s.background).to_value(),
            "max-consecutive-failures" => s.max_failures.to_value(),
            "follow-person" => s.follow_person.to_value(),
            "temporal-smoothing" => s.temporal_smoothing.to_value(),
            "int8" => s.int8.to_value(),
            "frames-in-flight" => s.frames_in_flight.to_value(),
            _ => glib::Value::from_type(pspec.value_type()),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        // Late frames are dropped before they reach transform_frame_ip.
        self.obj().set_qos(true);
    }
}

impl GstObjectImpl for GarmentTransfer {}

impl ElementImpl for GarmentTransfer {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Garment transfer",
                "Filter/Effect/Video",
                "Dresses the person in the video in the upper garment of a reference photo",
                "gst-garment-transfer developers",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            // Any size is accepted here so that a too-small frame gets a clear error in set_info
            // instead of an anonymous negotiation failure.
            let caps = gst_video::VideoCapsBuilder::new()
                .format_list([
                    gst_video::VideoFormat::Rgba,
                    gst_video::VideoFormat::Bgra,
                    gst_video::VideoFormat::Rgbx,
                    gst_video::VideoFormat::Bgrx,
                    gst_video::VideoFormat::Rgb,
                    gst_video::VideoFormat::Bgr,
                ])
                .width_range(1..=7680)
                .height_range(1..=4320)
                .build();
            [gst::PadDirection::Src, gst::PadDirection::Sink]
                .into_iter()
                .filter_map(|dir| {
                    let name = if dir == gst::PadDirection::Src { "src" } else { "sink" };
                    gst::PadTemplate::new(name, dir, gst::PadPresence::Always, &caps).ok()
                })
                .collect()
        });
        PAD_TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for GarmentTransfer {
    const MODE: gst_base::subclass::BaseTransformMode = gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = lock(&self.settings).clone();
        let generation = self.generation.load(Ordering::SeqCst);
        // Every session may use every core, through the process's one ONNX Runtime pool
        // (`runtime::session_builder`): with two frames in flight the halves share it, and a half
        // that waits leaves the cores to the other. Measured on 2 cores, when each session had a
        // pool of its own: 9.0 fps with two threads per session, 7.8 with one.
        let threads = crate::runtime::pool_threads();
        match crate::runtime::loaded() {
            Ok(l) => {
                for w in &l.warnings {
                    gst::warning!(CAT, imp = self, "{w}");
                    gst::element_imp_warning!(self, gst::LibraryError::Init, ("{}", w));
                }
            }
            Err(e) => return Err(gst::error_msg!(gst::LibraryError::Init, ("{}", e))),
        }
        let loaded = self.models_for(&settings, threads)?;
        let models = &loaded.models;
        gst::info!(CAT, imp = self, "models from {} on {} ({})", models.dir.display(), models.provider.name, models.manifest.precision);
        if models.manifest.untrained {
            gst::element_imp_warning!(
                self,
                gst::LibraryError::Settings,
                ("The models in {} are untrained (random weights): the output shows the plumbing, not garment transfer", settings.models.display())
            );
        }
        if let Some(why) = &models.provider.fallback {
            gst::debug!(CAT, imp = self, "CUDA did not start: {why}");
            gst::element_imp_warning!(self, gst::LibraryError::Init, ("CUDA is not available, running on the CPU: {}", why));
        }
        for why in &models.provider.without_cuda_graph {
            gst::element_imp_warning!(self, gst::LibraryError::Init, ("Running on CUDA without a CUDA graph: {}", why));
        }
        let Loaded { key, models, front_end } = loaded;
        let keep = |models: Models| *lock(&self.loaded) = Some(Loaded { key: key.clone(), models, front_end: front_end.clone() });
        let Some(path) = settings.reference.clone() else {
            keep(models);
            return Err(gst::error_msg!(
                gst::LibraryError::Settings,
                ("No reference photo: set the 'reference' property to a photo of a person wearing the garment")
            ));
        };
        let prepared = Reference::prepare(&path, &mut lock(&front_end)).map_err(|e| e.to_string()).and_then(|reference| {
            let background = settings.background.as_ref().map(|p| read_image(p).map_err(|e| format!("background plate: {e}")));
            Ok((reference, background.transpose()?))
        });
        let (reference, background) = match prepared {
            Ok(ready) => ready,
            Err(e) => {
                keep(models);
                return Err(gst::error_msg!(gst::LibraryError::Settings, ("{}", e)));
            }
        };
        let (provider, precision) = (models.provider.name, models.manifest.precision.clone());
        let reference = Arc::new(Mutex::new(Arc::new(reference)));
        *lock(&self.snapshot) = Snapshot { provider, precision, reference: Some(path.clone()), ..Snapshot::default() };
        let (tx, rx) = mpsc::channel();
        let (worker_front, worker_active, latest, snapshot, element) =
            (front_end.clone(), reference.clone(), self.generation.clone(), self.snapshot.clone(), self.obj().downgrade());
        std::thread::Builder::new()
            .name("garmenttransfer-reference".into())
            .spawn(move || reference_worker(rx, worker_front, worker_active, latest, snapshot, element))
            .map_err(|e| gst::error_msg!(gst::CoreError::Thread, ("cannot start the reference worker: {}", e)))?;
        let mut chain = Chain::new(models);
        let on_device = match settings.composite {
            Composite::Host => false,
            Composite::Device => true,
            Composite::Auto => chain.back.models.cuda_device().is_some(),
        };
        if on_device && let Err(e) = chain.back.composite_on_device(true) {
            if settings.composite == Composite::Device {
                keep(chain.into_models());
                return Err(gst::error_msg!(gst::LibraryError::Init, ("composite=device: {}", e)));
            }
            gst::element_imp_warning!(self, gst::LibraryError::Init, ("Compositing on the host: {}", e));
        }
        let composite = if chain.back.composites_on_device() { "device" } else { "host" };
        gst::info!(CAT, imp = self, "composite on the {composite}");
        lock(&self.snapshot).composite = composite;
        let engine = if settings.frames_in_flight > 1 {
            // Threads that cannot start leave the models to the next start.
            Engine::Pipelined(Pipelined::new(chain).map_err(|e| gst::error_msg!(gst::CoreError::Thread, ("cannot start the chain's threads: {}", e)))?)
        } else {
            Engine::Serial(chain)
        };
        *lock(&self.state) = Some(State {
            engine,
            front_end,
            key,
            reference,
            background: background.map(Arc::new),
            background_fitted: None,
            format: None,
            info: None,
            provider,
            consecutive_failures: 0,
        });
        *lock(&self.requests) = Some(tx);
        // A reference set while this start ran is taken up now.
        if self.generation.load(Ordering::SeqCst) != generation
            && let Some(newer) = lock(&self.settings).reference.clone().filter(|p| *p != path)
        {
            self.request_reference(newer);
        }
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        // Dropping the sender ends the worker (at once when idle; after its photo otherwise).
        *lock(&self.requests) = None;
        if let Some(state) = lock(&self.state).take() {
            let chain = match state.engine {
                Engine::Serial(chain) => Some(chain),
                Engine::Pipelined(p) => p.into_chain(),
            };
            if let Some(chain) = chain {
                *lock(&self.loaded) = Some(Loaded { key: state.key, models: chain.into_models(), front_end: state.front_end });
            }
        }
        self.latency_us.store(0, Ordering::Relaxed);
        self.flight_latency_ns.store(0, Ordering::Relaxed);
        Ok(())
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        let flush_stop = matches!(event.view(), gst::EventView::FlushStop(_));
        // Frames in flight go out before whatever follows them in the stream (caps, segment,
        // EOS); a flush drops them.
        if flush_stop {
            self.drain(false);
        } else if event.is_serialized() {
            self.drain(true);
        }
        // A new stream or a seek: whoever was followed and whatever was smoothed is gone.
        if flush_stop || matches!(event.view(), gst::EventView::StreamStart(_)) {
            match lock(&self.state).as_mut().map(|s| &mut s.engine) {
                Some(Engine::Serial(chain)) => chain.reset(),
                Some(Engine::Pipelined(p)) => p.reset(),
                None => {}
            }
        }
        self.parent_sink_event(event)
    }

    fn query(&self, direction: gst::PadDirection, query: &mut gst::QueryRef) -> bool {
        if direction == gst::PadDirection::Src && matches!(query.view_mut(), gst::QueryViewMut::Latency(_)) {
            if !BaseTransformImplExt::parent_query(self, direction, query) {
                return false;
            }
            if let gst::QueryViewMut::Latency(q) = query.view_mut() {
                let (live, min, max) = q.result();
                let ours = self.latency();
                gst::debug!(CAT, imp = self, "latency: upstream {min} + ours {ours}");
                q.set(live, min + ours, max.map(|m| m + ours));
            }
            return true;
        }
        BaseTransformImplExt::parent_query(self, direction, query)
    }

    fn submit_input_buffer(&self, is_discont: bool, inbuf: gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        let (mode, _, follow, temporal) = self.frame_settings();
        let mut guard = lock(&self.state);
        let Some(state) = guard.as_mut().filter(|s| matches!(s.engine, Engine::Pipelined(_))) else {
            drop(guard);
            return self.parent_submit_input_buffer(is_discont, inbuf);
        };
        let info = state.info.clone().ok_or(gst::FlowError::NotNegotiated)?;
        let format = state.format.ok_or(gst::FlowError::NotNegotiated)?;
        let mut inbuf = inbuf;
        inbuf.make_mut();
        let frame = gst_video::VideoFrame::from_buffer_writable(inbuf, &info).map_err(|_| {
            gst::element_imp_error!(self, gst::StreamError::Format, ("A buffer does not hold a {}x{} {:?} frame", info.width(), info.height(), info.format()));
            gst::FlowError::Error
        })?;
        let background = fitted_background(state, frame.width() as usize, frame.height() as usize);
        let reference = lock(&state.reference).clone();
        if let Engine::Pipelined(p) = &mut state.engine {
            p.submit(Job { pixels: Mapped { frame, format }, reference, background, mode, follow, temporal });
        }
        Ok(gst::FlowSuccess::Ok)
    }

    fn generate_output(&self) -> Result<gst_base::subclass::base_transform::GenerateOutputSuccess, gst::FlowError> {
        use gst_base::subclass::base_transform::GenerateOutputSuccess;
        let mut guard = lock(&self.state);
        let Some(Engine::Pipelined(p)) = guard.as_mut().map(|s| &mut s.engine) else {
            drop(guard);
            return self.parent_generate_output();
        };
        if p.in_flight() < MAX_FRAMES_IN_FLIGHT as usize {
            return Ok(GenerateOutputSuccess::NoOutput);
        }
        match p.oldest() {
            Some(done) => Ok(GenerateOutputSuccess::Buffer(self.land(guard, done)?)),
            None => Ok(GenerateOutputSuccess::NoOutput),
        }
    }
}

/// The background plate at a frame's size (resized once per size).
fn fitted_background(state: &mut State, width: usize, height: usize) -> Option<Arc<RgbImage>> {
    let bg = state.background.as_ref()?;
    if state.background_fitted.as_ref().is_none_or(|f| f.width != width || f.height != height) {
        state.background_fitted = Some(Arc::new(bg.resized(width, height)));
    }
    state.background_fitted.clone()
}

impl GarmentTransfer {
    /// Output mode, failure limit, follow-person and temporal-smoothing, read once per frame.
    fn frame_settings(&self) -> (OutputMode, u32, bool, bool) {
        let s = lock(&self.settings);
        (output_mode(s.output), s.max_failures, s.follow_person, s.temporal_smoothing)
    }

    /// A frame out of flight: counted and reported (`settle`), its buffer to push. Releases the
    /// state lock before reporting.
    fn land(&self, mut guard: MutexGuard<'_, Option<State>>, done: Done<Mapped>) -> Result<gst::Buffer, gst::FlowError> {
        let state = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
        let (failures, provider) = (state.count(done.result.is_ok()), state.provider);
        drop(guard);
        self.settle(done.result, done.stats, provider, failures)?;
        Ok(done.pixels.frame.into_buffer())
    }

    /// Take every frame in flight out, in order, and push it downstream (or drop it).
    fn drain(&self, push: bool) {
        loop {
            let mut guard = lock(&self.state);
            let Some(Engine::Pipelined(p)) = guard.as_mut().map(|s| &mut s.engine) else { return };
            let Some(done) = p.oldest() else { return };
            if !push {
                continue;
            }
            let pushed = self.land(guard, done).and_then(|buffer| self.obj().src_pad().push(buffer));
            if let Err(e) = pushed {
                gst::debug!(CAT, imp = self, "frames in flight not pushed: {e:?}");
                return self.drain(false);
            }
        }
    }

    /// Count one finished frame, publish the stats, and report its failure as the
    /// `max-consecutive-failures` rule says. Called with no lock held: a bus handler may read
    /// `stats` or change state.
    fn settle(&self, result: Result<Outcome, ModelError>, stats: Stats, provider: &'static str, failures: u32) -> Result<gst::FlowSuccess, gst::FlowError> {
        let max_failures = lock(&self.settings).max_failures;
        let mean_us = (stats.mean_frame_ms() * 1e3) as u64;
        {
            let mut snap = lock(&self.snapshot);
            snap.stats = stats;
            snap.provider = provider;
            if result.is_err() {
                snap.failed += 1;
            }
        }
        match result {
            Ok(outcome) => {
                gst::trace!(CAT, imp = self, "{outcome:?}");
                let before = self.latency_us.swap(mean_us, Ordering::Relaxed);
                // Tell the pipeline when the first measurement replaces the estimate.
                if before == 0 && mean_us > 0 {
                    let _ = self.obj().post_message(gst::message::Latency::builder().src(&*self.obj()).build());
                }
                Ok(gst::FlowSuccess::Ok)
            }
            Err(e @ ModelError::Frame(_)) => {
                gst::element_imp_error!(self, gst::StreamError::Format, ("{}", e));
                Err(gst::FlowError::Error)
            }
            Err(e) if failures >= max_failures => {
                gst::element_imp_error!(self, gst::LibraryError::Failed, ("{} frames in a row failed; the last: {}", failures, e));
                Err(gst::FlowError::Error)
            }
            Err(e) => {
                // The chain writes the frame only after every model ran: it is unchanged.
                gst::warning!(CAT, imp = self, "frame passed through unchanged: {e}");
                if failures == 1 {
                    gst::element_imp_warning!(self, gst::LibraryError::Failed, ("Frame passed through unchanged: {}", e));
                }
                Ok(gst::FlowSuccess::Ok)
            }
        }
    }
}

impl VideoFilterImpl for GarmentTransfer {
    fn set_info(&self, _incaps: &gst::Caps, in_info: &gst_video::VideoInfo, _outcaps: &gst::Caps, _out_info: &gst_video::VideoInfo) -> Result<(), gst::LoggableError> {
        if in_info.width() < MIN_SIDE || in_info.height() < MIN_SIDE {
            gst::element_imp_error!(
                self,
                gst::StreamError::Format,
                ("Frame {}x{} is smaller than the {MIN_SIDE}x{MIN_SIDE} minimum the models need", in_info.width(), in_info.height())
            );
            return Err(gst::loggable_error!(CAT, "frame {}x{} smaller than {MIN_SIDE}x{MIN_SIDE}", in_info.width(), in_info.height()));
        }
        let format = match in_info.format() {
            gst_video::VideoFormat::Rgba => PixelFormat::Rgba,
            gst_video::VideoFormat::Bgra => PixelFormat::Bgra,
            gst_video::VideoFormat::Rgbx => PixelFormat::Rgbx,
            gst_video::VideoFormat::Bgrx => PixelFormat::Bgrx,
            gst_video::VideoFormat::Rgb => PixelFormat::Rgb,
            gst_video::VideoFormat::Bgr => PixelFormat::Bgr,
            other => return Err(gst::loggable_error!(CAT, "unsupported format {other:?}")),
        };
        gst::info!(CAT, imp = self, "caps: {}x{} {:?}", in_info.width(), in_info.height(), in_info.format());
        // With two frames in flight a frame comes out when the next one goes in: one frame
        // interval later (a second at an unknown frame rate).
        let interval = match in_info.fps() {
            f if f.numer() > 0 && f.denom() > 0 => gst::ClockTime::SECOND.mul_div_floor(f.denom() as u64, f.numer() as u64).unwrap_or(gst::ClockTime::SECOND),
            _ => gst::ClockTime::SECOND,
        };
        if let Some(state) = lock(&self.state).as_mut() {
            state.format = Some(format);
            state.info = Some(in_info.clone());
            let in_flight = matches!(state.engine, Engine::Pipelined(_));
            self.flight_latency_ns.store(if in_flight { interval.nseconds() } else { 0 }, Ordering::Relaxed);
        }
        Ok(())
    }

    fn transform_frame_ip(&self, frame: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>) -> Result<gst::FlowSuccess, gst::FlowError> {
        let (mode, _, follow, temporal) = self.frame_settings();
        // The frame's own geometry: a buffer's video meta may differ from the caps.
        let (width, height) = (frame.width() as usize, frame.height() as usize);
        let stride = frame.plane_stride()[0] as isize;
        let mut guard = lock(&self.state);
        let state = guard.as_mut().ok_or(gst::FlowError::NotNegotiated)?;
        let format = state.format.ok_or(gst::FlowError::NotNegotiated)?;
        let background = fitted_background(state, width, height);
        let reference = lock(&state.reference).clone();
        // Two frames in flight go through submit_input_buffer and generate_output instead.
        let Engine::Serial(chain) = &mut state.engine else { return Err(gst::FlowError::NotSupported) };
        chain.front.follow = follow;
        chain.front.temporal = temporal;
        let data = frame.plane_data_mut(0).map_err(|_| gst::FlowError::Error)?;
        let result = FrameMut::new(data, width, height, stride, format)
            .map_err(ModelError::from)
            .and_then(|mut view| chain.process(&mut view, &reference, background.as_deref(), mode));
        let stats = chain.stats();
        let (failures, provider) = (state.count(result.is_ok()), state.provider);
        drop(guard);
        self.settle(result, stats, provider, failures)
    }
}
