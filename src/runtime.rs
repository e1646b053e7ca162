//! ONNX Runtime: finding and loading the shared library, and opening sessions.
//!
//! The library is looked up in this order: `ORT_DYLIB_PATH`; for a development build the
//! project-local copy that `scripts/setup.sh` unpacks, for an installed plugin
//! `garmenttransfer/` beside the plugin file (see `install`); the system loader's search path.
//! It is loaded with `ort::init_from`, so a missing or unusable library is an error
//! message naming what was tried, never a panic.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::contract::ModelSpec;

use ort::environment::{Environment, GlobalThreadPoolOptions};
use ndarray::{Array4, ArrayView4, Ix4};
use ort::session::Session;
use ort::memory::AllocationDevice;
use ort::session::SessionInputValue;
use ort::value::{Tensor, TensorRef};
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};

#[derive(Debug, thiserror::Error, Clone)]
pub enum RuntimeError {
    #[error("cannot load ONNX Runtime: {0} (run scripts/setup.sh, or set ORT_DYLIB_PATH to libonnxruntime.so 1.24 or later)")]
    Library(String),
    #[error("{what}: ONNX Runtime refused the model: {why}")]
    Session { what: String, why: String },
}

/// Where the library is looked for, in order: `ORT_DYLIB_PATH`, then `install::library_candidates`.
pub fn library_candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        out.push(PathBuf::from(p));
    }
    out.extend(crate::install::library_candidates());
    out
}

/// The loaded environment, and what went wrong on the way to it (an `ORT_DYLIB_PATH` that does
/// not lead to a usable library is skipped, and said so, not silently).
#[derive(Clone)]
pub struct Loaded {
    pub environment: Environment,
    pub warnings: Vec<String>,
}

static ENVIRONMENT: OnceLock<Result<Loaded, RuntimeError>> = OnceLock::new();

/// The process-wide ONNX Runtime environment, loading the library on first use.
pub fn environment() -> Result<Environment, RuntimeError> {
    loaded().map(|l| l.environment)
}

/// The environment with the warnings of its loading.
pub fn loaded() -> Result<Loaded, RuntimeError> {
    ENVIRONMENT.get_or_init(|| with_log(load)).clone()
}

fn load() -> Result<Loaded, RuntimeError> {
    let mut tried = Vec::new();
    let from_env = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()).map(PathBuf::from);
    for candidate in library_candidates() {
        // A bare file name goes to the system loader; a path must be a regular file.
        if candidate.components().count() > 1 && !candidate.is_file() {
            tried.push(format!("{}: no such file", candidate.display()));
            continue;
        }
        match ort::init_from(&candidate) {
            Ok(builder) => {
                let library = |e: ort::Error| RuntimeError::Library(format!("{}: {e}", candidate.display()));
                let pool = GlobalThreadPoolOptions::default()
                    .with_intra_threads(pool_threads())
                    .and_then(|p| p.with_spin_control(false))
                    .map_err(library)?;
                let environment = builder.with_name("garmenttransfer").with_global_thread_pool(pool).build().map_err(library)?;
                let warnings = match &from_env {
                    Some(p) if *p != candidate => vec![format!(
                        "ORT_DYLIB_PATH={} was not usable ({}); loaded ONNX Runtime from {} instead",
                        p.display(),
                        tried.first().map(String::as_str).unwrap_or("unknown reason"),
                        candidate.display()
                    )],
                    _ => vec![],
                };
                return Ok(Loaded { environment, warnings });
            }
            Err(e) => tried.push(format!("{}: {e}", candidate.display())),
        }
    }
    Err(RuntimeError::Library(tried.join("; ")))
}

static LOG: OnceLock<tracing_core::Dispatch> = OnceLock::new();

/// Route ONNX Runtime's log (the `ort` crate's `tracing` events) to `dispatch` - but only on the
/// threads that call into ONNX Runtime through this crate, and only while they do (`with_log`):
/// a host application keeps its own global `tracing` subscriber.
pub fn set_log_dispatch(dispatch: tracing_core::Dispatch) {
    let _ = LOG.set(dispatch);
}

/// Run `f` with the log route of `set_log_dispatch` as this thread's `tracing` default.
pub fn with_log<R>(f: impl FnOnce() -> R) -> R {
    match LOG.get() {
        Some(d) => tracing_core::dispatcher::with_default(d, f),
        None => f(),
    }
}

