//! One loader for real and synthetic data: the VITON-HD / HR-VITON layout, both folder-name
//! variants, parsing as palette, gray or colour images, dense pose as part index or VITON-HD's
//! colour rendering. A broken sample is skipped with one warning naming its file and counted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use gstgarmenttransfer::contract::POSE_PARTS;

use super::files::{Image8, dimensions, read_gray, read_ids, read_rgb};
use super::layout::{CLOTH, CLOTH_MASK, DENSEPOSE, IMAGE, OPENPOSE, PARSE, TRAIN_PAIRS, TRANSFER, TRANSFER_PAIRS, TRANSFER_PARSE};
use super::{DataError, cihp, densepose};
use crate::rng::Rng;

const EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// The files of one person.
#[derive(Debug, Clone)]
pub struct SampleFiles {
    pub name: String,
    pub image: PathBuf,
    pub cloth: PathBuf,
    pub cloth_mask: PathBuf,
    pub parse: PathBuf,
    pub densepose: PathBuf,
    pub keypoints: Option<PathBuf>,
}

/// A true transfer result: sample `a` wearing sample `b`'s upper garment.
#[derive(Debug, Clone)]
pub struct TransferTruth {
    pub a: usize,
    pub b: usize,
    pub image: PathBuf,
    pub parse: PathBuf,
}

/// A sample that was left out, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// One person, decoded, at the files' resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonSample {
    pub name: String,
    pub width: u32,
    pub height: u32,
    /// RGB, row-major.
    pub image: Vec<u8>,
    /// CIHP ids as stored.
    pub cihp: Vec<u8>,
    /// DensePose part index, 0..=24.
    pub densepose: Vec<u8>,
    /// The upper garment in shop (RGB) and its mask (0 or 255).
    pub cloth: Vec<u8>,
    pub cloth_mask: Vec<u8>,
    /// COCO-18 keypoints when the layout has them.
    pub keypoints: Option<Vec<[f32; 3]>>,
}

impl PersonSample {
    /// Parsing groups (DESIGN.md section 2) of every pixel.
    pub fn parsing(&self) -> Vec<u8> {
        self.cihp.iter().map(|&id| cihp::group(id).id()).collect()
    }

    /// This sample at `width` x `height`: pictures resampled bilinearly (half-pixel centres),
    /// labels and masks by nearest neighbour so they stay labels.
    pub fn resized(&self, width: u32, height: u32) -> PersonSample {
        if (width, height) == (self.width, self.height) {
            return self.clone();
        }
        let (sw, sh) = (self.width as f32 / width as f32, self.height as f32 / height as f32);
        let scale_kp = |k: &[f32; 3]| [k[0] / sw, k[1] / sh, k[2]];
        PersonSample {
            name: self.name.clone(),
            width,
            height,
            image: resize_rgb(&self.image, self.width, self.height, width, height),
            cihp: resize_nearest(&self.cihp, self.width, self.height, width, height),
            densepose: resize_nearest(&self.densepose, self.width, self.height, width, height),
            cloth: resize_rgb(&self.cloth, self.width, self.height, width, height),
            cloth_mask: resize_nearest(&self.cloth_mask, self.width, self.height, width, height),
            keypoints: self.keypoints.as_ref().map(|k| k.iter().map(scale_kp).collect()),
        }
    }
}

pub fn resize_rgb(data: &[u8], w: u32, h: u32, nw: u32, nh: u32) -> Vec<u8> {
    match image::RgbImage::from_raw(w, h, data.to_vec()) {
        Some(img) => image::imageops::resize(&img, nw, nh, image::imageops::FilterType::Triangle).into_raw(),
        None => vec![0; (nw * nh * 3) as usize],
    }
}

pub fn resize_nearest(data: &[u8], w: u32, h: u32, nw: u32, nh: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity((nw * nh) as usize);
    for y in 0..nh {
        let sy = (((y as f32 + 0.5) * h as f32 / nh as f32) as u32).min(h - 1);
        for x in 0..nw {
            let sx = (((x as f32 + 0.5) * w as f32 / nw as f32) as u32).min(w - 1);
            out.push(data[(sy * w + sx) as usize]);
        }
    }
    out
}

/// A dataset folder, indexed: the samples whose files exist and agree in size.
pub struct Dataset {
    pub root: PathBuf,
    pub samples: Vec<SampleFiles>,
    pub transfers: Vec<TransferTruth>,
    skipped: Mutex<Vec<Skipped>>,
}

fn find(dir: &Path, stem: &str) -> Option<PathBuf> {
    EXTENSIONS.iter().map(|e| dir.join(format!("{stem}.{e}"))).find(|p| p.is_file())
}

fn stem(name: &str) -> &str {
    Path::new(name).file_stem().and_then(|s| s.to_str()).unwrap_or(name)
}

