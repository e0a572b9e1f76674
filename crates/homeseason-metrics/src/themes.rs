//! Themes and subcategories (issue 18): which campaign themes (绿色, 智能, 适老化) drew activities,
//! enterprises and brands, and what key enterprises sold per building-materials subcategory (陶瓷,
//! 卫浴, 门窗, 地板, 照明, 管材) — the `theme_summary` table.
//!
//! ## Rules
//! - **Activities** (the register's `focus_tags`): duplicates across re-submissions are removed as in
//!   [`crate::activity`] (same region and `activity_id`, or same region, trimmed name and start
//!   date; the latest kept). An activity with several tags counts once under each.
//!   `activities` counts them, `activity_enterprises` and `activity_brands` sum their reported
//!   `enterprise_count` and `brand_count` (an enterprise in two activities counts twice, as the
//!   registers report).
//! - **Key enterprises** (`enterprise_sales.theme_tags`, `subcategory`; optional columns, so only
//!   enterprises that report them count): rows whose period lies inside the campaign window.
//!   `enterprises` is the number of distinct USCCs, `brands` of distinct non-empty brand names,
//!   `sales_yuan` the sum of sales — where an enterprise reports a period both as a total (`channel`
//!   all) and split by channel, the total is used and the split left out, so nothing counts twice.
//! - The national rows (`000000`) count distinct enterprises and brands over all regions (an
//!   enterprise reporting in two regions is one enterprise nationally) and sum the rest; they are
//!   written for every theme and subcategory (zero when none), the regional rows where a region has
//!   any.

use std::collections::{BTreeMap, BTreeSet};

use homeseason_schema::campaign::Campaign;
use homeseason_schema::region::NATIONAL;
use homeseason_schema::theme::{Subcategory, Theme};
use polars::prelude::*;

use crate::Result;
use crate::activity::{one_row_per_activity, trimmed_name};

/// One output row's accumulators.
#[derive(Default)]
struct Acc {
    activities: i64,
    activity_enterprises: i64,
    activity_brands: i64,
    enterprises: BTreeSet<String>,
    brands: BTreeSet<String>,
    sales: f64,
}

/// `(region, dimension order, tag order)`: dimension 0 = theme, 1 = subcategory.
type Key = (String, u8, usize);

/// The `theme_summary` table from the lake's `activities` and `enterprise_sales` (either may be
/// empty or lack the optional columns). See the module docs for the rules.
///
/// # Errors
/// When a present table lacks a column it must have (`region_code`, the keys and dates).
pub fn theme_summary(
    activities: &DataFrame,
    enterprise_sales: &DataFrame,
    campaign: &Campaign,
) -> Result<DataFrame> {
    let mut acc: BTreeMap<Key, Acc> = BTreeMap::new();
    for (t, _) in Theme::ALL.iter().enumerate() {
        acc.entry((NATIONAL.to_owned(), 0, t)).or_default();
    }
    for (s, _) in Subcategory::ALL.iter().enumerate() {
        acc.entry((NATIONAL.to_owned(), 1, s)).or_default();
    }
    if activities.height() > 0 && activities.column("focus_tags").is_ok() {
        add_activities(&mut acc, activities)?;
    }
    if enterprise_sales.height() > 0 {
        add_enterprises(&mut acc, enterprise_sales, campaign)?;
    }
    let mut out = Rows::default();
    for ((region, dim, i), a) in acc {
        let (tag, zh) = if dim == 0 {
            (Theme::ALL[i].id(), Theme::ALL[i].name_zh())
        } else {
            (Subcategory::ALL[i].id(), Subcategory::ALL[i].name_zh())
        };
        out.region.push(region);
        out.dimension
            .push(if dim == 0 { "theme" } else { "subcategory" });
        out.tag.push(tag);
        out.tag_zh.push(zh);
        let themed = dim == 0;
        out.activities.push(themed.then_some(a.activities));
        out.activity_enterprises
            .push(themed.then_some(a.activity_enterprises));
        out.activity_brands
            .push(themed.then_some(a.activity_brands));
        out.enterprises.push(a.enterprises.len() as i64);
        out.brands.push(a.brands.len() as i64);
        out.sales.push(a.sales);
    }
    Ok(df!(
        "region_code" => out.region,
        "dimension" => out.dimension,
        "tag" => out.tag,
        "tag_zh" => out.tag_zh,
        "activities" => out.activities,
        "activity_enterprises" => out.activity_enterprises,
        "activity_brands" => out.activity_brands,
        "enterprises" => out.enterprises,
        "brands" => out.brands,
        "sales_yuan" => out.sales,
    )?)
}

#[derive(Default)]
struct Rows {
    region: Vec<String>,
    dimension: Vec<&'static str>,
    tag: Vec<&'static str>,
    tag_zh: Vec<&'static str>,
    activities: Vec<Option<i64>>,
    activity_enterprises: Vec<Option<i64>>,
    activity_brands: Vec<Option<i64>>,
    enterprises: Vec<i64>,
    brands: Vec<i64>,
    sales: Vec<f64>,
}

