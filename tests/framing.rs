//! Following the person, in a real pipeline with the shipped models on synthetic frames: a
//! person at the frame's edge, a person too small to dress, two people overlapping, and a cut
//! between shots. Each has a defined outcome, read from what comes out and from `stats`.

mod common;

use std::path::Path;

use garment_training::synth::World;
use garment_training::synth::world::Framing;
use gst::prelude::*;

const MODELS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models");
/// Seeds the shipped models never saw (they were trained on seed 1).
const SEED_A: u64 = 5151;
const SEED_B: u64 = 5252;

/// `frames` frames of a sequence (RGB), the person's CIHP parsing of each, and the reference.
fn shot(w: u32, h: u32, seed: u64, framing: Framing, frames: usize) -> (Vec<Vec<u8>>, Vec<Vec<u8>>, image::RgbImage) {
    let world = World::new(w, h, seed).unwrap();
    let seq = world.sequence_framed(frames, framing);
    let own = world.tailor(&seq.person.upper).unwrap();
    let drawn: Vec<_> = seq.poses.iter().map(|p| world.draw_posed(&seq.person, p, &own).unwrap()).collect();
    let theirs = world.tailor(&seq.reference.upper).unwrap();
    let reference = world.sample_of(&seq.reference, &theirs).unwrap().person;
    let reference = image::RgbImage::from_raw(w, h, reference.rgb).unwrap();
    (drawn.iter().map(|d| d.rgb.clone()).collect(), drawn.iter().map(|d| d.cihp.clone()).collect(), reference)
}

/// What one frame did: its bytes, and the stats after it.
struct Out {
    frame: Vec<u8>,
    passed_through: u64,
    crop: Option<[f64; 4]>,
}

/// Push RGB `frames` (`w` x `h`) through the element, one at a time, reading `stats` after each.
fn run_frames(reference: &Path, frames: &[Vec<u8>], w: u32, h: u32) -> Vec<Out> {
    common::init();
    let pipeline = common::launch(&format!(
        "appsrc name=src format=time ! garmenttransfer name=gt models={MODELS} reference={} execution-provider=cpu ! appsink name=sink sync=false",
        reference.display()
    ));
    let src = pipeline.by_name("src").unwrap().downcast::<gst_app::AppSrc>().unwrap();
    let sink = pipeline.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
    let gt = pipeline.by_name("gt").unwrap();
    src.set_caps(Some(&gst::Caps::builder("video/x-raw").field("format", "RGB").field("width", w as i32).field("height", h as i32).field("framerate", gst::Fraction::new(10, 1)).build()));
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut out = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let mut b = gst::Buffer::from_mut_slice(f.clone());
        b.get_mut().unwrap().set_pts(gst::ClockTime::from_mseconds(100 * i as u64));
        src.push_buffer(b).unwrap();
        let sample = sink.try_pull_sample(gst::ClockTime::from_seconds(120)).expect("a frame comes out for every frame in");
        let frame = sample.buffer().unwrap().map_readable().unwrap().as_slice().to_vec();
        let stats = gt.property::<gst::Structure>("stats");
        let crop = stats.get::<f64>("crop-x").ok().map(|x| {
            [x, stats.get::<f64>("crop-y").unwrap(), stats.get::<f64>("crop-width").unwrap(), stats.get::<f64>("crop-height").unwrap()]
        });
        out.push(Out { frame, passed_through: stats.get::<u64>("passed-through").unwrap(), crop });
    }
    src.end_of_stream().unwrap();
    pipeline.set_state(gst::State::Null).unwrap();
    out
}

/// The box of a parsing's person pixels: x0, y0, x1, y1.
fn person_box(cihp: &[u8], w: usize) -> [f64; 4] {
    let mut b = [f64::MAX, f64::MAX, 0.0f64, 0.0f64];
    for (i, &id) in cihp.iter().enumerate() {
        if id != 0 {
            let (x, y) = ((i % w) as f64, (i / w) as f64);
            b = [b[0].min(x), b[1].min(y), b[2].max(x + 1.0), b[3].max(y + 1.0)];
        }
    }
    b
}

