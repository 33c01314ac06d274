//! Printable customer lists and address labels as PDF.
//!
//! This is a deliberately small PDF 1.7 writer with no dependencies. It embeds no font:
//! all text is set in STSong-Light, the Adobe-GB1 CID font that every PDF reader ships,
//! so Chinese text works out of the box and files stay small. The trade-off is that
//! layout uses fixed advance widths (1 em for CJK and other non-ASCII, 0.5 em for ASCII),
//! which is how readers render STSong-Light, so tables line up without font metrics.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// A4 in points.
pub const A4: (f32, f32) = (595.28, 841.89);

const MARGIN: f32 = 40.0;
const TITLE_SIZE: f32 = 16.0;
const SUBTITLE_SIZE: f32 = 10.0;
const BODY_SIZE: f32 = 9.0;
const LINE_H: f32 = 11.0;
const PAD: f32 = 3.0;
const FOOTER_SIZE: f32 = 8.0;
const LABEL_SIZE: f32 = 10.0;
const LABEL_LINE_H: f32 = 13.0;
const LABEL_PAD: f32 = 10.0;
/// Ascent and descent as fractions of the font size, as in the FontDescriptor.
const ASCENT: f32 = 0.88;
const DESCENT: f32 = 0.12;
const MAX_CELL_LINES: usize = 2;
/// Bigger label grids are surely a typo; the clamp keeps allocations bounded.
const MAX_GRID: u32 = 50;

/// A table of text printed across as many pages as it needs, with its title and column
/// headers repeated on every page and "page N / M" at the bottom.
pub struct ListDocument<'a> {
    /// Printed at the top of every page and stored as the PDF title.
    pub title: &'a str,
    /// Printed under the title, e.g. "2026-11-22 · 1,234 customers".
    pub subtitle: &'a str,
    /// Table columns, left to right.
    pub columns: &'a [Column<'a>],
    /// Cells matched to `columns` by position; missing cells print empty.
    pub rows: &'a [Vec<String>],
    /// A4 landscape when true.
    pub landscape: bool,
}

/// One table column.
pub struct Column<'a> {
    /// Header text, repeated on every page.
    pub header: &'a str,
    /// relative width
    pub weight: f32,
}

/// One address label.
pub struct Label {
    /// Printed top to bottom; long lines wrap to the label width.
    pub lines: Vec<String>,
}

/// Label sheet layout: columns × rows per A4 page, margins and gaps in points.
///
/// The label size follows from these, with margins applied on both sides, which is
/// how sheet manufacturers specify their layouts.
#[derive(Clone, Copy, Debug)]
pub struct LabelSheet {
    /// Labels across.
    pub columns: u32,
    /// Labels down.
    pub rows: u32,
    /// Space above the first and below the last row.
    pub margin_top: f32,
    /// Space left of the first and right of the last column.
    pub margin_left: f32,
    /// Horizontal gap between labels.
    pub gap_x: f32,
    /// Vertical gap between labels.
    pub gap_y: f32,
}

impl LabelSheet {
    /// 3 × 8 labels (common 70 × 37 mm sheets)
    pub const A4_3X8: LabelSheet = LabelSheet {
        columns: 3,
        rows: 8,
        // 8 × 37 mm leaves 1 mm of the 297 mm page, split top and bottom.
        margin_top: 0.5 * 72.0 / 25.4,
        margin_left: 0.0,
        gap_x: 0.0,
        gap_y: 0.0,
    };
}

/// Renders a paginated table, stamped with the current UTC time as creation date.
pub fn list_pdf(doc: &ListDocument<'_>) -> Vec<u8> {
    list_pdf_at(doc, &pdf_date(now_secs()))
}

/// Renders address labels on as many sheets as needed, stamped with the current UTC time.
pub fn labels_pdf(labels: &[Label], sheet: &LabelSheet) -> Vec<u8> {
    labels_pdf_at(labels, sheet, &pdf_date(now_secs()))
}

