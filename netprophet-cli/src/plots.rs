//! SVG plots of an evaluation: precision-recall curves and reliability
//! diagrams, self-contained (no scripts, no external assets).

use std::fmt::Write as _;

use crate::protocol::Outcome;

/// One precision-recall curve to draw.
pub struct PrCurve<'a> {
    /// Legend text.
    pub label: &'a str,
    /// (recall, precision) points, highest threshold first.
    pub points: &'a [(f64, f64)],
    /// Its average precision, for the legend.
    pub pr_auc: Option<f64>,
    /// Drawn dashed (baselines).
    pub dashed: bool,
}

/// PR curves of every candidate of one protocol, as one SVG.
pub fn pr_curves_svg(title: &str, outcomes: &[&Outcome]) -> String {
    let curves: Vec<PrCurve<'_>> = outcomes
        .iter()
        .map(|o| PrCurve {
            label: &o.candidate,
            points: &o.curve,
            pr_auc: o.pr_auc,
            dashed: o.baseline,
        })
        .collect();
    let base_rate = outcomes.first().map_or(0.0, |o| o.base_rate);
    pr_svg(title, &curves, base_rate)
}

/// Precision-recall curves as step lines (as average precision integrates
/// them), with the base rate (the curve of a model that knows nothing)
/// dashed.
pub fn pr_svg(title: &str, curves: &[PrCurve<'_>], base_rate: f64) -> String {
    let (w, h, m) = (640.0, 440.0, 56.0);
    let x = |r: f64| m + r * (w - 2.0 * m);
    let y = |p: f64| h - m - p * (h - 2.0 * m);
    let mut body = String::new();
    for (k, c) in curves.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let mut path = String::new();
        let mut last = c.points.first().map_or(1.0, |p| p.1);
        let _ = write!(path, "M{:.1},{:.1}", x(0.0), y(last));
        for &(r, p) in c.points {
            let _ = write!(
                path,
                " L{:.1},{:.1} L{:.1},{:.1}",
                x(r),
                y(last),
                x(r),
                y(p)
            );
            last = p;
        }
        let dash = if c.dashed {
            " stroke-dasharray=\"5 3\""
        } else {
            ""
        };
        let _ = write!(
            body,
            r#"<path d="{path}" fill="none" stroke="{color}" stroke-width="1.6"{dash}/>"#
        );
        let _ = write!(
            body,
            r#"<text x="{:.1}" y="{:.1}" fill="{color}">{}{}</text>"#,
            w / 2.0 - 60.0,
            m + 14.0 + 15.0 * k as f64,
            esc(c.label),
            c.pr_auc
                .map_or(String::new(), |v| format!(" (PR-AUC {v:.3})"))
        );
    }
    let _ = write!(
        body,
        r##"<line x1="{m}" y1="{b:.1}" x2="{r}" y2="{b:.1}" stroke="#999" stroke-dasharray="2 4"/><text x="{m}" y="{bt:.1}" fill="#666">base rate {base_rate:.4}</text>"##,
        b = y(base_rate),
        bt = y(base_rate) - 4.0,
        r = w - m
    );
    frame_svg(title, "recall", "precision", w, h, m, &body)
}

/// The reliability diagram of the model candidates of one protocol.
pub fn reliability_svg(title: &str, outcomes: &[&Outcome]) -> String {
    let (w, h, m) = (640.0, 440.0, 56.0);
    // The rare-event rows sit at low probabilities: the axes end at the
    // largest probability seen, rounded up.
    let top = outcomes
        .iter()
        .flat_map(|o| o.reliability.iter())
        .map(|b| b.predicted.max(b.observed))
        .fold(0.05f64, f64::max);
    let top = ((top * 20.0).ceil() / 20.0).min(1.0);
    let x = |v: f64| m + v / top * (w - 2.0 * m);
    let y = |v: f64| h - m - v / top * (h - 2.0 * m);
    let mut body = format!(
        r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#999" stroke-dasharray="4 4"/>"##,
        x(0.0),
        y(0.0),
        x(top),
        y(top)
    );
    for (k, o) in outcomes.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let mut path = String::new();
        for (j, b) in o.reliability.iter().enumerate() {
            let _ = write!(
                path,
                "{}{:.1},{:.1} ",
                if j == 0 { "M" } else { "L" },
                x(b.predicted),
                y(b.observed)
            );
            let _ = write!(
                body,
                r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{color}"/>"#,
                x(b.predicted),
                y(b.observed)
            );
        }
        let _ = write!(
            body,
            r#"<path d="{path}" fill="none" stroke="{color}" stroke-width="1.5"/>"#
        );
        let _ = write!(
            body,
            r#"<text x="{:.1}" y="{:.1}" fill="{color}">{} (ECE {:.4})</text>"#,
            m + 10.0,
            m + 14.0 + 15.0 * k as f64,
            esc(&o.candidate),
            o.ece
        );
    }
    let mut ticks = String::new();
    for k in 0..=4 {
        let v = top * f64::from(k) / 4.0;
        let _ = write!(
            ticks,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#444">{v:.3}</text><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#444">{v:.3}</text>"##,
            x(v),
            h - m + 16.0,
            m - 6.0,
            y(v) + 4.0
        );
    }
    body.push_str(&ticks);
    frame_svg(
        title,
        "predicted probability (20 equal-mass bins)",
        "observed rate",
        w,
        h,
        m,
        &body,
    )
}

const PALETTE: [&str; 8] = [
    "#c0392b", "#2471a3", "#229954", "#8e44ad", "#d68910", "#17a589", "#5d6d7e", "#a04000",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn frame_svg(title: &str, xl: &str, yl: &str, w: f64, h: f64, m: f64, body: &str) -> String {
    let mut ticks = String::new();
    if !body.contains("text-anchor=\"end\"") {
        for k in 0..=4 {
            let v = f64::from(k) / 4.0;
            let _ = write!(
                ticks,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#444">{v}</text><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#444">{v}</text>"##,
                m + v * (w - 2.0 * m),
                h - m + 16.0,
                m - 6.0,
                h - m - v * (h - 2.0 * m) + 4.0
            );
        }
    }
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
<text x="{m}" y="24" font-size="13">{title}</text>
{ticks}
<line x1="{m}" y1="{b}" x2="{r}" y2="{b}" stroke="#333"/>
<line x1="{m}" y1="{m}" x2="{m}" y2="{b}" stroke="#333"/>
<text x="{cx}" y="{xl_y}" text-anchor="middle">{xl}</text>
<text x="14" y="{cy}" transform="rotate(-90 14 {cy})" text-anchor="middle">{yl}</text>
{body}
</svg>
"##,
        title = esc(title),
        b = h - m,
        r = w - m,
        cx = w / 2.0,
        cy = h / 2.0,
        xl_y = h - 12.0,
    )
}
