//! The per-frame chain (DESIGN.md section 4): parser and dense pose on the frame, the transfer
//! parsing S_P, the warp S_W, arm regrowth R, and the composite. Plain Rust: the element, the
//! tests, the benchmarks and the training crate's evaluation all run this.
//!
//! The chain is two halves with their own sessions and state: the front finds the person and
//! parses (parser, dense pose, S_P), the back warps, regrows and composites. One frame runs
//! them one after the other; `pipeline::Pipelined` runs them on two threads, the front on one
//! frame while the back finishes the one before.

use std::sync::Arc;
use std::time::Instant;

use ndarray::Array4;

use crate::composite_graph::DeviceComposite;
use crate::composite::{ALL_LAYERS, Layers, Transfer, composite, draw_box, draw_parsing, side_by_side};
use crate::contract::{DENSEPOSE, PARSER, POSE_PARTS, ParsingGroup, REGROWTH, TRANSFER_PARSING, WARP};
use crate::frame::{FrameMut, Letterbox, RgbImage};
use crate::framing::{MIN_PERSON_PX, Tracker, crop_around, cut_by};
use crate::temporal::{Map, Temporal, softmax};
use crate::glue;
use crate::inputs::{batch, mask, one_hot};
use crate::maps::{Parsing, Tap, affine_paste, argmax};
use crate::models::{ModelError, Models, Runs};
use crate::person::{self, Look};
use crate::reference::Reference;
use crate::runtime::Feed;
use ort::value::Tensor;

/// A frame whose person covers less than this share of the model input has nobody in it.
pub const MIN_PERSON_SHARE: f32 = 0.01;
/// New skin outside the old skin smaller than this many model pixels is not worth running R.
pub const MIN_REGROWTH_PIXELS: usize = 4;

/// What the element writes into the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputMode {
    #[default]
    Composite,
    /// M_A, the parsing of the frame.
    Parsing,
    /// M'_A, the parsing of the person wearing the reference garment.
    TransferParsing,
    /// Only the warped garment over the frame.
    WarpedGarment,
    /// Input and composite side by side.
    SideBySide,
    /// The composite with the crop the models saw drawn over it.
    Framing,
}

/// The stages timed per frame, in the order a frame runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Finding the person: the frame to RGB, the letterbox, the parser (one to three looks).
    Parser,
    Densepose,
    TransferParsing,
    Warp,
    Regrowth,
    Composite,
}

impl Stage {
    pub const ALL: [Stage; 6] = [Stage::Parser, Stage::Densepose, Stage::TransferParsing, Stage::Warp, Stage::Regrowth, Stage::Composite];

    /// The name in the element's stats and the benchmark's JSON (a model's name where the
    /// stage runs one).
    pub fn name(self) -> &'static str {
        match self {
            Stage::Parser => "parser",
            Stage::Densepose => "densepose",
            Stage::TransferParsing => "transfer_parsing",
            Stage::Warp => "warp",
            Stage::Regrowth => "regrowth",
            Stage::Composite => "composite",
        }
    }
}

/// The models of the front half, with the glue graphs that make S_P's inputs (`glue`); the
/// back half has the others.
pub const FRONT_MODELS: [crate::contract::ModelSpec; 5] = [PARSER, DENSEPOSE, TRANSFER_PARSING, glue::POSE, glue::AGNOSTIC];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub frames: u64,
    pub passed_through: u64,
    pub last_ms: [f64; 6],
    pub total_ms: [f64; 6],
    /// Frames that ran each stage (regrowth does not run on every frame).
    pub counts: [u64; 6],
    /// The last frame's crop in frame pixels: x, y, width, height (it may reach past the
    /// frame's edges, where the model input is padded).
    pub crop: Option<[f32; 4]>,
    /// Of `total_ms`, the time inside ONNX Runtime, and after the stage's last model returned
    /// (post-processing); the rest is pre-processing.
    pub ort_ms: [f64; 6],
    pub post_ms: [f64; 6],
    /// Session runs, and bytes handed to them and taken from them.
    pub runs: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Graph nodes the runs executed (`binding::Bound::nodes`).
    pub nodes: u64,
}

