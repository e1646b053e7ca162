//! The per-frame chain (DESIGN.md section 4): parser and dense pose on the frame, the transfer
//! parsing S_P, the warp S_W, arm regrowth R, and the composite. Plain Rust: the element, the
//! tests, the benchmarks and the training crate's evaluation all run this.

use std::sync::Arc;
use std::time::Instant;

use ndarray::Array4;

use crate::composite::{ALL_LAYERS, Layers, Transfer, composite, draw_parsing, side_by_side};
use crate::contract::{AGNOSTIC_GROUPS, DENSEPOSE, PARSER, POSE_PARTS, ParsingGroup, REGROWTH, TRANSFER_PARSING, WARP};
use crate::frame::{FrameMut, Letterbox, RgbImage};
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
}

#[derive(Debug, Clone)]
pub struct FrameMaps {
    pub fit: Letterbox,
    pub parsing: Vec<u8>,
    pub transfer_parsing: Vec<u8>,
}

impl FrameMaps {
    /// M'_A at frame resolution (nearest model pixel).
    pub fn transfer_parsing_at(&self, width: usize, height: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(width * height);
        for y in 0..height {
            for x in 0..width {
                let (mx, my) = self.fit.to_model(x as f32 + 0.5, y as f32 + 0.5);
                let (mx, my) = ((mx as usize).min(self.fit.width - 1), (my as usize).min(self.fit.height - 1));
                out.push(self.transfer_parsing[my * self.fit.width + mx]);
            }
        }
        out
    }
}

impl Chain {
    pub fn new(models: Models) -> Chain {
        Chain { models, stats: Stats::default(), last: None, affine_paste: false }
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
        let fit = Letterbox::new(frame.width, frame.height, w, h);
        let input = fit.model_input(&input_rgb);

        let parsing = argmax(&self.models.run(&PARSER, &[input.view()])?[0].view());
        t = self.stats.record(0, t);
        let person = parsing.iter().filter(|&&g| g != ParsingGroup::Background.id()).count();
        if (person as f32) < MIN_PERSON_SHARE * (h * w) as f32 {
            self.stats.passed_through += 1;
            self.last = None;
            return Ok(Outcome::PassedThrough);
        }
        let pose = one_hot(&argmax(&self.models.run(&DENSEPOSE, &[input.view()])?[0].view()), POSE_PARTS, h, w);
        t = self.stats.record(1, t);

        let agnostic_ids: Vec<u8> = AGNOSTIC_GROUPS.iter().map(|g| g.id()).collect();
        let agnostic = Array4::from_shape_fn((1, agnostic_ids.len(), h, w), |(_, c, y, x)| if parsing[y * w + x] == agnostic_ids[c] { 1.0 } else { 0.0 });
        let new_parsing = argmax(&self.models.run(&TRANSFER_PARSING, &[agnostic.view(), pose.view(), reference.garment_mask.view()])?[0].view());
        t = self.stats.record(2, t);
        self.last = Some(FrameMaps { fit, parsing: parsing.clone(), transfer_parsing: new_parsing.clone() });
        if mode == OutputMode::Parsing || mode == OutputMode::TransferParsing {
            let mut out = input_rgb;
            draw_parsing(&mut out, &fit, if mode == OutputMode::Parsing { &parsing } else { &new_parsing });
            frame.write_rgb(&out);
            self.stats.frames += 1;
            return Ok(Outcome::Transferred);
        }

        let target_mask = mask_of(&new_parsing, &[ParsingGroup::UpperGarment.id()], h, w);
        let warped = if self.affine_paste {
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
        if mode == OutputMode::SideBySide {
            out = side_by_side(&input_rgb, &out);
        }
        frame.write_rgb(&out);
        self.stats.record(5, t);
        self.stats.frames += 1;
        Ok(Outcome::Transferred)
    }
}
