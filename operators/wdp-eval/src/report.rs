//! The evaluation report: `report.md` (tables of every metric, overall and per room),
//! `results.json` (the whole [`EvalReport`]) and one PNG per metric family.
//!
//! Bar plots show `all` plus the first [`MAX_PLOT_ROOMS`] rooms (alphabetical); the tables show
//! every room. PR curves and heat maps are drawn for `all`.
//!
//! Layout: this file writes the files and draws the plots; the Markdown tables are built in the
//! private submodule `report/markdown.rs`, split off to keep each file short (issue 15), and
//! [`render_markdown`] is re-exported here.

use crate::coco::{AREA_ALL, RECALL_THRESHOLDS};
use crate::plot::{bar_chart, heat_map, line_chart, nice_max, BarSeries, LineSeries, PALETTE};
use crate::rooms::{EvalReport, EvalResults};
use crate::EvalError;
use std::path::{Path, PathBuf};

mod markdown;

pub use markdown::render_markdown;

/// Rooms drawn beside `all` in the bar plots.
pub const MAX_PLOT_ROOMS: usize = 5;

/// The files [`write_report`] wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportFiles {
    /// `report.md`.
    pub markdown: PathBuf,
    /// `results.json`.
    pub json: PathBuf,
    /// The PNG plots.
    pub plots: Vec<PathBuf>,
}

/// Writes `report.md`, `results.json` and the plots into `dir` (created if missing).
pub fn write_report(
    report: &EvalReport,
    dir: &Path,
    title: &str,
) -> Result<ReportFiles, EvalError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| EvalError::io(format!("create {}", dir.display()), e))?;
    let plots = render_plots(report)?;
    let mut written = Vec::new();
    for (name, png) in &plots {
        let path = dir.join(name);
        std::fs::write(&path, png)
            .map_err(|e| EvalError::io(format!("write {}", path.display()), e))?;
        written.push(path);
    }
    let names: Vec<&str> = plots.iter().map(|(n, _)| n.as_str()).collect();
    let markdown = dir.join("report.md");
    std::fs::write(&markdown, render_markdown(report, title, &names))
        .map_err(|e| EvalError::io(format!("write {}", markdown.display()), e))?;
    let json = dir.join("results.json");
    std::fs::write(&json, serde_json::to_vec_pretty(report)?)
        .map_err(|e| EvalError::io(format!("write {}", json.display()), e))?;
    Ok(ReportFiles {
        markdown,
        json,
        plots: written,
    })
}

/// `all` then every room, with their names.
fn scopes(report: &EvalReport) -> Vec<(&str, &EvalResults)> {
    std::iter::once(("all", &report.all))
        .chain(report.rooms.iter().map(|(n, r)| (n.as_str(), r)))
        .collect()
}

