//! The dimensions beyond region × category (issue 18), written in the uplift step: online and
//! offline (`channel_uplift`, see `homeseason_metrics::channel`), town and country
//! (`urban_rural_uplift`, see `homeseason_metrics::urban_rural`), and themes and subcategories
//! (`theme_summary`, see `homeseason_metrics::themes`; counts of activities and enterprises and
//! sums of sales, not payment cells, so small-cell suppression does not apply).
//!
//! **What the report and the workbook publish of the split tables** ([`published_channels`],
//! [`published_urban_rural`]), in three steps:
//! 1. *The data floor* (urban/rural only, [`withhold_thin_classes`]): a region's class estimate
//!    whose class series holds fewer than [`FLOOR_MERCHANTS`] merchants or [`FLOOR_DAYS`] days with
//!    sales in the pre-period is withheld, the reason in [`WITHHELD`]; national rows stay. The
//!    channel table has none (see [`published_channels`]).
//! 2. *Small-cell suppression* (only when the lake has a threshold `k`): the rows resting on a
//!    suppressed or small cell, and their complements by the one generic rule
//!    ([`crate::publish::suppress_cells`], through [`blank_with_complements`]) — the rule the
//!    city-level tables use.
//! 3. *The lead method* ([`with_lead`]): which history method the section and the sheet lead
//!    with, and why ([`homeseason_report::split_lead`]).

use std::collections::{BTreeMap, HashMap, HashSet};

use homeseason_lake::{Lake, LakeView};
use homeseason_metrics::UpliftOptions;
use homeseason_schema::campaign::{Campaign, DateRange};
use homeseason_schema::contract::tables;
use homeseason_schema::region::NATIONAL;
use polars::prelude::*;

use crate::error::Result;
use crate::publish::suppress_cells;

/// Rewrite `channel_uplift` from `payment_daily`'s channel cells (the lake's rows as read for the
/// uplift step, summed in fen per region × category × channel × date:
/// [`homeseason_metrics::channel::channel_cells`], the group-by the headline series shares): each
/// channel's uplift with the history methods and the online share's change
/// ([`homeseason_metrics::channel::channel_uplift`]). Returns the table (empty, and nothing
/// written, when no row carries a channel the estimate can use).
///
/// # Errors
/// Lake or estimation failures.
pub fn write_channel_uplift(
    lake: &Lake,
    channel_cells: &DataFrame,
    campaign: &Campaign,
    opts: &UpliftOptions,
) -> Result<DataFrame> {
    let frame =
        homeseason_metrics::channel::channel_uplift_of_cells(channel_cells, campaign, opts)?;
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
    // Both tables from one commit of the lake.
    let frame = theme_summary_of(&lake.view()?, campaign)?;
    lake.write_output(tables::THEME_SUMMARY, &frame)?;
    Ok(frame)
}

/// `theme_summary` from `activities` and `enterprise_sales` read through `view` (one commit of the
/// lake for both), not written ([`write_theme_summary`] writes it).
///
/// # Errors
/// Lake or frame failures.
pub fn theme_summary_of(view: &LakeView, campaign: &Campaign) -> Result<DataFrame> {
    Ok(homeseason_metrics::themes::theme_summary(
        &view.read_table(tables::ACTIVITIES)?,
        &view.read_table(tables::ENTERPRISE_SALES)?,
        campaign,
    )?)
}

/// The data floor's merchants ([`homeseason_metrics::urban_rural::FLOOR_MERCHANTS`]): a region ×
/// category class estimate whose class series holds fewer distinct merchants on the pre-period's
/// largest day ([`class_support`]) is withheld ([`withhold_thin_classes`]).
pub const FLOOR_MERCHANTS: i64 = homeseason_metrics::urban_rural::FLOOR_MERCHANTS;

/// The data floor's days with sales in the pre-period
/// ([`homeseason_metrics::urban_rural::FLOOR_DAYS`]).
pub const FLOOR_DAYS: i64 = homeseason_metrics::urban_rural::FLOOR_DAYS;

/// The column of the published split tables that says why a row's figures are blank (null when
/// nothing is withheld): the data floor (per class) or small-cell suppression.
pub const WITHHELD: &str = homeseason_report::WITHHELD_COLUMN;

