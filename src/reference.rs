//! The reference: a photo of person B wearing the garment to transfer. Prepared once (parser and
//! dense pose on it), kept at model resolution for the networks and at full resolution so the
//! composite can sample the garment sharply.

use std::path::{Path, PathBuf};

use image::ImageDecoder;
use ndarray::Array4;

use crate::contract::{POSE_PARTS, ParsingGroup};
use crate::files::{FileError, Links, READ_TIMEOUT, read_regular};
use crate::frame::{Letterbox, RgbImage};
use crate::inputs::{batch, mask, one_hot};
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
    /// Full resolution RGB.
    pub image: RgbImage,
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
            garment: &input * &garment_mask,
            garment_mask,
            pose: batch(one_hot(pose_ids, POSE_PARTS, h, w)),
            parsing,
            fit,
            image,
        })
    }
}
