//! A training run's folder: its configuration, the losses of every iteration (JSON lines),
//! checkpoints that a killed run resumes from exactly, and the loss curves as a PNG.
//!
//! ```text
//! RUN_DIR/STAGE/config.json       stage, preset, seed, data, schedule - written at start
//! RUN_DIR/STAGE/losses.jsonl      {"iteration": i, "loss": .., <terms>..} per iteration
//! RUN_DIR/STAGE/checkpoint/       model.bpk, optimizer.bin, state.json (last complete one)
//! RUN_DIR/STAGE/curves.png        the loss curves
//! RUN_DIR/STAGE/summary.json      final losses and metrics, when the stage ends
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {why}")]
    Invalid { path: PathBuf, why: String },
}

pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
    move |source| RunError::Io { path: path.to_path_buf(), source }
}

/// Where a checkpoint stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointState {
    /// Iterations completed.
    pub iteration: usize,
}

pub struct RunDir {
    pub dir: PathBuf,
}

impl RunDir {
    pub fn new(dir: &Path) -> Result<RunDir, RunError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        Ok(RunDir { dir: dir.to_path_buf() })
    }

    pub fn checkpoint_dir(&self) -> PathBuf {
        self.dir.join("checkpoint")
    }

    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<(), RunError> {
        let path = self.dir.join(name);
        let text = serde_json::to_string_pretty(value).map_err(|e| RunError::Invalid { path: path.clone(), why: e.to_string() })?;
        std::fs::write(&path, text + "\n").map_err(io(&path))
    }

    /// The last complete checkpoint, if any.
    pub fn checkpoint_state(&self) -> Result<Option<CheckpointState>, RunError> {
        let path = self.checkpoint_dir().join("state.json");
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        serde_json::from_str(&text).map(Some).map_err(|e| RunError::Invalid { path, why: e.to_string() })
    }

    /// Keep the loss log consistent with a checkpoint: drop lines past `iteration`.
    pub fn truncate_losses(&self, iteration: usize) -> Result<(), RunError> {
        let path = self.dir.join("losses.jsonl");
        let Ok(text) = std::fs::read_to_string(&path) else { return Ok(()) };
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| serde_json::from_str::<serde_json::Value>(l).ok().and_then(|v| v["iteration"].as_u64()).is_some_and(|i| (i as usize) < iteration))
            .collect();
        std::fs::write(&path, kept.iter().map(|l| format!("{l}\n")).collect::<String>()).map_err(io(&path))
    }

    pub fn append_losses(&self, iteration: usize, losses: &[(&str, f32)]) -> Result<(), RunError> {
        let path = self.dir.join("losses.jsonl");
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(io(&path))?;
        let mut v = serde_json::Map::new();
        v.insert("iteration".into(), iteration.into());
        for (k, x) in losses {
            v.insert(k.to_string(), serde_json::json!(x));
        }
        writeln!(f, "{}", serde_json::Value::Object(v)).map_err(io(&path))
    }

    /// All logged losses: (iteration, term -> value).
    pub fn read_losses(&self) -> Vec<(usize, Vec<(String, f32)>)> {
        let Ok(text) = std::fs::read_to_string(self.dir.join("losses.jsonl")) else { return Vec::new() };
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| {
                let obj = v.as_object()?;
                let it = obj.get("iteration")?.as_u64()? as usize;
                let terms = obj.iter().filter(|(k, _)| *k != "iteration").filter_map(|(k, x)| Some((k.clone(), x.as_f64()? as f32))).collect();
                Some((it, terms))
            })
            .collect()
    }
}