/// Assert that at least 90% of the pixels `out` changed from `input` lie inside `b` (x0, y0, x1,
/// y1) grown by a tenth of its height: the element dressed `who`, not the background.
fn assert_changes_near(input: &[u8], out: &[u8], w: usize, b: [f64; 4], who: &str) {
    let margin = 0.1 * (b[3] - b[1]);
    let (mut inside, mut all) = (0usize, 0usize);
    for (i, (p, q)) in input.chunks_exact(3).zip(out.chunks_exact(3)).enumerate() {
        if p.iter().zip(q).any(|(a, b)| a.abs_diff(*b) > 8) {
            let (x, y) = ((i % w) as f64, (i / w) as f64);
            all += 1;
            inside += (x >= b[0] - margin && x < b[2] + margin && y >= b[1] - margin && y < b[3] + margin) as usize;
        }
    }
    assert!(all > 0, "nothing changed");
    let share = inside as f64 / all as f64;
    assert!(share > 0.9, "{:.0}% of the changed pixels are near {who} {b:?}", 100.0 * share);
}

#[test]
fn a_person_cut_by_the_frame_edge_is_dressed() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, h) = (640, 360);
    let (frames, parse, reference) = shot(w, h, SEED_A, Framing { person_height: Some(0.45), walk: false }, 1);
    let r = tmp.path().join("reference.png");
    reference.save(&r).unwrap();
    // Shift the person so that the frame's left edge cuts through them.
    let source = |i: usize| {
        let (x, y) = (i % w as usize, i / w as usize);
        y * w as usize + (x + w as usize * 45 / 100).min(w as usize - 1)
    };
    let shifted: Vec<u8> = (0..(w * h) as usize).flat_map(|i| { let j = source(i); [frames[0][j * 3], frames[0][j * 3 + 1], frames[0][j * 3 + 2]] }).collect();
    let shifted_parse: Vec<u8> = (0..(w * h) as usize).map(|i| parse[0][source(i)]).collect();
    let out = run_frames(&r, &[shifted.clone()], w, h);
    assert_eq!(out[0].passed_through, 0, "a person cut by the edge is still dressed");
    assert_changes_near(&shifted, &out[0].frame, w as usize, person_box(&shifted_parse, w as usize), "the person");
}

#[test]
fn a_person_smaller_than_32_pixels_passes_through_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, h) = (640, 360);
    let (frames, parse, reference) = shot(w, h, SEED_A, Framing { person_height: Some(25.0 / 360.0), walk: false }, 1);
    let person = person_box(&parse[0], w as usize);
    assert!(person[3] - person[1] < 32.0, "the person is {} px tall", person[3] - person[1]);
    let r = tmp.path().join("reference.png");
    reference.save(&r).unwrap();
    let out = run_frames(&r, &frames, w, h);
    assert_eq!(out[0].passed_through, 1, "too small to dress: passed through");
    assert!(out[0].frame == frames[0], "a frame passed through is unchanged");
}

