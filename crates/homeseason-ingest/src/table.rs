//! Decoded text → a frame of text columns named by the data contract.

use std::io::Cursor;

use homeseason_schema::contract::TableContract;
use polars::prelude::*;

use crate::source::Decoded;
use crate::{IngestError, Result};

/// Name of the column holding each row's 1-based line number in the source file.
pub(crate) const LINE: &str = "__line";
/// Name of the column holding each row's raw text (its fields joined by commas).
pub(crate) const RAW: &str = "__raw";

/// A source table whose headers have been mapped onto a contract.
#[derive(Debug)]
pub(crate) struct MappedTable {
    /// Text columns named by contract field, plus [`LINE`] and [`RAW`].
    pub frame: DataFrame,
    /// Contract field → header as the file spelled it.
    pub headers: Vec<(String, String)>,
    /// Headers that matched no field (kept in the raw text, otherwise ignored).
    pub ignored: Vec<String>,
}

impl MappedTable {
    /// The header the file used for a field (for messages), or the field name.
    #[must_use]
    pub(crate) fn header_of<'a>(&'a self, field: &'a str) -> &'a str {
        self.headers
            .iter()
            .find(|(f, _)| f == field)
            .map_or(field, |(_, h)| h.as_str())
    }
}

/// A header that names one field when that field is free and another when it is taken: `单位` in a
/// provincial form is the enterprise (单位名称), unless the file already names the enterprise, when it is
/// the unit of the amounts (金额单位). Returns the second field for such a header.
pub(crate) fn ambiguous_fallback(header: &str) -> Option<&'static str> {
    (homeseason_schema::contract::normalize_header(header) == "单位").then_some("source_unit")
}

/// Read CSV text with every column as text and map its headers onto `contract`.
///
/// Required, non-derived fields missing from the header refuse the whole file, naming them.
///
/// # Errors
/// [`IngestError::Csv`] when the text is not parseable CSV, [`IngestError::MissingColumns`] as above.
pub(crate) fn read_csv(decoded: &Decoded, contract: &TableContract) -> Result<MappedTable> {
    let frame = csv_text_frame(decoded)?;
    map_headers(frame, contract, &decoded.file, 2)
}

/// A decoded CSV as a frame of text columns, headers as given (ragged lines padded with nulls).
///
/// # Errors
/// [`IngestError::Csv`] when the text is not parseable CSV (naming an unclosed quote's line).
pub(crate) fn csv_text_frame(decoded: &Decoded) -> Result<DataFrame> {
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .with_parse_options(
            CsvParseOptions::default()
                .with_missing_is_null(true)
                .with_truncate_ragged_lines(true),
        )
        .into_reader_with_file_handle(Cursor::new(decoded.text.as_bytes()))
        .finish()
        .map_err(|e| IngestError::Csv {
            file: decoded.file.clone(),
            reason: crate::stream::unclosed_quote_reason(decoded.text.as_bytes())
                .unwrap_or_else(|| e.to_string()),
        })
}

/// Map a frame of text columns (headers as given) onto `contract`. `first_line` is the source line of
/// the first data row (2 for a CSV with one header line).
///
/// # Errors
/// [`IngestError::MissingColumns`] when required fields have no column.
pub(crate) fn map_headers(
    frame: DataFrame,
    contract: &TableContract,
    file: &str,
    first_line: u32,
) -> Result<MappedTable> {
    let polars_err = |e: PolarsError| IngestError::Polars {
        file: file.to_owned(),
        source: e,
    };
    let mut headers = Vec::new();
    let mut ignored = Vec::new();
    let mut renames = Vec::new();
    let names: Vec<&str> = frame
        .get_column_names()
        .iter()
        .map(|n| n.as_str())
        .collect();
    // Headers that may name two fields (`单位`) are placed after every other header.
    let order = names
        .iter()
        .filter(|n| ambiguous_fallback(n).is_none())
        .chain(names.iter().filter(|n| ambiguous_fallback(n).is_some()));
    for &name in order {
        let taken = |field: &str| headers.iter().any(|(f, _): &(String, String)| f == field);
        let field = contract
            .resolve_header(name)
            .map(|f| f.name.as_str())
            .filter(|f| !taken(f))
            .or_else(|| {
                ambiguous_fallback(name).filter(|f| contract.field(f).is_some() && !taken(f))
            });
        match field {
            Some(field) => {
                headers.push((field.to_owned(), name.to_owned()));
                renames.push((name.to_owned(), field.to_owned()));
            }
            None => ignored.push(name.to_owned()),
        }
    }
    let missing: Vec<String> = contract
        .required_fields()
        .filter(|f| !f.derived && !headers.iter().any(|(h, _)| h == &f.name))
        .map(|f| format!("{} ({})", f.name, f.title_zh))
        .collect();
    if !missing.is_empty() {
        return Err(crate::guidance::missing_columns(
            file,
            contract,
            missing,
            frame
                .get_column_names()
                .iter()
                .map(std::string::ToString::to_string)
                .collect(),
        ));
    }
    let originals: Vec<Expr> = frame
        .get_column_names()
        .iter()
        .map(|n| col(n.as_str()).cast(DataType::String).fill_null(lit("")))
        .collect();
    let mut select: Vec<Expr> = renames
        .iter()
        .map(|(from, to)| col(from.as_str()).alias(to.as_str()))
        .collect();
    select.push(concat_str(originals, ",", false).alias(RAW));
    select.push(col(LINE));
    let frame = frame
        .lazy()
        .with_row_index(LINE, Some(first_line))
        .select(select)
        .collect()
        .map_err(polars_err)?;
    Ok(MappedTable {
        frame,
        headers,
        ignored,
    })
}