fn texts(frame: &DataFrame, name: &str) -> Result<Vec<Option<String>>> {
    Ok(match frame.column(name) {
        Ok(c) => c
            .cast(&DataType::String)?
            .str()?
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect(),
        Err(_) => vec![None; frame.height()],
    })
}

fn ints(frame: &DataFrame, name: &str) -> Result<Vec<i64>> {
    Ok(match frame.column(name) {
        Ok(c) => c
            .cast(&DataType::Int64)?
            .i64()?
            .iter()
            .map(|v| v.unwrap_or(0))
            .collect(),
        Err(_) => vec![0; frame.height()],
    })
}

/// Theme indices of a stored tag list (`green;smart`); unknown items are skipped (the lake holds
/// only ids).
fn theme_indices(tags: Option<&str>) -> Vec<usize> {
    let mut out: Vec<usize> = tags
        .unwrap_or_default()
        .split(';')
        .filter_map(Theme::parse)
        .filter_map(|t| Theme::ALL.iter().position(|x| *x == t))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn add_activities(acc: &mut BTreeMap<Key, Acc>, activities: &DataFrame) -> Result<()> {
    let deduped =
        one_row_per_activity(activities.clone().lazy().with_column(trimmed_name())).collect()?;
    let (regions, tags) = (
        texts(&deduped, "region_code")?,
        texts(&deduped, "focus_tags")?,
    );
    let (ents, brands) = (
        ints(&deduped, "enterprise_count")?,
        ints(&deduped, "brand_count")?,
    );
    for i in 0..deduped.height() {
        let Some(region) = &regions[i] else { continue };
        for t in theme_indices(tags[i].as_deref()) {
            for r in [region.as_str(), NATIONAL] {
                let a = acc.entry((r.to_owned(), 0, t)).or_default();
                a.activities += 1;
                a.activity_enterprises += ents[i];
                a.activity_brands += brands[i];
            }
        }
    }
    Ok(())
}

fn add_enterprises(
    acc: &mut BTreeMap<Key, Acc>,
    sales: &DataFrame,
    campaign: &Campaign,
) -> Result<()> {
    let has = |c: &str| sales.column(c).is_ok();
    if !has("theme_tags") && !has("subcategory") {
        return Ok(());
    }
    let text_or_null = |c: &str| {
        if has(c) {
            col(c).cast(DataType::String)
        } else {
            lit(NULL).cast(DataType::String).alias(c)
        }
    };
    let keys = [
        col("uscc"),
        col("region_code"),
        col("category"),
        col("period"),
        text_or_null("brand"),
        text_or_null("subcategory"),
    ];
    let in_window = sales
        .clone()
        .lazy()
        .with_columns([
            text_or_null("brand"),
            text_or_null("subcategory"),
            text_or_null("theme_tags"),
            text_or_null("channel"),
        ])
        .filter(
            col("period_start")
                .gt_eq(lit(campaign.window.start))
                .and(col("period_end").lt_eq(lit(campaign.window.end))),
        )
        // A period reported as a total and split by channel: keep the total.
        .with_column(
            col("channel")
                .eq(lit("all"))
                .any(true)
                .over(keys)?
                .alias("__has_total"),
        )
        .filter(
            col("channel")
                .eq(lit("all"))
                .or(col("__has_total").not())
                .or(col("channel").is_null()),
        )
        .collect()?;
    let (regions, uscc, brand, sub, tags) = (
        texts(&in_window, "region_code")?,
        texts(&in_window, "uscc")?,
        texts(&in_window, "brand")?,
        texts(&in_window, "subcategory")?,
        texts(&in_window, "theme_tags")?,
    );
    let amount: Vec<f64> = in_window
        .column("sales_amount_yuan")?
        .cast(&DataType::Float64)?
        .f64()?
        .iter()
        .map(|v| v.unwrap_or(0.0))
        .collect();
    for i in 0..in_window.height() {
        let (Some(region), Some(code)) = (&regions[i], &uscc[i]) else {
            continue;
        };
        let mut keys: Vec<(u8, usize)> = theme_indices(tags[i].as_deref())
            .into_iter()
            .map(|t| (0, t))
            .collect();
        if let Some(s) = sub[i]
            .as_deref()
            .and_then(Subcategory::parse)
            .and_then(|s| Subcategory::ALL.iter().position(|x| *x == s))
        {
            keys.push((1, s));
        }
        for (dim, t) in keys {
            for r in [region.as_str(), NATIONAL] {
                let a = acc.entry((r.to_owned(), dim, t)).or_default();
                a.enterprises.insert(code.clone());
                if let Some(b) = brand[i].as_deref().map(str::trim).filter(|b| !b.is_empty()) {
                    a.brands.insert(b.to_owned());
                }
                a.sales += amount[i];
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_frames::{d, f, n, s};

    fn row_of(out: &DataFrame, region: &str, tag: &str) -> usize {
        (0..out.height())
            .find(|&i| s(out, "region_code", i) == region && s(out, "tag", i) == tag)
            .unwrap_or_else(|| panic!("no row {region} {tag}: {out}"))
    }

    #[test]
    fn counts_activities_enterprises_brands_and_subcategory_sales() {
        let campaign = Campaign::default_2023();
        let activities = df!(
            "activity_id" => ["a1", "a2", "a2", "b1"],
            "region_code" => ["330000", "330000", "330000", "110000"],
            "name" => ["绿色家电节", "智能家居展", "智能家居展", "适老焕新"],
            "start_date" => [d(2023, 9, 2), d(2023, 10, 1), d(2023, 10, 1), d(2023, 11, 3)],
            "end_date" => [d(2023, 9, 3), d(2023, 10, 7), d(2023, 10, 7), d(2023, 11, 5)],
            "enterprise_count" => [10i64, 20, 20, 5],
            "brand_count" => [12i64, 30, 30, 6],
            "focus_tags" => ["green;smart", "smart", "smart", "age_friendly"],
        )
        .unwrap();
        let sales = df!(
            "uscc" => ["U1", "U1", "U1", "U2", "U2", "U3"],
            "region_code" => ["330000", "330000", "330000", "330000", "110000", "110000"],
            "category" => ["building_materials"; 6],
            "period" => ["2023-09", "2023-09", "2023-09", "2023-10", "2023-10", "2023-08"],
            "sales_amount_yuan" => [100.0, 60.0, 40.0, 7.0, 5.0, 1000.0],
            "channel" => ["all", "online", "offline", "all", "all", "all"],
            "brand" => [Some("甲"), Some("甲"), Some("甲"), Some("乙"), Some("乙"), None],
            "subcategory" => [Some("ceramics"), Some("ceramics"), Some("ceramics"), Some("lighting"),
                Some("ceramics"), Some("ceramics")],
            "theme_tags" => [Some("green"), Some("green"), Some("green"), None, Some("green;smart"),
                Some("green")],
            "period_start" => [d(2023, 9, 1), d(2023, 9, 1), d(2023, 9, 1), d(2023, 10, 1),
                d(2023, 10, 1), d(2023, 8, 1)],
            "period_end" => [d(2023, 9, 30), d(2023, 9, 30), d(2023, 9, 30), d(2023, 10, 31),
                d(2023, 10, 31), d(2023, 8, 31)],
        )
        .unwrap();
        let out = theme_summary(&activities, &sales, &campaign).unwrap();
        let g = |region: &str, tag: &str, c: &str| n(&out, c, row_of(&out, region, tag));
        // a2 is one activity however often submitted.
        assert_eq!(g("330000", "smart", "activities"), 2);
        assert_eq!(g("330000", "smart", "activity_enterprises"), 30);
        assert_eq!(g("000000", "green", "activities"), 1);
        assert_eq!(g("000000", "age_friendly", "activity_brands"), 6);
        // U1's September total, not its channel split; U3's August row is outside the window.
        let green = row_of(&out, "000000", "green");
        assert_eq!(n(&out, "enterprises", green), 2);
        assert_eq!(n(&out, "brands", green), 2);
        assert!((f(&out, "sales_yuan", green).unwrap() - 105.0).abs() < 1e-9);
        let ceramics = row_of(&out, "000000", "ceramics");
        assert_eq!(n(&out, "enterprises", ceramics), 2);
        assert!((f(&out, "sales_yuan", ceramics).unwrap() - 105.0).abs() < 1e-9);
        assert_eq!(g("330000", "lighting", "enterprises"), 1);
        assert_eq!(g("110000", "smart", "enterprises"), 1);
        // Every theme and subcategory has a national row; subcategories have no activity counts.
        assert_eq!(
            out.column("region_code")
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .filter(|r| *r == Some("000000"))
                .count(),
            9
        );
        let activities = out.column("activities").unwrap().i64().unwrap();
        assert!(activities.get(ceramics).is_none());
    }

    #[test]
    fn tables_without_the_optional_columns_give_zero_rows() {
        let campaign = Campaign::default_2023();
        let sales = df!(
            "uscc" => ["U1"], "region_code" => ["330000"], "category" => ["furniture"],
            "period" => ["2023-09"], "sales_amount_yuan" => [1.0], "channel" => ["all"],
            "period_start" => [d(2023, 9, 1)], "period_end" => [d(2023, 9, 30)],
        )
        .unwrap();
        let out = theme_summary(&DataFrame::empty(), &sales, &campaign).unwrap();
        assert_eq!(out.height(), 9);
        assert_eq!(
            out.column("enterprises").unwrap().i64().unwrap().sum(),
            Some(0)
        );
    }
}
