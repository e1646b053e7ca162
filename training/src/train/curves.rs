//! The loss curves of a run, drawn to PNG.

use std::path::Path;

use super::run::{RunDir, RunError};

/// Draw the loss curves: one panel per term, log-scaled, the raw values faint and a moving
/// average bold, so a person sees at a glance whether and how fast each term falls.
pub fn draw(run: &RunDir, path: &Path) -> Result<(), RunError> {
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
