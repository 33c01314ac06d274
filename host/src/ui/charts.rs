//! Charts drawn on the server as SVG: horizontal bars (compositions, funnels, shares) and
//! lines (trends). Only presentation attributes are used, so the pages' Content-Security-
//! Policy (no inline styles) holds, and every label is escaped here.

use std::fmt::Write as _;

/// Text made safe inside SVG markup.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

const PALETTE: [&str; 6] = ["#2f6fde", "#19a974", "#f29d38", "#d9534f", "#7e57c2", "#26a6b8"];

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v:.1}") }
}

/// Horizontal bars, one per label, longest first as given; `title` is read by screen readers.
pub fn bars(title: &str, items: &[(String, f64)]) -> String {
    let row = 28.0;
    let label_w = 140.0;
    let width = 520.0;
    let height = (items.len().max(1) as f64) * row + 8.0;
    let max = items.iter().map(|i| i.1).fold(0.0_f64, f64::max).max(1.0);
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        t = escape(title)
    );
    for (i, (label, value)) in items.iter().enumerate() {
        let y = i as f64 * row + 4.0;
        let w = (width - label_w - 70.0) * value / max;
        let _ = write!(
            svg,
            r#"<text x="{lx}" y="{ty}" text-anchor="end" font-size="13" fill="currentColor">{label}</text><rect x="{label_w}" y="{y}" width="{w:.1}" height="{h}" rx="3" fill="{color}"/><text x="{vx:.1}" y="{ty}" font-size="13" fill="currentColor">{value}</text>"#,
            lx = label_w - 8.0,
            ty = y + 15.0,
            label = escape(label),
            h = row - 8.0,
            color = PALETTE[i % PALETTE.len()],
            vx = label_w + w + 6.0,
            value = number(*value),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Lines over shared labels (one per series), with the labels along the bottom.
pub fn lines(title: &str, labels: &[String], series: &[(String, Vec<f64>)]) -> String {
    let (width, height, left, bottom) = (520.0, 220.0, 40.0, 40.0);
    let plot_h = height - bottom - 10.0;
    let max = series.iter().flat_map(|s| s.1.iter().copied()).fold(0.0_f64, f64::max).max(1.0);
    let step = if labels.len() > 1 { (width - left - 10.0) / (labels.len() - 1) as f64 } else { 0.0 };
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title><line x1="{left}" y1="{base}" x2="{width}" y2="{base}" stroke="currentColor" stroke-width="0.5"/><text x="{lx}" y="14" font-size="11" text-anchor="end" fill="currentColor">{m}</text>"#,
        t = escape(title),
        base = 10.0 + plot_h,
        lx = left - 4.0,
        m = number(max),
    );
    // About six labels fit along the bottom.
    let every = labels.len().div_ceil(6).max(1);
    for (i, label) in labels.iter().enumerate().filter(|(i, _)| i % every == 0) {
        let _ = write!(
            svg,
            r#"<text x="{x:.1}" y="{y}" font-size="11" text-anchor="middle" fill="currentColor">{l}</text>"#,
            x = left + i as f64 * step,
            y = height - bottom + 18.0,
            l = escape(label)
        );
    }
    for (n, (name, values)) in series.iter().enumerate() {
        let color = PALETTE[n % PALETTE.len()];
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", left + i as f64 * step, 10.0 + plot_h - plot_h * v / max))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/><text x="{x}" y="{y}" font-size="11" fill="{color}">{name}</text>"#,
            points.join(" "),
            x = left + 4.0 + (n as f64) * 110.0,
            y = height - 4.0,
            name = escape(name)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A plugin's chart block: `line` as lines, `bar` and `pie` as bars of the first series
/// (shares read more exactly as bars than as slices).
pub fn chart(kind: &str, labels: &[String], series: &[(String, Vec<f64>)]) -> String {
    let title = series.first().map(|s| s.0.as_str()).unwrap_or("");
    match kind {
        "line" => lines(title, labels, series),
        _ => {
            let values = series.first().map(|s| s.1.as_slice()).unwrap_or(&[]);
            let items: Vec<(String, f64)> = labels.iter().cloned().zip(values.iter().copied()).collect();
            bars(title, &items)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_cannot_break_out_of_the_svg() {
        let svg = bars("<script>", &[("</text><script>alert(1)</script>".into(), 3.0), ("B & C".into(), 1.0)]);
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("&lt;/text&gt;&lt;script&gt;") && svg.contains("B &amp; C"));
        assert_eq!(svg.matches("<rect").count(), 2);
        let svg = lines("t\"x", &["a".into(), "b".into()], &[("s'1".into(), vec![1.0, 2.0])]);
        assert!(svg.contains("t&quot;x") && svg.contains("s&#39;1") && svg.contains("<polyline"));
    }
}
