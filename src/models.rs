//! The five models of a models folder, checked against `manifest.json` and opened in ONNX
//! Runtime on the chosen execution provider.

use std::path::{Path, PathBuf};

use ndarray::{Array4, ArrayView4};
use ort::session::Session;
use ort::value::Tensor;

use crate::contract::{MODELS, ModelSpec, REFERENCE_INPUTS, TRANSFER_PARSING, UNREAD_OUTPUTS};
use crate::glue::GLUE;
use crate::manifest::{Manifest, ManifestError};

use crate::binding::Bound;
use crate::runtime::{Feed, RuntimeError, hold, run, session_builder, with_log};

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
    #[error("{dir}: {why}")]
    Int8 { dir: PathBuf, why: String },
    #[error("CUDA execution provider (device {device}) cannot run: {why}")]
    Cuda { device: i32, why: String },
    #[error("{model}: inference failed: {why}")]
    Run { model: String, why: String },
    #[error(transparent)]
    Frame(#[from] crate::frame::GeometryError),
}

/// The provider the sessions ended up on, and why not CUDA when `auto` fell back.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderChoice {
    pub name: &'static str,
    pub fallback: Option<String>,
    /// On CUDA, the models that run without a CUDA graph, and why ONNX Runtime could not
    /// capture one.
    pub without_cuda_graph: Vec<String>,
}

pub struct Models {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub provider: ProviderChoice,
    /// The sessions opened, bound to their tensors, by contract name (a reference's front end
    /// opens only two).
    sessions: Vec<(&'static str, Bound)>,
    /// The CUDA device the sessions run on; none: the CPU.
    cuda: Option<i32>,
    /// What the runs since the last `take_runs` cost.
    runs: Runs,
    /// Every input fed since `record_inputs(true)`, by model: what the chain really hands each
    /// model (`garment-train quantize` calibrates 8-bit ranges on it).
    recorded: Option<Vec<(&'static str, Vec<Array4<f32>>)>>,
}

/// Session runs and their cost: time inside ONNX Runtime and the bytes handed in and taken out
/// (on a GPU, what crosses between host and device).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Runs {
    pub count: u64,
    pub ort: std::time::Duration,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Graph nodes the runs executed (as the files write them).
    pub nodes: u64,
    /// When the last run returned.
    pub last_end: Option<std::time::Instant>,
}

/// The folder inside a models folder that holds its 8-bit form (`garment-train quantize`).
pub const INT8_FOLDER: &str = "int8";

/// Why the 8-bit form `int8` is not of the float files `float` describes: a model quantized from
/// another file than the folder's (retrained or exported again since `quantize` ran) would run on
/// the CPU in place of the new one. `quantize` records the checksum it read; a folder without it
/// is taken as it is.
fn stale_int8(float: &Manifest, int8: &Manifest) -> Option<String> {
    MODELS.iter().find_map(|spec| {
        let from = int8.models.get(spec.name)?.training.as_ref()?.pointer("/int8_calibration/float_sha256")?.as_str()?;
        let now = &float.models.get(spec.name)?.sha256;
        (from != now).then(|| format!("{} was quantized from another {} (sha256 {from}), this folder's is {now}: run garment-train quantize again", spec.file, spec.file))
    })
}

/// The files of a models folder, read within their limits and checked against the manifest's
/// names and checksums: opened as sessions as often as needed without reading them again.
pub struct ModelFiles {
    pub dir: PathBuf,
    pub manifest: Manifest,
    bytes: Vec<(ModelSpec, Vec<u8>)>,
    /// The folder's 8-bit form, when it has one (`INT8_FOLDER`): what sessions on the CPU run,
    /// where 8-bit convolutions take about 0.7 of the float time at the same quality.
    int8: Option<Box<ModelFiles>>,
}

impl ModelFiles {
    /// The models of `dir`, and of its `int8/` folder when there is one (which must be an int8
    /// folder of the same resolution and preset).
    pub fn read(dir: &Path) -> Result<ModelFiles, ModelError> {
        let mut files = ModelFiles::read_own(dir)?;
        let int8_dir = dir.join(INT8_FOLDER);
        if int8_dir.join("manifest.json").exists() {
            let int8 = ModelFiles::read_own(&int8_dir)?;
            let (a, b) = (&files.manifest, &int8.manifest);
            let why = if b.precision != "int8" {
                Some(format!("precision is {}, expected int8 (the 8-bit form of {})", b.precision, dir.display()))
            } else if (b.width, b.height, &b.preset) != (a.width, a.height, &a.preset) {
                Some(format!("{} {}x{} models, expected {} {}x{} as in {}", b.preset, b.width, b.height, a.preset, a.width, a.height, dir.display()))
            } else {
                stale_int8(a, b)
            };
            if let Some(why) = why {
                return Err(ModelError::Int8 { dir: int8_dir, why });
            }
            files.int8 = Some(Box::new(int8));
        }
        Ok(files)
    }

