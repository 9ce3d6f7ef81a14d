//! A top-down inset of where people stand, in metres: the truth as rings, a model's floor
//! positions as dots in its people's colours. A picture of what the radio senses even where
//! the skeletons drawn in the camera view do not follow the people.

use crate::image::RgbImage;
use crate::render::PERSON_COLORS;
use crate::PoseFrame;

/// The floor drawn: `[0, x] x [0, y]` metres of the room frame, grown to hold every point seen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FloorMap {
    extent_m: [f32; 2],
}

impl Default for FloorMap {
    /// A 4 x 4 m floor to start with (the smallest simulated rooms).
    fn default() -> Self {
        Self {
            extent_m: [4.0, 4.0],
        }
    }
}

impl FloorMap {
    /// The floor shown, metres.
    pub fn extent_m(&self) -> [f32; 2] {
        self.extent_m
    }

    /// Grows the floor to whole metres past every point of `xy` (points with a non-finite or
    /// implausible coordinate, beyond 100 m, are left out).
    pub fn see(&mut self, xy: impl IntoIterator<Item = [f32; 2]>) {
        for p in xy
            .into_iter()
            .filter(|p| p.iter().all(|v| v.is_finite() && *v < 100.0))
        {
            for (e, v) in self.extent_m.iter_mut().zip(p) {
                *e = e.max(v.max(0.0).floor() + 1.0);
            }
        }
    }

    /// Draws the inset in the top-right corner of `img` (a third of its width; in a room
    /// camera's view the top is wall and ceiling, not people): a dark floor
    /// with a 1 m grid, `truth` as white rings, the people of `predicted` that have a floor
    /// position as dots (colours as in the overlay: by track id, else by order).
    pub fn draw(&self, img: &mut RgbImage, truth: &[[f32; 2]], predicted: &PoseFrame) {
        let [ex, ey] = self.extent_m;
        let w = (img.width / 3).max(24) as f64;
        let scale = w / f64::from(ex);
        let h = f64::from(ey) * scale;
        let (x0, y0) = (img.width as f64 - w - 4.0, 4.0);
        if x0 < 0.0 || y0 + h > img.height as f64 {
            return;
        }
        img.fill_rect(x0 as i64, y0 as i64, w as i64, h as i64, [20, 20, 28], 0.75);
        // Room frame y grows away from the x axis: drawn upwards, as on a floor plan.
        let at = |p: [f32; 2]| {
            (
                x0 + f64::from(p[0]) * scale,
                y0 + h - f64::from(p[1]) * scale,
            )
        };
        let grid = [70, 70, 80];
        for i in 0..=ex as i64 {
            img.line(at([i as f32, 0.0]), at([i as f32, ey]), grid);
        }
        for j in 0..=ey as i64 {
            img.line(at([0.0, j as f32]), at([ex, j as f32]), grid);
        }
        for p in truth {
            img.dot(at(*p), 4, [255, 255, 255], false);
        }
        for (pi, person) in predicted.people.iter().enumerate() {
            if let Some(p) = person.floor_m {
                let slot = person.track_id.map_or(pi, |id| id.rem_euclid(5) as usize);
                img.dot(at(p), 3, PERSON_COLORS[slot % PERSON_COLORS.len()], true);
            }
        }
        img.text(
            x0 as i64 + 2,
            y0 as i64 + 2,
            "floor, 1 m grid",
            [200, 200, 200],
            1,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Person;

    /// The floor grows to whole metres past the points; a person at (1, 1) m is drawn one
    /// metre right of the inset's left edge and one metre above its bottom, and a truth ring
    /// around its place leaves the ring's centre dark.
    #[test]
    fn people_are_drawn_where_they_stand() {
        let mut map = FloorMap::default();
        map.see([[5.2, 1.0], [f32::NAN, 9.0]]);
        assert_eq!(map.extent_m(), [6.0, 4.0]);
        let mut img = RgbImage::filled(300, 200, [0, 0, 0]);
        let mut person = Person::from_box([0.0, 0.0, 1.0, 1.0, 0.9]);
        person.floor_m = Some([1.0, 1.0]);
        let frame = PoseFrame {
            people: vec![person],
            ..PoseFrame::default()
        };
        map.draw(&mut img, &[[4.0, 3.0]], &frame);
        // Inset 100 px wide for 6 m: 16.67 px a metre, at x0 = 196, y0 = 4, 66.7 px high.
        let scale = 100.0 / 6.0;
        let (x0, bottom) = (196.0, 4.0 + 4.0 * scale);
        let px = |x: f64, y: f64| ((x0 + x * scale) as usize, (bottom - y * scale) as usize);
        let (dx, dy) = px(1.0, 1.0);
        assert_eq!(img.get(dx, dy), Some(PERSON_COLORS[0]));
        let (rx, ry) = px(4.0, 3.0);
        assert_eq!(img.get(rx + 4, ry), Some([255, 255, 255]));
        assert_ne!(img.get(rx, ry), Some([255, 255, 255]));
        // A picture too small for the inset is left as it is.
        let mut tiny = RgbImage::filled(10, 10, [1, 2, 3]);
        map.draw(&mut tiny, &[[1.0, 1.0]], &frame);
        assert_eq!(tiny.get(5, 5), Some([1, 2, 3]));
    }
}
