//! Excel workbooks (XLSX, and legacy XLS through the same reader) → the [`MappedTable`] the CSV path
//! gives, so the feeds' rules and the rejects contract do not care where a row came from.
//!
//! Workbooks filled in by hand are not tidy tables. What is understood:
//! - **Title rows above the header** (often merged across the table): the header row is the row, among
//!   the first [`SCAN_ROWS`] of a sheet, whose cells name the most contract fields
//!   ([`TableContract::resolve_header`]); everything above it is ignored.
//! - **Bilingual headers**: a cell such as `统一社会信用代码\nUnified social credit code` resolves
//!   by its first line that names a field; a second header row right under the first (the English row
//!   of the template) is recognised as a header, not data.
//! - **Notes sheets** (填写说明, 说明, Notes, README …) and hidden sheets are skipped; every other sheet
//!   whose header row names all the required fields is read, in workbook order. When more than one is
//!   read, each row's raw text starts with `[sheet name]` so a reject points to its sheet.
//! - **Cell types**: numbers as written (`826.83`, `120000`), formulas by their cached value, dates stored
//!   as Excel serials (formatted as dates, or as bare numbers in a `date` column) as `YYYY-MM-DD`, and a
//!   first-of-month date in the `period` column as the month (`2023-09`: Excel turns a typed `2023-09`
//!   or `2023年9月` into 1 September). Numbers stored as text are left to the feed's forgiving parsers.
//!   Error cells read as their code (`#DIV/0!`) and are rejected by the feed like any bad value.
//! - **Blank rows and footnotes** (a single cell starting with 注 / 说明 / 备注 / 数据来源 / Note …) below
//!   the table are skipped: they are not data rows, so they are not counted as read.
//!
//! `__line` is the 1-based row number Excel shows, so a reject's line is the row a liaison sees.

use std::collections::HashSet;
use std::io::Cursor;

use calamine::{Data, Reader, SheetType, SheetVisible, open_workbook_auto_from_rs};
use homeseason_schema::contract::{Field, FieldType, TableContract};
use polars::prelude::*;

use crate::table::{LINE, MappedTable, RAW};
use crate::{Feed, IngestError, Result};

/// How many rows from the top of a sheet are searched for the header row.
pub(crate) const SCAN_ROWS: usize = 30;

/// The first bytes of an XLSX (a zip archive).
pub(crate) const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
/// The first bytes of a legacy XLS (an OLE compound file).
pub(crate) const CFB_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Whether the bytes are an Excel workbook (XLSX or XLS) rather than text.
#[must_use]
pub(crate) fn is_workbook(bytes: &[u8]) -> bool {
    bytes.starts_with(ZIP_MAGIC) || bytes.starts_with(CFB_MAGIC)
}

/// Whether a sheet name says it holds notes or instructions rather than data.
#[must_use]
pub(crate) fn is_notes_sheet(name: &str) -> bool {
    let n = name.trim().to_lowercase();
    [
        "说明",
        "须知",
        "注意事项",
        "备注",
        "notes",
        "note",
        "instruction",
        "readme",
        "read me",
        "help",
        "帮助",
    ]
    .iter()
    .any(|k| n.contains(k))
}

/// One sheet's cells as read, with its first row's 0-based index in the sheet.
struct Grid {
    name: String,
    first_row: u32,
    rows: Vec<Vec<Data>>,
}

impl Grid {
    /// The 1-based row number Excel shows for row `i` of the grid.
    fn excel_row(&self, i: usize) -> u32 {
        self.first_row + u32::try_from(i).unwrap_or(u32::MAX - self.first_row) + 1
    }
}

fn workbook_err(file: &str, reason: impl std::fmt::Display) -> IngestError {
    IngestError::Workbook {
        file: file.to_owned(),
        reason: reason.to_string(),
    }
}

fn le16(b: &[u8], at: usize) -> Option<usize> {
    b.get(at..at + 2)
        .map(|x| usize::from(u16::from_le_bytes([x[0], x[1]])))
}

fn le32(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at + 4)
        .map(|x| u64::from(u32::from_le_bytes([x[0], x[1], x[2], x[3]])))
}

