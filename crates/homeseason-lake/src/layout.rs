//! Which columns partition which table.

use homeseason_schema::contract::tables;

/// One level of a table's Hive partitioning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionKey {
    /// The value of a column, which lives in the path only (text, or a date as `%Y-%m-%d`).
    Column(&'static str),
    /// The year of a date column (`year=2023`).
    Year(&'static str),
    /// The month number of a date column (`month=9`).
    Month(&'static str),
}

impl PartitionKey {
    /// The directory key.
    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            PartitionKey::Column(c) => c,
            PartitionKey::Year(_) => "year",
            PartitionKey::Month(_) => "month",
        }
    }
}

/// Partition keys of a table, outermost first; empty for unpartitioned tables.
#[must_use]
pub fn partition_keys(table: &str) -> &'static [PartitionKey] {
    match table {
        t if t == tables::PAYMENT_DAILY => &[
            PartitionKey::Column("institution"),
            PartitionKey::Year("date"),
            PartitionKey::Month("date"),
        ],
        // A revision for the same (feed, region, period) supersedes exactly that period: a file
        // covering 12 months writes 12 partitions; a later file for one month replaces only that one.
        t if t == tables::ENTERPRISE_SALES || t == tables::RETAIL_STATS => &[
            PartitionKey::Column("region_code"),
            PartitionKey::Column("period"),
        ],
        // Activities: the month an activity starts is its reporting period.
        t if t == tables::ACTIVITIES => &[
            PartitionKey::Column("region_code"),
            PartitionKey::Year("start_date"),
            PartitionKey::Month("start_date"),
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
/// digits, `_`, `-` and `.`, not starting with a dot (so never `.`, `..` or a hidden name), no
/// separator of any kind. Anything else would let a value from a file become a path.
#[must_use]
pub fn is_safe_partition_value(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 64
        && !value.starts_with('.')
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::is_safe_partition_value;

    #[test]
    fn partition_values_cannot_become_paths() {
        for ok in ["acq_a", "330000", "2023-09", "2023", "9", "wallet-b", "a.b"] {
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