impl Stats {
    pub fn mean_ms(&self, stage: Stage) -> f64 {
        let i = stage as usize;
        if self.counts[i] == 0 { 0.0 } else { self.total_ms[i] / self.counts[i] as f64 }
    }
    /// Frames that ran `stage`.
    pub fn count(&self, stage: Stage) -> u64 {
        self.counts[stage as usize]
    }
    /// Mean milliseconds of `stage` split into pre-processing, ONNX Runtime and post-processing.
    pub fn mean_split_ms(&self, stage: Stage) -> [f64; 3] {
        let i = stage as usize;
        let n = self.counts[i].max(1) as f64;
        let (ort, post) = (self.ort_ms[i] / n, self.post_ms[i] / n);
        [(self.mean_ms(stage) - ort - post).max(0.0), ort, post]
    }
    /// Mean milliseconds of a whole processed frame.
    pub fn mean_frame_ms(&self) -> f64 {
        (0..Stage::ALL.len()).map(|s| if self.frames == 0 { 0.0 } else { self.total_ms[s] / self.frames as f64 }).sum()
    }
    /// The stats of two halves of one chain in one (each half records its own stages).
    pub fn merged(&self, other: &Stats) -> Stats {
        let add = |a: [f64; 6], b: [f64; 6]| std::array::from_fn(|i| a[i] + b[i]);
        Stats {
            frames: self.frames + other.frames,
            passed_through: self.passed_through + other.passed_through,
            last_ms: add(self.last_ms, other.last_ms),
            total_ms: add(self.total_ms, other.total_ms),
            counts: std::array::from_fn(|i| self.counts[i] + other.counts[i]),
            crop: self.crop.or(other.crop),
            ort_ms: add(self.ort_ms, other.ort_ms),
            post_ms: add(self.post_ms, other.post_ms),
            runs: self.runs + other.runs,
            bytes_in: self.bytes_in + other.bytes_in,
            bytes_out: self.bytes_out + other.bytes_out,
            nodes: self.nodes + other.nodes,
        }
    }
    /// Close `stage`, begun at `since`, whose model runs were `runs`.
    fn record(&mut self, stage: Stage, since: Instant, runs: Runs) -> Instant {
        let stage = stage as usize;
        let now = Instant::now();
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        let total = ms(now - since);
        self.last_ms[stage] = total;
        self.total_ms[stage] += total;
        self.counts[stage] += 1;
        self.ort_ms[stage] += ms(runs.ort);
        self.post_ms[stage] += runs.last_end.map_or(0.0, |end| ms(now.saturating_duration_since(end)));
        self.runs += runs.count;
        self.bytes_in += runs.bytes_in;
        self.bytes_out += runs.bytes_out;
        self.nodes += runs.nodes;
        now
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The person dressed (or the parsings drawn); the frame's parsings at model resolution,
    /// what evaluation compares with the truth.
    Transferred(Box<FrameMaps>),
    /// Nobody in the frame: left as it was.
    PassedThrough,
}

/// Both halves, run one after the other on the calling thread.
pub struct Chain {
    pub front: Front,
    pub back: Back,
}

/// Finds the person and parses: parser, dense pose and S_P, with the tracker and the
/// smoothing of the parsings.
pub struct Front {
    /// Parser, dense pose and transfer parsing.
    pub models: Models,
    pub stats: Stats,
    /// Follow the person with a crop (`framing`); off: the whole frame, letterboxed.
    pub follow: bool,
    /// Blend parsings and flow over time (`temporal`).
    pub temporal: bool,
    pub tracker: Tracker,
    /// Evaluation only: the frame's true parsing and/or dense pose, used instead of the parser's
    /// and dense pose's (the parser still finds the person), to measure what the front end costs.
    pub given: Option<GivenMaps>,
    history: Temporal,
    /// The smoothing started afresh since the last frame handed on: the back's must too.
    restarted: bool,
}

/// Warps, regrows and composites what the front found.
pub struct Back {
    /// Warp and regrowth.
    pub models: Models,
    pub stats: Stats,
    /// Evaluation's baseline: paste B's garment by its bounding box instead of running the warp.
    pub affine_paste: bool,
    history: Temporal,
    /// The composite as a graph on the sessions' device (`composite_graph`); none: on the host.
    device_composite: Option<DeviceComposite>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FrameMaps {
    pub fit: Letterbox,
    pub parsing: Vec<u8>,
    pub transfer_parsing: Vec<u8>,
    /// S_P's probabilities `[1, 7, H, W]`, whose argmax `transfer_parsing` is.
    pub transfer_probabilities: Array4<f32>,
}

impl FrameMaps {
    /// M'_A at frame resolution, as the composite draws it (`maps::Parsing`; background
    /// outside the model's view).
    pub fn transfer_parsing_at(&self, width: usize, height: usize) -> Vec<u8> {
        let parsing = Parsing::new(&self.transfer_probabilities, &self.transfer_parsing);
        let mut out = Vec::with_capacity(width * height);
        for y in 0..height {
            for x in 0..width {
                let (mx, my) = self.fit.to_model(x as f32 + 0.5, y as f32 + 0.5);
                out.push(if self.fit.inside(mx, my) {
                    parsing.at(Tap::new(mx, self.fit.width), Tap::new(my, self.fit.height))
                } else {
                    ParsingGroup::Background.id()
                });
            }
        }
        out
    }
}

/// Someone the chain dresses: at least `MIN_PERSON_SHARE` of the model input and
/// `MIN_PERSON_PX` frame pixels tall.
fn dressable(h: usize, w: usize) -> impl Fn(&Look) -> bool {
    let enough = (MIN_PERSON_SHARE * (h * w) as f32) as usize;
    move |l| l.person.is_some_and(|(person, count)| count >= enough && person.height() >= MIN_PERSON_PX)
}

/// A frame's parsing groups and dense-pose parts at frame resolution (`None`: the network's).
#[derive(Debug, Clone)]
pub struct GivenMaps {
    pub width: usize,
    pub height: usize,
    pub parsing: Option<Vec<u8>>,
    pub pose: Option<Vec<u8>>,
}

impl GivenMaps {
    /// `map` seen through `fit` at model resolution (nearest frame pixel; `outside` where the
    /// model input is padding).
    fn sample(&self, map: &[u8], fit: &Letterbox, outside: u8) -> Vec<u8> {
        let mut out = Vec::with_capacity(fit.width * fit.height);
        for my in 0..fit.height {
            for mx in 0..fit.width {
                let (x, y) = fit.to_source(mx as f32 + 0.5, my as f32 + 0.5);
                let inside = x >= 0.0 && y >= 0.0 && (x as usize) < self.width && (y as usize) < self.height;
                out.push(if inside { map[y as usize * self.width + x as usize] } else { outside });
            }
        }
        out
    }
}

/// What the front hands the back for one frame.
pub enum Halfway {
    /// Nobody in the frame: it stays as it is.
    PassedThrough,
    /// A debugging output the front drew (the parsings): the frame's new pixels.
    Drawn(RgbImage, Box<FrameMaps>),
    Dressed(Box<Dressed>),
}

/// A person found and parsed, ready for the warp.
pub struct Dressed {
    /// The frame as it came (for the side-by-side output).
    input_rgb: RgbImage,
    fit: Letterbox,
    input: Array4<f32>,
    /// M_A and M'_A: groups, and the probabilities they are the argmax of.
    parsing: Vec<u8>,
    parsing_probabilities: Array4<f32>,
    new_parsing: Vec<u8>,
    new_probabilities: Array4<f32>,
    /// P_A, the one-hot dense pose, where the sessions hold it (on their device): S_P and S_W
    /// both read it, and it never visits the host.
    pose: Tensor<f32>,
    smooth: bool,
    restarted: bool,
}

/// What the composite takes of S_W's outputs, from those of `run_with_reference(&WARP, ..)`:
/// the sampling grid ("flow"), the one output fetched (`UNREAD_OUTPUTS`; `run` checked it). The
/// composite samples the reference photo at full resolution through it.
fn flow_of(outputs: Vec<Array4<f32>>) -> Array4<f32> {
    let [flow]: [Array4<f32>; 1] = outputs.try_into().expect("run returns the warp's flow alone");
    flow
}

/// A network input: built for this frame, or borrowed from the reference or the frame's maps.
pub type Input<'a> = ndarray::CowArray<'a, f32, ndarray::Ix4>;

/// S_W's inputs but the last, A's pose (which stays where the sessions hold it): B's garment as
/// B wears it, its mask and B's pose; the garment region of A's new parsing.
pub fn warp_inputs<'a>(reference: &'a Reference, new_parsing: &[u8], h: usize, w: usize) -> [Input<'a>; 4] {
    let target_mask = batch(mask(new_parsing, &[ParsingGroup::UpperGarment], h, w));
    [reference.garment.view().into(), reference.garment_mask.view().into(), reference.pose.view().into(), target_mask.into()]
}

/// Parsing group ids `[1, 1, H, W]` as the agnostic glue graph reads them.
pub fn group_ids(parsing: &[u8], h: usize, w: usize) -> Array4<f32> {
    Array4::from_shape_vec((1, 1, h, w), parsing.iter().map(|&g| g as f32).collect()).expect("a parsing has H x W pixels")
}

/// R's inputs: A's own skin (the model input masked by A's skin region), and the skin region
/// of A's new parsing.
pub fn regrowth_inputs(input: &Array4<f32>, parsing: &[u8], new_parsing: &[u8], h: usize, w: usize) -> [Input<'static>; 2] {
    let skin = ParsingGroup::UpperSkin;
    let old_skin = batch(mask(parsing, &[skin], h, w));
    [(input * &old_skin).into(), batch(mask(new_parsing, &[skin], h, w)).into()]
}

impl Chain {
    pub fn new(models: Models) -> Chain {
        let (front, back) = models.split(&FRONT_MODELS);
        Chain { front: Front::new(front), back: Back::new(back) }
    }

