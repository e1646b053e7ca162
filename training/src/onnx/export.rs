//! Exporting the five inference networks of the contract, and the manifest beside them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::Device;
use gstgarmenttransfer::contract::{self, IR_VERSION, ModelSpec, OPSET};
use gstgarmenttransfer::manifest::{Conventions, Manifest, ModelEntry, sha256_hex, tensor_entries};
use prost::Message;

use super::proto::{
    Dimension, GraphProto, ModelProto, OperatorSetIdProto, TensorShapeProto, TypeProto, TypeProtoTensor, ValueInfoProto,
    data_type, dimension,
};
use super::fp16::{Precision, to_fp16};
use super::trace::{CorrelationForm, TraceError, Tracer, Value};
use crate::nn::Preset;
use crate::nn::network::Network;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{model}: {source}")]
    Trace { model: String, source: TraceError },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Manifest(#[from] gstgarmenttransfer::manifest::ManifestError),
}

/// One exported network.
pub struct Exported {
    pub spec: ModelSpec,
    pub model: ModelProto,
    pub macs: u64,
    /// The weight initializers in the order written, with the parameters they hold.
    pub params: Vec<(String, burn::module::ParamId)>,
}

impl Exported {
    pub fn bytes(&self) -> Vec<u8> {
        self.model.encode_to_vec()
    }
}

fn value_info(name: &str, channels: usize, h: usize, w: usize) -> ValueInfoProto {
    let dim = |v: dimension::Value| Dimension { value: Some(v) };
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TypeProtoTensor {
                elem_type: data_type::FLOAT,
                shape: Some(TensorShapeProto {
                    dim: vec![
                        dim(dimension::Value::DimParam("N".into())),
                        dim(dimension::Value::DimValue(channels as i64)),
                        dim(dimension::Value::DimValue(h as i64)),
                        dim(dimension::Value::DimValue(w as i64)),
                    ],
                }),
            }),
        }),
    }
}

/// Trace `forward` over the inputs of `spec` at `h` x `w` into a model with the contract's
/// tensor names and a dynamic batch axis.
pub fn trace(spec: ModelSpec, h: usize, w: usize, forward: impl FnOnce(&mut Tracer, &[Value]) -> Vec<Value>) -> Result<Exported, ExportError> {
    trace_with(Tracer::new(), spec, h, w, forward)
}

/// `trace` with a tracer set up by the caller (the older correlation form, say).
pub fn trace_with(
    mut t: Tracer,
    spec: ModelSpec,
    h: usize,
    w: usize,
    forward: impl FnOnce(&mut Tracer, &[Value]) -> Vec<Value>,
) -> Result<Exported, ExportError> {
    let inputs: Vec<Value> = spec.inputs.iter().map(|p| t.input(p.name, p.channels, h, w)).collect();
    let outputs = forward(&mut t, &inputs);
    for (out, port) in outputs.iter().zip(spec.outputs) {
        t.rename(out, port.name);
    }
    if let Some(source) = t.error.take() {
        return Err(ExportError::Trace { model: spec.name.into(), source });
    }
    let params = std::mem::take(&mut t.params);
    let graph = GraphProto {
        node: t.nodes,
        name: spec.name.into(),
        initializer: t.initializers,
        doc_string: String::new(),
        input: spec.inputs.iter().map(|p| value_info(p.name, p.channels, h, w)).collect(),
        output: spec.outputs.iter().map(|p| value_info(p.name, p.channels, h, w)).collect(),
    };
    let model = ModelProto {
        ir_version: IR_VERSION,
        producer_name: "garment-training".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        domain: "garmenttransfer".into(),
        model_version: 1,
        doc_string: format!("{} of the garmenttransfer element", spec.name),
        graph: Some(graph),
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET }],
        metadata_props: vec![],
    };
    Ok(Exported { spec, model, macs: t.macs, params })
}

/// Trace `net` at `h` x `w`.
pub fn export(net: &Network, h: usize, w: usize) -> Result<Exported, ExportError> {
    trace(net.spec(), h, w, |t, inputs| net.forward(t, inputs))
}

/// Trace `net` with its correlations written in `form` (an older form measures the default
/// against it on the same weights).
pub fn export_with_correlations(net: &Network, h: usize, w: usize, form: CorrelationForm) -> Result<Exported, ExportError> {
    let mut t = Tracer::new();
    t.correlations = form;
    trace_with(t, net.spec(), h, w, |t, inputs| net.forward(t, inputs))
}

/// The five networks the element runs, in the contract's order.
pub struct InferenceNets {
    pub nets: Vec<Network>,
}

impl InferenceNets {
    /// Freshly initialised (random) networks of `preset`.
    pub fn untrained(preset: Preset, device: &Device) -> InferenceNets {
        let nets = contract::MODELS.iter().filter_map(|spec| Network::new(spec.name, preset, device)).collect();
        InferenceNets { nets }
    }
}

/// Export the five networks into `dir` at `h` x `w`, computing in `precision`, and write
/// `manifest.json`. `training` is the provenance per model (`None`: untrained).
pub fn export_models(
    nets: &InferenceNets,
    preset: Preset,
    precision: Precision,
    h: usize,
    w: usize,
    dir: &Path,
    training: Option<&BTreeMap<String, serde_json::Value>>,
) -> Result<Manifest, ExportError> {
    std::fs::create_dir_all(dir).map_err(|source| ExportError::Io { path: dir.to_path_buf(), source })?;
    let mut models = BTreeMap::new();
    for net in &nets.nets {
        let spec = net.spec();
        let mut exported = export(net, h, w)?;
        if precision == Precision::Fp16 {
            to_fp16(&mut exported.model);
        }
        let bytes = exported.bytes();
        let path = dir.join(spec.file);
        std::fs::write(&path, &bytes).map_err(|source| ExportError::Io { path: path.clone(), source })?;
        models.insert(
            spec.name.to_string(),
            ModelEntry {
                file: spec.file.into(),
                sha256: sha256_hex(&bytes),
                inputs: tensor_entries(spec.inputs, h, w),
                outputs: tensor_entries(spec.outputs, h, w),
                architecture: net.architecture().into(),
                params: net.num_params() as u64,
                gmacs: exported.macs as f64 / 1e9,
                training: training.and_then(|t| t.get(spec.name).cloned()),
            },
        );
    }
    let manifest = Manifest {
        format: 1,
        height: h,
        width: w,
        ir_version: IR_VERSION,
        opset: OPSET,
        preset: preset.name().into(),
        precision: precision.name().into(),
        untrained: training.is_none_or(|t| t.len() < contract::MODELS.len()),
        conventions: Conventions::default(),
        models,
        evaluation: None,
    };
    manifest.write(dir)?;
    Ok(manifest)
}

