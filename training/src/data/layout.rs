//! The VITON-HD / HR-VITON folder layout: the names of its folders and files (reading is
//! `loader`'s, writing the synthetic world into it `synth::writer`'s).
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
/// (synthetic only) the generator's seed, sizes and counts.
pub const SYNTH: &str = "synth.json";

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
