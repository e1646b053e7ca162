//! The VITON-HD / HR-VITON folder layout, and writing the synthetic world into it.
//!
//! ```text
//! image/NAME.png              the person (RGB)
//! cloth/NAME.png              their upper garment in shop (RGB, white background)
//! cloth-mask/NAME.png         its mask (0 / 255)
//! image-parse-v3/NAME.png     parsing, CIHP ids, palette PNG
//! image-densepose/NAME.png    DensePose part index (gray PNG) or its colour rendering
//! openpose_json/NAME_keypoints.json   COCO-18 keypoints
//! train_pairs.txt             "NAME.png NAME.png" per line (person, own garment)
//! transfer/A__B.png           (synthetic only) A wearing B's upper garment: the true result
//! transfer-parse/A__B.png     its parsing, CIHP ids
//! transfer_pairs.txt          "A.png B.png A__B.png" per line
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};

use super::files::{Image8, write_png};
use super::{DataError, cihp, densepose};
use crate::synth::{Drawing, Sample};

pub const IMAGE: &str = "image";
pub const CLOTH: &str = "cloth";
pub const CLOTH_MASK: &str = "cloth-mask";
pub const PARSE: [&str; 2] = ["image-parse-v3", "image-parse"];
pub const DENSEPOSE: &str = "image-densepose";
pub const OPENPOSE: [&str; 2] = ["openpose_json", "openpose-json"];
pub const TRAIN_PAIRS: &str = "train_pairs.txt";
pub const TRANSFER: &str = "transfer";
pub const TRANSFER_PARSE: &str = "transfer-parse";
pub const TRANSFER_PAIRS: &str = "transfer_pairs.txt";

/// How dense pose is written: the part index, or VITON-HD's colour rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DensePoseFormat {
    #[default]
    Index,
    Colour,
}

/// The name of sample `index`, VITON-HD style.
pub fn sample_name(index: usize) -> String {
    format!("{index:05}_00")
}

pub fn transfer_name(a: &str, b: &str) -> String {
    format!("{a}__{b}")
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