impl Dataset {
    /// Index the dataset at `root`. Samples come from `train_pairs.txt` when it exists (its
    /// first column), else from every picture in `image/`.
    pub fn open(root: &Path) -> Result<Dataset, DataError> {
        let first_dir = |names: &[&str]| names.iter().map(|n| root.join(n)).find(|p| p.is_dir());
        let image_dir = root.join(IMAGE);
        let parse_dir = first_dir(&PARSE).unwrap_or_else(|| root.join(PARSE[0]));
        let openpose_dir = first_dir(&OPENPOSE);
        let names = sample_names(root, &image_dir)?;

        let mut skipped = Vec::new();
        let mut skipped_names = std::collections::HashSet::new();
        let mut samples = Vec::new();
        for name in names {
            match index_sample(root, &name, &image_dir, &parse_dir, openpose_dir.as_deref()) {
                Ok(files) => samples.push(files),
                Err(skip) => {
                    log::warn!("skipping sample {name}: {}: {}", skip.path.display(), skip.reason);
                    skipped.push(skip);
                    skipped_names.insert(name);
                }
            }
        }
        if samples.is_empty() {
            return Err(DataError::Empty { folder: root.to_path_buf(), skipped: skipped.len() });
        }
        let transfers = index_transfers(root, &samples, &skipped_names, &mut skipped);
        Ok(Dataset { root: root.to_path_buf(), samples, transfers, skipped: Mutex::new(skipped) })
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Decode sample `i`.
    pub fn load(&self, i: usize) -> Result<PersonSample, DataError> {
        let f = &self.samples[i];
        let image = read_rgb(&f.image)?;
        let (w, h) = (image.width, image.height);
        let same_size = |img: Image8, path: &Path| -> Result<Image8, DataError> {
            if (img.width, img.height) != (w, h) {
                return Err(DataError::Invalid {
                    path: path.to_path_buf(),
                    reason: format!("size {}x{} differs from the person image's {w}x{h}", img.width, img.height),
                });
            }
            Ok(img)
        };
        let cihp = same_size(read_ids(&f.parse, cihp::id_of_colour)?, &f.parse)?;
        check_ids(&cihp.data, w, cihp::CLASSES as u8 - 1, &f.parse, "CIHP id")?;
        let densepose = same_size(read_ids(&f.densepose, densepose::part_of_colour)?, &f.densepose)?;
        check_ids(&densepose.data, w, POSE_PARTS as u8 - 1, &f.densepose, "DensePose part")?;
        let cloth = same_size(read_rgb(&f.cloth)?, &f.cloth)?;
        let cloth_mask = same_size(read_gray(&f.cloth_mask)?, &f.cloth_mask)?;
        let keypoints = match &f.keypoints {
            Some(p) => Some(read_keypoints(p)?),
            None => None,
        };
        Ok(PersonSample {
            name: f.name.clone(),
            width: w,
            height: h,
            image: image.data,
            cihp: cihp.data,
            densepose: densepose.data,
            cloth: cloth.data,
            // JPEG masks are not exactly 0 / 255: threshold at the middle.
            cloth_mask: cloth_mask.data.iter().map(|&m| if m >= 128 { 255 } else { 0 }).collect(),
            keypoints,
        })
    }

    /// Decode sample `i`, or record it as skipped (one warning naming the file) and return `None`.
    pub fn load_or_skip(&self, i: usize) -> Option<PersonSample> {
        match self.load(i) {
            Ok(s) => Some(s),
            Err(e) => {
                let path = match &e {
                    DataError::Io { path, .. } | DataError::Decode { path, .. } | DataError::Invalid { path, .. } => path.clone(),
                    DataError::Empty { folder, .. } => folder.clone(),
                };
                log::warn!("skipping sample {}: {e}", self.samples[i].name);
                if let Ok(mut s) = self.skipped.lock() {
                    s.push(Skipped { path, reason: e.to_string() });
                }
                None
            }
        }
    }

    /// The true transfer result `t`: RGB and CIHP ids.
    pub fn load_transfer(&self, t: &TransferTruth) -> Result<(Image8, Image8), DataError> {
        Ok((read_rgb(&t.image)?, read_ids(&t.parse, cihp::id_of_colour)?))
    }

    /// `n` random transfer pairs (A, B) with A != B, reproducible from `seed`.
    pub fn random_pairs(&self, n: usize, seed: u64) -> Vec<(usize, usize)> {
        let count = self.len();
        if count < 2 {
            return Vec::new();
        }
        let mut rng = Rng::derive(seed, 0x5041_4952, 0);
        (0..n)
            .map(|_| {
                let a = rng.below(count);
                (a, (a + 1 + rng.below(count - 1)) % count)
            })
            .collect()
    }

    /// Everything skipped so far: while indexing and while loading.
    pub fn skipped(&self) -> Vec<Skipped> {
        self.skipped.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// One line for the end of a run: how many samples were used and how many were skipped.
    pub fn summary(&self) -> String {
        let skipped = self.skipped();
        let mut s = format!("{}: {} samples, {} skipped", self.root.display(), self.len(), skipped.len());
        for k in skipped.iter().take(5) {
            s.push_str(&format!("\n  {}: {}", k.path.display(), k.reason));
        }
        if skipped.len() > 5 {
            s.push_str(&format!("\n  ... and {} more", skipped.len() - 5));
        }
        s
    }
}

fn sample_names(root: &Path, image_dir: &Path) -> Result<Vec<String>, DataError> {
    let pairs = root.join(TRAIN_PAIRS);
    if pairs.is_file() {
        let text = std::fs::read_to_string(&pairs).map_err(|source| DataError::Io { path: pairs.clone(), source })?;
        let mut names: Vec<String> =
            text.lines().filter_map(|l| l.split_whitespace().next()).map(|n| stem(n).to_string()).collect();
        names.dedup();
        return Ok(names);
    }
    let entries = std::fs::read_dir(image_dir).map_err(|source| DataError::Io { path: image_dir.to_path_buf(), source })?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().and_then(|e| e.to_str()).is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str())))
        .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_string))
        .collect();
    names.sort();
    Ok(names)
}