fn list_pdf_at(doc: &ListDocument<'_>, creation_date: &str) -> Vec<u8> {
    let (w, h) = if doc.landscape { (A4.1, A4.0) } else { A4 };
    let (usable, body_top) = (w - 2.0 * MARGIN, body_top(h));
    let cols = column_edges(doc.columns, usable);
    // Lay out every row first: the footer needs the total page count.
    let mut pages: Vec<Vec<(Vec<Vec<String>>, f32)>> = vec![Vec::new()];
    let mut y = body_top;
    for row in doc.rows {
        let cells: Vec<Vec<String>> = (cols.iter().enumerate())
            .map(|(i, &(_, cw))| {
                let text = clean(row.get(i).map_or("", String::as_str));
                fit(&text, cw - 2.0 * PAD, BODY_SIZE, MAX_CELL_LINES)
            })
            .collect();
        let rh = row_height(cells.iter().map(Vec::len).max().unwrap_or(1).max(1));
        if y - rh < MARGIN && pages.last().is_some_and(|p| !p.is_empty()) {
            pages.push(Vec::new());
            y = body_top;
        }
        y -= rh;
        if let Some(page) = pages.last_mut() {
            page.push((cells, rh));
        }
    }
    let (total, title_base) = (pages.len(), h - MARGIN - 14.0);
    let header_top = body_top + row_height(1);
    let first_base = |top: f32| top - PAD - ASCENT * BODY_SIZE;
    let line = |s: &str, max: f32, size: f32| fit(&clean(s), max, size, 1).join("");
    let streams: Vec<String> = (pages.iter().enumerate())
        .map(|(n, rows)| {
            let mut c = Canvas::default();
            let title = line(doc.title, usable, TITLE_SIZE);
            c.text(MARGIN, title_base, TITLE_SIZE, &title);
            let sub = line(doc.subtitle, usable, SUBTITLE_SIZE);
            c.text(MARGIN, title_base - 18.0, SUBTITLE_SIZE, &sub);
            let (x, y, bw, bh) = (num(MARGIN), num(body_top), num(usable), num(row_height(1)));
            let _ = writeln!(c.0, "0.9 g {x} {y} {bw} {bh} re f 0 g");
            for (col, &(x, cw)) in doc.columns.iter().zip(&cols) {
                let head = line(col.header, cw - 2.0 * PAD, BODY_SIZE);
                c.text(x + PAD, first_base(header_top), BODY_SIZE, &head);
            }
            if doc.rows.is_empty() {
                let note = "0 条记录 (no rows)";
                c.text(MARGIN + PAD, first_base(body_top), BODY_SIZE, note);
            }
            let mut top = body_top;
            for (cells, rh) in rows {
                for (lines, &(x, _)) in cells.iter().zip(&cols) {
                    for (i, l) in lines.iter().enumerate() {
                        c.text(x + PAD, first_base(top) - i as f32 * LINE_H, BODY_SIZE, l);
                    }
                }
                top -= rh;
                let (x1, x2, y) = (num(MARGIN), num(MARGIN + usable), num(top));
                let _ = writeln!(c.0, "0.75 G 0.4 w {x1} {y} m {x2} {y} l S");
            }
            let footer = format!("{} / {}", n + 1, total);
            let fx = (w - width(&footer, FOOTER_SIZE)) / 2.0;
            c.text(fx, MARGIN / 2.0, FOOTER_SIZE, &footer);
            c.0
        })
        .collect();
    assemble(&streams, (w, h), doc.title, creation_date)
}

fn labels_pdf_at(labels: &[Label], sheet: &LabelSheet, creation_date: &str) -> Vec<u8> {
    let boxes = label_boxes(sheet);
    let mut streams: Vec<String> = (labels.chunks(boxes.len().max(1)))
        .map(|chunk| {
            let mut c = Canvas::default();
            for (label, &b) in chunk.iter().zip(&boxes) {
                draw_label(&mut c, label, b);
            }
            c.0
        })
        .collect();
    // Readers reject a PDF without pages, so no labels still yields one blank sheet.
    if streams.is_empty() {
        streams.push(String::new());
    }
    assemble(&streams, A4, "", creation_date)
}

fn draw_label(c: &mut Canvas, label: &Label, (x, y, w, h): (f32, f32, f32, f32)) {
    let (inner, size) = (w - 2.0 * LABEL_PAD, LABEL_SIZE);
    let room = h - 2.0 * LABEL_PAD - (ASCENT + DESCENT) * size;
    if inner <= 0.0 || room < 0.0 {
        return;
    }
    let mut lines: Vec<String> = (label.lines.iter()).flat_map(|l| wrap(&clean(l), inner, size)).collect();
    cap(&mut lines, (room / LABEL_LINE_H) as usize + 1, inner, size);
    // Layout already keeps text inside; the clip covers glyphs wider than we assume.
    let _ = writeln!(c.0, "q {} {} {} {} re W n", num(x), num(y), num(w), num(h));
    let first = y + h - LABEL_PAD - ASCENT * size;
    for (i, l) in lines.iter().enumerate() {
        c.text(x + LABEL_PAD, first - i as f32 * LABEL_LINE_H, size, l);
    }
    c.0.push_str("Q\n");
}

