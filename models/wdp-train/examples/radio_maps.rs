//! How well the radio's floor images alone place people, with no model (the locator's default
//! settings, with and without the empty room's background): every frame's image
//! decoded as its `k` best local maxima (`k` the true number of people), matched to the truth
//! within 1 m; beside it the same images paired with another sequence's frames (a baseline
//! that keeps the room's usual places and ignores the moment).
//!
//! ```text
//! cargo run --release -p wdp-train --example radio_maps -- <sequence folders>...
//! ```
use eyre::{eyre, Result};
use wdp_eval::floor::match_floor;
use wdp_train::{load_datasets, LoadOptions, Sample};

fn peaks(map: &[f32], nx: usize, ny: usize, k: usize, cell: f64) -> Vec<[f64; 2]> {
    let mut cand: Vec<(f32, usize)> = Vec::new();
    for iy in 0..ny {
        for ix in 0..nx {
            let v = map[iy * nx + ix];
            if v <= 0.0 {
                continue;
            }
            let mut best = true;
            for dy in -1i64..=1 {
                for dx in -1i64..=1 {
                    let (x, y) = (ix as i64 + dx, iy as i64 + dy);
                    if (dx, dy) != (0, 0)
                        && (0..nx as i64).contains(&x)
                        && (0..ny as i64).contains(&y)
                        && map[y as usize * nx + x as usize] > v
                    {
                        best = false;
                    }
                }
            }
            if best {
                cand.push((v, iy * nx + ix));
            }
        }
    }
    cand.sort_by(|a, b| b.0.total_cmp(&a.0));
    cand.iter()
        .take(k)
        .map(|&(_, i)| {
            [
                ((i % nx) as f64 + 0.5) * cell,
                ((i / nx) as f64 + 0.5) * cell,
            ]
        })
        .collect()
}

fn score(samples: &[Sample], maps: &[&Option<Vec<f32>>], label: &str) {
    let (nx, ny, cell) = (32, 24, 0.25);
    let (mut errors, mut missed, mut truth, mut one) = (Vec::new(), 0, 0, Vec::new());
    let mut without = 0;
    for (s, map) in samples.iter().zip(maps) {
        let t: Vec<[f64; 2]> = s
            .people
            .iter()
            .filter_map(|p| p.position_m.map(|q| [q[0] as f64, q[1] as f64]))
            .collect();
        if t.is_empty() {
            continue;
        }
        let Some(map) = map else {
            without += 1;
            continue;
        };
        let p = peaks(map, nx, ny, t.len(), cell);
        let preds: Vec<Option<[f64; 2]>> = p.iter().copied().map(Some).collect();
        let m = match_floor(&preds, &t, 1.0);
        truth += t.len();
        missed += m.missed;
        errors.extend(m.pairs.iter().map(|x| x.2));
        if t.len() == 1 {
            if let Some(b) = p.first() {
                one.push(((b[0] - t[0][0]).powi(2) + (b[1] - t[0][1]).powi(2)).sqrt());
            }
        }
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (
            v.get(v.len() / 2).copied().unwrap_or(f64::NAN),
            v.get(v.len() * 9 / 10).copied().unwrap_or(f64::NAN),
        )
    };
    let (m, p90) = med(&mut errors);
    let (m1, p1) = med(&mut one);
    println!(
        "{label}: {truth} people, matched median {m:.2} / p90 {p90:.2} m, missed {:.1}%; one-person frames ({}) best peak median {m1:.2} / p90 {p1:.2} m; {without} frames without an image",
        100.0 * missed as f64 / truth.max(1) as f64,
        one.len()
    );
}

fn main() -> Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        return Err(eyre!("usage: radio_maps SEQUENCE..."));
    }
    let dirs: Vec<std::path::PathBuf> = args.drain(..).map(Into::into).collect();
    for (label, empty_room_s) in [("moving and still", 10.0), ("moving only", 0.0)] {
        let settings = wdp_locate::LocatorSettings {
            empty_room_s,
            ..Default::default()
        };
        let options = LoadOptions {
            labels_only: true,
            locator: Some(settings),
            ..LoadOptions::default()
        };
        let samples = load_datasets(&dirs, &options)?;
        let maps: Vec<&Option<Vec<f32>>> = samples.iter().map(|s| &s.radio_map).collect();
        score(&samples, &maps, &format!("images, {label}"));
        let n = samples.len();
        let shifted: Vec<&Option<Vec<f32>>> = (0..n).map(|i| maps[(i + n / 2) % n]).collect();
        score(
            &samples,
            &shifted,
            &format!("another sequence's images, {label}"),
        );
    }
    Ok(())
}
