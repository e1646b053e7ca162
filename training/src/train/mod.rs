//! The training schedule (DESIGN.md section 5), one stage at a time, each resumable.
//!
//! Stages implemented so far: `parser` and `densepose` (stage 0: cross-entropy on the
//! dataset's labels), `teacher-parsing` (stage 1: T_P with U2-Net's deep supervision),
//! `student-parsing` (stage 3: Algorithm 1, see `schedule`) and `regrowth` (stage 5: the
//! paper's swap and crop cases, L1).

pub mod batch;
pub mod run;
pub mod schedule;

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::optim::{AdamConfig, GradientsParams};
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::data::{Dataset, DataError, PersonTensors};
use crate::nn::graph::Eager;
use crate::nn::network::Network;
use crate::nn::{Preset, default_device};
use crate::synth::rng::Rng;
use run::{CheckpointState, RunDir, RunError, draw_curves};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    Parser,
    Densepose,
    TeacherParsing,
    TeacherWarp,
    StudentParsing,
    StudentWarp,
    Regrowth,
    /// Baseline: S_P without a teacher, trained on A's own garment mask, randomly moved and
    /// scaled (the paper's augmentation baseline).
    BaselineSelfSupervised,
    /// Baseline: S_P trained directly on the synthetic world's true transfer parsing (an upper
    /// bound no real dataset offers).
    BaselineOracle,
}

impl Stage {
    /// Dependency order: every stage's teachers come before it.
    pub const ORDER: [Stage; 7] = [
        Stage::Parser,
        Stage::Densepose,
        Stage::TeacherParsing,
        Stage::TeacherWarp,
        Stage::StudentParsing,
        Stage::StudentWarp,
        Stage::Regrowth,
    ];

