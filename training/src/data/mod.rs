//! Data: the VITON-HD / HR-VITON folder layout (read and written), the CIHP and DensePose
//! conventions, and the tensors the networks take (DESIGN.md sections 3 and 5).

pub mod cihp;
pub mod densepose;
pub mod files;
pub mod layout;
pub mod loader;
pub mod tensors;

pub use layout::DensePoseFormat;
pub use loader::{Dataset, PersonSample, Skipped, TransferTruth};
pub use tensors::PersonTensors;

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: cannot decode image: {reason}")]
    Decode { path: PathBuf, reason: String },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("{folder}: no valid sample ({skipped} skipped); expected the VITON-HD layout: image/, cloth/, cloth-mask/, image-parse-v3/ (or image-parse/), image-densepose/")]
    Empty { folder: PathBuf, skipped: usize },
}

/// Index of the colour in `palette` nearest to `rgb` (squared RGB distance).
pub(crate) fn nearest_colour(palette: &[[u8; 3]], rgb: [u8; 3]) -> usize {
    let d = |c: &[u8; 3]| (0..3).map(|i| (c[i] as i32 - rgb[i] as i32).pow(2)).sum::<i32>();
    (0..palette.len()).min_by_key(|&i| d(&palette[i])).unwrap_or(0)
}
