//! Reading an uploaded customer import file (CSV or XLSX) into a plain table of strings.
//!
//! This is the first step of a customer import: it turns whatever the user uploaded — a CSV saved
//! by Excel or WPS in UTF-8 or GBK, or an `.xlsx` workbook — into header names and rows of trimmed
//! text, and lists the problems it found on the way with the row number the user sees in their
//! spreadsheet. It does not interpret the values (phone numbers, dates, full-width digits are passed
//! through as text); mapping columns to customer fields and validating them is the caller's job.
//! Everything here treats the upload as hostile: sizes are bounded by [`Limits`], and malformed
//! input ends in a [`ReadError`] or a [`Problem`], not a panic.

use std::borrow::Cow;
use std::collections::HashSet;
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use calamine::{DataRef, ExcelDateTime, ExcelDateTimeType, Reader, SheetType, SheetVisible, Xlsx};

/// The formats accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Delimited text (comma, semicolon or tab), UTF-8 or GB18030.
    Csv,
    /// An Office Open XML workbook (Excel 2007 and later, WPS).
    Xlsx,
}

/// Where a problem is: 1-based row as the user sees it in their spreadsheet (the header is row 1),
/// and the column header when it concerns one cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Row number as shown by Excel or WPS.
    pub row: usize,
    /// Header of the column concerned, when the problem is about one cell.
    pub column: Option<String>,
    /// What is wrong, in words the user can act on.
    pub message: String,
}

/// A file read into memory: header names and data rows (each row has exactly headers.len() cells,
/// padded with "" or reported when longer), plus problems found while reading.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Column names from the first non-empty row, trimmed, never empty and never repeated.
    pub headers: Vec<String>,
    /// (row number as the user sees it, cells)
    pub rows: Vec<(usize, Vec<String>)>,
    /// Row-level problems; the rows concerned are still in `rows` when they could be read.
    pub problems: Vec<Problem>,
    /// "utf-8", "utf-8 (BOM)", "gb18030" or "xlsx" — shown in the import report.
    pub encoding: &'static str,
}

/// A failure that stops the whole file from being read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The upload has no content.
    #[error("the file is empty")]
    Empty,
    /// The upload is bigger than [`Limits::max_bytes`].
    #[error("the file is larger than the {} limit; split it into smaller files", human_bytes(*limit))]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The file was expected to be a workbook but is not one that can be opened.
    #[error(
        "the file is not a readable .xlsx workbook ({0}); open it in Excel or WPS and save it as \
         .xlsx or as CSV UTF-8"
    )]
    NotXlsx(String),
    /// The workbook has no visible worksheet to read.
    #[error("the workbook has no visible worksheet")]
    NoSheet,
    /// Every row is empty, so there is no header to name the columns.
    #[error("no header row found: every row of the file is empty")]
    NoHeader,
    /// More data rows than [`Limits::max_rows`].
    #[error("the file has more than {} data rows; split it into smaller files", thousands(*limit))]
    TooManyRows {
        /// The limit on data rows.
        limit: usize,
    },
    /// More header columns than [`Limits::max_columns`].
    #[error(
        "the header row has more than {} columns; remove the columns that are not needed",
        thousands(*limit)
    )]
    TooManyColumns {
        /// The limit on columns.
        limit: usize,
    },
    /// Rows × columns would exceed the cell budget derived from [`Limits::max_bytes`].
    #[error(
        "the table has more than {} cells (rows × columns); split it into smaller files",
        thousands(*limit)
    )]
    TooManyCells {
        /// The limit on rows × columns.
        limit: usize,
    },
    /// Anything else that prevents reading, with the reason.
    #[error("the file could not be read: {0}")]
    Unreadable(String),
}

/// Limits, so a hostile upload cannot exhaust memory.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest upload accepted, in bytes.
    pub max_bytes: usize,
    /// Most data rows (the header not counted).
    pub max_rows: usize,
    /// Most header columns.
    pub max_columns: usize,
    /// Longest cell, in characters; longer cells are reported and replaced by "".
    pub max_cell_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bytes: 100 * 1024 * 1024, max_rows: 1_000_000, max_columns: 200, max_cell_chars: 10_000 }
    }
}

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
/// Compound File Binary: legacy `.xls`, and also what Office makes of a password-protected `.xlsx`.
const OLE_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
const UTF8_BOM: &[u8] = &[0xEF, 0xBB, 0xBF];

/// Guesses the format from the file name and the first bytes (XLSX is a ZIP: "PK\x03\x04").
pub fn detect_format(file_name: &str, bytes: &[u8]) -> FileFormat {
    // The content wins over the name: a ZIP can never be a meaningful CSV, whereas a file named
    // .xlsx that is not a ZIP must still go down the XLSX path so the user is told it is not one.
    if bytes.starts_with(ZIP_MAGIC) {
        return FileFormat::Xlsx;
    }
    let lower = file_name.trim().to_lowercase();
    if lower.ends_with(".xlsx") || lower.ends_with(".xlsm") { FileFormat::Xlsx } else { FileFormat::Csv }
}

/// Reads a file. CSV: decode as UTF-8 (with or without BOM) when it is valid UTF-8, else as
/// GB18030 (a superset of GBK, what Excel in China saves); delimiter: comma, or semicolon/tab when
/// the header line has more of those than commas. XLSX: the first visible worksheet; numbers that
/// are whole are written without ".0" (phone numbers and ids often arrive as numbers: 13812345678.0
/// must become "13812345678"; large numbers must not turn into scientific notation); dates become
/// YYYY-MM-DD (and YYYY-MM-DD HH:MM:SS when there is a time part); booleans "true"/"false"; empty
/// cells "".
///
/// Row numbers are those the user sees in Excel or WPS: blank lines count as rows, and a quoted
/// CSV value spanning several lines stays in one row.
pub fn read_table(file_name: &str, bytes: &[u8], limits: &Limits) -> Result<Table, ReadError> {
    if bytes.len() > limits.max_bytes {
        return Err(ReadError::TooLarge { limit: limits.max_bytes });
    }
    if bytes.is_empty() {
        return Err(ReadError::Empty);
    }
    if bytes.starts_with(OLE_MAGIC) {
        return Err(ReadError::NotXlsx(
            "it is an Excel 97-2003 .xls file or a password-protected workbook".to_string(),
        ));
    }
    match detect_format(file_name, bytes) {
        FileFormat::Csv => read_csv(bytes, limits),
        FileFormat::Xlsx => read_xlsx(bytes, limits),
    }
}

