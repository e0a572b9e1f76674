//! The dimensions beyond region × category (issue 18), written in the uplift step: online and
//! offline (`channel_uplift`, see `homeseason_metrics::channel`) with the suppression of what the
//! report and the workbook publish of it, town and country (`urban_rural_uplift`, see
//! `homeseason_metrics::urban_rural`) with its own suppression ([`published_urban_rural`]), and themes and subcategories (`theme_summary`, see
//! `homeseason_metrics::themes`; counts of activities and enterprises and sums of sales, not payment
//! cells, so small-cell suppression does not apply).

use std::collections::{HashMap, HashSet};

use homeseason_lake::Lake;
use homeseason_metrics::UpliftOptions;
use homeseason_schema::campaign::Campaign;
use homeseason_schema::contract::tables;
use homeseason_schema::region::NATIONAL;
use polars::prelude::*;

use crate::error::Result;

/// Rewrite `channel_uplift` from `payment_daily` (the lake's rows, as read for the uplift step):
/// each channel's uplift with the history methods and the online share's change
/// ([`homeseason_metrics::channel::channel_uplift`]). Returns the table (empty, and nothing
/// written, when no row carries a channel the estimate can use).
///
/// # Errors
/// Lake or estimation failures.
pub fn write_channel_uplift(
    lake: &Lake,
    payment_daily: &DataFrame,
    campaign: &Campaign,
    opts: &UpliftOptions,
) -> Result<DataFrame> {
    let frame = homeseason_metrics::channel::channel_uplift(payment_daily, campaign, opts)?;
    if frame.height() > 0 {
        lake.write_output(tables::CHANNEL_UPLIFT, &frame)?;
    }
    Ok(frame)
}

/// Rewrite `theme_summary` from the lake's `activities` and `enterprise_sales`
/// ([`homeseason_metrics::themes::theme_summary`]). Returns the table.
///
/// # Errors
/// Lake or frame failures.
pub fn write_theme_summary(lake: &Lake, campaign: &Campaign) -> Result<DataFrame> {
    let frame = homeseason_metrics::themes::theme_summary(
        &lake.read_table(tables::ACTIVITIES)?,
        &lake.read_table(tables::ENTERPRISE_SALES)?,
        campaign,
    )?;
    lake.write_output(tables::THEME_SUMMARY, &frame)?;
    Ok(frame)
}

/// `channel_uplift` as the report and the workbook publish it: when the lake's dashboard copies were
/// written with a threshold `k` ([`crate::write_dashboard`]), suppression is worked out again on the
/// lake's current `payment_daily` ([`blank_suppressed_channels`]). Without dashboard copies,
/// unchanged.
///
/// # Errors
/// Lake or frame failures.
pub fn published_channels(
    lake: &Lake,
    campaign: &Campaign,
    channels: DataFrame,
) -> Result<DataFrame> {
    if channels.height() == 0 {
        return Ok(channels);
    }
    let Some(k) = lake.suppression_threshold()? else {
        return Ok(channels);
    };
    let daily = lake.read_table(tables::PAYMENT_DAILY)?;
    if daily.height() == 0 {
        return Ok(channels);
    }
    let (mask, _) =
        homeseason_ingest::suppression_of(&daily, k, &homeseason_ingest::Published::of(campaign))?;
    blank_suppressed_channels(&channels, &daily, &mask, campaign)
}

/// `channels` with every figure blanked (null) of each row whose series holds a suppressed
/// `payment_daily` cell (`mask`, aligned with `daily`) on any day.
///
/// Why so broad: suppression protects the published sums over *all* channels (its margins are
/// date × region × category and their sums); a split by channel is a margin it did not plan for —
/// two suppressed cells of one unit in different channels, safe together, would each be their own
/// channel's figure less the published visible cells. So a region × category with a suppressed cell
/// anywhere (the window or the earlier years its baselines read) publishes no channel figure, and
/// every sum that holds it goes too: its region's `all_targeted` row (when the category is
/// targeted), the national row of the category and the national `all_targeted` row — so no
/// published channel figure less others gives a blanked one back. What stays published is
/// channel sums of series with no suppressed cell at all, which give away nothing suppression hides.
///
/// # Errors
/// Frame failures (a missing column).
pub fn blank_suppressed_channels(
    channels: &DataFrame,
    daily: &DataFrame,
    mask: &[bool],
    campaign: &Campaign,
) -> Result<DataFrame> {
    let targeted: HashSet<&str> = campaign
        .categories
        .targeted
        .iter()
        .map(|c| c.id())
        .collect();
    let (regions, categories) = (
        daily.column("region_code")?.str()?,
        daily.column("category")?.str()?,
    );
    let mut touched: HashSet<(String, String)> = HashSet::new();
    for (i, suppressed) in mask.iter().enumerate() {
        if !*suppressed {
            continue;
        }
        let (Some(r), Some(c)) = (regions.get(i), categories.get(i)) else {
            continue;
        };
        touch_margins(&mut touched, r, c, targeted.contains(c));
    }
    blank_touched(channels, &touched)
}

