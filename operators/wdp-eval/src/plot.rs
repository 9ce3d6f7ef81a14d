//! Minimal raster plotting into PNG: line charts, grouped bar charts and heat maps with axes,
//! ticks, titles and legends, drawn with the built-in font (no system font, no download).

use crate::font::{glyph, GLYPH_H, GLYPH_W};
use crate::EvalError;

/// An RGB colour.
pub(crate) type Rgb = [u8; 3];

const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];
const GRID: Rgb = [225, 225, 225];
const DARK: Rgb = [60, 60, 60];

/// Distinct series colours (colour-blind friendly order, after Okabe-Ito).
pub(crate) const PALETTE: [Rgb; 8] = [
    [0, 114, 178],
    [230, 159, 0],
    [0, 158, 115],
    [204, 121, 167],
    [86, 180, 233],
    [213, 94, 0],
    [120, 120, 120],
    [240, 228, 66],
];

/// Text sizes, in screen pixels per font pixel.
const TITLE: usize = 3;
const LABEL: usize = 2;

/// An RGB raster.
pub(crate) struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

impl Canvas {
    pub(crate) fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            pixels: WHITE.repeat(width * height),
        }
    }

    fn set(&mut self, x: i64, y: i64, rgb: Rgb) {
        if x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height {
            let i = 3 * (y as usize * self.width + x as usize);
            self.pixels[i..i + 3].copy_from_slice(&rgb);
        }
    }

    fn fill_rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, rgb: Rgb) {
        for y in y0.min(y1)..y0.max(y1) {
            for x in x0.min(x1)..x0.max(x1) {
                self.set(x, y, rgb);
            }
        }
    }

    fn rect_outline(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, rgb: Rgb) {
        self.fill_rect(x0, y0, x1, y0 + 1, rgb);
        self.fill_rect(x0, y1 - 1, x1, y1, rgb);
        self.fill_rect(x0, y0, x0 + 1, y1, rgb);
        self.fill_rect(x1 - 1, y0, x1, y1, rgb);
    }

    /// A line `thickness` pixels wide.
    fn line(&mut self, a: (f64, f64), b: (f64, f64), rgb: Rgb, thickness: i64) {
        let steps = (b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil().max(1.0) as usize;
        let lo = -(thickness - 1) / 2;
        for s in 0..=steps {
            let t = s as f64 / steps as f64;
            let x = (a.0 + (b.0 - a.0) * t).round() as i64;
            let y = (a.1 + (b.1 - a.1) * t).round() as i64;
            self.fill_rect(x + lo, y + lo, x + lo + thickness, y + lo + thickness, rgb);
        }
    }

    /// Width in pixels of `text` at `scale`.
    pub(crate) fn text_width(text: &str, scale: usize) -> i64 {
        let n = text.chars().count();
        (n * (GLYPH_W + 1) * scale).saturating_sub(scale) as i64
    }

    /// Draws `text` with its top-left corner at `(x, y)`.
    fn text(&mut self, x: i64, y: i64, text: &str, scale: usize, rgb: Rgb) {
        let s = scale as i64;
        for (i, c) in text.chars().enumerate() {
            let ox = x + (i * (GLYPH_W + 1) * scale) as i64;
            for (gy, row) in glyph(c).iter().enumerate() {
                for gx in 0..GLYPH_W {
                    if row >> (GLYPH_W - 1 - gx) & 1 == 1 {
                        let (px, py) = (ox + gx as i64 * s, y + gy as i64 * s);
                        self.fill_rect(px, py, px + s, py + s, rgb);
                    }
                }
            }
        }
    }

    /// Draws `text` centred horizontally on `cx`.
    fn text_centered(&mut self, cx: i64, y: i64, text: &str, scale: usize, rgb: Rgb) {
        self.text(cx - Self::text_width(text, scale) / 2, y, text, scale, rgb);
    }

    /// Draws `text` rotated a quarter turn (read bottom to top), its baseline side at `x` and its
    /// first character at the bottom `y_bottom`.
    fn text_up(&mut self, x: i64, y_bottom: i64, text: &str, scale: usize, rgb: Rgb) {
        let s = scale as i64;
        for (i, c) in text.chars().enumerate() {
            let oy = y_bottom - (i * (GLYPH_W + 1) * scale) as i64;
            for (gy, row) in glyph(c).iter().enumerate() {
                for gx in 0..GLYPH_W {
                    if row >> (GLYPH_W - 1 - gx) & 1 == 1 {
                        let (px, py) = (x + gy as i64 * s, oy - (gx as i64 + 1) * s);
                        self.fill_rect(px, py, px + s, py + s, rgb);
                    }
                }
            }
        }
    }

    /// The raster as a PNG file.
    pub(crate) fn to_png(&self) -> Result<Vec<u8>, EvalError> {
        let mut out = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut out, self.width as u32, self.height as u32);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            encoder.set_compression(png::Compression::Best);
            let mut writer = encoder.write_header()?;
            writer.write_image_data(&self.pixels)?;
        }
        Ok(out)
    }
}

