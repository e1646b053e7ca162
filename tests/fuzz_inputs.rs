//! The fuzz targets' seeds and every input a fuzz run ever found troublesome
//! (`fuzz/regressions/TARGET/`, kept there when fixed) go through the same readers on every test
//! run: no panic, and what passes is within the limits the targets assert.

use std::path::{Path, PathBuf};

use gstgarmenttransfer::manifest::{Manifest, is_plain_file_name};
use gstgarmenttransfer::reference::{MIN_IMAGE_SIDE, decode_image};

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut out: Vec<PathBuf> = ["seeds", "regressions"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root.join(d).join(target)).into_iter().flatten().flatten().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

#[test]
fn manifest_inputs() {
    let files = inputs("manifest");
    assert!(!files.is_empty(), "fuzz/seeds/manifest holds the shipped manifest");
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        if let Ok(m) = Manifest::parse(&bytes, &path) {
            assert!(m.models.values().all(|e| is_plain_file_name(&e.file) && e.sha256.len() == 64), "{}", path.display());
        }
    }
}

#[test]
fn reference_inputs() {
    let files = inputs("reference");
    assert!(files.len() >= 2, "fuzz/seeds/reference holds a PNG and a JPEG");
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        if let Ok(img) = decode_image(&bytes, &path) {
            assert!(img.width.min(img.height) >= MIN_IMAGE_SIDE && img.data.len() == img.width * img.height * 3, "{}", path.display());
        }
    }
}