// ---------------------------------------------------------------------------------------------
// Building the table (shared by CSV and XLSX)
// ---------------------------------------------------------------------------------------------

/// One row as read from the file, before it is checked against the header.
struct RawRow {
    row: usize,
    /// Trimmed cells from column A on; may be shorter or longer than the header.
    cells: Vec<String>,
    /// 1 + index of the last non-empty cell, including cells not kept in `cells`; 0 when empty.
    used: usize,
    /// Cell-level remarks found while reading, as (column index, message).
    notes: Vec<(usize, String)>,
    /// The CSV record spans several physical lines (a quoted value contains a line break).
    multiline: bool,
}

struct TableBuilder<'a> {
    limits: &'a Limits,
    table: Table,
    has_header: bool,
    max_cells: usize,
}

impl<'a> TableBuilder<'a> {
    fn new(limits: &'a Limits, encoding: &'static str) -> Self {
        TableBuilder {
            limits,
            table: Table { encoding, ..Table::default() },
            has_header: false,
            // Short rows are padded to the header width, so a few bytes per line could otherwise
            // force max_rows × max_columns empty strings (24 bytes each) into memory. Tying the
            // budget to max_bytes keeps memory proportional to what the host agreed to accept,
            // while a genuine file needs at least one byte per cell anyway.
            max_cells: (limits.max_bytes / 4).max(limits.max_columns),
        }
    }

    fn problem(&mut self, row: usize, column: Option<String>, message: String) {
        self.table.problems.push(Problem { row, column, message });
    }

    fn push(&mut self, raw: RawRow) -> Result<(), ReadError> {
        if raw.used == 0 {
            return Ok(());
        }
        if self.has_header { self.push_data(raw) } else { self.set_header(raw) }
    }

    fn set_header(&mut self, raw: RawRow) -> Result<(), ReadError> {
        if raw.used > self.limits.max_columns {
            return Err(ReadError::TooManyColumns { limit: self.limits.max_columns });
        }
        let mut cells = raw.cells;
        cells.resize(raw.used, String::new());
        let mut headers = Vec::with_capacity(cells.len());
        let mut seen = HashSet::new();
        for (index, mut name) in cells.into_iter().enumerate() {
            let fallback = format!("column {}", index.saturating_add(1));
            if let Some(message) = blank_if_overlong(&mut name, self.limits.max_cell_chars) {
                self.problem(raw.row, Some(fallback.clone()), message);
            }
            if name.is_empty() {
                name = fallback;
            }
            if seen.contains(&name) {
                let original = name;
                let mut n = 2usize;
                let mut renamed = format!("{original} ({n})");
                // Loop because the suffixed name may itself be taken ("电话", "电话", "电话 (2)").
                while seen.contains(&renamed) {
                    n = n.saturating_add(1);
                    renamed = format!("{original} ({n})");
                }
                self.problem(
                    raw.row,
                    Some(renamed.clone()),
                    format!(
                        "the column name \"{original}\" appears more than once; this column was \
                         renamed \"{renamed}\""
                    ),
                );
                name = renamed;
            }
            seen.insert(name.clone());
            headers.push(name);
        }
        self.table.headers = headers;
        self.has_header = true;
        Ok(())
    }

    fn push_data(&mut self, raw: RawRow) -> Result<(), ReadError> {
        let width = self.table.headers.len();
        if self.table.rows.len() >= self.limits.max_rows {
            return Err(ReadError::TooManyRows { limit: self.limits.max_rows });
        }
        if self.table.rows.len().saturating_add(1).saturating_mul(width) > self.max_cells {
            return Err(ReadError::TooManyCells { limit: self.max_cells });
        }
        if raw.used > width {
            let mut message = format!("row has {} cells but the header has {}", thousands(raw.used), thousands(width));
            if raw.multiline {
                message.push_str(
                    "; a quoted value in this row runs over several lines, so a closing quote \
                     may be missing",
                );
            }
            self.problem(raw.row, None, message);
        }
        let mut cells = raw.cells;
        cells.resize(width, String::new());
        for (cell, column) in cells.iter_mut().zip(&self.table.headers) {
            if let Some(message) = blank_if_overlong(cell, self.limits.max_cell_chars) {
                self.table.problems.push(Problem { row: raw.row, column: Some(column.clone()), message });
            }
        }
        for (index, message) in raw.notes {
            // Remarks about cells beyond the header are covered by the "row has N cells" problem.
            if let Some(column) = self.table.headers.get(index).cloned() {
                self.problem(raw.row, Some(column), message);
            }
        }
        self.table.rows.push((raw.row, cells));
        Ok(())
    }

    fn finish(self) -> Result<Table, ReadError> {
        if self.has_header { Ok(self.table) } else { Err(ReadError::NoHeader) }
    }
}

/// Replaces a cell longer than `max_chars` by "" (so memory stays bounded by the limit) and
/// returns the message to report.
fn blank_if_overlong(cell: &mut String, max_chars: usize) -> Option<String> {
    // Byte length bounds character count, so counting is only needed for long cells.
    if cell.len() <= max_chars {
        return None;
    }
    let chars = cell.chars().count();
    if chars <= max_chars {
        return None;
    }
    *cell = String::new();
    Some(format!("cell has {} characters; the limit is {}", thousands(chars), thousands(max_chars)))
}

// ---------------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------------

/// After this many unterminated quotes the file is clearly not CSV in the expected dialect, and
/// re-reading the rest after each one would make a hostile file quadratic.
const MAX_QUOTE_RECOVERIES: usize = 20;