/// What stands behind one class cell of a split table over a period: a lower bound on its
/// distinct merchants (the largest day's sum over its areas and MCCs, per institution and channel)
/// and the days with net sales above zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Support {
    /// The largest day's `merchant_count` (summed over areas and MCCs, per institution and channel).
    pub merchants: i64,
    /// Days of the period with net sales above zero.
    pub days: i64,
}

/// `channel_uplift` as the report and the workbook publish it: when the lake's dashboard copies
/// were written with a threshold `k` ([`crate::write_dashboard`]), suppression worked out again on
/// the lake's current `payment_daily` ([`blank_suppressed_channels`]); and the split tables' lead
/// method ([`with_lead`]). No data floor: a channel's series is all institutions' payments, and the
/// channel rows the urban/rural floor would withhold (online home textiles, furniture and appliances
/// of the smaller regions, 4–9 merchants a day) score as well as the rest over 5 seeds (two_year
/// MAE 2.6 pp against 2.4 pp; `benchmarks/SCORES.md`).
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
    let mut table = channels;
    if let Some(k) = lake.suppression_threshold()? {
        let daily = lake.read_table(tables::PAYMENT_DAILY)?;
        if daily.height() > 0 {
            let (mask, _) = homeseason_ingest::suppression_of(
                &daily,
                k,
                &homeseason_ingest::Published::of(campaign),
            )?;
            table = blank_suppressed_channels(&table, &daily, &mask, campaign)?;
        }
    }
    with_lead(lake, table)
}

/// `channels` with every figure blanked (null) of each row whose series holds a suppressed
/// `payment_daily` cell (`mask`, aligned with `daily`) on any day — the cell's own region ×
/// category, the nation's row of the category and, for a targeted category, the region's and the
/// nation's `all_targeted` rows — and of the rows the generic rule
/// ([`crate::publish::suppress_cells`]) blanks with them so no published margin gives one back
/// ([`blank_with_complements`]).
///
/// Why a whole series: suppression protects the published sums over *all* channels (its margins
/// are date × region × category and their sums); a split by channel is a margin it did not plan
/// for — two suppressed cells of one unit in different channels, safe together, would each be
/// their own channel's figure less the published visible cells. So a region × category with a
/// suppressed cell anywhere (the window or the earlier years its baselines read) publishes no
/// channel figure.
///
/// # Errors
/// Frame failures (a missing column).
pub fn blank_suppressed_channels(
    channels: &DataFrame,
    daily: &DataFrame,
    mask: &[bool],
    campaign: &Campaign,
) -> Result<DataFrame> {
    let (regions, categories) = cell_columns(daily)?;
    let targeted = targeted_ids(campaign);
    let all = homeseason_metrics::ALL_TARGETED;
    // Every row whose series holds the cell: its own, the nation's of the category and, for a
    // targeted category, the region's and the nation's all_targeted rows.
    let mut primary: HashSet<(String, String)> = HashSet::new();
    for (i, suppressed) in mask.iter().enumerate() {
        if !*suppressed {
            continue;
        }
        let (Some(r), Some(c)) = (regions.get(i), categories.get(i)) else {
            continue;
        };
        primary.insert((r.to_owned(), c.to_owned()));
        primary.insert((NATIONAL.to_owned(), c.to_owned()));
        if targeted.contains(c) {
            primary.insert((r.to_owned(), all.to_owned()));
            primary.insert((NATIONAL.to_owned(), all.to_owned()));
        }
    }
    blank_with_complements(
        channels,
        &primary,
        homeseason_metrics::channel::CHANNELS,
        campaign,
    )
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
    write_urban_rural_uplift_of(lake, &lake.view()?, campaign, opts)
}

/// [`write_urban_rural_uplift`] with `payment_area_daily` and `activities` read through `view`
/// (one commit of the lake for both, and for whatever else the caller reads through it); the
/// table is written to `lake`.
///
/// # Errors
/// Lake or estimation failures.
pub fn write_urban_rural_uplift_of(
    lake: &Lake,
    view: &LakeView,
    campaign: &Campaign,
    opts: &UpliftOptions,
) -> Result<DataFrame> {
    let frame = urban_rural_uplift_of(view, campaign, opts)?;
    if frame.height() > 0 {
        lake.write_output(tables::URBAN_RURAL_UPLIFT, &frame)?;
    }
    Ok(frame)
}

