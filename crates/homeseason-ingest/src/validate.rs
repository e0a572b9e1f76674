//! Contract-driven, vectorised validation: text columns in, typed columns and rejects out.
//!
//! Every field present in the file is trimmed (empty → missing), parsed to its contract type without
//! failing the batch, and checked for `required`, `enum`, `pattern` and `minimum`. A row's first
//! failing field decides its reason; good rows beside a bad one are untouched.

use homeseason_schema::contract::{Field, FieldType, TableContract};
use polars::prelude::*;

use crate::reject::{Reason, RejectSink};
use crate::table::{LINE, MappedTable, RAW};
use crate::{IngestError, Result};

const ERROR: &str = "__error";

/// The outcome of validating one mapped table.
#[derive(Debug)]
pub(crate) struct Validated {
    /// Accepted rows: every present field typed as its contract says, plus [`LINE`] and [`RAW`].
    pub accepted: DataFrame,
}

fn trimmed(name: &str) -> Expr {
    let t = col(name).str().strip_chars(lit(NULL));
    when(t.clone().eq(lit("")))
        .then(lit(NULL).cast(DataType::String))
        .otherwise(t)
}

/// A number's text with its thousands separators removed, or null when they are not where they belong
/// (`1,234,567.89`; not `12,50`, `1,2,3` or `407,42`) — the rule of `parse::thousands_ok`.
fn without_separators(t: Expr) -> Expr {
    let grouped = t
        .clone()
        .str()
        .contains(lit(r"^[+-]?[0-9]{1,3}(,[0-9]{3})+([.][0-9]*)?$"), true);
    when(
        t.clone()
            .str()
            .contains_literal(lit(","))
            .and(grouped.not()),
    )
    .then(lit(NULL).cast(DataType::String))
    .otherwise(t.str().replace_all(lit(","), lit(""), true))
}

fn parsed(field: &Field) -> Expr {
    let t = trimmed(&field.name);
    match field.r#type {
        FieldType::String => t,
        FieldType::Number => without_separators(t).cast(DataType::Float64),
        FieldType::Integer => without_separators(t).cast(DataType::Int64),
        FieldType::Boolean => {
            let l = t.str().to_lowercase();
            when(
                l.clone()
                    .eq(lit("true"))
                    .or(l.clone().eq(lit("1")))
                    .or(l.clone().eq(lit("是"))),
            )
            .then(lit(true))
            .when(
                l.clone()
                    .eq(lit("false"))
                    .or(l.clone().eq(lit("0")))
                    .or(l.eq(lit("否"))),
            )
            .then(lit(false))
            .otherwise(lit(NULL).cast(DataType::Boolean))
        }
        FieldType::Date => t.str().to_date(StrptimeOptions {
            format: Some(
                field
                    .format
                    .clone()
                    .unwrap_or_else(|| "%Y-%m-%d".into())
                    .into(),
            ),
            strict: false,
            exact: true,
            cache: true,
        }),
        FieldType::Datetime => t.str().to_datetime(
            Some(TimeUnit::Milliseconds),
            None,
            StrptimeOptions {
                format: Some(
                    field
                        .format
                        .clone()
                        .unwrap_or_else(|| "%Y-%m-%d %H:%M:%S".into())
                        .into(),
                ),
                strict: false,
                exact: true,
                cache: true,
            },
            lit("raise"),
        ),
    }
}

/// The first failing check of a field as `"field|reason"`, or null.
fn typed_name(field: &Field) -> String {
    format!("__typed_{}", field.name)
}

