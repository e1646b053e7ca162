//! Reading the weights of an exported models folder back into the networks, so that a folder
//! this exporter wrote can be written again - in a newer graph form, at another resolution -
//! without the training run it came from.
//!
//! The tracer writes weight initializers in the order the forward pass meets convolutions and
//! batch norms, with fixed name prefixes; the same architecture traced again meets them in the
//! same order. Weights are matched by that order, and every shape must agree.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::tensor::{Tensor, TensorData};
use gstgarmenttransfer::manifest::Manifest;
use prost::Message;

use super::export::{ExportError, InferenceNets, export};
use super::proto::{ModelProto, data_type};
use crate::nn::Preset;

/// Name prefixes of the initializers that hold weights (the rest are constants of the graph).
const WEIGHT_PREFIXES: [&str; 6] = [
    "conv_weight_",
    "conv_bias_",
    "bn_scale_",
    "bn_bias_",
    "bn_mean_",
    "bn_var_",
];

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Manifest(#[from] gstgarmenttransfer::manifest::ManifestError),
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error("{file}: {why}")]
    Mismatch { file: PathBuf, why: String },
}

/// The networks of the preset named in `dir`'s manifest, holding the weights of `dir`'s files
/// (each checked against the manifest's checksum first).
/// The training provenance a models folder's manifest records, per network that has one.
pub fn provenance(manifest: &Manifest) -> std::collections::BTreeMap<String, serde_json::Value> {
    manifest.models.iter().filter_map(|(name, e)| e.training.clone().map(|t| (name.clone(), t))).collect()
}

pub fn load(
    dir: &Path,
    device: &burn::tensor::Device,
) -> Result<(InferenceNets, Preset, Manifest), ImportError> {
    load_except(dir, device, &|_| false)
}

/// `load`, leaving the networks `replaced` names untrained and their files unread: a run about to
/// replace them may have trained another width of them.
pub fn load_except(
    dir: &Path,
    device: &burn::tensor::Device,
    replaced: &dyn Fn(&str) -> bool,
) -> Result<(InferenceNets, Preset, Manifest), ImportError> {
    let manifest = Manifest::read(dir)?;
    manifest.check_conventions(&dir.join("manifest.json"), &|name| !replaced(name))?;
    let preset = <Preset as clap::ValueEnum>::from_str(&manifest.preset, true).map_err(|_| ImportError::Mismatch {
        file: dir.join("manifest.json"),
        why: format!("preset '{}' is not one of this exporter's", manifest.preset),
    })?;
    // Half-precision weights lost what training found; the fp32 folder they came from has it.
    if manifest.precision != "fp32" {
        return Err(ImportError::Mismatch {
            file: dir.join("manifest.json"),
            why: format!("the weights are {}; read them from the fp32 folder they were exported from", manifest.precision),
        });
    }
    let untrained = InferenceNets::untrained(preset, device);
    let mut nets = Vec::with_capacity(untrained.nets.len());
    for net in untrained.nets {
        let spec = net.spec();
        if replaced(spec.name) {
            nets.push(net);
            continue;
        }
        let file = dir.join(spec.file);
        let mismatch = |why: String| ImportError::Mismatch {
            file: file.clone(),
            why,
        };
        let bytes = manifest.load_model(dir, &spec)?;
        let model = ModelProto::decode(bytes.as_slice())
            .map_err(|e| mismatch(format!("not an ONNX model: {e}")))?;
        let stored: Vec<_> = model
            .graph
            .map(|g| g.initializer)
            .unwrap_or_default()
            .into_iter()
            .filter(|t| WEIGHT_PREFIXES.iter().any(|p| t.name.starts_with(p)))
            .collect();
        let traced = export(&net, manifest.height, manifest.width)?;
        let shapes: HashMap<&str, &[i64]> = traced
            .model
            .graph
            .as_ref()
            .map(|g| {
                g.initializer
                    .iter()
                    .map(|t| (t.name.as_str(), t.dims.as_slice()))
                    .collect()
            })
            .unwrap_or_default();
        if stored.len() != traced.params.len() {
            return Err(mismatch(format!(
                "{} weight tensors, the {} {} has {} (not written by this exporter for this architecture)",
                stored.len(),
                preset.name(),
                spec.name,
                traced.params.len()
            )));
        }
        let mut weights = HashMap::with_capacity(stored.len());
        for (k, (tensor, (name, id))) in stored.iter().zip(&traced.params).enumerate() {
            let want = shapes.get(name.as_str()).copied().unwrap_or_default();
            let count = tensor.dims.iter().product::<i64>().max(0) as usize;
            if tensor.dims != want
                || tensor.data_type != data_type::FLOAT
                || tensor.raw_data.len() != count * 4
            {
                return Err(mismatch(format!(
                    "weight {k} ('{}') is {:?} of type {} in {} bytes, expected float32 {want:?} (the manifest's {} preset)",
                    tensor.name,
                    tensor.dims,
                    tensor.data_type,
                    tensor.raw_data.len(),
                    preset.name()
                )));
            }
            let values = tensor.floats();
            weights.insert(*id, values);
        }
        nets.push(net.map(&mut Load(weights)));
    }
    Ok((InferenceNets { nets }, preset, manifest))
}

/// Replaces every parameter it has values for.
struct Load(HashMap<ParamId, Vec<f32>>);

impl ModuleMapper for Load {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        match self.0.get(&param.id) {
            Some(values) => {
                let values = values.clone();
                param.map(|t| Tensor::from_data(TensorData::new(values, t.shape()), &t.device()))
            }
            None => param,
        }
    }
}