/// `urban_rural_uplift` from `payment_area_daily` and `activities` read through `view`, not
/// written ([`write_urban_rural_uplift_of`] writes it when it has rows); empty when the lake holds
/// no area rows.
///
/// # Errors
/// Lake or estimation failures.
pub fn urban_rural_uplift_of(
    view: &LakeView,
    campaign: &Campaign,
    opts: &UpliftOptions,
) -> Result<DataFrame> {
    urban_rural_uplift_with(view, &view.read_table(tables::ACTIVITIES)?, campaign, opts)
}

/// [`urban_rural_uplift_of`] with the activities register already read (from the same view).
pub(crate) fn urban_rural_uplift_with(
    view: &LakeView,
    activities: &DataFrame,
    campaign: &Campaign,
    opts: &UpliftOptions,
) -> Result<DataFrame> {
    let area = view.read_table(tables::PAYMENT_AREA_DAILY)?;
    if area.height() == 0 {
        return Ok(DataFrame::empty());
    }
    Ok(homeseason_metrics::urban_rural::urban_rural_uplift(
        &area, activities, campaign, opts,
    )?)
}

/// `urban_rural_uplift` as the report and the workbook publish it: each region's class estimate
/// resting on too little data withheld ([`withhold_thin_classes`], support from the lake's
/// `payment_area_daily` over the pre-period), and, when the lake's dashboard copies were written
/// with a threshold `k` ([`crate::write_dashboard`]), the class figures resting on fewer than `k`
/// merchants blanked with their complements ([`blank_small_classes`], the merchants from the lake's
/// `payment_area_daily` in the window, [`merchant_floors`]). The split tables' lead method is
/// added ([`with_lead`]).
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
    let area = lake.read_table(tables::PAYMENT_AREA_DAILY)?;
    let support = class_support(&area, "urban_rural", campaign.baseline.pre_period, campaign)?;
    let mut table = withhold_thin_classes(
        &table,
        &support,
        homeseason_metrics::urban_rural::CLASSES,
        (FLOOR_MERCHANTS, FLOOR_DAYS),
    )?;
    if let Some(k) = lake.suppression_threshold()? {
        let floors = merchant_floors(&area, campaign)?;
        table = blank_small_classes(&table, &floors, k, campaign)?;
    }
    with_lead(lake, table)
}

/// `table` with the split tables' lead method ([`homeseason_report::split_lead`], from the lake's
/// `uplift_backtest`) in the columns `lead_method` and `lead_reason` (the same on every row), so the
/// workbook shows the choice the report's section makes.
///
/// # Errors
/// Lake or frame failures.
pub fn with_lead(lake: &Lake, table: DataFrame) -> Result<DataFrame> {
    let backtest = lake.read_table(tables::UPLIFT_BACKTEST)?;
    let lead = homeseason_report::split_lead(Some(&backtest));
    Ok(table
        .lazy()
        .with_columns([
            lit(lead.method).alias("lead_method"),
            lit(format!("{} {}", lead.zh, lead.en)).alias("lead_reason"),
        ])
        .collect()?)
}

/// A cell of the urban/rural table's classes: region, category (or `all_targeted`), class.
pub type ClassCell = (String, String, String);

/// Per region (and `000000`) × category (and `all_targeted`) × class of `rows`' column `class` —
/// `payment_area_daily` by `urban_rural`, `payment_daily` by `channel` — over `period`: the
/// [`Support`] of the class series (a day's `merchant_count` summed over the class's areas and MCCs
/// per institution and channel, its largest day; the days with net sales above zero). A cell absent
/// from the map has no row in the period.
///
/// # Errors
/// Frame failures (a missing column).
pub fn class_support(
    rows: &DataFrame,
    class: &str,
    period: DateRange,
    campaign: &Campaign,
) -> Result<HashMap<ClassCell, Support>> {
    let frame = class_days(rows, class, period, campaign)?
        .group_by([col("region_code"), col("category"), col(class)])
        .agg([
            col("merchant_count").max(),
            col("net_amount_yuan")
                .gt(lit(0.0))
                .cast(DataType::Int64)
                .sum()
                .alias("days"),
        ])
        .collect()?;
    let (r, c, k, n, d) = (
        frame.column("region_code")?.str()?,
        frame.column("category")?.str()?,
        frame.column(class)?.str()?,
        frame.column("merchant_count")?.i64()?,
        frame.column("days")?.i64()?,
    );
    let mut out = HashMap::new();
    for i in 0..frame.height() {
        if let (Some(r), Some(c), Some(k)) = (r.get(i), c.get(i), k.get(i)) {
            out.insert(
                (r.to_owned(), c.to_owned(), k.to_owned()),
                Support {
                    merchants: n.get(i).unwrap_or(0),
                    days: d.get(i).unwrap_or(0),
                },
            );
        }
    }
    Ok(out)
}