/// Rewrite `urban_rural_uplift` from the lake's `payment_area_daily` and `activities`
/// ([`homeseason_metrics::urban_rural::urban_rural_uplift`]). Returns the table; with no area rows
/// (or none urban or rural) it is empty and nothing is written.
///
/// # Errors
/// Lake or estimation failures.
pub fn write_urban_rural_uplift(
    lake: &Lake,
    campaign: &Campaign,
    opts: &UpliftOptions,
) -> Result<DataFrame> {
    let area = lake.read_table(tables::PAYMENT_AREA_DAILY)?;
    if area.height() == 0 {
        return Ok(DataFrame::empty());
    }
    let activities = lake.read_table(tables::ACTIVITIES)?;
    let frame =
        homeseason_metrics::urban_rural::urban_rural_uplift(&area, &activities, campaign, opts)?;
    if frame.height() > 0 {
        lake.write_output(tables::URBAN_RURAL_UPLIFT, &frame)?;
    }
    Ok(frame)
}

/// `urban_rural_uplift` as the report and the workbook publish it: when the lake's dashboard copies
/// were written with a threshold `k` ([`crate::write_dashboard`]), the class figures resting on
/// fewer than `k` merchants are blanked with their complements ([`blank_small_classes`], the
/// merchants from the lake's `payment_area_daily`, [`merchant_floors`]). Without dashboard copies,
/// unchanged.
///
/// # Errors
/// Lake or frame failures.
pub fn published_urban_rural(
    lake: &Lake,
    campaign: &Campaign,
    table: DataFrame,
) -> Result<DataFrame> {
    if table.height() == 0 {
        return Ok(table);
    }
    let Some(k) = lake.suppression_threshold()? else {
        return Ok(table);
    };
    let area = lake.read_table(tables::PAYMENT_AREA_DAILY)?;
    let floors = merchant_floors(&area, campaign)?;
    blank_small_classes(&table, &floors, k, campaign)
}

/// A cell of the urban/rural table's classes: region, category (or `all_targeted`), class.
pub type ClassCell = (String, String, String);

/// A lower bound on the distinct merchants behind each region × category × class over the campaign
/// window: per day, institution and channel, the sum of `merchant_count` over the class's areas and
/// MCCs (an area's merchants are its own; a merchant reports under one MCC to an institution), and
/// the largest of these over the window. Also for `all_targeted` (the targeted categories summed)
/// and the nation (`000000`, the regions summed). A cell absent from the map has no merchant.
///
/// # Errors
/// Frame failures (a missing column).
pub fn merchant_floors(area: &DataFrame, campaign: &Campaign) -> Result<HashMap<ClassCell, i64>> {
    let mut floors = HashMap::new();
    if area.height() == 0 {
        return Ok(floors);
    }
    let targeted: Vec<Expr> = campaign
        .categories
        .targeted
        .iter()
        .map(|c| lit(c.id()))
        .collect();
    let is_targeted = targeted
        .into_iter()
        .fold(lit(false), |acc, c| acc.or(col("category").eq(c)));
    let base = area
        .clone()
        .lazy()
        .filter(
            col("date")
                .gt_eq(lit(campaign.window.start))
                .and(col("date").lt_eq(lit(campaign.window.end))),
        )
        .select([
            col("date"),
            col("institution"),
            col("channel"),
            col("region_code"),
            col("category"),
            col("urban_rural"),
            col("merchant_count").cast(DataType::Int64),
        ]);
    let all_targeted = base
        .clone()
        .filter(is_targeted)
        .with_column(lit(homeseason_metrics::ALL_TARGETED).alias("category"));
    let cells = concat([base, all_targeted], UnionArgs::default())?;
    let national = cells
        .clone()
        .with_column(lit(NATIONAL).alias("region_code"));
    let key = [col("region_code"), col("category"), col("urban_rural")];
    let mut day_key = key.to_vec();
    day_key.extend([col("date"), col("institution"), col("channel")]);
    let frame = concat([cells, national], UnionArgs::default())?
        .group_by(day_key)
        .agg([col("merchant_count").sum()])
        .group_by(key)
        .agg([col("merchant_count").max()])
        .collect()?;
    let (r, c, k, n) = (
        frame.column("region_code")?.str()?,
        frame.column("category")?.str()?,
        frame.column("urban_rural")?.str()?,
        frame.column("merchant_count")?.i64()?,
    );
    for i in 0..frame.height() {
        if let (Some(r), Some(c), Some(k), Some(n)) = (r.get(i), c.get(i), k.get(i), n.get(i)) {
            floors.insert((r.to_owned(), c.to_owned(), k.to_owned()), n);
        }
    }
    Ok(floors)
}