/// Refuse an XLSX whose parts unpack to more than [`crate::MAX_UNPACKED_BYTES`] together, before any
/// part is read into memory. The sizes the archive declares are not trusted: every deflated part is
/// inflated into a counter (nothing kept), stopping at the limit. Archives this walk cannot follow
/// are left to the workbook reader, which reports them.
fn check_unpacked_size(file: &str, bytes: &[u8]) -> Result<()> {
    use std::io::Read;
    const EOCD: &[u8] = b"PK\x05\x06";
    let limit = crate::MAX_UNPACKED_BYTES;
    let tail_from = bytes.len().saturating_sub(22 + 65_535);
    let Some(eocd) = bytes[tail_from..]
        .windows(4)
        .rposition(|w| w == EOCD)
        .map(|i| tail_from + i)
    else {
        return Ok(());
    };
    let (Some(entries), Some(mut at)) = (le16(bytes, eocd + 10), le32(bytes, eocd + 16)) else {
        return Ok(());
    };
    let too_large = |part: &str, seen: u64| IngestError::TooLarge {
        file: file.to_owned(),
        what: "the Excel workbook (XLSX, a zip archive)".into(),
        detail: format!(
            "{} MB or more by part {part}, from {} KB on disk",
            seen >> 20,
            bytes.len() >> 10
        ),
    };
    let mut total: u64 = 0;
    for _ in 0..entries {
        let cd = usize::try_from(at).unwrap_or(usize::MAX);
        if le32(bytes, cd) != Some(0x0201_4b50) {
            return Ok(());
        }
        let (
            Some(method),
            Some(csize),
            Some(usize_declared),
            Some(n),
            Some(x),
            Some(k),
            Some(local),
        ) = (
            le16(bytes, cd + 10),
            le32(bytes, cd + 20),
            le32(bytes, cd + 24),
            le16(bytes, cd + 28),
            le16(bytes, cd + 30),
            le16(bytes, cd + 32),
            le32(bytes, cd + 42),
        )
        else {
            return Ok(());
        };
        let name = bytes
            .get(cd + 46..cd + 46 + n)
            .map(String::from_utf8_lossy)
            .unwrap_or_default()
            .into_owned();
        at = (cd + 46 + n + x + k) as u64;
        // Declared sizes first: a cheap refusal when the archive admits it.
        if usize_declared != 0xFFFF_FFFF && total + usize_declared > limit {
            return Err(too_large(&name, total + usize_declared));
        }
        let local = usize::try_from(local).unwrap_or(usize::MAX);
        if le32(bytes, local) != Some(0x0403_4b50) {
            return Ok(());
        }
        let (Some(ln), Some(lx)) = (le16(bytes, local + 26), le16(bytes, local + 28)) else {
            return Ok(());
        };
        let start = local + 30 + ln + lx;
        let Some(data) = bytes.get(start..) else {
            return Ok(());
        };
        let data = if csize == 0xFFFF_FFFF {
            data
        } else {
            &data[..data.len().min(usize::try_from(csize).unwrap_or(usize::MAX))]
        };
        let size = match method {
            0 => data.len() as u64,
            8 => std::io::copy(
                &mut flate2::read::DeflateDecoder::new(data).take(limit + 1 - total),
                &mut std::io::sink(),
            )
            .unwrap_or(0),
            _ => 0,
        };
        total += size;
        if total > limit {
            return Err(too_large(&name, total));
        }
    }
    Ok(())
}