/// The rows of `rows` in `period` per region × category × class (column `class`) × date: the day's
/// `merchant_count` (the largest sum over one institution and channel) and net sales, with the
/// `all_targeted` sums and the nation (`000000`).
fn class_days(
    rows: &DataFrame,
    class: &str,
    period: DateRange,
    campaign: &Campaign,
) -> Result<LazyFrame> {
    let is_targeted = campaign
        .categories
        .targeted
        .iter()
        .map(|c| lit(c.id()))
        .fold(lit(false), |acc, c| acc.or(col("category").eq(c)));
    let mut fields = vec![
        col("date"),
        col("institution"),
        col("channel"),
        col("region_code"),
        col("category"),
        col("merchant_count").cast(DataType::Int64),
        col("net_amount_yuan").cast(DataType::Float64),
    ];
    if class != "channel" {
        fields.push(col(class));
    }
    let base = rows
        .clone()
        .lazy()
        .filter(
            col("date")
                .gt_eq(lit(period.start))
                .and(col("date").lt_eq(lit(period.end))),
        )
        .select(fields);
    let all_targeted = base
        .clone()
        .filter(is_targeted)
        .with_column(lit(homeseason_metrics::ALL_TARGETED).alias("category"));
    let cells = concat([base, all_targeted], UnionArgs::default())?;
    let national = cells
        .clone()
        .with_column(lit(NATIONAL).alias("region_code"));
    let key = [col("region_code"), col("category"), col(class)];
    let mut day_key = key.to_vec();
    day_key.push(col("date"));
    let mut unit_key = day_key.clone();
    unit_key.push(col("institution"));
    if class != "channel" {
        unit_key.push(col("channel"));
    }
    Ok(concat([cells, national], UnionArgs::default())?
        .group_by(unit_key)
        .agg([col("merchant_count").sum(), col("net_amount_yuan").sum()])
        .group_by(day_key)
        .agg([col("merchant_count").max(), col("net_amount_yuan").sum()]))
}

/// A lower bound on the distinct merchants behind each region × category × class over the campaign
/// window: per day, institution and channel, the sum of `merchant_count` over the class's areas and
/// MCCs (an area's merchants are its own; a merchant reports under one MCC to an institution), and
/// the largest of these over the window. Also for `all_targeted` (the targeted categories summed)
/// and the nation (`000000`, the regions summed). A cell absent from the map has no merchant.
///
/// # Errors
/// Frame failures (a missing column).
pub fn merchant_floors(area: &DataFrame, campaign: &Campaign) -> Result<HashMap<ClassCell, i64>> {
    if area.height() == 0 {
        return Ok(HashMap::new());
    }
    Ok(
        class_support(area, "urban_rural", campaign.window, campaign)?
            .into_iter()
            .map(|(cell, s)| (cell, s.merchants))
            .collect(),
    )
}

