//! Where the element looks for what it did not get told: ONNX Runtime's library and the default
//! models folder.
//!
//! A development build - the running code (the plugin file, or the test or benchmark
//! executable) lies inside the source tree it was built from or the target folder it was built
//! into - uses that tree: the ONNX Runtime
//! that `scripts/setup.sh` unpacked into `.onnxruntime/` and the shipped `models/`. An
//! installed plugin never looks in the folder it was built in (which may not exist, or belong
//! to someone else, on the machine it runs on): it looks in `garmenttransfer/` next to the
//! plugin file (where `scripts/install.sh` puts the library and the models), in the XDG data
//! folders (`$XDG_DATA_HOME`, `$XDG_DATA_DIRS`: `garmenttransfer/models`), and for the library
//! in `ORT_DYLIB_PATH` and the system loader's path.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

static PLUGIN_FILE: OnceLock<PathBuf> = OnceLock::new();

/// Record the plugin file GStreamer loaded this code from (`plugin_init`); without it (static
/// registration, the core used as a library) the running executable stands for it.
pub fn set_plugin_file(path: PathBuf) {
    let _ = PLUGIN_FILE.set(path);
}

/// The plugin file, or the running executable.
pub fn own_file() -> Option<PathBuf> {
    PLUGIN_FILE.get().cloned().or_else(|| std::env::current_exe().ok())
}

/// The source tree this was built from.
pub fn source_tree() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Whether the running code lies inside the source tree it was built from, or inside the
/// target folder the build wrote it to.
pub fn is_development_build() -> bool {
    let Some(file) = own_file().and_then(|f| f.canonicalize().ok()) else { return false };
    [source_tree(), Path::new(env!("GARMENT_TARGET_DIR"))]
        .iter()
        .any(|d| d.canonicalize().is_ok_and(|d| file.starts_with(d)))
}

/// `garmenttransfer/` next to the plugin file (or executable).
pub fn beside_plugin() -> Option<PathBuf> {
    own_file().and_then(|f| f.parent().map(|d| d.join("garmenttransfer")))
}

/// The XDG data folders, most specific first.
fn xdg_data_dirs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    match std::env::var_os("XDG_DATA_HOME") {
        Some(d) if !d.is_empty() => out.push(PathBuf::from(d)),
        _ => {
            if let Some(home) = std::env::var_os("HOME") {
                out.push(PathBuf::from(home).join(".local/share"));
            }
        }
    }
    let dirs = std::env::var("XDG_DATA_DIRS").ok().filter(|d| !d.is_empty()).unwrap_or_else(|| "/usr/local/share:/usr/share".into());
    out.extend(dirs.split(':').filter(|d| !d.is_empty()).map(PathBuf::from));
    out
}

/// The default models folder: the source tree's `models/` for a development build; otherwise
/// the first of `garmenttransfer/models` beside the plugin and in the XDG data folders that
/// exists (the one beside the plugin when none does, so the error names a real place).
pub fn default_models() -> PathBuf {
    if is_development_build() {
        return source_tree().join("models");
    }
    let mut candidates: Vec<PathBuf> = beside_plugin().map(|d| d.join("models")).into_iter().collect();
    candidates.extend(xdg_data_dirs().into_iter().map(|d| d.join("garmenttransfer").join("models")));
    candidates.iter().find(|c| c.is_dir()).or(candidates.first()).cloned().unwrap_or_else(|| PathBuf::from("models"))
}

/// Where ONNX Runtime's library is looked for, in order, after `ORT_DYLIB_PATH`: the source
/// tree's copy (development builds only), `garmenttransfer/libonnxruntime.so` beside the
/// plugin (installed), then the bare name for the system loader.
pub fn library_candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if is_development_build() {
        out.push(source_tree().join(".onnxruntime").join("current").join("libonnxruntime.so"));
    } else if let Some(d) = beside_plugin() {
        out.push(d.join("libonnxruntime.so"));
    }
    out.push(PathBuf::from("libonnxruntime.so"));
    out
}