    /// The network the stage trains, which also names its run folder.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Parser => "parser",
            Stage::Densepose => "densepose",
            Stage::TeacherParsing => "teacher_parsing",
            Stage::TeacherWarp => "teacher_warp",
            Stage::StudentParsing => "transfer_parsing",
            Stage::StudentWarp => "warp",
            Stage::Regrowth => "regrowth",
            Stage::BaselineSelfSupervised => "transfer_parsing_self_supervised",
            Stage::BaselineOracle => "transfer_parsing_oracle",
        }
    }
    /// Learning rate (Adam): our choice for the per-frame networks; for the warps PF-AFN's
    /// 5e-5 raised, since a CPU schedule runs hundreds of iterations, not PF-AFN's epochs.
    pub fn default_lr(self) -> f64 {
        match self {
            Stage::Parser | Stage::Densepose | Stage::TeacherParsing | Stage::StudentParsing => 2e-3,
            Stage::BaselineSelfSupervised | Stage::BaselineOracle => 2e-3,
            Stage::TeacherWarp | Stage::StudentWarp => 3e-4,
            Stage::Regrowth => 5e-4,
        }
    }

    /// Iterations of the stage in the schedule of a preset, at its default batch and size:
    /// `lite` is sized to run all seven stages in about 70 minutes on 2 CPU cores
    /// (training/README.md gives the measured time per stage).
    pub fn default_iterations(self, preset: Preset) -> usize {
        let lite = match self {
            Stage::Parser | Stage::Densepose => 400,
            Stage::TeacherParsing | Stage::TeacherWarp | Stage::Regrowth => 250,
            Stage::StudentParsing | Stage::StudentWarp => 150,
            // The baselines get the student's budget: a fair comparison.
            Stage::BaselineSelfSupervised | Stage::BaselineOracle => 150,
        };
        match preset {
            Preset::Tiny => 50,
            Preset::Lite => lite,
            Preset::Paper => lite * 20,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainConfig {
    pub stage: Stage,
    pub preset: Preset,
    pub data: PathBuf,
    pub seed: u64,
    pub iterations: usize,
    pub batch: usize,
    pub lr: f64,
    /// Adam's beta1: 0.5 as in PF-AFN.
    pub beta1: f32,
    pub checkpoint_every: usize,
    pub height: usize,
    pub width: usize,
    /// The perceptual term needs ImageNet VGG-19 weights, which no package here carries.
    pub perceptual: bool,
    /// Warp losses: first- and second-order smoothness weights (PF-AFN: 0.01 and 6).
    #[serde(default = "default_tv1")]
    pub tv1: f32,
    #[serde(default = "default_tv2")]
    pub tv2: f32,
    /// Phases, temperature and weights of the student parsing's distillation.
    #[serde(default)]
    pub distill: schedule::DistillSchedule,
}

fn default_tv1() -> f32 {
    0.01
}
fn default_tv2() -> f32 {
    6.0
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("{path}: a run of this stage exists; pass --resume to continue it, or choose another --out")]
    Exists { path: PathBuf },
    #[error("{path}: cannot {what} the checkpoint: {why}")]
    Checkpoint { path: PathBuf, what: &'static str, why: String },
    #[error("iteration {0}: no valid sample could be drawn")]
    NoBatch(usize),
    #[error("{0}: this stage needs that network trained; run its stage into the same --out first")]
    NoTeacher(PathBuf),
}

/// The final numbers of a stage.
#[derive(Debug, Clone, Serialize)]
pub struct StageSummary {
    pub stage: Stage,
    pub iterations: usize,
    pub seconds: f64,
    /// Mean of each term over the last tenth of the run.
    pub final_losses: Vec<(String, f32)>,
    pub skipped_samples: usize,
}

fn cross_entropy(logits: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
    let [b, _, h, w] = logits.dims();
    (target * log_softmax(logits, 1)).sum().neg().div_scalar((b * h * w) as f32).reshape([1])
}

fn save_checkpoint(run: &RunDir, net: &Network, optimizer_bytes: &[u8], iteration: usize) -> Result<(), TrainError> {
    // Write beside, then rename: a run killed mid-write keeps its previous checkpoint.
    let tmp = run.dir.join("checkpoint.tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(run::io(&tmp))?;
    let fail = |what: &'static str, why: String| TrainError::Checkpoint { path: tmp.clone(), what, why };
    let mut store = BurnpackStore::from_file(tmp.join("model.bpk")).overwrite(true);
    net.save_into(&mut store).map_err(|e| fail("save", format!("{e:?}")))?;
    std::fs::write(tmp.join("optimizer.bin"), optimizer_bytes).map_err(run::io(&tmp))?;
    let state = serde_json::to_string(&CheckpointState { iteration }).unwrap_or_default();
    std::fs::write(tmp.join("state.json"), state).map_err(run::io(&tmp))?;
    let dst = run.checkpoint_dir();
    let _ = std::fs::remove_dir_all(&dst);
    std::fs::rename(&tmp, &dst).map_err(run::io(&dst))?;
    Ok(())
}

/// Load a stage's trained network from `run_dir` (its `checkpoint/model.bpk`).
pub fn load_network(name: &str, preset: Preset, run_dir: &Path, device: &Device) -> Result<Option<Network>, TrainError> {
    let path = run_dir.join(name).join("checkpoint").join("model.bpk");
    if !path.exists() {
        return Ok(None);
    }
    let Some(mut net) = Network::new(name, preset, device) else { return Ok(None) };
    let mut store = BurnpackStore::from_file(&path);
    net.load_from(&mut store).map_err(|e| TrainError::Checkpoint { path, what: "load", why: format!("{e:?}") })?;
    Ok(Some(net))
}

/// The five inference networks with the weights trained in `run_dir` where a stage left a
/// checkpoint (the others untrained), and each trained network's provenance for the manifest.
pub fn trained_networks(
    preset: Preset,
    run_dir: &Path,
    device: &Device,
) -> Result<(crate::onnx::InferenceNets, std::collections::BTreeMap<String, serde_json::Value>), TrainError> {
    let mut nets = crate::onnx::InferenceNets::untrained(preset, device);
    let mut provenance = std::collections::BTreeMap::new();
    for net in nets.nets.iter_mut() {
        let name = net.spec().name;
        if let Some(trained) = load_network(name, preset, run_dir, device)? {
            *net = trained;
            let read = |f: &str| std::fs::read_to_string(run_dir.join(name).join(f)).ok().and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
            provenance.insert(name.to_string(), serde_json::json!({"config": read("config.json"), "summary": read("summary.json")}));
        }
    }
    Ok((nets, provenance))
}

/// Train `config.stage` into `out/STAGE`, resuming from its checkpoint when `resume`.
pub fn train(config: &TrainConfig, out: &Path, resume: bool, progress: bool) -> Result<StageSummary, TrainError> {
    let run = RunDir::new(&out.join(config.stage.name()))?;
    let device = default_device().autodiff();
    device.seed(config.seed);
    let dataset = Dataset::open(&config.data)?;
    let net_name = config.stage.name();
    let mut net = Network::new(net_name, config.preset, &device).ok_or(TrainError::NoBatch(0))?;
    let mut optimizer = AdamConfig::new().with_beta_1(config.beta1).init();
    let mut start = 0;
    match run.checkpoint_state()? {
        Some(state) if resume => {
            let path = run.checkpoint_dir().join("model.bpk");
            let mut store = BurnpackStore::from_file(&path);
            net.load_from(&mut store).map_err(|e| TrainError::Checkpoint { path: path.clone(), what: "load", why: format!("{e:?}") })?;
            let opt_path = run.checkpoint_dir().join("optimizer.bin");
            let bytes = std::fs::read(&opt_path).map_err(run::io(&opt_path))?;
            optimizer = optimizer
                .from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
                .map_err(|e| TrainError::Checkpoint { path: opt_path, what: "load", why: format!("{e:?}") })?;
            run.truncate_losses(state.iteration)?;
            start = state.iteration;
            eprintln!("{}: resuming at iteration {start}", run.dir.display());
        }
        Some(_) => return Err(TrainError::Exists { path: run.dir.clone() }),
        None => run.write_json("config.json", config)?,
    }
    if !config.perceptual && config.stage == Stage::Regrowth {
        eprintln!("regrowth: no VGG-19 weights given (--vgg): the perceptual term is off, L1 only");
    }

    // Frozen networks this stage learns from (computed off the tape, on the plain device).
    let frozen = |name: &str| -> Result<Network, TrainError> {
        load_network(name, config.preset, out, &default_device())?.ok_or_else(|| TrainError::NoTeacher(out.join(name)))
    };
    let teacher = match config.stage {
        Stage::StudentParsing => Some(frozen("teacher_parsing")?),
        _ => None,
    };
    let warp_teachers = match config.stage {
        Stage::StudentWarp => Some((frozen("teacher_parsing")?, frozen("transfer_parsing")?, frozen("teacher_warp")?)),
        _ => None,
    };
    let mut phase = 0;
    let bar = if progress { ProgressBar::new(config.iterations as u64) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} {per_sec} eta {eta} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(net_name);
    bar.set_position(start as u64);
    let began = Instant::now();
    let (h, w) = (config.height, config.width);
    let transfers_of = |name: &str| dataset.transfers.iter().find(|t| dataset.samples[t.a].name == name).cloned();
    for it in start..config.iterations {
        let samples = batch::draw(&dataset, config.seed, it, config.batch, h, w);
        if samples.is_empty() {
            return Err(TrainError::NoBatch(it));
        }
        let tensors: Vec<PersonTensors> = samples.iter().map(|s| s.tensors()).collect();
        let mut g = Eager::new(&device);
        let (loss, terms): (Tensor<1>, Vec<(&str, Tensor<1>)>) = match config.stage {
            Stage::TeacherParsing => {
                let x = Tensor::cat(
                    vec![
                        batch::field(&tensors, |t| &t.agnostic, &device),
                        batch::field(&tensors, |t| &t.pose, &device),
                        batch::field(&tensors, |t| &t.cloth_mask, &device),
                    ],
                    1,
                );
                let target = batch::field(&tensors, |t| &t.parsing, &device);
                let Network::TeacherParsing(u2) = &net else { unreachable!("teacher stage trains T_P") };
                let out = u2.forward(&mut g, &x);
                let fused = cross_entropy(out.logits, target.clone());
                let mut sides = fused.clone().mul_scalar(0.0);
                for side in out.sides {
                    sides = sides + cross_entropy(side, target.clone());
                }
                (fused.clone() + sides.clone(), vec![("fused", fused), ("sides", sides)])
            }
            Stage::TeacherWarp => {
                let Network::TeacherWarp(t_w) = &net else { unreachable!("the teacher warp stage trains T_W") };
                let cloth = batch::field(&tensors, |t| &t.cloth, &device);
                let cloth_mask = batch::field(&tensors, |t| &t.cloth_mask, &device);
                let target_mask = batch::field(&tensors, |t| &t.garment_mask, &device);
                let target = batch::field(&tensors, |t| &t.garment, &device);
                let pose = batch::field(&tensors, |t| &t.pose, &device);
                let out = t_w.forward(&mut g, &cloth, &cloth_mask, &target_mask, &pose);
                warp_losses(&mut g, out, &cloth, &cloth_mask, &target, &target_mask, config)
            }
            Stage::StudentWarp => {
                let b_samples = batch::draw(&dataset, config.seed ^ 0x5eed_b, it, samples.len(), h, w);
                let b_tensors: Vec<PersonTensors> = b_samples.iter().map(|s| s.tensors()).collect();
                let Some((t_p, s_p, t_w)) = warp_teachers.as_ref() else { unreachable!("loaded before the loop") };
                student_warp_step(&net, (t_p, s_p, t_w), &tensors, &b_tensors, config, &device)
            }
            Stage::StudentParsing => {
                let epoch = (it * config.batch) as f32 / dataset.len() as f32;
                let active = config.distill.active(epoch);
                if active.phase != phase {
                    phase = active.phase;
                    bar.suspend(|| eprintln!("iteration {it}, epoch {epoch:.2}: phase {phase}: {active:?}"));
                }
                let b_samples = batch::draw(&dataset, config.seed ^ 0x5eed_b, it, samples.len(), h, w);
                let b_tensors: Vec<PersonTensors> = b_samples.iter().map(|s| s.tensors()).collect();
                distill_step(&net, teacher.as_ref(), &tensors, &b_tensors, &config.distill, active, &device)
            }
            Stage::Parser | Stage::Densepose => {
                let image = batch::field(&tensors, |t| &t.image, &device);
                let target = if config.stage == Stage::Parser {
                    batch::field(&tensors, |t| &t.parsing, &device)
                } else {
                    batch::field(&tensors, |t| &t.pose, &device)
                };
                let logits = net.forward(&mut g, &[image]).remove(0);
                let ce = cross_entropy(logits, target);
                (ce.clone(), vec![("cross_entropy", ce)])
            }
            Stage::BaselineSelfSupervised | Stage::BaselineOracle => {
                let Network::TransferParsing(s_p) = &net else { unreachable!("the baselines train S_P") };
                let (garment_masks, targets) = if config.stage == Stage::BaselineOracle {
                    // B's garment as B wears it, A's true parsing wearing it.
                    let mut masks = Vec::new();
                    let mut targets = Vec::new();
                    for (s, own) in samples.iter().zip(&tensors) {
                        let truth = transfers_of(&s.name).and_then(|t| {
                            let b = dataset.load_or_skip(t.b)?.resized(w as u32, h as u32);
                            let (_, parse) = dataset.load_transfer(&t).ok()?;
                            Some((b, crate::data::loader::resize_nearest(&parse.data, parse.width, parse.height, w as u32, h as u32)))
                        });
                        // A sample without a true transfer is its own pair: A wearing A's garment.
                        let (mask, ids) = match truth {
                            Some((b, ids)) => (b.tensors().garment_mask, ids),
                            None => (own.garment_mask.clone(), s.cihp.clone()),
                        };
                        let groups: Vec<u8> = ids.iter().map(|&id| crate::data::cihp::group(id).id()).collect();
                        masks.push(mask);
                        targets.push(crate::data::tensors::one_hot(&groups, gstgarmenttransfer::contract::PARSING_GROUPS, w as u32, h as u32));
                    }
                    (batch::to_batch(&masks, &device), batch::to_batch(&targets, &device))
                } else {
                    let mut rng = Rng::derive(config.seed, 0x6175_676d, it as u64);
                    let masks: Vec<_> = tensors.iter().map(|t| batch::jitter_mask(&t.garment_mask, &mut rng)).collect();
                    (batch::to_batch(&masks, &device), batch::field(&tensors, |t| &t.parsing, &device))
                };
                let x = Tensor::cat(vec![batch::field(&tensors, |t| &t.agnostic, &device), batch::field(&tensors, |t| &t.pose, &device), garment_masks], 1);
                let ce = cross_entropy(s_p.forward(&mut g, &x).logits, targets);
                (ce.clone(), vec![("cross_entropy", ce)])
            }
            Stage::Regrowth => {
                let mut rng = Rng::derive(config.seed, 0x7265_6772, it as u64);
                let mut sources = Vec::new();
                let mut targets = Vec::new();
                for s in &samples {
                    let swap = transfers_of(&s.name).and_then(|t| dataset.load_transfer(&t).ok()).map(|(_, parse)| {
                        crate::data::loader::resize_nearest(&parse.data, parse.width, parse.height, w as u32, h as u32)
                    });
                    let (src, tgt) = batch::regrowth_case(s, swap.as_deref(), &mut rng);
                    sources.push(src);
                    targets.push(tgt);
                }
                let image = batch::field(&tensors, |t| &t.image, &device);
                let source = batch::to_batch(&sources, &device);
                let target = batch::to_batch(&targets, &device);
                let out = net.forward(&mut g, &[image.clone() * source, target.clone()]).remove(0);
                let area = target.clone().sum().add_scalar(1.0);
                let l1 = ((out - image) * target).abs().sum().div(area.clone().mul_scalar(3.0)).reshape([1]);
                (l1.clone(), vec![("l1", l1)])
            }
        };
        let logged: Vec<(&str, f32)> = terms
            .iter()
            .map(|(n, t)| (*n, t.clone().into_data().try_to_vec::<f32>().ok().and_then(|v| v.first().copied()).unwrap_or(f32::NAN)))
            .collect();
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        net = optimizer.step(config.lr, net, grads);
        let mut logged = logged;
        if config.stage == Stage::StudentParsing {
            logged.push(("phase", phase as f32));
        }
        run.append_losses(it, &logged)?;
        bar.set_message(logged.iter().map(|(n, v)| format!("{n} {v:.4}")).collect::<Vec<_>>().join(" "));
        bar.inc(1);
        let done = it + 1;
        if done % config.checkpoint_every == 0 || done == config.iterations {
            let bytes = optimizer.into_bytes().map_err(|e| TrainError::Checkpoint { path: run.checkpoint_dir(), what: "save", why: format!("{e:?}") })?;
            save_checkpoint(&run, &net, &bytes, done)?;
            let _ = draw_curves(&run, &run.dir.join("curves.png"));
        }
    }
    bar.finish();
    let losses = run.read_losses();
    let tail = &losses[losses.len() - (losses.len() / 10).max(1).min(losses.len())..];
    let mut final_losses: Vec<(String, f32)> = Vec::new();
    if let Some((_, first)) = tail.first() {
        for (name, _) in first {
            let vals: Vec<f32> = tail.iter().filter_map(|(_, t)| t.iter().find(|(n, _)| n == name).map(|(_, v)| *v)).collect();
            final_losses.push((name.clone(), vals.iter().sum::<f32>() / vals.len().max(1) as f32));
        }
    }
    let summary = StageSummary {
        stage: config.stage,
        iterations: config.iterations,
        seconds: began.elapsed().as_secs_f64(),
        final_losses,
        skipped_samples: dataset.skipped().len(),
    };
    run.write_json("summary.json", &summary)?;
    eprintln!("{}", dataset.summary());
    Ok(summary)
}

fn mse(a: Tensor<4>, b: Tensor<4>) -> Tensor<1> {
    let d = a - b;
    (d.clone() * d).mean().reshape([1])
}

/// One step of Algorithm 1 for a batch of pairs (A, B).
fn distill_step(
    student: &Network,
    teacher: Option<&Network>,
    a: &[PersonTensors],
    b: &[PersonTensors],
    schedule: &schedule::DistillSchedule,
    active: schedule::ActiveTerms,
    device: &Device,
) -> (Tensor<1>, Vec<(&'static str, Tensor<1>)>) {
    let Network::TransferParsing(s_p) = student else { unreachable!("the student stage trains S_P") };
    let Some(Network::TeacherParsing(t_p)) = teacher else { unreachable!("the teacher is loaded before the loop") };
    let inner = default_device();
    let tau = schedule.temperature;
    // Teacher signal: A trying on B's in-shop garment (frozen: computed off the tape).
    let mut gi = Eager::new(&inner);
    let tx = Tensor::cat(
        vec![batch::field(a, |t| &t.agnostic, &inner), batch::field(a, |t| &t.pose, &inner), batch::field(b, |t| &t.cloth_mask, &inner)],
        1,
    );
    let t_out = t_p.forward(&mut gi, &tx);
    let constant = |t: Tensor<4>| Tensor::<4>::from_data(t.into_data(), device);
    let t_logits = constant(t_out.logits);
    let t_features: Vec<Tensor<4>> = t_out.features.into_iter().map(constant).collect();
    // Student input: B's garment as B wears it.
    let mut g = Eager::new(device);
    let sx = Tensor::cat(
        vec![batch::field(a, |t| &t.agnostic, device), batch::field(a, |t| &t.pose, device), batch::field(b, |t| &t.garment_mask, device)],
        1,
    );
    let s_out = s_p.forward(&mut g, &sx);
    let [n, _, h, w] = s_out.logits.dims();
    let p_t = burn::tensor::activation::softmax(t_logits.div_scalar(tau), 1);
    let log_p_s = log_softmax(s_out.logits.clone().div_scalar(tau), 1);
    let response = (p_t.clone() * (p_t.clamp_min(1e-8).log() - log_p_s)).sum().div_scalar((n * h * w) as f32).mul_scalar(tau * tau).reshape([1]);
    let mut loss = response.clone().mul_scalar(schedule.response_weight);
    let mut terms = vec![("response", response)];
    if active.feature_layers > 0 {
        let k = active.feature_layers.min(s_out.features.len());
        let mut feat = mse(s_out.features[0].clone(), t_features[0].clone());
        for i in 1..k {
            feat = feat + mse(s_out.features[i].clone(), t_features[i].clone());
        }
        let feat = feat.div_scalar(k as f32);
        loss = loss + feat.clone().mul_scalar(schedule.feature_weight);
        terms.push(("feature", feat));
    }
    if active.self_study {
        // The garment S_P predicts for A, transferred back onto B, must give B's own parsing.
        let garment = gstgarmenttransfer::contract::ParsingGroup::UpperGarment as usize;
        let predicted = burn::tensor::activation::softmax(s_out.logits, 1).narrow(1, garment, 1);
        let bx = Tensor::cat(vec![batch::field(b, |t| &t.agnostic, device), batch::field(b, |t| &t.pose, device), predicted], 1);
        let back = s_p.forward(&mut g, &bx);
        let ce = cross_entropy(back.logits, batch::field(b, |t| &t.parsing, device));
        loss = loss + ce.clone().mul_scalar(schedule.self_study_weight);
        terms.push(("self_study", ce));
    }
    (loss, terms)
}

/// Mean absolute first and second differences of offsets, along x and y (0 along an axis too
/// short to have them: the coarsest levels of small inputs).
fn smoothness(offset: &Tensor<4>) -> (Tensor<1>, Tensor<1>) {
    let [_, _, h, w] = offset.dims();
    let zero = offset.clone().sum().mul_scalar(0.0).reshape([1]);
    let (mut first, mut second) = (zero.clone(), zero);
    for (axis, len) in [(3, w), (2, h)] {
        if len < 2 {
            continue;
        }
        let d = offset.clone().narrow(axis, 1, len - 1) - offset.clone().narrow(axis, 0, len - 1);
        first = first + d.clone().abs().mean().reshape([1]);
        if len > 2 {
            let dd = d.clone().narrow(axis, 1, len - 2) - d.narrow(axis, 0, len - 2);
            second = second + dd.abs().mean().reshape([1]);
        }
    }
    (first, second)
}

fn l1(a: Tensor<4>, b: Tensor<4>) -> Tensor<1> {
    (a - b).abs().mean().reshape([1])
}

/// The warp losses of PF-AFN: L1 on the warped image and mask at full resolution and at every
/// pyramid level (the source warped by that level's flow against the downsampled target), and
/// first- and second-order smoothness of every level's flow.
fn warp_losses(
    g: &mut Eager,
    out: crate::nn::teacher_warp::Warped<Tensor<4>>,
    source: &Tensor<4>,
    source_mask: &Tensor<4>,
    target: &Tensor<4>,
    target_mask: &Tensor<4>,
    config: &TrainConfig,
) -> (Tensor<1>, Vec<(&'static str, Tensor<1>)>) {
    use crate::nn::graph::Graph;
    let image = l1(out.garment, target.clone());
    let mask = l1(out.mask, target_mask.clone());
    let mut levels = image.clone().mul_scalar(0.0);
    let mut tv1 = levels.clone();
    let mut tv2 = levels.clone();
    for offset in &out.pyramid.offsets {
        let [_, _, h, w] = offset.dims();
        let src = g.resize(source, [h, w]);
        let src_mask = g.resize(source_mask, [h, w]);
        let warped = crate::nn::warp::warp_by_offset(g, &src, offset);
        let warped_mask = crate::nn::warp::warp_by_offset(g, &src_mask, offset);
        levels = levels + l1(warped, g.resize(target, [h, w])) + l1(warped_mask, g.resize(target_mask, [h, w]));
        let (a, b) = smoothness(offset);
        tv1 = tv1 + a;
        tv2 = tv2 + b;
    }
    let loss = image.clone() + mask.clone() + levels.clone() + tv1.clone().mul_scalar(config.tv1) + tv2.clone().mul_scalar(config.tv2);
    (loss, vec![("image", image), ("mask", mask), ("levels", levels), ("tv1", tv1), ("tv2", tv2)])
}

/// One step of the student warp: targets from the frozen S_P (shape) and T_W (content).
fn student_warp_step(
    student: &Network,
    (t_p, s_p, t_w): (&Network, &Network, &Network),
    a: &[PersonTensors],
    b: &[PersonTensors],
    config: &TrainConfig,
    device: &Device,
) -> (Tensor<1>, Vec<(&'static str, Tensor<1>)>) {
    use gstgarmenttransfer::contract::ParsingGroup;
    let (Network::TeacherParsing(t_p), Network::TransferParsing(s_p), Network::TeacherWarp(t_w)) = (t_p, s_p, t_w) else {
        unreachable!("frozen networks are loaded by name")
    };
    let Network::Warp(s_w) = student else { unreachable!("the student warp stage trains S_W") };
    let inner = default_device();
    let mut gi = Eager::new(&inner);
    let garment = ParsingGroup::UpperGarment as usize;
    let garment_mask_of = |logits: Tensor<4>| {
        let ids = logits.argmax(1);
        ids.equal_elem(garment as i64).float()
    };
    let f = |pick: fn(&PersonTensors) -> &ndarray::Array3<f32>, of: &[PersonTensors]| batch::field(of, pick, &inner);
    // Shape target: S_P's garment region for A wearing B's garment.
    let s_in = Tensor::cat(vec![f(|t| &t.agnostic, a), f(|t| &t.pose, a), f(|t| &t.garment_mask, b)], 1);
    let target_mask = garment_mask_of(s_p.forward(&mut gi, &s_in).logits);
    // Content target: T_W warping B's in-shop garment onto A's garment region as T_P sees it.
    let t_in = Tensor::cat(vec![f(|t| &t.agnostic, a), f(|t| &t.pose, a), f(|t| &t.cloth_mask, b)], 1);
    let teacher_mask = garment_mask_of(t_p.forward(&mut gi, &t_in).logits);
    let content = t_w.forward(&mut gi, &f(|t| &t.cloth, b), &f(|t| &t.cloth_mask, b), &teacher_mask, &f(|t| &t.pose, a));
    let constant = |t: Tensor<4>| Tensor::<4>::from_data(t.into_data(), device);
    let (target_mask, content_garment, content_mask) = (constant(target_mask), constant(content.garment), constant(content.mask));

    let mut g = Eager::new(device);
    let fd = |pick: fn(&PersonTensors) -> &ndarray::Array3<f32>, of: &[PersonTensors]| batch::field(of, pick, device);
    let out = s_w.forward(&mut g, &fd(|t| &t.garment, b), &fd(|t| &t.garment_mask, b), &fd(|t| &t.pose, b), &target_mask, &fd(|t| &t.pose, a));
    // L_align: the STN's aligned mask against the target, and their pixel ratio.
    let ratio = (out.aligned_mask.clone().sum().add_scalar(1.0) / target_mask.clone().sum().add_scalar(1.0)).sub_scalar(1.0).abs().reshape([1]);
    let align = l1(out.aligned_mask.clone(), target_mask.clone()) + ratio;
    // L_sc against the teacher's warp, L_reg on every level's flow.
    let sc = l1(out.warped.mask.clone(), content_mask) + l1(out.warped.garment.clone(), content_garment);
    let (mut tv1, mut tv2) = (align.clone().mul_scalar(0.0), align.clone().mul_scalar(0.0));
    for offset in &out.warped.pyramid.offsets {
        let (a1, a2) = smoothness(offset);
        tv1 = tv1 + a1;
        tv2 = tv2 + a2;
    }
    let reg = tv1.mul_scalar(config.tv1) + tv2.mul_scalar(config.tv2);
    (align.clone() + sc.clone() + reg.clone(), vec![("align", align), ("sc", sc), ("reg", reg)])
}
