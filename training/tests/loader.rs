//! The dataset loader on the VITON-HD layout: round trip, folder variants, colour-coded maps,
//! tensors, and broken samples.

use std::path::Path;

use garment_training::data::files::{Image8, write_png};
use garment_training::data::{DataError, Dataset, DensePoseFormat, cihp, densepose};
use garment_training::synth::writer::Layout;
use garment_training::synth::World;
use garment_training::synth::writer::write_dataset;
use gstgarmenttransfer::contract::{AGNOSTIC_GROUPS, PARSING_GROUPS, POSE_PARTS, agnostic_hides};
use indicatif::ProgressBar;

const W: u32 = 96;
const H: u32 = 128;

fn dataset(dir: &Path, count: usize, format: DensePoseFormat) -> World {
    let world = World::new(W, H, 17).unwrap();
    let layout = Layout::create(dir, format).unwrap();
    write_dataset(&world, count, count, &layout, &ProgressBar::hidden()).unwrap();
    world
}

#[test]
fn round_trip_equals_the_generated_sample_in_both_densepose_formats() {
    for format in [DensePoseFormat::Index, DensePoseFormat::Colour] {
        let tmp = tempfile::tempdir().unwrap();
        let world = dataset(tmp.path(), 4, format);
        let ds = Dataset::open(tmp.path()).unwrap();
        assert_eq!(ds.len(), 4);
        for i in 0..4 {
            let want = world.sample(i as u64).unwrap();
            let got = ds.load(i).unwrap();
            assert_eq!((got.width, got.height), (W, H));
            assert_eq!(got.image, want.person.rgb, "image {i}");
            assert_eq!(got.cihp, want.person.cihp, "parsing {i}");
            assert_eq!(got.densepose, want.person.densepose, "dense pose {i} ({format:?})");
            assert_eq!(got.cloth, want.cloth, "cloth {i}");
            assert_eq!(got.cloth_mask, want.cloth_mask, "cloth mask {i}");
            let kp = got.keypoints.unwrap();
            assert_eq!(kp.len(), 18);
            for (g, w) in kp.iter().zip(&want.keypoints) {
                assert!((0..3).all(|c| (g[c] - w[c]).abs() < 1e-3), "keypoint {g:?} vs {w:?}");
            }
        }
        // True transfers are indexed against the samples they name.
        assert_eq!(ds.transfers.len(), 4);
        let t = &ds.transfers[0];
        let (img, parse) = ds.load_transfer(t).unwrap();
        let truth = world.transfer(&world.person(t.a as u64), &world.person(t.b as u64)).unwrap();
        assert_eq!(img.data, truth.rgb);
        assert_eq!(parse.data, truth.cihp);
        assert!(ds.skipped().is_empty());
    }
}

#[test]
fn reads_the_other_folder_names_colour_parsing_and_no_pair_list() {
    let tmp = tempfile::tempdir().unwrap();
    let world = dataset(tmp.path(), 3, DensePoseFormat::Index);
    let root = tmp.path();
    std::fs::rename(root.join("image-parse-v3"), root.join("image-parse")).unwrap();
    std::fs::rename(root.join("openpose_json"), root.join("openpose-json")).unwrap();
    std::fs::remove_file(root.join("train_pairs.txt")).unwrap();
    // Parsing of sample 1 saved as a colour rendering (as some tools export it), as JPEG-free RGB.
    let s1 = world.sample(1).unwrap();
    let colours: Vec<u8> = s1.person.cihp.iter().flat_map(|&id| cihp::PALETTE[id as usize]).collect();
    write_png(&root.join("image-parse/00001_00.png"), &Image8 { width: W, height: H, channels: 3, data: colours }, None).unwrap();

    let ds = Dataset::open(root).unwrap();
    assert_eq!(ds.len(), 3, "samples come from image/ when there is no train_pairs.txt");
    let got = ds.load(1).unwrap();
    assert_eq!(got.cihp, s1.person.cihp);
    assert!(got.keypoints.is_some(), "openpose-json/ is read too");
}

