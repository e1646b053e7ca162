//! `garment-train export`: a models folder for the element, from untrained networks, from a
//! training run's checkpoints, or from another models folder's weights (a re-export by the
//! current exporter, checked file by file against the original in ONNX Runtime).

use std::path::Path;

use anyhow::{Result, ensure};
use gstgarmenttransfer::contract::MODELS;
use gstgarmenttransfer::runtime::cpu_session;

use super::check::compare_models;
use super::proto::node_count;
use super::{InferenceNets, Precision, export_models, import};
use crate::cli::ExportArgs;
use crate::nn::default_device;
use crate::train::checkpoint::{model_file, with_checkpoints};
use crate::train::trained_networks;

/// Run the `export` subcommand.
pub fn run(args: &ExportArgs) -> Result<()> {
    match (&args.weights_from, &args.checkpoints) {
        (Some(from), None) => return reexport(from, &args.out, args.size, args.precision),
        (Some(from), Some(run)) => return retrained(from, run, &args.out, args.precision),
        _ => {}
    }
    let (preset, out) = (args.preset, &args.out);
    let device = default_device();
    let (w, h) = args.size.map_or((192, 256), |(w, h)| (w as usize, h as usize));
    let (nets, training) = match &args.checkpoints {
        Some(run) => trained_networks(preset, run, &device)?,
        None => (InferenceNets::untrained(preset, &device), Default::default()),
    };
    if args.checkpoints.is_some() {
        for spec in MODELS {
            let how = if training.contains_key(spec.name) { "trained" } else { "untrained (no checkpoint)" };
            println!("{}: {how}", spec.name);
        }
    }
    let manifest = export_models(&nets, preset, args.precision, h, w, out, args.checkpoints.as_ref().map(|_| &training))?;
    for spec in MODELS {
        cpu_session(&manifest.load_model(out, &spec)?, spec.file, 1)?;
    }
    let kind = if manifest.untrained { "untrained" } else { "trained" };
    println!(
        "wrote {} models ({} preset, {kind}, {w}x{h}, {}) and manifest.json to {}; ONNX Runtime loads each",
        manifest.models.len(),
        preset.name(),
        manifest.precision,
        out.display()
    );
    Ok(())
}

/// `export --weights-from FROM --checkpoints RUN`: the networks trained in `RUN`, and the
/// others as `FROM` has them (weights and provenance), at `FROM`'s preset and size.
pub fn retrained(from: &Path, run: &Path, out: &Path, precision: Precision) -> Result<()> {
    let device = default_device();
    let (mut nets, preset, source) = import::load_except(from, &device, &|name| model_file(run, name).exists())?;
    let mut training = import::provenance(&source);
    let replaced = with_checkpoints(&mut nets, &mut training, preset, run, &device)?;
    let manifest = export_models(&nets, preset, precision, source.height, source.width, out, Some(&training))?;
    for spec in MODELS {
        cpu_session(&manifest.load_model(out, &spec)?, spec.file, 1)?;
        let whence = if replaced.contains(&spec.name) { run.display().to_string() } else { from.display().to_string() };
        println!("{:<18} from {whence}", spec.name);
    }
    println!("wrote the {} models ({}x{}) to {}; ONNX Runtime loads each", preset.name(), source.width, source.height, out.display());
    Ok(())
}

/// `export --weights-from`: the networks of `from` written to `out` by the current exporter,
/// each new file checked against its original in ONNX Runtime: equal to 1e-4 in the same
/// precision; in fp16 the difference is printed (and must be finite).
pub fn reexport(from: &Path, out: &Path, size: Option<(u32, u32)>, precision: Precision) -> Result<()> {
    let (nets, preset, source) = import::load(from, &default_device())?;
    let (w, h) = size.map_or((source.width, source.height), |(w, h)| (w as usize, h as usize));
    let same_size = (w, h) == (source.width, source.height);
    let training = import::provenance(&source);
    let same_precision = precision.name() == source.precision;
    let mut manifest = export_models(&nets, preset, precision, h, w, out, (!source.untrained).then_some(&training))?;
    for spec in MODELS {
        let new = manifest.load_model(out, &spec)?;
        if same_size {
            let old = source.load_model(from, &spec)?;
            let diff = compare_models(&old, &new, spec, h, w)?;
            let bound = if same_precision { 1e-4 } else { f32::MAX };
            ensure!(diff <= bound, "{}: the new file differs from {} by {diff:.2e} (more than {bound:.0e})", spec.file, from.display());
            println!("{:<18} {:5} -> {:5} nodes, outputs agree to {diff:.1e}", spec.name, node_count(&old)?, node_count(&new)?);
        } else {
            cpu_session(&new, spec.file, 1)?;
        }
    }
    // The same weights compute the same outputs: the evaluation recorded with them still holds.
    if same_size && same_precision && source.evaluation.is_some() {
        manifest.evaluation = source.evaluation.clone();
        manifest.write(out)?;
    }
    println!("wrote the {} weights of {} ({w}x{h}) to {}", preset.name(), from.display(), out.display());
    Ok(())
}
