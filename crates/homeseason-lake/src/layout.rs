//! Which columns partition which table.

use homeseason_schema::contract::tables;

/// One level of a table's partitioning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionKey {
    /// The value of a column, which lives in the path only (text, or a date as `%Y-%m-%d`).
    Column(&'static str),
    /// The value of a column names the partition's file (`330000.parquet`) instead of a folder; the
    /// column stays in the file, as text. A reader with `hive_partitioning` never sees it as a folder
    /// key, so no engine infers its type from the names it finds (`region_code=000000` made DuckDB
    /// read `BIGINT`), and it is never in the path and the file at once (which pyarrow refuses).
    File(&'static str),
    /// The year of a date column (`year=2023`).
    Year(&'static str),
    /// The month number of a date column (`month=9`).
    Month(&'static str),
}

impl PartitionKey {
    /// The directory key (for a [`PartitionKey::File`] key, its column).
    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            PartitionKey::Column(c) | PartitionKey::File(c) => c,
            PartitionKey::Year(_) => "year",
            PartitionKey::Month(_) => "month",
        }
    }

    /// Whether this key is a folder (`key=value/`), as opposed to the file's name.
    #[must_use]
    pub fn is_folder(self) -> bool {
        !matches!(self, PartitionKey::File(_))
    }
}

/// Partition keys of a table, outermost first (a [`PartitionKey::File`] key last); empty for
/// unpartitioned tables.
#[must_use]
pub fn partition_keys(table: &str) -> &'static [PartitionKey] {
    match table {
        // `payment_area_daily` is written with `payment_daily`, in the same partitions.
        t if t == tables::PAYMENT_DAILY || t == tables::PAYMENT_AREA_DAILY => &[
            PartitionKey::Column("institution"),
            PartitionKey::Year("date"),
            PartitionKey::Month("date"),
        ],
        // One partition per (region, period): a file covering 12 months writes 12 partitions; a
        // later file for one month merges into only that one. The region names the file
        // (`period=2023-09/330000.parquet`) and stays in it as text: a `region_code=` folder made
        // engines infer an integer from numeric folder names (issue 15).
        t if t == tables::ENTERPRISE_SALES
            || t == tables::RETAIL_STATS
            || t == tables::SUBSIDIES =>
        {
            &[
                PartitionKey::Column("period"),
                PartitionKey::File("region_code"),
            ]
        }
        // Activities: the month an activity starts is its reporting period.
        t if t == tables::ACTIVITIES => &[
            PartitionKey::Year("start_date"),
            PartitionKey::Month("start_date"),
            PartitionKey::File("region_code"),
        ],
        t if t == tables::REJECTS => &[
            PartitionKey::Column("feed"),
            PartitionKey::Column("file_sha256"),
        ],
        t if t == tables::WEEKLY_TRACKING => &[PartitionKey::Column("as_of_week")],
        _ => &[],
    }
}

/// Whether a value may name a partition folder (`key=value`): 1–64 characters of ASCII letters,
/// digits, `_`, `-`, `.` and `~` (a date-range period `2023-09-01~2023-09-15`), not starting with a
/// dot or a tilde (so never `.`, `..`, a hidden name or a home folder), no separator of any kind.
/// Anything else would let a value from a file become a path.
#[must_use]
pub fn is_safe_partition_value(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 64
        && !value.starts_with(['.', '~'])
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'~'))
}

pub use homeseason_schema::text::is_institution_code;

/// Whether a path relative to the lake root stays under it: non-empty, `/`-separated, every segment
/// a plain name (no `.`/`..`, no empty segment, no NUL, no backslash, no drive or root), and every
/// `key=value` segment's value a [safe partition value](is_safe_partition_value).
#[must_use]
pub fn is_safe_relative_path(rel: &str) -> bool {
    !rel.is_empty()
        && rel.len() <= 1024
        && !rel.starts_with('/')
        && rel.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && !seg.contains(['\\', '\0', ':'])
                && seg.split_once('=').is_none_or(|(k, v)| {
                    !k.is_empty()
                        && k.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                        && is_safe_partition_value(v)
                })
        })
}

#[cfg(test)]
mod tests {
    use super::{is_institution_code, is_safe_partition_value, is_safe_relative_path};

    /// Every traversal form: none is a safe partition value, institution code or lake path.
    #[test]
    fn traversal_forms_are_refused_everywhere() {
        let long = "a".repeat(65);
        for bad in [
            "..",
            "../x",
            "x/../../activities/region_code=110000",
            "a/b",
            "a\\b",
            "..\\..\\x",
            "/etc/passwd",
            "C:\\x",
            "a\0b",
            "%2e%2e%2f",
            "a\u{FF0F}b",
            "\u{FF0E}\u{FF0E}\u{FF0F}x",
            long.as_str(),
        ] {
            assert!(!is_safe_partition_value(bad), "{bad:?}");
            assert!(!is_institution_code(bad), "{bad:?}");
            // `a/b` only adds a folder level under the root; every other form would leave it or
            // name a folder no partition has.
            if bad != "a/b" {
                assert!(
                    !is_safe_relative_path(&format!(
                        "payment_daily/institution={bad}/data.parquet"
                    )),
                    "{bad:?}"
                );
            }
        }
        for ok in ["acq_a", "wallet_b", "bank_c", "x1"] {
            assert!(is_institution_code(ok), "{ok}");
        }
        assert!(!is_institution_code("Acq"));
        assert!(!is_institution_code("wallet-b"));
        assert!(!is_institution_code(&"a".repeat(33)));
        assert!(is_safe_relative_path(
            "payment_daily/institution=acq_a/year=2023/month=9/data.parquet"
        ));
        assert!(is_safe_relative_path(
            "enterprise_sales/period=2023-09-01~2023-09-15/330000.parquet"
        ));
        for bad in [
            "", "/abs", "a//b", "a/./b", "a/../b", "../x", "a/k=../b", "a/k=/b",
        ] {
            assert!(!is_safe_relative_path(bad), "{bad:?}");
        }
    }

    #[test]
    fn partition_values_cannot_become_paths() {
        for ok in [
            "acq_a",
            "330000",
            "2023-09",
            "2023",
            "9",
            "wallet-b",
            "a.b",
            "2023-09-01~2023-09-15",
        ] {
            assert!(is_safe_partition_value(ok), "{ok}");
        }
        let long = "x".repeat(65);
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "x/../../activities",
            "a/b",
            "a\\b",
            "/abs",
            "C:\\x",
            "x\0y",
            "%2e%2e%2f",
            "a\u{FF0F}b",
            "a b",
            ".hidden",
            long.as_str(),
            "a=b",
            "a\nb",
        ] {
            assert!(!is_safe_partition_value(bad), "{bad:?}");
        }
    }
}