/// Top edge of the first body row: below title, subtitle and the header row.
fn body_top(page_height: f32) -> f32 {
    page_height - MARGIN - 44.0 - row_height(1)
}

fn row_height(lines: usize) -> f32 {
    lines as f32 * LINE_H + 2.0 * PAD
}

/// Returns (left x, width) per column.
fn column_edges(columns: &[Column<'_>], usable: f32) -> Vec<(f32, f32)> {
    // NaN and negative weights count as 0; the cap keeps the sum finite.
    let weight = |c: &Column<'_>| match c.weight {
        w if w > 0.0 => w.min(1e6),
        _ => 0.0,
    };
    let (sum, n) = (columns.iter().map(weight).sum::<f32>(), columns.len() as f32);
    let mut x = MARGIN;
    (columns.iter())
        .map(|c| {
            let w = if sum > 0.0 { usable * weight(c) / sum } else { usable / n };
            x += w;
            (x - w, w)
        })
        .collect()
}

/// Returns (x, y, w, h) of every label on a sheet, top-left first, in PDF coordinates.
fn label_boxes(s: &LabelSheet) -> Vec<(f32, f32, f32, f32)> {
    let (cols, rows) = (s.columns.clamp(1, MAX_GRID), s.rows.clamp(1, MAX_GRID));
    let w = ((A4.0 - 2.0 * s.margin_left - (cols - 1) as f32 * s.gap_x) / cols as f32).max(0.0);
    let h = ((A4.1 - 2.0 * s.margin_top - (rows - 1) as f32 * s.gap_y) / rows as f32).max(0.0);
    (0..rows)
        .flat_map(|r| {
            let y = A4.1 - s.margin_top - (r + 1) as f32 * h - r as f32 * s.gap_y;
            (0..cols).map(move |c| (s.margin_left + c as f32 * (w + s.gap_x), y, w, h))
        })
        .collect()
}

/// Maps text onto what UniGB-UCS2-H can show: one UCS-2 unit per char, no controls.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            // GB1 has no U+00B7; its middle dot is reached through U+30FB.
            '\u{b7}' => '\u{30fb}',
            '\u{a0}' => ' ',
            c if c.is_control() => ' ',
            // UCS-2 cannot express surrogate pairs, and GB1 has no such glyphs anyway.
            c if u32::from(c) > 0xFFFF => '?',
            c => c,
        })
        .collect()
}

fn char_em(c: char) -> f32 {
    if (' '..='~').contains(&c) { 0.5 } else { 1.0 }
}

fn width(s: &str, size: f32) -> f32 {
    s.chars().map(char_em).sum::<f32>() * size
}

/// Breaks text into lines no wider than `max`, after a space where that keeps a Latin
/// word whole; CJK text may break anywhere.
fn wrap(s: &str, max: f32, size: f32) -> Vec<String> {
    let (mut lines, mut cur, mut w) = (Vec::new(), String::new(), 0.0);
    for c in s.chars() {
        let cw = char_em(c) * size;
        if w + cw > max && !cur.is_empty() {
            let mut carry = String::new();
            if let Some(i) = cur.rfind(' ').filter(|_| c != ' ') {
                let tail = cur.split_off(i + 1);
                if width(&tail, size) + cw <= max {
                    carry = tail;
                } else {
                    cur.push_str(&tail);
                }
            }
            lines.push(cur.trim_end().to_string());
            w = width(&carry, size);
            cur = carry;
            if c == ' ' {
                continue;
            }
        }
        cur.push(c);
        w += cw;
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur.trim_end().to_string());
    }
    lines
}

/// Wraps into at most `max_lines` lines, marking cut-off text with "…".
fn fit(s: &str, max: f32, size: f32, max_lines: usize) -> Vec<String> {
    if max <= 0.0 {
        return Vec::new();
    }
    let mut lines = wrap(s, max, size);
    cap(&mut lines, max_lines, max, size);
    lines
}

fn cap(lines: &mut Vec<String>, max_lines: usize, max: f32, size: f32) {
    if lines.len() <= max_lines {
        return;
    }
    lines.truncate(max_lines);
    if let Some(last) = lines.last_mut() {
        while !last.is_empty() && width(last, size) + size > max {
            last.pop();
        }
        if width(last, size) + size <= max {
            last.push('…');
        }
    }
}