/// `table` (`urban_rural_uplift`) with every figure blanked (null) of each row where a class
/// (rural, urban) with a figure rests on fewer than `k` merchants (`floors`,
/// [`merchant_floors`]), and of each row holding such a row in a published margin.
///
/// The margins: a region's urban + rural + unknown sales are the region's total, published as the
/// headline — so a row with a small class loses both classes, its share and its unknown share
/// (one class left would give the other back by difference); the regions' classes add up to the
/// national class, and the targeted categories' to `all_targeted` — so the national row of the
/// category, the region's `all_targeted` row (a targeted category) and the national `all_targeted`
/// row go too. What stays published is class sums of rows with no small class, and sums that hold
/// none of them.
///
/// # Errors
/// Frame failures (a missing column).
pub fn blank_small_classes<S: std::hash::BuildHasher>(
    table: &DataFrame,
    floors: &HashMap<ClassCell, i64, S>,
    k: u32,
    campaign: &Campaign,
) -> Result<DataFrame> {
    let targeted: HashSet<&str> = campaign
        .categories
        .targeted
        .iter()
        .map(|c| c.id())
        .collect();
    let (regions, categories) = (
        table.column("region_code")?.str()?,
        table.column("category")?.str()?,
    );
    let present = |class: &str| -> Result<Vec<bool>> {
        Ok(table
            .column(&format!("{class}_actual_yuan"))?
            .is_not_null()
            .iter()
            .map(|v| v.unwrap_or(false))
            .collect())
    };
    let classes = homeseason_metrics::urban_rural::CLASSES;
    let has: Vec<Vec<bool>> = classes.iter().map(|c| present(c)).collect::<Result<_>>()?;
    let mut touched: HashSet<(String, String)> = HashSet::new();
    for (i, cell) in regions.iter().zip(categories.iter()).enumerate() {
        let (Some(r), Some(c)) = cell else {
            continue;
        };
        let small = classes.iter().enumerate().any(|(j, class)| {
            has[j][i]
                && floors
                    .get(&(r.to_owned(), c.to_owned(), (*class).to_owned()))
                    .copied()
                    .unwrap_or(0)
                    < i64::from(k)
        });
        if !small {
            continue;
        }
        touch_margins(&mut touched, r, c, targeted.contains(c));
    }
    blank_touched(table, &touched)
}

/// Marks `(r, c)` in `touched` with every published row whose figures sum it: the nation's `c`
/// and, when `c` is targeted (`targeted`) or is `all_targeted` itself, the region's and the
/// nation's `all_targeted` rows.
fn touch_margins(touched: &mut HashSet<(String, String)>, r: &str, c: &str, targeted: bool) {
    touched.insert((r.to_owned(), c.to_owned()));
    touched.insert((NATIONAL.to_owned(), c.to_owned()));
    let all = homeseason_metrics::ALL_TARGETED;
    if targeted || c == all {
        touched.insert((r.to_owned(), all.to_owned()));
        touched.insert((NATIONAL.to_owned(), all.to_owned()));
    }
}

