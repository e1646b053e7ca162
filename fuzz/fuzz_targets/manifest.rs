//! `manifest.json` as an attacker writes it: any bytes. Parsing never panics, and a manifest
//! that passes names only plain files inside the models folder, with well-formed checksums.
#![no_main]

use std::path::Path;

use gstgarmenttransfer::manifest::{Manifest, is_plain_file_name};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Manifest::parse(data, Path::new("manifest.json")) {
        for entry in m.models.values() {
            assert!(is_plain_file_name(&entry.file), "{:?} passed", entry.file);
            assert!(entry.sha256.len() == 64, "{:?} passed", entry.sha256);
        }
        assert!(m.height >= 1 && m.width >= 1 && m.height <= 2048 && m.width <= 2048);
    }
});
