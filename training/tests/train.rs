//! Training runs: a killed run resumes exactly where its last checkpoint was, and the stages
//! learn.

use std::process::Command;
use std::time::{Duration, Instant};

fn garment_train() -> Command {
    Command::new(env!("CARGO_BIN_EXE_garment-train"))
}

fn losses(dir: &std::path::Path) -> Vec<f64> {
    std::fs::read_to_string(dir.join("losses.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["cross_entropy"].as_f64().unwrap())
        .collect()
}

#[test]
fn a_killed_run_resumes_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    assert!(garment_train().args(["synth", "--out", data.to_str().unwrap(), "--count", "12", "--size", "32x32", "--pairs", "0"]).status().unwrap().success());
    let args = |out: &std::path::Path| {
        vec![
            "train".to_string(),
            "parser".into(),
            "--data".into(),
            data.display().to_string(),
            "--preset".into(),
            "tiny".into(),
            "--out".into(),
            out.display().to_string(),
            "--iterations".into(),
            "40".into(),
            "--batch".into(),
            "2".into(),
            "--checkpoint-every".into(),
            "5".into(),
            "--size".into(),
            "32x32".into(),
        ]
    };
    // Uninterrupted.
    let whole = tmp.path().join("whole");
    let out = garment_train().args(args(&whole)).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let reference = losses(&whole.join("parser"));
    assert_eq!(reference.len(), 40);
    assert!(whole.join("parser/curves.png").is_file() && whole.join("parser/config.json").is_file());

    // Killed once a checkpoint exists, then resumed.
    let killed = tmp.path().join("killed");
    let mut child = garment_train().args(args(&killed)).stderr(std::process::Stdio::null()).spawn().unwrap();
    let state = killed.join("parser/checkpoint/state.json");
    let deadline = Instant::now() + Duration::from_secs(300);
    while !state.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let at: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let at = at["iteration"].as_u64().unwrap();
    assert!(at >= 5 && at < 40, "killed after the checkpoint at {at}");
    // Without --resume the run refuses to overwrite.
    let out = garment_train().args(args(&killed)).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--resume"));
    let mut resume = args(&killed);
    resume.push("--resume".into());
    let out = garment_train().args(resume).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let resumed = losses(&killed.join("parser"));
    assert_eq!(resumed.len(), 40);
    for (i, (a, b)) in reference.iter().zip(&resumed).enumerate() {
        assert!((a - b).abs() < 1e-5, "iteration {i}: {a} uninterrupted, {b} after the kill at {at}");
    }
    // And the parser learned something on the way.
    let first: f64 = reference[..5].iter().sum::<f64>() / 5.0;
    let last: f64 = reference[35..].iter().sum::<f64>() / 5.0;
    assert!(last < first, "cross-entropy {first} -> {last}");
}

#[test]
fn student_parsing_runs_algorithm_1_phases_from_its_teacher() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    assert!(garment_train().args(["synth", "--out", data.to_str().unwrap(), "--count", "8", "--size", "32x32", "--pairs", "0"]).status().unwrap().success());
    let run = tmp.path().join("run");
    let common = |stage: &str, iterations: &str| {
        let mut c = garment_train();
        c.args(["train", stage, "--data", data.to_str().unwrap(), "--preset", "tiny", "--out", run.to_str().unwrap()])
            .args(["--iterations", iterations, "--batch", "2", "--size", "32x32", "--checkpoint-every", "4"]);
        c
    };
    // The student without its teacher is a clear error.
    let out = common("student-parsing", "4").output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("teacher"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = common("teacher-parsing", "4").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // 8 samples, batch 2: an epoch is 4 iterations; phases 1 and 2 end at epochs 1 and 2.
    let out = common("student-parsing", "12").args(["--phases", "1,2"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(run.join("transfer_parsing/losses.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 12);
    let phase = |i: usize| lines[i]["phase"].as_f64().unwrap() as u8;
    assert_eq!((0..12).map(phase).collect::<Vec<_>>(), vec![1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
    for (i, l) in lines.iter().enumerate() {
        assert!(l["response"].is_number(), "iteration {i}: the response loss runs in every phase");
        assert_eq!(l["feature"].is_number(), phase(i) < 3, "iteration {i}: feature loss in phases 1 and 2 only");
        assert_eq!(l["self_study"].is_number(), phase(i) == 3, "iteration {i}: self-study in phase 3 only");
    }
    // S_P as phases 1 and 2 left it, for evaluation.
    for phase in ["phase1", "phase2"] {
        assert!(run.join("transfer_parsing").join(phase).join("model.bpk").is_file(), "no snapshot of {phase}");
    }
    // The switches are in the run's log, and the schedule in its configuration.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("phase 2") && stderr.contains("phase 3"), "{stderr}");
    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(run.join("transfer_parsing/config.json")).unwrap()).unwrap();
    assert_eq!(config["distill"]["e1"], 1.0);
    // The trained student exports into the element's models folder.
    let models = tmp.path().join("models");
    let out = garment_train()
        .args(["export", "--preset", "tiny", "--size", "32x32", "--checkpoints", run.to_str().unwrap(), "--out", models.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(models.join("manifest.json")).unwrap()).unwrap();
    assert!(manifest["models"]["transfer_parsing"]["training"]["config"]["stage"] == "student-parsing");
    assert_eq!(manifest["untrained"], true, "two of five networks trained: the set is still untrained as a whole");
    // The run's networks over another models folder: S_P from the run, the others from there.
    let merged = tmp.path().join("merged");
    let out = garment_train()
        .args(["export", "--weights-from", models.to_str().unwrap(), "--checkpoints", run.to_str().unwrap(), "--out", merged.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let merged: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(merged.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(merged["models"]["transfer_parsing"]["training"]["config"]["stage"], "student-parsing");
    assert!(merged["models"]["parser"]["training"].is_null(), "the parser comes untrained from --weights-from: {merged}");
}

/// `--student-pose estimated`: S_P learns from the dense pose a dense-pose network estimates,
/// the teacher from the dataset's; `--teacher student` makes S_P as it starts that teacher.
#[test]
fn the_student_parsing_can_learn_from_the_estimated_dense_pose() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    assert!(garment_train().args(["synth", "--out", data.to_str().unwrap(), "--count", "8", "--size", "32x32", "--pairs", "0"]).status().unwrap().success());
    let run = tmp.path().join("run");
    let train = |stage: &str, out: &std::path::Path, extra: &[&str]| {
        garment_train()
            .args(["train", stage, "--data", data.to_str().unwrap(), "--preset", "tiny", "--out", out.to_str().unwrap()])
            .args(["--iterations", "3", "--batch", "2", "--size", "32x32"])
            .args(extra)
            .output()
            .unwrap()
    };
    for stage in ["densepose", "teacher-parsing"] {
        let out = train(stage, &run, &[]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    // The same batches and teacher, the student's dense pose from the dataset or estimated by
    // the run's (barely trained) dense-pose network: the student's input, so its loss, differs.
    let first_response = |dir: &std::path::Path| -> f64 {
        let text = std::fs::read_to_string(dir.join("transfer_parsing/losses.jsonl")).unwrap();
        serde_json::from_str::<serde_json::Value>(text.lines().next().unwrap()).unwrap()["response"].as_f64().unwrap()
    };
    // Both runs start from the same dense pose and teacher.
    fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                copy_tree(&entry.path(), &to.join(entry.file_name()));
            } else {
                std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
            }
        }
    }
    let copy_run = |to: &std::path::Path| copy_tree(&run, to);
    let (dataset, estimated) = (tmp.path().join("dataset"), tmp.path().join("estimated"));
    copy_run(&dataset);
    copy_run(&estimated);
    let out = train("student-parsing", &dataset, &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = train("student-parsing", &estimated, &["--student-pose", "estimated"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (a, b) = (first_response(&dataset), first_response(&estimated));
    assert!((a - b).abs() > 1e-6, "first response loss {a} with the dataset's dense pose, {b} with the estimate");
    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(estimated.join("transfer_parsing/config.json")).unwrap()).unwrap();
    assert_eq!(config["distill"]["student_pose"], "estimated");
    assert_eq!(config["distill"]["teacher"], "teacher-parsing");

    // S_P as a models folder gives it teaches itself seeing the dataset's dense pose.
    let models = tmp.path().join("models");
    let out = garment_train()
        .args(["export", "--preset", "tiny", "--size", "32x32", "--checkpoints", estimated.to_str().unwrap(), "--out", models.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let own = tmp.path().join("own");
    let init = ["--init-weights", models.to_str().unwrap()];
    let out = train("student-parsing", &own, &[&init[..], &["--teacher", "student", "--student-pose", "estimated"]].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(own.join("transfer_parsing/config.json")).unwrap()).unwrap();
    assert_eq!(config["distill"]["teacher"], "student");
    assert!(first_response(&own).is_finite());
    // What cannot be: a teacher seeing what its student sees, a teacher from nowhere.
    let fails = |out: std::process::Output, says: &str| {
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!out.status.success() && err.contains(says), "expected {says:?} in: {err}");
    };
    fails(train("student-parsing", &tmp.path().join("x"), &[&init[..], &["--teacher", "student"]].concat()), "--student-pose estimated");
    fails(train("student-parsing", &tmp.path().join("y"), &["--teacher", "student", "--student-pose", "estimated"]), "--init-weights");
}

/// A shipped network trains on: `--init-weights` starts the stage from a models folder's file.
#[test]
fn a_stage_starts_from_a_models_folder_with_init_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    assert!(garment_train().args(["synth", "--out", data.to_str().unwrap(), "--count", "12", "--size", "32x32", "--pairs", "0"]).status().unwrap().success());
    let train = |out: &str, iterations: &str, seed: &str, extra: &[&str]| {
        garment_train()
            .args(["train", "parser", "--data", data.to_str().unwrap(), "--preset", "tiny", "--size", "32x32", "--batch", "2"])
            .args(["--out", tmp.path().join(out).to_str().unwrap(), "--iterations", iterations, "--seed", seed])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = train("first", "40", "1", &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let models = tmp.path().join("models");
    let first = tmp.path().join("first");
    let out = garment_train()
        .args(["export", "--preset", "tiny", "--size", "32x32", "--checkpoints", first.to_str().unwrap(), "--out", models.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // The same batches from the exported parser and from the seed: the first starts where the
    // first run ended, nearer its last losses than the seed's first.
    let out = train("again", "3", "7", &["--init-weights", models.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = train("fresh", "3", "7", &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let trained = losses(&first.join("parser"));
    let tail = trained[35..].iter().sum::<f64>() / 5.0;
    let (again, fresh) = (losses(&tmp.path().join("again/parser"))[0], losses(&tmp.path().join("fresh/parser"))[0]);
    assert!(again < (fresh + tail) / 2.0, "first loss from the folder {again}, from the seed {fresh}; the first run ended at {tail}");
    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(tmp.path().join("again/parser/config.json")).unwrap()).unwrap();
    assert_eq!(config["init_weights"], models.to_str().unwrap(), "the run's config records where it started");
    // Exported, the network keeps the history it started from.
    let further = tmp.path().join("further");
    let out = garment_train()
        .args(["export", "--weights-from", models.to_str().unwrap(), "--checkpoints", tmp.path().join("again").to_str().unwrap(), "--out", further.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(further.join("manifest.json")).unwrap()).unwrap();
    let parser = &manifest["models"]["parser"]["training"];
    assert_eq!(parser["config"]["iterations"], 3);
    assert_eq!(parser["started_from"]["training"]["config"]["iterations"], 40, "{parser}");

    // No iterations: the folder's network goes into the run as it is, the checkpoint a later
    // stage learns from (exported again, the same file).
    let out = train("copied", "0", "7", &["--init-weights", models.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let copied = tmp.path().join("copied-models");
    let out = garment_train()
        .args(["export", "--preset", "tiny", "--size", "32x32", "--checkpoints", tmp.path().join("copied").to_str().unwrap(), "--out", copied.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read(copied.join("parser.onnx")).unwrap() == std::fs::read(models.join("parser.onnx")).unwrap(), "the copied parser differs");

    // What a folder cannot start: a teacher, another preset's network, the whole schedule.
    let fails = |out: std::process::Output, says: &[&str]| {
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!out.status.success() && says.iter().all(|s| err.contains(s)), "expected {says:?} in: {err}");
    };
    fails(train("nothing", "0", "7", &[]), &["--iterations 0", "--init-weights"]);
    let init = ["--init-weights", models.to_str().unwrap()];
    fails(
        garment_train()
            .args(["train", "teacher-warp", "--data", data.to_str().unwrap(), "--preset", "tiny", "--out", tmp.path().join("t").to_str().unwrap()])
            .args(init)
            .output()
            .unwrap(),
        &["manifest.json", "teacher_warp"],
    );
    fails(
        garment_train()
            .args(["train", "parser", "--data", data.to_str().unwrap(), "--preset", "lite", "--out", tmp.path().join("l").to_str().unwrap()])
            .args(init)
            .output()
            .unwrap(),
        &["manifest.json", "tiny preset"],
    );
    fails(
        garment_train().args(["train", "all", "--data", data.to_str().unwrap(), "--out", tmp.path().join("a").to_str().unwrap()]).args(init).output().unwrap(),
        &["name the stage"],
    );
}

#[test]
fn train_all_runs_every_stage_in_order_and_exports_trained_models() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    assert!(garment_train().args(["synth", "--out", data.to_str().unwrap(), "--count", "6", "--size", "32x32", "--pairs", "6"]).status().unwrap().success());
    let run = tmp.path().join("run");
    let models = tmp.path().join("models");
    let out = garment_train()
        .args(["train", "all", "--data", data.to_str().unwrap(), "--preset", "tiny", "--out", run.to_str().unwrap()])
        .args(["--models", models.to_str().unwrap(), "--iterations", "2", "--batch", "2", "--size", "32x32", "--phases", "0,0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for stage in ["parser", "densepose", "teacher_parsing", "teacher_warp", "transfer_parsing", "warp", "regrowth"] {
        assert!(run.join(stage).join("summary.json").is_file(), "{stage} did not run");
        assert!(run.join(stage).join("curves.png").is_file(), "{stage} drew no curves");
    }
    let warp_losses = std::fs::read_to_string(run.join("warp/losses.jsonl")).unwrap();
    assert!(warp_losses.contains("\"align\"") && warp_losses.contains("\"sc\"") && warp_losses.contains("\"reg\""), "{warp_losses}");
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(models.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["untrained"], false);
    assert_eq!(manifest["models"]["warp"]["training"]["config"]["stage"], "student-warp");
    // The element's chain loads what was exported, and evaluation runs it on the true transfers.
    let loaded = gstgarmenttransfer::models::Models::load(&models, gstgarmenttransfer::models::ExecutionProvider::Cpu, 0, 1);
    assert!(loaded.is_ok(), "{:?}", loaded.err());
    // The two trained baselines, then evaluation of the models and every baseline, recorded.
    let out = garment_train()
        .args(["train", "baselines", "--data", data.to_str().unwrap(), "--preset", "tiny", "--out", run.to_str().unwrap()])
        .args(["--iterations", "2", "--batch", "2", "--size", "32x32"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = garment_train()
        .args(["eval", "--models", models.to_str().unwrap(), "--data", data.to_str().unwrap(), "--json", "--record"])
        .args(["--baselines", run.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["garment_iou", "skin_iou", "parsing_miou", "composite_ssim", "composite_psnr", "garment_l1", "garment_ssim", "samples"] {
        assert!(m[key].is_number(), "{key} missing: {m}");
    }
    assert!(m["samples"].as_u64().unwrap() <= 6);
    for baseline in ["affine_paste", "true_front_end", "true_parsing", "true_dense_pose", "self_supervised", "oracle"] {
        assert!(m["baselines"][baseline]["garment_iou"].is_number(), "{baseline} missing: {m}");
    }
    // The teachers and the shipped students alone on true inputs (the run holds T_P and T_W).
    for (row, key) in [("parsing_on_true_inputs", "garment_iou"), ("warp_on_true_inputs", "garment_l1"), ("warp_on_true_inputs", "mask_iou")] {
        for net in ["teacher", "student"] {
            let x = m[row][net][key].as_f64().unwrap_or(-1.0);
            assert!((0.0..=1.0).contains(&x) && m[row][net]["samples"].as_u64() > Some(0), "{row} {net} {key}: {m}");
        }
    }
    // The front end alone: scores, each a fraction.
    for key in ["parser_miou", "dense_pose_miou", "dense_pose_accuracy", "dense_pose_body_iou"] {
        let x = m["front_end"][key].as_f64().unwrap_or(-1.0);
        assert!((0.0..=1.0).contains(&x) && m["front_end"]["samples"].as_u64() > Some(0), "front_end {key}: {m}");
    }
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(models.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["evaluation"]["garment_iou"], m["garment_iou"], "eval --record writes the numbers into the manifest");
    // Recording again keeps the records it replaces, each under the next one's `previous`.
    for _ in 0..2 {
        let out = garment_train().args(["eval", "--models", models.to_str().unwrap(), "--data", data.to_str().unwrap(), "--limit", "2", "--record"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(models.join("manifest.json")).unwrap()).unwrap();
    let first = &manifest["evaluation"]["previous"]["previous"];
    assert_eq!(first["garment_iou"], m["garment_iou"], "{manifest}");
    assert!(first["baselines"]["oracle"].is_object() && first.get("previous").is_none(), "{manifest}");
    assert!(manifest["evaluation"]["previous"]["baselines"].get("oracle").is_none(), "the second record measured no baselines: {manifest}");
    // The element still accepts the manifest with its evaluation.
    assert!(gstgarmenttransfer::models::Models::load(&models, gstgarmenttransfer::models::ExecutionProvider::Cpu, 0, 1).is_ok());
}