/// Tick positions covering `[lo, hi]` at a 1/2/5 step, and the decimals to print them with.
fn ticks(lo: f64, hi: f64) -> (Vec<f64>, usize) {
    let span = (hi - lo).max(1e-12);
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10()).ceil() as usize
    };
    let first = (lo / step).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    ((first..=last).map(|i| i as f64 * step).collect(), decimals)
}

/// A round upper bound for an axis showing values up to `max`.
pub(crate) fn nice_max(max: f64) -> f64 {
    if !(max.is_finite() && max > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(max.log10().floor());
    [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|v| *v >= max * 0.999_999)
        .unwrap_or(10.0 * mag)
}

/// The plot rectangle and its value ranges.
struct Frame {
    left: i64,
    top: i64,
    right: i64,
    bottom: i64,
    y_range: (f64, f64),
}

impl Frame {
    fn y(&self, v: f64) -> f64 {
        let (lo, hi) = self.y_range;
        self.bottom as f64 - (v - lo) / (hi - lo) * (self.bottom - self.top) as f64
    }

    /// Y grid, ticks, tick labels, axis label and the axes.
    fn draw_y_axis(&self, c: &mut Canvas, label: &str) {
        let (ys, decimals) = ticks(self.y_range.0, self.y_range.1);
        for v in ys {
            let y = self.y(v).round() as i64;
            c.fill_rect(self.left, y, self.right, y + 1, GRID);
            c.fill_rect(self.left - 6, y, self.left, y + 1, BLACK);
            let text = format!("{v:.decimals$}");
            let w = Canvas::text_width(&text, LABEL);
            c.text(
                self.left - 10 - w,
                y - (GLYPH_H * LABEL / 2) as i64,
                &text,
                LABEL,
                DARK,
            );
        }
        let mid = (self.top + self.bottom) / 2 + Canvas::text_width(label, LABEL) / 2;
        c.text_up(8, mid, label, LABEL, BLACK);
    }

    fn draw_axes(&self, c: &mut Canvas) {
        c.fill_rect(
            self.left - 1,
            self.top,
            self.left + 1,
            self.bottom + 1,
            BLACK,
        );
        c.fill_rect(
            self.left - 1,
            self.bottom,
            self.right,
            self.bottom + 2,
            BLACK,
        );
    }
}

/// A legend box in the top-right corner of the plot rectangle.
fn legend(c: &mut Canvas, frame: &Frame, entries: &[(String, Rgb)]) {
    if entries.is_empty() {
        return;
    }
    let line_h = (GLYPH_H * LABEL + 8) as i64;
    let text_w = entries
        .iter()
        .map(|(n, _)| Canvas::text_width(n, LABEL))
        .max()
        .unwrap_or(0);
    let w = text_w + 50;
    let h = line_h * entries.len() as i64 + 8;
    let (x0, y0) = (frame.right - w - 10, frame.top + 10);
    c.fill_rect(x0, y0, x0 + w, y0 + h, WHITE);
    c.rect_outline(x0, y0, x0 + w, y0 + h, DARK);
    for (i, (name, rgb)) in entries.iter().enumerate() {
        let y = y0 + 6 + i as i64 * line_h;
        c.fill_rect(
            x0 + 8,
            y + 2,
            x0 + 36,
            y + (GLYPH_H * LABEL) as i64 - 2,
            *rgb,
        );
        c.text(x0 + 42, y, name, LABEL, BLACK);
    }
}

/// One line of a line chart.
pub(crate) struct LineSeries {
    pub name: String,
    pub color: Rgb,
    pub points: Vec<(f64, f64)>,
}

/// A line chart over `x_range` x `y_range`.
pub(crate) fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    x_range: (f64, f64),
    y_range: (f64, f64),
    series: &[LineSeries],
) -> Canvas {
    let (width, height) = (960usize, 680usize);
    let mut c = Canvas::new(width, height);
    let frame = Frame {
        left: 100,
        top: 60,
        right: width as i64 - 30,
        bottom: height as i64 - 80,
        y_range,
    };
    c.text_centered(width as i64 / 2, 16, title, TITLE, BLACK);
    let x_of = |v: f64| {
        frame.left as f64
            + (v - x_range.0) / (x_range.1 - x_range.0) * (frame.right - frame.left) as f64
    };
    let (xs, decimals) = ticks(x_range.0, x_range.1);
    for v in xs {
        let x = x_of(v).round() as i64;
        c.fill_rect(x, frame.top, x + 1, frame.bottom, GRID);
        c.fill_rect(x, frame.bottom, x + 1, frame.bottom + 6, BLACK);
        c.text_centered(
            x,
            frame.bottom + 10,
            &format!("{v:.decimals$}"),
            LABEL,
            DARK,
        );
    }
    c.text_centered(
        (frame.left + frame.right) / 2,
        height as i64 - 30,
        x_label,
        LABEL,
        BLACK,
    );
    frame.draw_y_axis(&mut c, y_label);
    for s in series {
        for pair in s.points.windows(2) {
            let a = (x_of(pair[0].0), frame.y(pair[0].1));
            let b = (x_of(pair[1].0), frame.y(pair[1].1));
            c.line(a, b, s.color, 3);
        }
    }
    frame.draw_axes(&mut c);
    let entries: Vec<(String, Rgb)> = series.iter().map(|s| (s.name.clone(), s.color)).collect();
    legend(&mut c, &frame, &entries);
    c
}

