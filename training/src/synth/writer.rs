//! Writing the synthetic world to disk: a dataset in the VITON-HD layout, or a video sequence.

use std::io::Write;
use std::path::{Path, PathBuf};

use indicatif::ProgressBar;
use rayon::prelude::*;

use super::canvas::Drawing;
use super::world::{Framing, Sample, World};
use crate::data::files::{Image8, write_png};
use crate::data::layout::{
    CLOTH, CLOTH_MASK, DENSEPOSE, DensePoseFormat, IMAGE, OPENPOSE, PARSE, TRAIN_PAIRS, TRANSFER, TRANSFER_PAIRS, TRANSFER_PARSE, sample_name,
    transfer_name,
};
use crate::data::{DataError, cihp, densepose};

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
    // What made the dataset, for the provenance of whatever trains on it.
    let made = serde_json::json!({
        "generator": "garment-train synth", "seed": world.seed, "people": count, "transfers": pairs,
        "width": world.width, "height": world.height, "densepose": format!("{:?}", layout.densepose).to_lowercase(),
        "varied": world.varied,
    });
    let path = layout.root.join(crate::data::layout::SYNTH);
    std::fs::write(&path, made.to_string() + "\n").map_err(io(&path))?;
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

/// A dataset folder being written.
pub struct Layout {
    pub root: PathBuf,
    pub densepose: DensePoseFormat,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataError + '_ {
    move |source| DataError::Io { path: path.to_path_buf(), source }
}

impl Layout {
    /// Create the folders under `root`.
    pub fn create(root: &Path, densepose: DensePoseFormat) -> Result<Layout, DataError> {
        for dir in [IMAGE, CLOTH, CLOTH_MASK, PARSE[0], DENSEPOSE, OPENPOSE[0], TRANSFER, TRANSFER_PARSE] {
            let d = root.join(dir);
            std::fs::create_dir_all(&d).map_err(io(&d))?;
        }
        Ok(Layout { root: root.to_path_buf(), densepose })
    }

    /// Write one sample's files.
    pub fn write_sample(&self, name: &str, s: &Sample) -> Result<(), DataError> {
        let d = &s.person;
        let file = format!("{name}.png");
        write_png(&self.root.join(IMAGE).join(&file), &rgb(d.width, d.height, &d.rgb), None)?;
        write_png(&self.root.join(CLOTH).join(&file), &rgb(d.width, d.height, &s.cloth), None)?;
        write_png(&self.root.join(CLOTH_MASK).join(&file), &gray(d.width, d.height, &s.cloth_mask), None)?;
        write_png(&self.root.join(PARSE[0]).join(&file), &gray(d.width, d.height, &d.cihp), Some(&cihp::PALETTE))?;
        let dp_path = self.root.join(DENSEPOSE).join(&file);
        match self.densepose {
            DensePoseFormat::Index => write_png(&dp_path, &gray(d.width, d.height, &d.densepose), None)?,
            DensePoseFormat::Colour => {
                let data = d.densepose.iter().flat_map(|&p| densepose::colour_of_part(p)).collect();
                write_png(&dp_path, &Image8 { width: d.width, height: d.height, channels: 3, data }, None)?
            }
        }
        let json = serde_json::json!({
            "version": 1.3,
            "people": [{
                "person_id": [-1],
                "pose_keypoints_2d": s.keypoints.iter().flatten().copied().collect::<Vec<f32>>(),
            }]
        });
        let kp_path = self.root.join(OPENPOSE[0]).join(format!("{name}_keypoints.json"));
        std::fs::write(&kp_path, json.to_string()).map_err(io(&kp_path))
    }

    /// Write the true result of A wearing B's garment.
    pub fn write_transfer(&self, a: &str, b: &str, d: &Drawing) -> Result<(), DataError> {
        let file = format!("{}.png", transfer_name(a, b));
        write_png(&self.root.join(TRANSFER).join(&file), &rgb(d.width, d.height, &d.rgb), None)?;
        write_png(&self.root.join(TRANSFER_PARSE).join(&file), &gray(d.width, d.height, &d.cihp), Some(&cihp::PALETTE))
    }

    /// Write `train_pairs.txt` (paired: each person with their own garment) and
    /// `transfer_pairs.txt`.
    pub fn write_pair_lists(&self, names: &[String], transfers: &[(String, String)]) -> Result<(), DataError> {
        let mut lines = String::new();
        for n in names {
            lines.push_str(&format!("{n}.png {n}.png\n"));
        }
        let p = self.root.join(TRAIN_PAIRS);
        std::fs::write(&p, lines).map_err(io(&p))?;
        let p = self.root.join(TRANSFER_PAIRS);
        let mut f = std::io::BufWriter::new(std::fs::File::create(&p).map_err(io(&p))?);
        for (a, b) in transfers {
            writeln!(f, "{a}.png {b}.png {}.png", transfer_name(a, b)).map_err(io(&p))?;
        }
        f.flush().map_err(io(&p))
    }
}

pub fn rgb(width: u32, height: u32, data: &[u8]) -> Image8 {
    Image8 { width, height, channels: 3, data: data.to_vec() }
}

pub fn gray(width: u32, height: u32, data: &[u8]) -> Image8 {
    Image8 { width, height, channels: 1, data: data.to_vec() }
}

/// Run the `synth` subcommand.
pub fn synth(args: &crate::cli::SynthArgs) -> anyhow::Result<()> {
    use anyhow::Context;
    let (size, seed, count) = (args.size, args.seed, args.count);
    let mut world = World::new(size.0, size.1, seed)?;
    if args.varied {
        world = world.varied();
    }
    let pairs = args.pairs.unwrap_or(count);
    let format = if args.densepose_colour { DensePoseFormat::Colour } else { DensePoseFormat::Index };
    let layout = Layout::create(&args.out, format)?;
    let bar = crate::progress::bar((count + pairs) as u64, "synth", true);
    let start = std::time::Instant::now();
    write_dataset(&world, count, pairs, &layout, &bar).with_context(|| format!("writing {}", args.out.display()))?;
    bar.finish();
    println!(
        "wrote {count} people and {pairs} true transfers at {}x{} (seed {seed}{}) to {} in {:.1}s",
        size.0,
        size.1,
        if args.varied { ", varied framing" } else { "" },
        args.out.display(),
        start.elapsed().as_secs_f32()
    );
    Ok(())
}

/// Run the `synth-video` subcommand.
pub fn synth_video(args: &crate::cli::SynthVideoArgs) -> anyhow::Result<()> {
    use anyhow::Context;
    if let Some(p) = args.person_height
        && !(0.02..=1.5).contains(&p)
    {
        anyhow::bail!("--person-height {p}: expected a share of the frame height between 0.02 and 1.5");
    }
    let world = World::new(args.size.0, args.size.1, args.seed)?;
    let bar = crate::progress::bar(args.frames as u64, "frames", true);
    let framing = Framing { person_height: args.person_height, walk: args.walk };
    write_video(&world, args.frames, framing, &args.out, &bar).with_context(|| format!("writing {}", args.out.display()))?;
    bar.finish();
    println!("wrote {} frames, their true transfers and reference.png to {}", args.frames, args.out.display());
    Ok(())
}
