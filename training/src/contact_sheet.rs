//! A contact sheet of a dataset: one row per person - image, garment in shop, parsing,
//! dense pose, the reference person B and the true result of the person wearing B's garment -
//! drawn from the files through the loader, so it shows what training will read.

use std::path::Path;

use crate::data::files::{Image8, write_png};
use crate::synth::writer::rgb;
use crate::data::{DataError, Dataset, cihp, densepose, loader::resize_rgb};

/// Columns of the sheet, left to right.
pub const COLUMNS: [&str; 6] = ["image", "cloth", "parsing", "densepose", "reference B", "A in B's garment (truth)"];

/// Draw up to `rows` people of `dataset` into a PNG at `out`, each cell `cell_height` pixels
/// high. Returns the number of rows drawn.
pub fn contact_sheet(dataset: &Dataset, rows: usize, cell_height: u32, out: &Path) -> Result<usize, DataError> {
    let picked: Vec<usize> = (0..dataset.len()).take(rows).collect();
    let first = dataset.load(picked[0])?;
    let mut lines = Vec::new();
    for &i in &picked {
        // The loader skips a sample of another size than the dataset's.
        let Some(s) = dataset.load_or_skip(i) else { continue };
        let colour = |ids: &[u8], palette: &dyn Fn(u8) -> [u8; 3]| ids.iter().flat_map(|&v| palette(v)).collect::<Vec<u8>>();
        let mut cells: Vec<Option<Vec<u8>>> = vec![
            Some(s.image.clone()),
            Some(s.cloth.clone()),
            Some(colour(&s.cihp, &|v| cihp::PALETTE.get(v as usize).copied().unwrap_or([255, 255, 255]))),
            Some(colour(&s.densepose, &densepose::colour_of_part)),
            None,
            None,
        ];
        if let Some(t) = dataset.transfers.iter().find(|t| t.a == i) {
            if let (Some(b), Ok((truth, _))) = (dataset.load_or_skip(t.b), dataset.load_transfer(t)) {
                if (b.width, b.height) == (s.width, s.height) {
                    cells[4] = Some(b.image);
                }
                if (truth.width, truth.height) == (s.width, s.height) {
                    cells[5] = Some(truth.data);
                }
            }
        }
        lines.push(cells);
    }
    write_png(out, &grid(&lines, first.width, first.height, cell_height), None)?;
    Ok(lines.len())
}

/// A sheet of pictures, `rows[r][c]` an RGB picture of `width` x `height` (or an empty cell),
/// each drawn `cell_height` pixels high with a white gap around it.
pub fn grid(rows: &[Vec<Option<Vec<u8>>>], width: u32, height: u32, cell_height: u32) -> Image8 {
    const GAP: u32 = 4;
    let cell_w = ((width as f32 * cell_height as f32 / height as f32).round() as u32).max(1);
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0) as u32;
    let (sheet_w, sheet_h) = (columns * (cell_w + GAP) + GAP, rows.len() as u32 * (cell_height + GAP) + GAP);
    let mut sheet = Image8 { width: sheet_w, height: sheet_h, channels: 3, data: vec![255; (sheet_w * sheet_h * 3) as usize] };
    for (row, cells) in rows.iter().enumerate() {
        for (col, cell) in cells.iter().enumerate() {
            let Some(pixels) = cell else { continue };
            let small = resize_rgb(pixels, width, height, cell_w, cell_height);
            blit(&mut sheet, &rgb(cell_w, cell_height, &small), GAP + col as u32 * (cell_w + GAP), GAP + row as u32 * (cell_height + GAP));
        }
    }
    sheet
}

fn blit(dst: &mut Image8, src: &Image8, x0: u32, y0: u32) {
    for y in 0..src.height {
        let d = ((y0 + y) * dst.width + x0) as usize * 3;
        let s = (y * src.width) as usize * 3;
        let n = src.width as usize * 3;
        dst.data[d..d + n].copy_from_slice(&src.data[s..s + n]);
    }
}

/// Run the `contact-sheet` subcommand.
pub fn run(args: &crate::cli::ContactSheetArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.rows >= 1 && args.cell >= 1, "--rows and --cell must be at least 1");
    let dataset = Dataset::open(&args.dir)?;
    let drawn = contact_sheet(&dataset, args.rows, args.cell, &args.out)?;
    println!("{} ({drawn} rows; columns: {})", args.out.display(), COLUMNS.join(", "));
    eprintln!("{}", dataset.summary());
    Ok(())
}