/// One series of a grouped bar chart; `None` values draw no bar.
pub(crate) struct BarSeries {
    pub name: String,
    pub color: Rgb,
    pub values: Vec<Option<f64>>,
}

/// Grouped bars, one group per category, category names written upwards under the axis.
pub(crate) fn bar_chart(
    title: &str,
    y_label: &str,
    categories: &[String],
    series: &[BarSeries],
    y_max: f64,
) -> Canvas {
    let n_series = series.len().max(1);
    let bar_w = if n_series == 1 {
        22
    } else {
        (60 / n_series).clamp(6, 14)
    } as i64;
    let group_w = bar_w * n_series as i64 + 12;
    let longest = categories
        .iter()
        .map(|s| Canvas::text_width(s, LABEL))
        .max()
        .unwrap_or(0);
    let (left, right_margin, top) = (100i64, 30i64, 60i64);
    let legend_w = series
        .iter()
        .map(|s| Canvas::text_width(&s.name, LABEL))
        .max()
        .unwrap_or(0)
        + 70;
    let plot_w = (group_w * categories.len() as i64).max(760 - left - right_margin);
    let width = (left + plot_w + right_margin + legend_w) as usize;
    let bottom_margin = longest + 30;
    let height = (top + 420 + bottom_margin) as usize;
    let mut c = Canvas::new(width, height);
    let frame = Frame {
        left,
        top,
        right: left + plot_w,
        bottom: top + 420,
        y_range: (0.0, y_max),
    };
    c.text_centered(width as i64 / 2, 16, title, TITLE, BLACK);
    frame.draw_y_axis(&mut c, y_label);
    let offset = (plot_w - group_w * categories.len() as i64) / 2;
    for (k, name) in categories.iter().enumerate() {
        let gx = frame.left + offset + k as i64 * group_w + 6;
        for (i, s) in series.iter().enumerate() {
            let Some(v) = s.values.get(k).copied().flatten() else {
                continue;
            };
            let x = gx + i as i64 * bar_w;
            // A zero still gets a sliver, so that "0" and "n/a" (no bar) look different.
            let y = (frame.y(v.clamp(0.0, y_max)).round() as i64).min(frame.bottom - 3);
            c.fill_rect(x, y, x + bar_w - 1, frame.bottom, s.color);
        }
        let cx = gx + (bar_w * n_series as i64) / 2 - (GLYPH_H * LABEL / 2) as i64;
        c.fill_rect(cx + 6, frame.bottom, cx + 7, frame.bottom + 6, BLACK);
        c.text_up(
            cx,
            frame.bottom + 10 + Canvas::text_width(name, LABEL),
            name,
            LABEL,
            DARK,
        );
    }
    frame.draw_axes(&mut c);
    // The legend sits right of the plot so it never hides a bar.
    let legend_frame = Frame {
        right: width as i64 - 5,
        ..frame
    };
    let entries: Vec<(String, Rgb)> = series.iter().map(|s| (s.name.clone(), s.color)).collect();
    legend(&mut c, &legend_frame, &entries);
    c
}

/// White to dark blue, `t` in 0..1.
fn blues(t: f64) -> Rgb {
    let t = t.clamp(0.0, 1.0);
    let lerp = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    [lerp(247.0, 8.0), lerp(251.0, 48.0), lerp(255.0, 107.0)]
}