fn hex(s: &str) -> String {
    s.encode_utf16().fold(String::new(), |mut out, u| {
        let _ = write!(out, "{u:04X}");
        out
    })
}

/// Formats a coordinate compactly; PDF has no syntax for NaN or infinity.
fn num(v: f32) -> String {
    let s = format!("{:.2}", if v.is_finite() { v } else { 0.0 });
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

/// One page's content stream. Text always goes out as hex strings, so nothing the
/// caller passes can break the PDF syntax.
#[derive(Default)]
struct Canvas(String);

impl Canvas {
    fn text(&mut self, x: f32, y: f32, size: f32, s: &str) {
        if !s.is_empty() {
            let (x, y, size, h) = (num(x), num(y), num(size), hex(&clean(s)));
            let _ = writeln!(self.0, "BT /F1 {size} Tf 1 0 0 1 {x} {y} Tm <{h}> Tj ET");
        }
    }
}

const FONTS: [&str; 3] = [
    "<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H \
     /DescendantFonts [4 0 R] /ToUnicode 6 0 R >>",
    "<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light /CIDSystemInfo \
     << /Registry (Adobe) /Ordering (GB1) /Supplement 4 >> /FontDescriptor 5 0 R \
     /DW 1000 /W [1 95 500] >>",
    "<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [-25 -254 1000 880] \
     /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>",
];

/// Writes objects 1–7 (catalog, page tree, fonts, ToUnicode, info), then a page object
/// and its content stream per page, then the cross-reference table.
fn assemble(pages: &[String], (w, h): (f32, f32), title: &str, date: &str) -> Vec<u8> {
    const FIRST_PAGE: usize = 8;
    let kids = (0..pages.len()).map(|i| format!("{} 0 R", FIRST_PAGE + 2 * i));
    let (kids, count) = (kids.collect::<Vec<_>>().join(" "), pages.len());
    let (w, h, title) = (num(w), num(h), hex(&clean(title)));
    // Only safe PDF date characters, so the literal string needs no escaping.
    let date: String = date.chars().filter(|c| c.is_ascii_alphanumeric() || ":+-'".contains(*c)).collect();
    // Size and resources are inherited by every page from the tree root.
    let res = "/Resources << /Font << /F1 3 0 R >> >>";
    let mut objs = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        format!("<< /Type /Pages /Kids [{kids}] /Count {count} /MediaBox [0 0 {w} {h}] {res} >>"),
    ];
    objs.extend(FONTS.map(String::from));
    objs.push(stream(&to_unicode_cmap()));
    let info = "/Producer (Tessera CRM) /CreationDate";
    objs.push(format!("<< {info} ({date}) /Title <FEFF{title}> >>"));
    for (i, content) in pages.iter().enumerate() {
        let page = format!("/Type /Page /Parent 2 0 R /Contents {} 0 R", FIRST_PAGE + 2 * i + 1);
        objs.push(format!("<< {page} >>"));
        objs.push(stream(content));
    }
    // The high bytes in the comment (UTF-8 of "âãÏÓ") mark the file as binary.
    let mut out = String::from("%PDF-1.7\n%âãÏÓ\n");
    let size = objs.len() + 1;
    let mut xref = format!("xref\n0 {size}\n0000000000 65535 f \n");
    for (i, body) in objs.iter().enumerate() {
        let _ = writeln!(xref, "{:010} 00000 n ", out.len());
        let _ = write!(out, "{} 0 obj\n{body}\nendobj\n", i + 1);
    }
    let start = out.len();
    let _ = write!(xref, "trailer\n<< /Size {size} /Root 1 0 R /Info 7 0 R >>\n");
    let _ = writeln!(xref, "startxref\n{start}\n%%EOF");
    out.push_str(&xref);
    out.into_bytes()
}

fn stream(content: &str) -> String {
    format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len())
}