    /// The models of `dir` alone, never its 8-bit form: what `dir`'s manifest describes.
    pub fn read_own(dir: &Path) -> Result<ModelFiles, ModelError> {
        if !dir.is_dir() {
            return Err(ModelError::MissingFolder(dir.to_path_buf()));
        }
        let manifest = Manifest::read(dir)?;
        manifest.check_conventions(&dir.join(crate::manifest::FILE_NAME), &|_| true)?;
        let mut bytes = Vec::with_capacity(MODELS.len());
        for spec in MODELS {
            bytes.push((spec, manifest.load_model(dir, &spec)?));
        }
        Ok(ModelFiles { dir: dir.to_path_buf(), manifest, bytes, int8: None })
    }

    /// The files sessions on `cuda` (none: the CPU) run.
    fn for_device(&self, cuda: Option<i32>) -> &ModelFiles {
        match (&self.int8, cuda) {
            (Some(int8), None) => int8,
            _ => self,
        }
    }
}

impl Models {
    /// Open the models in `dir` (on the CPU: its 8-bit form where it has one, `ModelFiles`).
    /// `threads` are ONNX Runtime's intra-op threads (CPU).
    pub fn load(dir: &Path, provider: ExecutionProvider, device_id: i32, threads: usize) -> Result<Models, ModelError> {
        Models::open(&ModelFiles::read(dir)?, &MODELS, provider, device_id, threads)
    }

    /// `load` of `dir`'s own files, never its 8-bit form: what `dir`'s manifest describes.
    pub fn load_own(dir: &Path, provider: ExecutionProvider, device_id: i32, threads: usize) -> Result<Models, ModelError> {
        Models::open(&ModelFiles::read_own(dir)?, &MODELS, provider, device_id, threads)
    }

    /// Sessions for `specs` of `files` on `provider`. Every failure to start on CUDA - the
    /// provider not registering (no driver, no device, a bad device id) or a session that cannot
    /// be created or run on it (out of memory) - is an error under `cuda` and a fallback to the
    /// CPU, with the reason, under `auto`.
    pub fn open(files: &ModelFiles, specs: &[ModelSpec], provider: ExecutionProvider, device_id: i32, threads: usize) -> Result<Models, ModelError> {
        Models::open_with(files, specs, provider, device_id, threads, true)
    }

    /// `open`; `cuda_graph`: on CUDA, capture each model in a CUDA graph where ONNX Runtime can
    /// (`ProviderChoice::without_cuda_graph` names those it cannot).
    pub fn open_with(files: &ModelFiles, specs: &[ModelSpec], provider: ExecutionProvider, device_id: i32, threads: usize, cuda_graph: bool) -> Result<Models, ModelError> {
        let on_cuda = || Models::open_on(files, specs, Some(device_id), threads, cuda_graph);
        with_log(|| match provider {
            ExecutionProvider::Cpu => Models::open_on(files, specs, None, threads, false),
            ExecutionProvider::Cuda => {
                on_cuda().map_err(|e| match e {
                    e @ ModelError::Cuda { .. } => e,
                    other => ModelError::Cuda { device: device_id, why: other.to_string() },
                })
            }
            ExecutionProvider::Auto => match on_cuda() {
                Ok(models) => Ok(models),
                Err(on_cuda) => {
                    // When the CPU fails too, the fault is the model's: report the CPU's error.
                    let mut models = Models::open_on(files, specs, None, threads, false)?;
                    models.provider.fallback = Some(on_cuda.to_string());
                    Ok(models)
                }
            },
        })
    }

