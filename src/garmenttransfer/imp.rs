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
 * `reference` may change while PLAYING: the new photo is prepared off the streaming thread and
 * swapped in at a frame boundary; if it cannot be used, the old one stays and the element posts
 * a warning naming the file.
 */
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;

use super::{ExecutionProvider, Output};
use crate::chain::{Chain, OutputMode, STAGES};
use crate::frame::{FrameMut, PixelFormat, RgbImage};
use crate::models::{self, Models};
use crate::reference::{Reference, read_image};

static CAT: LazyLock<gst::DebugCategory> =
    LazyLock::new(|| gst::DebugCategory::new("garmenttransfer", gst::DebugColorFlags::empty(), Some("Garment transfer element")));

/// Smallest frame side the models can make sense of.
pub const MIN_SIDE: u32 = 64;
/// Latency reported before the first frame has been timed: a `lite` frame on a 2-core CPU.
const LATENCY_ESTIMATE_MS: u64 = 600;

fn default_models() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models")
}

#[derive(Debug, Clone)]
struct Settings {
    reference: Option<PathBuf>,
    models: PathBuf,
    execution_provider: ExecutionProvider,
    device_id: i32,
    output: Output,
    background: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            reference: None,
            models: default_models(),
            execution_provider: ExecutionProvider::Auto,
            device_id: 0,
            output: Output::Composite,
            background: None,
        }
    }
}

struct State {
    /// Shared with the thread that prepares a new reference.
    chain: Arc<Mutex<Chain>>,
    reference: Arc<Mutex<Arc<Reference>>>,
    background: Option<RgbImage>,
    /// The background resized to the current frame size (shared with each frame, not copied).
    background_fitted: Option<Arc<RgbImage>>,
    format: Option<PixelFormat>,
}

#[derive(Default)]
pub struct GarmentTransfer {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    /// Mean processing time in microseconds, for the LATENCY query (0 before the first frame).
    latency_us: AtomicU64,
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
    }
}

impl GarmentTransfer {
    fn latency(&self) -> gst::ClockTime {
        let us = self.latency_us.load(Ordering::Relaxed);
        if us == 0 { gst::ClockTime::from_mseconds(LATENCY_ESTIMATE_MS) } else { gst::ClockTime::from_useconds(us) }
    }

    /// Prepare `path` as the new reference off the streaming thread; keep the old one if it fails.
    fn swap_reference(&self, path: PathBuf) {
        let (chain, slot) = {
            let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            match state.as_ref() {
                Some(s) => (s.chain.clone(), s.reference.clone()),
                None => return, // Not started: start() loads it.
            }
        };
        let element = self.obj().downgrade();
        std::thread::spawn(move || {
            let prepared = {
                let mut chain = chain.lock().unwrap_or_else(|e| e.into_inner());
                Reference::prepare(&path, &mut chain.models)
            };
            let Some(element) = element.upgrade() else { return };
            match prepared {
                Ok(reference) => {
                    *slot.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(reference);
                    gst::info!(CAT, obj = element, "reference is now {}", path.display());
                }
                Err(e) => {
                    gst::warning!(CAT, obj = element, "keeping the previous reference: {e}");
                    gst::element_warning!(element, gst::LibraryError::Settings, ("Keeping the previous reference: {}", e));
                }
            }
        });
    }