/// `table` (a split table: `channel_uplift` with `classes` online and offline,
/// `urban_rural_uplift` with rural and urban) with each region's class estimate withheld where its
/// class series rests on too little data: fewer than `floor.0` merchants or fewer than `floor.1`
/// days with sales in the support's period (`support`, [`class_support`]). Withheld: the class's
/// baseline, uplift, interval, p-value and sign, the share's baseline and change (they need both
/// classes), and for the share's class (rural) the 下乡 link; the class's actual sales stay (a
/// measurement, not an estimate). The reason goes to [`WITHHELD`]. National rows are never
/// withheld (they pool every region's series). Not a privacy rule: small-cell suppression is
/// [`blank_small_classes`] / [`blank_suppressed_channels`].
///
/// # Errors
/// Frame failures (a missing column).
pub fn withhold_thin_classes<S: std::hash::BuildHasher>(
    table: &DataFrame,
    support: &HashMap<ClassCell, Support, S>,
    classes: [&str; 2],
    floor: (i64, i64),
) -> Result<DataFrame> {
    let (regions, categories) = cell_columns(table)?;
    let mut reasons: Vec<Vec<String>> = vec![Vec::new(); table.height()];
    let mut out = table.clone();
    let share = classes[0];
    let mut any_thin = vec![false; table.height()];
    for class in classes {
        let present = not_null(table, &format!("{class}_uplift_pct"))?;
        let mut thin = vec![false; table.height()];
        for i in 0..table.height() {
            let (Some(r), Some(c)) = (regions.get(i), categories.get(i)) else {
                continue;
            };
            if r == NATIONAL || !present[i] {
                continue;
            }
            let s = support
                .get(&(r.to_owned(), c.to_owned(), class.to_owned()))
                .copied()
                .unwrap_or_default();
            if s.merchants < floor.0 || s.days < floor.1 {
                thin[i] = true;
                any_thin[i] = true;
                reasons[i].push(format!(
                    "{} {class}: {} 户商户 merchants, {} 天有销售 days with sales (< {}, {})",
                    class_zh(class),
                    s.merchants,
                    s.days,
                    floor.0,
                    floor.1
                ));
            }
        }
        // Every per-class figure but the actual sales (a measurement, kept).
        let mut columns: Vec<String> = homeseason_metrics::split::FIGURES
            .iter()
            .filter(|c| **c != "actual_yuan")
            .map(|c| format!("{class}_{c}"))
            .collect();
        if class == share {
            columns.extend(
                homeseason_metrics::urban_rural::LINK_COLUMNS[2..]
                    .iter()
                    .map(|c| (*c).to_owned()),
            );
        }
        let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
        out = homeseason_ingest::blank_rows(&out, &thin, &columns)?;
    }
    let share_columns: Vec<String> = [
        "share_baseline_pct",
        "share_change_pp",
        "share_change_lower_pp",
        "share_change_upper_pp",
    ]
    .iter()
    .map(|c| format!("{share}_{c}"))
    .collect();
    let share_columns: Vec<&str> = share_columns.iter().map(String::as_str).collect();
    out = homeseason_ingest::blank_rows(&out, &any_thin, &share_columns)?;
    let text: Vec<Option<String>> = reasons
        .into_iter()
        .map(|r| {
            (!r.is_empty()).then(|| {
                format!(
                    "数据不足，估计不予公布 too little data, estimate withheld — {}",
                    r.join("; ")
                )
            })
        })
        .collect();
    add_reason(out, text)
}

/// The Chinese name of a split class.
fn class_zh(class: &str) -> &'static str {
    match class {
        "rural" => "乡村",
        "urban" => "城镇",
        "online" => "线上",
        "offline" => "线下",
        _ => "",
    }
}

/// `table` with `reasons` joined (`; `) to its [`WITHHELD`] column (added when absent).
fn add_reason(mut table: DataFrame, reasons: Vec<Option<String>>) -> Result<DataFrame> {
    let old: Vec<Option<String>> = match table.column(WITHHELD) {
        Ok(c) => c.str()?.iter().map(|v| v.map(str::to_owned)).collect(),
        Err(_) => vec![None; table.height()],
    };
    let joined: Vec<Option<String>> = old
        .into_iter()
        .zip(reasons)
        .map(|(a, b)| match (a, b) {
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (a, b) => a.or(b),
        })
        .collect();
    table.with_column(Column::new(WITHHELD.into(), joined))?;
    Ok(table)
}

/// `table` (`urban_rural_uplift`) with every figure blanked (null) of each row where a class
/// (rural, urban) with a figure rests on fewer than `k` merchants (`floors`,
/// [`merchant_floors`]), and of the rows the generic rule blanks with them
/// ([`blank_with_complements`]).
///
/// # Errors
/// Frame failures (a missing column).
pub fn blank_small_classes<S: std::hash::BuildHasher>(
    table: &DataFrame,
    floors: &HashMap<ClassCell, i64, S>,
    k: u32,
    campaign: &Campaign,
) -> Result<DataFrame> {
    let (regions, categories) = cell_columns(table)?;
    let present = |class: &str| not_null(table, &format!("{class}_actual_yuan"));
    let classes = homeseason_metrics::urban_rural::CLASSES;
    let has: Vec<Vec<bool>> = classes.iter().map(|c| present(c)).collect::<Result<_>>()?;
    let mut primary: HashSet<(String, String)> = HashSet::new();
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
        if small {
            primary.insert((r.to_owned(), c.to_owned()));
        }
    }
    blank_with_complements(table, &primary, classes, campaign)
}

