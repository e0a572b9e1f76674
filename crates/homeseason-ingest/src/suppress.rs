//! Small-cell suppression for the dashboard copies, with complementary suppression so that no
//! suppressed cell can be recovered by subtracting the visible cells from a published margin.
//!
//! A `payment_daily` cell (day × region × MCC, per institution and channel) of fewer than `k`
//! distinct merchants is suppressed (*primary*). Every margin homeseason publishes sums cells:
//! `baseline_daily.actual` is region × category × day, the report's charts are region × day, and the
//! national series are category × day and day ([`PUBLISHED_MARGINS`]). If a margin's group held
//! exactly one suppressed cell, the margin minus the group's visible cells would be that cell, to
//! the fen. So, until no group has exactly one: in each such group the visible cell with the fewest
//! merchants (then the smallest amount) is suppressed as well (*complementary*). A group that is
//! one suppressed cell and nothing else cannot be protected by a complement: its margin is itself
//! the small cell, and is blanked in the dashboard copy of the margin's table
//! ([`blank_exposed_margins`]).

use std::collections::HashMap;

use polars::prelude::*;

/// The margins homeseason publishes over `payment_daily` cells, as the columns each groups by.
/// `baseline_daily.actual` is region × category × day, its `all_targeted` rows region × (targeted
/// categories) × day, its `000000` rows the national category × day and targeted × day; region × day
/// and the national day are the report's series. `__targeted` marks the campaign's targeted
/// categories ([`suppress_small_cells`] adds it).
pub const PUBLISHED_MARGINS: [&[&str]; 6] = [
    &["date", "region_code", "category"],
    &["date", "region_code", TARGETED],
    &["date", "region_code"],
    &["date", "category"],
    &["date", TARGETED],
    &["date"],
];

/// The helper column marking targeted categories.
const TARGETED: &str = "__targeted";

/// What suppression did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Suppression {
    /// Cells of fewer than `k` merchants.
    pub primary: usize,
    /// Cells suppressed so that no margin group holds exactly one suppressed cell.
    pub complementary: usize,
    /// Margin groups that are one suppressed cell alone (blanked in the margin tables' dashboard
    /// copies): the groups' key values, `margin columns = values`.
    pub exposed_margins: Vec<String>,
}

/// One text key per row for the columns `cols` (`\u{1f}`-separated; nulls as `\u{0}`).
fn keys(frame: &DataFrame, cols: &[&str]) -> PolarsResult<Vec<String>> {
    let mut out = vec![String::new(); frame.height()];
    for (i, c) in cols.iter().enumerate() {
        let text = frame.column(c)?.cast(&DataType::String)?;
        for (row, v) in text.str()?.iter().enumerate() {
            if i > 0 {
                out[row].push('\u{1f}');
            }
            out[row].push_str(v.unwrap_or("\u{0}"));
        }
    }
    Ok(out)
}