    fn stats(&self) -> gst::Structure {
        let mut s = gst::Structure::builder("garmenttransfer-stats");
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(state) = state.as_ref() {
            let chain = state.chain.lock().unwrap_or_else(|e| e.into_inner());
            let st = &chain.stats;
            s = s.field("frames", st.frames).field("passed-through", st.passed_through).field("execution-provider", chain.models.provider.name);
            for (i, stage) in STAGES.iter().enumerate() {
                let name = stage.replace('_', "-");
                s = s.field(format!("{name}-mean-ms"), st.mean_ms(i)).field(format!("{name}-last-ms"), st.last_ms[i]);
            }
        } else {
            s = s.field("frames", 0u64).field("passed-through", 0u64);
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
                    .blurb("Photo (any format the image crate reads) of a person wearing the upper garment to transfer. Required. May change while PLAYING: the new photo is prepared in the background; a bad one keeps the old and posts a warning")
                    .mutable_playing()
                    .build(),
                glib::ParamSpecString::builder("models")
                    .nick("Models folder")
                    .blurb("Folder with the five ONNX models and manifest.json; each file is checked against the manifest (names, shapes, sha256)")
                    .default_value(Some(default_models().to_string_lossy().as_ref()))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("execution-provider", ExecutionProvider::Auto)
                    .nick("Execution provider")
                    .blurb("Where the models run: auto (CUDA when it initialises, else CPU with a warning saying why), cuda (an error without a usable GPU), cpu")
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
                glib::ParamSpecEnum::builder_with_default("output", Output::Composite)
                    .nick("Output")
                    .blurb("What to write into the frame: composite (the result), parsing, transfer-parsing, warped-garment (debugging), side-by-side (input beside result, for demos)")
                    .mutable_playing()
                    .build(),
                glib::ParamSpecString::builder("background")
                    .nick("Background plate")
                    .blurb("Optional photo of the empty scene, same framing as the video; fills pixels the old garment leaves uncovered. Without it they are inpainted from their surroundings")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
                    .nick("Statistics")
                    .blurb("Frames processed, frames passed through (nobody in them), execution provider, and mean and last milliseconds per stage: parser, densepose, transfer-parsing, warp, regrowth, composite")
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
                let changed = {
                    let mut s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
                    let changed = s.reference != new;
                    s.reference = new.clone();
                    changed
                };
                if let (true, Some(p)) = (changed, new) {
                    self.swap_reference(p);
                }
            }
            "models" => self.settings.lock().unwrap_or_else(|e| e.into_inner()).models = path(value).unwrap_or_else(default_models),
            "execution-provider" => {
                self.settings.lock().unwrap_or_else(|e| e.into_inner()).execution_provider = value.get().unwrap_or_default()
            }
            "device-id" => self.settings.lock().unwrap_or_else(|e| e.into_inner()).device_id = value.get().unwrap_or(0),
            "output" => self.settings.lock().unwrap_or_else(|e| e.into_inner()).output = value.get().unwrap_or_default(),
            "background" => self.settings.lock().unwrap_or_else(|e| e.into_inner()).background = path(value),
            other => gst::warning!(CAT, imp = self, "no property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let show = |p: &Option<PathBuf>| p.as_ref().map(|p| p.to_string_lossy().into_owned());
        match pspec.name() {
            "reference" => show(&s.reference).to_value(),
            "models" => s.models.to_string_lossy().into_owned().to_value(),
            "execution-provider" => s.execution_provider.to_value(),
            "device-id" => s.device_id.to_value(),
            "output" => s.output.to_value(),
            "background" => show(&s.background).to_value(),
            "stats" => self.stats().to_value(),
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
        let settings = self.settings.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let provider = match settings.execution_provider {
            ExecutionProvider::Auto => models::ExecutionProvider::Auto,
            ExecutionProvider::Cuda => models::ExecutionProvider::Cuda,
            ExecutionProvider::Cpu => models::ExecutionProvider::Cpu,
        };
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let mut models = Models::load(&settings.models, provider, settings.device_id, threads)
            .map_err(|e| gst::error_msg!(gst::LibraryError::Settings, ("{}", e)))?;
        gst::info!(CAT, imp = self, "models from {} on {}", settings.models.display(), models.provider.name);
        if models.manifest.untrained {
            gst::element_imp_warning!(
                self,
                gst::LibraryError::Settings,
                ("The models in {} are untrained (random weights): the output shows the plumbing, not garment transfer", settings.models.display())
            );
        }
        if let Some(why) = &models.provider.fallback {
            gst::debug!(CAT, imp = self, "CUDA did not initialise: {why}");
            gst::element_imp_warning!(self, gst::LibraryError::Init, ("CUDA is not available, running on the CPU: {}", why));
        }
        let path = settings.reference.ok_or_else(|| {
            gst::error_msg!(gst::LibraryError::Settings, ("No reference photo: set the 'reference' property to a photo of a person wearing the garment"))
        })?;
        let reference = Reference::prepare(&path, &mut models).map_err(|e| gst::error_msg!(gst::LibraryError::Settings, ("{}", e)))?;
        let background = match &settings.background {
            Some(p) => Some(read_image(p).map_err(|e| gst::error_msg!(gst::LibraryError::Settings, ("background plate: {}", e)))?),
            None => None,
        };
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some(State {
            chain: Arc::new(Mutex::new(Chain::new(models))),
            reference: Arc::new(Mutex::new(Arc::new(reference))),
            background,
            background_fitted: None,
            format: None,
        });
        // A reference set while the models were loading is taken up now.
        let current = self.settings.lock().unwrap_or_else(|e| e.into_inner()).reference.clone();
        if let Some(newer) = current.filter(|p| *p != path) {
            self.swap_reference(newer);
        }
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.latency_us.store(0, Ordering::Relaxed);
        Ok(())
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
        if let Some(state) = self.state.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            state.format = Some(format);
            state.background_fitted = state.background.as_ref().map(|b| Arc::new(b.resized(in_info.width() as usize, in_info.height() as usize)));
        }
        Ok(())
    }

    fn transform_frame_ip(&self, frame: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>) -> Result<gst::FlowSuccess, gst::FlowError> {
        let mode = output_mode(self.settings.lock().unwrap_or_else(|e| e.into_inner()).output);
        let (chain, reference, background, format) = {
            let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let state = state.as_ref().ok_or(gst::FlowError::NotNegotiated)?;
            let reference = state.reference.lock().unwrap_or_else(|e| e.into_inner()).clone();
            (state.chain.clone(), reference, state.background_fitted.clone(), state.format.ok_or(gst::FlowError::NotNegotiated)?)
        };
        let (width, height) = (frame.width() as usize, frame.height() as usize);
        let stride = frame.plane_stride()[0] as usize;
        let data = frame.plane_data_mut(0).map_err(|_| gst::FlowError::Error)?;
        let mut view = FrameMut { data, width, height, stride, format };
        let mut chain = chain.lock().unwrap_or_else(|e| e.into_inner());
        let start = std::time::Instant::now();
        match chain.process(&mut view, &reference, background.as_deref(), mode) {
            Ok(outcome) => {
                gst::trace!(CAT, imp = self, "{outcome:?} in {:?}", start.elapsed());
                let mean_us = (chain.stats.mean_frame_ms() * 1e3) as u64;
                let before = self.latency_us.swap(mean_us, Ordering::Relaxed);
                // Tell the pipeline when the first measurement replaces the estimate.
                if before == 0 && mean_us > 0 {
                    drop(chain);
                    let _ = self.obj().post_message(gst::message::Latency::builder().src(&*self.obj()).build());
                }
                Ok(gst::FlowSuccess::Ok)
            }
            Err(e) => {
                gst::element_imp_error!(self, gst::LibraryError::Failed, ("{}", e));
                Err(gst::FlowError::Error)
            }
        }
    }
}