/// Codes are UCS-2 already, so a near-identity map lets readers extract and search text
/// even when they lack the GB1 Unicode tables.
fn to_unicode_cmap() -> String {
    let mut s = String::from(
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Tessera-UCS2 def /CMapType 2 def\n\
         1 begincodespacerange <0000> <FFFF> endcodespacerange\n",
    );
    // bfrange entries may only vary in the last byte, and blocks hold at most 100.
    let mut ranges = Vec::new();
    for h in (0..=0xFF_u32).filter(|h| !(0xD8..=0xDF).contains(h)) {
        let h = h << 8;
        if h == 0x3000 {
            // Undo clean()'s U+00B7 -> U+30FB detour so copied text keeps the original dot.
            ranges.extend([(h, 0x30FA, h), (0x30FB, 0x30FB, 0xB7), (0x30FC, 0x30FF, 0x30FC)]);
        } else {
            ranges.push((h, h | 0xFF, h));
        }
    }
    for block in ranges.chunks(100) {
        let _ = writeln!(s, "{} beginbfrange", block.len());
        for (lo, hi, dst) in block {
            let _ = writeln!(s, "<{lo:04X}> <{hi:04X}> <{dst:04X}>");
        }
        s.push_str("endbfrange\n");
    }
    s.push_str("endcmap CMapName currentdict /CMapResource defineresource pop end end");
    s
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Formats Unix seconds as a PDF date in UTC, D:YYYYMMDDHHMMSSZ.
fn pdf_date(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (hh, mm, ss) = (rem / 3600, rem / 60 % 60, rem % 60);
    format!("D:{y:04}{m:02}{d:02}{hh:02}{mm:02}{ss:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &str = "D:20261122134507Z";

    /// Checks xref offsets, startxref, trailer and page count; returns the page count.
    fn check_structure(pdf: &[u8]) -> usize {
        let s = std::str::from_utf8(pdf).unwrap();
        assert!(s.starts_with("%PDF-1.7\n") && s.ends_with("%%EOF\n"));
        let sx = s.rfind("startxref\n").unwrap() + 10;
        let xref: usize = s[sx..].lines().next().unwrap().parse().unwrap();
        assert!(s[xref..].starts_with("xref\n0 "));
        let size: usize = s[xref..].lines().nth(1).unwrap()[2..].parse().unwrap();
        let entries = &s[xref + 8 + size.to_string().len()..];
        for n in 0..size {
            let e = &entries[20 * n..20 * (n + 1)];
            assert_eq!(&e[10..], if n == 0 { " 65535 f \n" } else { " 00000 n \n" });
            let off: usize = e[..10].parse().unwrap();
            assert!(n == 0 || s[off..].starts_with(&format!("{n} 0 obj\n")), "object {n}");
        }
        assert!(s.contains(&format!("trailer\n<< /Size {size} /Root 1 0 R /Info 7 0 R >>")));
        let pages = s.matches("<< /Type /Page /Parent 2 0 R").count();
        let tree = &s[s.find("<< /Type /Pages ").unwrap()..];
        let count = &tree[tree.find("/Count ").unwrap() + 7..];
        assert_eq!(count.split(' ').next().unwrap().parse::<usize>().unwrap(), pages);
        pages
    }

    fn doc<'a>(columns: &'a [Column<'a>], rows: &'a [Vec<String>], wide: bool) -> ListDocument<'a> {
        let (title, subtitle) = ("客户列表", "2026-11-22 · 3 customers");
        ListDocument { title, subtitle, columns, rows, landscape: wide }
    }

    fn list(rows: &[Vec<String>], landscape: bool) -> String {
        let col = |header, weight| Column { header, weight };
        let columns = [col("客户名称", 3.0), col("城市", 1.0), col("Phone", 2.0)];
        let pdf = list_pdf_at(&doc(&columns, rows, landscape), DATE);
        check_structure(&pdf);
        String::from_utf8(pdf).unwrap()
    }

    fn rows(n: usize) -> Vec<Vec<String>> {
        (0..n).map(|i| vec![format!("客户 {i}"), "北京".into(), "010-1234".into()]).collect()
    }

    fn hexed(s: &str) -> String {
        format!("<{}>", hex(s))
    }

    #[test]
    fn empty_list_has_one_page_with_header_and_note() {
        let pdf = list(&[], false);
        assert_eq!(check_structure(pdf.as_bytes()), 1);
        assert_eq!(pdf.matches(&hexed("客户名称")).count(), 1);
        assert!(pdf.contains(&hexed("客户列表")) && pdf.contains(&hex("(no rows)")));
        assert!(pdf.contains("/CreationDate (D:20261122134507Z) /Title <FEFF5BA26237"));
        assert_eq!(pdf, list(&[], false), "output must be deterministic");
    }

    #[test]
    fn page_counts_follow_row_height() {
        let pages = check_structure(list(&rows(40), false).as_bytes());
        assert!((1..=2).contains(&pages));
        for landscape in [false, true] {
            let h = if landscape { A4.0 } else { A4.1 };
            let per_page = ((body_top(h) - MARGIN) / row_height(1)).floor() as usize;
            let expected = 500usize.div_ceil(per_page);
            let pdf = list(&rows(500), landscape);
            assert_eq!(check_structure(pdf.as_bytes()), expected);
            assert_eq!(pdf.matches(&hexed("客户名称")).count(), expected);
            assert!(pdf.contains(&hexed(&format!("{expected} / {expected}"))));
        }
    }

    #[test]
    fn text_is_utf16be_hex() {
        let pdf = list(&[vec!["北京科技有限公司".into(), "ACME".into()]], false);
        assert!(pdf.contains("<53174EAC79D1628067099650516C53F8>"));
        assert!(pdf.contains("<00410043004D0045>"));
    }

    #[test]
    fn non_bmp_is_replaced() {
        let pdf = list(&[vec!["A😀B".into()]], false);
        assert!(pdf.contains("<0041003F0042>") && !pdf.contains("D83D"));
    }

    #[test]
    fn long_cells_wrap_to_two_lines_then_ellipsis() {
        let long = "很长的客户名称".repeat(20);
        let cells = fit(&long, 100.0, BODY_SIZE, MAX_CELL_LINES);
        assert_eq!(cells.len(), 2);
        assert!(cells[1].ends_with('…'));
        assert!(cells.iter().all(|l| width(l, BODY_SIZE) <= 100.0));
        assert_eq!(wrap("Room 1201 Tower", 40.0, 10.0), ["Room", "1201", "Tower"]);
        assert!(list(&[vec![long]], false).contains("2026>"));
    }

    /// Returns (size, x, y, text) of every text run.
    fn runs(pdf: &str) -> Vec<(f32, f32, f32, String)> {
        let lines = pdf.lines().filter(|l| l.starts_with("BT /F1 "));
        lines
            .map(|l| {
                let t: Vec<&str> = l.split(' ').collect();
                let units = t[11].trim_matches(['<', '>']).as_bytes().chunks(4);
                let units = units.map(|u| u16::from_str_radix(std::str::from_utf8(u).unwrap(), 16));
                let text = String::from_utf16(&units.collect::<Result<Vec<_>, _>>().unwrap());
                let f = |i: usize| t[i].parse::<f32>().unwrap();
                (f(2), f(8), f(9), text.unwrap())
            })
            .collect()
    }

    #[test]
    fn labels_paginate_wrap_and_stay_inside_their_boxes() {
        let sheet = LabelSheet::A4_3X8;
        let short = |i| Label { lines: vec![format!("客户 {i}"), "北京市".into()] };
        let pdf = labels_pdf_at(&(0..25).map(short).collect::<Vec<_>>(), &sheet, DATE);
        assert_eq!(check_structure(&pdf), 2);
        assert_eq!(check_structure(&labels_pdf_at(&[], &sheet, DATE)), 1);

        let long = "北京市海淀区中关村大街一号院科技园区创新大厦东塔二十八层2801室 Attn: Purchasing";
        let label = Label { lines: vec!["北京科技有限公司".into(), long.repeat(3)] };
        let pdf = labels_pdf_at(&[label], &sheet, DATE);
        check_structure(&pdf);
        let runs = runs(std::str::from_utf8(&pdf).unwrap());
        assert!(runs.len() > 2, "long lines must wrap");
        assert!(runs.last().unwrap().3.ends_with('…'), "overflow is marked");
        let boxes = label_boxes(&sheet);
        for (size, x, y, s) in &runs {
            let inside = boxes.iter().any(|&(bx, by, bw, bh)| {
                *x >= bx
                    && x + width(s, *size) <= bx + bw + 0.01
                    && y - DESCENT * size >= by
                    && y + ASCENT * size <= by + bh
            });
            assert!(inside, "{s} at ({x}, {y}) leaves its label");
        }
    }

    #[test]
    fn label_sheet_a4_3x8_is_70_by_37_mm() {
        let (_, _, w, h) = label_boxes(&LabelSheet::A4_3X8)[0];
        assert!((w / 72.0 * 25.4 - 70.0).abs() < 0.05 && (h / 72.0 * 25.4 - 37.0).abs() < 0.05);
    }

    #[test]
    fn dates_are_utc_pdf_dates() {
        assert_eq!(pdf_date(0), "D:19700101000000Z");
        assert_eq!(pdf_date(1_795_355_107), DATE);
        assert_eq!(pdf_date(951_782_400), "D:20000229000000Z");
        assert!(list_pdf(&doc(&[], &[], false)).starts_with(b"%PDF"));
        assert!(labels_pdf(&[], &LabelSheet::A4_3X8).starts_with(b"%PDF"));
    }
}