    /// The sessions of both halves, in one.
    pub fn into_models(self) -> Models {
        self.front.models.join(self.back.models)
    }

    /// Both halves' stats in one.
    pub fn stats(&self) -> Stats {
        self.front.stats.merged(&self.back.stats)
    }

    pub fn reset_stats(&mut self) {
        self.front.stats = Stats::default();
        self.back.stats = Stats::default();
    }

    /// Forget the person and the past frames: the next frame starts afresh (a new stream, a
    /// seek, an unrelated picture).
    pub fn reset(&mut self) {
        self.front.reset();
        self.back.reset();
    }

    /// Dress the person of `frame` in `reference`'s garment, in place.
    pub fn process(
        &mut self,
        frame: &mut FrameMut,
        reference: &Arc<Reference>,
        background: Option<&RgbImage>,
        mode: OutputMode,
    ) -> Result<Outcome, ModelError> {
        let halfway = self.front.run(frame, reference, mode)?;
        self.back.run(halfway, frame, reference, background, mode)
    }
}

impl Front {
    pub fn new(models: Models) -> Front {
        Front {
            models,
            stats: Stats::default(),
            follow: true,
            temporal: true,
            tracker: Tracker::default(),
            given: None,
            history: Temporal::default(),
            restarted: true,
        }
    }