    fn open_on(files: &ModelFiles, specs: &[ModelSpec], cuda: Option<i32>, threads: usize, cuda_graph: bool) -> Result<Models, ModelError> {
        let files = files.for_device(cuda);
        let mut sessions = Vec::with_capacity(specs.len() + GLUE.len());
        let mut without_cuda_graph = Vec::new();
        // The glue graphs go with the transfer parsing, whose inputs they make.
        let glue = if specs.contains(&TRANSFER_PARSING) { &GLUE[..] } else { &[] };
        let (h, w) = (files.manifest.height, files.manifest.width);
        for spec in specs.iter().chain(glue) {
            let bytes = match files.bytes.iter().find(|(s, _)| s.name == spec.name) {
                Some((_, bytes)) => std::borrow::Cow::Borrowed(bytes.as_slice()),
                None if GLUE.contains(spec) => std::borrow::Cow::Owned(crate::glue::model(spec, h, w)),
                None => return Err(ModelError::Run { model: spec.name.into(), why: "not a model of the contract".into() }),
            };
            let bytes = bytes.as_ref();
            let (plain, expected) = open_session(files, spec, bytes, cuda, threads)?;
            let bound = match cuda {
                // A CUDA graph where ONNX Runtime can capture one (every node on CUDA, no
                // allocation while capturing) and its replays give what the plain session
                // gives; the plain session otherwise.
                Some(device) if cuda_graph => match open_graph_session(files, spec, bytes, device, threads, &expected) {
                    Ok(graph) => graph,
                    Err(why) => {
                        without_cuda_graph.push(format!("{}: {why}", spec.file));
                        plain
                    }
                },
                _ => plain,
            };
            sessions.push((spec.name, bound));
        }
        let name = if cuda.is_some() { "CUDA" } else { "CPU" };
        Ok(Models {
            dir: files.dir.clone(),
            manifest: files.manifest.clone(),
            provider: ProviderChoice { name, fallback: None, without_cuda_graph },
            sessions,
            cuda,
            runs: Runs::default(),
            recorded: None,
        })
    }

    /// Split into the sessions of `specs` and the rest (the halves of a chain that keeps two
    /// frames in flight run on two threads).
    pub fn split(self, specs: &[ModelSpec]) -> (Models, Models) {
        let (these, rest) = self.sessions.into_iter().partition(|(name, _)| specs.iter().any(|s| s.name == *name));
        let half = |sessions| Models {
            dir: self.dir.clone(),
            manifest: self.manifest.clone(),
            provider: self.provider.clone(),
            sessions,
            cuda: self.cuda,
            runs: Runs::default(),
            recorded: None,
        };
        (half(these), half(rest))
    }

    /// The sessions of both, in one (the inverse of `split`).
    pub fn join(mut self, other: Models) -> Models {
        self.sessions.extend(other.sessions);
        self
    }

    /// The CUDA device the sessions run on; none: the CPU.
    pub fn cuda_device(&self) -> Option<i32> {
        self.cuda
    }

    /// Model resolution (height, width).
    pub fn resolution(&self) -> (usize, usize) {
        (self.manifest.height, self.manifest.width)
    }

    /// Run model `spec` on `inputs` (in the contract's order); outputs in the contract's order.
    pub fn run(&mut self, spec: &ModelSpec, inputs: &[ArrayView4<f32>]) -> Result<Vec<Array4<f32>>, ModelError> {
        let feeds: Vec<Feed> = inputs.iter().map(|a| Feed::Host(*a)).collect();
        self.run_fed(spec, &feeds, None)
    }

    /// `run` on a frame dressed in the reference whose `Reference::id` is `reference`, on feeds
    /// some of which the sessions may hold already (`hold`): the inputs `REFERENCE_INPUTS`
    /// names are written to the session's bound tensors at the reference's first frame and kept
    /// there for the next ones (those of `inputs` are then not read). The outputs `UNREAD_OUTPUTS` names are not
    /// fetched: the rest come back, in the contract's order.
    pub fn run_with_reference(&mut self, spec: &ModelSpec, inputs: &[Feed], reference: u64) -> Result<Vec<Array4<f32>>, ModelError> {
        self.run_fed(spec, inputs, Some(reference))
    }

