//! Checkpoints: the trained network, the optimiser's state and the iterations done, written so
//! that a run killed at any moment resumes from its last complete checkpoint exactly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::Device;

use super::TrainError;
use super::run::{CheckpointState, RunDir, io};
use crate::nn::Preset;
use crate::nn::network::Network;
use crate::onnx::InferenceNets;

const MODEL: &str = "model.bpk";
const OPTIMIZER: &str = "optimizer.bin";
const STATE: &str = "state.json";

fn fail<'a>(path: &'a Path, what: &'static str) -> impl FnOnce(String) -> TrainError + 'a {
    move |why| TrainError::Checkpoint { path: path.to_path_buf(), what, why }
}

/// Write the checkpoint of `iteration` completed iterations.
pub fn save<M: Module>(run: &RunDir, net: &M, optimizer: &ModuleOptimizer, iteration: usize) -> Result<(), TrainError> {
    // Write beside, then rename: a run killed mid-write keeps its previous checkpoint.
    let tmp = run.dir.join("checkpoint.tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let mut store = BurnpackStore::from_file(tmp.join(MODEL)).overwrite(true);
    net.save_into(&mut store).map_err(|e| fail(&tmp, "save")(format!("{e:?}")))?;
    let bytes = optimizer.into_bytes().map_err(|e| fail(&tmp, "save the optimiser state of")(format!("{e:?}")))?;
    std::fs::write(tmp.join(OPTIMIZER), &*bytes).map_err(io(&tmp))?;
    let state = serde_json::to_string(&CheckpointState { iteration }).map_err(|e| fail(&tmp, "save")(e.to_string()))?;
    std::fs::write(tmp.join(STATE), state).map_err(io(&tmp))?;
    let dst = run.checkpoint_dir();
    if dst.exists() {
        std::fs::remove_dir_all(&dst).map_err(io(&dst))?;
    }
    std::fs::rename(&tmp, &dst).map_err(io(&dst))?;
    Ok(())
}

/// The network and optimiser of `run`'s last checkpoint, and the iterations it had done.
pub fn resume<M: Module>(run: &RunDir, net: M, optimizer: ModuleOptimizer, state: CheckpointState) -> Result<(M, ModuleOptimizer), TrainError> {
    let net = load_weights(net, &run.checkpoint_dir().join(MODEL))?;
    let path = run.checkpoint_dir().join(OPTIMIZER);
    let bytes = std::fs::read(&path).map_err(io(&path))?;
    let optimizer = optimizer.from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes)).map_err(|e| fail(&path, "load")(format!("{e:?}")))?;
    run.truncate_losses(state.iteration)?;
    Ok((net, optimizer))
}

/// Write `net`'s weights alone to `path` (a snapshot, not a checkpoint to resume from).
pub fn save_weights<M: Module>(net: &M, path: &Path) -> Result<(), TrainError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let mut store = BurnpackStore::from_file(path).overwrite(true);
    net.save_into(&mut store).map_err(|e| fail(path, "save")(format!("{e:?}")))
}

/// `net` with the weights of the checkpoint file `path`.
pub fn load_weights<M: Module>(mut net: M, path: &Path) -> Result<M, TrainError> {
    let mut store = BurnpackStore::from_file(path);
    net.load_from(&mut store).map_err(|e| fail(path, "load")(format!("{e:?}")))?;
    Ok(net)
}

/// The checkpoint file of network `name` trained in `run_dir`.
pub fn model_file(run_dir: &Path, name: &str) -> PathBuf {
    run_dir.join(name).join("checkpoint").join(MODEL)
}

/// A network trained in `run_dir` as the stage `stage_name` left it, if it did.
pub fn load_network(stage_name: &str, preset: Preset, run_dir: &Path, device: &Device) -> Result<Option<Network>, TrainError> {
    let path = model_file(run_dir, stage_name);
    if !path.exists() {
        return Ok(None);
    }
    let net = Network::new(stage_name, preset, device).ok_or_else(|| fail(&path, "load")(format!("no network is named {stage_name}")))?;
    Ok(Some(network_weights(net, &path)?))
}

/// `net` with the weights of `path` (checkpoints hold the stage's own network type).
fn network_weights(net: Network, path: &Path) -> Result<Network, TrainError> {
    Ok(match net {
        Network::Parser(n) => Network::Parser(load_weights(n, path)?),
        Network::Densepose(n) => Network::Densepose(load_weights(n, path)?),
        Network::TeacherParsing(n) => Network::TeacherParsing(load_weights(n, path)?),
        Network::TeacherWarp(n) => Network::TeacherWarp(load_weights(n, path)?),
        Network::TransferParsing(n) => Network::TransferParsing(load_weights(n, path)?),
        Network::Warp(n) => Network::Warp(load_weights(n, path)?),
        Network::Regrowth(n) => Network::Regrowth(load_weights(n, path)?),
    })
}

