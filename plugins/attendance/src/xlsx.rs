//! A small XLSX writer: SpreadsheetML worksheets of text and whole numbers, with a bold, frozen
//! header row, in a zip archive whose entries are stored (not compressed). Written here rather
//! than pulled in from a spreadsheet crate, because the plugin is instantiated for every call
//! and a report is a few hundred rows: a stored zip opens in Excel, WPS and LibreOffice alike.

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Number(i64),
    Empty,
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::Text(text.to_owned())
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell::Text(text)
    }
}

impl From<i64> for Cell {
    fn from(n: i64) -> Cell {
        Cell::Number(n)
    }
}

/// One worksheet: its name, its rows (the first is the header) and column widths in characters.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sheet {
    pub name: String,
    pub rows: Vec<Vec<Cell>>,
    pub widths: Vec<u32>,
}

impl Sheet {
    pub fn new(name: impl Into<String>) -> Sheet {
        Sheet { name: name.into(), rows: Vec::new(), widths: Vec::new() }
    }

    pub fn push(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }

    pub fn widths(mut self, widths: &[u32]) -> Sheet {
        self.widths = widths.to_vec();
        self
    }
}

/// The MIME type of an XLSX file.
pub const CONTENT_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

const MAIN_NS: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
const REL_NS: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const PKG_REL_NS: &str = "http://schemas.openxmlformats.org/package/2006/relationships";
const XML_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#;

/// The workbook of these sheets as the bytes of an `.xlsx` file.
pub fn workbook(sheets: &[Sheet]) -> Vec<u8> {
    let mut zip = ZipWriter::default();
    zip.add("[Content_Types].xml", content_types(sheets.len()).as_bytes());
    zip.add(
        "_rels/.rels",
        format!(
            r#"{XML_HEAD}<Relationships xmlns="{PKG_REL_NS}"><Relationship Id="rId1" Type="{REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>"#
        )
        .as_bytes(),
    );
    zip.add("xl/workbook.xml", workbook_xml(sheets).as_bytes());
    zip.add("xl/_rels/workbook.xml.rels", workbook_rels(sheets.len()).as_bytes());
    zip.add("xl/styles.xml", STYLES.as_bytes());
    for (i, sheet) in sheets.iter().enumerate() {
        zip.add(&format!("xl/worksheets/sheet{}.xml", i + 1), sheet_xml(sheet).as_bytes());
    }
    zip.finish()
}

fn content_types(sheets: usize) -> String {
    let mut xml = format!(
        r#"{XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>"#
    );
    for i in 1..=sheets {
        xml.push_str(&format!(
            r#"<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>"#
        ));
    }
    xml.push_str("</Types>");
    xml
}

