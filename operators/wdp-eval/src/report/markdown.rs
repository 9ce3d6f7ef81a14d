//! The Markdown text of the evaluation report: one section of tables per metric family, overall
//! and per room, with links to the plots.
//!
//! Split from `report.rs` (issue 15: no source file over ~600 lines), which writes the files and
//! draws the plots; `crate::report` re-exports [`render_markdown`].

use super::{file_safe, scopes};
use crate::names::PART_CLASSES;
use crate::rooms::EvalReport;
use std::fmt::Write as _;

fn num(v: f64) -> String {
    if v == -1.0 {
        "-1".to_owned()
    } else {
        format!("{v:.3}")
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_owned(), num)
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

fn table_header(out: &mut String, columns: &[String]) {
    let _ = writeln!(
        out,
        "| {} |",
        columns
            .iter()
            .map(|c| cell(c))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(out, "|{}", " --- |".repeat(columns.len()));
}

fn row(out: &mut String, cells: &[String]) {
    let _ = writeln!(out, "| {} |", cells.join(" | "));
}

/// The Markdown text of the report; `plots` are the image file names to link (as written by
/// [`write_report`](super::write_report)).
pub fn render_markdown(report: &EvalReport, title: &str, plots: &[&str]) -> String {
    let mut out = String::new();
    let all = scopes(report);
    let image = |out: &mut String, name: &str, alt: &str| {
        // A blank line either way, so that a table never runs into the next heading.
        if plots.contains(&name) {
            let _ = writeln!(out, "\n![{alt}]({name})\n");
        } else {
            out.push('\n');
        }
    };
    let _ = writeln!(out, "# {title}\n");
    let rooms: Vec<&str> = report.rooms.keys().map(String::as_str).collect();
    let _ = writeln!(
        out,
        "Scopes: `all` (every sample) and {} room(s){}.\n",
        rooms.len(),
        if rooms.is_empty() {
            String::new()
        } else {
            format!(
                ": {}",
                rooms
                    .iter()
                    .map(|r| format!("`{r}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );

    if all.iter().any(|(_, r)| r.keypoints.is_some()) {
        let _ = writeln!(out, "## Keypoints: COCO OKS AP / AR\n");
        let _ = writeln!(
            out,
            "pycocotools `COCOeval` keypoint semantics: OKS with the COCO-17 sigmas and the gt area, \
             at most 20 detections per image, OKS thresholds .50:.05:.95, 101 recall points. \
             Medium: area 32² to 96², large: above 96². -1: no gt in that range.\n"
        );
        let mut cols: Vec<String> = ["scope", "images", "gts", "dets"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        cols.extend(
            crate::coco::CocoStats::NAMES
                .iter()
                .map(|s| (*s).to_owned()),
        );
        table_header(&mut out, &cols);
        for (name, r) in &all {
            if let Some(k) = &r.keypoints {
                let mut cells = vec![
                    cell(name),
                    k.n_images.to_string(),
                    k.n_gt.to_string(),
                    k.n_dets.to_string(),
                ];
                cells.extend(k.stats.to_array().iter().map(|&v| num(v)));
                row(&mut out, &cells);
            }
        }
        image(&mut out, "keypoints_pr.png", "keypoint PR curves");
    }

    if all.iter().any(|(_, r)| r.floor.is_some()) {
        let _ = writeln!(out, "## Floor position, metres\n");
        let gate = all
            .iter()
            .find_map(|(_, r)| r.floor.as_ref().map(|f| f.gate_m))
            .unwrap_or(crate::floor::DEFAULT_GATE_M);
        let _ = writeln!(
            out,
            "Each person's floor point: the midpoint of its ankles cast through the camera onto the \
             floor (the bottom centre of its box when an ankle is missing or its ray misses the floor), \
             against the truth pelvis position. Matched per frame by minimum total distance \
             (Hungarian); a pair farther apart than {gate} m counts as a miss and a false positive. \
             `truth kp`: the truth keypoints scored the same way, the best a perfect keypoint model \
             can do (ankles are not below the pelvis in every pose).\n"
        );
        table_header(
            &mut out,
            &[
                "scope",
                "frames",
                "median",
                "p90",
                "matched",
                "missed",
                "false pos.",
                "miss rate",
                "false pos. rate",
                "truth kp median",
                "truth kp p90",
            ]
            .map(String::from),
        );
        for (name, r) in &all {
            if let Some(f) = &r.floor {
                let t = r.floor_truth_keypoints.as_ref();
                row(
                    &mut out,
                    &[
                        cell(name),
                        f.frames.to_string(),
                        opt(f.median_m),
                        opt(f.p90_m),
                        f.matched.to_string(),
                        f.missed.to_string(),
                        f.false_positives.to_string(),
                        opt(f.miss_rate),
                        opt(f.false_positive_rate),
                        opt(t.and_then(|t| t.median_m)),
                        opt(t.and_then(|t| t.p90_m)),
                    ],
                );
            }
        }
        out.push('\n');
    }

    if all.iter().any(|(_, r)| r.count.is_some()) {
        let _ = writeln!(out, "## People count\n");
        let _ = writeln!(
            out,
            "Predicted people (above the score threshold) against labelled truth people, per frame.\n"
        );
        table_header(
            &mut out,
            &["scope", "frames", "accuracy", "mean abs. error"].map(String::from),
        );
        for (name, r) in &all {
            if let Some(c) = &r.count {
                row(
                    &mut out,
                    &[
                        cell(name),
                        c.frames.to_string(),
                        opt(c.accuracy),
                        opt(c.mean_abs_error),
                    ],
                );
            }
        }
        out.push('\n');
    }

    let with_pck: Vec<_> = all
        .iter()
        .filter_map(|(n, r)| r.pck.as_ref().map(|p| (*n, p)))
        .collect();
    if let Some((_, first)) = with_pck.first() {
        let _ = writeln!(out, "## PCK@{}\n", first.alpha);
        let _ = writeln!(
            out,
            "A keypoint is correct within {} x the torso diameter (left shoulder to right hip of the gt; \
             the gt box diagonal when either is not labelled). Only labelled gt keypoints of non-crowd \
             gts count; detections are matched to gts greedily by OKS; an unmatched gt counts as missed. \
             Mean: correct over labelled keypoints, pooled.\n",
            first.alpha
        );
        let mut cols = vec!["keypoint".to_owned()];
        cols.extend(with_pck.iter().map(|(n, _)| (*n).to_owned()));
        table_header(&mut out, &cols);
        for (j, kp) in first.keypoints.iter().enumerate() {
            let mut cells = vec![kp.clone()];
            cells.extend(
                with_pck
                    .iter()
                    .map(|(_, p)| opt(p.per_keypoint.get(j).copied().flatten())),
            );
            row(&mut out, &cells);
        }
        let mut cells = vec!["**mean**".to_owned()];
        cells.extend(with_pck.iter().map(|(_, p)| format!("**{}**", opt(p.mean))));
        row(&mut out, &cells);
        let mut cells = vec!["gts matched / counted".to_owned()];
        cells.extend(
            with_pck
                .iter()
                .map(|(_, p)| format!("{} / {}", p.n_matched, p.n_gt)),
        );
        row(&mut out, &cells);
        let mut cells = vec!["gts scaled by box diagonal".to_owned()];
        cells.extend(with_pck.iter().map(|(_, p)| p.bbox_scale_gts.to_string()));
        row(&mut out, &cells);
        image(&mut out, "pck.png", "PCK per keypoint");
    }

    let with_parts: Vec<_> = all
        .iter()
        .filter_map(|(n, r)| r.parts.as_ref().map(|p| (*n, p)))
        .collect();
    if !with_parts.is_empty() {
        let _ = writeln!(out, "## Body-part masks: IoU\n");
        let _ = writeln!(
            out,
            "25 classes (0 background, 1-24 DensePose parts) from image label maps. mIoU averages the \
             classes present in gt or prediction (n/a: absent from both); `mIoU parts` leaves background out.\n"
        );
        table_header(
            &mut out,
            &["scope", "mIoU", "mIoU parts", "pixel accuracy", "pixels"].map(String::from),
        );
        for (name, p) in &with_parts {
            row(
                &mut out,
                &[
                    cell(name),
                    opt(p.miou),
                    opt(p.miou_parts),
                    opt(p.pixel_accuracy),
                    p.confusion.total.to_string(),
                ],
            );
        }
        out.push('\n');
        let mut cols = vec!["class".to_owned()];
        cols.extend(with_parts.iter().map(|(n, _)| (*n).to_owned()));
        table_header(&mut out, &cols);
        for (c, class) in PART_CLASSES.iter().enumerate() {
            let mut cells = vec![format!("{c} {class}")];
            cells.extend(
                with_parts
                    .iter()
                    .map(|(_, p)| opt(p.per_class.get(c).copied().flatten())),
            );
            row(&mut out, &cells);
        }
        image(&mut out, "part_iou.png", "IoU per part");
        image(&mut out, "part_confusion.png", "part confusion");
    }

    let with_uv: Vec<_> = all
        .iter()
        .filter_map(|(n, r)| r.uv.as_ref().map(|u| (*n, u)))
        .collect();
    if !with_uv.is_empty() {
        let _ = writeln!(out, "## UV error\n");
        let _ = writeln!(
            out,
            "Euclidean distance between predicted and gt (u, v) on gt foreground pixels (gt part > 0); \
             `same part`: only pixels whose predicted part equals the gt part.\n"
        );
        table_header(
            &mut out,
            &[
                "scope",
                "mean (foreground)",
                "pixels",
                "mean (same part)",
                "pixels",
            ]
            .map(String::from),
        );
        for (name, u) in &with_uv {
            row(
                &mut out,
                &[
                    cell(name),
                    opt(u.mean_foreground),
                    u.n_foreground.to_string(),
                    opt(u.mean_same_part),
                    u.n_same_part.to_string(),
                ],
            );
        }
        out.push('\n');
        let mut cols = vec!["gt part".to_owned()];
        cols.extend(with_uv.iter().map(|(n, _)| (*n).to_owned()));
        table_header(&mut out, &cols);
        for (c, class) in PART_CLASSES.iter().enumerate().skip(1) {
            let mut cells = vec![format!("{c} {class}")];
            cells.extend(
                with_uv
                    .iter()
                    .map(|(_, u)| opt(u.per_part.get(c).copied().flatten())),
            );
            row(&mut out, &cells);
        }
        image(&mut out, "uv_error.png", "UV error histogram");
        image(&mut out, "uv_error_parts.png", "UV error per part");
    }

    for (head, cm) in &report.all.heads {
        let _ = writeln!(out, "## Classification: {head}\n");
        table_header(
            &mut out,
            &["scope", "accuracy", "samples"].map(String::from),
        );
        for (name, r) in &all {
            if let Some(c) = r.heads.get(head) {
                row(
                    &mut out,
                    &[cell(name), opt(c.accuracy), c.total.to_string()],
                );
            }
        }
        let _ = writeln!(
            out,
            "\nConfusion matrix of `all` (rows: true class, columns: prediction):\n"
        );
        let mut cols = vec!["true \\ pred".to_owned()];
        cols.extend(cm.labels.iter().cloned());
        table_header(&mut out, &cols);
        for (label, counts) in cm.labels.iter().zip(&cm.counts) {
            let mut cells = vec![cell(label)];
            cells.extend(counts.iter().map(u64::to_string));
            row(&mut out, &cells);
        }
        out.push('\n');
        table_header(
            &mut out,
            &["class", "precision", "recall", "F1", "support"].map(String::from),
        );
        for (label, s) in cm.labels.iter().zip(&cm.per_class) {
            row(
                &mut out,
                &[
                    cell(label),
                    opt(s.precision),
                    opt(s.recall),
                    opt(s.f1),
                    s.support.to_string(),
                ],
            );
        }
        let name = format!("confusion_{}.png", file_safe(head));
        image(&mut out, &name, &format!("confusion {head}"));
    }
    out
}