/// Which rows of `daily` to suppress: the primary cells and their complements, and the margin groups
/// that are one suppressed cell alone.
///
/// # Errors
/// When `daily` lacks `merchant_count`, `net_amount_yuan` or a margin column.
pub fn suppression_mask(
    daily: &DataFrame,
    k: u32,
    margins: &[&[&str]],
) -> PolarsResult<(Vec<bool>, Suppression)> {
    let merchants: Vec<i64> = daily
        .column("merchant_count")?
        .cast(&DataType::Int64)?
        .i64()?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect();
    let amounts: Vec<f64> = daily
        .column("net_amount_yuan")?
        .cast(&DataType::Float64)?
        .f64()?
        .iter()
        .map(|v| v.unwrap_or(0.0).abs())
        .collect();
    let mut suppressed: Vec<bool> = merchants.iter().map(|&m| m < i64::from(k)).collect();
    let primary = suppressed.iter().filter(|s| **s).count();
    // Each margin's groups, as lists of rows (in row order, so the result is deterministic).
    let mut groups: Vec<(usize, Vec<Vec<usize>>)> = Vec::new();
    for (m, cols) in margins.iter().enumerate() {
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut rows: Vec<Vec<usize>> = Vec::new();
        for (row, key) in keys(daily, cols)?.into_iter().enumerate() {
            let g = *index.entry(key).or_insert_with(|| {
                rows.push(Vec::new());
                rows.len() - 1
            });
            rows[g].push(row);
        }
        groups.push((m, rows));
    }
    let mut complementary = 0;
    loop {
        let mut changed = false;
        for (_, rows) in &groups {
            for group in rows {
                let hidden = group.iter().filter(|&&r| suppressed[r]).count();
                if hidden != 1 {
                    continue;
                }
                let pick = group
                    .iter()
                    .copied()
                    .filter(|&r| !suppressed[r])
                    .min_by(|&a, &b| {
                        merchants[a]
                            .cmp(&merchants[b])
                            .then(amounts[a].total_cmp(&amounts[b]))
                            .then(a.cmp(&b))
                    });
                if let Some(r) = pick {
                    suppressed[r] = true;
                    complementary += 1;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let mut exposed_margins = Vec::new();
    for (m, rows) in &groups {
        for group in rows {
            if group.len() == 1 && suppressed[group[0]] {
                let cols = margins[*m];
                let key = keys(&daily.slice(i64::try_from(group[0]).unwrap_or(0), 1), cols)?;
                let values = key.first().cloned().unwrap_or_default();
                exposed_margins.push(margin_key(cols, values.split('\u{1f}')));
            }
        }
    }
    Ok((
        suppressed,
        Suppression {
            primary,
            complementary,
            exposed_margins,
        },
    ))
}

/// Which cells of `daily` (the lake's `payment_daily`) are suppressed at `k` merchants, and which
/// published margins are one suppressed cell alone ([`PUBLISHED_MARGINS`], with the campaign's
/// `targeted` categories): what [`suppress_small_cells`] blanks, without making the copy.
///
/// # Errors
/// When `daily` lacks the `payment_daily` columns.
pub fn suppression_of(
    daily: &DataFrame,
    k: u32,
    targeted: &[&str],
) -> PolarsResult<(Vec<bool>, Suppression)> {
    let marked = with_targeted(daily, targeted)?;
    suppression_mask(&marked, k, &PUBLISHED_MARGINS)
}

/// The dashboard copy of `payment_daily`: every cell of fewer than `k` distinct merchants, and the
/// complements that keep it from being derived from a published margin ([`PUBLISHED_MARGINS`]), is
/// flagged `suppressed = true` with its counts and money blanked (null). Other rows are unchanged.
///
/// # Errors
/// When `daily` lacks the `payment_daily` columns.
pub fn suppress_small_cells(
    daily: &DataFrame,
    k: u32,
    targeted: &[&str],
) -> PolarsResult<(DataFrame, Suppression)> {
    let (mask, summary) = suppression_of(daily, k, targeted)?;
    let blank = |c: &str, t: DataType| {
        when(col("suppressed"))
            .then(lit(NULL).cast(t))
            .otherwise(col(c))
            .alias(c)
    };
    let mut order = crate::payments::daily_select();
    order.push(col("suppressed"));
    let mut frame = daily.clone();
    frame.with_column(Column::new("suppressed".into(), mask))?;
    let out = frame
        .lazy()
        .with_columns([
            blank("txn_count", DataType::Int64),
            blank("amount_yuan", DataType::Float64),
            blank("refund_amount_yuan", DataType::Float64),
            blank("net_amount_yuan", DataType::Float64),
            blank("merchant_count", DataType::Int64),
        ])
        .select(order)
        .collect()?;
    Ok((out, summary))
}

/// `daily` with the [`TARGETED`] column (`category` is one of `targeted`).
fn with_targeted(daily: &DataFrame, targeted: &[&str]) -> PolarsResult<DataFrame> {
    let list = Series::new("targeted".into(), targeted);
    daily
        .clone()
        .lazy()
        .with_column(
            col("category")
                .is_in(lit(list).implode(false), false)
                .alias(TARGETED),
        )
        .collect()
}

/// How a margin group is named in [`Suppression::exposed_margins`]: `column=value` pairs joined by
/// commas, in the margin's column order (`date=2023-09-01,region_code=330000,category=furniture`).
fn margin_key<'a>(columns: &[&str], values: impl IntoIterator<Item = &'a str>) -> String {
    columns
        .iter()
        .zip(values)
        .map(|(c, v)| format!("{c}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The dashboard copy of a margin table (`baseline_daily`: region × category × day, with
/// `all_targeted` rows and national `000000` rows): `actual_yuan` blanked, and the row flagged
/// `suppressed`, where the margin group is one suppressed cell alone
/// ([`Suppression::exposed_margins`]).
///
/// # Errors
/// When `margin` lacks `date`, `region_code`, `category` or `actual_yuan`.
pub fn blank_exposed_margins(margin: &DataFrame, s: &Suppression) -> PolarsResult<DataFrame> {
    let exposed: std::collections::HashSet<&str> =
        s.exposed_margins.iter().map(String::as_str).collect();
    let (dates, regions, categories) = (
        keys(margin, &["date"])?,
        keys(margin, &["region_code"])?,
        keys(margin, &["category"])?,
    );
    let flags: Vec<bool> = (0..margin.height())
        .map(|i| {
            let (d, r, c) = (&dates[i], &regions[i], &categories[i]);
            let national = r == homeseason_schema::region::NATIONAL;
            let (d, r, c) = (d.as_str(), r.as_str(), c.as_str());
            let key = match (national, c) {
                (false, "all_targeted") => {
                    margin_key(&["date", "region_code", TARGETED], [d, r, "true"])
                }
                (false, _) => margin_key(&["date", "region_code", "category"], [d, r, c]),
                (true, "all_targeted") => margin_key(&["date", TARGETED], [d, "true"]),
                (true, _) => margin_key(&["date", "category"], [d, c]),
            };
            exposed.contains(key.as_str())
        })
        .collect();
    let mut frame = margin.clone();
    frame.with_column(Column::new("suppressed".into(), flags))?;
    frame
        .lazy()
        .with_column(
            when(col("suppressed"))
                .then(lit(NULL).cast(DataType::Float64))
                .otherwise(col("actual_yuan"))
                .alias("actual_yuan"),
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    /// Cells of one day: (region, category, mcc, institution, merchants, net amount).
    fn day(cells: &[(&str, &str, &str, &str, i64, f64)]) -> DataFrame {
        let date = NaiveDate::from_ymd_opt(2023, 9, 1).unwrap_or_default();
        let n = cells.len();
        df!(
            "date" => vec![date; n],
            "institution" => cells.iter().map(|c| c.3).collect::<Vec<_>>(),
            "region_code" => cells.iter().map(|c| c.0).collect::<Vec<_>>(),
            "mcc" => cells.iter().map(|c| c.2).collect::<Vec<_>>(),
            "category" => cells.iter().map(|c| c.1).collect::<Vec<_>>(),
            "channel" => vec!["offline"; n],
            "txn_count" => cells.iter().map(|c| c.4 * 3).collect::<Vec<_>>(),
            "amount_yuan" => cells.iter().map(|c| c.5).collect::<Vec<_>>(),
            "refund_amount_yuan" => vec![0.0; n],
            "net_amount_yuan" => cells.iter().map(|c| c.5).collect::<Vec<_>>(),
            "merchant_count" => cells.iter().map(|c| c.4).collect::<Vec<_>>(),
        )
        .unwrap_or_default()
    }

    #[test]
    fn a_lone_small_cell_gets_a_complement_in_every_margin() {
        let d = day(&[
            ("110000", "furniture", "5712", "bank_a", 1, 500.0),
            ("110000", "furniture", "5712", "bank_b", 9, 9000.0),
            ("110000", "furniture", "5713", "bank_a", 4, 4000.0),
            ("110000", "appliances", "5722", "bank_a", 30, 30000.0),
            ("120000", "furniture", "5712", "bank_a", 12, 12000.0),
        ]);
        let d = with_targeted(&d, &["furniture", "appliances"]).unwrap();
        let (mask, s) = suppression_mask(&d, 3, &PUBLISHED_MARGINS).unwrap();
        // The small cell, and the smallest visible cell of its region × category × day.
        assert_eq!(mask, vec![true, false, true, false, false]);
        assert_eq!((s.primary, s.complementary), (1, 1));
        assert!(s.exposed_margins.is_empty());
    }

    #[test]
    fn a_margin_that_is_one_small_cell_is_named_and_blanked() {
        let d = day(&[
            ("110000", "textiles", "5714", "bank_a", 1, 80.0),
            ("110000", "furniture", "5712", "bank_b", 9, 9000.0),
            ("110000", "furniture", "5713", "bank_a", 4, 4000.0),
        ]);
        let d = with_targeted(&d, &["furniture", "textiles"]).unwrap();
        let (mask, s) = suppression_mask(&d, 3, &PUBLISHED_MARGINS).unwrap();
        // Region × day holds the textiles cell alone among the suppressed: the smaller furniture
        // cell joins it, then region × furniture × day holds that one alone: the other joins too.
        assert_eq!(mask, vec![true, true, true], "{s:?}");
        assert!(
            s.exposed_margins
                .iter()
                .any(|m| m.contains("region_code=110000,category=textiles")),
            "{s:?}"
        );
        let margin = df!(
            "date" => [NaiveDate::from_ymd_opt(2023, 9, 1).unwrap_or_default(); 2],
            "region_code" => ["110000", "110000"],
            "category" => ["textiles", "furniture"],
            "actual_yuan" => [80.0, 13000.0],
        )
        .unwrap();
        let blanked = blank_exposed_margins(&margin, &s).unwrap();
        let actual = blanked
            .column("actual_yuan")
            .unwrap()
            .f64()
            .unwrap()
            .clone();
        assert_eq!(actual.get(0), None);
        assert_eq!(actual.get(1), Some(13000.0));
    }

    /// Cells of `days` days: 6 regions × 4 categories × 3 MCCs × 2 institutions, merchants 1–12
    /// from a fixed LCG (`seed`).
    fn random_season(seed: u64, days: i64) -> DataFrame {
        let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let mut next = move |n: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % n
        };
        let start = NaiveDate::from_ymd_opt(2023, 9, 1).unwrap_or_default();
        let cats = [
            "home_appliances",
            "furniture",
            "home_textiles",
            "supermarket",
        ];
        let (mut date, mut inst, mut region, mut mcc, mut cat, mut merchants, mut amount) =
            (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        for d in 0..days {
            for r in 0..6 {
                for (c, name) in cats.iter().enumerate() {
                    for m in 0..3 {
                        for i in ["bank_a", "wallet_b"] {
                            date.push(start + chrono::Duration::days(d));
                            inst.push(i);
                            region.push(format!("{}0000", 11 + r));
                            mcc.push(format!("57{c}{m}"));
                            cat.push(*name);
                            let n = 1 + i64::try_from(next(12)).unwrap_or(0);
                            merchants.push(n);
                            amount.push(
                                f64::from(u32::try_from(next(100_000)).unwrap_or(0)) / 100.0
                                    * n as f64,
                            );
                        }
                    }
                }
            }
        }
        let n = date.len();
        df!(
            "date" => date,
            "institution" => inst,
            "region_code" => region,
            "mcc" => mcc,
            "category" => cat,
            "channel" => vec!["offline"; n],
            "txn_count" => merchants.clone(),
            "amount_yuan" => amount.clone(),
            "refund_amount_yuan" => vec![0.0; n],
            "net_amount_yuan" => amount,
            "merchant_count" => merchants,
        )
        .unwrap_or_default()
    }

    /// The suppressed cells an attacker recovers exactly from the visible cells and every published
    /// margin ([`PUBLISHED_MARGINS`], the exposed ones blanked): cell i is recovered when the unit
    /// vector e_i lies in the row space of the margins' equations over the suppressed cells (any
    /// sequence of subtractions and additions of margins and visible cells is such a combination).
    fn recoverable(d: &DataFrame, mask: &[bool], exposed: &[String]) -> usize {
        let hidden: Vec<usize> = (0..mask.len()).filter(|&i| mask[i]).collect();
        let column_of: HashMap<usize, usize> =
            hidden.iter().enumerate().map(|(c, &r)| (r, c)).collect();
        let mut rows: Vec<Vec<f64>> = Vec::new();
        for cols in PUBLISHED_MARGINS {
            let mut groups: HashMap<String, Vec<usize>> = HashMap::new();
            for (r, k) in keys(d, cols).unwrap().into_iter().enumerate() {
                groups.entry(k).or_default().push(r);
            }
            for (key, members) in groups {
                if exposed.contains(&margin_key(cols, key.split('\u{1f}'))) {
                    continue;
                }
                let mut row = vec![0.0; hidden.len()];
                for m in members {
                    if let Some(&c) = column_of.get(&m) {
                        row[c] = 1.0;
                    }
                }
                if row.iter().any(|v| *v != 0.0) {
                    rows.push(row);
                }
            }
        }
        // Reduced row echelon form.
        let mut pivots: Vec<(usize, Vec<f64>)> = Vec::new();
        for mut row in rows {
            for (p, prow) in &pivots {
                let f = row[*p];
                if f != 0.0 {
                    row.iter_mut().zip(prow).for_each(|(a, b)| *a -= f * b);
                }
            }
            let Some(p) = row.iter().position(|v| v.abs() > 1e-9) else {
                continue;
            };
            let f = row[p];
            for v in &mut row {
                *v /= f;
            }
            for (_, prow) in &mut pivots {
                let g = prow[p];
                if g != 0.0 {
                    prow.iter_mut().zip(&row).for_each(|(a, b)| *a -= g * b);
                }
            }
            pivots.push((p, row));
        }
        (0..hidden.len())
            .filter(|&i| {
                let mut v = vec![0.0; hidden.len()];
                v[i] = 1.0;
                for (p, prow) in &pivots {
                    let f = v[*p];
                    if f != 0.0 {
                        v.iter_mut().zip(prow).for_each(|(a, b)| *a -= f * b);
                    }
                }
                v.iter().all(|x| x.abs() < 1e-9)
            })
            .count()
    }

    #[test]
    fn the_differencing_attack_on_every_margin_recovers_nothing() {
        let targeted = ["home_appliances", "furniture", "home_textiles"];
        let (mut primary_only, mut cells, mut hidden) = (0, 0, 0);
        for seed in 0..20 {
            let d = with_targeted(&random_season(seed, 2), &targeted).unwrap();
            let (mask, s) = suppression_mask(&d, 4, &PUBLISHED_MARGINS).unwrap();
            assert_eq!(
                recoverable(&d, &mask, &s.exposed_margins),
                0,
                "seed {seed}: {s:?}"
            );
            // The attack is real: with the small cells alone blanked it recovers some.
            let small: Vec<bool> = d
                .column("merchant_count")
                .unwrap()
                .i64()
                .unwrap()
                .iter()
                .map(|m| m.unwrap_or(0) < 4)
                .collect();
            primary_only += recoverable(&d, &small, &s.exposed_margins);
            cells += d.height();
            hidden += mask.iter().filter(|m| **m).count();
        }
        assert!(
            primary_only > 0 && hidden < cells,
            "primary suppression alone must be attackable: 20 seasons, {cells} cells, {hidden} \
             suppressed; primary suppression alone let the attack recover {primary_only}"
        );
    }
}
