//! The canvas the synthetic world draws on: an anti-aliased RGB image (tiny-skia) plus two
//! label maps drawn from the same shapes without anti-aliasing - CIHP parsing ids and
//! DensePose part indices - so image, parsing and dense pose always agree.

use tiny_skia::{FillRule, Mask, Paint, Path, Pixmap, PixmapRef, Shader, Transform};

use super::geometry::P2;

/// How a shape is painted into the image.
pub enum Fill<'a> {
    Solid([u8; 3]),
    /// A texture (a garment's canvas), placed by `transform` (texture pixels to image pixels).
    Texture(PixmapRef<'a>, Transform),
    /// A prepared tiny-skia shader (gradients).
    Shader(Shader<'a>),
}

/// How a shape is written into the dense-pose map.
#[derive(Debug, Clone, Copy)]
pub enum PoseLabel {
    /// Leave the dense-pose map as it is (hair, clothing details).
    Keep,
    Part(u8),
    /// Two part ids either side of the line through `origin` along `dir`: `positive` where
    /// `dir x (p - origin) > 0`. DensePose splits each limb and the head lengthwise like this.
    Split { origin: P2, dir: P2, positive: u8, negative: u8 },
}

pub struct Canvas {
    pub width: u32,
    pub height: u32,
    pixmap: Pixmap,
    cihp: Vec<u8>,
    densepose: Vec<u8>,
    mask: Mask,
}

/// The finished drawing: RGB pixels and the two label maps, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Drawing {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
    pub cihp: Vec<u8>,
    pub densepose: Vec<u8>,
}

impl Canvas {
    /// `None` for a zero or absurd size.
    pub fn new(width: u32, height: u32) -> Option<Canvas> {
        Some(Canvas {
            width,
            height,
            pixmap: Pixmap::new(width, height)?,
            cihp: vec![0; (width * height) as usize],
            densepose: vec![0; (width * height) as usize],
            mask: Mask::new(width, height)?,
        })
    }

    /// Fill the whole image (backgrounds).
    pub fn fill_all(&mut self, fill: &Fill) {
        let rect = tiny_skia::Rect::from_xywh(0.0, 0.0, self.width as f32, self.height as f32);
        if let Some(rect) = rect {
            let path = tiny_skia::PathBuilder::from_rect(rect);
            self.paint(&path, fill);
        }
    }

    /// Paint `path` into the image only (anti-aliased).
    pub fn paint(&mut self, path: &Path, fill: &Fill) {
        let mut paint = Paint { anti_alias: true, ..Paint::default() };
        match fill {
            Fill::Solid(c) => paint.set_color_rgba8(c[0], c[1], c[2], 255),
            Fill::Texture(pixmap, transform) => {
                paint.shader = tiny_skia::Pattern::new(
                    *pixmap,
                    tiny_skia::SpreadMode::Pad,
                    tiny_skia::FilterQuality::Bilinear,
                    1.0,
                    *transform,
                )
            }
            Fill::Shader(shader) => paint.shader = shader.clone(),
        }
        self.pixmap.fill_path(path, &paint, FillRule::Winding, Transform::identity(), None);
    }

    /// Paint `path` and write its labels: `cihp` (when given) and the dense-pose part.
    pub fn draw(&mut self, path: &Path, fill: &Fill, cihp: Option<u8>, pose: PoseLabel) {
        self.paint(path, fill);
        self.label(path, cihp, pose);
    }

    /// Write labels for the pixels whose centre lies inside `path`.
    pub fn label(&mut self, path: &Path, cihp: Option<u8>, pose: PoseLabel) {
        if cihp.is_none() && matches!(pose, PoseLabel::Keep) {
            return;
        }
        let b = path.bounds();
        let (w, h) = (self.width as i64, self.height as i64);
        let x0 = (b.left().floor() as i64).clamp(0, w);
        let x1 = (b.right().ceil() as i64 + 1).clamp(0, w);
        let y0 = (b.top().floor() as i64).clamp(0, h);
        let y1 = (b.bottom().ceil() as i64 + 1).clamp(0, h);
        if x0 >= x1 || y0 >= y1 {
            return;
        }
        self.mask.fill_path(path, FillRule::Winding, false, Transform::identity());
        let stride = self.width as usize;
        let mask = self.mask.data_mut();
        for y in y0 as usize..y1 as usize {
            for x in x0 as usize..x1 as usize {
                let i = y * stride + x;
                if mask[i] == 0 {
                    continue;
                }
                // Clear as we read: the next shape starts from an empty mask.
                mask[i] = 0;
                if let Some(id) = cihp {
                    self.cihp[i] = id;
                }
                match pose {
                    PoseLabel::Keep => {}
                    PoseLabel::Part(id) => self.densepose[i] = id,
                    PoseLabel::Split { origin, dir, positive, negative } => {
                        let px = x as f32 + 0.5 - origin.x;
                        let py = y as f32 + 0.5 - origin.y;
                        let side = dir.x * py - dir.y * px;
                        self.densepose[i] = if side > 0.0 { positive } else { negative };
                    }
                }
            }
        }
    }

    pub fn finish(self) -> Drawing {
        // Every scene starts with an opaque background, so premultiplied RGBA is plain RGBA.
        let rgb = self.pixmap.data().chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
        Drawing { width: self.width, height: self.height, rgb, cihp: self.cihp, densepose: self.densepose }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::geometry::{capsule, p2};

    #[test]
    fn labels_follow_the_shape_and_split_lengthwise() {
        let mut c = Canvas::new(40, 40).unwrap();
        c.fill_all(&Fill::Solid([10, 20, 30]));
        let (a, b) = (p2(20.0, 5.0), p2(20.0, 35.0));
        let path = capsule(a, b, 6.0, false, false).unwrap();
        let split = PoseLabel::Split { origin: a, dir: b.sub(a), positive: 15, negative: 17 };
        c.draw(&path, &Fill::Solid([200, 100, 50]), Some(14), split);
        let d = c.finish();
        let at = |x: usize, y: usize| y * 40 + x;
        assert_eq!(d.cihp[at(20, 20)], 14);
        assert_eq!(d.cihp[at(2, 20)], 0);
        // dir points down (+y): +perp is -x, the image left.
        assert_eq!(d.densepose[at(16, 20)], 15);
        assert_eq!(d.densepose[at(23, 20)], 17);
        assert_eq!(&d.rgb[at(20, 20) * 3..at(20, 20) * 3 + 3], &[200, 100, 50]);
        assert_eq!(&d.rgb[at(2, 2) * 3..at(2, 2) * 3 + 3], &[10, 20, 30]);
    }
}
