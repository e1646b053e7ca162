//! The loss curves of a run, drawn to PNG with `plotters`: one panel per loss term, the
//! iteration on x, the loss on a log axis on y, the raw values faint and a moving average bold,
//! so a person sees at a glance whether and how fast each term falls.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use super::run::{RunDir, RunError};

/// DejaVu Sans Mono (assets/DejaVuSansMono.LICENSE): text needs a font, and a bundled one draws
/// the same curves on every machine.
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSansMono.ttf");
const PANEL: (u32, u32) = (760, 240);
const COLOURS: [RGBColor; 7] =
    [RGBColor(31, 119, 180), RGBColor(214, 39, 40), RGBColor(44, 160, 44), RGBColor(148, 103, 189), RGBColor(255, 127, 14), RGBColor(23, 190, 207), RGBColor(140, 86, 75)];

/// Draw the loss curves of `run` into the PNG `path`.
pub fn draw(run: &RunDir, path: &Path) -> Result<(), RunError> {
    let invalid = |why: String| RunError::Invalid { path: path.to_path_buf(), why };
    // Registering twice is harmless; a font that does not parse is a broken build.
    register_font("sans-serif", FontStyle::Normal, FONT).map_err(|_| invalid("the bundled font does not parse".into()))?;
    let losses = run.read_losses();
    let mut names: Vec<String> = Vec::new();
    for (_, terms) in &losses {
        for (k, _) in terms {
            if !names.contains(k) && k != "phase" {
                names.push(k.clone());
            }
        }
    }
    let (w, h) = (PANEL.0, PANEL.1 * names.len().max(1) as u32);
    let mut pixels = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (w, h)).into_drawing_area();
        let panels = root.split_evenly((names.len().max(1), 1));
        for (k, (name, area)) in names.iter().zip(&panels).enumerate() {
            panel(area, name, &losses, COLOURS[k % COLOURS.len()]).map_err(|e| invalid(format!("drawing '{name}': {e}")))?;
        }
        root.present().map_err(|e| invalid(e.to_string()))?;
    }
    image::save_buffer(path, &pixels, w, h, image::ExtendedColorType::Rgb8).map_err(|e| invalid(e.to_string()))
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

/// One term's panel: its values per iteration (faint) and their moving average (bold).
fn panel(area: &Area<'_>, name: &str, losses: &[(usize, Vec<(String, f32)>)], colour: RGBColor) -> Result<(), Box<dyn std::error::Error>> {
    let points: Vec<(f64, f64)> = losses
        .iter()
        .filter_map(|(i, t)| t.iter().find(|(n, _)| n == name).map(|(_, v)| (*i as f64, (*v as f64).max(1e-8))))
        .filter(|(_, v)| v.is_finite())
        .collect();
    if points.is_empty() {
        return Ok(());
    }
    let window = (points.len() / 20).max(1);
    let smooth: Vec<(f64, f64)> = (0..points.len())
        .map(|i| {
            let s = &points[i.saturating_sub(window)..=i];
            (points[i].0, s.iter().map(|p| p.1).sum::<f64>() / s.len() as f64)
        })
        .collect();
    let (x0, x1) = (points[0].0, points[points.len() - 1].0.max(points[0].0 + 1.0));
    let (lo, hi) = points.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let (lo, hi) = (lo * 0.9, (hi * 1.1).max(lo * 1.2));
    let last = smooth.last().map_or(f64::NAN, |p| p.1);
    let mut chart = ChartBuilder::on(area)
        .caption(format!("{name}: {:.4} -> {last:.4} (moving average)", points[0].1), ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(34)
        .y_label_area_size(70)
        // The y axis is log10 of the loss, labelled with the loss itself: evenly spaced labels
        // however few decades the run spans.
        .build_cartesian_2d(x0..x1, lo.log10()..hi.log10())?;
    chart
        .configure_mesh()
        .x_desc("iteration")
        .y_desc(format!("{name} (log)"))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_labels(8)
        .y_label_formatter(&|l| {
            let v = 10f64.powf(*l);
            if v >= 0.01 { format!("{v:.3}") } else { format!("{v:.1e}") }
        })
        .label_style(("sans-serif", 12))
        .draw()?;
    let log = |p: &(f64, f64)| (p.0, p.1.log10());
    chart.draw_series(LineSeries::new(points.iter().map(log), colour.mix(0.3)))?;
    chart.draw_series(LineSeries::new(smooth.iter().map(log), colour.stroke_width(2)))?;
    Ok(())
}
