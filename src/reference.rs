//! The reference: a photo of person B wearing the garment to transfer. Prepared once (parser and
//! dense pose on it), kept at model resolution for the networks and at full resolution so the
//! composite can sample the garment sharply.

use std::path::{Path, PathBuf};

use image::ImageDecoder;
use ndarray::Array4;
use rayon::prelude::*;

use crate::contract::{POSE_PARTS, ParsingGroup};
use crate::files::{FileError, Links, READ_TIMEOUT, read_regular};
use crate::frame::{Letterbox, RgbImage};
use crate::inputs::{batch, byte, mask, one_hot};
use crate::maps::{Tap, bilinear, push_pull};
use crate::models::{ModelError, Models};
use crate::person::{self, Look};

/// A garment smaller than this share of the model's pixels is not a garment.
pub const MIN_GARMENT_SHARE: f32 = 0.005;
/// A garment fewer than this many model rows tall is a speck, not a garment someone wears.
pub const MIN_GARMENT_ROWS: usize = 4;

/// Limits on a reference photo (and a background plate): the file, the decoded picture, and the
/// picture's shape. Stated in the `reference` property's text and the README.
pub const MAX_IMAGE_FILE_BYTES: u64 = 64 << 20;
pub const MAX_IMAGE_SIDE: u32 = 16384;
pub const MAX_IMAGE_PIXELS: u64 = 50_000_000;
/// Memory the decoder may allocate (50 megapixels of RGBA, and then some).
pub const MAX_DECODE_BYTES: u64 = 256 << 20;
pub const MIN_IMAGE_SIDE: usize = 64;
/// A photo of a person is not a strip: longer side over shorter side at most this.
pub const MAX_ASPECT: f32 = 4.0;

#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("reference {path}: cannot read the image: {why}")]
    Unreadable { path: PathBuf, why: String },
    #[error("reference {path}: {why}")]
    Implausible { path: PathBuf, why: String },
    #[error("reference {path}: no upper garment found ({pixels} garment pixels of {total}, expected at least {needed}); give a photo of a person wearing the garment")]
    NoGarment { path: PathBuf, pixels: usize, total: usize, needed: usize },
    #[error("reference {0}")]
    File(#[from] FileError),
    #[error(transparent)]
    Model(#[from] ModelError),
}

pub struct Reference {
    /// Unique in the process: what the sessions' held copies of its tensors are keyed by
    /// (`Models::run_with_reference`).
    pub id: u64,
    pub path: PathBuf,
    /// The photo at full resolution with everything but the garment painted over in the
    /// garment's own colours (`garment_photo`): what the composite samples through the flow.
    pub garment_photo: RgbImage,
    pub fit: Letterbox,
    /// M_B, parsing groups at model resolution.
    pub parsing: Vec<u8>,
    /// I_B masked by M^g_B: `[1, 3, H, W]`.
    pub garment: Array4<f32>,
    /// M^g_B: `[1, 1, H, W]`.
    pub garment_mask: Array4<f32>,
    /// P_B one-hot: `[1, 25, H, W]`.
    pub pose: Array4<f32>,
}

/// Read a photo: a regular file within the size cap and the time limit, PNG or JPEG.
pub fn read_image(path: &Path) -> Result<RgbImage, ReferenceError> {
    let bytes = read_regular(path, MAX_IMAGE_FILE_BYTES, Links::Follow, READ_TIMEOUT)?;
    decode_image(&bytes, path)
}

/// Decode a PNG or JPEG within the limits above, EXIF orientation applied. `path` names it in
/// errors.
pub fn decode_image(bytes: &[u8], path: &Path) -> Result<RgbImage, ReferenceError> {
    let unreadable = |why: String| ReferenceError::Unreadable { path: path.to_path_buf(), why };
    let format = match image::guess_format(bytes) {
        Ok(f @ (image::ImageFormat::Png | image::ImageFormat::Jpeg)) => f,
        Ok(other) => return Err(unreadable(format!("{other:?} is not supported, expected PNG or JPEG"))),
        Err(_) => return Err(unreadable("not a PNG or JPEG file".into())),
    };
    if format == image::ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(unreadable("the JPEG is truncated (no end-of-image marker after its last scan)".into()));
    }
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| unreadable(e.to_string()))?;
    let (w, h) = decoder.dimensions();
    if w as u64 * h as u64 > MAX_IMAGE_PIXELS {
        return Err(unreadable(format!("{w}x{h} is more than the {MAX_IMAGE_PIXELS}-pixel limit")));
    }
    // A broken EXIF block is no reason to refuse the photo: it is shown as stored.
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = image::DynamicImage::from_decoder(decoder).map_err(|e| unreadable(e.to_string()))?;
    img.apply_orientation(orientation);
    let img = img.into_rgb8();
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w.min(h) < MIN_IMAGE_SIDE {
        return Err(ReferenceError::Implausible {
            path: path.to_path_buf(),
            why: format!("{w}x{h} is smaller than the {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE} minimum for a photo of a person"),
        });
    }
    if w.max(h) as f32 > MAX_ASPECT * w.min(h) as f32 {
        return Err(ReferenceError::Implausible {
            path: path.to_path_buf(),
            why: format!("{w}x{h} is a strip, not a photo of a person (sides differ more than {MAX_ASPECT}:1)"),
        });
    }
    Ok(RgbImage { width: w, height: h, data: img.into_raw() })
}

