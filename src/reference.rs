//! The reference: a photo of person B wearing the garment to transfer. Prepared once (parser and
//! dense pose on it), kept at model resolution for the networks and at full resolution so the
//! composite can sample the garment sharply.

use std::path::{Path, PathBuf};

use ndarray::Array4;

use crate::contract::{DENSEPOSE, PARSER, POSE_PARTS, ParsingGroup};
use crate::frame::{Letterbox, RgbImage};
use crate::maps::{argmax, mask_of, one_hot};
use crate::models::{ModelError, Models};

/// A garment smaller than this share of the model's pixels is not a garment.
pub const MIN_GARMENT_SHARE: f32 = 0.005;

#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("reference {path}: cannot read the image: {why}")]
    Unreadable { path: PathBuf, why: String },
    #[error("reference {path}: no upper garment found ({pixels} garment pixels of {total}, expected at least {needed}); give a photo of a person wearing the garment")]
    NoGarment { path: PathBuf, pixels: usize, total: usize, needed: usize },
    #[error(transparent)]
    Model(#[from] ModelError),
}

pub struct Reference {
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

pub fn read_image(path: &Path) -> Result<RgbImage, ReferenceError> {
    let unreadable = |why: String| ReferenceError::Unreadable { path: path.to_path_buf(), why };
    let img = image::ImageReader::open(path)
        .map_err(|e| unreadable(e.to_string()))?
        .with_guessed_format()
        .map_err(|e| unreadable(e.to_string()))?
        .decode()
        .map_err(|e| unreadable(e.to_string()))?
        .into_rgb8();
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w == 0 || h == 0 {
        return Err(unreadable("the image is empty".into()));
    }
    Ok(RgbImage { width: w, height: h, data: img.into_raw() })
}

impl Reference {
    pub fn prepare(path: &Path, models: &mut Models) -> Result<Reference, ReferenceError> {
        let image = read_image(path)?;
        let (h, w) = models.resolution();
        let fit = Letterbox::new(image.width, image.height, w, h);
        let input = fit.model_input(&image);
        let parsing = argmax(&models.run(&PARSER, &[input.view()])?[0].view());
        let pose_ids = argmax(&models.run(&DENSEPOSE, &[input.view()])?[0].view());
        let garment_mask = mask_of(&parsing, &[ParsingGroup::UpperGarment.id()], h, w);
        let pixels = garment_mask.iter().filter(|&&v| v > 0.5).count();
        let needed = (MIN_GARMENT_SHARE * (h * w) as f32).ceil() as usize;
        if pixels < needed {
            return Err(ReferenceError::NoGarment { path: path.to_path_buf(), pixels, total: h * w, needed });
        }
        Ok(Reference {
            path: path.to_path_buf(),
            garment: &input * &garment_mask,
            garment_mask,
            pose: one_hot(&pose_ids, POSE_PARTS, h, w),
            parsing,
            fit,
            image,
        })
    }
}
