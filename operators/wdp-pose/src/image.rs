//! [`RgbImage`]: an 8-bit RGB picture with the few drawing primitives overlays need, DensePose
//! part colours and PNG output.

use crate::PoseError;
use ndarray::{Array3, ArrayView3};
use std::path::Path;

/// An 8-bit RGB image, row-major `[height, width, 3]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Pixels, `height * width * 3` bytes.
    pub data: Vec<u8>,
}

impl RgbImage {
    /// A uniform image.
    pub fn filled(width: usize, height: usize, rgb: [u8; 3]) -> Self {
        let mut data = Vec::with_capacity(width * height * 3);
        for _ in 0..width * height {
            data.extend_from_slice(&rgb);
        }
        RgbImage {
            width,
            height,
            data,
        }
    }

    /// Copies an `[H, W, 3]` array.
    pub fn from_array(a: &Array3<u8>) -> Self {
        Self::from_view(a.view())
    }

    /// Copies an `[H, W, 3]` view (e.g. a received camera `frame`).
    pub fn from_view(a: ArrayView3<'_, u8>) -> Self {
        let (h, w, _) = a.dim();
        RgbImage {
            width: w,
            height: h,
            data: a.iter().copied().collect(),
        }
    }

    /// The pixel at `(x, y)`, if inside.
    pub fn get(&self, x: usize, y: usize) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = (y * self.width + x) * 3;
        Some([self.data[i], self.data[i + 1], self.data[i + 2]])
    }

    /// Blends `rgb` over the pixel at `(x, y)` with opacity `alpha` (1 replaces it); pixels
    /// outside the image are ignored.
    pub fn put(&mut self, x: i64, y: i64, rgb: [u8; 3], alpha: f32) {
        if x < 0 || y < 0 || x >= self.width as i64 || y >= self.height as i64 {
            return;
        }
        let i = (y as usize * self.width + x as usize) * 3;
        for (k, c) in rgb.iter().enumerate() {
            let old = self.data[i + k] as f32;
            self.data[i + k] = (old + (*c as f32 - old) * alpha).round() as u8;
        }
    }

    /// A 2-pixel-wide line from `a` to `b` (pixel coordinates).
    pub fn line(&mut self, a: (f64, f64), b: (f64, f64), rgb: [u8; 3]) {
        if ![a.0, a.1, b.0, b.1].iter().all(|v| v.is_finite()) {
            return;
        }
        // Lines far outside the picture are clipped by length to keep drawing bounded.
        let limit = 4.0 * (self.width + self.height) as f64;
        let steps = ((b.0 - a.0).abs().max((b.1 - a.1).abs()).min(limit).ceil() as usize).max(1);
        for s in 0..=steps {
            let t = s as f64 / steps as f64;
            let (x, y) = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
            for (dx, dy) in [(0, 0), (1, 0), (0, 1)] {
                self.put(x as i64 + dx, y as i64 + dy, rgb, 1.0);
            }
        }
    }

    /// A disc (`filled`) or ring of `radius` pixels around `c`.
    pub fn dot(&mut self, c: (f64, f64), radius: i64, rgb: [u8; 3], filled: bool) {
        if !(c.0.is_finite() && c.1.is_finite()) {
            return;
        }
        for dy in -radius..=radius {
            for dx in -radius..=radius {
                let r2 = dx * dx + dy * dy;
                if r2 <= radius * radius && (filled || r2 >= (radius - 1) * (radius - 1)) {
                    self.put(c.0 as i64 + dx, c.1 as i64 + dy, rgb, 1.0);
                }
            }
        }
    }

    /// The outline of the box `[x1, y1, x2, y2]` (exclusive right and bottom edges).
    pub fn rect(&mut self, [x0, y0, x1, y1]: [f64; 4], rgb: [u8; 3]) {
        if x1 > x0 && y1 > y0 {
            self.line((x0, y0), (x1, y0), rgb);
            self.line((x1, y0), (x1, y1 - 1.0), rgb);
            self.line((x1, y1 - 1.0), (x0, y1 - 1.0), rgb);
            self.line((x0, y1 - 1.0), (x0, y0), rgb);
        }
    }

    /// A filled rectangle `[x, y, width, height]` blended with opacity `alpha`.
    pub fn fill_rect(&mut self, x: i64, y: i64, w: i64, h: i64, rgb: [u8; 3], alpha: f32) {
        let (x0, y0) = (x.max(0), y.max(0));
        let (x1, y1) = (
            (x + w).min(self.width as i64),
            (y + h).min(self.height as i64),
        );
        for yy in y0..y1 {
            for xx in x0..x1 {
                self.put(xx, yy, rgb, alpha);
            }
        }
    }

    /// Draws `text` with a 3x5 bitmap font at `scale` pixels per font pixel, top-left at
    /// `(x, y)`. Knows digits, `#`, `-`, `.`, `:` and space; other characters are drawn as
    /// spaces. Returns the width drawn.
    pub fn text(&mut self, x: i64, y: i64, text: &str, rgb: [u8; 3], scale: i64) -> i64 {
        let scale = scale.max(1);
        let mut cx = x;
        for ch in text.chars() {
            let rows = glyph(ch);
            for (ry, bits) in rows.iter().enumerate() {
                for rx in 0..3 {
                    if bits & (0b100 >> rx) != 0 {
                        self.fill_rect(
                            cx + rx * scale,
                            y + ry as i64 * scale,
                            scale,
                            scale,
                            rgb,
                            1.0,
                        );
                    }
                }
            }
            cx += 4 * scale;
        }
        cx - x
    }

    /// The image as an `[H, W, 3]` array.
    pub fn to_array(&self) -> Array3<u8> {
        Array3::from_shape_fn((self.height, self.width, 3), |(y, x, c)| {
            self.data[(y * self.width + x) * 3 + c]
        })
    }

    /// Encodes the image as PNG bytes.
    pub fn to_png(&self) -> Result<Vec<u8>, PoseError> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, self.width as u32, self.height as u32);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut w = enc.write_header()?;
            w.write_image_data(&self.data)?;
        }
        Ok(out)
    }

    /// Writes the image as a PNG file.
    pub fn write_png(&self, path: &Path) -> Result<(), PoseError> {
        let bytes = self.to_png()?;
        std::fs::write(path, bytes)
            .map_err(|e| PoseError::io(format!("writing {}", path.display()), e))
    }
}

