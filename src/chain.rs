//! The per-frame chain (DESIGN.md section 4): parser and dense pose on the frame, the transfer
//! parsing S_P, the warp S_W, arm regrowth R, and the composite. Plain Rust: the element, the
//! tests, the benchmarks and the training crate's evaluation all run this.

use std::sync::Arc;
use std::time::Instant;

use ndarray::Array4;

use crate::composite::{ALL_LAYERS, Layers, Transfer, composite, draw_box, draw_parsing, side_by_side};
use crate::contract::{AGNOSTIC_GROUPS, DENSEPOSE, PARSER, POSE_PARTS, ParsingGroup, REGROWTH, TRANSFER_PARSING, WARP};
use crate::frame::{FrameMut, Letterbox, RgbImage};
use crate::framing::{MIN_PERSON_PX, Region, Tracker, crop_around, crop_fit, cut_by, largest_person};
use crate::temporal::{Map, Temporal, softmax};
use crate::maps::{affine_paste, argmax, mask_of, one_hot};
use crate::models::{ModelError, Models};
use crate::reference::Reference;

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

/// The stages timed per frame.
pub const STAGES: [&str; 6] = ["parser", "densepose", "transfer_parsing", "warp", "regrowth", "composite"];

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
}

impl Stats {
    pub fn mean_ms(&self, stage: usize) -> f64 {
        if self.counts[stage] == 0 { 0.0 } else { self.total_ms[stage] / self.counts[stage] as f64 }
    }
    /// Mean milliseconds of a whole processed frame.
    pub fn mean_frame_ms(&self) -> f64 {
        (0..STAGES.len()).map(|s| if self.frames == 0 { 0.0 } else { self.total_ms[s] / self.frames as f64 }).sum()
    }
    fn record(&mut self, stage: usize, since: Instant) -> Instant {
        let ms = since.elapsed().as_secs_f64() * 1e3;
        self.last_ms[stage] = ms;
        self.total_ms[stage] += ms;
        self.counts[stage] += 1;
        Instant::now()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Transferred,
    /// Nobody in the frame: left as it was.
    PassedThrough,
}

pub struct Chain {
    pub models: Models,
    pub stats: Stats,
    /// The last frame's parsings at model resolution (M_A, M'_A) and where the frame sat in the
    /// model input: what evaluation compares with the truth.
    pub last: Option<FrameMaps>,
    /// Evaluation's baseline: paste B's garment by its bounding box instead of running the warp.
    pub affine_paste: bool,
    /// Follow the person with a crop (`framing`); off: the whole frame, letterboxed.
    pub follow: bool,
    /// Blend parsings and flow over time (`temporal`).
    pub temporal: bool,
    pub tracker: Tracker,
    history: Temporal,
}

#[derive(Debug, Clone)]
pub struct FrameMaps {
    pub fit: Letterbox,
    pub parsing: Vec<u8>,
    pub transfer_parsing: Vec<u8>,
}

impl FrameMaps {
    /// M'_A at frame resolution (nearest model pixel; background outside the model's view).
    pub fn transfer_parsing_at(&self, width: usize, height: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(width * height);
        for y in 0..height {
            for x in 0..width {
                let (mx, my) = self.fit.to_model(x as f32 + 0.5, y as f32 + 0.5);
                if !self.fit.inside(mx, my) {
                    out.push(ParsingGroup::Background.id());
                    continue;
                }
                let (mx, my) = ((mx as usize).min(self.fit.width - 1), (my as usize).min(self.fit.height - 1));
                out.push(self.transfer_parsing[my * self.fit.width + mx]);
            }
        }
        out
    }
}

/// Where the person of a frame is: the crop, the model input, the parser's probabilities and
/// the person's box.
struct Found {
    fit: Letterbox,
    input: Array4<f32>,
    probabilities: Array4<f32>,
    person: Region,
}

impl Chain {
    pub fn new(models: Models) -> Chain {
        Chain {
            models,
            stats: Stats::default(),
            last: None,
            affine_paste: false,
            follow: true,
            temporal: true,
            tracker: Tracker::default(),
            history: Temporal::default(),
        }
    }

    /// Forget the person and the past frames: the next frame starts afresh (a new stream, a
    /// seek, an unrelated picture).
    pub fn reset(&mut self) {
        self.tracker = Tracker::default();
        self.history.reset();
        self.last = None;
    }

    /// The parser's probabilities for `input`.
    fn parse(&mut self, input: &Array4<f32>) -> Result<Array4<f32>, ModelError> {
        let mut p = self.models.run(&PARSER, &[input.view()])?.swap_remove(0);
        softmax(&mut p);
        Ok(p)
    }

    /// The person seen through `fit`, when there is one big enough.
    fn look(&mut self, fit: Letterbox, input: Array4<f32>) -> Result<Option<Found>, ModelError> {
        let probabilities = self.parse(&input)?;
        let (h, w) = self.models.resolution();
        let enough = (MIN_PERSON_SHARE * (h * w) as f32) as usize;
        Ok(largest_person(&argmax(&probabilities.view()), &fit)
            .filter(|(person, count)| *count >= enough && person.height() >= MIN_PERSON_PX)
            .map(|(person, _)| Found { fit, input, probabilities, person }))
    }

