//! A session run through ONNX Runtime's IO binding: its inputs and outputs are tensors it
//! allocates once, on the session's device, and keeps.
//!
//! A frame writes its own inputs into them and reads the outputs it wants back; a reference's
//! inputs are written when the reference changes and stay there for its next frames; nothing is
//! allocated per run. On CUDA every run sees the same device addresses, which is what lets ONNX
//! Runtime capture a model's kernels in a CUDA graph once and replay them on each frame (one
//! launch instead of one per node: at 120 fps the launches of ~1,300 nodes alone would take
//! most of a frame). On the CPU the bound tensors are host memory: a frame's inputs are
//! written into them directly, the outputs read from them directly.

use ndarray::{Array4, ArrayView4, Ix4};
use ort::memory::{AllocationDevice, Allocator, AllocatorType, MemoryInfo, MemoryType};
use ort::session::{IoBinding, Session};
use ort::value::Tensor;

use crate::contract::ModelSpec;
use crate::runtime::{Feed, with_log};

/// One bound tensor per input and output of a model, and on CUDA a host copy of each to stage
/// what crosses.
pub struct Bound {
    session: Session,
    binding: IoBinding,
    inputs: Vec<Tensor<f32>>,
    outputs: Vec<Tensor<f32>>,
    /// On CUDA: the host side of each input and output (on the CPU the bound tensors are host
    /// memory already).
    staging: Option<(Vec<Tensor<f32>>, Vec<Tensor<f32>>)>,
    /// The reference whose data each input holds (`write(.., Some(id))`): not written again
    /// while the reference stays.
    holds: Vec<Option<u64>>,
    /// The CUDA device the tensors are on; none: the CPU.
    cuda: Option<i32>,
    /// Nodes of the model's graph, as written (what a run executes, before ONNX Runtime fuses).
    pub nodes: usize,
}

fn shape(channels: usize, h: usize, w: usize) -> [usize; 4] {
    [1, channels, h, w]
}

impl Bound {
    /// Bind every input and output of `session` (model `spec`, batch 1 at `h` x `w`) to tensors
    /// on CUDA device `cuda` (none: the CPU).
    pub fn new(session: Session, spec: &ModelSpec, h: usize, w: usize, cuda: Option<i32>, nodes: usize) -> Result<Bound, String> {
        let e = |e: ort::Error| e.to_string();
        let host = Allocator::default();
        let on_device = match cuda {
            Some(device) => Some(Allocator::new(&session, MemoryInfo::new(AllocationDevice::CUDA, device, AllocatorType::Device, MemoryType::Default).map_err(e)?).map_err(e)?),
            None => None,
        };
        let alloc = |channels: usize, allocator: &Allocator| Tensor::<f32>::new(allocator, shape(channels, h, w)).map_err(e);
        let device = on_device.as_ref().unwrap_or(&host);
        let inputs = spec.inputs.iter().map(|p| alloc(p.channels, device)).collect::<Result<Vec<_>, _>>()?;
        let outputs = spec.outputs.iter().map(|p| alloc(p.channels, device)).collect::<Result<Vec<_>, _>>()?;
        let staging = match cuda {
            Some(_) => Some((
                spec.inputs.iter().map(|p| alloc(p.channels, &host)).collect::<Result<Vec<_>, _>>()?,
                spec.outputs.iter().map(|p| alloc(p.channels, &host)).collect::<Result<Vec<_>, _>>()?,
            )),
            None => None,
        };
        let mut binding = session.create_binding().map_err(e)?;
        for (p, t) in spec.inputs.iter().zip(&inputs) {
            binding.bind_input(p.name, t).map_err(|err| format!("bind input '{}': {err}", p.name))?;
        }
        let mut outputs = outputs;
        for (p, t) in spec.outputs.iter().zip(outputs.iter_mut()) {
            binding.bind_output(p.name, t).map_err(|err| format!("bind output '{}': {err}", p.name))?;
        }
        let holds = vec![None; inputs.len()];
        Ok(Bound { session, binding, inputs, outputs, staging, holds, cuda, nodes })
    }

    /// Whether input `i` holds reference `id`'s data already.
    pub fn holds(&self, i: usize, id: u64) -> bool {
        self.holds[i] == Some(id)
    }

