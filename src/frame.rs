//! Video frames as the core sees them: packed 8-bit RGB layouts, and the letterbox that fits a
//! frame of any size into the models' H x W and maps model pixels back exactly.

use ndarray::Array4;
use rayon::prelude::*;

/// The packed layouts the element accepts (`videoconvert` handles the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    Rgba,
    Bgra,
    Rgbx,
    Bgrx,
    Rgb,
    Bgr,
}

impl PixelFormat {
    pub fn bytes_per_pixel(self) -> usize {
        match self {
            PixelFormat::Rgb | PixelFormat::Bgr => 3,
            _ => 4,
        }
    }
    /// Byte offsets of red, green and blue in a pixel.
    pub fn rgb_offsets(self) -> [usize; 3] {
        match self {
            PixelFormat::Rgba | PixelFormat::Rgbx | PixelFormat::Rgb => [0, 1, 2],
            PixelFormat::Bgra | PixelFormat::Bgrx | PixelFormat::Bgr => [2, 1, 0],
        }
    }
}

/// A mutable view of one frame's pixels.
pub struct FrameMut<'a> {
    pub data: &'a mut [u8],
    pub width: usize,
    pub height: usize,
    /// Bytes per row (may exceed `width * bytes_per_pixel`).
    pub stride: usize,
    pub format: PixelFormat,
}

/// A buffer whose geometry cannot hold the frame it claims to be.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[error("frame buffer {width}x{height} {format:?}: {why}")]
pub struct GeometryError {
    pub width: usize,
    pub height: usize,
    pub format: PixelFormat,
    pub why: String,
}

impl<'a> FrameMut<'a> {
    /// A view of `data` as a `width` x `height` frame with rows `stride` bytes apart, checked:
    /// buffers come from upstream, and their video meta may say anything.
    pub fn new(data: &'a mut [u8], width: usize, height: usize, stride: isize, format: PixelFormat) -> Result<FrameMut<'a>, GeometryError> {
        let stride = usize::try_from(stride).map_err(|_| GeometryError { width, height, format, why: format!("negative stride {stride}") })?;
        let frame = FrameMut { data, width, height, stride, format };
        frame.check()?;
        Ok(frame)
    }
}

impl FrameMut<'_> {
    /// The view's geometry fits its bytes: every pixel it names is inside `data`.
    pub fn check(&self) -> Result<(), GeometryError> {
        let fail = |why: String| Err(GeometryError { width: self.width, height: self.height, format: self.format, why });
        let row = self.width * self.format.bytes_per_pixel();
        if self.width == 0 || self.height == 0 {
            return fail("no pixels".into());
        }
        if self.stride < row {
            return fail(format!("stride {} bytes is shorter than a row of {row} bytes", self.stride));
        }
        let needed = self.stride.checked_mul(self.height - 1).and_then(|n| n.checked_add(row));
        match needed {
            Some(n) if n <= self.data.len() => Ok(()),
            _ => fail(format!("{} bytes of pixels, {} needed", self.data.len(), needed.map_or("more than addressable".into(), |n| n.to_string()))),
        }
    }

    #[inline]
    pub fn rgb(&self, x: usize, y: usize) -> [u8; 3] {
        let o = self.format.rgb_offsets();
        let i = y * self.stride + x * self.format.bytes_per_pixel();
        [self.data[i + o[0]], self.data[i + o[1]], self.data[i + o[2]]]
    }

    /// Copy of the frame as packed RGB (rows in parallel).
    pub fn to_rgb(&self) -> RgbImage {
        let (bpp, o) = (self.format.bytes_per_pixel(), self.format.rgb_offsets());
        let (w, stride) = (self.width, self.stride);
        let src: &[u8] = self.data;
        let mut out = vec![0u8; w * self.height * 3];
        out.par_chunks_mut(w * 3).enumerate().for_each(|(y, dst)| {
            let row = &src[y * stride..y * stride + w * bpp];
            for (d, s) in dst.chunks_exact_mut(3).zip(row.chunks_exact(bpp)) {
                d[0] = s[o[0]];
                d[1] = s[o[1]];
                d[2] = s[o[2]];
            }
        });
        RgbImage { width: w, height: self.height, data: out }
    }

