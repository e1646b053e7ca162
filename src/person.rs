//! Finding and parsing the person in one picture, the step the per-frame chain and the
//! reference share: the picture letterboxed (or cropped) into the model input, the parser, the
//! largest person; a search of the whole picture, then a second look at a crop around whoever
//! it found; and dense pose on the input the parser saw.

use ndarray::Array4;

use crate::contract::{DENSEPOSE, PARSER, POSE_PARTS};
use crate::frame::{Letterbox, RgbImage};
use crate::framing::{MIN_PERSON_PX, Region, crop_fit, largest_person};
use crate::inputs::{batch, one_hot};
use crate::maps::argmax;
use crate::models::{ModelError, Models};
use crate::temporal::softmax;

/// What the parser sees of a picture through one fit.
pub struct Look {
    pub fit: Letterbox,
    /// The model input `[1, 3, H, W]`.
    pub input: Array4<f32>,
    /// The parser's probabilities `[1, 7, H, W]`.
    pub probabilities: Array4<f32>,
    /// The largest person's box in picture pixels, and their model pixels.
    pub person: Option<(Region, usize)>,
}

impl Look {
    /// M: the parsing groups of the look.
    pub fn parsing(&self) -> Vec<u8> {
        argmax(&self.probabilities.view())
    }
}

/// Parse `image` seen through `fit`.
pub fn look(models: &mut Models, fit: Letterbox, image: &RgbImage) -> Result<Look, ModelError> {
    let input = fit.model_input(image);
    let mut probabilities = models.run(&PARSER, &[input.view()])?.swap_remove(0);
    softmax(&mut probabilities);
    let person = largest_person(&argmax(&probabilities.view()), &fit);
    Ok(Look { fit, input, probabilities, person })
}

/// Model pixels of the smallest figure the search of a whole picture looks at again: a person
/// of a landscape frame letterboxed whole covers a few dozen model pixels; whether they are
/// someone to dress (`accept`) is judged on the closer look, where they fill the input.
const MIN_FIGURE_PIXELS: usize = 12;

/// How much larger than the figure found in the whole picture the first closer look is: a
/// figure a few dozen model pixels tall may be only part of the person (the parser lost a head
/// or the legs), and twice its size holds the rest.
const FIRST_LOOK_GROWTH: f32 = 2.0;

/// Search the whole of `image` for a figure at least `MIN_PERSON_PX` tall; where one is found,
/// look again at a crop twice its size, then at the crop around whom that look found (at the
/// model's aspect, with a margin), keeping each look that shows someone `accept` takes. The
/// last kept look is returned either way: `accept` it to know.
pub fn search(models: &mut Models, image: &RgbImage, accept: impl Fn(&Look) -> bool) -> Result<Look, ModelError> {
    let (h, w) = models.resolution();
    let whole = look(models, Letterbox::new(image.width, image.height, w, h), image)?;
    let seen = |(p, n): &(Region, usize)| p.height() >= MIN_PERSON_PX && *n >= MIN_FIGURE_PIXELS;
    let Some((mut person, _)) = whole.person.filter(seen) else { return Ok(whole) };
    let mut best = whole;
    for growth in [FIRST_LOOK_GROWTH, 1.0] {
        // No closer look where it would show what the last one did.
        let Some(fit) = crop_fit(person.grown(growth), image.width, image.height, &best.fit) else { continue };
        let closer = look(models, fit, image)?;
        if let Some((found, _)) = closer.person.filter(|_| accept(&closer)) {
            (best, person) = (closer, found);
        }
    }
    Ok(best)
}

/// P: dense pose of a model input, one-hot `[1, 25, H, W]`.
pub fn pose(models: &mut Models, input: &Array4<f32>) -> Result<Array4<f32>, ModelError> {
    let (h, w) = models.resolution();
    Ok(batch(one_hot(&pose_parts(models, input)?, POSE_PARTS, h, w)))
}

/// Dense pose of a model input: the part index of every model pixel.
pub fn pose_parts(models: &mut Models, input: &Array4<f32>) -> Result<Vec<u8>, ModelError> {
    Ok(argmax(&models.run(&DENSEPOSE, &[input.view()])?[0].view()))
}
