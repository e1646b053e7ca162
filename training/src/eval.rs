//! Evaluation against the synthetic world's true transfers, through the element's own
//! per-frame chain (the plugin crate's library): the numbers are those of what ships.

use std::path::Path;
use std::sync::Arc;

use gstgarmenttransfer::chain::{Chain, GivenMaps, OutputMode, Outcome};
use gstgarmenttransfer::contract::{PARSING_GROUPS, ParsingGroup};
use gstgarmenttransfer::frame::{FrameMut, PixelFormat};
use gstgarmenttransfer::models::{ExecutionProvider, Models};
use gstgarmenttransfer::reference::Reference;
use serde::Serialize;

use std::collections::BTreeMap;

use crate::data::{Dataset, cihp};
use crate::nn::default_device;
use crate::onnx::{Precision, export_models};
use crate::nn::network::Network;
use crate::train::Stage;
use crate::train::checkpoint;
use crate::train::stages::student_parsing::phase_snapshot;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Metrics {
    pub samples: usize,
    /// Transfer parsing M'_A against the true transfer's parsing.
    pub parsing_miou: f64,
    pub garment_iou: f64,
    pub skin_iou: f64,
    /// The composite against the true transfer.
    pub composite_ssim: f64,
    pub composite_psnr: f64,
    pub composite_mse: f64,
    /// SSIM over the windows that hold the true person: comparable across framings, where the
    /// whole frame's is dominated by background the element leaves alone.
    pub person_ssim: f64,
    /// The warped garment inside the true garment region: mean absolute error (0..1) and SSIM
    /// (both images blacked out elsewhere).
    pub garment_l1: f64,
    pub garment_ssim: f64,
    /// Where the composite's squared error lies, by the true transfer's regions: shares of
    /// `composite_mse` (they sum to 1) in the upper garment, the upper skin (arms), the rest of
    /// the person and the background. What limits PSNR, region by region.
    pub error_share: ErrorShare,
    /// The same squared error split by where the truth and S_P's parsing put the upper garment:
    /// where both do (what the warp's sampling costs), where only the truth does (garment S_P
    /// missed), where only S_P does (garment drawn where there is none), and elsewhere.
    pub garment_split: GarmentSplit,
    /// Frames the element passed through (it found nobody).
    pub passed_through: usize,
}

/// Shares of the squared error by region (`Metrics::error_share`).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ErrorShare {
    pub garment: f64,
    pub skin: f64,
    pub rest_of_person: f64,
    pub background: f64,
}

/// Shares of the squared error by garment agreement (`Metrics::garment_split`).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct GarmentSplit {
    pub agreed: f64,
    pub missed: f64,
    pub extra: f64,
    pub elsewhere: f64,
}