/// The intra-op threads of the process-wide pool: one per core the process may use.
pub fn pool_threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// A session builder with full graph optimisation and `threads` intra-op threads; `what`
/// names the model in errors.
///
/// Sessions asking for `pool_threads()` threads - the element's five, and those of every other
/// element in the process - share the environment's one pool instead of a pool each: a frame's
/// models run one after another, and two frames in flight (or two elements) would otherwise
/// put a pool per session on the same cores. Any other count gets a pool of its own (the
/// benchmarks' one-thread runs). No pool spins when it runs out of work: a pool left spinning
/// after its model finished keeps the cores busy while the next model (or the composite) wants
/// them. Measured on 2 cores with the lite models: the five models took 240 ms a frame with
/// spinning, 174 ms without.
pub fn session_builder(threads: usize, what: &str) -> Result<SessionBuilder, RuntimeError> {
    let env = environment()?;
    let fail = |why: String| RuntimeError::Session { what: what.into(), why };
    let b = Session::builder(&env)
        .map_err(|e| fail(e.to_string()))?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(|e| fail(e.to_string()))?;
    if threads == pool_threads() {
        return Ok(b);
    }
    b.with_independent_thread_pool()
        .map_err(|e| fail(e.to_string()))?
        .with_intra_threads(threads)
        .map_err(|e| fail(e.to_string()))?
        .with_intra_op_spinning(false)
        .map_err(|e| fail(e.to_string()))?
        .with_inter_op_spinning(false)
        .map_err(|e| fail(e.to_string()))
}

/// A session on the CPU execution provider for the model in `bytes`.
pub fn cpu_session(bytes: &[u8], what: &str, threads: usize) -> Result<Session, RuntimeError> {
    with_log(|| {
        session_builder(threads, what)?
            .commit_from_memory(bytes)
            .map_err(|e| RuntimeError::Session { what: what.into(), why: e.to_string() })
    })
}

/// A session input: an array on the host, or a value ONNX Runtime already holds (on the
/// session's device) from an earlier run.
#[derive(Clone, Copy)]
pub enum Feed<'a> {
    Host(ArrayView4<'a, f32>),
    Held(&'a Tensor<f32>),
    /// Output `.1` of model `.0`'s last run, where its session left it (on its device): one
    /// session's output made the next one's input without visiting the host (`Models`).
    Output(&'static str, usize),
}

/// Run `session` as model `spec`: `inputs` fed by the contract's names, in its order; the
/// outputs taken by name, in its order, each checked to be `[N, C, H, W]` as the contract says
/// at `h` x `w` (N: the first host input's batch), so that a model whose real outputs differ
/// from what it declares is an error here, never an index out of bounds later.
pub fn run(session: &mut Session, spec: &ModelSpec, inputs: &[Feed], h: usize, w: usize) -> Result<Vec<Array4<f32>>, String> {
    let batch = inputs.iter().find_map(|f| if let Feed::Host(a) = f { Some(a.shape()[0]) } else { None }).unwrap_or(1);
    let mut feeds: Vec<(&str, SessionInputValue)> = Vec::with_capacity(inputs.len());
    for (port, input) in spec.inputs.iter().zip(inputs) {
        let value = match input {
            Feed::Host(a) => TensorRef::from_array_view(*a).map_err(|e| e.to_string())?.into(),
            Feed::Held(v) => (*v).into(),
            Feed::Output(model, _) => return Err(format!("input '{}': the output of '{model}' is not a value this run can read", port.name)),
        };
        feeds.push((port.name, value));
    }
    let outputs = with_log(|| session.run(feeds)).map_err(|e| e.to_string())?;
    spec.outputs
        .iter()
        .map(|p| {
            let v = outputs.get(p.name).ok_or_else(|| format!("no output '{}'", p.name))?;
            let a = v.try_extract_array::<f32>().map_err(|e| format!("output '{}': {e}", p.name))?;
            if a.shape() != [batch, p.channels, h, w] {
                return Err(format!("output '{}' has shape {:?}, expected [{batch}, {}, {h}, {w}]", p.name, a.shape(), p.channels));
            }
            a.to_owned().into_dimensionality::<Ix4>().map_err(|e| e.to_string())
        })
        .collect()
}

/// `a` as a value ONNX Runtime holds: copied once to the host, then, for a session on CUDA
/// device `cuda`, to that device, where it stays for every run it is fed to. Where the device
/// copy cannot be made the host copy is returned, which ONNX Runtime uploads on each run (what
/// an array fed from the host costs anyway).
pub fn hold(a: ArrayView4<f32>, cuda: Option<i32>) -> Result<Tensor<f32>, String> {
    let host = Tensor::from_array(a.to_owned()).map_err(|e| e.to_string())?;
    Ok(match cuda {
        Some(device) => match with_log(|| host.to(AllocationDevice::CUDA, device)) {
            Ok(on_device) => on_device,
            Err(_) => host,
        },
        None => host,
    })
}