#[test]
fn two_people_overlapping_are_followed_as_one_figure() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, h) = (640, 360);
    let (a, a_parse, reference) = shot(w, h, SEED_A, Framing { person_height: Some(0.45), walk: false }, 1);
    let (b, b_parse, _) = shot(w, h, SEED_B, Framing { person_height: Some(0.45), walk: false }, 1);
    let r = tmp.path().join("reference.png");
    reference.save(&r).unwrap();
    // B stands a third of a person's width to A's right, in front.
    let dx = 50usize;
    let mut both = a[0].clone();
    let mut both_parse = a_parse[0].clone();
    for i in 0..(w * h) as usize {
        let (x, y) = (i % w as usize, i / w as usize);
        if x >= dx && b_parse[0][y * w as usize + x - dx] != 0 {
            let j = y * w as usize + x - dx;
            both[i * 3..i * 3 + 3].copy_from_slice(&b[0][j * 3..j * 3 + 3]);
            both_parse[i] = b_parse[0][j];
        }
    }
    let out = run_frames(&r, &[both.clone()], w, h);
    assert_eq!(out[0].passed_through, 0);
    let crop = out[0].crop.unwrap();
    let figure = person_box(&both_parse, w as usize);
    // One crop holds both: its middle lies between the two people's middles.
    let middle = crop[0] + crop[2] / 2.0;
    assert!(middle > figure[0] && middle < figure[2], "crop {crop:?}, figure {figure:?}");
    assert_changes_near(&both, &out[0].frame, w as usize, figure, "the two people");
}

#[test]
fn a_cut_between_shots_starts_afresh() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, h) = (640, 360);
    let (a, _, reference) = shot(w, h, SEED_A, Framing { person_height: Some(0.45), walk: true }, 4);
    let (b, _, _) = shot(w, h, SEED_B, Framing { person_height: Some(0.6), walk: false }, 2);
    let r = tmp.path().join("reference.png");
    reference.save(&r).unwrap();
    let after_a: Vec<Vec<u8>> = a.iter().chain(&b).cloned().collect();
    let cut = run_frames(&r, &after_a, w, h);
    let fresh = run_frames(&r, &b, w, h);
    // After the cut the element forgets shot A: the crop and every pixel are what a fresh start
    // on shot B gives (nothing smoothed across the cut, no crop carried over).
    for k in 0..b.len() {
        assert_eq!(cut[a.len() + k].crop, fresh[k].crop, "frame {k} after the cut");
        assert!(cut[a.len() + k].frame == fresh[k].frame, "frame {k} after the cut differs from a fresh start");
    }
}

#[test]
fn a_reference_photo_in_any_framing_gives_its_garment() {
    let tmp = tempfile::tempdir().unwrap();
    // Person A in a portrait frame; B, whose garment A tries on, small and off-centre in a
    // landscape photo (a third of its height, walking: at a fifth of its width).
    let portrait = World::new(192, 256, SEED_A).unwrap();
    let a = portrait.sequence(1);
    let frame = portrait.draw(&a.person, &portrait.tailor(&a.person.upper).unwrap()).unwrap();
    let (bw, bh) = (640, 360);
    let landscape = World::new(bw, bh, SEED_B).unwrap();
    let b = landscape.sequence_framed(2, Framing { person_height: Some(0.33), walk: true });
    let photo = landscape.draw(&b.person, &landscape.tailor(&b.person.upper).unwrap()).unwrap();
    let r = tmp.path().join("reference.png");
    image::RgbImage::from_raw(bw, bh, photo.rgb).unwrap().save(&r).unwrap();
    // The truth: A wearing B's garment.
    let truth = portrait.draw(&a.person, &portrait.tailor(&b.person.upper).unwrap()).unwrap();
    let out = run_frames(&r, &[frame.rgb.clone()], 192, 256);
    assert_eq!(out[0].passed_through, 0);
    let garment: Vec<bool> = truth.cihp.iter().map(|&id| garment_training::data::cihp::group(id) == gstgarmenttransfer::contract::ParsingGroup::UpperGarment).collect();
    let target = common::mean_colour(&truth.rgb, &garment);
    let far = |img: &[u8]| common::distance(common::mean_colour(img, &garment), target);
    let (before, after) = (far(&frame.rgb), far(&out[0].frame));
    println!("garment colour from the truth's: {before:.1} (input), {after:.1} (output)");
    assert!(before > 30.0, "the two garments must differ in colour ({before:.1} apart)");
    assert!(after < 0.5 * before, "garment colour {after:.1} from the truth's after, {before:.1} before");
}