impl ErrorShare {
    /// The region of a true parsing group: 0 garment, 1 skin, 2 rest of the person, 3 background.
    fn region(group: u8) -> usize {
        match group {
            g if g == ParsingGroup::UpperGarment.id() => 0,
            g if g == ParsingGroup::UpperSkin.id() => 1,
            g if g == ParsingGroup::Background.id() => 3,
            _ => 2,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error(transparent)]
    Model(#[from] gstgarmenttransfer::models::ModelError),
    #[error("{0}: no true transfers (transfer_pairs.txt) to evaluate against; write the data with `garment-train synth`")]
    NoTruth(std::path::PathBuf),
    #[error("{0}")]
    Reference(String),
}

fn iou(a: &[u8], b: &[u8], g: u8) -> Option<f64> {
    let (mut inter, mut union) = (0usize, 0usize);
    for (&x, &y) in a.iter().zip(b) {
        inter += (x == g && y == g) as usize;
        union += (x == g || y == g) as usize;
    }
    (union > 0).then(|| inter as f64 / union as f64)
}

/// Mean IoU over the classes `0..classes` that either map holds.
fn mean_iou(predicted: &[u8], truth: &[u8], classes: usize) -> f64 {
    let ious: Vec<f64> = (0..classes as u8).filter_map(|c| iou(predicted, truth, c)).collect();
    ious.iter().sum::<f64>() / ious.len().max(1) as f64
}

/// SSIM of two RGB images over 8x8 windows (stride 4) of the luma, constants of Wang et al.
pub fn ssim(a: &[u8], b: &[u8], w: usize, h: usize) -> f64 {
    ssim_in(a, b, w, h, None)
}

/// SSIM over the windows that hold at least one pixel of `region` (all windows when `None`).
pub fn ssim_in(a: &[u8], b: &[u8], w: usize, h: usize, region: Option<&[bool]>) -> f64 {
    let luma = |p: &[u8], i: usize| 0.299 * p[i * 3] as f64 + 0.587 * p[i * 3 + 1] as f64 + 0.114 * p[i * 3 + 2] as f64;
    let (c1, c2) = ((0.01f64 * 255.0).powi(2), (0.03f64 * 255.0).powi(2));
    let (mut total, mut n) = (0.0, 0);
    for y0 in (0..h.saturating_sub(7)).step_by(4) {
        for x0 in (0..w.saturating_sub(7)).step_by(4) {
            if let Some(r) = region
                && !(y0..y0 + 8).any(|y| r[y * w + x0..y * w + x0 + 8].iter().any(|&v| v))
            {
                continue;
            }
            let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for y in y0..y0 + 8 {
                for x in x0..x0 + 8 {
                    let (va, vb) = (luma(a, y * w + x), luma(b, y * w + x));
                    sa += va;
                    sb += vb;
                    saa += va * va;
                    sbb += vb * vb;
                    sab += va * vb;
                }
            }
            let m = 64.0;
            let (ma, mb) = (sa / m, sb / m);
            let (va, vb, cov) = (saa / m - ma * ma, sbb / m - mb * mb, sab / m - ma * mb);
            total += ((2.0 * ma * mb + c1) * (2.0 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
            n += 1;
        }
    }
    if n == 0 { 1.0 } else { total / n as f64 }
}

/// One frame's output against its truth.
/// A picture (RGB, `w` x `h`) against the truth inside `region`: the mean absolute difference
/// (0..1 per channel) and the SSIM of the two with everything outside the region black.
fn garment_scores(pixels: &[u8], truth: &[u8], region: &[bool], w: usize, h: usize) -> (f64, f64) {
    let inside = |img: &[u8]| -> Vec<u8> { img.chunks(3).zip(region).flat_map(|(p, &r)| if r { [p[0], p[1], p[2]] } else { [0; 3] }).collect() };
    let (ours, true_garment) = (inside(pixels), inside(truth));
    let area = region.iter().filter(|&&r| r).count().max(1) as f64;
    let l1 = ours.iter().zip(&true_garment).map(|(&x, &y)| (x as f64 - y as f64).abs()).sum::<f64>() / (area * 3.0 * 255.0);
    (l1, ssim_in(&ours, &true_garment, w, h, Some(region)))
}

#[derive(Debug, Clone, Serialize)]
pub struct FrameScores {
    pub parsing_miou: f64,
    /// `None` where neither the truth nor the prediction has the group.
    pub garment_iou: Option<f64>,
    pub skin_iou: Option<f64>,
    pub composite_ssim: f64,
    pub composite_mse: f64,
    pub person_ssim: f64,
    pub garment_l1: f64,
    pub garment_ssim: f64,
    /// `composite_mse` split by `ErrorShare::region` of the true transfer (the four sum to it).
    pub region_mse: [f64; 4],
    /// `composite_mse` split as `GarmentSplit` (the four sum to it).
    pub split_mse: [f64; 4],
}

impl FrameScores {
    /// `pixels` (the output) against `truth` (RGB, `w` x `h`); `truth_groups` and `predicted`
    /// are parsing groups per pixel.
    pub fn of(pixels: &[u8], truth: &[u8], truth_groups: &[u8], predicted: &[u8], w: usize, h: usize) -> FrameScores {
        let region: Vec<bool> = truth_groups.iter().map(|&g| g == ParsingGroup::UpperGarment.id()).collect();
        let (garment_l1, garment_ssim) = garment_scores(pixels, truth, &region, w, h);
        let person: Vec<bool> = truth_groups.iter().map(|&g| g != ParsingGroup::Background.id()).collect();
        let (mut region_mse, mut split_mse) = ([0.0; 4], [0.0; 4]);
        let garment = ParsingGroup::UpperGarment.id();
        for (((p, t), &g), &q) in pixels.chunks(3).zip(truth.chunks(3)).zip(truth_groups).zip(predicted) {
            let e = p.iter().zip(t).map(|(&x, &y)| (x as f64 - y as f64).powi(2)).sum::<f64>();
            region_mse[ErrorShare::region(g)] += e;
            split_mse[match (g == garment, q == garment) {
                (true, true) => 0,
                (true, false) => 1,
                (false, true) => 2,
                (false, false) => 3,
            }] += e;
        }
        region_mse.iter_mut().chain(&mut split_mse).for_each(|e| *e /= pixels.len() as f64);
        FrameScores {
            region_mse,
            split_mse,
            parsing_miou: mean_iou(predicted, truth_groups, PARSING_GROUPS),
            garment_iou: iou(predicted, truth_groups, ParsingGroup::UpperGarment.id()),
            skin_iou: iou(predicted, truth_groups, ParsingGroup::UpperSkin.id()),
            composite_ssim: ssim(pixels, truth, w, h),
            person_ssim: ssim_in(pixels, truth, w, h, Some(&person)),
            composite_mse: region_mse.iter().sum(),
            garment_l1,
            garment_ssim,
        }
    }
}

/// How the chain runs in an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// As the element runs it.
    Element,
    /// The affine-paste baseline: B's garment pasted by its bounding box instead of warped.
    AffinePaste,
    /// Fed the frame's true parsing and dense pose instead of the parser's and dense pose's:
    /// what is left of the gap without the front end's errors.
    TrueFrontEnd,
    /// Fed the true parsing only (the dense-pose network's pose): what the parser costs.
    TrueParsing,
    /// Fed the true dense pose only (the parser's parsing): what the dense-pose network costs.
    TrueDensePose,
}

/// Run the models in `models` on every true transfer of `data` (at most `limit`), as `variant`.
pub fn evaluate(models: &Path, data: &Path, limit: usize, variant: Variant) -> Result<Metrics, EvalError> {
    evaluate_with_sheet(models, data, limit, variant, 0).map(|(m, _)| m)
}

/// The columns of `eval --sheet`, left to right.
pub const SHEET_COLUMNS: [&str; 5] = ["person A", "reference B", "output", "truth", "error"];

/// The pictures of some evaluated pairs, `rows[r]` in the order of `SHEET_COLUMNS`, each
/// `width` x `height` RGB.
#[derive(Default)]
pub struct Sheet {
    pub width: u32,
    pub height: u32,
    pub rows: Vec<Vec<Option<Vec<u8>>>>,
}

/// `evaluate`, and the pictures of the first `sheet_rows` pairs (the error: the absolute
/// differences of output and truth summed over the channels, in red on white).
pub fn evaluate_with_sheet(models: &Path, data: &Path, limit: usize, variant: Variant, sheet_rows: usize) -> Result<(Metrics, Sheet), EvalError> {
    let dataset = Dataset::open(data)?;
    if dataset.transfers.is_empty() {
        return Err(EvalError::NoTruth(data.to_path_buf()));
    }
    let threads = gstgarmenttransfer::runtime::pool_threads();
    let mut chain = Chain::new(Models::load_own(models, ExecutionProvider::Cpu, 0, threads)?);
    chain.back.affine_paste = variant == Variant::AffinePaste;
    let (mut totals, mut passed_through, mut sheet) = (Totals::default(), 0, Sheet::default());
    for t in dataset.transfers.iter().take(limit) {
        let (Some(a), Ok((truth, truth_parse))) = (dataset.load_or_skip(t.a), dataset.load_transfer(t)) else { continue };
        let Some(reference) = reference_of(&dataset, t, &mut chain.front.models) else { continue };
        // Unrelated pictures: nothing to follow or smooth from the last one.
        chain.reset();
        let (true_parsing, true_pose) = match variant {
            Variant::TrueFrontEnd => (true, true),
            Variant::TrueParsing => (true, false),
            Variant::TrueDensePose => (false, true),
            Variant::Element | Variant::AffinePaste => (false, false),
        };
        if true_parsing || true_pose {
            let parsing = true_parsing.then(|| a.cihp.iter().map(|&id| cihp::group(id).id()).collect());
            let pose = true_pose.then(|| a.densepose.clone());
            chain.front.given = Some(GivenMaps { width: a.width as usize, height: a.height as usize, parsing, pose });
        }
        let done = run_frame(&mut chain, &reference, &a.image, &truth.data, &truth_parse.data, a.width as usize, a.height as usize)?;
        passed_through += (done.outcome == Outcome::PassedThrough) as usize;
        totals.add(&done.scores);
        if sheet.rows.len() < sheet_rows {
            let error: Vec<u8> = done
                .pixels
                .chunks_exact(3)
                .zip(truth.data.chunks_exact(3))
                .flat_map(|(o, t)| {
                    let e = o.iter().zip(t).map(|(&a, &b)| (a as i32 - b as i32).abs()).sum::<i32>();
                    let fade = 255 - e.clamp(0, 255) as u8;
                    [255, fade, fade]
                })
                .collect();
            let b = dataset.load_or_skip(t.b).map(|b| b.image);
            (sheet.width, sheet.height) = (a.width, a.height);
            sheet.rows.push(vec![Some(a.image.clone()), b, Some(done.pixels), Some(truth.data.clone()), Some(error)]);
        }
    }
    Ok((Metrics { passed_through, ..totals.means() }, sheet))
}

/// The reference of transfer pair `t` (person B), prepared with `models`; a picture it cannot
/// use is a warning and `None` (the pair is skipped).
pub fn reference_of(dataset: &Dataset, t: &crate::data::TransferTruth, models: &mut Models) -> Option<Arc<Reference>> {
    Reference::prepare(&dataset.samples[t.b].image, models).map(Arc::new).map_err(|e| log::warn!("{e}")).ok()
}

/// Run `pixels` (RGB, `w` x `h`) through `chain` in place.
pub fn process_rgb(chain: &mut Chain, reference: &Arc<Reference>, pixels: &mut [u8], w: usize, h: usize) -> Result<Outcome, EvalError> {
    let mut frame = FrameMut { data: pixels, width: w, height: h, stride: w * 3, format: PixelFormat::Rgb };
    Ok(chain.process(&mut frame, reference, None, OutputMode::Composite)?)
}

/// One frame through the chain, scored against its truth.
struct Done {
    outcome: Outcome,
    /// The output.
    pixels: Vec<u8>,
    truth_groups: Vec<u8>,
    scores: FrameScores,
}

/// Run `image` (RGB, `w` x `h`) through `chain` and score the output against `truth` and its
/// CIHP parsing `truth_cihp`.
fn run_frame(chain: &mut Chain, reference: &Arc<Reference>, image: &[u8], truth: &[u8], truth_cihp: &[u8], w: usize, h: usize) -> Result<Done, EvalError> {
    let mut pixels = image.to_vec();
    let outcome = process_rgb(chain, reference, &mut pixels, w, h)?;
    let truth_groups: Vec<u8> = truth_cihp.iter().map(|&id| cihp::group(id).id()).collect();
    let predicted = match &outcome {
        Outcome::Transferred(maps) => maps.transfer_parsing_at(w, h),
        Outcome::PassedThrough => vec![ParsingGroup::Background.id(); w * h],
    };
    let scores = FrameScores::of(&pixels, truth, &truth_groups, &predicted, w, h);
    Ok(Done { outcome, pixels, truth_groups, scores })
}

/// Running sums of frame scores; IoUs are averaged over the frames where the group occurs.
#[derive(Default)]
struct Totals {
    n: usize,
    miou: f64,
    garment_iou: (f64, usize),
    skin_iou: (f64, usize),
    ssim: f64,
    person_ssim: f64,
    mse: f64,
    garment_l1: f64,
    garment_ssim: f64,
    region_mse: [f64; 4],
    split_mse: [f64; 4],
}

impl Totals {
    fn add(&mut self, f: &FrameScores) {
        self.n += 1;
        self.miou += f.parsing_miou;
        for (sum, v) in [(&mut self.garment_iou, f.garment_iou), (&mut self.skin_iou, f.skin_iou)] {
            if let Some(v) = v {
                sum.0 += v;
                sum.1 += 1;
            }
        }
        self.ssim += f.composite_ssim;
        self.person_ssim += f.person_ssim;
        self.mse += f.composite_mse;
        self.garment_l1 += f.garment_l1;
        self.garment_ssim += f.garment_ssim;
        self.region_mse.iter_mut().zip(f.region_mse).for_each(|(sum, v)| *sum += v);
        self.split_mse.iter_mut().zip(f.split_mse).for_each(|(sum, v)| *sum += v);
    }

    fn means(&self) -> Metrics {
        let n = self.n.max(1) as f64;
        let mse = self.mse / n;
        Metrics {
            samples: self.n,
            parsing_miou: self.miou / n,
            garment_iou: self.garment_iou.0 / self.garment_iou.1.max(1) as f64,
            skin_iou: self.skin_iou.0 / self.skin_iou.1.max(1) as f64,
            composite_ssim: self.ssim / n,
            composite_psnr: 10.0 * (255.0f64 * 255.0 / mse.max(1e-10)).log10(),
            composite_mse: mse,
            person_ssim: self.person_ssim / n,
            garment_l1: self.garment_l1 / n,
            garment_ssim: self.garment_ssim / n,
            error_share: {
                let [garment, skin, rest_of_person, background] = self.region_mse.map(|e| e / self.mse.max(1e-10));
                ErrorShare { garment, skin, rest_of_person, background }
            },
            garment_split: {
                let [agreed, missed, extra, elsewhere] = self.split_mse.map(|e| e / self.mse.max(1e-10));
                GarmentSplit { agreed, missed, extra, elsewhere }
            },
            passed_through: 0,
        }
    }
}

/// The baselines and diagnostics against which `models` is judged, by name: the affine paste
/// (same models, no warp) and the chain fed the true parsing and dense pose; with a run folder,
/// every trained S_P baseline found in it (`garment-train train baselines`) and S_P as each
/// phase of Algorithm 1 left it, each put in place of the shipped S_P (the other four networks
/// as `models` has them), exported into `run/baseline_models/NAME` and evaluated like the
/// shipped models.
pub fn evaluate_baselines(models: &Path, run: Option<&Path>, data: &Path, limit: usize) -> Result<BTreeMap<String, Metrics>, Box<dyn std::error::Error>> {
    let mut out = BTreeMap::new();
    out.insert("affine_paste".to_string(), evaluate(models, data, limit, Variant::AffinePaste)?);
    out.insert("true_front_end".to_string(), evaluate(models, data, limit, Variant::TrueFrontEnd)?);
    out.insert("true_parsing".to_string(), evaluate(models, data, limit, Variant::TrueParsing)?);
    out.insert("true_dense_pose".to_string(), evaluate(models, data, limit, Variant::TrueDensePose)?);
    let Some(run) = run else { return Ok(out) };
    let device = default_device();
    // Read (and checked against the architecture) once; each row swaps S_P in a copy.
    let (shipped, preset, manifest) = crate::onnx::import::load(models, &device)?;
    let training = crate::onnx::import::provenance(&manifest);
    let snapshots = [
        ("self_supervised", checkpoint::model_file(run, Stage::BaselineSelfSupervised.name())),
        ("oracle", checkpoint::model_file(run, Stage::BaselineOracle.name())),
        ("student_phase1", phase_snapshot(&run.join(Stage::StudentParsing.name()), 1)),
        ("student_phase2", phase_snapshot(&run.join(Stage::StudentParsing.name()), 2)),
    ];
    for (key, file) in snapshots {
        if !file.exists() {
            continue;
        }
        let mut nets = crate::onnx::InferenceNets { nets: shipped.nets.clone() };
        let student = Network::TransferParsing(checkpoint::load_weights(preset.parsing(&device), &file)?);
        for net in nets.nets.iter_mut().filter(|n| n.spec().name == "transfer_parsing") {
            *net = student.clone();
        }
        let dir = run.join("baseline_models").join(key);
        export_models(&nets, preset, Precision::Fp32, manifest.height, manifest.width, &dir, Some(&training))?;
        out.insert(key.to_string(), evaluate(&dir, data, limit, Variant::Element)?);
    }
    Ok(out)
}

/// Parsing alone, on the dataset's true inputs at model resolution (no parser, no dense pose):
/// T_P (A's agnostic map and pose, B's in-shop garment mask: the try-on teacher) and the
/// shipped S_P (the same, with B's garment as B wears it), each against the true parsing of A
/// wearing B's garment. How good the teacher is, and how far the student is from it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ParsingMetrics {
    pub samples: usize,
    pub parsing_miou: f64,
    pub garment_iou: f64,
    pub skin_iou: f64,
    /// Rows (at model resolution) between the lowest garment row predicted and the true one's,
    /// mean over the pairs where both have a garment.
    pub hem_rows_from_truth: f64,
    /// The same against A's *own* garment: a network that copies A's hem instead of placing B's
    /// is near 0 here and far from the truth (see `contract::agnostic_hides`).
    pub hem_rows_from_own: f64,
}

/// The lowest row holding group `g`.
fn hem(parsing: &[u8], w: usize, g: u8) -> Option<f64> {
    parsing.iter().rposition(|&id| id == g).map(|i| (i / w) as f64)
}

#[derive(Default)]
struct ParsingSums {
    miou: Vec<f64>,
    garment: Vec<f64>,
    skin: Vec<f64>,
    hem_truth: Vec<f64>,
    hem_own: Vec<f64>,
}

/// The shipped student `name` of the models folder and the teacher (T_P or T_W) trained in
/// `run`, with the folder's model resolution `(h, w)`: what the rows on true inputs compare.
fn student_and_teacher(models: &Path, run: &Path, name: &str, teacher: Stage, device: &burn::tensor::Device) -> Result<(Network, Network, usize, usize), Box<dyn std::error::Error>> {
    let (nets, preset, manifest) = crate::onnx::import::load(models, device)?;
    let student = nets.nets.into_iter().find(|n| n.spec().name == name).ok_or(format!("{}: no {name} network", models.display()))?;
    let file = checkpoint::model_file(run, teacher.name());
    let teacher = match teacher {
        Stage::TeacherParsing => Network::TeacherParsing(checkpoint::load_weights(preset.parsing(device), &file)?),
        Stage::TeacherWarp => Network::TeacherWarp(checkpoint::load_weights(preset.teacher_warp(device), &file)?),
        other => return Err(format!("{} is not a teacher", other.name()).into()),
    };
    Ok((student, teacher, manifest.height, manifest.width))
}

pub fn evaluate_parsing(models: &Path, run: &Path, data: &Path, limit: usize) -> Result<BTreeMap<String, ParsingMetrics>, Box<dyn std::error::Error>> {
    use burn::tensor::Tensor;
    use crate::nn::graph::Eager;
    let device = default_device();
    let (student, teacher, h, w) = student_and_teacher(models, run, "transfer_parsing", Stage::TeacherParsing, &device)?;
    let dataset = Dataset::open(data)?;
    let mut sums: BTreeMap<String, ParsingSums> = BTreeMap::new();
    let garment_id = ParsingGroup::UpperGarment.id();
    for t in dataset.transfers.iter().take(limit) {
        let (Some(a), Some(b), Ok((_, truth))) = (dataset.load_or_skip(t.a), dataset.load_or_skip(t.b), dataset.load_transfer(t)) else { continue };
        let a = a.resized(w as u32, h as u32);
        let (ta, tb) = (a.tensors(), b.resized(w as u32, h as u32).tensors());
        let own_hem = hem(&a.parsing(), w, garment_id);
        let truth: Vec<u8> = crate::data::loader::resize_nearest(&truth.data, truth.width, truth.height, w as u32, h as u32).iter().map(|&id| cihp::group(id).id()).collect();
        let tensor = |x: &ndarray::Array3<f32>| crate::onnx::check::to_tensor(&gstgarmenttransfer::inputs::batch(x.clone()), &device);
        for (key, net, garment) in [("teacher", &teacher, &tb.cloth_mask), ("student", &student, &tb.garment_mask)] {
            let logits: Tensor<4> = net.forward(&mut Eager::new(&device), &[tensor(&ta.agnostic), tensor(&ta.pose), tensor(garment)]).remove(0);
            let predicted = gstgarmenttransfer::maps::argmax(&crate::onnx::check::to_array(&logits).view());
            let e = sums.entry(key.to_string()).or_default();
            e.miou.push(mean_iou(&predicted, &truth, PARSING_GROUPS));
            e.garment.extend(iou(&predicted, &truth, garment_id));
            e.skin.extend(iou(&predicted, &truth, ParsingGroup::UpperSkin.id()));
            if let (Some(p), Some(t), Some(o)) = (hem(&predicted, w, garment_id), hem(&truth, w, garment_id), own_hem) {
                e.hem_truth.push((p - t).abs());
                e.hem_own.push((p - o).abs());
            }
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    Ok(sums
        .into_iter()
        .map(|(k, s)| {
            let m = ParsingMetrics {
                samples: s.miou.len(),
                parsing_miou: mean(&s.miou),
                garment_iou: mean(&s.garment),
                skin_iou: mean(&s.skin),
                hem_rows_from_truth: mean(&s.hem_truth),
                hem_rows_from_own: mean(&s.hem_own),
            };
            (k, m)
        })
        .collect())
}

/// The warps alone, on the dataset's true inputs at model resolution, both conditioned on the
/// true garment region of A wearing B's garment: T_W warping B's in-shop garment (the try-on
/// teacher), the shipped S_W warping B's garment as B wears it. Scored inside that region
/// against the true transfer: how good the warp teacher is, and how far the student is from it
/// (the chain's own warp is conditioned on S_P's region instead).
#[derive(Debug, Clone, Default, Serialize)]
pub struct WarpMetrics {
    pub samples: usize,
    /// Mean absolute difference (0..1 per channel) of the warped garment and the truth inside
    /// the true garment region.
    pub garment_l1: f64,
    /// SSIM of the two inside that region.
    pub garment_ssim: f64,
    /// The warped mask (above 0.5) against the true garment region.
    pub mask_iou: f64,
}

pub fn evaluate_warps(models: &Path, run: &Path, data: &Path, limit: usize) -> Result<BTreeMap<String, WarpMetrics>, Box<dyn std::error::Error>> {
    use crate::nn::graph::Eager;
    let device = default_device();
    let (student, teacher, h, w) = student_and_teacher(models, run, "warp", Stage::TeacherWarp, &device)?;
    let dataset = Dataset::open(data)?;
    let garment_id = ParsingGroup::UpperGarment.id();
    let mut sums: BTreeMap<&str, (Vec<f64>, Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for t in dataset.transfers.iter().take(limit) {
        let (Some(a), Some(b), Ok((image, parse))) = (dataset.load_or_skip(t.a), dataset.load_or_skip(t.b), dataset.load_transfer(t)) else { continue };
        let (ta, tb) = (a.resized(w as u32, h as u32).tensors(), b.resized(w as u32, h as u32).tensors());
        let truth = crate::data::loader::resize_rgb(&image.data, image.width, image.height, w as u32, h as u32);
        let region: Vec<bool> =
            crate::data::loader::resize_nearest(&parse.data, parse.width, parse.height, w as u32, h as u32).iter().map(|&id| cihp::group(id).id() == garment_id).collect();
        let target = ndarray::Array3::from_shape_fn((1, h, w), |(_, y, x)| region[y * w + x] as u8 as f32);
        let tensor = |x: &ndarray::Array3<f32>| crate::onnx::check::to_tensor(&gstgarmenttransfer::inputs::batch(x.clone()), &device);
        let cases = [
            ("teacher", &teacher, vec![tensor(&tb.cloth), tensor(&tb.cloth_mask), tensor(&target), tensor(&ta.pose)]),
            ("student", &student, vec![tensor(&tb.garment), tensor(&tb.garment_mask), tensor(&tb.pose), tensor(&target), tensor(&ta.pose)]),
        ];
        for (key, net, inputs) in cases {
            let out = net.forward(&mut Eager::new(&device), &inputs);
            let (garment, mask) = (crate::onnx::check::to_array(&out[0]), crate::onnx::check::to_array(&out[1]));
            let warped: Vec<u8> = (0..h * w).flat_map(|i| (0..3).map(move |c| (i, c))).map(|(i, c)| gstgarmenttransfer::inputs::byte(garment[[0, c, i / w, i % w]]).round().clamp(0.0, 255.0) as u8).collect();
            let (l1, ssim) = garment_scores(&warped, &truth, &region, w, h);
            let drawn: Vec<u8> = mask.iter().map(|&m| (m > 0.5) as u8).collect();
            let e = sums.entry(key).or_default();
            e.0.push(l1);
            e.1.push(ssim);
            // Neither the mask nor the region anywhere: nothing warped onto nothing scores 0.
            e.2.push(iou(&drawn, &region.iter().map(|&r| r as u8).collect::<Vec<_>>(), 1).unwrap_or(0.0));
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    Ok(sums.into_iter().map(|(k, (l1, ssim, iou))| (k.to_string(), WarpMetrics { samples: l1.len(), garment_l1: mean(&l1), garment_ssim: mean(&ssim), mask_iou: mean(&iou) })).collect())
}

/// The two front-end networks alone, on the dataset's people at model resolution: the parser
/// against the true parsing groups, dense pose against the true 25 parts. Run on held-out and
/// on training people, the difference tells whether a network lacks data or training.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FrontEndMetrics {
    pub samples: usize,
    /// Mean over people of the mean IoU over the groups either map holds.
    pub parser_miou: f64,
    /// The same over the 25 dense-pose parts (background included).
    pub dense_pose_miou: f64,
    /// Dense pose: the fraction of pixels given their true part.
    pub dense_pose_accuracy: f64,
    /// Dense pose: the body (any part) against the true body.
    pub dense_pose_body_iou: f64,
}

/// The parser and dense pose of a models folder as burn networks, run on a dataset's people at
/// model resolution (what `eval` scores them by, and what `estimate` writes).
pub struct FrontEnd {
    parser: Network,
    densepose: Network,
    device: burn::tensor::Device,
    pub height: usize,
    pub width: usize,
    /// The dense-pose file's hash, as the manifest records it.
    pub densepose_sha256: String,
}

impl FrontEnd {
    pub fn load(models: &Path) -> Result<FrontEnd, Box<dyn std::error::Error>> {
        let device = default_device();
        let (mut nets, _, manifest) = crate::onnx::import::load(models, &device)?;
        let mut take = |name: &str| -> Result<Network, String> {
            let i = nets.nets.iter().position(|n| n.spec().name == name).ok_or(format!("{}: no {name} network", models.display()))?;
            Ok(nets.nets.swap_remove(i))
        };
        let (parser, densepose) = (take("parser")?, take("densepose")?);
        let densepose_sha256 = manifest.models.get("densepose").map(|e| e.sha256.clone()).unwrap_or_default();
        Ok(FrontEnd { parser, densepose, device, height: manifest.height, width: manifest.width, densepose_sha256 })
    }

    /// `net`'s per-pixel argmax for `person`, who is at model resolution.
    fn predict(&self, net: &Network, person: &crate::data::PersonSample) -> Vec<u8> {
        use crate::nn::graph::Eager;
        let image = crate::onnx::check::to_tensor(&gstgarmenttransfer::inputs::batch(person.tensors().image), &self.device);
        let logits = net.forward(&mut Eager::new(&self.device), std::slice::from_ref(&image)).remove(0);
        gstgarmenttransfer::maps::argmax(&crate::onnx::check::to_array(&logits).view())
    }

    pub fn parsing(&self, person: &crate::data::PersonSample) -> Vec<u8> {
        self.predict(&self.parser, person)
    }

    pub fn dense_pose(&self, person: &crate::data::PersonSample) -> Vec<u8> {
        self.predict(&self.densepose, person)
    }
}

pub fn evaluate_front_end(models: &Path, data: &Path, limit: usize) -> Result<FrontEndMetrics, Box<dyn std::error::Error>> {
    use gstgarmenttransfer::contract::POSE_PARTS;
    let front = FrontEnd::load(models)?;
    let (h, w) = (front.height, front.width);
    let dataset = Dataset::open(data)?;
    let mut m = FrontEndMetrics::default();
    for i in 0..dataset.len().min(limit) {
        let Some(person) = dataset.load_or_skip(i) else { continue };
        let person = person.resized(w as u32, h as u32);
        let (parsing, pose) = (front.parsing(&person), front.dense_pose(&person));
        m.parser_miou += mean_iou(&parsing, &person.parsing(), PARSING_GROUPS);
        m.dense_pose_miou += mean_iou(&pose, &person.densepose, POSE_PARTS);
        m.dense_pose_accuracy += pose.iter().zip(&person.densepose).filter(|(p, t)| p == t).count() as f64 / pose.len() as f64;
        let body = |ids: &[u8]| ids.iter().map(|&id| (id > 0) as u8).collect::<Vec<u8>>();
        m.dense_pose_body_iou += iou(&body(&pose), &body(&person.densepose), 1).unwrap_or(1.0);
        m.samples += 1;
    }
    let n = m.samples.max(1) as f64;
    m.parser_miou /= n;
    m.dense_pose_miou /= n;
    m.dense_pose_accuracy /= n;
    m.dense_pose_body_iou /= n;
    Ok(m)
}

/// A video's numbers (`eval-video`): the per-frame metrics of `eval`, averaged, and flicker.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VideoMetrics {
    pub frames: usize,
    pub width: usize,
    pub height: usize,
    pub garment_iou: f64,
    pub skin_iou: f64,
    pub parsing_miou: f64,
    pub composite_ssim: f64,
    pub composite_psnr: f64,
    /// SSIM around the true person (see `Metrics::person_ssim`).
    pub person_ssim: f64,
    pub garment_l1: f64,
    /// Mean absolute change (0..255) of the output between consecutive frames, inside the true
    /// garment region of either frame.
    pub flicker: f64,
    /// The same change of the true transfers: what the motion itself accounts for.
    pub truth_flicker: f64,
    pub flicker_ratio: f64,
    pub passed_through: usize,
    pub follow_person: bool,
    pub temporal_smoothing: bool,
    pub per_frame: Vec<FrameScores>,
}

/// Mean absolute change between two RGB frames inside `region`.
fn change_in(a: &[u8], b: &[u8], region: &[bool]) -> Option<f64> {
    let (mut sum, mut n) = (0.0, 0usize);
    for (i, &r) in region.iter().enumerate() {
        if r {
            sum += (0..3).map(|c| (a[i * 3 + c] as f64 - b[i * 3 + c] as f64).abs()).sum::<f64>() / 3.0;
            n += 1;
        }
    }
    (n > 0).then(|| sum / n as f64)
}

/// Run the element's chain over a video written by `synth-video` (`frames/`, `transfer/`,
/// `transfer-parse/`, `reference.png`), frame after frame as the element does, and measure it
/// against the true transfers.
pub fn evaluate_video(models: &Path, data: &Path, follow: bool, temporal: bool) -> Result<VideoMetrics, EvalError> {
    use crate::data::files::{read_ids, read_rgb};
    let threads = gstgarmenttransfer::runtime::pool_threads();
    let mut chain = Chain::new(Models::load_own(models, ExecutionProvider::Cpu, 0, threads)?);
    chain.front.follow = follow;
    chain.front.temporal = temporal;
    let reference = Arc::new(Reference::prepare(&data.join("reference.png"), &mut chain.front.models).map_err(|e| EvalError::Reference(e.to_string()))?);
    let mut names: Vec<String> = std::fs::read_dir(data.join("frames"))
        .map_err(|source| crate::data::DataError::Io { path: data.join("frames"), source })?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".png"))
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(EvalError::NoTruth(data.join("frames")));
    }
    let mut m = VideoMetrics { follow_person: follow, temporal_smoothing: temporal, ..VideoMetrics::default() };
    let mut totals = Totals::default();
    let mut previous: Option<(Vec<u8>, Vec<u8>, Vec<bool>)> = None;
    let (mut flicker, mut truth_flicker, mut pairs) = (0.0, 0.0, 0usize);
    for name in &names {
        let frame = read_rgb(&data.join("frames").join(name))?;
        let truth = read_rgb(&data.join("transfer").join(name))?;
        let truth_parse = read_ids(&data.join("transfer-parse").join(name), cihp::id_of_colour)?;
        let (w, h) = (frame.width as usize, frame.height as usize);
        let done = run_frame(&mut chain, &reference, &frame.data, &truth.data, &truth_parse.data, w, h)?;
        m.passed_through += (done.outcome == Outcome::PassedThrough) as usize;
        totals.add(&done.scores);
        m.per_frame.push(done.scores);
        let garment: Vec<bool> = done.truth_groups.iter().map(|&g| g == ParsingGroup::UpperGarment.id()).collect();
        if let Some((out_before, truth_before, garment_before)) = &previous {
            let region: Vec<bool> = garment.iter().zip(garment_before).map(|(&a, &b)| a || b).collect();
            if let (Some(o), Some(t)) = (change_in(&done.pixels, out_before, &region), change_in(&truth.data, truth_before, &region)) {
                flicker += o;
                truth_flicker += t;
                pairs += 1;
            }
        }
        previous = Some((done.pixels, truth.data, garment));
        (m.width, m.height) = (w, h);
    }
    let means = totals.means();
    m.frames = means.samples;
    (m.parsing_miou, m.garment_iou, m.skin_iou) = (means.parsing_miou, means.garment_iou, means.skin_iou);
    (m.composite_ssim, m.composite_psnr, m.garment_l1) = (means.composite_ssim, means.composite_psnr, means.garment_l1);
    m.person_ssim = means.person_ssim;
    m.flicker = flicker / pairs.max(1) as f64;
    m.truth_flicker = truth_flicker / pairs.max(1) as f64;
    m.flicker_ratio = if m.truth_flicker > 0.0 { m.flicker / m.truth_flicker } else { 0.0 };
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hem_is_the_lowest_row_of_the_group() {
        let parsing = [0, 4, 0, 4, 4, 0, 0, 5, 0];
        assert_eq!(hem(&parsing, 3, 4), Some(1.0));
        assert_eq!(hem(&parsing, 3, 5), Some(2.0));
        assert_eq!(hem(&parsing, 3, 6), None);
    }

    #[test]
    fn ssim_is_one_for_equal_images_and_falls_with_noise() {
        let (w, h) = (32, 32);
        let a: Vec<u8> = (0..w * h * 3).map(|i| (i * 37 % 256) as u8).collect();
        assert!((ssim(&a, &a, w, h) - 1.0).abs() < 1e-9);
        let b: Vec<u8> = a.iter().enumerate().map(|(i, &v)| v.wrapping_add((i * 13 % 50) as u8)).collect();
        assert!(ssim(&a, &b, w, h) < 0.9);
        assert_eq!(iou(&[1, 1, 0], &[1, 0, 0], 1), Some(0.5));
        assert_eq!(iou(&[0, 0], &[0, 0], 3), None);
    }

    #[test]
    fn the_squared_error_splits_by_true_region_and_by_garment_agreement() {
        // Four pixels: garment in both, in the truth only, in S_P's only, in neither; each off
        // the truth by a different amount in one channel.
        let g = ParsingGroup::UpperGarment.id();
        let (truth_groups, predicted) = ([g, g, 0, 3], [g, 0, g, 0]);
        let truth = [100u8; 12];
        let mut out = truth;
        for (i, d) in [1u8, 2, 3, 4].into_iter().enumerate() {
            out[i * 3] += d;
        }
        let f = FrameScores::of(&out, &truth, &truth_groups, &predicted, 4, 1);
        assert_eq!(f.split_mse.map(|e| e * 12.0), [1.0, 4.0, 9.0, 16.0]);
        assert_eq!(f.region_mse.map(|e| e * 12.0), [5.0, 16.0, 0.0, 9.0]);
        assert!((f.split_mse.iter().sum::<f64>() - f.composite_mse).abs() < 1e-12);
    }
}

/// Run the `eval` subcommand: the models, and the baselines asked for; `--record` writes the
/// numbers into the models folder's manifest.
pub fn run(args: &crate::cli::EvalArgs) -> anyhow::Result<()> {
    let (models, data) = (&args.models, &args.data);
    // A sheet that cannot be written is said before the evaluation, not after it.
    if let Some(folder) = args.sheet.as_deref().and_then(Path::parent).filter(|f| !f.as_os_str().is_empty() && !f.is_dir()) {
        anyhow::bail!("--sheet: the folder {} does not exist", folder.display());
    }
    if args.sheet.is_some() {
        anyhow::ensure!(args.sheet_rows >= 1, "--sheet-rows {}: expected at least 1 pair", args.sheet_rows);
        anyhow::ensure!(args.sheet_cell >= 1, "--sheet-cell {}: expected a height of at least 1 pixel", args.sheet_cell);
    }
    let rows = if args.sheet.is_some() { args.sheet_rows } else { 0 };
    let (m, sheet) = evaluate_with_sheet(models, data, args.limit, Variant::Element, rows)?;
    if let Some(out) = &args.sheet {
        anyhow::ensure!(!sheet.rows.is_empty(), "--sheet {}: no pair of {} was evaluated", out.display(), data.display());
        crate::data::files::write_png(out, &crate::contact_sheet::grid(&sheet.rows, sheet.width, sheet.height, args.sheet_cell), None)?;
        eprintln!("{} ({} rows; columns: {})", out.display(), sheet.rows.len(), SHEET_COLUMNS.join(", "));
    }
    let others = if args.baselines.is_some() || args.affine_paste {
        evaluate_baselines(models, args.baselines.as_deref(), data, args.limit).map_err(|e| anyhow::anyhow!("{e}"))?
    } else {
        Default::default()
    };
    let mut v = serde_json::to_value(&m)?;
    if !others.is_empty() {
        v["baselines"] = serde_json::to_value(&others)?;
        v["front_end"] = serde_json::to_value(evaluate_front_end(models, data, args.limit).map_err(|e| anyhow::anyhow!("{e}"))?)?;
    }
    if let Some(run) = &args.baselines
        && checkpoint::model_file(run, Stage::TeacherParsing.name()).exists()
    {
        let parsing = evaluate_parsing(models, run, data, args.limit).map_err(|e| anyhow::anyhow!("{e}"))?;
        v["parsing_on_true_inputs"] = serde_json::to_value(&parsing)?;
    }
    if let Some(run) = &args.baselines
        && checkpoint::model_file(run, Stage::TeacherWarp.name()).exists()
    {
        let warps = evaluate_warps(models, run, data, args.limit).map_err(|e| anyhow::anyhow!("{e}"))?;
        v["warp_on_true_inputs"] = serde_json::to_value(&warps)?;
    }
    if args.record {
        let mut manifest = gstgarmenttransfer::manifest::Manifest::read(models)?;
        let mut recorded = v.clone();
        recorded["data"] = serde_json::json!(data.display().to_string());
        // The held-out set's generator seed and size, when `synth` wrote it.
        if let Ok(text) = std::fs::read_to_string(data.join(crate::data::layout::SYNTH)) {
            recorded["dataset"] = serde_json::from_str(&text)?;
        }
        recorded["command"] = serde_json::json!(std::env::args().collect::<Vec<_>>());
        // The record this one replaces stays, with those before it: rows this run did not
        // measure (the baselines of a run folder no longer at hand) are not lost, nor the
        // command that took them.
        if let Some(previous) = manifest.evaluation.take() {
            recorded["previous"] = previous;
        }
        manifest.evaluation = Some(recorded);
        manifest.write(models)?;
    }
    if args.json {
        println!("{v}");
        return Ok(());
    }
    // JSON numbers print with the precision asked for only as floats.
    let f = |x: &serde_json::Value| x.as_f64().unwrap_or(f64::NAN);
    if let Some(parsing) = v.get("parsing_on_true_inputs").and_then(|p| p.as_object()) {
        for (name, p) in parsing {
            println!(
                "{name} parsing on true inputs: mIoU {:.3}, garment IoU {:.3}, skin IoU {:.3}; hem {:.2} rows from the true one, {:.2} from A's own",
                f(&p["parsing_miou"]),
                f(&p["garment_iou"]),
                f(&p["skin_iou"]),
                f(&p["hem_rows_from_truth"]),
                f(&p["hem_rows_from_own"])
            );
        }
    }
    if let Some(warps) = v.get("warp_on_true_inputs").and_then(|p| p.as_object()) {
        for (name, p) in warps {
            println!(
                "{name} warp on true inputs: garment L1 {:.4}, SSIM {:.3}; warped mask IoU {:.3}",
                f(&p["garment_l1"]),
                f(&p["garment_ssim"]),
                f(&p["mask_iou"])
            );
        }
    }
    if let Some(fe) = v.get("front_end") {
        println!(
            "front end on {} people: parser mIoU {:.3}; dense pose mIoU {:.3}, pixel accuracy {:.3}, body IoU {:.3}",
            fe["samples"],
            f(&fe["parser_miou"]),
            f(&fe["dense_pose_miou"]),
            f(&fe["dense_pose_accuracy"]),
            f(&fe["dense_pose_body_iou"])
        );
    }
    for (name, m) in std::iter::once(("models", &m)).chain(others.iter().map(|(k, v)| (k.as_str(), v))) {
        println!("{name}: {} samples ({} passed through)", m.samples, m.passed_through);
        println!("  transfer parsing mIoU {:.3}, garment IoU {:.3}, skin IoU {:.3}", m.parsing_miou, m.garment_iou, m.skin_iou);
        println!("  warped garment L1 {:.4}, SSIM {:.3}", m.garment_l1, m.garment_ssim);
        println!("  composite SSIM {:.3}, PSNR {:.2} dB, MSE {:.1}", m.composite_ssim, m.composite_psnr, m.composite_mse);
        let e = &m.error_share;
        println!(
            "  squared error by true region: garment {:.0}%, skin {:.0}%, rest of the person {:.0}%, background {:.0}%",
            e.garment * 100.0,
            e.skin * 100.0,
            e.rest_of_person * 100.0,
            e.background * 100.0
        );
        let s = &m.garment_split;
        println!(
            "  by the upper garment of the truth and of S_P: both {:.0}%, the truth only {:.0}%, S_P only {:.0}%, neither {:.0}%",
            s.agreed * 100.0,
            s.missed * 100.0,
            s.extra * 100.0,
            s.elsewhere * 100.0
        );
    }
    Ok(())
}

/// Run the `eval-video` subcommand.
pub fn run_video(args: &crate::cli::EvalVideoArgs) -> anyhow::Result<()> {
    let m = evaluate_video(&args.models, &args.data, !args.no_follow, !args.no_temporal)?;
    if args.json {
        println!("{}", serde_json::to_string(&m)?);
        return Ok(());
    }
    println!("{}: {} frames at {}x{} ({} passed through)", args.data.display(), m.frames, m.width, m.height, m.passed_through);
    println!("  transfer parsing mIoU {:.3}, garment IoU {:.3}, skin IoU {:.3}", m.parsing_miou, m.garment_iou, m.skin_iou);
    println!("  composite SSIM {:.3} (around the person {:.3}), PSNR {:.2} dB, garment L1 {:.4}", m.composite_ssim, m.person_ssim, m.composite_psnr, m.garment_l1);
    println!("  flicker {:.2} (truth {:.2}): {:.2}x the truth's", m.flicker, m.truth_flicker, m.flicker_ratio);
    Ok(())
}
