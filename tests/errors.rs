//! Every error a user can cause gets a GStreamer error or warning that names the file or value
//! and what was expected; the pipeline shuts down cleanly; nothing panics.

mod common;

use std::time::Duration;

use common::{ParserVerdict, error_of, gt, init, launch, models, person_png, run};
use garment_training::nn::{Preset, default_device};
use garment_training::onnx::{InferenceNets, Precision, export_models};
use gstgarmenttransfer::manifest::{Manifest, sha256_hex};

const TIMEOUT: Duration = Duration::from_secs(120);

#[test]
fn models_folder_and_files() {
    init();
    let tmp = tempfile::tempdir().unwrap();
    let r = person_png(tmp.path(), "reference.png", 1);
    let missing = tmp.path().join("no-such-models");
    let e = error_of(&gt(&missing, &r));
    assert!(e.contains("no-such-models") && e.contains("does not exist"), "{e}");

    let m = models(&tmp.path().join("m1"), ParserVerdict::AllGarment);
    std::fs::remove_file(m.join("regrowth.onnx")).unwrap();
    let e = error_of(&gt(&m, &r));
    assert!(e.contains("regrowth.onnx"), "{e}");

    let m = models(&tmp.path().join("m2"), ParserVerdict::AllGarment);
    std::fs::remove_file(m.join("manifest.json")).unwrap();
    let e = error_of(&gt(&m, &r));
    assert!(e.contains("manifest.json"), "{e}");

    // Checksum mismatch: one byte of the warp changed.
    let m = models(&tmp.path().join("m3"), ParserVerdict::AllGarment);
    let mut bytes = std::fs::read(m.join("warp.onnx")).unwrap();
    let n = bytes.len() / 3;
    bytes[n] ^= 1;
    std::fs::write(m.join("warp.onnx"), bytes).unwrap();
    let e = error_of(&gt(&m, &r));
    assert!(e.contains("warp.onnx") && e.contains("sha256"), "{e}");

    // Corrupt: not an ONNX file at all, with a manifest that vouches for it.
    let m = models(&tmp.path().join("m4"), ParserVerdict::AllGarment);
    let garbage = b"definitely not a protobuf".repeat(10);
    std::fs::write(m.join("densepose.onnx"), &garbage).unwrap();
    let mut manifest = Manifest::read(&m).unwrap();
    manifest.models.get_mut("densepose").unwrap().sha256 = sha256_hex(&garbage);
    manifest.write(&m).unwrap();
    let e = error_of(&gt(&m, &r));
    assert!(e.contains("densepose.onnx") && e.contains("cannot load"), "{e}");

    // An int8/ folder that is not the 8-bit form of the folder: float files, or another size.
    let m = models(&tmp.path().join("m8"), ParserVerdict::AllGarment);
    let int8 = models(&m.join("int8"), ParserVerdict::AllGarment);
    let e = error_of(&gt(&m, &r));
    assert!(e.contains(&int8.display().to_string()) && e.contains("precision is fp32, expected int8"), "{e}");
    let (nets, preset) = (InferenceNets::untrained(Preset::Tiny, &default_device()), Preset::Tiny);
    let mut manifest = export_models(&nets, preset, Precision::Fp32, common::H + 32, common::W, &int8, None).unwrap();
    manifest.precision = "int8".into();
    manifest.write(&int8).unwrap();
    let e = error_of(&gt(&m, &r));
    assert!(e.contains(&int8.display().to_string()) && e.contains(&format!("{}x{} models, expected", common::W, common::H + 32)), "{e}");
    // Quantized from another transfer_parsing.onnx than the folder's (retrained since).
    let mut manifest = export_models(&nets, preset, Precision::Fp32, common::H, common::W, &int8, None).unwrap();
    manifest.precision = "int8".into();
    let other = "0".repeat(64);
    manifest.models.get_mut("transfer_parsing").unwrap().training = Some(serde_json::json!({ "int8_calibration": { "float_sha256": other } }));
    manifest.write(&int8).unwrap();
    let e = error_of(&gt(&m, &r));
    assert!(e.contains(&int8.display().to_string()) && e.contains("transfer_parsing.onnx was quantized from another") && e.contains("quantize again"), "{e}");

    // Breaks the contract: the parser's file in the dense-pose slot (wrong output name and width).
    let m = models(&tmp.path().join("m5"), ParserVerdict::AllGarment);
    let parser = std::fs::read(m.join("parser.onnx")).unwrap();
    std::fs::write(m.join("densepose.onnx"), &parser).unwrap();
    let mut manifest = Manifest::read(&m).unwrap();
    manifest.models.get_mut("densepose").unwrap().sha256 = sha256_hex(&parser);
    manifest.write(&m).unwrap();
    let e = error_of(&gt(&m, &r));
    assert!(e.contains("densepose.onnx") && e.contains("pose_logits") && e.contains("parsing_logits"), "{e}");

    // A manifest that drifted from the contract.
    let m = models(&tmp.path().join("m6"), ParserVerdict::AllGarment);
    let text = std::fs::read_to_string(m.join("manifest.json")).unwrap().replace("\"regrown_skin\"", "\"skin_out\"");
    std::fs::write(m.join("manifest.json"), text).unwrap();
    let e = error_of(&gt(&m, &r));
    assert!(e.contains("manifest.json") && e.contains("regrown_skin"), "{e}");

    // Models trained on an earlier reading of their inputs - the agnostic map that kept the torso
    // and upper legs, the dense pose with the garment's silhouette (a manifest from before the
    // field): the tensors' shapes agree, so only the manifest can tell.
    for (k, (field, expected)) in [("agnostic", "upper legs"), ("dense_pose", "under the clothes")].into_iter().enumerate() {
        let m = models(&tmp.path().join(format!("m{}", 7 + k)), ParserVerdict::AllGarment);
        let mut manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(m.join("manifest.json")).unwrap()).unwrap();
        manifest["conventions"].as_object_mut().unwrap().remove(field).unwrap();
        std::fs::write(m.join("manifest.json"), manifest.to_string()).unwrap();
        let e = error_of(&gt(&m, &r));
        assert!(e.contains("manifest.json") && e.contains(&format!("conventions.{field}")) && e.contains(expected), "{e}");
    }
}

