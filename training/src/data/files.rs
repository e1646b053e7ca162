//! Reading and writing the images of the layout: RGB pictures, masks and label maps.
//!
//! Label maps are read with the `png` crate directly because VITON-HD stores parsing as
//! palette-indexed PNGs, and a general image decoder expands the palette into colours, losing
//! the class ids.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

use super::DataError;

/// An 8-bit image with `channels` interleaved channels.
#[derive(Debug, Clone, PartialEq)]
pub struct Image8 {
    pub width: u32,
    pub height: u32,
    pub channels: usize,
    pub data: Vec<u8>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataError + '_ {
    move |source| DataError::Io { path: path.to_path_buf(), source }
}

fn decode(path: &Path) -> impl FnOnce(String) -> DataError + '_ {
    move |reason| DataError::Decode { path: path.to_path_buf(), reason }
}

fn read_any(path: &Path) -> Result<image::DynamicImage, DataError> {
    image::ImageReader::open(path)
        .map_err(io(path))?
        .with_guessed_format()
        .map_err(io(path))?
        .decode()
        .map_err(|e| decode(path)(e.to_string()))
}

/// Read any picture (PNG, JPEG) as RGB.
pub fn read_rgb(path: &Path) -> Result<Image8, DataError> {
    let img = read_any(path)?.into_rgb8();
    Ok(Image8 { width: img.width(), height: img.height(), channels: 3, data: img.into_raw() })
}

/// Read a mask (any picture; colour is averaged) as one channel.
pub fn read_gray(path: &Path) -> Result<Image8, DataError> {
    let img = read_any(path)?.into_luma8();
    Ok(Image8 { width: img.width(), height: img.height(), channels: 1, data: img.into_raw() })
}

/// A label map as stored: either the ids themselves (palette indices or gray values), or colours
/// that the caller inverts with its own palette.
pub enum Labels {
    Ids(Image8),
    Colours(Image8),
}

/// Read a label map. Palette and grayscale PNGs give ids; RGB PNGs and JPEGs give colours.
pub fn read_labels(path: &Path) -> Result<Labels, DataError> {
    let is_png = std::fs::File::open(path)
        .and_then(|mut f| {
            let mut sig = [0u8; 8];
            std::io::Read::read_exact(&mut f, &mut sig).map(|_| sig == *b"\x89PNG\r\n\x1a\n")
        })
        .map_err(io(path))?;
    if !is_png {
        return read_rgb(path).map(Labels::Colours);
    }
    let file = File::open(path).map_err(io(path))?;
    let mut decoder = png::Decoder::new(BufReader::new(file));
    decoder.set_transformations(png::Transformations::IDENTITY);
    let mut reader = decoder.read_info().map_err(|e| decode(path)(e.to_string()))?;
    let info = reader.info();
    let (width, height, color, depth) = (info.width, info.height, info.color_type, info.bit_depth);
    let size = reader.output_buffer_size().ok_or_else(|| decode(path)("image too large".into()))?;
    let mut buf = vec![0; size];
    let frame = reader.next_frame(&mut buf).map_err(|e| decode(path)(e.to_string()))?;
    buf.truncate(frame.buffer_size());
    let n = (width * height) as usize;
    match (color, depth) {
        (png::ColorType::Indexed | png::ColorType::Grayscale, png::BitDepth::Eight) => {
            buf.truncate(n);
            Ok(Labels::Ids(Image8 { width, height, channels: 1, data: buf }))
        }
        (png::ColorType::Indexed | png::ColorType::Grayscale, png::BitDepth::Four | png::BitDepth::Two | png::BitDepth::One) => {
            // Unpack sub-byte rows.
            let bits = depth as usize;
            let stride = (width as usize * bits).div_ceil(8);
            let mut data = Vec::with_capacity(n);
            for row in buf.chunks(stride).take(height as usize) {
                for x in 0..width as usize {
                    let bit = x * bits;
                    let byte = row[bit / 8];
                    data.push((byte >> (8 - bits - bit % 8)) & ((1 << bits) - 1) as u8);
                }
            }
            Ok(Labels::Ids(Image8 { width, height, channels: 1, data }))
        }
        _ => read_rgb(path).map(Labels::Colours),
    }
}

/// Read a label map into ids, inverting colours with `palette` where it is stored as colours.
pub fn read_ids(path: &Path, invert: impl Fn([u8; 3]) -> u8) -> Result<Image8, DataError> {
    Ok(match read_labels(path)? {
        Labels::Ids(img) => img,
        Labels::Colours(img) => Image8 {
            width: img.width,
            height: img.height,
            channels: 1,
            data: img.data.chunks_exact(3).map(|c| invert([c[0], c[1], c[2]])).collect(),
        },
    })
}

/// Width and height from the file header, without decoding the pixels.
pub fn dimensions(path: &Path) -> Result<(u32, u32), DataError> {
    image::ImageReader::open(path)
        .map_err(io(path))?
        .with_guessed_format()
        .map_err(io(path))?
        .into_dimensions()
        .map_err(|e| decode(path)(e.to_string()))
}

/// Write an 8-bit PNG: 1 channel (gray), 3 (RGB), or 1 channel with `palette` (indexed).
/// Fast compression: the generator writes thousands of these.
pub fn write_png(path: &Path, img: &Image8, palette: Option<&[[u8; 3]]>) -> Result<(), DataError> {
    let file = File::create(path).map_err(io(path))?;
    let mut enc = png::Encoder::new(BufWriter::new(file), img.width, img.height);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Fast);
    match (img.channels, palette) {
        (1, Some(p)) => {
            enc.set_color(png::ColorType::Indexed);
            enc.set_palette(p.iter().flatten().copied().collect::<Vec<u8>>());
        }
        (1, None) => enc.set_color(png::ColorType::Grayscale),
        (3, _) => enc.set_color(png::ColorType::Rgb),
        (c, _) => {
            return Err(DataError::Invalid { path: path.to_path_buf(), reason: format!("cannot write {c} channels") });
        }
    }
    let encode = |e: png::EncodingError| DataError::Invalid { path: path.to_path_buf(), reason: e.to_string() };
    let mut writer = enc.write_header().map_err(encode)?;
    writer.write_image_data(&img.data).map_err(encode)?;
    writer.finish().map_err(encode)
}
