//! The stages of the schedule (DESIGN.md section 5), one file each: what the stage's network
//! is, which frozen networks teach it, and the loss of one batch. The loop that runs them
//! (resume, batches, optimiser, log, checkpoints) is the parent module's and knows none of this.

pub mod baselines;
pub mod frame_nets;
pub mod regrowth;
pub mod student_parsing;
pub mod student_warp;
pub mod teacher_parsing;
pub mod teacher_warp;

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use indicatif::ProgressBar;
use ndarray::Array3;

use super::TrainError;
use super::batch;
use super::checkpoint::{load_weights, model_file};
use super::config::TrainConfig;
use crate::data::{Dataset, PersonSample, PersonTensors};
use crate::nn::{Preset, default_device};

/// Which tensor of a person a stage takes.
pub type Pick = fn(&PersonTensors) -> &Array3<f32>;

/// One stage: the network it trains and the loss of one batch.
pub trait StageTrainer {
    type Net: Module;
    /// The network, untrained (initialised from the run's seed).
    fn network(preset: Preset, device: &Device) -> Self::Net;
    /// The loss of `net` on the batch of `step`, and the terms to log.
    fn loss(&mut self, net: &Self::Net, step: &Step<'_>) -> Result<Losses, TrainError>;
}

/// What one iteration's loss is made of.
pub struct Losses {
    /// What the optimiser minimises.
    pub total: Tensor<1>,
    /// Its terms, logged per iteration and drawn in the curves.
    pub terms: Vec<(&'static str, Tensor<1>)>,
    /// Other numbers of the iteration worth logging (the phase of Algorithm 1).
    pub notes: Vec<(&'static str, f32)>,
}

impl Losses {
    /// A loss that is one term.
    pub fn single(name: &'static str, loss: Tensor<1>) -> Losses {
        Losses { total: loss.clone(), terms: vec![(name, loss)], notes: Vec::new() }
    }
}

/// One iteration's batch: people A (and, for the transfer stages, people B).
pub struct Step<'a> {
    pub iteration: usize,
    /// The iteration's resolution (`TrainConfig::size_at`).
    pub height: usize,
    pub width: usize,
    pub samples: &'a [PersonSample],
    pub tensors: &'a [PersonTensors],
    pub dataset: &'a Dataset,
    pub config: &'a TrainConfig,
    /// The device the gradient tape runs on.
    pub device: &'a Device,
    /// The stage's run folder (`RUN_DIR/STAGE`).
    pub run_dir: &'a Path,
    pub(super) bar: &'a ProgressBar,
}

/// The stream of person B's draws: another draw of the dataset per iteration, the same for a
/// resumed run.
const PARTNER_STREAM: u64 = 0x5eed_b;

impl Step<'_> {
    /// A tensor of A's batch on the tape's device.
    pub fn field(&self, pick: Pick) -> Tensor<4> {
        batch::field(self.tensors, pick, self.device)
    }

    /// Person B of each pair (A, B), drawn as reproducibly as A.
    pub fn partners(&self) -> Result<Vec<PersonTensors>, TrainError> {
        let c = self.config;
        let b = batch::draw(self.dataset, c.seed ^ PARTNER_STREAM, self.iteration, self.samples.len(), self.height, self.width);
        if b.len() != self.samples.len() {
            return Err(TrainError::NoBatch(self.iteration));
        }
        Ok(b.iter().map(PersonSample::tensors).collect())
    }

    /// The dataset's true transfer of A (A wearing some B's garment), if it has one.
    pub fn transfer_of(&self, a: &PersonSample) -> Option<crate::data::TransferTruth> {
        self.dataset.transfers.iter().find(|t| self.dataset.samples[t.a].name == a.name).cloned()
    }

    /// Say something about the run above the progress bar.
    pub fn say(&self, message: &str) {
        self.bar.suspend(|| eprintln!("{message}"));
    }
}

/// A network an earlier stage trained in `out`, frozen: it runs on the plain device, off the
/// tape, and its outputs enter the loss as constants.
pub fn frozen<M: Module>(out: &Path, name: &str, untrained: M) -> Result<M, TrainError> {
    let path = model_file(out, name);
    if !path.exists() {
        return Err(TrainError::NoTeacher(out.join(name)));
    }
    load_weights(untrained, &path)
}

/// A tensor computed off the tape, as a constant on `device`'s tape.
pub fn constant(t: Tensor<4>, device: &Device) -> Tensor<4> {
    Tensor::from_data(t.into_data(), device)
}

/// The device frozen networks run on.
pub fn frozen_device() -> Device {
    default_device()
}
