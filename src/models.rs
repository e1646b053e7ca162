//! The five models of a models folder, checked against `manifest.json` and opened in ONNX
//! Runtime on the chosen execution provider.

use std::path::{Path, PathBuf};

use ndarray::{Array4, ArrayView4, Ix4};
use ort::session::Session;
use ort::value::TensorRef;

use crate::contract::{MODELS, ModelSpec};
use crate::manifest::{Manifest, ManifestError};
use crate::runtime::{RuntimeError, session_builder};

/// Where the models run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExecutionProvider {
    /// CUDA when it initialises, the CPU otherwise (with a warning saying why).
    #[default]
    Auto,
    /// CUDA or an error.
    Cuda,
    Cpu,
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("models folder {0} does not exist (expected the five .onnx files and manifest.json)")]
    MissingFolder(PathBuf),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("{file}: {why}")]
    Contract { file: PathBuf, why: String },
    #[error("CUDA execution provider (device {device}) cannot run: {why}")]
    Cuda { device: i32, why: String },
    #[error("{model}: inference failed: {why}")]
    Run { model: String, why: String },
}

/// The provider the sessions ended up on, and why not CUDA when `auto` fell back.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderChoice {
    pub name: &'static str,
    pub fallback: Option<String>,
}

pub struct Models {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub provider: ProviderChoice,
    sessions: Vec<Session>,
}

impl Models {
    /// Open the models in `dir`. `threads` are ONNX Runtime's intra-op threads (CPU).
    pub fn load(dir: &Path, provider: ExecutionProvider, device_id: i32, threads: usize) -> Result<Models, ModelError> {
        if !dir.is_dir() {
            return Err(ModelError::MissingFolder(dir.to_path_buf()));
        }
        let manifest = Manifest::read(dir)?;
        let mut choice = ProviderChoice { name: "CPU", fallback: None };
        let mut use_cuda = provider != ExecutionProvider::Cpu;
        let mut sessions = Vec::new();
        for spec in MODELS {
            let bytes = manifest.load_model(dir, &spec)?;
            let file = dir.join(spec.file);
            let mut b = session_builder(threads, spec.file)?;
            if use_cuda {
                let cuda = ort::ep::CUDA::default().with_device_id(device_id).build().error_on_failure();
                match b.with_execution_providers([cuda]) {
                    Ok(with_cuda) => {
                        b = with_cuda;
                        choice.name = "CUDA";
                    }
                    Err(e) => {
                        let why = e.to_string();
                        if provider == ExecutionProvider::Cuda {
                            return Err(ModelError::Cuda { device: device_id, why });
                        }
                        // `auto`: fall back to the CPU deliberately, and say why.
                        b = e.recover();
                        use_cuda = false;
                        choice = ProviderChoice { name: "CPU", fallback: Some(why) };
                    }
                }
            }
            let session = b
                .commit_from_memory(&bytes)
                .map_err(|e| ModelError::Contract { file: file.clone(), why: format!("ONNX Runtime cannot load it: {e}") })?;
            check_session(&session, &spec, &manifest, &file)?;
            sessions.push(session);
        }
        Ok(Models { dir: dir.to_path_buf(), manifest, provider: choice, sessions })
    }

    /// Model resolution (height, width).
    pub fn resolution(&self) -> (usize, usize) {
        (self.manifest.height, self.manifest.width)
    }

    /// Run model `spec` on `inputs` (in the contract's order); outputs in the contract's order.
    pub fn run(&mut self, spec: &ModelSpec, inputs: &[ArrayView4<f32>]) -> Result<Vec<Array4<f32>>, ModelError> {
        let fail = |why: String| ModelError::Run { model: spec.name.into(), why };
        let i = MODELS.iter().position(|m| m.name == spec.name).ok_or_else(|| fail("not a model of the contract".into()))?;
        let mut feeds = Vec::with_capacity(inputs.len());
        for (port, a) in spec.inputs.iter().zip(inputs) {
            feeds.push((port.name, TensorRef::from_array_view(*a).map_err(|e| fail(e.to_string()))?));
        }
        let outputs = self.sessions[i].run(feeds).map_err(|e| fail(e.to_string()))?;
        spec.outputs
            .iter()
            .map(|p| {
                let v = outputs.get(p.name).ok_or_else(|| fail(format!("no output '{}'", p.name)))?;
                let a = v.try_extract_array::<f32>().map_err(|e| fail(e.to_string()))?;
                a.to_owned().into_dimensionality::<Ix4>().map_err(|e| fail(e.to_string()))
            })
            .collect()
    }
}

/// The session's tensors are the contract's: names, order and shapes.
fn check_session(session: &Session, spec: &ModelSpec, manifest: &Manifest, file: &Path) -> Result<(), ModelError> {
    let contract = |why: String| ModelError::Contract { file: file.to_path_buf(), why };
    let (h, w) = (manifest.height as i64, manifest.width as i64);
    for (kind, outlets, ports) in [("input", session.inputs(), spec.inputs), ("output", session.outputs(), spec.outputs)] {
        let got: Vec<&str> = outlets.iter().map(|o| o.name()).collect();
        let want: Vec<&str> = ports.iter().map(|p| p.name).collect();
        if got != want {
            return Err(contract(format!("{kind}s {got:?}, expected {want:?} (the '{}' model of the contract)", spec.name)));
        }
        for (o, p) in outlets.iter().zip(ports) {
            let shape: Vec<i64> = o.dtype().tensor_shape().map(|s| s.iter().copied().collect()).unwrap_or_default();
            let ok = shape.len() == 4 && shape[1] == p.channels as i64 && shape[2] == h && shape[3] == w;
            if !ok {
                return Err(contract(format!("{kind} '{}' has shape {shape:?}, expected [N, {}, {h}, {w}]", p.name, p.channels)));
            }
        }
    }
    Ok(())
}