#[test]
fn tensors_have_the_contract_layouts() {
    let tmp = tempfile::tempdir().unwrap();
    dataset(tmp.path(), 2, DensePoseFormat::Index);
    let s = Dataset::open(tmp.path()).unwrap().load(0).unwrap();
    let t = s.tensors();
    let (h, w) = (H as usize, W as usize);
    assert_eq!(t.image.dim(), (3, h, w));
    assert_eq!(t.parsing.dim(), (PARSING_GROUPS, h, w));
    assert_eq!(t.agnostic.dim(), (4, h, w));
    assert_eq!(t.pose.dim(), (POSE_PARTS, h, w));
    assert_eq!(t.garment_mask.dim(), (1, h, w));
    assert_eq!(t.garment.dim(), (3, h, w));
    assert_eq!(t.skin.dim(), (3, h, w));
    assert_eq!(t.cloth.dim(), (3, h, w));
    assert_eq!(t.cloth_mask.dim(), (1, h, w));
    assert!(t.image.iter().all(|v| (-1.0..=1.0).contains(v)));
    let groups = s.parsing();
    let mut blanked = 0;
    for y in 0..h {
        for x in 0..w {
            let g = groups[y * w + x] as usize;
            assert_eq!(t.parsing.slice(ndarray::s![.., y, x]).sum(), 1.0);
            assert_eq!(t.parsing[[g, y, x]], 1.0);
            assert_eq!(t.pose.slice(ndarray::s![.., y, x]).sum(), 1.0);
            assert_eq!(t.pose[[s.densepose[y * w + x] as usize, y, x]], 1.0);
            // The agnostic map: the parsing's groups, blank over the torso and upper legs.
            let hidden = agnostic_hides(s.densepose[y * w + x]);
            for (c, group) in AGNOSTIC_GROUPS.iter().enumerate() {
                let shown = t.parsing[[*group as usize, y, x]];
                assert_eq!(t.agnostic[[c, y, x]], if hidden { 0.0 } else { shown });
                blanked += (hidden && shown == 1.0) as usize;
            }
            let m = t.garment_mask[[0, y, x]];
            assert_eq!(m, if g == 4 { 1.0 } else { 0.0 });
            assert_eq!(t.garment[[1, y, x]], t.image[[1, y, x]] * m);
        }
    }
    assert!(t.garment_mask.sum() > 500.0 && t.skin_mask.sum() > 50.0);
    assert!(blanked > 0, "no lower garment or legs over the torso or upper legs to blank");
    // Resizing keeps labels labels.
    let small = s.resized(48, 64);
    assert_eq!(small.cihp.len(), 48 * 64);
    assert!(small.cihp.iter().all(|id| s.cihp.contains(id)));
}

#[test]
fn broken_samples_are_skipped_naming_the_file_and_counted() {
    let tmp = tempfile::tempdir().unwrap();
    dataset(tmp.path(), 6, DensePoseFormat::Index);
    let root = tmp.path();
    // 0: parsing missing.
    std::fs::remove_file(root.join("image-parse-v3/00000_00.png")).unwrap();
    // 1: cloth of the wrong size.
    write_png(&root.join("cloth/00001_00.png"), &Image8 { width: 10, height: 10, channels: 3, data: vec![9; 300] }, None).unwrap();
    // 2: person image is not an image at all.
    std::fs::write(root.join("image/00002_00.png"), b"this is not a picture").unwrap();
    // 3: dense pose truncated halfway: the header reads, the pixels do not.
    let dp = root.join("image-densepose/00003_00.png");
    let bytes = std::fs::read(&dp).unwrap();
    std::fs::write(&dp, &bytes[..bytes.len() / 2]).unwrap();
    // 4: dense pose with a part index past 24.
    write_png(&root.join("image-densepose/00004_00.png"), &Image8 { width: W, height: H, channels: 1, data: vec![31; (W * H) as usize] }, None).unwrap();

    let ds = Dataset::open(root).unwrap();
    let skipped = ds.skipped();
    assert_eq!(ds.len(), 3, "samples 3, 4, 5 pass indexing: {skipped:?}");
    assert_eq!(skipped.len(), 3);
    assert!(skipped[0].path.ends_with("image-parse-v3/00000_00.png") && skipped[0].reason.contains("missing"));
    assert!(skipped[1].path.ends_with("cloth/00001_00.png") && skipped[1].reason.contains("10x10"), "{:?}", skipped[1]);
    assert!(skipped[2].path.ends_with("image/00002_00.png") && skipped[2].reason.contains("unreadable"));

    // Loading: the truncated and the out-of-range files are skipped too, each named.
    let loaded: Vec<_> = (0..ds.len()).filter_map(|i| ds.load_or_skip(i)).collect();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].name, "00005_00");
    let skipped = ds.skipped();
    assert_eq!(skipped.len(), 5);
    assert!(skipped[3].path.ends_with("image-densepose/00003_00.png"), "{:?}", skipped[3]);
    assert!(skipped[4].reason.contains("DensePose part 31") && skipped[4].reason.contains("0..=24"), "{:?}", skipped[4]);
    let summary = ds.summary();
    assert!(summary.contains("3 samples, 5 skipped"), "{summary}");
    // Transfers that name a skipped person are dropped rather than half-loaded.
    assert!(ds.transfers.iter().all(|t| t.a < ds.len() && t.b < ds.len()));
}

#[test]
fn a_dataset_without_valid_samples_is_an_error_naming_the_folder() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("image")).unwrap();
    match Dataset::open(tmp.path()) {
        Err(e @ DataError::Empty { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(&tmp.path().display().to_string()) && msg.contains("image-parse-v3"), "{msg}");
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("an empty folder must not open"),
    }
    let missing = tmp.path().join("nowhere");
    let err = Dataset::open(&missing).err().expect("a missing folder must not open");
    assert!(err.to_string().contains("nowhere"), "{err}");
}

#[test]
fn densepose_colour_files_invert_to_part_indices() {
    let parts: Vec<u8> = (0..(W * H)).map(|i| (i % 25) as u8).collect();
    let colours: Vec<u8> = parts.iter().flat_map(|&p| densepose::colour_of_part(p)).collect();
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("dp.png");
    write_png(&p, &Image8 { width: W, height: H, channels: 3, data: colours }, None).unwrap();
    let back = garment_training::data::files::read_ids(&p, densepose::part_of_colour).unwrap();
    assert_eq!(back.data, parts);
}
