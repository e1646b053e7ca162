//! A reference photo as an attacker writes it: any bytes. Decoding never panics and never
//! allocates past its limits (libFuzzer's -rss_limit_mb catches that), and a picture that
//! passes is within the stated limits.
#![no_main]

use std::path::Path;

use gstgarmenttransfer::reference::{MAX_ASPECT, MIN_IMAGE_SIDE, decode_image};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(img) = decode_image(data, Path::new("reference")) {
        assert_eq!(img.data.len(), img.width * img.height * 3);
        assert!(img.width.min(img.height) >= MIN_IMAGE_SIDE);
        assert!(img.width.max(img.height) as f32 <= MAX_ASPECT * img.width.min(img.height) as f32);
    }
});