    /// `a` as a value the sessions hold (on CUDA: on the device), to feed to several runs while
    /// handing it over once.
    pub fn hold(&mut self, a: ArrayView4<f32>) -> Result<Tensor<f32>, ModelError> {
        let value = hold(a, self.cuda).map_err(|why| ModelError::Run { model: "hold".into(), why })?;
        self.runs.bytes_in += (a.len() * std::mem::size_of::<f32>()) as u64;
        Ok(value)
    }

    /// `run` on feeds some of which other sessions hold (`Feed::Output`), fetching nothing:
    /// the outputs stay where the session left them, for the next model (`Feed::Output`) or
    /// for `keep`.
    pub fn run_on_device(&mut self, spec: &ModelSpec, inputs: &[Feed]) -> Result<(), ModelError> {
        self.run_inner(spec, inputs, None, false).map(drop)
    }

    /// A copy of output `output` of model `spec`'s last run, on the sessions' device, that the
    /// next runs leave as it is: fed to later runs as `Feed::Held`.
    pub fn keep(&mut self, spec: &ModelSpec, output: usize) -> Result<Tensor<f32>, ModelError> {
        let fail = |why: String| ModelError::Run { model: spec.file.into(), why };
        let (_, bound) = self.sessions.iter_mut().find(|(n, _)| *n == spec.name).ok_or_else(|| fail("not opened".into()))?;
        bound.copy_of_output(output).map_err(fail)
    }

    fn run_fed(&mut self, spec: &ModelSpec, inputs: &[Feed], reference: Option<u64>) -> Result<Vec<Array4<f32>>, ModelError> {
        self.run_inner(spec, inputs, reference, true)
    }

    fn run_inner(&mut self, spec: &ModelSpec, inputs: &[Feed], reference: Option<u64>, fetch: bool) -> Result<Vec<Array4<f32>>, ModelError> {
        let fail = |why: String| ModelError::Run { model: spec.file.into(), why };
        let start = std::time::Instant::now();
        if inputs.len() != spec.inputs.len() {
            return Err(fail(format!("{} inputs fed, the model takes {}", inputs.len(), spec.inputs.len())));
        }
        let at = self.sessions.iter().position(|(n, _)| *n == spec.name).ok_or_else(|| fail("not opened".into()))?;
        // Out of the list while it runs, so that the sessions whose outputs it reads can be read.
        let (name, mut bound) = self.sessions.remove(at);
        let ran = self.run_bound(&mut bound, spec, inputs, reference, fetch);
        self.sessions.insert(at, (name, bound));
        let (outputs, bytes_in, nodes) = ran.map_err(fail)?;
        let end = std::time::Instant::now();
        self.runs.count += 1;
        self.runs.nodes += nodes as u64;
        self.runs.ort += end - start;
        self.runs.bytes_in += bytes_in;
        self.runs.bytes_out += outputs.iter().map(|a| (a.len() * std::mem::size_of::<f32>()) as u64).sum::<u64>();
        self.runs.last_end = Some(end);
        Ok(outputs)
    }