/// A JPEG's entropy-coded data never holds `FF D9` (a data `FF` is followed by `00`), so a
/// complete file has its end-of-image marker after the start of its last scan (`FF DA`); an
/// EXIF thumbnail's own markers come before the main image's scan.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let last = |marker: u8| bytes.windows(2).rposition(|w| w[0] == 0xFF && w[1] == marker);
    match (last(0xDA), last(0xD9)) {
        (Some(sos), Some(eoi)) => eoi > sos,
        (None, _) => true, // No scan at all: the decoder says what is wrong.
        (Some(_), None) => false,
    }
}

impl Reference {
    /// Read the photo at `path` and run the parser and dense pose on it (`models` needs only
    /// those two).
    pub fn prepare(path: &Path, models: &mut Models) -> Result<Reference, ReferenceError> {
        let image = read_image(path)?;
        Reference::from_image(path, image, models)
    }

    pub fn from_image(path: &Path, image: RgbImage, models: &mut Models) -> Result<Reference, ReferenceError> {
        // Any framing: the chain's search for the person (the whole photo, then a crop around
        // the largest person in it), taking anyone the parser finds, however small.
        let look = person::search(models, &image, |l| l.person.is_some())?;
        let pose_ids = person::pose_parts(models, &look.input)?;
        let parsing = look.parsing();
        let Look { fit, input, .. } = look;
        Reference::from_maps(path, image, fit, input, parsing, &pose_ids)
    }

    /// The reference from its maps at model resolution: the model input `input` of `image`
    /// through `fit`, its parsing groups and dense-pose parts (the parser's and dense pose's,
    /// or a dataset's true ones).
    pub fn from_maps(path: &Path, image: RgbImage, fit: Letterbox, input: Array4<f32>, parsing: Vec<u8>, pose_ids: &[u8]) -> Result<Reference, ReferenceError> {
        let (h, w) = (fit.height, fit.width);
        let garment_mask = batch(mask(&parsing, &[ParsingGroup::UpperGarment], h, w));
        let pixels = garment_mask.iter().filter(|&&v| v > 0.5).count();
        let needed = (MIN_GARMENT_SHARE * (h * w) as f32).ceil() as usize;
        if pixels < needed {
            return Err(ReferenceError::NoGarment { path: path.to_path_buf(), pixels, total: h * w, needed });
        }
        let rows = (0..h).filter(|&y| parsing[y * w..(y + 1) * w].contains(&ParsingGroup::UpperGarment.id())).count();
        if rows < MIN_GARMENT_ROWS {
            return Err(ReferenceError::Implausible {
                path: path.to_path_buf(),
                why: format!("the upper garment found is {rows} model rows tall, expected at least {MIN_GARMENT_ROWS}: give a photo of a person wearing the garment"),
            });
        }
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        Ok(Reference {
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            path: path.to_path_buf(),
            garment_photo: garment_photo(image, &fit, &input, &garment_mask),
            garment: &input * &garment_mask,
            garment_mask,
            pose: batch(one_hot(pose_ids, POSE_PARTS, h, w)),
            parsing,
            fit,
        })
    }
}

