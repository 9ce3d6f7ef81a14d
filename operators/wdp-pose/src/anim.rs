//! Animated GIF summaries: frames quantised to a fixed 256-colour palette (a 6x6x6 colour cube
//! plus 40 greys, which suits dark canvases and saturated part colours), each shown for the time
//! until the next frame's timestamp.

use crate::image::RgbImage;
use crate::PoseError;
use std::borrow::Cow;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// Shown for frames whose time step is unknown or not positive (1/10 s).
const DEFAULT_DELAY_CS: u16 = 10;
/// Browsers show shorter delays as 1/10 s, so 2 cs is the shortest that plays as written.
const MIN_DELAY_CS: u16 = 2;
const GREYS: usize = 40;

/// The fixed palette, 256 RGB triples.
pub fn palette() -> Vec<u8> {
    let mut p = Vec::with_capacity(256 * 3);
    for r in 0..6u16 {
        for g in 0..6u16 {
            for b in 0..6u16 {
                p.extend([r * 51, g * 51, b * 51].map(|v| v as u8));
            }
        }
    }
    for i in 0..GREYS {
        p.extend([grey_level(i); 3]);
    }
    p
}

fn grey_level(i: usize) -> u8 {
    ((i * 255 + (GREYS - 1) / 2) / (GREYS - 1)) as u8
}

/// Index of the palette colour nearest to `rgb`.
pub fn nearest_index(rgb: [u8; 3]) -> u8 {
    let level = |c: u8| (u16::from(c) + 25) / 51;
    let [r, g, b] = rgb.map(level);
    let cube = [r, g, b].map(|l| (l * 51) as i32);
    let mean = (rgb.iter().map(|&c| u32::from(c)).sum::<u32>() + 1) / 3;
    let gi = ((mean as usize * (GREYS - 1) + 127) / 255).min(GREYS - 1);
    let gv = i32::from(grey_level(gi));
    let err = |c: [i32; 3]| {
        rgb.iter()
            .zip(c)
            .map(|(&a, b)| (i32::from(a) - b).pow(2))
            .sum::<i32>()
    };
    if err([gv; 3]) < err(cube) {
        (216 + gi) as u8
    } else {
        (r * 36 + g * 6 + b) as u8
    }
}

/// Writes frames as an endlessly looping animated GIF. A frame is held back until the next one
/// arrives, because its display time is the gap to the next timestamp.
pub struct GifWriter<W: Write> {
    encoder: gif::Encoder<W>,
    width: usize,
    height: usize,
    pending: Option<(Vec<u8>, i64)>,
    last_delay: u16,
    frames: usize,
}

impl<W: Write> std::fmt::Debug for GifWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GifWriter")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

impl GifWriter<BufWriter<File>> {
    /// Creates a GIF file of `width x height` pictures.
    pub fn create(path: &Path, width: usize, height: usize) -> Result<Self, PoseError> {
        let file = File::create(path)
            .map_err(|e| PoseError::io(format!("creating {}", path.display()), e))?;
        Self::new(BufWriter::new(file), width, height)
    }
}

impl<W: Write> GifWriter<W> {
    /// A GIF of `width x height` pictures (at most 65535 each way) written to `writer`.
    pub fn new(writer: W, width: usize, height: usize) -> Result<Self, PoseError> {
        let (Ok(w), Ok(h)) = (u16::try_from(width), u16::try_from(height)) else {
            return Err(PoseError::Picture(format!(
                "{width}x{height} is too large for a GIF (65535 at most)"
            )));
        };
        let mut encoder = gif::Encoder::new(writer, w, h, &palette())?;
        encoder.set_repeat(gif::Repeat::Infinite)?;
        Ok(GifWriter {
            encoder,
            width,
            height,
            pending: None,
            last_delay: DEFAULT_DELAY_CS,
            frames: 0,
        })
    }

    /// Adds a picture taken at `t_ns`; it must have the GIF's size.
    pub fn push(&mut self, image: &RgbImage, t_ns: i64) -> Result<(), PoseError> {
        if (image.width, image.height) != (self.width, self.height) {
            return Err(PoseError::Picture(format!(
                "frame of {}x{} in a {}x{} animation",
                image.width, image.height, self.width, self.height
            )));
        }
        let indices: Vec<u8> = image
            .data
            .chunks_exact(3)
            .map(|c| nearest_index([c[0], c[1], c[2]]))
            .collect();
        if let Some((previous, t0)) = self.pending.take() {
            let delay = match t_ns.checked_sub(t0) {
                Some(dt) if dt > 0 => {
                    let cs = (dt + 5_000_000) / 10_000_000;
                    cs.clamp(i64::from(MIN_DELAY_CS), i64::from(u16::MAX)) as u16
                }
                _ => self.last_delay,
            };
            self.write(previous, delay)?;
        }
        self.pending = Some((indices, t_ns));
        Ok(())
    }

    /// Pictures added so far.
    pub fn frames(&self) -> usize {
        self.frames + usize::from(self.pending.is_some())
    }

    /// Writes the last picture (shown as long as the one before it) and the GIF trailer, and
    /// returns the writer.
    pub fn finish(mut self) -> Result<W, PoseError> {
        if let Some((last, _)) = self.pending.take() {
            let delay = self.last_delay;
            self.write(last, delay)?;
        }
        self.encoder
            .into_inner()
            .map_err(|e| PoseError::io("finishing the GIF", e))
    }

    fn write(&mut self, indices: Vec<u8>, delay: u16) -> Result<(), PoseError> {
        let frame = gif::Frame {
            width: self.width as u16,
            height: self.height as u16,
            delay,
            buffer: Cow::Owned(indices),
            ..gif::Frame::default()
        };
        self.encoder.write_frame(&frame)?;
        self.last_delay = delay;
        self.frames += 1;
        Ok(())
    }
}