    /// Write `inputs` into `bound` (taken out of `sessions`), run it and fetch its outputs;
    /// with them the bytes handed in and the nodes run.
    fn run_bound(&mut self, bound: &mut Bound, spec: &ModelSpec, inputs: &[Feed], reference: Option<u64>, fetch: bool) -> Result<(Vec<Array4<f32>>, u64, usize), String> {
        // Another session's output, as the value it holds.
        let sessions = &self.sessions;
        let resolve = |feed: &Feed<'_>| -> Result<Option<&Tensor<f32>>, String> {
            let Feed::Output(model, k) = *feed else { return Ok(None) };
            let (_, from) = sessions.iter().find(|(n, _)| *n == model).ok_or_else(|| format!("'{model}', whose output is fed, is not opened"))?;
            from.output_value(k).map(Some)
        };
        if let Some(recorded) = &mut self.recorded
            && !GLUE.contains(spec)
        {
            let mut copies = Vec::with_capacity(inputs.len());
            for feed in inputs {
                copies.push(match resolve(feed)? {
                    Some(value) => owned(&Feed::Held(value))?,
                    None => owned(feed)?,
                });
            }
            recorded.push((spec.name, copies));
        }
        let mut bytes_in = 0;
        // A reference's inputs are written at its first frame and kept for the next ones.
        for (i, (port, input)) in spec.inputs.iter().zip(inputs).enumerate() {
            let of_reference = reference.filter(|_| REFERENCE_INPUTS.contains(&(spec.name, port.name)));
            if of_reference.is_some_and(|id| bound.holds(i, id)) {
                continue;
            }
            bytes_in += match resolve(input)? {
                Some(value) => bound.write(i, &Feed::Held(value), None)?,
                None => bound.write(i, input, of_reference)?,
            };
        }
        bound.run()?;
        let unread: Vec<&str> =
            if reference.is_some() { UNREAD_OUTPUTS.iter().filter(|(m, _)| *m == spec.name).map(|(_, p)| *p).collect() } else { vec![] };
        let outputs = if fetch {
            spec.outputs.iter().enumerate().filter(|(_, p)| !unread.contains(&p.name)).map(|(i, _)| bound.output(i)).collect::<Result<Vec<_>, _>>()?
        } else {
            Vec::new()
        };
        Ok((outputs, bytes_in, bound.nodes))
    }

    /// Keep a copy of every input fed from now on (`take_recorded`), or stop.
    pub fn record_inputs(&mut self, on: bool) {
        self.recorded = on.then(Vec::new);
    }