    pub fn reset(&mut self) {
        self.tracker = Tracker::default();
        self.restart_history();
    }

    fn restart_history(&mut self) {
        self.history.reset();
        self.restarted = true;
    }

    /// Find the person: in the tracked crop, or by a search of the whole frame, then in a crop
    /// around what the search found.
    fn find(&mut self, frame: &RgbImage) -> Result<Option<Look>, ModelError> {
        let (h, w) = self.models.resolution();
        let (fw, fh) = (frame.width as f32, frame.height as f32);
        let accept = dressable(h, w);
        if self.follow
            && let Some(crop) = self.tracker.crop
        {
            let found = person::look(&mut self.models, crop.fit(w, h), frame)?;
            if let Some((someone, _)) = found.person.filter(|_| accept(&found)) {
                if !cut_by(someone, crop, fw) {
                    return Ok(Some(found));
                }
                // The person outran the crop: look again, around where they are now.
                let again = person::look(&mut self.models, crop_around(someone, fw, fh, w, h).fit(w, h), frame)?;
                return Ok(Some(if accept(&again) { again } else { found }));
            }
        }
        // Lost, or never found: what was smoothed belongs to someone else now.
        self.tracker.reset();
        self.restart_history();
        let found = if self.follow {
            person::search(&mut self.models, frame, &accept)?
        } else {
            person::look(&mut self.models, Letterbox::new(frame.width, frame.height, w, h), frame)?
        };
        Ok(accept(&found).then_some(found))
    }