    /// Find the person: in the tracked crop, or by a search of the whole frame, then in a crop
    /// around what the search found.
    fn find(&mut self, frame: &RgbImage) -> Result<Option<Found>, ModelError> {
        let (h, w) = self.models.resolution();
        let (fw, fh) = (frame.width as f32, frame.height as f32);
        if self.follow
            && let Some(crop) = self.tracker.crop
        {
            let fit = crop.fit(w, h);
            if let Some(found) = self.look(fit, fit.model_input(frame))? {
                if !cut_by(found.person, crop, fw) {
                    return Ok(Some(found));
                }
                // The person outran the crop: look again, around where they are now.
                let fit = crop_around(found.person, fw, fh, w, h).fit(w, h);
                return Ok(self.look(fit, fit.model_input(frame))?.or(Some(found)));
            }
        }
        // Lost, or never found: what was smoothed belongs to someone else now.
        self.tracker.reset();
        self.history.reset();
        let whole = Letterbox::new(frame.width, frame.height, w, h);
        let Some(found) = self.look(whole, whole.model_input(frame))? else { return Ok(None) };
        if !self.follow {
            return Ok(Some(found));
        }
        match crop_fit(found.person, frame.width, frame.height, &whole) {
            None => Ok(Some(found)),
            Some(fit) => Ok(self.look(fit, fit.model_input(frame))?.or(Some(found))),
        }
    }

    /// Dress the person of `frame` in `reference`'s garment, in place.
    pub fn process(
        &mut self,
        frame: &mut FrameMut,
        reference: &Arc<Reference>,
        background: Option<&RgbImage>,
        mode: OutputMode,
    ) -> Result<Outcome, ModelError> {
        frame.check()?;
        let (h, w) = self.models.resolution();
        // A plate of another size (the buffer's video meta may differ from the caps) is not used.
        let background = background.filter(|b| b.width == frame.width && b.height == frame.height);
        let mut t = Instant::now();
        let input_rgb = frame.to_rgb();
        if self.tracker.cut(&input_rgb) {
            self.tracker.reset();
            self.history.reset();
        }
        let Some(Found { fit, input, mut probabilities, person }) = self.find(&input_rgb)? else {
            self.stats.record(0, t);
            self.stats.passed_through += 1;
            self.stats.crop = None;
            self.last = None;
            return Ok(Outcome::PassedThrough);
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
        }
        let parsing = argmax(&probabilities.view());
        t = self.stats.record(0, t);
        let pose = one_hot(&argmax(&self.models.run(&DENSEPOSE, &[input.view()])?[0].view()), POSE_PARTS, h, w);
        t = self.stats.record(1, t);

        let agnostic_ids: Vec<u8> = AGNOSTIC_GROUPS.iter().map(|g| g.id()).collect();
        let agnostic = Array4::from_shape_fn((1, agnostic_ids.len(), h, w), |(_, c, y, x)| if parsing[y * w + x] == agnostic_ids[c] { 1.0 } else { 0.0 });
        let mut transfer = self.models.run(&TRANSFER_PARSING, &[agnostic.view(), pose.view(), reference.garment_mask.view()])?.swap_remove(0);
        if smooth {
            softmax(&mut transfer);
            self.history.blend(Map::TransferParsing, &mut transfer);
        }
        let new_parsing = argmax(&transfer.view());
        t = self.stats.record(2, t);
        self.last = Some(FrameMaps { fit, parsing: parsing.clone(), transfer_parsing: new_parsing.clone() });
        if mode == OutputMode::Parsing || mode == OutputMode::TransferParsing {
            let mut out = input_rgb;
            draw_parsing(&mut out, &fit, if mode == OutputMode::Parsing { &parsing } else { &new_parsing });
            frame.write_rgb(&out);
            self.stats.frames += 1;
            self.history.finish();
            return Ok(Outcome::Transferred);
        }

        let target_mask = mask_of(&new_parsing, &[ParsingGroup::UpperGarment.id()], h, w);
        let mut warped = if self.affine_paste {
            let (mask, grid) = affine_paste(&reference.garment_mask, &target_mask);
            vec![reference.garment.clone(), mask, grid]
        } else {
            self.models.run(&WARP, &[
                reference.garment.view(),
                reference.garment_mask.view(),
                reference.pose.view(),
                target_mask.view(),
                pose.view(),
            ])?
        };
        if smooth {
            self.history.blend(Map::WarpedMask, &mut warped[1]);
            self.history.blend(Map::Flow, &mut warped[2]);
            self.history.finish();
        }
        t = self.stats.record(3, t);

        // Arm regrowth, per the paper: new skin inside the old skin is A's own; R paints the rest.
        let skin = ParsingGroup::UpperSkin.id();
        let outside = parsing.iter().zip(&new_parsing).filter(|&(&o, &n)| n == skin && o != skin).count();
        let regrown = if outside >= MIN_REGROWTH_PIXELS && mode != OutputMode::WarpedGarment {
            let old_skin = mask_of(&parsing, &[skin], h, w);
            let new_skin = mask_of(&new_parsing, &[skin], h, w);
            let r = self.models.run(&REGROWTH, &[(&input * &old_skin).view(), new_skin.view()])?;
            t = self.stats.record(4, t);
            r.into_iter().next()
        } else {
            None
        };

        let transfer = Transfer {
            old_parsing: &parsing,
            new_parsing: &new_parsing,
            model_input: &input,
            warped_mask: &warped[1],
            flow: &warped[2],
            regrown: regrown.as_ref(),
        };
        let layers = if mode == OutputMode::WarpedGarment { Layers { garment: true, skin: false, fill: false } } else { ALL_LAYERS };
        let mut out = input_rgb.clone();
        composite(&input_rgb, &mut out, &fit, &transfer, reference, background, layers);
        if mode == OutputMode::Framing {
            draw_box(&mut out, fit.source_rect(frame.width, frame.height), [255, 220, 0]);
        }
        if mode == OutputMode::SideBySide {
            out = side_by_side(&input_rgb, &out);
        }
        frame.write_rgb(&out);
        self.stats.record(5, t);
        self.stats.frames += 1;
        Ok(Outcome::Transferred)
    }
}
