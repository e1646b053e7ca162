//! `estimate`: a copy of a dataset whose dense pose is a models folder's dense-pose network's
//! instead of the synthetic world's truth. VITON-HD's dense pose is itself an estimate (DensePose
//! run over its photos); networks trained on the true dense pose meet the network's errors only
//! in the element, where they cost the chain most of its skin IoU (`eval`'s `true_dense_pose`
//! row). Trained on this copy, T_P and S_P see in training what the element gives them.

use std::path::Path;

use anyhow::{Context, bail};

use crate::cli::EstimateArgs;
use crate::data::files::{Image8, write_png};
use crate::data::layout::{DENSEPOSE, SYNTH};
use crate::data::loader::resize_nearest;
use crate::data::{Dataset, PersonSample};
use crate::eval::FrontEnd;

/// Copy `from` into `to` (files and folders; links and anything else are left out), except the
/// folder named `except`.
fn copy_tree(from: &Path, to: &Path, except: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))? {
        let entry = entry?;
        let (path, kind) = (entry.path(), entry.file_type()?);
        let target = to.join(entry.file_name());
        if kind.is_dir() && entry.file_name() != except {
            copy_tree(&path, &target, except)?;
        } else if kind.is_file() {
            std::fs::copy(&path, &target).with_context(|| format!("cannot copy {} to {}", path.display(), target.display()))?;
        }
    }
    Ok(())
}

/// The dense-pose network's parts for `person`, at the person's own resolution.
fn estimated_pose(front: &FrontEnd, person: &PersonSample) -> Vec<u8> {
    let (w, h) = (front.width as u32, front.height as u32);
    let pose = front.dense_pose(&person.resized(w, h));
    resize_nearest(&pose, w, h, person.width, person.height)
}

pub fn run(args: &EstimateArgs) -> anyhow::Result<()> {
    if args.out.exists() && std::fs::read_dir(&args.out).map(|mut d| d.next().is_some()).unwrap_or(true) {
        bail!("{}: exists and is not empty; `estimate` writes a new folder", args.out.display());
    }
    let dataset = Dataset::open(&args.data).with_context(|| format!("cannot open the dataset {}", args.data.display()))?;
    let front = FrontEnd::load(&args.models).map_err(|e| anyhow::anyhow!("{}: {e}", args.models.display()))?;
    copy_tree(&args.data, &args.out, DENSEPOSE)?;
    let dir = args.out.join(DENSEPOSE);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let bar = crate::progress::bar(dataset.len() as u64, "people", true);
    let mut written = 0;
    for i in 0..dataset.len() {
        bar.inc(1);
        // A person the loader cannot read gets no dense pose: the copy skips them as the
        // original does.
        let Some(person) = dataset.load_or_skip(i) else { continue };
        let pose = estimated_pose(&front, &person);
        let path = dir.join(format!("{}.png", person.name));
        write_png(&path, &Image8 { width: person.width, height: person.height, channels: 1, data: pose }, None)?;
        written += 1;
    }
    bar.finish_and_clear();
    // Provenance: what the dense pose of this copy is (the manifest of what trains on it
    // records the dataset's `synth.json`).
    let synth_path = args.out.join(SYNTH);
    let mut synth: serde_json::Value = match std::fs::read(&synth_path) {
        Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| format!("{}: not JSON", synth_path.display()))?,
        Err(_) => serde_json::json!({}),
    };
    synth["densepose_estimated"] = serde_json::json!({
        "models": args.models.display().to_string(),
        "densepose_sha256": front.densepose_sha256,
        "source": args.data.display().to_string(),
    });
    std::fs::write(&synth_path, serde_json::to_vec(&synth)?).with_context(|| format!("cannot write {}", synth_path.display()))?;
    println!("wrote {} with the dense pose of {} for {written} of {} people", args.out.display(), args.models.display(), dataset.len());
    Ok(())
}