    /// Find and parse the person of `frame` (which it does not change).
    pub fn run(&mut self, frame: &FrameMut, reference: &Reference, mode: OutputMode) -> Result<Halfway, ModelError> {
        frame.check()?;
        let (h, w) = self.models.resolution();
        let mut t = Instant::now();
        let input_rgb = frame.to_rgb();
        if self.tracker.cut(&input_rgb) {
            self.tracker.reset();
            self.restart_history();
        }
        let Some(Look { fit, input, mut probabilities, person: Some((person, _)) }) = self.find(&input_rgb)? else {
            self.stats.record(Stage::Parser, t, self.models.take_runs());
            self.stats.passed_through += 1;
            self.stats.crop = None;
            return Ok(Halfway::PassedThrough);
        };
        if self.follow {
            self.tracker.follow(crop_around(person, frame.width as f32, frame.height as f32, w, h));
        }
        self.stats.crop = {
            let (x0, y0) = fit.to_source(0.0, 0.0);
            let (x1, y1) = fit.to_source(w as f32, h as f32);
            Some([x0, y0, x1 - x0, y1 - y0])
        };
        let smooth = self.temporal;
        if smooth {
            self.history.begin(fit, &input);
            self.history.blend(Map::Parsing, &mut probabilities);
        } else {
            // Smoothing switched on again later starts afresh, not from a frame long gone.
            self.restart_history();
        }
        let given = self.given.as_ref();
        let (parsing, parsing_probabilities) = match given.and_then(|g| Some(g.sample(g.parsing.as_ref()?, &fit, ParsingGroup::Background.id()))) {
            Some(parsing) => {
                let hot = batch(one_hot(&parsing, ParsingGroup::ALL.len(), h, w));
                (parsing, hot)
            }
            None => (argmax(&probabilities.view()), probabilities),
        };
        t = self.stats.record(Stage::Parser, t, self.models.take_runs());
        // P_A: dense pose and its one-hot (`glue::POSE`) on the sessions' device, kept there.
        let pose = match given.and_then(|g| Some(g.sample(g.pose.as_ref()?, &fit, 0))) {
            Some(pose) => self.models.hold(batch(one_hot(&pose, POSE_PARTS, h, w)).view())?,
            None => {
                self.models.run_on_device(&DENSEPOSE, &[Feed::Host(input.view())])?;
                self.models.run_on_device(&glue::POSE, &[Feed::Output(DENSEPOSE.name, 0)])?;
                self.models.keep(&glue::POSE, 0)?
            }
        };
        t = self.stats.record(Stage::Densepose, t, self.models.take_runs());

        // S_P on A's clothing-agnostic map (made beside the pose, `glue::AGNOSTIC`), A's pose
        // and B's garment mask.
        let ids = group_ids(&parsing, h, w);
        self.models.run_on_device(&glue::AGNOSTIC, &[Feed::Host(ids.view()), Feed::Held(&pose)])?;
        let feeds = [Feed::Output(glue::AGNOSTIC.name, 0), Feed::Held(&pose), Feed::Host(reference.garment_mask.view())];
        let mut transfer = self.models.run_with_reference(&TRANSFER_PARSING, &feeds, reference.id)?.swap_remove(0);
        softmax(&mut transfer);
        if smooth {
            self.history.blend(Map::TransferParsing, &mut transfer);
            self.history.finish();
        }
        let new_parsing = argmax(&transfer.view());
        self.stats.record(Stage::TransferParsing, t, self.models.take_runs());
        if mode == OutputMode::Parsing || mode == OutputMode::TransferParsing {
            let mut out = input_rgb;
            let drawn = if mode == OutputMode::Parsing { Parsing::new(&parsing_probabilities, &parsing) } else { Parsing::new(&transfer, &new_parsing) };
            draw_parsing(&mut out, &fit, &drawn);
            return Ok(Halfway::Drawn(out, Box::new(FrameMaps { fit, parsing, transfer_parsing: new_parsing, transfer_probabilities: transfer })));
        }
        let restarted = std::mem::take(&mut self.restarted);
        Ok(Halfway::Dressed(Box::new(Dressed {
            input_rgb,
            fit,
            input,
            parsing,
            parsing_probabilities,
            new_parsing,
            new_probabilities: transfer,
            pose,
            smooth,
            restarted,
        })))
    }
}

impl Back {
    pub fn new(models: Models) -> Back {
        Back { models, stats: Stats::default(), affine_paste: false, history: Temporal::default(), device_composite: None }
    }