/// B's photo with every pixel that is not garment painted over in the garment's own colours,
/// push-pulled from its pixels at model resolution. The composite samples this through S_W's
/// flow, so a flow that lands on B's arm in front of the garment, on the background past its
/// edge, or on an edge pixel that is half background still reads garment, never B's skin or
/// scene. The photo stays where the garment is sure (the model-resolution mask, read
/// bilinearly, is 1) and gives way to the fill towards its edge (0.5 and below).
fn garment_photo(mut image: RgbImage, fit: &Letterbox, input: &Array4<f32>, garment_mask: &Array4<f32>) -> RgbImage {
    let (h, w) = (fit.height, fit.width);
    let n = h * w;
    let known = garment_mask.as_slice().expect("built in standard layout");
    let input = input.as_standard_layout();
    let input = input.as_slice().expect("standard layout");
    let mut fill: [Vec<f32>; 3] = std::array::from_fn(|c| input[c * n..(c + 1) * n].iter().map(|&v| byte(v)).collect());
    push_pull(&mut fill, known, w, h);
    let iw = image.width;
    // The letterbox maps x and y apart: a column's taps serve every row.
    let columns: Vec<Tap> = (0..iw).map(|x| Tap::new(fit.to_model(x as f32 + 0.5, 0.0).0, w)).collect();
    image.data.par_chunks_mut(iw * 3).enumerate().for_each(|(y, row)| {
        let ty = Tap::new(fit.to_model(0.0, y as f32 + 0.5).1, h);
        for (px, &tx) in row.chunks_exact_mut(3).zip(&columns) {
            let sure = (bilinear(known, w, tx, ty) * 2.0 - 1.0).clamp(0.0, 1.0);
            if sure < 1.0 {
                for (c, v) in px.iter_mut().enumerate() {
                    *v = (*v as f32 * sure + bilinear(&fill[c], w, tx, ty) * (1.0 - sure)).round().clamp(0.0, 255.0) as u8;
                }
            }
        }
    });
    image
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_garment_photo_shows_garment_where_b_s_arm_crosses_it_and_past_its_edge() {
        // 128x128 photo, 32x32 model: a red garment (model pixels 8..24 square) with a blue arm
        // across it (model rows 14..18), which the parsing calls skin, on a grey background.
        let (size, m) = (128, 32);
        let fit = Letterbox::new(size, size, m, m);
        let red = [200, 30, 30];
        let mut image = RgbImage { width: size, height: size, data: vec![128; size * size * 3] };
        for y in 32..96 {
            for x in 32..96 {
                let colour = if (56..72).contains(&y) { [20, 20, 220] } else { red };
                image.data[(y * size + x) * 3..][..3].copy_from_slice(&colour);
            }
        }
        let garment_mask =
            Array4::from_shape_fn((1, 1, m, m), |(_, _, y, x)| ((8..24).contains(&x) && (8..24).contains(&y) && !(14..18).contains(&y)) as u8 as f32);
        let input = fit.model_input(&image);
        let photo = garment_photo(image, &fit, &input, &garment_mask);
        let px = |img: &RgbImage, x: usize, y: usize| -> [u8; 3] { img.data[(y * size + x) * 3..][..3].try_into().unwrap() };
        let near = |p: [u8; 3], q: [u8; 3], tol: i32| p.iter().zip(q).all(|(&a, b)| (a as i32 - b as i32).abs() <= tol);
        // Inside the garment, away from its edges: the photo itself.
        assert_eq!(px(&photo, 48, 40), red);
        // On the arm, and on the background past the garment's edge: garment colour.
        for (x, y) in [(64, 64), (40, 60), (100, 64), (64, 20)] {
            assert!(near(px(&photo, x, y), red, 8), "pixel ({x}, {y}) is {:?}, the garment {red:?}", px(&photo, x, y));
        }
    }
}