/// Refuse a legacy XLS (an OLE compound file) whose sector allocation table has a cycle. The workbook
/// reader follows sector chains without a bound (calamine 0.38 `Sectors::get_chain`): a chain that
/// loops back on itself grows until memory is exhausted, from a 6 KB file (found by fuzzing, `fuzz/`).
/// No valid file has a cycle. The table is read as the reader reads it (header DIFAT, then the DIFAT
/// chain); files this walk cannot follow are left to the reader, which reports them.
fn check_cfb_chains(file: &str, bytes: &[u8]) -> Result<()> {
    const RESERVED: u32 = 0xFFFF_FFFA;
    const DIFSECT: u32 = 0xFFFF_FFFC;
    let Some(header) = bytes.get(..512) else {
        return Ok(());
    };
    let size: usize = match le16(header, 30) {
        Some(9) => 512,
        Some(12) => 4096,
        _ => return Ok(()),
    };
    let max_id = bytes.len() / size;
    // Sector `id` starts after the header sector; the last one may be short.
    let sector = |id: u32| -> Option<&[u8]> {
        let id = id as usize;
        if id > max_id {
            return None;
        }
        let start = (id + 1).checked_mul(size)?;
        bytes.get(start..bytes.len().min(start + size))
    };
    let words = |b: &[u8]| -> Vec<u32> {
        b.chunks_exact(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect()
    };
    let mut difat = words(&header[76..512]);
    let mut next = le32(header, 68).map_or(u32::MAX, |v| v as u32);
    let mut hops = 0usize;
    while next < RESERVED {
        hops += 1;
        let Some(s) = sector(next).filter(|_| hops <= max_id + 1) else {
            return Ok(());
        };
        difat.extend(words(s));
        let Some(n) = difat.pop() else {
            return Ok(());
        };
        next = n;
    }
    let mut fat: Vec<u32> = Vec::new();
    for id in difat.into_iter().filter(|id| *id < DIFSECT) {
        let Some(s) = sector(id) else {
            return Ok(());
        };
        fat.extend(words(s));
    }
    // A cycle in the functional graph i → fat[i]: 0 unseen, 1 on the current walk, 2 done.
    let mut state = vec![0u8; fat.len()];
    for start in 0..fat.len() {
        let mut walk = Vec::new();
        let mut i = start;
        while i < fat.len() && state[i] == 0 {
            state[i] = 1;
            walk.push(i);
            i = fat[i] as usize;
        }
        if i < fat.len() && state[i] == 1 {
            return Err(workbook_err(
                file,
                format!(
                    "the workbook is damaged: its sector chain loops back at sector {i} / 工作簿已损坏"
                ),
            ));
        }
        for w in walk {
            state[w] = 2;
        }
    }
    Ok(())
}

/// The visible, non-notes worksheets of a workbook, in workbook order. The reader (calamine) panics on
/// some damaged files (e.g. an XLS whose sector runs past the end: found by fuzzing, `fuzz/`); such a
/// panic refuses the file as [`IngestError::Workbook`] instead of taking the process down.
fn open(file: &str, bytes: &[u8]) -> Result<Vec<Grid>> {
    std::panic::catch_unwind(|| open_unguarded(file, bytes)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(workbook_err(
            file,
            format!("the workbook is damaged ({what}) / 工作簿已损坏"),
        ))
    })
}

fn open_unguarded(file: &str, bytes: &[u8]) -> Result<Vec<Grid>> {
    if bytes.starts_with(ZIP_MAGIC) {
        check_unpacked_size(file, bytes)?;
    }
    if bytes.starts_with(CFB_MAGIC) {
        check_cfb_chains(file, bytes)?;
    }
    let mut book =
        open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(|e| workbook_err(file, e))?;
    let names: Vec<String> = book
        .sheets_metadata()
        .iter()
        .filter(|s| s.typ == SheetType::WorkSheet && s.visible == SheetVisible::Visible)
        .filter(|s| !is_notes_sheet(&s.name))
        .map(|s| s.name.clone())
        .collect();
    let mut grids = Vec::new();
    for name in names {
        let range = book
            .worksheet_range(&name)
            .map_err(|e| workbook_err(file, format!("sheet {name}: {e}")))?;
        let first_row = range.start().map_or(0, |(r, _)| r);
        let rows = range.rows().map(<[Data]>::to_vec).collect();
        grids.push(Grid {
            name,
            first_row,
            rows,
        });
    }
    if grids.is_empty() {
        return Err(workbook_err(
            file,
            "no visible data sheet (only notes or hidden sheets) / 工作簿中没有可读取的数据工作表",
        ));
    }
    Ok(grids)
}

/// A cell as text, for headers and for data (`field` lets dates and periods be read as such).
fn cell_text(cell: &Data, field: Option<&Field>) -> String {
    let is_date_field = field.is_some_and(|f| f.r#type == FieldType::Date);
    let is_period = field.is_some_and(|f| f.name == "period");
    match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => {
            if (is_date_field || is_period)
                && let Some(d) = serial_date(*i as f64)
            {
                return period_or_date(d, is_period);
            }
            i.to_string()
        }
        Data::Float(f) => {
            if (is_date_field || is_period)
                && let Some(d) = serial_date(*f)
            {
                return period_or_date(d, is_period);
            }
            number_text(*f)
        }
        Data::Bool(b) => if *b { "true" } else { "false" }.to_owned(),
        Data::DateTime(dt) => {
            if dt.is_duration() {
                return number_text(dt.as_f64());
            }
            let (y, m, d, hh, mm, ss, _) = dt.to_ymd_hms_milli();
            if is_period && d == 1 && (hh, mm, ss) == (0, 0, 0) {
                format!("{y:04}-{m:02}")
            } else if (hh, mm, ss) == (0, 0, 0) {
                format!("{y:04}-{m:02}-{d:02}")
            } else {
                format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}")
            }
        }
        Data::Error(e) => e.to_string(),
    }
}

