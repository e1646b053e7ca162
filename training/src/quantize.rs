//! `garment-train quantize`: the 8-bit form (`onnx::int8`) of a float32 models folder, its
//! activation ranges calibrated on what the element's own chain feeds each model over the
//! transfer pairs of a dataset (the reference's parser and dense pose runs included).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use gstgarmenttransfer::chain::Chain;
use gstgarmenttransfer::contract::MODELS;
use gstgarmenttransfer::manifest::{Manifest, sha256_hex};
use gstgarmenttransfer::models::{ExecutionProvider, ModelFiles, Models};
use gstgarmenttransfer::runtime::{cpu_session, pool_threads};
use prost::Message;

use crate::cli::QuantizeArgs;
use crate::data::Dataset;
use crate::eval::{process_rgb, reference_of};
use crate::onnx::int8::{Calibration, to_int8};

/// Run the `quantize` subcommand.
pub fn run(args: &QuantizeArgs) -> Result<()> {
    // Calibrated on the float files, whatever 8-bit form the folder holds already.
    let files = ModelFiles::read_own(&args.models)?;
    let source = &files.manifest;
    ensure!(
        source.precision == "fp32",
        "{}: the models are {}; quantize the fp32 folder they were exported from",
        args.models.display(),
        source.precision
    );
    let dataset = Dataset::open(&args.data)?;
    ensure!(!dataset.transfers.is_empty(), "{}: no transfer pairs (transfer_pairs.txt) to calibrate on; write the data with `garment-train synth`", args.data.display());
    let mut calibrating: HashMap<&str, Calibration> = HashMap::new();
    for spec in MODELS {
        calibrating.insert(spec.name, Calibration::new(&source.load_model(&args.models, &spec)?, spec.file)?);
    }

    let mut chain = Chain::new(Models::open(&files, &MODELS, ExecutionProvider::Cpu, 0, pool_threads())?);
    chain.front.models.record_inputs(true);
    chain.back.models.record_inputs(true);
    let pairs: Vec<_> = dataset.transfers.iter().take(args.pairs).collect();
    let bar = crate::progress::bar(pairs.len() as u64, "calibrating", true);
    for t in pairs {
        bar.inc(1);
        let Some(a) = dataset.load_or_skip(t.a) else { continue };
        let Some(reference) = reference_of(&dataset, t, &mut chain.front.models) else { continue };
        chain.reset();
        process_rgb(&mut chain, &reference, &mut a.image.clone(), a.width as usize, a.height as usize)?;
        let recorded = chain.front.models.take_recorded().into_iter().chain(chain.back.models.take_recorded());
        for (name, inputs) in recorded {
            let spec = MODELS.iter().find(|s| s.name == name).expect("the chain runs contract models");
            let names: Vec<&str> = spec.inputs.iter().map(|p| p.name).collect();
            calibrating.get_mut(name).expect("every model is calibrating").observe(&names, &inputs).with_context(|| format!("{}: calibrating", spec.file))?;
        }
    }
    bar.finish();

    std::fs::create_dir_all(&args.out).with_context(|| format!("{}: cannot create it", args.out.display()))?;
    let mut manifest: Manifest = source.clone();
    manifest.precision = "int8".into();
    manifest.evaluation = None;
    for spec in MODELS {
        let c = calibrating.remove(spec.name).expect("every model is calibrating");
        if c.runs == 0 {
            bail!("{}: the chain never ran {} on the {} pairs of {} (nobody found?): nothing to calibrate it on", args.models.display(), spec.file, args.pairs, args.data.display());
        }
        let mut model = c.model;
        to_int8(&mut model, &c.ranges).map_err(|e| anyhow::anyhow!("{}: {e}", spec.file))?;
        let bytes = model.encode_to_vec();
        let path = args.out.join(spec.file);
        std::fs::write(&path, &bytes).with_context(|| format!("{}: cannot write it", path.display()))?;
        cpu_session(&bytes, spec.file, 1)?;
        let entry = manifest.models.get_mut(spec.name).with_context(|| format!("{}: no entry for {}", args.models.display(), spec.name))?;
        let float_sha256 = std::mem::replace(&mut entry.sha256, sha256_hex(&bytes));
        let mut training = entry.training.take().unwrap_or_else(|| serde_json::json!({}));
        training["int8_calibration"] = calibration(&args.data, c.runs, &float_sha256);
        entry.training = Some(training);
        println!("{:<18} {} runs observed, {} tensors calibrated", spec.name, c.runs, c.tensors.len());
    }
    manifest.write(&args.out)?;
    println!("wrote the int8 models and manifest.json to {}; ONNX Runtime loads each", args.out.display());
    Ok(())
}

/// What the ranges were calibrated on: the dataset (its generator's seed and size when `synth`
/// wrote it), the runs observed and the command; and the float file quantized (its sha256: the
/// element refuses the 8-bit file once the float one changes).
fn calibration(data: &Path, runs: usize, float_sha256: &str) -> serde_json::Value {
    let dataset = std::fs::read_to_string(data.join(crate::data::layout::SYNTH)).ok().and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
    serde_json::json!({ "dataset": dataset, "runs": runs, "command": std::env::args().collect::<Vec<_>>(), "float_sha256": float_sha256 })
}