/// `table` with every figure (each numeric column but `level`) blank on the rows whose region ×
/// category is in `touched`.
fn blank_touched(table: &DataFrame, touched: &HashSet<(String, String)>) -> Result<DataFrame> {
    let (regions, categories) = (
        table.column("region_code")?.str()?,
        table.column("category")?.str()?,
    );
    let blank: Vec<bool> = (0..table.height())
        .map(|i| match (regions.get(i), categories.get(i)) {
            (Some(r), Some(c)) => touched.contains(&(r.to_owned(), c.to_owned())),
            _ => false,
        })
        .collect();
    let figures: Vec<String> = table
        .columns()
        .iter()
        .filter(|c| {
            (c.dtype().is_float() || c.dtype().is_integer()) && c.name().as_str() != "level"
        })
        .map(|c| c.name().to_string())
        .collect();
    let figures: Vec<&str> = figures.iter().map(String::as_str).collect();
    Ok(homeseason_ingest::blank_rows(table, &blank, &figures)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A suppressed furniture cell in 330000 blanks its channel row, its region's all_targeted row
    /// and the national furniture and all_targeted rows; a region without one keeps its figures.
    #[test]
    fn a_suppressed_cell_blanks_its_series_and_every_sum_holding_it() {
        let campaign = Campaign::default_2023();
        let daily = df!(
            "region_code" => ["330000", "330000", "110000"],
            "category" => ["furniture", "supermarket", "furniture"],
        )
        .unwrap();
        let mask = [true, false, false];
        let channels = df!(
            "region_code" => ["330000", "330000", "110000", "000000", "000000", "110000", "330000"],
            "category" => ["furniture", "all_targeted", "furniture", "furniture", "all_targeted",
                "all_targeted", "home_appliances"],
            "level" => [0.9; 7],
            "online_uplift_pct" => [1.0; 7],
            "online_effect_sign" => [1i64; 7],
        )
        .unwrap();
        let out = blank_suppressed_channels(&channels, &daily, &mask, &campaign).unwrap();
        let pct = out.column("online_uplift_pct").unwrap().f64().unwrap();
        let blanked: Vec<bool> = pct.iter().map(|v| v.is_none()).collect();
        assert_eq!(blanked, [true, true, false, true, true, false, false]);
        assert_eq!(out.column("online_effect_sign").unwrap().null_count(), 4);
        assert_eq!(out.column("level").unwrap().null_count(), 0);
    }

    /// The base cells of the attack: region (110000, 330000) × category (furniture,
    /// home_appliances) × class (rural, urban, unknown), numbered in that order.
    fn base_cell(region: usize, category: usize, class: usize) -> usize {
        (region * 2 + category) * 3 + class
    }

    /// The base cells a row of the table sums, for one class.
    fn row_cells(region: &str, category: &str, class: usize) -> Vec<usize> {
        let regions: Vec<usize> = match region {
            "110000" => vec![0],
            "330000" => vec![1],
            _ => vec![0, 1],
        };
        let categories: Vec<usize> = match category {
            "furniture" => vec![0],
            "home_appliances" => vec![1],
            _ => vec![0, 1],
        };
        let mut out = Vec::new();
        for &r in &regions {
            for &c in &categories {
                out.push(base_cell(r, c, class));
            }
        }
        out
    }

    /// What an attacker has: every row's headline total (all classes: published as the headline
    /// uplift's actual) and, for each row the table still publishes, its rural, urban and unknown
    /// sums. Returns the published forms.
    fn published_forms(out: &DataFrame) -> Vec<Vec<(usize, f64)>> {
        let (r, c) = (
            out.column("region_code").unwrap().str().unwrap(),
            out.column("category").unwrap().str().unwrap(),
        );
        let rural = out.column("rural_actual_yuan").unwrap().f64().unwrap();
        let mut forms = Vec::new();
        for i in 0..out.height() {
            let (r, c) = (r.get(i).unwrap(), c.get(i).unwrap());
            let total: Vec<(usize, f64)> = (0..3)
                .flat_map(|k| row_cells(r, c, k))
                .map(|x| (x, 1.0))
                .collect();
            forms.push(total);
            if rural.get(i).is_some() {
                for k in 0..3 {
                    forms.push(row_cells(r, c, k).into_iter().map(|x| (x, 1.0)).collect());
                }
            }
        }
        forms
    }

    fn class_table() -> DataFrame {
        let mut regions = Vec::new();
        let mut categories = Vec::new();
        for r in ["110000", "330000", "000000"] {
            for c in ["furniture", "home_appliances", "all_targeted"] {
                regions.push(r);
                categories.push(c);
            }
        }
        let n = regions.len();
        df!(
            "region_code" => regions,
            "category" => categories,
            "level" => vec![0.9; n],
            "rural_actual_yuan" => vec![10.0; n],
            "urban_actual_yuan" => vec![20.0; n],
            "unknown_share_pct" => vec![1.0; n],
            "countryside_weeks" => vec![3i64; n],
        )
        .unwrap()
    }

    /// 330000's rural furniture rests on 2 merchants (k = 5): its row, the national furniture row and
    /// both all_targeted rows holding it are blanked, and the differencing attack over every
    /// published margin (headline totals, class sums, unknown sums) recovers neither of its
    /// classes. Blanking the small row alone would let the attack recover both.
    #[test]
    fn a_class_on_few_merchants_is_blanked_with_its_complements_and_the_attack_recovers_nothing() {
        let campaign = Campaign::default_2023();
        let table = class_table();
        let mut floors = HashMap::new();
        for r in ["110000", "330000", "000000"] {
            for c in ["furniture", "home_appliances", "all_targeted"] {
                for k in ["rural", "urban", "unknown"] {
                    floors.insert((r.to_owned(), c.to_owned(), k.to_owned()), 50);
                }
            }
        }
        floors.insert(
            (
                "330000".to_owned(),
                "furniture".to_owned(),
                "rural".to_owned(),
            ),
            2,
        );
        let out = blank_small_classes(&table, &floors, 5, &campaign).unwrap();
        let blanked: Vec<bool> = out
            .column("rural_actual_yuan")
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .map(|v| v.is_none())
            .collect();
        // 110000 ×3, 330000 ×3, 000000 ×3 (furniture, home_appliances, all_targeted).
        assert_eq!(
            blanked,
            [false, false, false, true, false, true, true, false, true]
        );
        assert_eq!(out.column("countryside_weeks").unwrap().null_count(), 4);
        assert_eq!(out.column("level").unwrap().null_count(), 0);
        let hidden = [base_cell(1, 0, 0), base_cell(1, 0, 1)];
        let forms = published_forms(&out);
        assert!(
            homeseason_test_support::recoverable_weighted(&hidden, &forms).is_empty(),
            "a blanked class is recovered"
        );
        // The attack can succeed: blanking only the small row gives its classes back.
        let only_row: Vec<bool> = (0..table.height()).map(|i| i == 3).collect();
        let naive = homeseason_ingest::blank_rows(
            &table,
            &only_row,
            &[
                "rural_actual_yuan",
                "urban_actual_yuan",
                "unknown_share_pct",
            ],
        )
        .unwrap();
        let recovered =
            homeseason_test_support::recoverable_weighted(&hidden, &published_forms(&naive));
        assert_eq!(recovered.len(), 2);
        // Enough merchants everywhere: nothing blanked.
        let floors_ok: HashMap<ClassCell, i64> = floors.into_keys().map(|key| (key, 50)).collect();
        let kept = blank_small_classes(&table, &floors_ok, 5, &campaign).unwrap();
        assert_eq!(kept.column("rural_actual_yuan").unwrap().null_count(), 0);
    }

    /// The merchant floor sums the areas of a day, institution and channel and takes the largest
    /// such sum in the window (institutions may share merchants: not summed); all_targeted and the
    /// nation sum their parts; days outside the window do not count.
    #[test]
    fn the_merchant_floor_is_the_largest_days_sum_in_the_window() {
        let campaign = Campaign::default_2023();
        let d = |m: u32, day: u32| chrono::NaiveDate::from_ymd_opt(2023, m, day).unwrap();
        let area = df!(
            "date" => [d(9, 1), d(9, 1), d(9, 2), d(9, 2), d(8, 1), d(9, 1)],
            "institution" => ["wallet_b", "acq_a", "wallet_b", "wallet_b", "wallet_b", "wallet_b"],
            "channel" => ["offline"; 6],
            "region_code" => ["330000", "330000", "330000", "330000", "330000", "110000"],
            "area_code" => ["330102", "330102", "330102", "330127", "330102", "110101"],
            "category" => ["furniture", "furniture", "furniture", "furniture", "furniture",
                "home_appliances"],
            "urban_rural" => ["urban", "urban", "urban", "urban", "urban", "urban"],
            "merchant_count" => [2i64, 3, 1, 1, 40, 7],
        )
        .unwrap();
        let floors = merchant_floors(&area, &campaign).unwrap();
        let get = |r: &str, c: &str| floors[&(r.to_owned(), c.to_owned(), "urban".to_owned())];
        assert_eq!(get("330000", "furniture"), 3);
        assert_eq!(get("110000", "home_appliances"), 7);
        assert_eq!(get("330000", "all_targeted"), 3);
        assert_eq!(get("000000", "all_targeted"), 9);
        assert_eq!(get("000000", "furniture"), 3);
    }
}
