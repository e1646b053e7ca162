//! ONNX Runtime: finding and loading the shared library, and opening sessions.
//!
//! The library is looked up in this order: `ORT_DYLIB_PATH`; the project-local copy that
//! `scripts/setup.sh` unpacks (its path is recorded at build time); the system loader's search
//! path. It is loaded with `ort::init_from`, so a missing or unusable library is an error
//! message naming what was tried, never a panic.

use std::path::PathBuf;
use std::sync::OnceLock;

use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};

#[derive(Debug, thiserror::Error, Clone)]
pub enum RuntimeError {
    #[error("cannot load ONNX Runtime: {0} (run scripts/setup.sh, or set ORT_DYLIB_PATH to libonnxruntime.so 1.24 or later)")]
    Library(String),
    #[error("{what}: ONNX Runtime refused the model: {why}")]
    Session { what: String, why: String },
}

/// Where the library is looked for, in order.
pub fn library_candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        out.push(PathBuf::from(p));
    }
    out.push(PathBuf::from(env!("GARMENT_ORT_DIR")).join("libonnxruntime.so"));
    out.push(PathBuf::from("libonnxruntime.so"));
    out
}

static ENVIRONMENT: OnceLock<Result<Environment, RuntimeError>> = OnceLock::new();

/// The process-wide ONNX Runtime environment, loading the library on first use.
pub fn environment() -> Result<Environment, RuntimeError> {
    ENVIRONMENT.get_or_init(load).clone()
}

fn load() -> Result<Environment, RuntimeError> {
    let mut tried = Vec::new();
    for candidate in library_candidates() {
        // A bare file name goes to the system loader; a path must exist.
        if candidate.components().count() > 1 && !candidate.exists() {
            tried.push(format!("{}: no such file", candidate.display()));
            continue;
        }
        match ort::init_from(&candidate) {
            Ok(builder) => {
                return builder
                    .with_name("garmenttransfer")
                    .build()
                    .map_err(|e| RuntimeError::Library(format!("{}: {e}", candidate.display())));
            }
            Err(e) => tried.push(format!("{}: {e}", candidate.display())),
        }
    }
    Err(RuntimeError::Library(tried.join("; ")))
}

/// A session builder with full graph optimisation and `threads` intra-op threads; `what`
/// names the model in errors.
pub fn session_builder(threads: usize, what: &str) -> Result<SessionBuilder, RuntimeError> {
    let env = environment()?;
    let fail = |why: String| RuntimeError::Session { what: what.into(), why };
    Session::builder(&env)
        .map_err(|e| fail(e.to_string()))?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(|e| fail(e.to_string()))?
        .with_intra_threads(threads)
        .map_err(|e| fail(e.to_string()))
}

/// A session on the CPU execution provider for the model in `bytes`.
pub fn cpu_session(bytes: &[u8], what: &str, threads: usize) -> Result<Session, RuntimeError> {
    session_builder(threads, what)?
        .commit_from_memory(bytes)
        .map_err(|e| RuntimeError::Session { what: what.into(), why: e.to_string() })
}
