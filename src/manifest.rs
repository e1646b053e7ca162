//! `models/manifest.json`: what the exporter wrote and the element checks before it runs a
//! model - files, checksums, tensor names and shapes, resolution, provenance.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::contract::{MODELS, ModelSpec, ParsingGroup, POSE_PARTS};
use crate::files::{FileError, Links, READ_TIMEOUT, read_regular};

pub const FILE_NAME: &str = "manifest.json";
/// Largest `manifest.json` read (the shipped one is a few kilobytes).
pub const MAX_MANIFEST_BYTES: u64 = 16 << 20;
/// Largest model file read and hashed (the `paper` warp is about 113 MB).
pub const MAX_MODEL_BYTES: u64 = 1 << 30;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// Model resolution, height and width.
    pub height: usize,
    pub width: usize,
    pub ir_version: i64,
    pub opset: i64,
    /// Width preset of the networks.
    pub preset: String,
    /// What the networks compute in between their float32 inputs and outputs: `fp32`, or
    /// `fp16` (`garment-train export --precision fp16`, for GPUs).
    #[serde(default = "fp32")]
    pub precision: String,
    /// True when the weights are random (plumbing, not results).
    pub untrained: bool,
    pub conventions: Conventions,
    pub models: BTreeMap<String, ModelEntry>,
    /// `garment-train eval --record`: the models' numbers against the synthetic world's true
    /// transfers (and the baselines'), with the data they were measured on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<serde_json::Value>,
}