/// A confusion-matrix heat map: rows are true classes, columns predictions, colour the fraction of
/// the row, the count written in each cell when it fits.
pub(crate) fn heat_map(title: &str, labels: &[String], counts: &[Vec<u64>]) -> Canvas {
    let n = labels.len().max(1) as i64;
    let cell = (720 / n).clamp(18, 90);
    let longest = labels
        .iter()
        .map(|s| Canvas::text_width(s, LABEL))
        .max()
        .unwrap_or(0);
    let (left, top) = (longest + 60, 70i64);
    let colorbar_w = 120i64;
    let width =
        (left + cell * n + 30 + colorbar_w).max(Canvas::text_width(title, TITLE) + 40) as usize;
    let height = (top + cell * n + longest + 60) as usize;
    let mut c = Canvas::new(width, height);
    c.text_centered(width as i64 / 2, 16, title, TITLE, BLACK);
    // One text size for every count: the largest at which all of them fit their cells.
    let widest = counts
        .iter()
        .flatten()
        .map(|n| n.to_string())
        .max_by_key(String::len)
        .unwrap_or_default();
    let count_scale = [LABEL, 1].into_iter().find(|&scale| {
        Canvas::text_width(&widest, scale) + 4 <= cell && (GLYPH_H * scale) as i64 + 4 <= cell
    });
    for (r, row) in counts.iter().enumerate() {
        let total: u64 = row.iter().sum();
        for (col, &count) in row.iter().enumerate() {
            let frac = if total > 0 {
                count as f64 / total as f64
            } else {
                0.0
            };
            let (x, y) = (left + col as i64 * cell, top + r as i64 * cell);
            let bg = blues(frac);
            c.fill_rect(x, y, x + cell, y + cell, bg);
            if let Some(scale) = count_scale {
                let text = count.to_string();
                let w = Canvas::text_width(&text, scale);
                let ink = if frac > 0.5 { WHITE } else { BLACK };
                let ty = y + (cell - (GLYPH_H * scale) as i64) / 2;
                c.text(x + (cell - w) / 2, ty, &text, scale, ink);
            }
        }
    }
    for i in 0..=n {
        c.fill_rect(
            left,
            top + i * cell,
            left + n * cell + 1,
            top + i * cell + 1,
            GRID,
        );
        c.fill_rect(
            left + i * cell,
            top,
            left + i * cell + 1,
            top + n * cell + 1,
            GRID,
        );
    }
    c.rect_outline(left, top, left + n * cell + 1, top + n * cell + 1, BLACK);
    for (i, name) in labels.iter().enumerate() {
        let w = Canvas::text_width(name, LABEL);
        let cy = top + i as i64 * cell + cell / 2;
        c.text(
            left - 8 - w,
            cy - (GLYPH_H * LABEL / 2) as i64,
            name,
            LABEL,
            DARK,
        );
        let cx = left + i as i64 * cell + cell / 2 - (GLYPH_H * LABEL / 2) as i64;
        c.text_up(cx, top + n * cell + 8 + w, name, LABEL, DARK);
    }
    c.text_up(
        8,
        top + (n * cell) / 2 + Canvas::text_width("TRUE", LABEL) / 2,
        "TRUE",
        LABEL,
        BLACK,
    );
    c.text_centered(left + n * cell / 2, top - 22, "PREDICTED", LABEL, BLACK);
    // Colour bar: fraction of the true class's samples.
    let (bx, by, bh) = (left + n * cell + 30, top, (n * cell).min(300));
    for i in 0..bh {
        let rgb = blues(1.0 - i as f64 / (bh - 1).max(1) as f64);
        c.fill_rect(bx, by + i, bx + 20, by + i + 1, rgb);
    }
    c.rect_outline(bx, by, bx + 20, by + bh, DARK);
    c.text(bx + 26, by, "1.0", LABEL, DARK);
    c.text(
        bx + 26,
        by + bh - (GLYPH_H * LABEL) as i64,
        "0.0",
        LABEL,
        DARK,
    );
    c.text_up(bx + 26, by + bh - 20, "ROW FRAC", LABEL, DARK);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        let (t, d) = ticks(0.0, 1.0);
        assert_eq!(t.len(), 6);
        assert!((t[5] - 1.0).abs() < 1e-12);
        assert_eq!(d, 1);
        let (t, d) = ticks(0.0, 250.0);
        assert_eq!(t, vec![0.0, 50.0, 100.0, 150.0, 200.0, 250.0]);
        assert_eq!(d, 0);
        assert_eq!(nice_max(0.37), 0.4);
        assert_eq!(nice_max(0.0), 1.0);
    }

    #[test]
    fn text_draws_ink_inside_its_box() {
        let mut c = Canvas::new(40, 20);
        c.text(1, 1, "A1", 1, BLACK);
        let ink: Vec<(usize, usize)> = (0..20)
            .flat_map(|y| (0..40).map(move |x| (x, y)))
            .filter(|&(x, y)| c.pixels[3 * (y * 40 + x)] == 0)
            .collect();
        assert!(!ink.is_empty());
        let w = Canvas::text_width("A1", 1) as usize;
        assert!(ink
            .iter()
            .all(|&(x, y)| (1..1 + w).contains(&x) && (1..8).contains(&y)));
    }
}