    /// Composite on the sessions' device (`composite_graph`: on CUDA the frame's pixels cross
    /// once each way instead of the composite running on the host's cores), or on the host.
    /// The debugging outputs that draw fewer layers, and a background plate, stay on the host.
    pub fn composite_on_device(&mut self, on: bool) -> Result<(), ModelError> {
        let (h, w) = self.models.resolution();
        self.device_composite = if on { Some(DeviceComposite::open(h, w, self.models.cuda_device())?) } else { None };
        Ok(())
    }

    /// Whether the composite runs on the sessions' device.
    pub fn composites_on_device(&self) -> bool {
        self.device_composite.is_some()
    }

    pub fn reset(&mut self) {
        self.history.reset();
    }

    /// Warp, regrow and composite what the front found into `frame`.
    pub fn run(
        &mut self,
        halfway: Halfway,
        frame: &mut FrameMut,
        reference: &Reference,
        background: Option<&RgbImage>,
        mode: OutputMode,
    ) -> Result<Outcome, ModelError> {
        let d = match halfway {
            Halfway::PassedThrough => return Ok(Outcome::PassedThrough),
            Halfway::Drawn(out, maps) => {
                frame.write_rgb(&out);
                self.stats.frames += 1;
                return Ok(Outcome::Transferred(maps));
            }
            Halfway::Dressed(d) => d,
        };
        frame.check()?;
        let (h, w) = self.models.resolution();
        // A plate of another size (the buffer's video meta may differ from the caps) is not used.
        let background = background.filter(|b| b.width == frame.width && b.height == frame.height);
        let mut t = Instant::now();
        let (parsing, new_parsing) = (&d.parsing, &d.new_parsing);
        let inputs = warp_inputs(reference, new_parsing, h, w);
        let mut flow = if self.affine_paste {
            affine_paste(&reference.garment_mask, &inputs[3].to_owned())
        } else {
            let mut feeds: Vec<Feed> = inputs.iter().map(|a| Feed::Host(a.view())).collect();
            feeds.push(Feed::Held(&d.pose));
            flow_of(self.models.run_with_reference(&WARP, &feeds, reference.id)?)
        };
        if d.restarted {
            self.history.reset();
        }
        if d.smooth {
            self.history.begin(d.fit, &d.input);
            self.history.blend(Map::Flow, &mut flow);
            self.history.finish();
        }
        t = self.stats.record(Stage::Warp, t, self.models.take_runs());

        // Arm regrowth, per the paper: new skin inside the old skin is A's own; R paints the rest.
        let skin = ParsingGroup::UpperSkin.id();
        let outside = parsing.iter().zip(new_parsing).filter(|&(&o, &n)| n == skin && o != skin).count();
        let regrown = if outside >= MIN_REGROWTH_PIXELS && mode != OutputMode::WarpedGarment {
            let inputs = regrowth_inputs(&d.input, parsing, new_parsing, h, w);
            let r = self.models.run(&REGROWTH, &inputs.each_ref().map(|a| a.view()))?;
            t = self.stats.record(Stage::Regrowth, t, self.models.take_runs());
            r.into_iter().next()
        } else {
            None
        };

        let transfer = Transfer {
            old_parsing: Parsing::new(&d.parsing_probabilities, parsing),
            new_parsing: Parsing::new(&d.new_probabilities, new_parsing),
            model_input: &d.input,
            flow: &flow,
            regrown: regrown.as_ref(),
        };
        let layers = if mode == OutputMode::WarpedGarment { Layers { garment: true, skin: false, fill: false } } else { ALL_LAYERS };
        let runs = match self.device_composite.as_mut().filter(|_| layers == ALL_LAYERS && background.is_none()) {
            Some(device) => device.run(frame, &d.fit, &transfer, reference)?,
            None => {
                composite(frame, &d.fit, &transfer, reference, background, layers);
                Runs::default()
            }
        };
        if mode == OutputMode::Framing {
            draw_box(frame, d.fit.source_rect(frame.width, frame.height), [255, 220, 0]);
        }
        if mode == OutputMode::SideBySide {
            frame.write_rgb(&side_by_side(&d.input_rgb, &frame.to_rgb()));
        }
        self.stats.record(Stage::Composite, t, runs);
        self.stats.frames += 1;
        let Dressed { fit, parsing, new_parsing, new_probabilities, .. } = *d;
        Ok(Outcome::Transferred(Box::new(FrameMaps { fit, parsing, transfer_parsing: new_parsing, transfer_probabilities: new_probabilities })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::Region;

    /// A look whose largest figure fills `region` of the frame and `pixels` model pixels.
    fn look(region: Region, pixels: usize) -> Look {
        Look { fit: Letterbox::new(640, 360, 96, 128), input: Array4::zeros((1, 3, 1, 1)), probabilities: Array4::zeros((1, 7, 1, 1)), person: Some((region, pixels)) }
    }

    #[test]
    fn a_person_shorter_than_32_frame_pixels_or_one_percent_of_the_input_is_not_dressed() {
        let ok = dressable(128, 96);
        let tall = Region { x0: 100.0, y0: 50.0, x1: 120.0, y1: 50.0 + MIN_PERSON_PX };
        let short = Region { y1: 50.0 + MIN_PERSON_PX - 1.0, ..tall };
        let enough = (MIN_PERSON_SHARE * (128 * 96) as f32) as usize;
        assert!(ok(&look(tall, enough)));
        assert!(!ok(&look(short, enough)), "a person {} px tall", short.height());
        assert!(!ok(&look(tall, enough - 1)), "a person of {} model pixels", enough - 1);
        assert!(!ok(&Look { person: None, ..look(tall, enough) }));
    }
}
