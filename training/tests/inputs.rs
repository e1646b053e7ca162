//! The networks see the same inputs in training and in the element: one synthetic pair (A, B)
//! through the trainer's input builders (`PersonSample::tensors`) and through the element's
//! per-frame chain, with the true parsing and dense pose given where the chain would predict
//! them.

use std::path::Path;

use garment_training::data::{Dataset, DensePoseFormat};
use garment_training::synth::World;
use garment_training::synth::writer::{Layout, write_dataset};
use gstgarmenttransfer::chain::{group_ids, regrowth_inputs, warp_inputs};
use gstgarmenttransfer::contract::POSE_PARTS;
use gstgarmenttransfer::frame::{Letterbox, RgbImage};
use gstgarmenttransfer::glue;
use gstgarmenttransfer::inputs::{batch, one_hot};
use gstgarmenttransfer::reference::Reference;
use gstgarmenttransfer::runtime::{Feed, cpu_session, run};
use ndarray::{Array3, ArrayView4};

fn same(what: &str, element: ArrayView4<f32>, trainer: &Array3<f32>) {
    let trainer = batch(trainer.clone());
    assert_eq!(element.shape(), trainer.shape(), "{what}: shapes differ");
    let diff = element.iter().zip(trainer.iter()).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(diff == 0.0, "{what}: the element's input differs from the trainer's by up to {diff}");
    assert!(trainer.iter().any(|&v| v != 0.0), "{what}: all zeros, the comparison would prove nothing");
}

#[test]
fn trainer_and_element_build_the_same_network_inputs() {
    let (w, h) = (96usize, 128usize);
    let tmp = tempfile::tempdir().unwrap();
    let world = World::new(w as u32, h as u32, 7).unwrap();
    let layout = Layout::create(tmp.path(), DensePoseFormat::Index).unwrap();
    write_dataset(&world, 2, 0, &layout, &indicatif::ProgressBar::hidden()).unwrap();
    let dataset = Dataset::open(tmp.path()).unwrap();
    let (a, b) = (dataset.load(0).unwrap(), dataset.load(1).unwrap());
    let (ta, tb) = (a.tensors(), b.tensors());

    // The frames are at model resolution: the letterbox is the identity.
    let fit = Letterbox::new(w, h, w, h);
    let picture = |s: &garment_training::data::PersonSample| RgbImage { width: w, height: h, data: s.image.clone() };
    let (input_a, input_b) = (fit.model_input(&picture(&a)), fit.model_input(&picture(&b)));
    same("image A", input_a.view(), &ta.image);
    let reference = Reference::from_maps(Path::new("B.png"), picture(&b), fit, input_b, b.parsing(), &b.densepose).unwrap();
    let pose_a = batch(one_hot(&a.densepose, POSE_PARTS, h, w));

    // S_P (student parsing): A's agnostic map (the element's glue graph, run by ONNX Runtime
    // as the chain runs it) and pose, B's garment mask.
    let mut session = cpu_session(&glue::model(&glue::AGNOSTIC, h, w), glue::AGNOSTIC.file, 1).unwrap();
    let ids = group_ids(&a.parsing(), h, w);
    let agnostic = run(&mut session, &glue::AGNOSTIC, &[Feed::Host(ids.view()), Feed::Host(pose_a.view())], h, w).unwrap().swap_remove(0);
    same("S_P agnostic", agnostic.view(), &ta.agnostic);
    same("S_P pose", pose_a.view(), &ta.pose);
    same("S_P garment mask", reference.garment_mask.view(), &tb.garment_mask);

    // S_W (student warp): B's garment, mask and pose; the target region and A's pose. The
    // parsing S_P predicts is given as A's own, so the target region is A's garment.
    let [garment, mask, source_pose, target_mask] = warp_inputs(&reference, &a.parsing(), h, w);
    same("S_W garment", garment.view(), &tb.garment);
    same("S_W garment mask", mask.view(), &tb.garment_mask);
    same("S_W source pose", source_pose.view(), &tb.pose);
    same("S_W target mask", target_mask.view(), &ta.garment_mask);
    // S_W's last input, A's pose, is the one S_P sees (checked above).

    // R (regrowth): A's skin and the new skin region (here A's own).
    let [skin, skin_mask] = regrowth_inputs(&input_a, &a.parsing(), &a.parsing(), h, w);
    same("R skin", skin.view(), &ta.skin);
    same("R target skin mask", skin_mask.view(), &ta.skin_mask);
}
