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

/// Draw the loss curves: one panel per term, log-scaled, the raw values faint and a moving
/// average bold, so a person sees at a glance whether and how fast each term falls.
pub fn draw_curves(run: &RunDir, path: &Path) -> Result<(), RunError> {
    use tiny_skia::{Color, Paint, PathBuilder, Pixmap, Rect, Stroke, Transform};
    let losses = run.read_losses();
    let mut names: Vec<String> = Vec::new();
    for (_, terms) in &losses {
        for (k, _) in terms {
            if !names.contains(k) {
                names.push(k.clone());
            }
        }
    }
    let (pw, ph, gap) = (480.0f32, 180.0f32, 12.0f32);
    let height = (names.len().max(1) as f32 * (ph + gap) + gap) as u32;
    let invalid = |why: &str| RunError::Invalid { path: path.to_path_buf(), why: why.into() };
    let mut pm = Pixmap::new((pw + 2.0 * gap) as u32, height).ok_or_else(|| invalid("empty plot"))?;
    pm.fill(Color::WHITE);
    let palette = [[31, 119, 180], [214, 39, 40], [44, 160, 44], [148, 103, 189], [255, 127, 14], [23, 190, 207], [140, 86, 75]];
    for (k, name) in names.iter().enumerate() {
        let top = gap + k as f32 * (ph + gap);
        let mut frame = Paint::default();
        frame.set_color_rgba8(235, 235, 235, 255);
        if let Some(r) = Rect::from_xywh(gap, top, pw, ph) {
            pm.fill_rect(r, &frame, Transform::identity(), None);
        }
        let pts: Vec<(f32, f32)> = losses
            .iter()
            .filter_map(|(i, t)| t.iter().find(|(n, _)| n == name).map(|(_, v)| (*i as f32, v.max(1e-8).log10())))
            .collect();
        if pts.len() < 2 {
            continue;
        }
        let (x0, x1) = (pts[0].0, pts[pts.len() - 1].0.max(pts[0].0 + 1.0));
        let (ymin, ymax) = pts.iter().fold((f32::MAX, f32::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
        let yspan = (ymax - ymin).max(1e-3);
        // Decade grid lines.
        let mut grid = Paint::default();
        grid.set_color_rgba8(200, 200, 200, 255);
        let mut d = ymin.floor();
        while d <= ymax.ceil() {
            let y = top + ph - (d - ymin) / yspan * (ph - 34.0) - 5.0;
            if y > top + 24.0 && y < top + ph {
                if let Some(r) = Rect::from_xywh(gap, y, pw, 1.0) {
                    pm.fill_rect(r, &grid, Transform::identity(), None);
                }
                let label = format!("1E{}", d as i32);
                let mut ink = Paint::default();
                ink.set_color_rgba8(120, 120, 120, 255);
                crate::font::draw(&mut pm, &label, gap + pw - crate::font::width(&label, 1.0) - 4.0, y - 9.0, 1.0, &ink);
            }
            d += 1.0;
        }
        let to_xy = |(x, y): (f32, f32)| (gap + (x - x0) / (x1 - x0) * pw, top + ph - (y - ymin) / yspan * (ph - 34.0) - 5.0);
        let c = palette[k % palette.len()];
        let window = (pts.len() / 20).max(1);
        let smooth: Vec<(f32, f32)> = (0..pts.len())
            .map(|i| {
                let lo = i.saturating_sub(window);
                let s = &pts[lo..=i];
                (pts[i].0, s.iter().map(|p| p.1).sum::<f32>() / s.len() as f32)
            })
            .collect();
        // What the panel shows: the term, its first value and the smoothed last, the iterations.
        let value = |v: f32| if v >= 0.01 { format!("{v:.4}") } else { format!("{v:.2e}") };
        let last = smooth.last().map(|p| 10f32.powf(p.1)).unwrap_or(f32::NAN);
        let label = format!("{name}  {} -> {}  ITER {}-{}", value(10f32.powf(pts[0].1)), value(last), x0 as usize, x1 as usize);
        let mut ink = Paint::default();
        ink.set_color_rgba8(40, 40, 40, 255);
        crate::font::draw(&mut pm, &label, gap + 6.0, top + 6.0, 2.0, &ink);
        for (series, alpha, width) in [(&pts, 70u8, 1.0f32), (&smooth, 255, 2.0)] {
            let mut pb = PathBuilder::new();
            for (i, p) in series.iter().enumerate() {
                let (x, y) = to_xy(*p);
                if i == 0 { pb.move_to(x, y) } else { pb.line_to(x, y) }
            }
            if let Some(line) = pb.finish() {
                let mut paint = Paint { anti_alias: true, ..Paint::default() };
                paint.set_color_rgba8(c[0], c[1], c[2], alpha);
                pm.stroke_path(&line, &paint, &Stroke { width, ..Stroke::default() }, Transform::identity(), None);
            }
        }
    }
    pm.save_png(path).map_err(|e| invalid(&e.to_string()))
}
