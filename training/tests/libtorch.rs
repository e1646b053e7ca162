//! The libtorch backend trains like flex: one short stage from the same seed, data and initial
//! weights gives close losses on both (close, not equal: the kernels differ). Built only with
//! the `libtorch` feature (`scripts/setup.sh --libtorch`; CI runs it).
#![cfg(feature = "libtorch")]

use std::process::Command;

fn garment_train() -> Command {
    Command::new(env!("CARGO_BIN_EXE_garment-train"))
}

fn losses(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn libtorch_and_flex_give_close_losses_on_the_same_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    assert!(garment_train().args(["synth", "--out", data.to_str().unwrap(), "--count", "8", "--size", "32x32", "--pairs", "0"]).status().unwrap().success());
    let mut runs = Vec::new();
    for device in ["flex", "libtorch"] {
        let run = tmp.path().join(device);
        let out = garment_train()
            .args(["--device", device, "train", "teacher-parsing", "--data", data.to_str().unwrap(), "--preset", "tiny"])
            .args(["--out", run.to_str().unwrap(), "--iterations", "3", "--batch", "2", "--size", "32x32"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{device}: {}", String::from_utf8_lossy(&out.stderr));
        let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(run.join("teacher_parsing/config.json")).unwrap()).unwrap();
        assert_eq!(config["backend"], device, "the run records its backend");
        runs.push(losses(&run.join("teacher_parsing/losses.jsonl")));
    }
    assert_eq!(runs[0].len(), 3);
    for (i, (flex, torch)) in runs[0].iter().zip(&runs[1]).enumerate() {
        for term in ["fused", "sides"] {
            let (a, b) = (flex[term].as_f64().unwrap(), torch[term].as_f64().unwrap());
            println!("iteration {i} {term}: flex {a:.6}, libtorch {b:.6}");
            // The first iteration sees the same weights and batch (measured: 2e-6 apart); later
            // ones the same batches after steps of two implementations, which Adam's first,
            // sign-like steps pull apart (measured: up to 2.1% at the third iteration).
            let bound = if i == 0 { 1e-4 } else { 5e-2 };
            assert!((a - b).abs() <= bound * a.abs().max(1.0), "iteration {i} {term}: flex {a}, libtorch {b}");
        }
    }
}

#[test]
fn the_same_network_computes_the_same_on_both() {
    use burn::module::Module;
    use burn::tensor::{Device, Distribution, Tensor};
    use garment_training::nn::Preset;
    use garment_training::nn::graph::Eager;
    #[allow(deprecated)]
    let torch = Device::libtorch();
    let flex = Device::flex();
    flex.seed(3);
    let net = Preset::Tiny.parser(&flex);
    let x = Tensor::<4>::random([2, 3, 32, 32], Distribution::Normal(0.0, 1.0), &flex);
    for (what, a, b) in [
        ("inference", net.forward(&mut Eager::new(&flex), &x), net.clone().fork(&torch).forward(&mut Eager::new(&torch), &Tensor::from_data(x.to_data(), &torch))),
    ] {
        let (a, b) = (a.into_data().try_to_vec::<f32>().unwrap(), b.into_data().try_to_vec::<f32>().unwrap());
        let diff = a.iter().zip(&b).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
        println!("{what}: max diff {diff}");
        assert!(diff < 1e-3, "{what}: {diff}");
    }
    let (fa, ta) = (flex.clone().autodiff(), torch.clone().autodiff());
    let (na, nb) = (net.clone().fork(&fa), net.fork(&ta));
    let a = na.forward(&mut Eager::new(&fa), &Tensor::from_data(x.to_data(), &fa)).into_data().try_to_vec::<f32>().unwrap();
    let b = nb.forward(&mut Eager::new(&ta), &Tensor::from_data(x.to_data(), &ta)).into_data().try_to_vec::<f32>().unwrap();
    let diff = a.iter().zip(&b).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
    println!("training mode: max diff {diff}");
    assert!(diff < 1e-3, "training mode: {diff}");
}