    /// Write packed RGB back (alpha and padding bytes are left as they are).
    pub fn write_rgb(&mut self, img: &RgbImage) {
        let o = self.format.rgb_offsets();
        let bpp = self.format.bytes_per_pixel();
        for y in 0..self.height.min(img.height) {
            let row = &mut self.data[y * self.stride..];
            for x in 0..self.width.min(img.width) {
                let s = (y * img.width + x) * 3;
                let d = x * bpp;
                row[d + o[0]] = img.data[s];
                row[d + o[1]] = img.data[s + 1];
                row[d + o[2]] = img.data[s + 2];
            }
        }
    }
}

/// Packed 8-bit RGB.
#[derive(Debug, Clone, PartialEq)]
pub struct RgbImage {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

impl RgbImage {
    /// Bilinear sample at continuous pixel coordinates (pixel centres at +0.5), clamped at edges.
    #[inline]
    pub fn sample(&self, x: f32, y: f32) -> [f32; 3] {
        let fx = (x - 0.5).clamp(0.0, (self.width - 1) as f32);
        let fy = (y - 0.5).clamp(0.0, (self.height - 1) as f32);
        let (x0, y0) = (fx as usize, fy as usize);
        let (x1, y1) = ((x0 + 1).min(self.width - 1), (y0 + 1).min(self.height - 1));
        let (ax, ay) = (fx - x0 as f32, fy - y0 as f32);
        let px = |x: usize, y: usize, c: usize| self.data[(y * self.width + x) * 3 + c] as f32;
        std::array::from_fn(|c| {
            let top = px(x0, y0, c) * (1.0 - ax) + px(x1, y0, c) * ax;
            let bottom = px(x0, y1, c) * (1.0 - ax) + px(x1, y1, c) * ax;
            top * (1.0 - ay) + bottom * ay
        })
    }
}

impl RgbImage {
    /// This picture stretched to `width` x `height` (bilinear).
    pub fn resized(&self, width: usize, height: usize) -> RgbImage {
        let (sx, sy) = (self.width as f32 / width as f32, self.height as f32 / height as f32);
        let mut data = Vec::with_capacity(width * height * 3);
        for y in 0..height {
            for x in 0..width {
                data.extend(self.sample((x as f32 + 0.5) * sx, (y as f32 + 0.5) * sy).map(|v| v.round() as u8));
            }
        }
        RgbImage { width, height, data }
    }
}

/// Where a `src_w` x `src_h` picture sits inside the model's `width` x `height` input: scaled
/// to fit whole (aspect kept), centred, the rest padded. `to_model`/`to_source` are exact
/// inverses, so model outputs land on the right frame pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    pub scale: f32,
    pub offset_x: f32,
    pub offset_y: f32,
    pub width: usize,
    pub height: usize,
}

impl Letterbox {
    pub fn new(src_w: usize, src_h: usize, width: usize, height: usize) -> Letterbox {
        let scale = (width as f32 / src_w as f32).min(height as f32 / src_h as f32);
        Letterbox {
            scale,
            offset_x: (width as f32 - src_w as f32 * scale) / 2.0,
            offset_y: (height as f32 - src_h as f32 * scale) / 2.0,
            width,
            height,
        }
    }

    /// The square-pixel crop `[x0, x1) x [y0, y1)` of the source (it may reach past the source's
    /// edges: the model input is padded there), stretched to the model's `width` x `height`.
    /// The crop's aspect should be the model's; the scale follows its height.
    pub fn crop(x0: f32, y0: f32, x1: f32, y1: f32, width: usize, height: usize) -> Letterbox {
        let scale = height as f32 / (y1 - y0).max(1e-3);
        let cx = (x0 + x1) / 2.0;
        Letterbox { scale, offset_x: width as f32 / 2.0 - cx * scale, offset_y: -y0 * scale, width, height }
    }

    /// The source pixels `(x0, y0, x1, y1)` (end exclusive) that lie inside the model's input,
    /// within a `src_w` x `src_h` source: the only pixels model outputs can change.
    pub fn source_rect(&self, src_w: usize, src_h: usize) -> (usize, usize, usize, usize) {
        let (ax, ay) = self.to_source(0.0, 0.0);
        let (bx, by) = self.to_source(self.width as f32, self.height as f32);
        let clamp = |v: f32, hi: usize| (v.max(0.0) as usize).min(hi);
        (clamp(ax.floor(), src_w), clamp(ay.floor(), src_h), clamp(bx.ceil(), src_w), clamp(by.ceil(), src_h))
    }