fn error_of(field: &Field) -> Expr {
    let name = field.name.as_str();
    let raw = trimmed(name);
    let value = col(typed_name(field).as_str());
    let tag = |reason: Reason| lit(format!("{name}|{}", reason.code()));
    let parse_reason = match field.r#type {
        FieldType::Number | FieldType::Integer => Reason::BadNumber,
        FieldType::Date | FieldType::Datetime => Reason::BadDate,
        FieldType::Boolean => Reason::BadBoolean,
        FieldType::String => Reason::BadPattern,
    };
    let mut chain = when(raw.clone().is_null().and(lit(field.constraints.required)))
        .then(tag(Reason::MissingValue))
        .when(raw.is_not_null().and(value.clone().is_null()))
        .then(tag(parse_reason));
    if let Some(values) = &field.constraints.r#enum {
        let allowed = values
            .iter()
            .map(|v| value.clone().eq(lit(v.as_str())))
            .reduce(Expr::or)
            .unwrap_or_else(|| lit(false));
        chain = chain
            .when(value.clone().is_not_null().and(allowed.not()))
            .then(tag(Reason::BadEnum));
    }
    if let Some(pattern) = &field.constraints.pattern {
        chain = chain
            .when(
                value.clone().is_not_null().and(
                    value
                        .clone()
                        .str()
                        .contains(lit(pattern.as_str()), true)
                        .not(),
                ),
            )
            .then(tag(Reason::BadPattern));
    }
    let numeric = matches!(field.r#type, FieldType::Number | FieldType::Integer);
    let bounds = [
        (field.constraints.minimum, Reason::BelowMinimum),
        (field.constraints.maximum, Reason::AboveMaximum),
    ];
    for (bound, reason) in bounds {
        let Some(bound) = bound.filter(|_| numeric) else {
            continue;
        };
        let number = value.clone().cast(DataType::Float64);
        let outside = if reason == Reason::BelowMinimum {
            number.lt(lit(bound))
        } else {
            number.gt(lit(bound))
        };
        chain = chain
            .when(value.clone().is_not_null().and(outside))
            .then(tag(reason));
    }
    chain.otherwise(lit(NULL).cast(DataType::String))
}

/// Validate `table` against `contract`. Rejected rows go to `sink`; accepted rows come back typed.
///
/// # Errors
/// Only on an internal polars failure (bad data never errors: it is rejected).
pub(crate) fn validate(
    table: &MappedTable,
    contract: &TableContract,
    sink: &mut RejectSink,
) -> Result<Validated> {
    let file = sink.file().to_owned();
    let polars_err = |e: PolarsError| IngestError::Polars {
        file: file.clone(),
        source: e,
    };
    let present: Vec<&Field> = contract
        .fields
        .iter()
        .filter(|f| table.frame.column(&f.name).is_ok())
        .collect();

    let typed = table
        .frame
        .clone()
        .lazy()
        .with_columns(
            present
                .iter()
                .map(|f| parsed(f).alias(typed_name(f).as_str()))
                .collect::<Vec<_>>(),
        )
        .with_column(
            coalesce(&present.iter().map(|f| error_of(f)).collect::<Vec<_>>()).alias(ERROR),
        )
        .collect()
        .map_err(polars_err)?;
    let bad = typed
        .clone()
        .lazy()
        .filter(col(ERROR).is_not_null())
        .select([col(LINE), col(ERROR), col(RAW)])
        .collect()
        .map_err(polars_err)?;
    if bad.height() > 0 {
        let raw_text = table
            .frame
            .clone()
            .lazy()
            .join(
                bad.clone().lazy().select([col(LINE)]),
                [col(LINE)],
                [col(LINE)],
                JoinArgs::new(JoinType::Semi),
            )
            .collect()
            .map_err(polars_err)?;
        let index: std::collections::HashMap<u32, usize> = raw_text
            .column(LINE)
            .map_err(polars_err)?
            .u32()
            .map_err(polars_err)?
            .iter()
            .enumerate()
            .filter_map(|(i, l)| Some((l?, i)))
            .collect();
        let lines = bad
            .column(LINE)
            .map_err(polars_err)?
            .u32()
            .map_err(polars_err)?
            .clone();
        let errors = bad
            .column(ERROR)
            .map_err(polars_err)?
            .str()
            .map_err(polars_err)?
            .clone();
        let raws = bad
            .column(RAW)
            .map_err(polars_err)?
            .str()
            .map_err(polars_err)?
            .clone();
        for ((line, error), raw) in lines.iter().zip(errors.iter()).zip(raws.iter()) {
            let line = line.unwrap_or_default();
            let (field, code) = error
                .unwrap_or_default()
                .split_once('|')
                .unwrap_or_default();
            let value = raw_text
                .column(field)
                .ok()
                .and_then(|c| c.str().ok()?.get(*index.get(&line)?).map(str::to_owned))
                .unwrap_or_default();
            sink.push(
                line.into(),
                Some(table.header_of(field).to_owned()),
                Reason::from_code(code),
                &value,
                contract.field(field),
                raw.unwrap_or_default(),
            );
        }
    }
    let mut keep: Vec<Expr> = present
        .iter()
        .map(|f| col(typed_name(f).as_str()).alias(f.name.as_str()))
        .collect();
    keep.push(col(LINE));
    keep.push(col(RAW));
    let accepted = typed
        .lazy()
        .filter(col(ERROR).is_null())
        .select(keep)
        .collect()
        .map_err(polars_err)?;
    Ok(Validated { accepted })
}