/// Rows of a 3x5 glyph, the high bit of each row is the left pixel.
fn glyph(ch: char) -> [u8; 5] {
    match ch {
        '0' => [0b111, 0b101, 0b101, 0b101, 0b111],
        '1' => [0b010, 0b110, 0b010, 0b010, 0b111],
        '2' => [0b111, 0b001, 0b111, 0b100, 0b111],
        '3' => [0b111, 0b001, 0b111, 0b001, 0b111],
        '4' => [0b101, 0b101, 0b111, 0b001, 0b001],
        '5' => [0b111, 0b100, 0b111, 0b001, 0b111],
        '6' => [0b111, 0b100, 0b111, 0b101, 0b111],
        '7' => [0b111, 0b001, 0b010, 0b010, 0b010],
        '8' => [0b111, 0b101, 0b111, 0b101, 0b111],
        '9' => [0b111, 0b101, 0b111, 0b001, 0b111],
        '#' => [0b101, 0b111, 0b101, 0b111, 0b101],
        '-' => [0b000, 0b000, 0b111, 0b000, 0b000],
        '.' => [0b000, 0b000, 0b000, 0b000, 0b010],
        ':' => [0b000, 0b010, 0b000, 0b010, 0b000],
        _ => [0; 5],
    }
}

/// Display colour of a DensePose part id (1-24); 0 is black.
pub fn part_color(part: u8) -> [u8; 3] {
    if part == 0 {
        return [0, 0, 0];
    }
    // hues spread by the golden angle so neighbouring ids differ
    let h = (part as f64 * 0.618_033_988_75).fract();
    hsv(h, 0.65, 0.95)
}

/// RGB of a colour given as hue, saturation and value, each in [0, 1].
pub fn hsv(h: f64, s: f64, v: f64) -> [u8; 3] {
    let i = (h * 6.0).floor();
    let f = h * 6.0 - i;
    let (p, q, t) = (v * (1.0 - s), v * (1.0 - f * s), v * (1.0 - (1.0 - f) * s));
    let (r, g, b) = match i as i64 % 6 {
        0 => (v, t, p),
        1 => (q, v, p),
        2 => (p, v, t),
        3 => (p, q, v),
        4 => (t, p, v),
        _ => (v, p, q),
    };
    [(r * 255.0) as u8, (g * 255.0) as u8, (b * 255.0) as u8]
}