fn read_csv(bytes: &[u8], limits: &Limits) -> Result<Table, ReadError> {
    // NUL never occurs in text CSV; it means UTF-16 ("Unicode text" in Excel) or a binary file,
    // which would otherwise be decoded into plausible-looking garbage.
    let head = bytes.get(..4096).unwrap_or(bytes);
    if head.contains(&0) {
        return Err(ReadError::Unreadable(
            "it contains binary data, not text; if it was saved as \"Unicode text\" (UTF-16), \
             save it as CSV UTF-8 or .xlsx instead"
                .to_string(),
        ));
    }
    let (text, encoding, lossy) = decode(bytes);
    if text.trim().is_empty() {
        return Err(ReadError::Empty);
    }
    if looks_like_markup(&text) {
        // Many Chinese ERP and web systems "export to Excel" as an HTML or XML page named .xls;
        // read as CSV it would become one column of tags.
        return Err(ReadError::Unreadable(
            "it is a web page (HTML) or XML file, not a spreadsheet; open it in Excel or WPS and \
             save it as .xlsx or as CSV UTF-8"
                .to_string(),
        ));
    }
    let delimiter = detect_delimiter(&text);
    let mut builder = TableBuilder::new(limits, encoding);
    let all = text.as_bytes();
    let mut offset = 0usize;
    let mut next_row = 1usize;
    let mut recoveries = 0usize;
    loop {
        let slice = all.get(offset..).unwrap_or_default();
        let outcome = read_csv_pass(slice, delimiter, encoding, lossy, &mut next_row, &mut builder)?;
        let Some(restart) = outcome else { break };
        recoveries = recoveries.saturating_add(1);
        if recoveries >= MAX_QUOTE_RECOVERIES {
            builder.problem(
                next_row,
                None,
                format!("too many unterminated quotes; rows from {} on were not read", thousands(next_row)),
            );
            break;
        }
        offset = offset.saturating_add(restart);
    }
    builder.finish()
}

