//! Writing the synthetic world to disk: a dataset in the VITON-HD layout, or a video sequence.

use std::path::Path;

use indicatif::ProgressBar;
use rayon::prelude::*;

use super::world::{Framing, World};
use crate::data::layout::{Layout, gray, rgb, sample_name};
use crate::data::{DataError, cihp, files::write_png};

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("cannot draw {what} at {width}x{height}")]
    Draw { what: String, width: u32, height: u32 },
}

fn draw_error(world: &World, what: impl Into<String>) -> WriteError {
    WriteError::Draw { what: what.into(), width: world.width, height: world.height }
}

/// Write `count` samples and `pairs` true transfers into `layout`; `progress` advances once per
/// sample and once per transfer.
pub fn write_dataset(
    world: &World,
    count: usize,
    pairs: usize,
    layout: &Layout,
    progress: &ProgressBar,
) -> Result<(), WriteError> {
    let names: Vec<String> = (0..count).map(sample_name).collect();
    (0..count).into_par_iter().try_for_each(|i| {
        let sample = world.sample(i as u64).ok_or_else(|| draw_error(world, format!("sample {i}")))?;
        layout.write_sample(&names[i], &sample)?;
        progress.inc(1);
        Ok::<(), WriteError>(())
    })?;
    let list = world.pairs(count, pairs);
    list.par_iter().try_for_each(|&(a, b)| {
        let (pa, pb) = (world.person(a as u64), world.person(b as u64));
        let truth = world.transfer(&pa, &pb).ok_or_else(|| draw_error(world, format!("transfer {a} <- {b}")))?;
        layout.write_transfer(&names[a], &names[b], &truth)?;
        progress.inc(1);
        Ok::<(), WriteError>(())
    })?;
    let transfers: Vec<(String, String)> = list.iter().map(|&(a, b)| (names[a].clone(), names[b].clone())).collect();
    layout.write_pair_lists(&names, &transfers)?;
    Ok(())
}

/// Write a video sequence: `frames/NNNNN.png`, the true transfer of every frame in
/// `transfer/NNNNN.png` (with its parsing in `transfer-parse/`), `reference.png` (the other
/// person, wearing the garment to transfer) and `reference-cloth.png` (that garment in shop).
pub fn write_video(world: &World, frames: usize, framing: Framing, out: &Path, progress: &ProgressBar) -> Result<(), WriteError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| DataError::Io { path: p, source }
    };
    for d in ["frames", "transfer", "transfer-parse"] {
        std::fs::create_dir_all(out.join(d)).map_err(io(&out.join(d)))?;
    }
    let seq = world.sequence_framed(frames, framing);
    let own = world.tailor(&seq.person.upper).ok_or_else(|| draw_error(world, "the person's garment"))?;
    let theirs = world.tailor(&seq.reference.upper).ok_or_else(|| draw_error(world, "the reference garment"))?;
    let reference = world.sample_of(&seq.reference, &theirs).ok_or_else(|| draw_error(world, "the reference"))?;
    let (w, h) = (world.width, world.height);
    write_png(&out.join("reference.png"), &rgb(w, h, &reference.person.rgb), None)?;
    write_png(&out.join("reference-cloth.png"), &rgb(w, h, &reference.cloth), None)?;
    seq.poses.par_iter().enumerate().try_for_each(|(f, pose)| {
        let name = format!("{f:05}.png");
        let frame = world.draw_posed(&seq.person, pose, &own).ok_or_else(|| draw_error(world, format!("frame {f}")))?;
        write_png(&out.join("frames").join(&name), &rgb(w, h, &frame.rgb), None)?;
        let truth = world.draw_posed(&seq.person, pose, &theirs).ok_or_else(|| draw_error(world, format!("frame {f}")))?;
        write_png(&out.join("transfer").join(&name), &rgb(w, h, &truth.rgb), None)?;
        write_png(&out.join("transfer-parse").join(&name), &gray(w, h, &truth.cihp), Some(&cihp::PALETTE))?;
        progress.inc(1);
        Ok::<(), WriteError>(())
    })?;
    Ok(())
}