fn fp32() -> String {
    "fp32".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conventions {
    pub parsing_groups: Vec<String>,
    pub pose_parts: usize,
    pub image: String,
    pub flow: String,
    /// What `transfer_parsing`'s `agnostic` input is ([`crate::contract::AGNOSTIC`]); a manifest
    /// from before this field names the earlier map, which kept the torso and upper legs.
    #[serde(default = "earlier_agnostic")]
    pub agnostic: String,
    /// What the dense pose is ([`crate::contract::DENSE_POSE`]); a manifest from before this
    /// field names the earlier reading, the garment's silhouette.
    #[serde(default = "earlier_dense_pose")]
    pub dense_pose: String,
}

fn earlier_agnostic() -> String {
    "one-hot hair, face, lower garment, legs".into()
}

fn earlier_dense_pose() -> String {
    "the visible surface: an upper garment's body piece is torso, its sleeves the arms".into()
}

impl Default for Conventions {
    fn default() -> Conventions {
        Conventions {
            parsing_groups: ParsingGroup::ALL.iter().map(|g| g.name().to_string()).collect(),
            pose_parts: POSE_PARTS,
            image: "RGB, NCHW float32 in [-1, 1]".into(),
            flow: "absolute sampling grid in [-1, 1], x then y, align_corners = false, border padding".into(),
            agnostic: crate::contract::AGNOSTIC.into(),
            dense_pose: crate::contract::DENSE_POSE.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorEntry {
    pub name: String,
    /// `["N", C, H, W]`: the batch axis is dynamic.
    pub shape: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelEntry {
    pub file: String,
    pub sha256: String,
    pub inputs: Vec<TensorEntry>,
    pub outputs: Vec<TensorEntry>,
    pub architecture: String,
    pub params: u64,
    /// Multiply-accumulates of the convolutions per frame at the model resolution, in billions.
    pub gmacs: f64,
    /// The training run that produced the weights, `null` when untrained.
    pub training: Option<serde_json::Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("{path}: not a valid manifest: {why}")]
    Parse { path: PathBuf, why: String },
    #[error("{path}: {why}")]
    Contract { path: PathBuf, why: String },
    #[error("{file}: sha256 {actual} does not match the manifest's {expected}")]
    Checksum { file: PathBuf, expected: String, actual: String },
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The tensor entries a spec implies at `h` x `w`.
pub fn tensor_entries(ports: &[crate::contract::Port], h: usize, w: usize) -> Vec<TensorEntry> {
    ports
        .iter()
        .map(|p| TensorEntry { name: p.name.into(), shape: vec!["N".into(), p.channels.into(), h.into(), w.into()] })
        .collect()
}

/// A name of a file directly inside the models folder: no separator, no `.`/`..`, not empty,
/// no NUL, nothing a path could climb out with.
pub fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

impl Manifest {
    pub fn read(dir: &Path) -> Result<Manifest, ManifestError> {
        let path = dir.join(FILE_NAME);
        let bytes = read_regular(&path, MAX_MANIFEST_BYTES, Links::Refuse, READ_TIMEOUT)?;
        Manifest::parse(&bytes, &path)
    }

    /// A manifest from the bytes of `path`, checked against the contract.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Manifest, ManifestError> {
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| ManifestError::Parse { path: path.to_path_buf(), why: e.to_string() })?;
        m.check_contract(path)?;
        Ok(m)
    }

    pub fn write(&self, dir: &Path) -> Result<(), ManifestError> {
        let path = dir.join(FILE_NAME);
        let text = serde_json::to_string_pretty(self).map_err(|e| ManifestError::Parse { path: path.clone(), why: e.to_string() })?;
        std::fs::write(&path, text + "\n").map_err(|e| ManifestError::File(FileError::Io { path, why: e.to_string() }))
    }

    /// The networks were trained on this version's readings of their inputs: the agnostic map
    /// (`transfer_parsing`) and the dense pose (`densepose`, `transfer_parsing`, `warp`). The
    /// tensors' shapes agree either way, so nothing else would notice: the results would just be
    /// wrong. `kept` names the networks that will run or be copied from this folder: a training
    /// run that replaces the others may take the rest from such a folder.
    pub fn check_conventions(&self, path: &Path, kept: &dyn Fn(&str) -> bool) -> Result<(), ManifestError> {
        use crate::contract::{AGNOSTIC, DENSE_POSE, DENSE_POSE_MODELS};
        let c = &self.conventions;
        let refuse = |field: &str, found: &str, expected: &str, readers: String| ManifestError::Contract {
            path: path.to_path_buf(),
            why: format!("conventions.{field} {found:?}: {readers} trained on another reading, expected {expected:?} (train again)"),
        };
        if kept("transfer_parsing") && c.agnostic != AGNOSTIC {
            return Err(refuse("agnostic", &c.agnostic, AGNOSTIC, "transfer_parsing was".into()));
        }
        // One reader kept, all must share the reading: the folder's are the earlier one.
        let readers: Vec<&str> = DENSE_POSE_MODELS.into_iter().filter(|m| kept(m)).collect();
        if !readers.is_empty() && c.dense_pose != DENSE_POSE {
            return Err(refuse("dense_pose", &c.dense_pose, DENSE_POSE, format!("{} were", readers.join(", "))));
        }
        Ok(())
    }

    /// Every model of the contract is listed with the contract's tensor names and shapes.
    pub fn check_contract(&self, path: &Path) -> Result<(), ManifestError> {
        let bad = |why: String| ManifestError::Contract { path: path.to_path_buf(), why };
        if self.ir_version != crate::contract::IR_VERSION || self.opset < crate::contract::OPSET {
            return Err(bad(format!(
                "IR version {} opset {}, expected IR {} opset {} or later",
                self.ir_version,
                self.opset,
                crate::contract::IR_VERSION,
                crate::contract::OPSET
            )));
        }
        if !(1..=crate::contract::MAX_RESOLUTION).contains(&self.height) || !(1..=crate::contract::MAX_RESOLUTION).contains(&self.width) {
            return Err(bad(format!(
                "resolution {}x{} (height x width), expected 1 to {} on each side",
                self.height,
                self.width,
                crate::contract::MAX_RESOLUTION
            )));
        }
        for spec in MODELS {
            let entry = self.models.get(spec.name).ok_or_else(|| bad(format!("no entry for model '{}'", spec.name)))?;
            if !is_plain_file_name(&entry.file) {
                // The name only, never anything about what it points at.
                return Err(bad(format!(
                    "model '{}': file {:?} is not a plain file name inside the models folder (no '/', no '..', not absolute)",
                    spec.name, entry.file
                )));
            }
            if entry.sha256.len() != 64 || !entry.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad(format!("model '{}': sha256 {:?} is not 64 hexadecimal digits", spec.name, entry.sha256)));
            }
            let check = |what: &str, got: &[TensorEntry], want: &[crate::contract::Port]| {
                let want = tensor_entries(want, self.height, self.width);
                if got != want {
                    let show = |t: &[TensorEntry]| t.iter().map(|e| format!("{} {:?}", e.name, e.shape)).collect::<Vec<_>>().join(", ");
                    return Err(bad(format!("model '{}' {what}: {}, expected {}", spec.name, show(got), show(&want))));
                }
                Ok(())
            };
            check("inputs", &entry.inputs, spec.inputs)?;
            check("outputs", &entry.outputs, spec.outputs)?;
        }
        Ok(())
    }

    /// Read `spec`'s file from `dir`, checking its checksum against the manifest.
    pub fn load_model(&self, dir: &Path, spec: &ModelSpec) -> Result<Vec<u8>, ManifestError> {
        let entry = self.models.get(spec.name).ok_or_else(|| ManifestError::Contract {
            path: dir.join(FILE_NAME),
            why: format!("no entry for model '{}'", spec.name),
        })?;
        if !is_plain_file_name(&entry.file) {
            return Err(ManifestError::Contract { path: dir.join(FILE_NAME), why: format!("model '{}': file {:?} is not a plain file name", spec.name, entry.file) });
        }
        let file = dir.join(&entry.file);
        let bytes = read_regular(&file, MAX_MODEL_BYTES, Links::Refuse, READ_TIMEOUT)?;
        let actual = sha256_hex(&bytes);
        if !actual.eq_ignore_ascii_case(&entry.sha256) {
            return Err(ManifestError::Checksum { file, expected: entry.sha256.clone(), actual });
        }
        Ok(bytes)
    }
}