/// Reads records from `slice` until EOF. Returns where to resume (relative to `slice`) when a
/// quoted value is never closed and swallowed the rest of the file.
fn read_csv_pass(
    slice: &[u8],
    delimiter: u8,
    encoding: &str,
    lossy: bool,
    next_row: &mut usize,
    builder: &mut TableBuilder<'_>,
) -> Result<Option<usize>, ReadError> {
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(slice);
    let mut record = csv::ByteRecord::new();
    loop {
        let before = to_usize(reader.position().byte());
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            Err(e) => return Err(ReadError::Unreadable(e.to_string())),
        }
        let after = to_usize(reader.position().byte());
        // The csv crate skips blank lines silently, but Excel shows them as rows, so count them
        // to keep row numbers matching what the user sees.
        let (blank_lines, start) = skip_blank_lines(slice, before);
        let row = next_row.saturating_add(blank_lines);
        *next_row = row.saturating_add(1);
        let raw = slice.get(start..after).unwrap_or_default();

        // The csv crate accepts an unterminated quote by running the field to EOF; a record can
        // only end inside quotes at EOF, so only the last record needs this check.
        if after >= slice.len()
            && let Some(quote) = unclosed_quote(raw, delimiter)
        {
            builder.problem(
                row,
                None,
                "a quoted value starting in this row has no closing quote (\"), so it would \
                 swallow the rest of the file; this row was skipped"
                    .to_string(),
            );
            // Resume on the line after the opening quote, i.e. as if the closing quote had
            // been forgotten at the end of that line.
            return Ok(line_after(raw, quote).map(|resume| start.saturating_add(resume)));
        }

        let multiline = raw.iter().take(raw.len().saturating_sub(1)).any(|&b| b == b'\n' || b == b'\r');
        let mut cells = Vec::with_capacity(record.len());
        let mut used = 0usize;
        let mut notes = Vec::new();
        for (index, field) in record.iter().enumerate() {
            // Fields split on ASCII delimiters of valid UTF-8 are valid UTF-8; lossy is a no-op.
            let text = String::from_utf8_lossy(field);
            let cell = text.trim();
            if !cell.is_empty() {
                used = index.saturating_add(1);
            }
            // One remark per row is enough to point at the problem and keeps the list bounded.
            if lossy && notes.is_empty() && cell.contains('\u{FFFD}') {
                notes.push((
                    index,
                    format!(
                        "contains bytes that are not valid {} text (shown as \u{FFFD}); save the \
                         file as CSV UTF-8",
                        if encoding == "gb18030" { "UTF-8 or GB18030" } else { "UTF-8" }
                    ),
                ));
            }
            cells.push(cell.to_string());
        }
        builder.push(RawRow { row, cells, used, notes, multiline })?;
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Counts the blank lines the csv crate skipped before a record that it reports as starting at
/// `pos`, and returns the offset where the record's text really starts.
fn skip_blank_lines(slice: &[u8], pos: usize) -> (usize, usize) {
    let mut i = pos;
    // The reader stops between the "\r" and "\n" of a CRLF terminator; that "\n" ends the
    // previous record and is not a blank line.
    if i > 0 && slice.get(i.wrapping_sub(1)) == Some(&b'\r') && slice.get(i) == Some(&b'\n') {
        i = i.saturating_add(1);
    }
    let mut lines = 0usize;
    loop {
        match slice.get(i) {
            Some(b'\r') => {
                i = i.saturating_add(1);
                if slice.get(i) == Some(&b'\n') {
                    i = i.saturating_add(1);
                }
                lines = lines.saturating_add(1);
            }
            Some(b'\n') => {
                i = i.saturating_add(1);
                lines = lines.saturating_add(1);
            }
            _ => return (lines, i),
        }
    }
}

/// Mirrors the csv crate's quoting rules (RFC 4180 with doubled quotes, lenient elsewhere) and
/// returns the offset of the quote opening a field that is still open at the end of `raw`.
fn unclosed_quote(raw: &[u8], delimiter: u8) -> Option<usize> {
    enum State {
        StartField,
        Unquoted,
        Quoted(usize),
        QuoteInQuoted(usize),
    }
    let ends_field = |b: u8| b == delimiter || b == b'\n' || b == b'\r';
    let mut state = State::StartField;
    for (i, &b) in raw.iter().enumerate() {
        state = match state {
            State::StartField if b == b'"' => State::Quoted(i),
            State::StartField | State::Unquoted if ends_field(b) => State::StartField,
            State::StartField | State::Unquoted => State::Unquoted,
            State::Quoted(q) if b == b'"' => State::QuoteInQuoted(q),
            State::Quoted(q) => State::Quoted(q),
            State::QuoteInQuoted(q) if b == b'"' => State::Quoted(q),
            State::QuoteInQuoted(_) if ends_field(b) => State::StartField,
            State::QuoteInQuoted(_) => State::Unquoted,
        };
    }
    match state {
        State::Quoted(q) => Some(q),
        _ => None,
    }
}

/// Offset just past the line break that follows `from`, if there is one.
fn line_after(raw: &[u8], from: usize) -> Option<usize> {
    let rest = raw.get(from..)?;
    let at = rest.iter().position(|&b| b == b'\n' || b == b'\r')?;
    let mut end = from.saturating_add(at).saturating_add(1);
    if rest.get(at) == Some(&b'\r') && raw.get(end) == Some(&b'\n') {
        end = end.saturating_add(1);
    }
    Some(end)
}

fn looks_like_markup(text: &str) -> bool {
    let start = text.trim_start();
    if !start.starts_with('<') {
        return false;
    }
    let head: String = start.chars().take(512).collect::<String>().to_lowercase();
    ["<!doctype html", "<html", "<table", "<?xml", "<meta"].iter().any(|marker| head.contains(marker))
}

/// Returns the text, the encoding name for the report, and whether bytes had to be replaced.
fn decode(bytes: &[u8]) -> (Cow<'_, str>, &'static str, bool) {
    if let Some(rest) = bytes.strip_prefix(UTF8_BOM) {
        // A BOM is an explicit claim of UTF-8, so stray invalid bytes are replaced rather than
        // reinterpreting the whole file as GB18030.
        return match std::str::from_utf8(rest) {
            Ok(text) => (Cow::Borrowed(text), "utf-8 (BOM)", false),
            Err(_) => (String::from_utf8_lossy(rest), "utf-8 (BOM)", true),
        };
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return (Cow::Borrowed(text), "utf-8", false);
    }
    let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
    (text, "gb18030", had_errors)
}

/// Picks the delimiter from the first non-blank line, counting only outside quotes so a quoted
/// "北京, 朝阳区" in the header does not vote for comma.
fn detect_delimiter(text: &str) -> u8 {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or_default();
    let (mut commas, mut semicolons, mut tabs) = (0usize, 0usize, 0usize);
    let mut in_quotes = false;
    for b in line.bytes() {
        match b {
            b'"' => in_quotes = !in_quotes,
            b',' if !in_quotes => commas = commas.saturating_add(1),
            b';' if !in_quotes => semicolons = semicolons.saturating_add(1),
            b'\t' if !in_quotes => tabs = tabs.saturating_add(1),
            _ => {}
        }
    }
    if tabs > commas && tabs >= semicolons {
        b'\t'
    } else if semicolons > commas {
        b';'
    } else {
        b','
    }
}

// ---------------------------------------------------------------------------------------------
// XLSX
// ---------------------------------------------------------------------------------------------

/// The workbook may unpack to at most this many times `max_bytes`. Excel files usually compress
/// 5–10×; the point is to stop ZIP bombs, since calamine keeps the shared strings in memory.
const MAX_UNPACK_RATIO: usize = 10;

fn read_xlsx(bytes: &[u8], limits: &Limits) -> Result<Table, ReadError> {
    if !bytes.starts_with(ZIP_MAGIC) {
        return Err(ReadError::NotXlsx("it is not a ZIP archive, which every .xlsx file is".to_string()));
    }
    let unpacked = zip_unpacked_size(bytes).ok_or_else(|| {
        ReadError::NotXlsx("its ZIP directory is missing or damaged; the upload may be incomplete".to_string())
    })?;
    let max_unpacked = limits.max_bytes.saturating_mul(MAX_UNPACK_RATIO);
    if unpacked > u64::try_from(max_unpacked).unwrap_or(u64::MAX) {
        return Err(ReadError::Unreadable(format!(
            "the workbook unpacks to more than {}; split it into smaller files or save it as CSV",
            human_bytes(max_unpacked)
        )));
    }
    // calamine parses untrusted ZIP and XML; should it ever panic on a malformed workbook, that
    // must be one failed upload, not a crashed request handler.
    match catch_unwind(AssertUnwindSafe(|| read_xlsx_sheet(bytes, limits))) {
        Ok(result) => result,
        Err(_) => {
            Err(ReadError::Unreadable("the workbook is damaged; open it in Excel or WPS and save it again".to_string()))
        }
    }
}

fn read_xlsx_sheet(bytes: &[u8], limits: &Limits) -> Result<Table, ReadError> {
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(|e| ReadError::NotXlsx(e.to_string()))?;
    let is_1904 = workbook.has_1904_epoch();
    let sheet = workbook
        .sheets_metadata()
        .iter()
        .find(|s| s.typ == SheetType::WorkSheet && s.visible == SheetVisible::Visible)
        .map(|s| s.name.clone())
        .ok_or(ReadError::NoSheet)?;
    let unreadable = |e: calamine::XlsxError| ReadError::Unreadable(format!("worksheet \"{sheet}\" is damaged: {e}"));
    // Streaming cell by cell instead of worksheet_range(): a range is allocated from the sheet's
    // extent, so one stray cell at XFD1048576 would otherwise cost gigabytes.
    let mut cells = workbook.worksheet_cells_reader(&sheet).map_err(unreadable)?;
    let mut builder = TableBuilder::new(limits, "xlsx");
    let mut current: Option<RawRow> = None;
    while let Some(cell) = cells.next_cell().map_err(unreadable)? {
        let (r, c) = cell.get_position();
        let row = to_usize(u64::from(r)).saturating_add(1);
        let column = to_usize(u64::from(c));
        let pending_row = current.as_ref().map(|raw| raw.row);
        if pending_row != Some(row) {
            if pending_row.is_some_and(|pending| row < pending) {
                return Err(ReadError::Unreadable(format!(
                    "worksheet \"{sheet}\" lists its rows out of order; open it in Excel or WPS \
                     and save it again"
                )));
            }
            if let Some(done) = current.take() {
                builder.push(done)?;
            }
            current = Some(RawRow { row, cells: Vec::new(), used: 0, notes: Vec::new(), multiline: false });
        }
        let Some(raw) = current.as_mut() else {
            continue;
        };
        let (text, note) = xlsx_cell_text(cell.get_value(), is_1904);
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        raw.used = raw.used.max(column.saturating_add(1));
        // Keep only what can end up in the table: the header width, or max_columns while the
        // header itself is being read (a wider header is rejected anyway).
        let keep = if builder.has_header {
            builder.table.headers.len()
        } else {
            if column >= limits.max_columns {
                return Err(ReadError::TooManyColumns { limit: limits.max_columns });
            }
            limits.max_columns
        };
        if column < keep {
            if raw.cells.len() <= column {
                raw.cells.resize(column.saturating_add(1), String::new());
            }
            if let Some(slot) = raw.cells.get_mut(column) {
                *slot = text.to_string();
            }
            if let Some(note) = note {
                raw.notes.push((column, note));
            }
        }
    }
    if let Some(done) = current.take() {
        builder.push(done)?;
    }
    builder.finish()
}

/// The text Excel would show for a cell, plus a remark when the cell holds an error value.
fn xlsx_cell_text<'a>(value: &'a DataRef<'_>, is_1904: bool) -> (Cow<'a, str>, Option<String>) {
    match value {
        DataRef::Empty => (Cow::Borrowed(""), None),
        DataRef::String(s) => (Cow::Borrowed(s.as_str()), None),
        DataRef::SharedString(s) => (Cow::Borrowed(*s), None),
        DataRef::Int(i) => (Cow::Owned(i.to_string()), None),
        DataRef::Float(f) => (Cow::Owned(format_number(*f)), None),
        DataRef::Bool(b) => (Cow::Borrowed(if *b { "true" } else { "false" }), None),
        DataRef::DateTime(dt) => (Cow::Owned(format_excel_datetime(dt, is_1904)), None),
        DataRef::DateTimeIso(s) => (Cow::Owned(format_iso_datetime(s)), None),
        DataRef::DurationIso(s) => (Cow::Borrowed(s.as_str()), None),
        DataRef::Error(e) => (Cow::Owned(e.to_string()), Some(format!("cell shows the Excel error {e}"))),
    }
}