    /// The inputs fed since the last call, by model, in the contract's order.
    pub fn take_recorded(&mut self) -> Vec<(&'static str, Vec<Array4<f32>>)> {
        self.recorded.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// The runs since the last call, and start counting afresh.
    pub fn take_runs(&mut self) -> Runs {
        std::mem::take(&mut self.runs)
    }
}

/// A copy of a feed on the host (a held value must be on the host: calibration runs on the CPU).
fn owned(feed: &Feed) -> Result<Array4<f32>, String> {
    match feed {
        Feed::Host(a) => Ok(a.to_owned()),
        Feed::Held(v) => {
            let a = v.try_extract_array::<f32>().map_err(|e| e.to_string())?;
            a.to_owned().into_dimensionality().map_err(|e| e.to_string())
        }
        Feed::Output(model, _) => Err(format!("the output of '{model}' is not on the host")),
    }
}

/// The CUDA execution provider as the element uses it. The shapes never change (batch 1, the
/// manifest's resolution), so cuDNN's exhaustive algorithm search runs once, on the probe run at
/// load, and may use as much workspace as it likes; the arena grows by what is asked, not by
/// powers of two, so a 24/7 pipeline holds what it needs and no more; convolutions may use TF32
/// on GPUs that have it (about 1e-3 relative error, below what 8-bit output shows).
fn cuda_provider(device: i32) -> ort::ep::CUDA {
    use ort::ep::ArenaExtendStrategy;
    use ort::ep::cuda::ConvAlgorithmSearch;
    ort::ep::CUDA::default()
        .with_device_id(device)
        .with_conv_algorithm_search(ConvAlgorithmSearch::Exhaustive)
        .with_conv_max_workspace(true)
        .with_arena_extend_strategy(ArenaExtendStrategy::SameAsRequested)
        .with_tf32(true)
}

/// Open the session of model `spec` (`bytes` of `files`) on `cuda` (none: the CPU), check it
/// against the contract, run it once plainly on a constant frame (`probe`), bind its tensors
/// and run it through them on the same frame, which must give the same outputs. Returns the
/// bound session and those outputs.
fn open_session(files: &ModelFiles, spec: &ModelSpec, bytes: &[u8], cuda: Option<i32>, threads: usize) -> Result<(Bound, Vec<Array4<f32>>), ModelError> {
    let file = files.dir.join(spec.file);
    let mut session = new_session(files, spec, bytes, cuda, threads, false)?;
    let input = probe_input(spec, &files.manifest);
    let plain = probe(&mut session, spec, &files.manifest, &file, &input)?;
    let mut bound = bind(session, spec, &files.manifest, &file, cuda, nodes(bytes))?;
    let through_binding = run_bound(&mut bound, spec, &file, &input)?;
    same_outputs(&plain, &through_binding, &file, "through its bound tensors")?;
    Ok((bound, plain))
}

/// The session of model `spec` on CUDA `device` in a CUDA graph, whose replays must give
/// `expected`, what the plain session gave on the probe frame. It never runs unbound: ONNX
/// Runtime's first run of a session makes its warm-up runs and captures the graph within it,
/// and a graph captured in a plain run reads and writes that run's own buffers, gone by the
/// next one, so the bound tensors are never written. That is what an H200 showed (ONNX Runtime
/// 1.31.1) when the plain probe ran first on the graph's own session: the parser's logits read
/// back as zeros.
fn open_graph_session(files: &ModelFiles, spec: &ModelSpec, bytes: &[u8], device: i32, threads: usize, expected: &[Array4<f32>]) -> Result<Bound, ModelError> {
    let file = files.dir.join(spec.file);
    let session = new_session(files, spec, bytes, Some(device), threads, true)?;
    let mut bound = bind(session, spec, &files.manifest, &file, Some(device), nodes(bytes))?;
    let input = probe_input(spec, &files.manifest);
    // The first bound run captures the graph (and replays it), the second replays it: a model
    // that cannot be captured or replayed fails here, at start, not on the first frame.
    run_bound(&mut bound, spec, &file, &input)?;
    let replayed = run_bound(&mut bound, spec, &file, &input)?;
    same_outputs(expected, &replayed, &file, "in a CUDA graph")?;
    Ok(bound)
}

/// A session of `spec`, checked against the contract: batch fixed at one, on `cuda` (none:
/// the CPU), `cuda_graph`: asking ONNX Runtime to capture it in a CUDA graph.
fn new_session(files: &ModelFiles, spec: &ModelSpec, bytes: &[u8], cuda: Option<i32>, threads: usize, cuda_graph: bool) -> Result<Session, ModelError> {
    let file = files.dir.join(spec.file);
    // The element runs one frame at a time: the exporter's dynamic batch axis ("N") is fixed at
    // one, so every shape in the graph is static (what CUDA graphs need).
    let mut b = session_builder(threads, spec.file)?
        .with_dimension_override("N", 1)
        .map_err(|e| ModelError::Contract { file: file.clone(), why: e.to_string() })?;
    if let Some(device) = cuda {
        let ep = cuda_provider(device).with_cuda_graph(cuda_graph).build().error_on_failure();
        b = b.with_execution_providers([ep]).map_err(|e| ModelError::Cuda { device, why: e.to_string() })?;
    }
    let session =
        b.commit_from_memory(bytes).map_err(|e| ModelError::Contract { file: file.clone(), why: format!("ONNX Runtime cannot load it: {e}") })?;
    check_session(&session, spec, &files.manifest, &file)?;
    Ok(session)
}

/// A session for one of the element's own graphs (`composite_graph`) on `cuda` (none: the CPU),
/// in the process-wide pool: shapes may change from frame to frame, so no CUDA graph.
pub fn graph_session(bytes: &[u8], what: &str, cuda: Option<i32>) -> Result<Session, ModelError> {
    with_log(|| {
        let mut b = session_builder(crate::runtime::pool_threads(), what)?;
        if let Some(device) = cuda {
            let ep = cuda_provider(device).build().error_on_failure();
            b = b.with_execution_providers([ep]).map_err(|e| ModelError::Cuda { device, why: e.to_string() })?;
        }
        b.commit_from_memory(bytes).map_err(|e| ModelError::Run { model: what.into(), why: format!("ONNX Runtime cannot load it: {e}") })
    })
}

/// Nodes of the graph in `bytes` (ONNX Runtime loaded it: it decodes).
fn nodes(bytes: &[u8]) -> usize {
    crate::proto::node_count(bytes).unwrap_or(0)
}

fn bind(session: Session, spec: &ModelSpec, manifest: &Manifest, file: &Path, cuda: Option<i32>, nodes: usize) -> Result<Bound, ModelError> {
    Bound::new(session, spec, manifest.height, manifest.width, cuda, nodes)
        .map_err(|why| ModelError::Contract { file: file.to_path_buf(), why: format!("binding its tensors: {why}") })
}

/// The start-up frame: every input of `spec` at the manifest's resolution, holding PROBE_VALUE.
fn probe_input(spec: &ModelSpec, manifest: &Manifest) -> Vec<Array4<f32>> {
    spec.inputs.iter().map(|p| Array4::from_elem((1, p.channels, manifest.height, manifest.width), PROBE_VALUE)).collect()
}

/// Run `bound` once on `input` through its tensors, as every frame will; its outputs.
fn run_bound(bound: &mut Bound, spec: &ModelSpec, file: &Path, input: &[Array4<f32>]) -> Result<Vec<Array4<f32>>, ModelError> {
    let written = input.iter().enumerate().try_for_each(|(i, a)| bound.write(i, &Feed::Host(a.view()), None).map(drop)).and_then(|()| bound.run());
    let outputs = written.and_then(|()| (0..spec.outputs.len()).map(|i| bound.output(i)).collect::<Result<Vec<_>, _>>());
    outputs.map_err(|why| ModelError::Contract { file: file.to_path_buf(), why: format!("run once through its bound tensors: {why}") })
}

/// `got` (the model run `how`) must be `expected` (a plain run of the same input) within
/// BOUND_TOLERANCE of the largest output.
fn same_outputs(expected: &[Array4<f32>], got: &[Array4<f32>], file: &Path, how: &str) -> Result<(), ModelError> {
    let (mut largest, mut off) = (0f32, 0f32);
    for (a, b) in expected.iter().zip(got).flat_map(|(a, b)| a.iter().zip(b.iter())) {
        largest = largest.max(a.abs());
        // NaN on one side only is as far as can be.
        off = off.max(match (a.is_nan(), b.is_nan()) {
            (false, false) => (a - b).abs(),
            (true, true) => 0.0,
            _ => f32::INFINITY,
        });
    }
    if off > BOUND_TOLERANCE * (1.0 + largest) {
        return Err(ModelError::Contract {
            file: file.to_path_buf(),
            why: format!("run {how} it gives outputs up to {off:.3e} away from a plain run of the same input (largest value {largest:.3e}; at most {BOUND_TOLERANCE:e} of it allowed)"),
        });
    }
    Ok(())
}

/// Every input of the start-up runs holds this value: not zero, so that outputs left unwritten
/// (zeros) differ from computed ones.
const PROBE_VALUE: f32 = 0.5;
/// How far the bound run's outputs may be from the plain run's, relative to the largest output:
/// the same session and kernels, so only the order of a parallel sum may differ.
const BOUND_TOLERANCE: f32 = 1e-3;

/// Run the model once on `input` (a constant frame), plainly, and check what really comes out,
/// which it returns: a model may declare the contract's shapes and produce others (ONNX Runtime
/// only warns), or need a batch it does not declare. Found here, at start, it is an error
/// naming the file and the tensor.
fn probe(session: &mut Session, spec: &ModelSpec, manifest: &Manifest, file: &Path, input: &[Array4<f32>]) -> Result<Vec<Array4<f32>>, ModelError> {
    let (h, w) = (manifest.height, manifest.width);
    let feeds: Vec<Feed> = input.iter().map(|a| Feed::Host(a.view())).collect();
    run(session, spec, &feeds, h, w).map_err(|why| ModelError::Contract { file: file.to_path_buf(), why: format!("run once on a constant frame: {why}") })
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
            let ty = o.dtype().tensor_type();
            if ty != Some(ort::value::TensorElementType::Float32) {
                return Err(contract(format!("{kind} '{}' is {ty:?}, expected float32", p.name)));
            }
            let shape: Vec<i64> = o.dtype().tensor_shape().map(|s| s.iter().copied().collect()).unwrap_or_default();
            // The batch axis is dynamic (-1) or one.
            let ok = shape.len() == 4 && (shape[0] == -1 || shape[0] == 1) && shape[1] == p.channels as i64 && shape[2] == h && shape[3] == w;
            if !ok {
                return Err(contract(format!("{kind} '{}' has shape {shape:?}, expected [N or 1, {}, {h}, {w}]", p.name, p.channels)));
            }
        }
    }
    Ok(())
}