fn index_sample(
    root: &Path,
    name: &str,
    image_dir: &Path,
    parse_dir: &Path,
    openpose_dir: Option<&Path>,
) -> Result<SampleFiles, Skipped> {
    let need = |dir: &Path| {
        find(dir, name).ok_or_else(|| Skipped {
            path: dir.join(format!("{name}.png")),
            reason: format!("missing (looked for {name}.png, .jpg, .jpeg)"),
        })
    };
    let files = SampleFiles {
        name: name.to_string(),
        image: need(image_dir)?,
        cloth: need(&root.join(CLOTH))?,
        cloth_mask: need(&root.join(CLOTH_MASK))?,
        parse: need(parse_dir)?,
        densepose: need(&root.join(DENSEPOSE))?,
        keypoints: openpose_dir.map(|d| d.join(format!("{name}_keypoints.json"))).filter(|p| p.is_file()),
    };
    let size = |p: &Path| dimensions(p).map_err(|e| Skipped { path: p.to_path_buf(), reason: format!("unreadable: {e}") });
    let want = size(&files.image)?;
    for p in [&files.cloth, &files.cloth_mask, &files.parse, &files.densepose] {
        let got = size(p)?;
        if got != want {
            return Err(Skipped {
                path: p.to_path_buf(),
                reason: format!("size {}x{} differs from the person image's {}x{}", got.0, got.1, want.0, want.1),
            });
        }
    }
    Ok(files)
}

fn index_transfers(
    root: &Path,
    samples: &[SampleFiles],
    skipped_names: &std::collections::HashSet<String>,
    skipped: &mut Vec<Skipped>,
) -> Vec<TransferTruth> {
    let list = root.join(TRANSFER_PAIRS);
    let Ok(text) = std::fs::read_to_string(&list) else {
        return Vec::new();
    };
    let index: HashMap<&str, usize> = samples.iter().enumerate().map(|(i, s)| (s.name.as_str(), i)).collect();
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let [a, b, result] = cols[..] else {
            if !line.trim().is_empty() {
                skipped.push(Skipped { path: list.clone(), reason: format!("line {}: expected 'A B RESULT'", n + 1) });
            }
            continue;
        };
        let (Some(&a), Some(&b)) = (index.get(stem(a)), index.get(stem(b))) else {
            // A person already skipped (and warned about) takes their transfers along silently.
            if ![a, b].iter().all(|n| index.contains_key(stem(n)) || skipped_names.contains(stem(n))) {
                skipped.push(Skipped { path: list.clone(), reason: format!("line {}: {a} or {b} is not in the dataset", n + 1) });
            }
            continue;
        };
        let image = root.join(TRANSFER).join(result);
        let parse = root.join(TRANSFER_PARSE).join(result);
        match (image.is_file(), parse.is_file()) {
            (true, true) => out.push(TransferTruth { a, b, image, parse }),
            (false, _) => skipped.push(Skipped { path: image, reason: "missing".into() }),
            (_, false) => skipped.push(Skipped { path: parse, reason: "missing".into() }),
        }
    }
    out
}

fn check_ids(ids: &[u8], width: u32, max: u8, path: &Path, what: &str) -> Result<(), DataError> {
    match ids.iter().position(|&v| v > max) {
        None => Ok(()),
        Some(i) => Err(DataError::Invalid {
            path: path.to_path_buf(),
            reason: format!("{what} {} at ({}, {}), expected 0..={max}", ids[i], i as u32 % width, i as u32 / width),
        }),
    }
}

fn read_keypoints(path: &Path) -> Result<Vec<[f32; 3]>, DataError> {
    let invalid = |reason: String| DataError::Invalid { path: path.to_path_buf(), reason };
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| invalid(format!("not JSON: {e}")))?;
    let flat = v["people"][0]["pose_keypoints_2d"]
        .as_array()
        .ok_or_else(|| invalid("expected people[0].pose_keypoints_2d".into()))?;
    let nums: Option<Vec<f32>> = flat.iter().map(|x| x.as_f64().map(|x| x as f32)).collect();
    let nums = nums.ok_or_else(|| invalid("pose_keypoints_2d holds a non-number".into()))?;
    if nums.len() % 3 != 0 {
        return Err(invalid(format!("pose_keypoints_2d has {} values, expected a multiple of 3", nums.len())));
    }
    Ok(nums.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect())
}
