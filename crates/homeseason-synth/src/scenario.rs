//! Stress scenarios: named real-world failure modes layered on the sample season, for
//! `homeseason evaluate --scenario NAME`. The clean season is [`Scenario::Clean`]; every other
//! scenario changes only what its description says, and `truth.csv` stays the uplift of the targeted
//! categories over the window (what a perfect estimator should report).
//!
//! | id | what changes |
//! |---|---|
//! | `clean` | nothing: the default sample season |
//! | `spillover` | the campaign spills into the controls: supermarkets (MCC 5411 sells small appliances and textiles and takes the same vouchers) gain [`SPILL_SUPERMARKET`] × the region's mean targeted uplift over the window (same time profile), restaurants [`SPILL_RESTAURANT`] × |
//! | `control-break` | the control–target relation breaks during the prior comparison year: from [`break_date`] (1 July of that year, 2022-07-01 for the 2023 season) supermarket sales drop to [`BREAK_FACTOR`] of their level (community group-buying takes a share) and stay there |
//! | `housing-drift` | a housing-cycle drift in furniture and building materials: from [`drift_start`] (1 July of the history's first year, 2021-07-01 for the 2023 season) their level falls by `exp(−0.05·τ − 0.05·τ²)`, τ in years (≈ −29 % by September 2023 and still accelerating through the window) |
//! | `missing-late` | missing days and late files: [`MISSING_SHARE`] of region-days carry no payment rows at all, and three regions' last [`LATE_DAYS`] days of the window have not arrived |
//! | `early-local-event` | each local-station event starts 14–28 days *before* the campaign and runs 35–49 days, so it lifts the end of the pre-period too |

use chrono::{Datelike, NaiveDate};
use homeseason_schema::campaign::Campaign;
use homeseason_schema::category::Category;

/// A named stress scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// The default sample season.
    #[default]
    Clean,
    /// Campaign spillover into the control categories.
    Spillover,
    /// A break in the control–target relation during the prior comparison year.
    ControlBreak,
    /// Housing-cycle drift in furniture and building materials from the history's first year.
    HousingDrift,
    /// Missing days and late files.
    MissingLate,
    /// Local events that start before the campaign.
    EarlyLocalEvent,
}

/// Supermarkets' spillover, as a multiple of the region's mean targeted uplift.
pub const SPILL_SUPERMARKET: f64 = 0.5;
/// Restaurants' spillover, as a multiple of the region's mean targeted uplift.
pub const SPILL_RESTAURANT: f64 = 0.25;
/// Month and day of the control break and of the start of the housing drift (1 July).
pub const MID_YEAR: (u32, u32) = (7, 1);

/// First day of the control break: 1 July of the campaign's prior comparison year.
#[must_use]
pub fn break_date(campaign: &Campaign) -> NaiveDate {
    NaiveDate::from_ymd_opt(campaign.prior_year(), MID_YEAR.0, MID_YEAR.1).unwrap_or_default()
}

/// First day of the housing drift: 1 July of the year the campaign's history starts.
#[must_use]
pub fn drift_start(campaign: &Campaign) -> NaiveDate {
    NaiveDate::from_ymd_opt(campaign.history_start.year(), MID_YEAR.0, MID_YEAR.1)
        .unwrap_or_default()
}
/// Supermarket level after the break.
pub const BREAK_FACTOR: f64 = 0.85;
/// Share of region-days with no payment rows.
pub const MISSING_SHARE: f64 = 0.02;
/// Days at the end of the window that have not arrived for the late regions.
pub const LATE_DAYS: i64 = 14;

impl Scenario {
    /// Every scenario, the clean one first.
    pub const ALL: [Scenario; 6] = [
        Scenario::Clean,
        Scenario::Spillover,
        Scenario::ControlBreak,
        Scenario::HousingDrift,
        Scenario::MissingLate,
        Scenario::EarlyLocalEvent,
    ];