/// A date in the `period` column on the first of a month is that month (`2023-09`).
fn period_or_date(date: String, is_period: bool) -> String {
    match date.strip_suffix("-01") {
        Some(month) if is_period => month.to_owned(),
        _ => date,
    }
}

/// A float as a person would write it: `120000`, not `120000.0`; shortest round-trip otherwise.
fn number_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.0}")
    } else {
        format!("{f}")
    }
}

/// An Excel serial day number (1900 date system) as `YYYY-MM-DD`, for plausible dates (1950–2100).
fn serial_date(serial: f64) -> Option<String> {
    // 18264 = 1950-01-01, 73051 = 2100-01-01; whole days only.
    if !(18264.0..73051.0).contains(&serial) || serial.fract() != 0.0 {
        return None;
    }
    let epoch = chrono::NaiveDate::from_ymd_opt(1899, 12, 30)?;
    let days = serial as i64;
    Some((epoch + chrono::Duration::days(days)).to_string())
}

/// The field a header cell names: the whole text, else its first line that names one.
fn resolve_cell<'c>(contract: &'c TableContract, text: &str) -> Option<(&'c Field, String)> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Some(f) = contract.resolve_header(text) {
        return Some((f, text.to_owned()));
    }
    text.lines()
        .map(str::trim)
        .find_map(|line| contract.resolve_header(line).map(|f| (f, line.to_owned())))
}

/// A row read as a header: per column, the field it names (first occurrence only) and its spelling.
struct Header {
    /// Row index in the grid.
    index: usize,
    /// Column → (field name, header spelling).
    columns: Vec<Option<(String, String)>>,
    /// The cell texts as found (for messages).
    found: Vec<String>,
    /// Headers naming no field (or a field already taken).
    ignored: Vec<String>,
}

impl Header {
    fn fields(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().flatten().map(|(f, _)| f.as_str())
    }
    fn score(&self) -> usize {
        self.fields().count()
    }
    fn has(&self, field: &str) -> bool {
        self.fields().any(|f| f == field)
    }
}

fn read_header(row: &[Data], index: usize, contract: &TableContract) -> Header {
    let mut columns = Vec::with_capacity(row.len());
    let mut found = Vec::new();
    let mut ignored = Vec::new();
    let mut taken = HashSet::new();
    let texts: Vec<String> = row
        .iter()
        .map(|cell| cell_text(cell, None).trim().to_owned())
        .collect();
    columns.resize(texts.len(), None);
    // Headers that may name two fields (`单位`) are placed after every other header.
    let late = |t: &str| crate::table::ambiguous_fallback(t).is_some();
    let order = (0..texts.len())
        .filter(|&i| !late(&texts[i]))
        .chain((0..texts.len()).filter(|&i| late(&texts[i])));
    for i in order {
        let text = texts[i].as_str();
        let field = resolve_cell(contract, text)
            .map(|(f, spelling)| (f.name.clone(), spelling))
            .filter(|(f, _)| !taken.contains(f))
            .or_else(|| {
                crate::table::ambiguous_fallback(text)
                    .filter(|f| contract.field(f).is_some() && !taken.contains(*f))
                    .map(|f| (f.to_owned(), text.to_owned()))
            });
        if let Some((name, spelling)) = field {
            taken.insert(name.clone());
            columns[i] = Some((name, spelling));
        }
    }
    for (i, text) in texts.iter().enumerate() {
        if !text.is_empty() {
            found.push(text.replace('\n', " "));
            if columns[i].is_none() {
                ignored.push(text.replace('\n', " "));
            }
        }
    }
    Header {
        index,
        columns,
        found,
        ignored,
    }
}

/// The best header row of a grid for a contract: most fields named, the first such row on ties.
fn best_header(grid: &Grid, contract: &TableContract) -> Option<Header> {
    let mut best: Option<Header> = None;
    for (i, row) in grid.rows.iter().enumerate().take(SCAN_ROWS) {
        let h = read_header(row, i, contract);
        if h.score() > best.as_ref().map_or(0, Header::score) {
            best = Some(h);
        }
    }
    best
}

