//! The synthetic world: reproducible, self-consistent, and its transfers are true.

use std::collections::BTreeMap;
use std::path::Path;

use garment_training::data::{DensePoseFormat, cihp};
use garment_training::synth::writer::Layout;
use garment_training::synth::World;
use garment_training::synth::writer::{write_dataset, write_video};
use gstgarmenttransfer::contract::{ParsingGroup, densepose_part as dp};
use indicatif::ProgressBar;

fn files_of(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(dir).unwrap().display().to_string(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn same_seed_gives_byte_identical_files_and_another_seed_does_not() {
    let tmp = tempfile::tempdir().unwrap();
    let write = |name: &str, seed: u64| {
        let dir = tmp.path().join(name);
        let layout = Layout::create(&dir, DensePoseFormat::Index).unwrap();
        write_dataset(&World::new(96, 128, seed).unwrap(), 6, 4, &layout, &ProgressBar::hidden()).unwrap();
        files_of(&dir)
    };
    let (a, b, c) = (write("a", 11), write("b", 11), write("c", 12));
    // 6 people x (image, cloth, mask, parse, dense pose, keypoints) + 4 x (transfer, parse) + 2 lists
    // + synth.json (what made the set).
    assert_eq!(a.len(), 6 * 6 + 4 * 2 + 2 + 1);
    assert_eq!(a, b, "same seed must write the same bytes");
    assert_ne!(a.get("image/00000_00.png"), c.get("image/00000_00.png"), "another seed must draw another person");
}

#[test]
fn parsing_and_dense_pose_agree() {
    let world = World::new(192, 256, 5).unwrap();
    let mut garment_px = 0;
    for i in 0..20 {
        let s = world.sample(i).unwrap();
        let d = &s.person;
        for (k, (&id, &part)) in d.cihp.iter().zip(&d.densepose).enumerate() {
            let (x, y) = (k as u32 % d.width, k as u32 / d.width);
            match cihp::group(id) {
                // The upper garment keeps the dense pose of the body under it: torso, arms, the
                // hips and upper legs under a long top, or nothing where it hangs off the body.
                ParsingGroup::UpperGarment => {
                    garment_px += 1;
                    assert!(!dp::is_head(part), "sample {i}: garment pixel ({x},{y}) on part {part}");
                }
                ParsingGroup::UpperSkin => {
                    assert!(dp::is_torso(part) || dp::is_arm(part), "sample {i}: skin pixel ({x},{y}) on part {part}")
                }
                ParsingGroup::Legs => assert!(dp::is_leg(part), "sample {i}: leg pixel ({x},{y}) on part {part}"),
                ParsingGroup::Face => assert!(dp::is_head(part), "sample {i}: face pixel ({x},{y}) on part {part}"),
                ParsingGroup::Background => assert_eq!(part, 0, "sample {i}: background pixel ({x},{y}) on a body part"),
                _ => {}
            }
        }
        // Dense pose covers the body, and nothing but the body and hair is labelled.
        assert!(d.densepose.iter().filter(|&&p| p > 0).count() > (d.width * d.height / 10) as usize);
    }
    assert!(garment_px > 20 * 1000, "garments must cover a good part of each image");
}

/// Pixels of `ids` within `r` pixels of an upper-garment label.
fn near_garment(ids: &[u8], w: usize, h: usize, r: i64) -> Vec<bool> {
    let mut out = vec![false; ids.len()];
    for (k, &id) in ids.iter().enumerate() {
        if cihp::group(id) != ParsingGroup::UpperGarment {
            continue;
        }
        let (x, y) = ((k % w) as i64, (k / w) as i64);
        for dy in -r..=r {
            for dx in -r..=r {
                let (nx, ny) = (x + dx, y + dy);
                if nx >= 0 && ny >= 0 && (nx as usize) < w && (ny as usize) < h {
                    out[ny as usize * w + nx as usize] = true;
                }
            }
        }
    }
    out
}

fn mean_colour(rgb: &[u8], keep: impl Fn(usize) -> bool) -> [f32; 3] {
    let mut sum = [0.0f64; 3];
    let mut n = 0.0f64;
    for (k, p) in rgb.chunks_exact(3).enumerate() {
        if keep(k) {
            for c in 0..3 {
                sum[c] += p[c] as f64;
            }
            n += 1.0;
        }
    }
    sum.map(|s| (s / n.max(1.0)) as f32)
}

fn dist(a: [f32; 3], b: [f32; 3]) -> f32 {
    (0..3).map(|i| (a[i] - b[i]).powi(2)).sum::<f32>().sqrt()
}

#[test]
fn true_transfer_keeps_everything_but_the_upper_garment_and_wears_bs_fabric() {
    let world = World::new(192, 256, 9).unwrap();
    let (w, h) = (192usize, 256usize);
    let mut compared_colours = 0;
    for (a_i, b_i) in world.pairs(30, 30) {
        let (a, b) = (world.person(a_i as u64), world.person(b_i as u64));
        let a_own = world.sample(a_i as u64).unwrap();
        let b_own = world.sample(b_i as u64).unwrap();
        let t = world.transfer(&a, &b).unwrap();
        // Anti-aliased edges spill past the pixel-centre labels, most at sharp corners: leave
        // a two-pixel band around either garment out of the comparison.
        let near_a = near_garment(&a_own.person.cihp, w, h, 2);
        let near_t = near_garment(&t.cihp, w, h, 2);
        let kept = [ParsingGroup::Background, ParsingGroup::Hair, ParsingGroup::Face, ParsingGroup::LowerGarment, ParsingGroup::Legs];
        let mut checked = 0;
        for k in 0..w * h {
            let (ga, gt) = (cihp::group(a_own.person.cihp[k]), cihp::group(t.cihp[k]));
            if ga == gt && kept.contains(&ga) && !near_a[k] && !near_t[k] {
                checked += 1;
                assert_eq!(
                    &a_own.person.rgb[k * 3..k * 3 + 3],
                    &t.rgb[k * 3..k * 3 + 3],
                    "pair ({a_i}, {b_i}): {} pixel ({}, {}) changed",
                    ga.name(),
                    k % w,
                    k / w
                );
            }
        }
        assert!(checked > w * h / 2, "most of the picture is compared");
        // Dense pose is of the body under the clothes: the same in A's garment and in B's.
        assert!(a_own.person.densepose == t.densepose, "pair ({a_i}, {b_i}): the dense pose changed with the garment");

        // The garment region carries B's fabric: its mean colour is nearer B's in-shop garment
        // than A's (compared where the two fabrics clearly differ).
        let shop_mean = |s: &garment_training::synth::Sample| mean_colour(&s.cloth, |k| s.cloth_mask[k] > 0);
        let (ma, mb) = (shop_mean(&a_own), shop_mean(&b_own));
        if dist(ma, mb) > 60.0 {
            let interior = |k: usize| {
                cihp::group(t.cihp[k]) == ParsingGroup::UpperGarment && {
                    let (x, y) = (k % w, k / w);
                    x > 0 && y > 0 && x + 1 < w && y + 1 < h && cihp::group(t.cihp[k + 1]) == ParsingGroup::UpperGarment
                }
            };
            let mt = mean_colour(&t.rgb, interior);
            assert!(dist(mt, mb) < dist(mt, ma), "pair ({a_i}, {b_i}): garment colour {mt:?}, B's {mb:?}, A's {ma:?}");
            compared_colours += 1;
        }
        // Where B's garment does not reach, A's own upper garment is gone.
        assert!(!t.cihp.iter().any(|&id| id != b.upper.cihp && cihp::group(id) == ParsingGroup::UpperGarment));
    }
    assert!(compared_colours >= 10, "only {compared_colours} pairs had clearly different fabrics");
}

#[test]
fn shorter_sleeves_show_the_persons_own_arms() {
    use garment_training::synth::garment::Sleeves;
    let world = World::new(192, 256, 21).unwrap();
    let people: Vec<_> = (0..40).map(|i| world.person(i)).collect();
    let long = people.iter().position(|p| p.upper.sleeves == Sleeves::Long).unwrap();
    let bare = people.iter().position(|p| p.upper.sleeves == Sleeves::None).unwrap();
    let own = world.sample(long as u64).unwrap().person;
    let t = world.transfer(&people[long], &people[bare]).unwrap();
    let arms = |ids: &[u8]| ids.iter().filter(|&&id| id == cihp::LEFT_ARM || id == cihp::RIGHT_ARM).count();
    assert!(arms(&t.cihp) > arms(&own.cihp) + 300, "arms: {} in the transfer, {} in long sleeves", arms(&t.cihp), arms(&own.cihp));
}

#[test]
fn video_sequence_moves_smoothly_and_has_true_transfers() {
    let tmp = tempfile::tempdir().unwrap();
    let world = World::new(96, 128, 4).unwrap();
    write_video(&world, 12, Default::default(), tmp.path(), &ProgressBar::hidden()).unwrap();
    for f in ["reference.png", "reference-cloth.png", "frames/00011.png", "transfer/00011.png", "transfer-parse/00000.png"] {
        assert!(tmp.path().join(f).is_file(), "{f} missing");
    }
    let seq = world.sequence(12);
    assert_ne!(seq.person.upper, seq.reference.upper);
    // Consecutive poses are close; the first and last are not the same.
    let step = |a: &garment_training::synth::body::Pose, b: &garment_training::synth::body::Pose| {
        (a.shoulder[0] - b.shoulder[0]).abs() + (a.elbow[1] - b.elbow[1]).abs() + (a.neck.x - b.neck.x).abs() / 96.0
    };
    let max_step = seq.poses.windows(2).map(|p| step(&p[0], &p[1])).fold(0.0, f32::max);
    let whole = step(&seq.poses[0], &seq.poses[11]);
    assert!(max_step < 0.5, "a jump of {max_step} between frames");
    assert!(whole > 0.05, "the person barely moves: {whole}");
}


#[test]
fn a_varied_world_shoots_the_same_people_in_every_framing_with_grey_bars() {
    let (plain, varied) = (World::new(96, 128, 31).unwrap(), World::new(96, 128, 31).unwrap().varied());
    let (mut letterboxed, mut small) = (0, 0);
    for i in 0..40 {
        let (p, v) = (plain.person(i), varied.person(i));
        // The same person: look and garment drawn alike, only size and place may differ.
        assert_eq!((p.upper.clone(), p.look.lower.clone()), (v.upper.clone(), v.look.lower.clone()), "person {i}");
        let s = varied.sample(i).unwrap();
        let d = &s.person;
        let rows: Vec<usize> = (0..d.height as usize).filter(|&y| (0..d.width as usize).any(|x| d.cihp[y * d.width as usize + x] != 0)).collect();
        let tall = rows.last().unwrap() - rows.first().unwrap() + 1;
        small += (tall < 64) as usize;
        if let Some(scene) = v.scene {
            letterboxed += (scene.width < 96 || scene.height < 128) as usize;
            // Outside the scene: mid-grey, background in both label maps.
            let (ox, oy) = ((96 - scene.width) / 2, (128 - scene.height) / 2);
            for k in 0..(96 * 128) as usize {
                let (x, y) = (k as u32 % 96, k as u32 / 96);
                if x < ox || y < oy || x >= ox + scene.width || y >= oy + scene.height {
                    assert_eq!((&d.rgb[k * 3..k * 3 + 3], d.cihp[k], d.densepose[k]), (&[128u8, 128, 128][..], 0, 0), "person {i} at ({x},{y})");
                }
            }
            // Keypoints found lie inside the scene.
            for kp in s.keypoints.iter().filter(|k| k[2] > 0.0) {
                assert!(kp[0] >= ox as f32 && kp[1] >= oy as f32 && kp[0] < (ox + scene.width) as f32 && kp[1] < (oy + scene.height) as f32, "person {i}: {kp:?}");
            }
        }
    }
    // Most are letterboxed and many are small; the plain world fills the picture.
    assert!(letterboxed >= 12 && small >= 8, "letterboxed {letterboxed}, small {small} of 40");
    assert!((0..40).all(|i| plain.person(i).scene.is_none()));
}
