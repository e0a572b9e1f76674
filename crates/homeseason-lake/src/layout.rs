//! Which columns partition which table.

use homeseason_schema::contract::tables;

/// One level of a table's Hive partitioning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionKey {
    /// The value of a text column, which lives in the path only.
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
        t if t == tables::ENTERPRISE_SALES
            || t == tables::RETAIL_STATS
            || t == tables::ACTIVITIES =>
        {
            &[PartitionKey::Column("region_code")]
        }
        t if t == tables::REJECTS => &[
            PartitionKey::Column("feed"),
            PartitionKey::Column("file_sha256"),
        ],
        _ => &[],
    }
}
