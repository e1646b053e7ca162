//! The shipped models on held-out synthetic sequences, through a real pipeline: the garment
//! region takes the reference garment's colours, while face, hair, legs and background keep the
//! input's. The synthetic world draws the true answer of every frame to compare with.

mod common;

use std::path::Path;

use garment_training::data::cihp;
use garment_training::synth::World;
use gst::prelude::*;
use gstgarmenttransfer::contract::ParsingGroup;
use gstgarmenttransfer::chain::{Chain, OutputMode};
use gstgarmenttransfer::frame::{FrameMut, PixelFormat};
use gstgarmenttransfer::manifest::Manifest;
use gstgarmenttransfer::models::{ExecutionProvider, Models};
use gstgarmenttransfer::reference::Reference;

const MODELS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models");
/// The shipped models were trained on seed 1; these sequences come from seeds they never saw.
/// Six people and garments, not one: a single pair decides warp against paste by chance.
const HELD_OUT_SEEDS: [u64; 6] = [4242, 4243, 4244, 4245, 4246, 4247];
const FRAMES: usize = 6;
/// How much closer (mean absolute error, 0..255) to the truth the warped garment must be than
/// the affine paste's.
const PASTE_MARGIN: f64 = 1.0;

fn groups(cihp_ids: &[u8]) -> Vec<ParsingGroup> {
    cihp_ids.iter().map(|&id| cihp::group(id)).collect()
}

/// Pixels within `r` of a pixel where `hit` is true.
fn dilate(hit: &[bool], w: usize, h: usize, r: usize) -> Vec<bool> {
    let mut out = vec![false; w * h];
    for y in 0..h {
        for x in 0..w {
            if hit[y * w + x] {
                for yy in y.saturating_sub(r)..(y + r + 1).min(h) {
                    for xx in x.saturating_sub(r)..(x + r + 1).min(w) {
                        out[yy * w + xx] = true;
                    }
                }
            }
        }
    }
    out
}

fn mean_abs(a: &[u8], b: &[u8], pick: &[bool]) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for (i, &p) in pick.iter().enumerate() {
        if p {
            for c in 0..3 {
                sum += (a[i * 3 + c] as f64 - b[i * 3 + c] as f64).abs();
            }
            n += 3;
        }
    }
    sum / n.max(1) as f64
}

/// What one held-out sequence measured, summed over its frames.
#[derive(Default)]
struct Sums {
    colour_in: f64,
    colour_out: f64,
    garment_in: f64,
    garment_out: f64,
    garment_paste: f64,
    kept: f64,
}

impl Sums {
    fn add(&mut self, m: &Sums) {
        self.colour_in += m.colour_in;
        self.colour_out += m.colour_out;
        self.garment_in += m.garment_in;
        self.garment_out += m.garment_out;
        self.garment_paste += m.garment_paste;
        self.kept = self.kept.max(m.kept);
    }
}