/// Formats a number as Excel's "General" format shows it, minus the switch to exponent notation:
/// 15 significant digits (Excel's precision, which also hides binary noise such as
/// 0.30000000000000004) and no ".0" on whole numbers.
fn format_number(f: f64) -> String {
    if !f.is_finite() {
        return f.to_string();
    }
    if f == 0.0 {
        // Avoids "-0".
        return "0".to_string();
    }
    let rounded = format!("{f:.14e}").parse::<f64>().unwrap_or(f);
    // Display for f64 never uses exponent notation and omits ".0" for whole numbers.
    rounded.to_string()
}

const SECONDS_PER_DAY: f64 = 86_400.0;

fn format_excel_datetime(dt: &ExcelDateTime, is_1904: bool) -> String {
    let serial = dt.as_f64();
    if !serial.is_finite() {
        return format_number(serial);
    }
    // Round to whole seconds first, as Excel does when showing hh:mm:ss, so 10:59:59.9996 shows
    // as 11:00:00 and a carry into the next day moves the date as well.
    let total = (serial * SECONDS_PER_DAY).round();
    if dt.is_duration() {
        let sign = if total < 0.0 { "-" } else { "" };
        let secs = total.abs() as u64;
        return format!("{sign}{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    }
    if serial < 0.0 {
        // Excel cannot show negative dates either (it shows ####); the number is more useful.
        return format_number(serial);
    }
    let secs = total as u64;
    let time = secs % 86_400;
    let (h, m, s) = (time / 3600, time / 60 % 60, time % 60);
    if serial < 1.0 {
        // Serial 0 is "1900-01-00" in Excel; values below 1 are times of day without a date.
        return format!("{h:02}:{m:02}:{s:02}");
    }
    let days = (secs / 86_400) as f64;
    let (year, month, day, ..) = ExcelDateTime::new(days, ExcelDateTimeType::DateTime, is_1904).to_ymd_hms_milli();
    if time == 0 {
        format!("{year:04}-{month:02}-{day:02}")
    } else {
        format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02}")
    }
}

/// Cells stored as ISO 8601 text (`t="d"`) are brought to the same shape as serial dates.
fn format_iso_datetime(s: &str) -> String {
    let spaced = s.trim().replacen('T', " ", 1);
    match spaced.strip_suffix(" 00:00:00") {
        Some(date) => date.to_string(),
        None => spaced,
    }
}

/// Sums the uncompressed sizes declared in the ZIP central directory, the sizes the zip crate
/// enforces while inflating. Every end-of-directory record candidate is tried and the largest
/// total kept, so a crafted file cannot show this check a smaller directory than the one
/// calamine ends up using. `None` when no directory can be read.
fn zip_unpacked_size(bytes: &[u8]) -> Option<u64> {
    const EOCD: &[u8] = b"PK\x05\x06";
    const EOCD_LEN: usize = 22;
    let last = bytes.len().checked_sub(EOCD_LEN)?;
    let first = last.saturating_sub(usize::from(u16::MAX));
    let mut largest: Option<u64> = None;
    for pos in (first..=last).rev() {
        if bytes.get(pos..pos.saturating_add(4)) != Some(EOCD) {
            continue;
        }
        let Some(entries) = read_u16(bytes, pos.saturating_add(10)) else {
            continue;
        };
        let (Some(cd_size), Some(cd_offset)) =
            (read_u32(bytes, pos.saturating_add(12)), read_u32(bytes, pos.saturating_add(16)))
        else {
            continue;
        };
        if entries == u16::MAX || cd_size == u32::MAX || cd_offset == u32::MAX {
            // ZIP64 end records; no spreadsheet within upload limits needs them.
            continue;
        }
        // The declared offset is wrong when data was prepended; the zip crate then falls back to
        // "just before the end record", so both candidates are checked.
        let candidates = [Some(to_usize(u64::from(cd_offset))), pos.checked_sub(to_usize(u64::from(cd_size)))];
        for start in candidates.into_iter().flatten() {
            if let Some(total) = central_directory_size(bytes, start, entries) {
                largest = Some(largest.map_or(total, |l| l.max(total)));
            }
        }
    }
    largest
}

fn central_directory_size(bytes: &[u8], start: usize, entries: u16) -> Option<u64> {
    const CDH: &[u8] = b"PK\x01\x02";
    const CDH_LEN: usize = 46;
    let mut pos = start;
    let mut total = 0u64;
    for _ in 0..entries {
        if bytes.get(pos..pos.saturating_add(4))? != CDH {
            return None;
        }
        let mut size = u64::from(read_u32(bytes, pos.saturating_add(24))?);
        let name_len = usize::from(read_u16(bytes, pos.saturating_add(28))?);
        let extra_len = usize::from(read_u16(bytes, pos.saturating_add(30))?);
        let comment_len = usize::from(read_u16(bytes, pos.saturating_add(32))?);
        let extra_start = pos.saturating_add(CDH_LEN).saturating_add(name_len);
        if size == u64::from(u32::MAX) {
            let extra = bytes.get(extra_start..extra_start.saturating_add(extra_len))?;
            size = zip64_uncompressed_size(extra)?;
        }
        total = total.saturating_add(size);
        pos = extra_start.saturating_add(extra_len).saturating_add(comment_len);
    }
    Some(total)
}

/// The uncompressed size from a ZIP64 extended-information extra field (it comes first).
fn zip64_uncompressed_size(extra: &[u8]) -> Option<u64> {
    let mut pos = 0usize;
    while pos < extra.len() {
        let id = read_u16(extra, pos)?;
        let len = usize::from(read_u16(extra, pos.saturating_add(2))?);
        let data = pos.saturating_add(4);
        if id == 1 {
            let raw = extra.get(data..data.saturating_add(8))?;
            return Some(u64::from_le_bytes(raw.try_into().ok()?));
        }
        pos = data.saturating_add(len);
    }
    None
}

fn read_u16(bytes: &[u8], at: usize) -> Option<u16> {
    let raw = bytes.get(at..at.saturating_add(2))?;
    Some(u16::from_le_bytes(raw.try_into().ok()?))
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let raw = bytes.get(at..at.saturating_add(4))?;
    Some(u32::from_le_bytes(raw.try_into().ok()?))
}

// ---------------------------------------------------------------------------------------------
// Formatting for messages
// ---------------------------------------------------------------------------------------------

/// 10485760 → "10,485,760", the way numbers are written in the messages.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len().saturating_add(digits.len() / 3));
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn human_bytes(n: usize) -> String {
    const MIB: usize = 1024 * 1024;
    const KIB: usize = 1024;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", thousands(n / MIB))
    } else if n >= KIB && n.is_multiple_of(KIB) {
        format!("{} KiB", thousands(n / KIB))
    } else {
        format!("{} bytes", thousands(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(name: &str, bytes: &[u8]) -> Table {
        match read_table(name, bytes, &Limits::default()) {
            Ok(table) => table,
            Err(e) => panic!("reading {name} failed: {e}"),
        }
    }

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| c.to_string()).collect()
    }

    const SAMPLE: &str = "公司名称,联系人,电话\n\
                          北京科技有限公司,王经理,１３８１２３４５６７８\n\
                          上海贸易有限公司, 李 总 ,13900001111\n";

    fn sample_rows() -> Vec<(usize, Vec<String>)> {
        vec![
            (2, row(&["北京科技有限公司", "王经理", "１３８１２３４５６７８"])),
            (3, row(&["上海贸易有限公司", "李 总", "13900001111"])),
        ]
    }

    #[test]
    fn utf8_bom_and_gbk_read_the_same() {
        let plain = read("客户.csv", SAMPLE.as_bytes());
        let mut with_bom = UTF8_BOM.to_vec();
        with_bom.extend_from_slice(SAMPLE.as_bytes());
        let bom = read("客户.csv", &with_bom);
        let (gbk_bytes, _, unmappable) = encoding_rs::GBK.encode(SAMPLE);
        assert!(!unmappable);
        assert!(std::str::from_utf8(&gbk_bytes).is_err());
        let gbk = read("客户.csv", &gbk_bytes);

        assert_eq!(plain.encoding, "utf-8");
        assert_eq!(bom.encoding, "utf-8 (BOM)");
        assert_eq!(gbk.encoding, "gb18030");
        for table in [&plain, &bom, &gbk] {
            assert_eq!(table.headers, row(&["公司名称", "联系人", "电话"]));
            assert!(!table.headers.iter().any(|h| h.starts_with('\u{feff}')));
            assert_eq!(table.rows, sample_rows());
            assert!(table.problems.is_empty(), "{:?}", table.problems);
        }
    }

    #[test]
    fn chinese_and_full_width_text_round_trips() {
        let table = read("a.csv", SAMPLE.as_bytes());
        let first = &table.rows[0].1;
        assert_eq!(first[0], "北京科技有限公司");
        assert_eq!(first[1], "王经理");
        assert_eq!(first[2], "１３８１２３４５６７８");
    }

    #[test]
    fn semicolon_and_tab_delimiters() {
        let semi = read("a.csv", "name;phone;city\n王经理;13812345678;北京, 朝阳\n".as_bytes());
        assert_eq!(semi.headers, row(&["name", "phone", "city"]));
        assert_eq!(semi.rows, vec![(2, row(&["王经理", "13812345678", "北京, 朝阳"]))]);

        let tab = read("a.txt", "name\tphone\tcity\n王经理\t13812345678\t北京;朝阳\n".as_bytes());
        assert_eq!(tab.headers, row(&["name", "phone", "city"]));
        assert_eq!(tab.rows, vec![(2, row(&["王经理", "13812345678", "北京;朝阳"]))]);
    }

    #[test]
    fn quoted_comma_and_newline_stay_in_one_cell() {
        let csv = "name,address,phone\r\n\
                   \"王经理\",\"北京市朝阳区, 建国路 1 号\r\n3 层\",138\r\n\
                   李总,上海,139\r\n";
        let table = read("a.csv", csv.as_bytes());
        assert_eq!(
            table.rows,
            vec![(2, row(&["王经理", "北京市朝阳区, 建国路 1 号\r\n3 层", "138"])), (3, row(&["李总", "上海", "139"])),]
        );
        assert!(table.problems.is_empty());
    }

    #[test]
    fn broken_quote_is_reported_where_it_starts() {
        let csv = "name,address,phone\n\
                   王经理,北京,138\n\
                   李总,\"上海,139\n\
                   张三,广州,137\n\
                   赵四,深圳,136\n";
        let table = read("a.csv", csv.as_bytes());
        assert_eq!(table.problems.len(), 1, "{:?}", table.problems);
        assert_eq!(table.problems[0].row, 3);
        assert!(table.problems[0].message.contains("closing quote"));
        assert_eq!(
            table.rows,
            vec![
                (2, row(&["王经理", "北京", "138"])),
                (4, row(&["张三", "广州", "137"])),
                (5, row(&["赵四", "深圳", "136"])),
            ]
        );
    }

    #[test]
    fn broken_quote_on_last_line() {
        let table = read("a.csv", b"a,b\n1,2\n3,\"4");
        assert_eq!(table.rows, vec![(2, row(&["1", "2"]))]);
        assert_eq!(table.problems.len(), 1);
        assert_eq!(table.problems[0].row, 3);
    }

    #[test]
    fn mispaired_quote_that_merges_rows_gets_a_hint() {
        let csv = "a,b\n1,\"x\n2,y\",z,w\n";
        let table = read("a.csv", csv.as_bytes());
        assert_eq!(table.problems.len(), 1);
        assert_eq!(table.problems[0].row, 2);
        assert!(table.problems[0].message.starts_with("row has 4 cells but the header has 2"));
        assert!(table.problems[0].message.contains("closing quote"));
    }

    #[test]
    fn blank_lines_count_as_rows_and_empty_rows_are_skipped() {
        let csv = "\r\nname,phone\r\n\r\n王经理,138\r\n , \r\n\r\n李总,139";
        let table = read("a.csv", csv.as_bytes());
        assert_eq!(table.headers, row(&["name", "phone"]));
        assert_eq!(table.rows, vec![(4, row(&["王经理", "138"])), (7, row(&["李总", "139"]))]);
        assert!(table.problems.is_empty());
    }

    #[test]
    fn ten_megabyte_cell_is_reported_and_dropped() {
        let big = "x".repeat(10_485_760);
        let csv = format!("name,note,city\n王经理,{big},北京\n李总,ok,上海\n");
        let table = read("a.csv", csv.as_bytes());
        assert_eq!(
            table.problems,
            vec![Problem {
                row: 2,
                column: Some("note".to_string()),
                message: "cell has 10,485,760 characters; the limit is 10,000".to_string(),
            }]
        );
        assert_eq!(table.rows, vec![(2, row(&["王经理", "", "北京"])), (3, row(&["李总", "ok", "上海"])),]);
    }

    #[test]
    fn long_rows_reported_short_rows_padded() {
        let csv = "a,b,c,d,e,f,g\n1,2,3,4,5,6,7,8,9\n1,2\n1,2,3,4,5,6,7,,\n";
        let table = read("a.csv", csv.as_bytes());
        assert_eq!(
            table.problems,
            vec![Problem { row: 2, column: None, message: "row has 9 cells but the header has 7".to_string() }]
        );
        assert_eq!(
            table.rows,
            vec![
                (2, row(&["1", "2", "3", "4", "5", "6", "7"])),
                (3, row(&["1", "2", "", "", "", "", ""])),
                (4, row(&["1", "2", "3", "4", "5", "6", "7"])),
            ]
        );
    }

    #[test]
    fn duplicate_and_empty_headers() {
        let csv = " 电话 ,,电话,电话 (2),电话\nA,B,C,D,E\n";
        let table = read("a.csv", csv.as_bytes());
        assert_eq!(table.headers, row(&["电话", "column 2", "电话 (2)", "电话 (2) (2)", "电话 (3)"]));
        let renamed: Vec<_> = table.problems.iter().map(|p| (p.row, p.column.clone().unwrap_or_default())).collect();
        assert_eq!(
            renamed,
            vec![(1, "电话 (2)".to_string()), (1, "电话 (2) (2)".to_string()), (1, "电话 (3)".to_string()),]
        );
        assert_eq!(table.rows, vec![(2, row(&["A", "B", "C", "D", "E"]))]);
    }

    #[test]
    fn gb18030_with_undecodable_bytes_is_flagged() {
        let mut bytes = encoding_rs::GBK.encode("名称,电话\n王经理,138\n").0.into_owned();
        bytes.extend_from_slice(b"\x80\xff,139\n");
        let table = read("a.csv", &bytes);
        assert_eq!(table.encoding, "gb18030");
        assert_eq!(table.rows.len(), 2);
        assert_eq!(table.problems.len(), 1);
        assert_eq!(table.problems[0].row, 3);
        assert_eq!(table.problems[0].column.as_deref(), Some("名称"));
    }

    fn build_xlsx(hidden_first: bool) -> Vec<u8> {
        use rust_xlsxwriter::{ExcelDateTime as Dt, Format, Workbook};
        let mut workbook = Workbook::new();
        if hidden_first {
            let hidden = workbook.add_worksheet();
            hidden.write_string(0, 0, "hidden").unwrap();
            hidden.set_hidden(true);
        }
        let sheet = workbook.add_worksheet();
        // Excel cannot show a hidden sheet as the active one, so the visible sheet must be.
        sheet.set_active(true);
        let date_format = Format::new().set_num_format("yyyy-mm-dd");
        let datetime_format = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
        for (col, name) in ["公司", "电话", "金额", "日期", "有效", "备注", "时间", "大数"].iter().enumerate()
        {
            sheet.write_string(0, col as u16, *name).unwrap();
        }
        sheet.write_string(1, 0, " 北京科技有限公司 ").unwrap();
        sheet.write_number(1, 1, 13812345678.0).unwrap();
        sheet.write_number(1, 2, 12.5).unwrap();
        let date = Dt::from_ymd(2026, 11, 22).unwrap();
        sheet.write_datetime_with_format(1, 3, &date, &date_format).unwrap();
        sheet.write_boolean(1, 4, true).unwrap();
        // A formatted but empty cell, as Excel writes for cells that were cleared.
        sheet.write_blank(1, 5, &date_format).unwrap();
        let datetime = Dt::from_ymd(2026, 11, 22).unwrap().and_hms(9, 30, 5).unwrap();
        sheet.write_datetime_with_format(1, 6, &datetime, &datetime_format).unwrap();
        sheet.write_number(1, 7, 1e20).unwrap();
        // Row 3 (index 2) is left empty; row 4 has a value beyond the header.
        sheet.write_string(3, 0, "上海").unwrap();
        sheet.write_number(3, 2, 0.1 + 0.2).unwrap();
        sheet.write_string(3, 9, "extra").unwrap();
        workbook.save_to_buffer().unwrap()
    }

    #[test]
    fn xlsx_values_are_written_as_excel_shows_them() {
        let bytes = build_xlsx(false);
        assert_eq!(detect_format("客户.xlsx", &bytes), FileFormat::Xlsx);
        assert_eq!(detect_format("upload.bin", &bytes), FileFormat::Xlsx);
        let table = read("客户.xlsx", &bytes);
        assert_eq!(table.encoding, "xlsx");
        assert_eq!(table.headers, row(&["公司", "电话", "金额", "日期", "有效", "备注", "时间", "大数"]));
        assert_eq!(
            table.rows,
            vec![
                (
                    2,
                    row(&[
                        "北京科技有限公司",
                        "13812345678",
                        "12.5",
                        "2026-11-22",
                        "true",
                        "",
                        "2026-11-22 09:30:05",
                        "100000000000000000000",
                    ])
                ),
                (4, row(&["上海", "", "0.3", "", "", "", "", ""])),
            ]
        );
        assert_eq!(
            table.problems,
            vec![Problem { row: 4, column: None, message: "row has 10 cells but the header has 8".to_string() }]
        );
    }

    #[test]
    fn xlsx_reads_first_visible_sheet() {
        let table = read("a.xlsx", &build_xlsx(true));
        assert_eq!(table.headers.first().map(String::as_str), Some("公司"));
    }

    #[test]
    fn xlsx_without_visible_data_has_no_header() {
        let mut workbook = rust_xlsxwriter::Workbook::new();
        workbook.add_worksheet();
        let bytes = workbook.save_to_buffer().unwrap();
        assert!(matches!(read_table("a.xlsx", &bytes, &Limits::default()), Err(ReadError::NoHeader)));
    }

    #[test]
    fn xlsx_row_limit() {
        let bytes = build_xlsx(false);
        let limits = Limits { max_rows: 1, ..Limits::default() };
        assert!(matches!(read_table("a.xlsx", &bytes, &limits), Err(ReadError::TooManyRows { limit: 1 })));
    }

    #[test]
    fn whole_file_errors() {
        let limits = Limits::default();
        assert!(matches!(read_table("客户.xlsx", b"name,phone\n1,2\n", &limits), Err(ReadError::NotXlsx(_))));
        assert!(matches!(read_table("a.csv", b"", &limits), Err(ReadError::Empty)));
        assert!(matches!(read_table("a.xlsx", b"", &limits), Err(ReadError::Empty)));
        assert!(matches!(read_table("a.csv", b" \r\n\r\n", &limits), Err(ReadError::Empty)));
        assert!(matches!(read_table("a.csv", b",,\n,,\n", &limits), Err(ReadError::NoHeader)));
        let small = Limits { max_bytes: 10, ..limits };
        assert!(matches!(read_table("a.csv", b"a,b\n1,2\n3,4\n", &small), Err(ReadError::TooLarge { limit: 10 })));
        let few_rows = Limits { max_rows: 3, ..limits };
        assert!(read_table("a.csv", b"a\n1\n2\n3\n", &few_rows).is_ok());
        assert!(matches!(read_table("a.csv", b"a\n1\n2\n3\n4\n", &few_rows), Err(ReadError::TooManyRows { limit: 3 })));
        let narrow = Limits { max_columns: 2, ..limits };
        assert!(matches!(read_table("a.csv", b"a,b,c\n1,2,3\n", &narrow), Err(ReadError::TooManyColumns { limit: 2 })));
        assert!(matches!(
            read_table("a.xls", b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1rest", &limits),
            Err(ReadError::NotXlsx(_))
        ));
        assert!(matches!(read_table("a.csv", b"\xFF\xFEa\x00,\x00b\x00", &limits), Err(ReadError::Unreadable(_))));
        assert!(matches!(
            read_table("导出.xls", b"<html><body><table><tr><td>a</td></tr></table>", &limits),
            Err(ReadError::Unreadable(_))
        ));
        let message = ReadError::TooLarge { limit: 100 * 1024 * 1024 }.to_string();
        assert!(message.contains("100 MiB"), "{message}");
    }

    #[test]
    fn padding_cannot_blow_up_memory() {
        // 200 columns and rows of one byte each would pad to 200 strings per row.
        let mut csv = (1..=200).map(|i| format!("c{i}")).collect::<Vec<_>>().join(",");
        csv.push('\n');
        csv.push_str(&"x\n".repeat(5_000));
        let limits = Limits { max_bytes: 1_000_000, ..Limits::default() };
        assert!(matches!(
            read_table("a.csv", csv.as_bytes(), &limits),
            Err(ReadError::TooManyCells { limit: 250_000 })
        ));
    }

    #[test]
    fn number_and_date_formatting() {
        assert_eq!(format_number(13812345678.0), "13812345678");
        assert_eq!(format_number(-0.0), "0");
        assert_eq!(format_number(1.0e-7), "0.0000001");
        assert_eq!(format_number(123456789012345680.0), "123456789012346000");
        let near_eleven =
            ExcelDateTime::new(46348.0 + (11.0 * 3600.0 - 0.0004) / 86_400.0, ExcelDateTimeType::DateTime, false);
        assert_eq!(format_excel_datetime(&near_eleven, false), "2026-11-22 11:00:00");
        let time_only = ExcelDateTime::new(0.5, ExcelDateTimeType::DateTime, false);
        assert_eq!(format_excel_datetime(&time_only, false), "12:00:00");
        let duration = ExcelDateTime::new(1.5, ExcelDateTimeType::TimeDelta, false);
        assert_eq!(format_excel_datetime(&duration, false), "36:00:00");
        assert_eq!(format_iso_datetime("2026-11-22T00:00:00"), "2026-11-22");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
    }

    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let limits = Limits { max_bytes: 1 << 20, max_rows: 50, max_columns: 20, max_cell_chars: 40 };
        let alphabet: &[u8] = b"ab,;\t\"\r\n \xe5\x8c\x97\xb1\xb1\xff";
        let valid_xlsx = build_xlsx(false);
        for i in 0..600 {
            let len = rng.below(3000);
            let mut bytes: Vec<u8> = match i % 4 {
                // Arbitrary bytes.
                0 => (0..len).map(|_| rng.next() as u8).collect(),
                // Looks like a ZIP, is not one.
                1 => {
                    let mut b = ZIP_MAGIC.to_vec();
                    b.extend((0..len).map(|_| rng.next() as u8));
                    b
                }
                // CSV-ish text full of quotes, delimiters, line breaks and broken multibyte text.
                2 => (0..len).map(|_| alphabet[rng.below(alphabet.len())]).collect(),
                // A real workbook with a few bytes damaged or the tail cut off.
                _ => {
                    let mut b = valid_xlsx.clone();
                    for _ in 0..1 + rng.below(8) {
                        let at = rng.below(b.len());
                        b[at] = rng.next() as u8;
                    }
                    if rng.below(4) == 0 {
                        b.truncate(rng.below(b.len()));
                    }
                    b
                }
            };
            if i % 7 == 0 {
                bytes.splice(0..0, UTF8_BOM.iter().copied());
            }
            for name in ["f.csv", "f.xlsx", "f"] {
                if let Ok(table) = read_table(name, &bytes, &limits) {
                    assert!(table.rows.len() <= limits.max_rows);
                    assert!(table.headers.len() <= limits.max_columns);
                    for (_, cells) in &table.rows {
                        assert_eq!(cells.len(), table.headers.len());
                        assert!(cells.iter().all(|c| c.chars().count() <= 40));
                    }
                }
            }
        }
    }
}