#[test]
fn references() {
    init();
    let tmp = tempfile::tempdir().unwrap();
    let m = models(&tmp.path().join("m"), ParserVerdict::AllGarment);
    let e = error_of(&format!("garmenttransfer models={} execution-provider=cpu", m.display()));
    assert!(e.contains("reference"), "{e}");

    let missing = tmp.path().join("nobody-here.jpg");
    let e = error_of(&gt(&m, &missing));
    assert!(e.contains("nobody-here.jpg") && e.contains("cannot read"), "{e}");

    let unreadable = tmp.path().join("broken.png");
    std::fs::write(&unreadable, b"\x89PNG\r\n\x1a\n but then nothing").unwrap();
    let e = error_of(&gt(&m, &unreadable));
    assert!(e.contains("broken.png"), "{e}");

    let nobody = models(&tmp.path().join("nobody"), ParserVerdict::Nobody);
    let r = person_png(tmp.path(), "reference.png", 1);
    let e = error_of(&gt(&nobody, &r));
    assert!(e.contains("reference.png") && e.contains("no upper garment"), "{e}");
}

#[test]
fn cuda_where_there_is_none_and_tiny_frames() {
    init();
    let tmp = tempfile::tempdir().unwrap();
    let m = models(&tmp.path().join("m"), ParserVerdict::AllGarment);
    let r = person_png(tmp.path(), "reference.png", 1);
    if std::path::Path::new("/dev/nvidia0").exists() {
        eprintln!("a GPU is present: the no-GPU error is not checked here");
    } else {
        let e = error_of(&format!("garmenttransfer models={} reference={} execution-provider=cuda", m.display(), r.display()));
        assert!(e.contains("CUDA"), "{e}");
    }
    let pipeline = launch(&format!("videotestsrc num-buffers=2 ! video/x-raw,format=RGB,width=32,height=48 ! {} ! fakesink", gt(&m, &r)));
    let ended = run(&pipeline, TIMEOUT);
    let e = ended.errors.join("\n");
    assert!(e.contains("32x48") && e.contains("64x64"), "{e}");
}