/// Run the held-out sequence of `seed` through a real pipeline, and the affine-paste baseline
/// through the element's chain, against the truth.
fn dress(models: &Path, seed: u64) -> Sums {
    let (w, h) = (192usize, 256usize);
    let world = World::new(w as u32, h as u32, seed).unwrap();
    let seq = world.sequence(FRAMES);
    let own = world.tailor(&seq.person.upper).unwrap();
    let theirs = world.tailor(&seq.reference.upper).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let reference = world.draw(&seq.reference, &theirs).unwrap();
    let reference_path = tmp.path().join("reference.png");
    image::RgbImage::from_raw(w as u32, h as u32, reference.rgb).unwrap().save(&reference_path).unwrap();

    let pipeline = common::launch(&format!(
        "appsrc name=src format=time caps=video/x-raw,format=RGB,width={w},height={h},framerate=10/1 ! \
         garmenttransfer models={} reference={} execution-provider=cpu ! appsink name=sink sync=false",
        models.display(),
        reference_path.display()
    ));
    let src = pipeline.by_name("src").unwrap().downcast::<gst_app::AppSrc>().unwrap();
    let sink = pipeline.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    // The affine-paste baseline on the same frames: the same models, B's garment pasted by its
    // bounding box instead of warped (the element's chain, run in this process).
    let mut baseline = Chain::new(Models::load(models, ExecutionProvider::Cpu, 0, 2).unwrap());
    baseline.back.affine_paste = true;
    let reference_b = std::sync::Arc::new(Reference::prepare(&reference_path, &mut baseline.front.models).unwrap());

    // The garment region's colour (its mean: a pattern's phase may differ, its colours not) and
    // its pixels, input and output against the truth.
    let mut m = Sums::default();
    for (i, pose) in seq.poses.iter().enumerate() {
        let input = world.draw_posed(&seq.person, pose, &own).unwrap();
        let truth = world.draw_posed(&seq.person, pose, &theirs).unwrap();
        let mut buffer = gst::Buffer::from_mut_slice(input.rgb.clone());
        buffer.get_mut().unwrap().set_pts(gst::ClockTime::from_mseconds(100 * i as u64));
        src.push_buffer(buffer).unwrap();
        let sample = sink.try_pull_sample(gst::ClockTime::from_seconds(60)).expect("an output frame");
        let out = sample.buffer().unwrap().map_readable().unwrap().to_vec();
        assert_eq!(out.len(), w * h * 3);

        let (before, after) = (groups(&input.cihp), groups(&truth.cihp));
        // The new garment region: the true transfer's upper garment.
        let garment: Vec<bool> = after.iter().map(|&g| g == ParsingGroup::UpperGarment).collect();
        let true_colour = common::mean_colour(&truth.rgb, &garment);
        m.colour_in += common::distance(common::mean_colour(&input.rgb, &garment), true_colour);
        m.colour_out += common::distance(common::mean_colour(&out, &garment), true_colour);
        m.garment_in += mean_abs(&input.rgb, &truth.rgb, &garment);
        m.garment_out += mean_abs(&out, &truth.rgb, &garment);
        let mut pasted = input.rgb.clone();
        let mut frame = FrameMut { data: &mut pasted, width: w, height: h, stride: w * 3, format: PixelFormat::Rgb };
        baseline.process(&mut frame, &reference_b, None, OutputMode::Composite).unwrap();
        m.garment_paste += mean_abs(&pasted, &truth.rgb, &garment);
        // Face, hair, legs, lower garment and background, a few pixels away from the upper body
        // before and after (where the element may legitimately repaint).
        let upper = |g: &ParsingGroup| matches!(g, ParsingGroup::UpperGarment | ParsingGroup::UpperSkin);
        let changed: Vec<bool> = before.iter().zip(&after).map(|(a, b)| upper(a) || upper(b)).collect();
        let near = dilate(&changed, w, h, 6);
        let untouched: Vec<bool> = near.iter().map(|&n| !n).collect();
        m.kept = m.kept.max(mean_abs(&out, &input.rgb, &untouched));
    }
    pipeline.set_state(gst::State::Null).unwrap();
    m
}

#[test]
fn shipped_models_dress_held_out_sequences_in_the_reference_garment() {
    common::init();
    let models = Path::new(MODELS);
    let manifest = Manifest::read(models).expect("models/ holds the shipped models and their manifest.json");
    assert!(!manifest.untrained, "models/manifest.json says some models are untrained");

    let mut all = Sums::default();
    for seed in HELD_OUT_SEEDS {
        let m = dress(models, seed);
        let n = FRAMES as f64;
        println!(
            "seed {seed}: garment mean colour {:.1} (input) and {:.1} (output) from the truth's; pixels {:.1} (input), {:.1} \
             (output), {:.1} (affine paste); face, hair, legs, background: at most {:.2} from the input",
            m.colour_in / n, m.colour_out / n, m.garment_in / n, m.garment_out / n, m.garment_paste / n, m.kept
        );
        all.add(&m);
    }
    let n = (FRAMES * HELD_OUT_SEEDS.len()) as f64;
    let (colour_in, colour_out) = (all.colour_in / n, all.colour_out / n);
    let (garment_in, garment_out, garment_paste, kept) = (all.garment_in / n, all.garment_out / n, all.garment_paste / n, all.kept);
    println!("all: colour {colour_in:.1} -> {colour_out:.1}; pixels {garment_in:.1} (input), {garment_out:.1} (output), {garment_paste:.1} (affine paste)");
    assert!(colour_in > 30.0, "the held-out pairs must differ in garment colour (mean colour {colour_in:.1} apart)");
    assert!(colour_out < 0.5 * colour_in, "garment colour: output {colour_out:.1} from the truth's, input {colour_in:.1}");
    // A transfer, not a recolouring: the garment's pixels at most half as far from the truth as
    // the unchanged input's, and closer than pasting B's garment by its box.
    assert!(garment_out <= 0.5 * garment_in, "garment pixels: output {garment_out:.1} from the truth, input {garment_in:.1} (limit: half)");
    assert!(
        garment_out <= garment_paste - PASTE_MARGIN,
        "garment pixels: output {garment_out:.1} from the truth, affine paste {garment_paste:.1} (limit: {PASTE_MARGIN} closer)"
    );
    assert!(kept < 3.0, "face, hair, legs and background moved {kept:.2} / 255 on average (limit 3)");
}
