//! Stress scenarios: named real-world failure modes layered on the sample season, for
//! `homeseason evaluate --scenario NAME`. The clean season is [`Scenario::Clean`]; every other
//! scenario changes only what its description says, and `truth.csv` stays the uplift of the targeted
//! categories over the window (what a perfect estimator should report).
//!
//! | id | what changes |
//! |---|---|
//! | `clean` | nothing: the default sample season |
//! | `spillover` | the campaign spills into the controls: supermarkets (MCC 5411 sells small appliances and textiles and takes the same vouchers) gain [`SPILL_SUPERMARKET`] × the region's mean targeted uplift over the window (same time profile), restaurants [`SPILL_RESTAURANT`] × |
//! | `control-break` | the control–target relation breaks during 2022: from [`BREAK_DATE`] supermarket sales drop to [`BREAK_FACTOR`] of their level (community group-buying takes a share) and stay there |
//! | `housing-drift` | a housing-cycle drift in furniture and building materials: from 2021-07-01 their level falls by `exp(−0.05·τ − 0.05·τ²)`, τ in years (≈ −29 % by September 2023 and still accelerating through the window) |
//! | `missing-late` | missing days and late files: [`MISSING_SHARE`] of region-days carry no payment rows at all, and three regions' last [`LATE_DAYS`] days of the window have not arrived |
//! | `early-local-event` | each local-station event starts 14–28 days *before* the campaign and runs 35–49 days, so it lifts the end of the pre-period too |

use chrono::NaiveDate;
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
    /// A break in the control–target relation during 2022.
    ControlBreak,
    /// Housing-cycle drift in furniture and building materials from 2021.
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
/// First day of the control break.
pub const BREAK_DATE: (i32, u32, u32) = (2022, 7, 1);
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

    /// One line on what the scenario changes.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Scenario::Clean => "the default sample season",
            Scenario::Spillover => {
                "the campaign spills into the controls: supermarkets +0.5×, restaurants +0.25× the region's mean targeted uplift over the window"
            }
            Scenario::ControlBreak => {
                "from 2022-07-01 supermarket sales drop to 85 % of their level and stay there (control–target relation breaks)"
            }
            Scenario::HousingDrift => {
                "furniture and building materials fall by exp(−0.05τ − 0.05τ²) from 2021-07-01 (τ in years)"
            }
            Scenario::MissingLate => {
                "2 % of region-days carry no payment rows; three regions' last 14 days of the window have not arrived"
            }
            Scenario::EarlyLocalEvent => {
                "local-station events start 14–28 days before the campaign and run 35–49 days"
            }
        }
    }

    /// The scenario's multiplicative change to the campaign-free level of category `c` on `date`.
    pub(crate) fn level_factor(self, c: Category, date: NaiveDate) -> f64 {
        match self {
            Scenario::ControlBreak
                if c == Category::Supermarket
                    && date
                        >= NaiveDate::from_ymd_opt(BREAK_DATE.0, BREAK_DATE.1, BREAK_DATE.2)
                            .unwrap_or_default() =>
            {
                BREAK_FACTOR
            }
            Scenario::HousingDrift
                if matches!(c, Category::Furniture | Category::BuildingMaterials) =>
            {
                let from = NaiveDate::from_ymd_opt(2021, 7, 1).unwrap_or_default();
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
        let b = Scenario::ControlBreak;
        assert!((b.level_factor(Category::Supermarket, d(2022, 6, 30)) - 1.0).abs() < 1e-12);
        assert!((b.level_factor(Category::Supermarket, d(2022, 7, 1)) - 0.85).abs() < 1e-12);
        assert!((b.level_factor(Category::Furniture, d(2023, 1, 1)) - 1.0).abs() < 1e-12);
        let h = Scenario::HousingDrift;
        let sep = h.level_factor(Category::Furniture, d(2023, 9, 1));
        assert!((0.68..0.75).contains(&sep), "{sep}");
        assert!((h.level_factor(Category::Restaurant, d(2023, 9, 1)) - 1.0).abs() < 1e-12);
        assert!(Scenario::Spillover.spill(Category::Supermarket) > 0.0);
        assert!(Scenario::Clean.spill(Category::Supermarket).abs() < 1e-12);
    }
}
