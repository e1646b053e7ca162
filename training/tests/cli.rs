//! The `garment-train` command line, run as a user runs it.

use std::process::Command;

fn garment_train(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_garment-train")).args(args).output().expect("garment-train runs")
}

#[test]
fn synth_then_contact_sheet_draws_a_grid_of_every_column() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = garment_train(&["synth", "--out", data.to_str().unwrap(), "--count", "5", "--size", "96x128", "--seed", "3", "--pairs", "7"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for f in ["image/00004_00.png", "cloth/00004_00.png", "cloth-mask/00004_00.png", "image-parse-v3/00004_00.png", "image-densepose/00004_00.png", "openpose_json/00004_00_keypoints.json", "train_pairs.txt", "transfer_pairs.txt"] {
        assert!(data.join(f).is_file(), "{f} missing");
    }
    let pairs = std::fs::read_to_string(data.join("transfer_pairs.txt")).unwrap();
    assert_eq!(pairs.lines().count(), 7);
    assert_eq!(std::fs::read_dir(data.join("transfer")).unwrap().count(), 7);

    let sheet = tmp.path().join("sheet.png");
    let out = garment_train(&["contact-sheet", data.to_str().unwrap(), "--out", sheet.to_str().unwrap(), "--rows", "3", "--cell", "64"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let img = image::open(&sheet).unwrap().into_rgb8();
    // 6 columns of 48x64 cells and 3 rows, 4-pixel gaps.
    assert_eq!(img.dimensions(), (6 * 52 + 4, 3 * 68 + 4));
    // Every cell of the first row holds a picture (not the white sheet).
    for col in 0..6u32 {
        let (x0, y0) = (4 + col * 52, 4);
        let non_white = (0..48).flat_map(|x| (0..64).map(move |y| (x, y))).filter(|&(x, y)| img.get_pixel(x0 + x, y0 + y).0 != [255, 255, 255]).count();
        assert!(non_white > 300, "column {col} is empty");
    }
}

#[test]
fn synth_video_writes_frames_reference_and_truth() {
    let tmp = tempfile::tempdir().unwrap();
    let out = garment_train(&["synth-video", "--out", tmp.path().to_str().unwrap(), "--frames", "4", "--size", "128x96", "--seed", "1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_dir(tmp.path().join("frames")).unwrap().count(), 4);
    assert_eq!(std::fs::read_dir(tmp.path().join("transfer")).unwrap().count(), 4);
    let frame = image::open(tmp.path().join("frames/00000.png")).unwrap();
    assert_eq!((frame.width(), frame.height()), (128, 96));
    assert!(tmp.path().join("reference.png").is_file());
}

#[test]
fn bad_arguments_say_what_was_expected() {
    let out = garment_train(&["synth", "--out", "/tmp/never", "--size", "192by256"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("192by256") && err.contains("WIDTHxHEIGHT"), "{err}");

    let out = garment_train(&["synth", "--out", "/tmp/never", "--size", "4x4"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("4x4"));

    let tmp = tempfile::tempdir().unwrap();
    let out = garment_train(&["contact-sheet", tmp.path().to_str().unwrap(), "--out", "/tmp/never.png"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&tmp.path().display().to_string()), "{err}");

    // A backend this build lacks, or none that exists, is named with what would work.
    let out = garment_train(&["--device", "cuda", "summary"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("'cuda'") && err.contains("libtorch-cuda:N"), "{err}");
    if !cfg!(feature = "libtorch") {
        let out = garment_train(&["--device", "libtorch", "summary"]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("setup.sh --libtorch"));
    }

    // Algorithm 1's phases: two increasing epochs.
    let out = garment_train(&["train", "parser", "--data", tmp.path().to_str().unwrap(), "--out", "/tmp/never", "--phases", "2,1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("E1,E2"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `bench-onnx --models A --against B`: every model of both folders timed, with the ratio;
/// folders of two resolutions are an error naming both; `--against` alone is refused.
#[test]
fn bench_onnx_times_a_models_folder_against_another() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();
    for (name, size) in [("a", "64x64"), ("b", "64x64"), ("c", "32x64")] {
        let out = garment_train(&["export", "--preset", "tiny", "--untrained", "--size", size, "--out", &dir(name)]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let out = garment_train(&["bench-onnx", "--models", &dir("a"), "--against", &dir("b"), "--runs", "2", "--threads", "1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    for name in ["parser", "densepose", "transfer_parsing", "warp", "regrowth", "all five"] {
        let line = text.lines().find(|l| l.trim_start().starts_with(name)).unwrap_or_else(|| panic!("no line for {name}:\n{text}"));
        let numbers: Vec<f64> = line.trim_start()[name.len()..].split_whitespace().map(|v| v.parse().unwrap()).collect();
        assert!(numbers.len() == 3 && numbers[0] > 0.0 && numbers[1] > 0.0, "{line}");
        // The ratio of the medians, which are printed rounded to 0.1 ms.
        let (a, b, ratio) = (numbers[0], numbers[1], numbers[2]);
        assert!(ratio >= (a - 0.05) / (b + 0.05) - 1e-3 && ratio <= (a + 0.05) / (b - 0.05).max(1e-3) + 1e-3, "{line}");
    }

    let out = garment_train(&["bench-onnx", "--models", &dir("a"), "--against", &dir("c"), "--runs", "1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains(&dir("a")) && err.contains(&dir("c")) && err.contains("one resolution"), "{err}");
    let out = garment_train(&["bench-onnx", "--against", &dir("b")]);
    assert!(!out.status.success(), "--against without --models ran");
}

/// `quantize`: the shipped models calibrated on the chain's own runs over a small dataset; the
/// int8 folder says so in its manifest, the element's chain runs it with the float32 folder's
/// quality; an int8 folder is not quantized again.
#[test]
fn quantize_writes_an_int8_folder_the_chain_runs_as_well_as_the_fp32_one() {
    let tmp = tempfile::tempdir().unwrap();
    let path = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../models");
    let out = garment_train(&["synth", "--out", &path("data"), "--count", "12", "--size", "96x128", "--seed", "31", "--pairs", "12"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = garment_train(&["quantize", "--models", shipped, "--data", &path("data"), "--out", &path("int8")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(tmp.path().join("int8/manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["precision"], "int8");
    for name in ["parser", "densepose", "transfer_parsing", "warp", "regrowth"] {
        let runs = manifest["models"][name]["training"]["int8_calibration"]["runs"].as_u64().unwrap_or(0);
        assert!(runs > 0, "{name}: calibrated on {runs} runs");
    }

    let eval = |models: &str| -> serde_json::Value {
        let out = garment_train(&["eval", "--models", models, "--data", &path("data"), "--json"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap()
    };
    let (float, int8) = (eval(shipped), eval(&path("int8")));
    for key in ["garment_iou", "skin_iou", "composite_ssim"] {
        let (a, b) = (float[key].as_f64().unwrap(), int8[key].as_f64().unwrap());
        println!("{key}: fp32 {a:.4}, int8 {b:.4}");
        assert!((a - b).abs() < 0.02, "{key}: fp32 {a}, int8 {b}");
    }

    let out = garment_train(&["quantize", "--models", &path("int8"), "--data", &path("data"), "--out", &path("again")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains(&path("int8")) && err.contains("the models are int8"), "{err}");
}

/// `estimate`: a copy of a dataset whose dense pose is the models folder's network's, the rest
/// of the files as they were, its provenance in `synth.json`; an existing folder is refused.
#[test]
fn estimate_copies_a_dataset_with_the_dense_pose_of_a_models_folder() {
    use garment_training::data::Dataset;
    let tmp = tempfile::tempdir().unwrap();
    let path = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();
    let (data, models, out) = (path("data"), path("models"), path("estimated"));
    let made = garment_train(&["synth", "--out", &data, "--count", "4", "--size", "64x64", "--seed", "2", "--pairs", "2"]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let made = garment_train(&["export", "--preset", "tiny", "--untrained", "--size", "64x64", "--out", &models]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));

    let run = garment_train(&["estimate", "--models", &models, "--data", &data, "--out", &out]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let (original, copy) = (Dataset::open(data.as_ref()).unwrap(), Dataset::open(out.as_ref()).unwrap());
    assert_eq!(copy.len(), 4);
    assert_eq!(copy.transfers.len(), 2);
    let front = garment_training::eval::FrontEnd::load(models.as_ref()).unwrap();
    for i in 0..4 {
        let (a, b) = (original.load(i).unwrap(), copy.load(i).unwrap());
        // Everything but the dense pose is the original's; the dense pose is the network's.
        assert_eq!((&a.image, &a.cihp, &a.cloth, &a.cloth_mask), (&b.image, &b.cihp, &b.cloth, &b.cloth_mask));
        assert_eq!(b.densepose, front.dense_pose(&a), "person {i}");
    }
    let synth: serde_json::Value = serde_json::from_slice(&std::fs::read(tmp.path().join("estimated/synth.json")).unwrap()).unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(tmp.path().join("models/manifest.json")).unwrap()).unwrap();
    assert_eq!(synth["seed"], 2, "{synth}");
    assert_eq!(synth["densepose_estimated"]["densepose_sha256"], manifest["models"]["densepose"]["sha256"], "{synth}");

    let again = garment_train(&["estimate", "--models", &models, "--data", &data, "--out", &out]);
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success() && err.contains(&out) && err.contains("not empty"), "{err}");
}

/// `eval --sheet`: the first pairs drawn as person A, reference B, output, truth and error; the
/// output is the chain's (not A unchanged) and the error column shows where it is wrong.
#[test]
fn eval_sheet_draws_each_pair_beside_its_truth_and_error() {
    let tmp = tempfile::tempdir().unwrap();
    let path = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../models");
    let out = garment_train(&["synth", "--out", &path("data"), "--count", "4", "--size", "96x128", "--seed", "77", "--pairs", "4"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = garment_train(&["eval", "--models", shipped, "--data", &path("data"), "--sheet", &path("sheet.png"), "--sheet-rows", "3", "--sheet-cell", "128"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("3 rows") && err.contains("person A, reference B, output, truth, error"), "{err}");
    // A folder that is not there is said at once, naming it.
    let out = garment_train(&["eval", "--models", shipped, "--data", &path("data"), "--sheet", &path("no/sheet.png")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains(&path("no")) && err.contains("does not exist"), "{err}");
    for (flag, value) in [("--sheet-rows", "0"), ("--sheet-cell", "0")] {
        let out = garment_train(&["eval", "--models", shipped, "--data", &path("data"), "--sheet", &path("never.png"), flag, value]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(&format!("{flag} 0")), "{err}");
    }
    let img = image::open(tmp.path().join("sheet.png")).unwrap().into_rgb8();
    // 5 columns of 96x128 cells and 3 rows, 4-pixel gaps.
    assert_eq!(img.dimensions(), (5 * 100 + 4, 3 * 132 + 4));
    let cell = |row: u32, col: u32| -> Vec<[u8; 3]> {
        let (x0, y0) = (4 + col * 100, 4 + row * 132);
        (0..128).flat_map(|y| (0..96).map(move |x| (x, y))).map(|(x, y)| img.get_pixel(x0 + x, y0 + y).0).collect()
    };
    for row in 0..3 {
        let (a, output, truth, error) = (cell(row, 0), cell(row, 2), cell(row, 3), cell(row, 4));
        let differ = |p: &[[u8; 3]], q: &[[u8; 3]]| p.iter().zip(q).filter(|(x, y)| x != y).count();
        // The chain dressed A: the output is nearer the truth than A is.
        assert!(differ(&a, &output) > 200 && differ(&output, &truth) < differ(&a, &truth), "row {row}");
        // The error is red on white: some pixels, not all.
        let red = error.iter().filter(|p| p[0] == 255 && p[1] < 200).count();
        assert!(red > 20 && red < error.len() / 2, "row {row}: {red} red pixels");
    }
}