/// A file name made of `[A-Za-z0-9_-]` only.
fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Every plot the report has data for: `(file name, PNG bytes)`.
pub fn render_plots(report: &EvalReport) -> Result<Vec<(String, Vec<u8>)>, EvalError> {
    let mut out = Vec::new();
    let plotted: Vec<(&str, &EvalResults)> = scopes(report)
        .into_iter()
        .take(MAX_PLOT_ROOMS + 1)
        .collect();
    let color = |i: usize| PALETTE[i % PALETTE.len()];

    if let Some(kp) = &report.all.keypoints {
        let curve = |p: &[f64]| -> Vec<(f64, f64)> {
            RECALL_THRESHOLDS
                .iter()
                .copied()
                .zip(p.iter().copied())
                .collect()
        };
        let mut series = Vec::new();
        for (i, (t, name)) in [(0usize, "OKS 0.50"), (5, "OKS 0.75")]
            .into_iter()
            .enumerate()
        {
            if let Some(p) = kp.pr_curve(AREA_ALL, t) {
                series.push(LineSeries {
                    name: name.into(),
                    color: color(i),
                    points: curve(p),
                });
            }
        }
        if let Some(p) = kp.mean_pr_curve(AREA_ALL) {
            series.push(LineSeries {
                name: format!("MEAN OKS .50:.95 (AP {:.3})", kp.stats.ap),
                color: color(2),
                points: curve(&p),
            });
        }
        let chart = line_chart(
            "KEYPOINT PRECISION-RECALL (ALL, AREA ALL)",
            "RECALL",
            "PRECISION",
            (0.0, 1.0),
            (0.0, 1.0),
            &series,
        );
        out.push(("keypoints_pr.png".to_owned(), chart.to_png()?));
    }

    let pck: Vec<BarSeries> = plotted
        .iter()
        .enumerate()
        .filter_map(|(i, (name, r))| {
            r.pck.as_ref().map(|p| BarSeries {
                name: (*name).to_owned(),
                color: color(i),
                values: p.per_keypoint.clone(),
            })
        })
        .collect();
    if let Some(p) = &report.all.pck {
        let chart = bar_chart(
            &format!("PCK@{} PER KEYPOINT", p.alpha),
            "PCK",
            &p.keypoints,
            &pck,
            1.0,
        );
        out.push(("pck.png".to_owned(), chart.to_png()?));
    }

    if let Some(parts) = &report.all.parts {
        let series: Vec<BarSeries> = plotted
            .iter()
            .enumerate()
            .filter_map(|(i, (name, r))| {
                r.parts.as_ref().map(|p| BarSeries {
                    name: (*name).to_owned(),
                    color: color(i),
                    values: p.per_class.clone(),
                })
            })
            .collect();
        let chart = bar_chart("BODY-PART IOU", "IOU", &parts.classes, &series, 1.0);
        out.push(("part_iou.png".to_owned(), chart.to_png()?));
        let chart = heat_map(
            "BODY-PART CONFUSION (ALL, PIXELS)",
            &parts.confusion.labels,
            &parts.confusion.counts,
        );
        out.push(("part_confusion.png".to_owned(), chart.to_png()?));
    }

    if let Some(uv) = &report.all.uv {
        // Step histogram, one line per scope: overlapping lines read better than 29 bar groups.
        let mut top = 0.0f64;
        let series: Vec<LineSeries> = plotted
            .iter()
            .enumerate()
            .filter_map(|(i, (name, r))| {
                let u = r.uv.as_ref()?;
                let total: u64 = u.histogram.iter().sum();
                let mut points = Vec::new();
                for (b, &count) in u.histogram.iter().enumerate() {
                    let frac = if total > 0 {
                        count as f64 / total as f64
                    } else {
                        0.0
                    };
                    top = top.max(frac);
                    points.push((b as f64 * u.bin_width, frac));
                    points.push(((b + 1) as f64 * u.bin_width, frac));
                }
                Some(LineSeries {
                    name: (*name).to_owned(),
                    color: color(i),
                    points,
                })
            })
            .collect();
        let x_max = uv.histogram.len() as f64 * uv.bin_width;
        let chart = line_chart(
            &format!(
                "UV ERROR HISTOGRAM (LAST BIN: >= {:.2})",
                x_max - uv.bin_width
            ),
            "UV ERROR (L2 IN U,V)",
            "FRACTION OF FG PIXELS",
            (0.0, x_max),
            (0.0, nice_max(top)),
            &series,
        );
        out.push(("uv_error.png".to_owned(), chart.to_png()?));
        let series: Vec<BarSeries> = plotted
            .iter()
            .enumerate()
            .filter_map(|(i, (name, r))| {
                r.uv.as_ref().map(|u| BarSeries {
                    name: (*name).to_owned(),
                    color: color(i),
                    values: u.per_part[1..].to_vec(),
                })
            })
            .collect();
        let top = series
            .iter()
            .flat_map(|s| s.values.iter().flatten())
            .fold(0.0f64, |a, &b| a.max(b));
        let chart = bar_chart(
            "MEAN UV ERROR PER GT PART",
            "UV ERROR",
            &uv.classes[1..],
            &series,
            nice_max(top),
        );
        out.push(("uv_error_parts.png".to_owned(), chart.to_png()?));
    }

    for (head, cm) in &report.all.heads {
        let chart = heat_map(&format!("CONFUSION: {head} (ALL)"), &cm.labels, &cm.counts);
        out.push((
            format!("confusion_{}.png", file_safe(head)),
            chart.to_png()?,
        ));
    }
    Ok(out)
}