    /// Whether model coordinates lie inside the model's input.
    #[inline]
    pub fn inside(&self, mx: f32, my: f32) -> bool {
        mx >= 0.0 && my >= 0.0 && mx <= self.width as f32 && my <= self.height as f32
    }

    /// Source pixel coordinates (continuous) to model pixel coordinates.
    #[inline]
    pub fn to_model(&self, x: f32, y: f32) -> (f32, f32) {
        (x * self.scale + self.offset_x, y * self.scale + self.offset_y)
    }

    #[inline]
    pub fn to_source(&self, mx: f32, my: f32) -> (f32, f32) {
        ((mx - self.offset_x) / self.scale, (my - self.offset_y) / self.scale)
    }

    /// The picture as a model input `[1, 3, H, W]` in [-1, 1]; padding is 0. Downscaling
    /// averages a box of source pixels per model pixel, so thin stripes do not alias.
    pub fn model_input(&self, img: &RgbImage) -> Array4<f32> {
        let (w, h) = (self.width, self.height);
        let step = (1.0 / self.scale).max(1.0);
        let taps = (step.ceil() as usize).clamp(1, 4);
        // One model row per task: [3][w] values of that row.
        let rows: Vec<Vec<f32>> = (0..h).into_par_iter().map(|my| self.model_row(img, my, step, taps)).collect();
        let mut out = Array4::zeros((1, 3, h, w));
        for (my, row) in rows.iter().enumerate() {
            for c in 0..3 {
                for mx in 0..w {
                    out[[0, c, my, mx]] = row[c * w + mx];
                }
            }
        }
        out
    }

    /// Model row `my` of the model input: `[3][w]` values.
    fn model_row(&self, img: &RgbImage, my: usize, step: f32, taps: usize) -> Vec<f32> {
        let w = self.width;
        let mut out = vec![0.0; 3 * w];
        for mx in 0..w {
            let (sx, sy) = self.to_source(mx as f32 + 0.5, my as f32 + 0.5);
            if sx < 0.0 || sy < 0.0 || sx > img.width as f32 || sy > img.height as f32 {
                continue;
            }
            let mut acc = [0.0f32; 3];
            for ty in 0..taps {
                for tx in 0..taps {
                    let ox = ((tx as f32 + 0.5) / taps as f32 - 0.5) * step;
                    let oy = ((ty as f32 + 0.5) / taps as f32 - 0.5) * step;
                    let p = img.sample(sx + ox, sy + oy);
                    for c in 0..3 {
                        acc[c] += p[c];
                    }
                }
            }
            let n = (taps * taps) as f32;
            for c in 0..3 {
                out[c * w + mx] = crate::inputs::unit(acc[c] / n);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letterbox_maps_back_exactly() {
        for (sw, sh) in [(640, 480), (1920, 1080), (192, 256), (100, 700)] {
            let lb = Letterbox::new(sw, sh, 192, 256);
            let (mx, my) = lb.to_model(sw as f32 * 0.3, sh as f32 * 0.7);
            let (x, y) = lb.to_source(mx, my);
            assert!((x - sw as f32 * 0.3).abs() < 1e-3 && (y - sh as f32 * 0.7).abs() < 1e-3);
            // The picture fits inside the model input and touches two opposite sides.
            let (x0, y0) = lb.to_model(0.0, 0.0);
            let (x1, y1) = lb.to_model(sw as f32, sh as f32);
            assert!(x0 >= -1e-3 && y0 >= -1e-3 && x1 <= 192.001 && y1 <= 256.001);
            assert!((x0.abs() < 1e-3 && (x1 - 192.0).abs() < 1e-3) || (y0.abs() < 1e-3 && (y1 - 256.0).abs() < 1e-3));
        }
    }

    #[test]
    fn formats_read_and_write_the_right_bytes() {
        let mut bgrx = vec![10, 20, 30, 99, 40, 50, 60, 99];
        let mut f = FrameMut { data: &mut bgrx, width: 2, height: 1, stride: 8, format: PixelFormat::Bgrx };
        assert_eq!(f.rgb(0, 0), [30, 20, 10]);
        let img = RgbImage { width: 2, height: 1, data: vec![1, 2, 3, 4, 5, 6] };
        f.write_rgb(&img);
        assert_eq!(bgrx, vec![3, 2, 1, 99, 6, 5, 4, 99]);
    }
}
