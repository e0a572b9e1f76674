//! The bundled real NBS 社零 figures (national, 2022–2024) as a `retail_stats` table.
//!
//! The CSV is `crates/homeseason-schema/data/nbs_retail_by_category.csv`, copied unchanged from the
//! project's reference data with its provenance in `SOURCES.md` beside it ([`SOURCES_MD`]): appliances
//! (家用电器和音像器材类), furniture (家具类), building materials (建筑及装潢材料类), the total
//! (社会消费品零售总额) and part of the above-quota total (限额以上单位消费品零售额), in 亿元, with month and
//! cumulative values and their year-on-year growth **as published**.
//!
//! It goes through the same path as any retail file a statistics bureau sends ([`crate::ingest_bytes`]
//! with [`Feed::RetailStats`]): it has no region column, so every row is national (`000000`); `source`
//! is the row's `source_url` (several joined by ` ; `); `yoy_pct` and `cum_yoy_pct` are the published
//! numbers, never recomputed. NBS computes them on a comparable-unit basis (同口径), so the ratio of the
//! published levels across years misses them by several points for these categories: never difference
//! levels across years (see `SOURCES.md`, "published YoY vs YoY computed from levels").

use homeseason_schema::campaign::Campaign;

use crate::{Feed, FileOutcome, Result, ingest_bytes};

/// File name the bundled dataset is ingested (and recorded in the manifest) under.
pub const FILE: &str = "nbs_retail_by_category.csv";

/// The bundled CSV, as copied from the reference data.
pub(crate) const CSV: &str =
    include_str!("../../homeseason-schema/data/nbs_retail_by_category.csv");

/// Sources and caveats of the bundled dataset (verbatim `SOURCES.md`).
pub const SOURCES_MD: &str = include_str!("../../homeseason-schema/data/SOURCES.md");

/// The bundled NBS dataset validated into the `retail_stats` table (national, region `000000`).
///
/// # Errors
/// Only if the bundled file were unreadable, which the tests rule out.
pub fn bundled() -> Result<FileOutcome> {
    ingest_bytes(
        Feed::RetailStats,
        FILE,
        CSV.as_bytes(),
        &Campaign::default_2023(),
    )
}

#[cfg(test)]
mod tests {
    use polars::prelude::*;

    use super::*;

    /// The published percentages of the CSV, keyed by (period, category_zh).
    fn published(column: usize) -> Vec<((String, String), Option<f64>)> {
        CSV.lines()
            .skip(1)
            .map(|line| {
                let cells: Vec<&str> = line.split(',').collect();
                (
                    (cells[0].to_owned(), cells[2].to_owned()),
                    cells[column].parse::<f64>().ok(),
                )
            })
            .collect()
    }

    #[test]
    fn bundled_dataset_loads_with_published_yoy_unchanged() {
        let out = bundled().unwrap();
        let rows = CSV.lines().count() - 1;
        assert_eq!(out.report.read, rows);
        assert_eq!(out.report.accepted, rows, "{:?}", out.rejects);
        assert_eq!(out.rejects.len(), 0);
        let f = &out.rows;
        let regions = f.column("region_code").unwrap().str().unwrap();
        assert!(regions.iter().all(|r| r == Some("000000")));
        let sources = f.column("source").unwrap().str().unwrap();
        assert!(
            sources
                .iter()
                .all(|s| s.is_some_and(|s| s.starts_with("http")))
        );
        // Every published YoY comes through bit for bit, in file order.
        for (name, column) in [("yoy_pct", 5), ("cum_yoy_pct", 7)] {
            let got: Vec<Option<f64>> = f.column(name).unwrap().f64().unwrap().iter().collect();
            let want: Vec<Option<f64>> = published(column).into_iter().map(|(_, v)| v).collect();
            assert_eq!(got, want, "{name}");
        }
        // Oct 2023 furniture: +1.7% published, although 137 vs 144 (Oct 2022) would give −4.9%.
        let oct = f
            .clone()
            .lazy()
            .filter(
                col("period")
                    .eq(lit("2023-10"))
                    .and(col("category").eq(lit("furniture"))),
            )
            .collect()
            .unwrap();
        assert_eq!(oct.height(), 1);
        assert_eq!(
            oct.column("yoy_pct").unwrap().f64().unwrap().get(0),
            Some(1.7)
        );
        assert_eq!(
            oct.column("value_100m_yuan").unwrap().f64().unwrap().get(0),
            Some(137.0)
        );
        // Jan–Feb is one combined release.
        let jf = f
            .clone()
            .lazy()
            .filter(col("period").eq(lit("2023-02")))
            .collect()
            .unwrap();
        let months = jf.column("months_covered").unwrap().str().unwrap();
        assert!(months.iter().all(|m| m == Some("1-2")));
        let cats = homeseason_test_support::str_values(f, "category");
        for c in [
            "home_appliances",
            "furniture",
            "building_materials",
            "total_retail",
            "above_quota_total",
        ] {
            assert!(cats.contains(&c), "{c}");
        }
    }
}
