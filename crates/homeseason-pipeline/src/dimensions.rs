//! The dimensions beyond region × category (issue 18), written in the uplift step: online and
//! offline (`channel_uplift`, see `homeseason_metrics::channel`) with the suppression of what the
//! report and the workbook publish of it, and themes and subcategories (`theme_summary`, see
//! `homeseason_metrics::themes`; counts of activities and enterprises and sums of sales, not payment
//! cells, so small-cell suppression does not apply).

use std::collections::HashSet;

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
        touched.insert((r.to_owned(), c.to_owned()));
        touched.insert((NATIONAL.to_owned(), c.to_owned()));
        if targeted.contains(c) {
            touched.insert((r.to_owned(), homeseason_metrics::ALL_TARGETED.to_owned()));
            touched.insert((
                NATIONAL.to_owned(),
                homeseason_metrics::ALL_TARGETED.to_owned(),
            ));
        }
    }
    let (rows_r, rows_c) = (
        channels.column("region_code")?.str()?,
        channels.column("category")?.str()?,
    );
    let blank: Vec<bool> = (0..channels.height())
        .map(|i| match (rows_r.get(i), rows_c.get(i)) {
            (Some(r), Some(c)) => touched.contains(&(r.to_owned(), c.to_owned())),
            _ => false,
        })
        .collect();
    let figures: Vec<String> = channels
        .columns()
        .iter()
        .filter(|c| {
            (c.dtype().is_float() || c.dtype().is_integer()) && c.name().as_str() != "level"
        })
        .map(|c| c.name().to_string())
        .collect();
    let figures: Vec<&str> = figures.iter().map(String::as_str).collect();
    Ok(homeseason_ingest::blank_rows(channels, &blank, &figures)?)
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
}