/// Whether every required, non-derived field is named (or filled by a default).
fn missing_fields(
    header: &Header,
    contract: &TableContract,
    defaults: &[(&str, &str)],
) -> Vec<String> {
    contract
        .required_fields()
        .filter(|f| !f.derived)
        .filter(|f| !header.has(&f.name) && !defaults.iter().any(|(d, _)| *d == f.name))
        .map(|f| format!("{} ({})", f.name, f.title_zh))
        .collect()
}

fn is_blank(row: &[Data]) -> bool {
    row.iter().all(|c| cell_text(c, None).trim().is_empty())
}

/// A lone note under a table: one non-empty cell starting with 注 / 说明 / 备注 / 数据来源 / Note ….
fn is_footnote(row: &[Data]) -> bool {
    let texts: Vec<String> = row
        .iter()
        .map(|c| cell_text(c, None).trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    let [only] = texts.as_slice() else {
        return false;
    };
    let lower = only.to_lowercase();
    [
        "注",
        "说明",
        "备注",
        "数据来源",
        "资料来源",
        "填表",
        "note",
        "source:",
    ]
    .iter()
    .any(|p| lower.starts_with(p))
}

/// Read the workbook's data sheets as a table mapped onto `contract`. `defaults` fills fields whose
/// column is absent (e.g. `region_code` = `000000` for a national retail table).
///
/// # Errors
/// [`IngestError::Workbook`] when the bytes are not a readable workbook or hold no data sheet,
/// [`IngestError::MissingColumns`] when no sheet's header names every required field.
pub(crate) fn read(
    file: &str,
    bytes: &[u8],
    contract: &TableContract,
    defaults: &[(&str, &str)],
) -> Result<MappedTable> {
    let grids = open(file, bytes)?;
    let mut chosen: Vec<(&Grid, Header)> = Vec::new();
    let mut best_failure: Option<(Header, Vec<String>)> = None;
    for grid in &grids {
        let Some(header) = best_header(grid, contract) else {
            continue;
        };
        let missing = missing_fields(&header, contract, defaults);
        if missing.is_empty() {
            chosen.push((grid, header));
        } else if best_failure
            .as_ref()
            .is_none_or(|(h, _)| header.score() > h.score())
        {
            best_failure = Some((header, missing));
        }
    }
    if chosen.is_empty() {
        let (found, missing) = best_failure.map_or_else(
            || {
                (
                    Vec::new(),
                    missing_fields(
                        &Header {
                            index: 0,
                            columns: Vec::new(),
                            found: Vec::new(),
                            ignored: Vec::new(),
                        },
                        contract,
                        defaults,
                    ),
                )
            },
            |(h, m)| (h.found, m),
        );
        return Err(crate::guidance::missing_columns(
            file, contract, missing, found,
        ));
    }
    let multi = chosen.len() > 1;
    // Field order: as the first chosen sheet names them, then any others, then the defaults.
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut ignored: Vec<String> = Vec::new();
    for (_, h) in &chosen {
        for (f, spelling) in h.columns.iter().flatten() {
            if !headers.iter().any(|(x, _)| x == f) {
                headers.push((f.clone(), spelling.clone()));
            }
        }
        for i in &h.ignored {
            if !ignored.contains(i) {
                ignored.push(i.clone());
            }
        }
    }
    let defaulted: Vec<(&str, &str)> = defaults
        .iter()
        .filter(|(f, _)| !headers.iter().any(|(h, _)| h == f))
        .copied()
        .collect();
    let mut values: Vec<Vec<String>> = vec![Vec::new(); headers.len()];
    let mut lines: Vec<u32> = Vec::new();
    let mut raws: Vec<String> = Vec::new();
    for (grid, header) in &chosen {
        let fields: Vec<Option<&Field>> = header
            .columns
            .iter()
            .map(|c| c.as_ref().and_then(|(f, _)| contract.field(f)))
            .collect();
        let mut in_header_block = true;
        for (i, row) in grid.rows.iter().enumerate().skip(header.index + 1) {
            if in_header_block {
                // A second header row (English under Chinese) names fields too: not data.
                let again = read_header(row, i, contract);
                if again.score() >= 2 && again.score() * 2 >= header.score() {
                    continue;
                }
                in_header_block = false;
            }
            if is_blank(row) || is_footnote(row) {
                continue;
            }
            for (slot, (field, _)) in values.iter_mut().zip(&headers) {
                let col = header
                    .columns
                    .iter()
                    .position(|c| c.as_ref().is_some_and(|(f, _)| f == field));
                let text = col
                    .and_then(|c| row.get(c).map(|cell| cell_text(cell, fields[c])))
                    .unwrap_or_default();
                slot.push(text);
            }
            let last = row
                .iter()
                .rposition(|c| !matches!(c, Data::Empty))
                .map_or(0, |p| p + 1);
            let joined = row[..last]
                .iter()
                .map(|c| cell_text(c, None).replace(['\n', '\r'], " "))
                .collect::<Vec<_>>()
                .join(",");
            raws.push(if multi {
                format!("[{}] {joined}", grid.name)
            } else {
                joined
            });
            lines.push(grid.excel_row(i));
        }
    }
    let height = lines.len();
    let mut columns: Vec<Column> = headers
        .iter()
        .zip(values)
        .map(|((f, _), v)| Column::new(f.as_str().into(), v))
        .collect();
    for (f, v) in &defaulted {
        columns.push(Column::new((*f).into(), vec![*v; height]));
        headers.push(((*f).to_owned(), format!("{f} (default {v})")));
    }
    columns.push(Column::new(RAW.into(), raws));
    columns.push(Column::new(LINE.into(), lines));
    let frame = DataFrame::new(height, columns).map_err(|e| IngestError::Polars {
        file: file.to_owned(),
        source: e,
    })?;
    Ok(MappedTable {
        frame,
        headers,
        ignored,
    })
}

/// Recognise the feed of a workbook: the feed whose required fields a header row names completely and
/// that names the most fields, over every data sheet and candidate row.
///
/// # Errors
/// [`IngestError::Workbook`] when the bytes are not a readable workbook.
/// The cells of the row that looks most like a header (the most cells naming a field of any feed,
/// else the first non-blank row) of the workbook's first data sheet, for messages.
pub(crate) fn header_cells(file: &str, bytes: &[u8]) -> Vec<String> {
    let Ok(grids) = open(file, bytes) else {
        return Vec::new();
    };
    let mut best: Option<Header> = None;
    for grid in &grids {
        for feed in Feed::ALL {
            if let Some(h) = best_header(grid, feed.contract())
                && h.score() > best.as_ref().map_or(0, Header::score)
            {
                best = Some(h);
            }
        }
    }
    if let Some(h) = best {
        return h.found;
    }
    grids
        .iter()
        .flat_map(|g| g.rows.iter())
        .find(|row| !is_blank(row))
        .map(|row| {
            row.iter()
                .map(|c| cell_text(c, None).trim().replace('\n', " "))
                .filter(|t| !t.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn detect(file: &str, bytes: &[u8]) -> Result<Option<Feed>> {
    let grids = open(file, bytes)?;
    let mut best: Option<(Feed, usize)> = None;
    for feed in Feed::ALL {
        let contract = feed.contract();
        let defaults = feed.column_defaults();
        for grid in &grids {
            let Some(header) = best_header(grid, contract) else {
                continue;
            };
            let score = header.score();
            if missing_fields(&header, contract, defaults).is_empty()
                && best.is_none_or(|(_, s)| score > s)
            {
                best = Some((feed, score));
            }
        }
    }
    Ok(best.map(|(f, _)| f))
}

#[cfg(test)]
mod tests {
    use rust_xlsxwriter::{Format, Formula, Workbook};

    use super::*;
    use crate::Feed;

    fn sales_book(notes_first: bool) -> Vec<u8> {
        let mut book = Workbook::new();
        if notes_first {
            let notes = book.add_worksheet();
            notes.set_name("填写说明").unwrap();
            notes
                .write_string(0, 0, "统一社会信用代码 请填写18位代码")
                .unwrap();
            notes.write_string(1, 0, "销售额 单位见“单位”列").unwrap();
        }
        let sheet = book.add_worksheet();
        sheet.set_name("数据").unwrap();
        let bold = Format::new().set_bold();
        sheet
            .merge_range(0, 0, 0, 8, "2023年重点企业销售数据报表", &bold)
            .unwrap();
        sheet
            .merge_range(1, 0, 1, 8, "填报单位：浙江省商务厅", &Format::new())
            .unwrap();
        // Each column's Chinese header (row 3) and the English one below it (row 4).
        let headers = [
            ("统一社会信用代码\nUnified social credit code", "USCC"),
            ("企业名称", "Company"),
            ("地区", "Region"),
            ("品类", "Category"),
            ("统计期", "Period"),
            ("销售额", "Sales"),
            ("单位", "Unit"),
            ("线上/线下", "Channel"),
            ("品牌", "Brand"),
        ];
        for (c, (zh, _)) in headers.iter().enumerate() {
            sheet.write_string(2, c as u16, *zh).unwrap();
        }
        for (c, (_, en)) in headers.iter().enumerate() {
            sheet.write_string(3, c as u16, *en).unwrap();
        }
        // Data row 5 (Excel numbering): a month stored as a date, a formula with a cached value.
        let texts = |sheet: &mut rust_xlsxwriter::Worksheet, row: u32, cells: &[&str]| {
            for (c, text) in (0..).zip(cells) {
                sheet.write_string(row, c, *text).unwrap();
            }
        };
        let company = ["91330000MAGA0121G9", "杭州瑞优电子商贸有限公司"];
        texts(sheet, 4, &[&company[..], &["浙江", "家电"]].concat());
        let month = Format::new().set_num_format("yyyy-mm");
        sheet
            .write_datetime_with_format(
                4,
                4,
                rust_xlsxwriter::ExcelDateTime::from_ymd(2023, 9, 1).unwrap(),
                &month,
            )
            .unwrap();
        sheet
            .write_formula(4, 5, Formula::new("=100*12.5").set_result("1250"))
            .unwrap();
        sheet.write_string(4, 6, "万元").unwrap();
        // Row 6 blank, row 7 a text-formatted number, row 8 a footnote.
        texts(
            sheet,
            6,
            &[
                &company[..],
                &["330000", "家具", "2023年10月", "1,234.5", "元"],
            ]
            .concat(),
        );
        sheet.write_string(7, 0, "注：销售额为含税金额").unwrap();
        book.save_to_buffer().unwrap()
    }

    #[test]
    fn finds_the_header_below_title_rows_and_skips_notes() {
        for notes_first in [true, false] {
            let bytes = sales_book(notes_first);
            assert!(is_workbook(&bytes));
            assert_eq!(
                detect("a.xlsx", &bytes).unwrap(),
                Some(Feed::EnterpriseSales)
            );
            let t = read("a.xlsx", &bytes, Feed::EnterpriseSales.contract(), &[]).unwrap();
            assert_eq!(t.frame.height(), 2, "{}", t.frame);
            let lines: Vec<u32> = t
                .frame
                .column(LINE)
                .unwrap()
                .u32()
                .unwrap()
                .into_no_null_iter()
                .collect();
            assert_eq!(lines, vec![5, 7]);
            let get = |f: &str| -> Vec<String> {
                t.frame
                    .column(f)
                    .unwrap()
                    .str()
                    .unwrap()
                    .iter()
                    .flatten()
                    .map(str::to_owned)
                    .collect()
            };
            assert_eq!(get("period"), vec!["2023-09", "2023年10月"]);
            assert_eq!(get("sales_amount_yuan"), vec!["1250", "1,234.5"]);
            assert_eq!(get("region_code"), vec!["浙江", "330000"]);
            assert_eq!(t.header_of("uscc"), "统一社会信用代码");
        }
    }

    #[test]
    fn dates_as_serials_and_missing_columns() {
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "开始日期").unwrap();
        sheet.write_string(0, 1, "活动名称").unwrap();
        sheet.write_number(1, 0, 45170.0).unwrap();
        sheet.write_string(1, 1, "x").unwrap();
        let bytes = book.save_to_buffer().unwrap();
        let err = read("b.xlsx", &bytes, Feed::Activities.contract(), &[]).unwrap_err();
        assert!(
            matches!(&err, IngestError::MissingColumns { missing, .. } if missing.iter().any(|m| m.starts_with("activity_id"))),
            "{err}"
        );
        assert_eq!(serial_date(45170.0).as_deref(), Some("2023-09-01"));
        assert_eq!(number_text(120000.0), "120000");
        assert_eq!(number_text(826.83), "826.83");
        assert!(matches!(
            read(
                "c.xlsx",
                b"PK\x03\x04garbage",
                Feed::Activities.contract(),
                &[]
            ),
            Err(IngestError::Workbook { .. })
        ));
    }
}