    /// Write `feed` into input `i`; `reference`: it is that reference's data, kept until
    /// another write. Returns the bytes that crossed from the host (none for a held value).
    pub fn write(&mut self, i: usize, feed: &Feed, reference: Option<u64>) -> Result<u64, String> {
        let e = |e: ort::Error| e.to_string();
        let target = self.inputs.get_mut(i).ok_or_else(|| format!("no input {i}"))?;
        // A write that fails half way holds no reference's data.
        self.holds[i] = None;
        let from_host = |a: ArrayView4<f32>, into: &mut Tensor<f32>| -> Result<u64, String> {
            let (shape, data) = into.try_extract_tensor_mut().map_err(e)?;
            if shape.iter().map(|&d| d as usize).ne(a.shape().iter().copied()) {
                return Err(format!("input {i} has shape {:?}, the model takes {shape:?}", a.shape()));
            }
            match a.as_slice() {
                Some(contiguous) => data.copy_from_slice(contiguous),
                None => data.iter_mut().zip(a.iter()).for_each(|(d, v)| *d = *v),
            }
            Ok((a.len() * std::mem::size_of::<f32>()) as u64)
        };
        let bytes = match (&mut self.staging, feed) {
            (None, Feed::Host(a)) => from_host(*a, target)?,
            (_, Feed::Output(model, _)) => return Err(format!("input {i}: the output of '{model}' must be handed over as the value it is")),
            (None, Feed::Held(v)) => {
                // A held value of a CPU session is host memory.
                let a = v.try_extract_array::<f32>().map_err(e)?;
                from_host(a.into_dimensionality::<Ix4>().map_err(|e| e.to_string())?, target)?;
                0
            }
            (Some((staged, _)), Feed::Host(a)) => {
                let bytes = from_host(*a, &mut staged[i])?;
                with_log(|| staged[i].copy_into(&mut *target)).map_err(e)?;
                bytes
            }
            (Some(_), Feed::Held(v)) => {
                // Device to device: the value stays where the session runs.
                with_log(|| v.copy_into(&mut *target)).map_err(e)?;
                0
            }
        };
        self.holds[i] = reference;
        Ok(bytes)
    }

    /// Run the model on what its inputs hold.
    pub fn run(&mut self) -> Result<(), String> {
        // No synchronisation needed around it: the copies in (`write`) and out (`output`) are
        // ONNX Runtime runs that wait for their stream, and a run waits for its own.
        with_log(|| self.session.run_binding(&self.binding).map(drop)).map_err(|e| e.to_string())
    }

    /// Output `i` of the last run where the session left it (on its device), to feed to another
    /// session (`Feed::Held`).
    pub fn output_value(&self, i: usize) -> Result<&Tensor<f32>, String> {
        self.outputs.get(i).ok_or_else(|| format!("no output {i}"))
    }

    /// A copy of output `i` of the last run that the session's next run does not overwrite, on
    /// the same device: what a frame hands from one half of the chain to the other.
    pub fn copy_of_output(&mut self, i: usize) -> Result<Tensor<f32>, String> {
        let e = |e: ort::Error| e.to_string();
        match self.cuda {
            None => Tensor::from_array(self.output(i)?).map_err(e),
            Some(device) => {
                let out = self.output_value(i)?;
                let allocator = Allocator::new(&self.session, MemoryInfo::new(AllocationDevice::CUDA, device, AllocatorType::Device, MemoryType::Default).map_err(e)?)
                    .map_err(e)?;
                let shape: Vec<usize> = out.shape().iter().map(|&d| d as usize).collect();
                let mut copy = Tensor::<f32>::new(&allocator, shape).map_err(e)?;
                with_log(|| out.copy_into(&mut copy)).map_err(e)?;
                Ok(copy)
            }
        }
    }

    /// Output `i` of the last run, on the host.
    pub fn output(&mut self, i: usize) -> Result<Array4<f32>, String> {
        let e = |e: ort::Error| e.to_string();
        let out = self.outputs.get(i).ok_or_else(|| format!("no output {i}"))?;
        let host = match &mut self.staging {
            None => out,
            Some((_, staged)) => {
                with_log(|| out.copy_into(&mut staged[i])).map_err(e)?;
                &staged[i]
            }
        };
        let (shape, data) = host.try_extract_tensor::<f32>().map_err(e)?;
        let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
        Array4::from_shape_vec((dims[0], dims[1], dims[2], dims[3]), data.to_vec()).map_err(|e| e.to_string())
    }
}