/// `table` (a split table) with every figure blank (each numeric column but `level`) on the rows
/// of the region × category cells `primary` and of those the generic rule
/// [`suppress_cells`](crate::publish::suppress_cells) blanks with them, the reason in
/// [`WITHHELD`].
///
/// The cells are the table's region × category rows (both classes: the classes and the unknown
/// part add up to the row's total, which is published as the headline, so one class would give the
/// other back — a row is published or blank whole); their sizes the classes' actual sales. The
/// margins, each a published sum with its parts: a category's national row with the regions' rows
/// (per class, the regions add up to the nation), and a region's (or the nation's) `all_targeted`
/// row with its targeted categories' rows. A margin whose sum row the table lacks is no margin.
/// Within each margin, a single blank row draws the smallest other, until nothing changes, so no
/// published sum less the published rows gives a blank row back.
///
/// # Errors
/// Frame failures (a missing column).
pub fn blank_with_complements<S: std::hash::BuildHasher>(
    table: &DataFrame,
    primary: &HashSet<(String, String), S>,
    classes: [&str; 2],
    campaign: &Campaign,
) -> Result<DataFrame> {
    if primary.is_empty() {
        return Ok(table.clone());
    }
    let targeted = targeted_ids(campaign);
    let (regions, categories) = cell_columns(table)?;
    let actual = |class: &str| -> Result<Vec<f64>> {
        Ok(table
            .column(&format!("{class}_actual_yuan"))?
            .cast(&DataType::Float64)?
            .f64()?
            .iter()
            .map(|v| v.unwrap_or(0.0))
            .collect())
    };
    let (a0, a1) = (actual(classes[0])?, actual(classes[1])?);
    let mut index: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut sizes: Vec<f64> = Vec::new();
    for i in 0..table.height() {
        let (Some(r), Some(c)) = (regions.get(i), categories.get(i)) else {
            continue;
        };
        if let std::collections::btree_map::Entry::Vacant(e) =
            index.entry((r.to_owned(), c.to_owned()))
        {
            e.insert(sizes.len());
            sizes.push(a0[i].abs() + a1[i].abs());
        }
    }
    let merchants: Vec<u64> = {
        let mut m = vec![1u64; sizes.len()];
        for (cell, &i) in &index {
            if primary.contains(cell) {
                m[i] = 0;
            }
        }
        m
    };
    let all = homeseason_metrics::ALL_TARGETED;
    let mut by_category: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut by_region: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for ((r, c), &i) in &index {
        by_category.entry(c.as_str()).or_default().push(i);
        if c == all || targeted.contains(c.as_str()) {
            by_region.entry(r.as_str()).or_default().push(i);
        }
    }
    let mut margins: Vec<Vec<usize>> = Vec::new();
    for (c, cells) in by_category {
        if index.contains_key(&(NATIONAL.to_owned(), c.to_owned())) {
            margins.push(cells);
        }
    }
    for (r, cells) in by_region {
        if index.contains_key(&(r.to_owned(), all.to_owned())) {
            margins.push(cells);
        }
    }
    let decided = suppress_cells(&merchants, &sizes, &margins, 1);
    let blank: Vec<bool> = (0..table.height())
        .map(|i| match (regions.get(i), categories.get(i)) {
            (Some(r), Some(c)) => index
                .get(&(r.to_owned(), c.to_owned()))
                .is_some_and(|&x| decided.hidden[x]),
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
    let out = homeseason_ingest::blank_rows(table, &blank, &figures)?;
    let reasons = blank
        .iter()
        .map(|&b| {
            b.then(|| {
                "小单元格抑制（商户过少，或为防止由合计差分还原） small-cell suppression (too few merchants, or blanked so no published total gives one back)".to_owned()
            })
        })
        .collect();
    add_reason(out, reasons)
}

/// The campaign's targeted category ids.
fn targeted_ids(campaign: &Campaign) -> HashSet<&str> {
    campaign.categories.targeted_ids().collect()
}

/// The `region_code` and `category` columns of `frame`.
fn cell_columns(frame: &DataFrame) -> Result<(&StringChunked, &StringChunked)> {
    Ok((
        frame.column("region_code")?.str()?,
        frame.column("category")?.str()?,
    ))
}

/// Per row of `frame`, whether `column` holds a value.
fn not_null(frame: &DataFrame, column: &str) -> Result<Vec<bool>> {
    Ok(frame
        .column(column)?
        .is_not_null()
        .iter()
        .map(|v| v.unwrap_or(false))
        .collect())
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
            "online_actual_yuan" => [10.0; 7],
            "offline_actual_yuan" => [20.0; 7],
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
        assert_eq!(out.column(WITHHELD).unwrap().null_count(), 3);
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

    /// Merchant floors of 50 for every row of [`class_table`] in each of `classes`, but 2 for
    /// 330000's rural furniture (too few merchants for k = 5).
    fn thin_rural_furniture(classes: &[&str]) -> HashMap<ClassCell, i64> {
        let mut floors = HashMap::new();
        for r in ["110000", "330000", "000000"] {
            for c in ["furniture", "home_appliances", "all_targeted"] {
                for k in classes {
                    floors.insert((r.to_owned(), c.to_owned(), (*k).to_owned()), 50);
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
        floors
    }

    /// The rows of [`class_table`] blanked by the 2 × 2 rectangle around 330000's rural furniture:
    /// 110000 ×3, 330000 ×3, 000000 ×3 (furniture, home_appliances, all_targeted).
    const RECTANGLE: [bool; 9] = [true, true, false, true, true, false, false, false, false];

    /// The base cells of that rectangle: 110000 and 330000 × furniture and home_appliances, every
    /// class.
    fn rectangle_cells() -> Vec<usize> {
        [(0, 0), (0, 1), (1, 0), (1, 1)]
            .iter()
            .flat_map(|&(r, c)| (0..3).map(move |k| base_cell(r, c, k)))
            .collect()
    }

    /// 330000's rural furniture rests on 2 merchants (k = 5): the generic rule blanks its row and,
    /// all rows being the same size (ties go to the table's first row), 110000 furniture for the
    /// category's margin and each region's home appliances for its all_targeted margin — a 2 × 2
    /// rectangle; the national and all_targeted rows stay. The differencing attack over every
    /// published margin (headline totals, class sums, unknown sums), every blank row's classes
    /// unknown, recovers none of them. Blanking the small row alone would let the attack recover
    /// both of its classes.
    #[test]
    fn a_class_on_few_merchants_is_blanked_with_its_complements_and_the_attack_recovers_nothing() {
        let campaign = Campaign::default_2023();
        let table = class_table();
        let floors = thin_rural_furniture(&["rural", "urban", "unknown"]);
        let out = blank_small_classes(&table, &floors, 5, &campaign).unwrap();
        let blanked: Vec<bool> = out
            .column("rural_actual_yuan")
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .map(|v| v.is_none())
            .collect();
        assert_eq!(blanked, RECTANGLE);
        assert_eq!(out.column("countryside_weeks").unwrap().null_count(), 4);
        assert_eq!(out.column("level").unwrap().null_count(), 0);
        let blank_cells = rectangle_cells();
        let forms = published_forms(&out);
        assert!(
            homeseason_test_support::recoverable_weighted(&blank_cells, &forms).is_empty(),
            "a blanked class is recovered"
        );
        let hidden = [base_cell(1, 0, 0), base_cell(1, 0, 1)];
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

    /// The generic rule picks complements by size, not by kind: with large national and
    /// all_targeted rows, 330000 furniture (too few merchants) draws 110000 furniture (the
    /// smallest other row of the category), then each region's smallest other targeted category,
    /// a 2 × 2 rectangle; the national and all_targeted rows stay published, and the attack —
    /// every blank row's classes unknown, every published total and class sum known — recovers
    /// none of the blank cells.
    #[test]
    fn complements_are_the_smallest_rows_and_the_rectangle_gives_nothing_back() {
        let campaign = Campaign::default_2023();
        let mut table = class_table();
        let size: Vec<f64> = ["110000", "330000", "000000"]
            .iter()
            .flat_map(|r| {
                ["furniture", "home_appliances", "all_targeted"].map(|c| match (*r, c) {
                    ("000000", _) => 1000.0,
                    (_, "all_targeted") => 500.0,
                    ("110000", "furniture") => 10.0,
                    _ => 30.0,
                })
            })
            .collect();
        table
            .with_column(Column::new("rural_actual_yuan".into(), size.clone()))
            .unwrap();
        table
            .with_column(Column::new(
                "urban_actual_yuan".into(),
                vec![0.0; size.len()],
            ))
            .unwrap();
        let floors = thin_rural_furniture(&["rural", "urban"]);
        let out = blank_small_classes(&table, &floors, 5, &campaign).unwrap();
        let blanked: Vec<bool> = not_null(&out, "unknown_share_pct")
            .unwrap()
            .iter()
            .map(|v| !v)
            .collect();
        assert_eq!(blanked, RECTANGLE);
        let hidden = rectangle_cells();
        assert!(
            homeseason_test_support::recoverable_weighted(&hidden, &published_forms(&out))
                .is_empty(),
            "a blank cell is recovered"
        );
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
            "net_amount_yuan" => [5.0, 6.0, 0.0, 2.0, 9.0, 1.0],
        )
        .unwrap();
        let floors = merchant_floors(&area, &campaign).unwrap();
        let get = |r: &str, c: &str| floors[&(r.to_owned(), c.to_owned(), "urban".to_owned())];
        assert_eq!(get("330000", "furniture"), 3);
        assert_eq!(get("110000", "home_appliances"), 7);
        assert_eq!(get("330000", "all_targeted"), 3);
        assert_eq!(get("000000", "all_targeted"), 9);
        assert_eq!(get("000000", "furniture"), 3);
        // Days with sales: 1 September (5 + 6 yuan) and 2 September (0 + 2); 1 August is outside.
        let support = class_support(&area, "urban_rural", campaign.window, &campaign).unwrap();
        let s = support[&(
            "330000".to_owned(),
            "furniture".to_owned(),
            "urban".to_owned(),
        )];
        assert_eq!(
            s,
            Support {
                merchants: 3,
                days: 2
            }
        );
    }

    /// The data floor: 330000's rural furniture rests on 4 merchants (floor 10): its rural
    /// estimate, the share's baseline and change and the 下乡 link are withheld with the reason,
    /// its rural actual and its urban estimate stay; the national row stays though it is thin too;
    /// 110000, above the floor, is untouched.
    #[test]
    fn a_thin_class_estimate_is_withheld_with_its_reason_and_the_nation_stays() {
        let table = df!(
            "region_code" => ["330000", "110000", "000000"],
            "category" => ["furniture"; 3],
            "rural_actual_yuan" => [10.0; 3],
            "rural_uplift_pct" => [5.0; 3],
            "rural_lower_pct" => [1.0; 3],
            "urban_uplift_pct" => [7.0; 3],
            "rural_share_change_pp" => [0.5; 3],
            "countryside_lift_pct" => [2.0; 3],
        )
        .unwrap();
        let mut support = HashMap::new();
        for r in ["330000", "110000", "000000"] {
            for k in ["rural", "urban"] {
                let merchants = if k == "rural" && r != "110000" { 4 } else { 50 };
                support.insert(
                    (r.to_owned(), "furniture".to_owned(), k.to_owned()),
                    Support {
                        merchants,
                        days: 90,
                    },
                );
            }
        }
        let out = withhold_thin_classes(&table, &support, ["rural", "urban"], (10, 60)).unwrap();
        let nulls = |c: &str| -> Vec<bool> {
            out.column(c)
                .unwrap()
                .is_null()
                .iter()
                .map(|v| v.unwrap_or(false))
                .collect()
        };
        for c in [
            "rural_uplift_pct",
            "rural_lower_pct",
            "rural_share_change_pp",
            "countryside_lift_pct",
        ] {
            assert_eq!(nulls(c), [true, false, false], "{c}");
        }
        assert_eq!(nulls("rural_actual_yuan"), [false; 3]);
        assert_eq!(nulls("urban_uplift_pct"), [false; 3]);
        let reason = out
            .column(WITHHELD)
            .unwrap()
            .str()
            .unwrap()
            .get(0)
            .unwrap()
            .to_owned();
        assert!(
            reason.contains("乡村 rural: 4") && reason.contains("< 10, 60"),
            "{reason}"
        );
        assert_eq!(nulls(WITHHELD), [false, true, true]);
        // Too few days with sales withholds as well.
        let mut few_days = support.clone();
        few_days.insert(
            (
                "110000".to_owned(),
                "furniture".to_owned(),
                "urban".to_owned(),
            ),
            Support {
                merchants: 50,
                days: 59,
            },
        );
        let out = withhold_thin_classes(&table, &few_days, ["rural", "urban"], (10, 60)).unwrap();
        assert_eq!(out.column("urban_uplift_pct").unwrap().null_count(), 1);
    }
}