    /// Stable id (the `--scenario` value).
    #[must_use]
    pub fn id(self) -> &'static str {
        match self {
            Scenario::Clean => "clean",
            Scenario::Spillover => "spillover",
            Scenario::ControlBreak => "control-break",
            Scenario::HousingDrift => "housing-drift",
            Scenario::MissingLate => "missing-late",
            Scenario::EarlyLocalEvent => "early-local-event",
        }
    }

    /// Parse an id.
    #[must_use]
    pub fn from_id(id: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|s| s.id() == id)
    }

    /// One line on what the scenario changes, with the campaign's dates.
    #[must_use]
    pub fn describe(self, campaign: &Campaign) -> String {
        match self {
            Scenario::Clean => "the default sample season".to_owned(),
            Scenario::Spillover => "the campaign spills into the controls: supermarkets +0.5×, restaurants +0.25× the region's mean targeted uplift over the window".to_owned(),
            Scenario::ControlBreak => format!(
                "from {} supermarket sales drop to 85 % of their level and stay there (control–target relation breaks)",
                break_date(campaign)
            ),
            Scenario::HousingDrift => format!(
                "furniture and building materials fall by exp(−0.05τ − 0.05τ²) from {} (τ in years)",
                drift_start(campaign)
            ),
            Scenario::MissingLate => "2 % of region-days carry no payment rows; three regions' last 14 days of the window have not arrived".to_owned(),
            Scenario::EarlyLocalEvent => "local-station events start 14–28 days before the campaign and run 35–49 days".to_owned(),
        }
    }

    /// The scenario's multiplicative change to the campaign-free level of category `c` on `date`
    /// (its dates from `campaign`).
    pub(crate) fn level_factor(self, c: Category, date: NaiveDate, campaign: &Campaign) -> f64 {
        match self {
            Scenario::ControlBreak
                if c == Category::Supermarket && date >= break_date(campaign) =>
            {
                BREAK_FACTOR
            }
            Scenario::HousingDrift
                if matches!(c, Category::Furniture | Category::BuildingMaterials) =>
            {
                let from = drift_start(campaign);
                #[allow(clippy::cast_precision_loss)]
                let tau = ((date - from).num_days().max(0) as f64) / 365.25;
                (-0.05 * tau - 0.05 * tau * tau).exp()
            }
            _ => 1.0,
        }
    }

    /// The spillover multiple of the region's mean targeted uplift for an untargeted category.
    pub(crate) fn spill(self, c: Category) -> f64 {
        match (self, c) {
            (Scenario::Spillover, Category::Supermarket) => SPILL_SUPERMARKET,
            (Scenario::Spillover, Category::Restaurant) => SPILL_RESTAURANT,
            _ => 0.0,
        }
    }
}

impl std::fmt::Display for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_factors_apply_where_described() {
        for s in Scenario::ALL {
            assert_eq!(Scenario::from_id(s.id()), Some(s));
        }
        assert_eq!(Scenario::from_id("nope"), None);
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        let c = Campaign::default_2023();
        let b = Scenario::ControlBreak;
        assert!((b.level_factor(Category::Supermarket, d(2022, 6, 30), &c) - 1.0).abs() < 1e-12);
        assert!((b.level_factor(Category::Supermarket, d(2022, 7, 1), &c) - 0.85).abs() < 1e-12);
        assert!((b.level_factor(Category::Furniture, d(2023, 1, 1), &c) - 1.0).abs() < 1e-12);
        let h = Scenario::HousingDrift;
        let sep = h.level_factor(Category::Furniture, d(2023, 9, 1), &c);
        assert!((0.68..0.75).contains(&sep), "{sep}");
        assert!((h.level_factor(Category::Restaurant, d(2023, 9, 1), &c) - 1.0).abs() < 1e-12);
        // The 2023 season's descriptions are as before; the 2024 season's dates move with it.
        assert_eq!(
            b.describe(&c),
            "from 2022-07-01 supermarket sales drop to 85 % of their level and stay there (control–target relation breaks)"
        );
        assert!(h.describe(&c).contains("from 2021-07-01 "));
        let (t, _) = Campaign::embedded("2024").unwrap();
        assert_eq!(break_date(&t), d(2023, 7, 1));
        assert_eq!(drift_start(&t), d(2022, 7, 1));
        assert_eq!(Scenario::Clean.describe(&t), "the default sample season");
        assert!(Scenario::Spillover.spill(Category::Supermarket) > 0.0);
        assert!(Scenario::Clean.spill(Category::Supermarket).abs() < 1e-12);
    }
}