fn workbook_xml(sheets: &[Sheet]) -> String {
    let mut xml = format!(r#"{XML_HEAD}<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}"><sheets>"#);
    for (i, sheet) in sheets.iter().enumerate() {
        let n = i + 1;
        xml.push_str(&format!(
            r#"<sheet name="{}" sheetId="{n}" r:id="rId{n}"/>"#,
            escape(&sheet_name(&sheet.name, n))
        ));
    }
    xml.push_str("</sheets></workbook>");
    xml
}

fn workbook_rels(sheets: usize) -> String {
    let mut xml = format!(r#"{XML_HEAD}<Relationships xmlns="{PKG_REL_NS}">"#);
    for n in 1..=sheets {
        xml.push_str(&format!(
            r#"<Relationship Id="rId{n}" Type="{REL_NS}/worksheet" Target="worksheets/sheet{n}.xml"/>"#
        ));
    }
    xml.push_str(&format!(r#"<Relationship Id="rId{}" Type="{REL_NS}/styles" Target="styles.xml"/>"#, sheets + 1));
    xml.push_str("</Relationships>");
    xml
}

/// Two cell formats: the default (0) and bold (1) for the header.
const STYLES: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#,
    r#"<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">"#,
    r#"<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font></fonts>"#,
    r#"<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>"#,
    r#"<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>"#,
    r#"<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>"#,
    r#"<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>"#,
    r#"<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>"#,
    r#"<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>"#,
);

fn sheet_xml(sheet: &Sheet) -> String {
    let mut xml = format!(
        r#"{XML_HEAD}<worksheet xmlns="{MAIN_NS}"><sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>"#
    );
    if !sheet.widths.is_empty() {
        xml.push_str("<cols>");
        for (i, width) in sheet.widths.iter().enumerate() {
            xml.push_str(&format!(r#"<col min="{n}" max="{n}" width="{width}" customWidth="1"/>"#, n = i + 1));
        }
        xml.push_str("</cols>");
    }
    xml.push_str("<sheetData>");
    for (r, row) in sheet.rows.iter().enumerate() {
        let r = r + 1;
        xml.push_str(&format!(r#"<row r="{r}">"#));
        let style = if r == 1 { r#" s="1""# } else { "" };
        for (c, cell) in row.iter().enumerate() {
            let at = format!("{}{r}", column_name(c));
            match cell {
                Cell::Text(text) => xml.push_str(&format!(
                    r#"<c r="{at}" t="inlineStr"{style}><is><t xml:space="preserve">{}</t></is></c>"#,
                    escape(text)
                )),
                Cell::Number(n) => xml.push_str(&format!(r#"<c r="{at}"{style}><v>{n}</v></c>"#)),
                Cell::Empty => {}
            }
        }
        xml.push_str("</row>");
    }
    xml.push_str("</sheetData></worksheet>");
    xml
}

/// `A`, `B`, …, `Z`, `AA`, … for the 0-based column.
fn column_name(index: usize) -> String {
    let mut n = index + 1;
    let mut name = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        // `rem` is below 26.
        name.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    name.reverse();
    String::from_utf8(name).unwrap_or_default()
}

/// A name Excel accepts: at most 31 characters, none of `[]:*?/\`, not empty.
fn sheet_name(name: &str, n: usize) -> String {
    let cleaned: String = name.chars().filter(|c| !"[]:*?/\\".contains(*c)).take(31).collect();
    if cleaned.trim().is_empty() { format!("Sheet{n}") } else { cleaned }
}

/// Text as XML character data: markup escaped, characters XML cannot carry dropped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// A zip archive of stored entries (method 0), with UTF-8 names.
#[derive(Default)]
struct ZipWriter {
    out: Vec<u8>,
    central: Vec<u8>,
    entries: u16,
}

/// 1980-01-01 00:00 in MS-DOS form, the earliest a zip can say.
const DOS_DATE: u16 = (1 << 5) | 1;
const UTF8_NAMES: u16 = 1 << 11;

impl ZipWriter {
    fn add(&mut self, name: &str, data: &[u8]) {
        let crc = crc32(data);
        // Reports are far below 4 GiB and 65,535 entries; sizes saturate rather than wrap.
        let size = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let offset = u32::try_from(self.out.len()).unwrap_or(u32::MAX);
        let name_len = u16::try_from(name.len()).unwrap_or(u16::MAX);
        let common = |buf: &mut Vec<u8>| {
            put16(buf, 20); // version needed: 2.0
            put16(buf, UTF8_NAMES);
            put16(buf, 0); // stored
            put16(buf, 0); // time
            put16(buf, DOS_DATE);
            put32(buf, crc);
            put32(buf, size);
            put32(buf, size);
            put16(buf, name_len);
            put16(buf, 0); // extra field
        };
        put32(&mut self.out, 0x0403_4b50);
        common(&mut self.out);
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(data);

        put32(&mut self.central, 0x0201_4b50);
        put16(&mut self.central, 20); // made by: 2.0, MS-DOS
        common(&mut self.central);
        put16(&mut self.central, 0); // comment
        put16(&mut self.central, 0); // disk
        put16(&mut self.central, 0); // internal attributes
        put32(&mut self.central, 0); // external attributes
        put32(&mut self.central, offset);
        self.central.extend_from_slice(name.as_bytes());
        self.entries += 1;
    }

    fn finish(mut self) -> Vec<u8> {
        let offset = u32::try_from(self.out.len()).unwrap_or(u32::MAX);
        let size = u32::try_from(self.central.len()).unwrap_or(u32::MAX);
        self.out.append(&mut self.central);
        put32(&mut self.out, 0x0605_4b50);
        put16(&mut self.out, 0);
        put16(&mut self.out, 0);
        put16(&mut self.out, self.entries);
        put16(&mut self.out, self.entries);
        put32(&mut self.out, size);
        put32(&mut self.out, offset);
        put16(&mut self.out, 0);
        self.out
    }
}

fn put16(buf: &mut Vec<u8>, v: u16) {
    buf.extend_from_slice(&v.to_le_bytes());
}

fn put32(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&v.to_le_bytes());
}

/// CRC-32 (IEEE 802.3, reflected), as zip checks its entries.
fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    !data.iter().fold(!0u32, |crc, b| TABLE[((crc ^ u32::from(*b)) & 0xFF) as usize] ^ (crc >> 8))
}

#[cfg(test)]
mod tests {
    #[cfg(not(target_family = "wasm"))]
    use std::io::{Cursor, Read};

    use super::*;

    /// The zip reader is a native dev-dependency: these run with `cargo test`, not on wasm32.
    #[cfg(not(target_family = "wasm"))]
    fn read_entry(bytes: &[u8], name: &str) -> String {
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("a zip archive");
        let mut entry = archive.by_name(name).unwrap_or_else(|e| panic!("{name} in the archive: {e}"));
        let mut text = String::new();
        entry.read_to_string(&mut text).expect("UTF-8 XML");
        text
    }

    #[test]
    fn crc32_is_the_zip_checksum() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32("考勤".as_bytes()), crc32_bit_by_bit("考勤".as_bytes()));
    }

    /// The checksum bit by bit, without the table.
    fn crc32_bit_by_bit(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for b in data {
            crc ^= u32::from(*b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 { 0xEDB8_8320 ^ (crc >> 1) } else { crc >> 1 };
            }
        }
        !crc
    }

    #[test]
    #[cfg(not(target_family = "wasm"))]
    fn a_workbook_is_a_zip_that_another_reader_opens_with_every_part() {
        let mut summary = Sheet::new("汇总 Summary").widths(&[12, 8]);
        summary.push(vec!["姓名".into(), "迟到（分钟）".into()]);
        summary.push(vec!["王芳".into(), Cell::Number(30)]);
        summary.push(vec!["R&D <lab>".into(), Cell::Empty, Cell::Number(-5)]);
        let mut daily = Sheet::new("明细/Daily?");
        daily.push(vec!["日期".into()]);
        let bytes = workbook(&[summary, daily]);

        let archive = zip::ZipArchive::new(Cursor::new(bytes.as_slice())).expect("a zip archive");
        let mut names: Vec<String> =
            archive.file_names().map(|n| n.expect("a UTF-8 entry name").into_owned()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "[Content_Types].xml",
                "_rels/.rels",
                "xl/_rels/workbook.xml.rels",
                "xl/styles.xml",
                "xl/workbook.xml",
                "xl/worksheets/sheet1.xml",
                "xl/worksheets/sheet2.xml",
            ]
        );
        let sheet = read_entry(&bytes, "xl/worksheets/sheet1.xml");
        assert!(
            sheet.contains(r#"<c r="A1" t="inlineStr" s="1"><is><t xml:space="preserve">姓名</t></is></c>"#),
            "{sheet}"
        );
        assert!(sheet.contains(r#"<row r="2"><c r="A2" t="inlineStr"><is><t xml:space="preserve">王芳</t></is></c><c r="B2"><v>30</v></c></row>"#), "{sheet}");
        assert!(sheet.contains("R&amp;D &lt;lab&gt;") && sheet.contains(r#"<c r="C3"><v>-5</v></c>"#), "{sheet}");
        assert!(sheet.contains(r#"<col min="1" max="1" width="12" customWidth="1"/>"#), "{sheet}");
        let book = read_entry(&bytes, "xl/workbook.xml");
        assert!(book.contains(r#"<sheet name="汇总 Summary" sheetId="1" r:id="rId1"/>"#), "{book}");
        assert!(book.contains(r#"<sheet name="明细Daily" sheetId="2" r:id="rId2"/>"#), "{book}");
        let types = read_entry(&bytes, "[Content_Types].xml");
        assert!(types.contains("/xl/worksheets/sheet2.xml") && types.contains("/xl/styles.xml"), "{types}");
        let rels = read_entry(&bytes, "xl/_rels/workbook.xml.rels");
        assert!(rels.contains(r#"Id="rId3""#) && rels.contains("styles.xml"), "{rels}");
    }

    #[test]
    fn columns_are_named_as_spreadsheets_name_them() {
        let names: Vec<String> = [0, 1, 25, 26, 27, 51, 52, 701, 702].into_iter().map(column_name).collect();
        assert_eq!(names, ["A", "B", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA"]);
    }

    #[test]
    fn text_is_escaped_and_control_characters_dropped() {
        assert_eq!(escape("a&b<c>\"d\"\u{1}\te"), "a&amp;b&lt;c&gt;&quot;d&quot;\te");
        assert_eq!(sheet_name("[]:*?/\\", 4), "Sheet4");
        assert_eq!(sheet_name(&"月".repeat(40), 1).chars().count(), 31);
    }
}