/// `net`, a new network of the stage training network `name`, with the weights of that network
/// in the models folder `dir` (a folder this exporter wrote for `preset`): fine-tuning a shipped
/// network instead of starting from the seed. The weights travel as a checkpoint would, so a
/// folder of another width of the network is an error naming the file, not a silent mix.
pub fn weights_from_models<M: Module>(mut net: M, dir: &Path, name: &str, preset: Preset) -> Result<M, TrainError> {
    let start = |path: &Path| {
        let path = path.to_path_buf();
        move |why: String| TrainError::InitWeights { path, why }
    };
    let manifest = dir.join("manifest.json");
    let (nets, found, _) = crate::onnx::import::load_except(dir, &crate::nn::default_device(), &|n| n != name)
        .map_err(|e| start(dir)(e.to_string()))?;
    if found != preset {
        return Err(start(&manifest)(format!("its networks are the {} preset's, this run trains the {} preset's", found.name(), preset.name())));
    }
    let network = nets.nets.into_iter().find(|n| n.spec().name == name).ok_or_else(|| {
        start(&manifest)(format!(
            "a models folder holds the five networks the element runs ({}); this stage trains {name}",
            gstgarmenttransfer::contract::MODELS.map(|m| m.name).join(", ")
        ))
    })?;
    let mut store = BurnpackStore::from_bytes(None);
    let saved = match &network {
        Network::Parser(n) | Network::Densepose(n) => n.save_into(&mut store),
        Network::TeacherParsing(n) | Network::TransferParsing(n) => n.save_into(&mut store),
        Network::TeacherWarp(n) => n.save_into(&mut store),
        Network::Warp(n) => n.save_into(&mut store),
        Network::Regrowth(n) => n.save_into(&mut store),
    };
    let file = dir.join(network.spec().file);
    saved.map_err(|e| start(&file)(format!("{e:?}")))?;
    let bytes = store.get_bytes().map_err(|e| start(&file)(format!("{e:?}")))?;
    net.load_from(&mut BurnpackStore::from_bytes(Some(bytes))).map_err(|e| start(&file)(format!("{e:?}")))?;
    Ok(net)
}

/// The five inference networks with the weights trained in `run_dir` where a stage left a
/// checkpoint (the others untrained), and each trained network's provenance for the manifest.
pub fn trained_networks(preset: Preset, run_dir: &Path, device: &Device) -> Result<(InferenceNets, BTreeMap<String, serde_json::Value>), TrainError> {
    let mut nets = InferenceNets::untrained(preset, device);
    let mut provenance = BTreeMap::new();
    with_checkpoints(&mut nets, &mut provenance, preset, run_dir, device)?;
    Ok((nets, provenance))
}

/// Replace each network of `nets` that a stage trained in `run_dir` by that training, with its
/// provenance. Returns the names replaced.
pub fn with_checkpoints(
    nets: &mut InferenceNets,
    provenance: &mut BTreeMap<String, serde_json::Value>,
    preset: Preset,
    run_dir: &Path,
    device: &Device,
) -> Result<Vec<&'static str>, TrainError> {
    let mut replaced = Vec::new();
    for net in nets.nets.iter_mut() {
        let name = net.spec().name;
        if let Some(trained) = load_network(name, preset, run_dir, device)? {
            *net = trained;
            let read = |f: &str| -> Result<serde_json::Value, TrainError> {
                let path = run_dir.join(name).join(f);
                let text = std::fs::read_to_string(&path).map_err(io(&path))?;
                serde_json::from_str(&text).map_err(|e| super::run::RunError::Invalid { path, why: e.to_string() }.into())
            };
            let config = read("config.json")?;
            let mut entry = serde_json::json!({"config": config, "summary": read("summary.json").ok()});
            // A network trained further from a models folder keeps the history it started from.
            if let Some(from) = entry["config"]["init_weights"].as_str().map(PathBuf::from) {
                let earlier = gstgarmenttransfer::manifest::Manifest::read(&from).ok().and_then(|m| m.models.get(name).and_then(|e| e.training.clone()));
                entry["started_from"] = serde_json::json!({"models": from.display().to_string(), "training": earlier});
            }
            provenance.insert(name.to_string(), entry);
            replaced.push(name);
        }
    }
    Ok(replaced)
}
