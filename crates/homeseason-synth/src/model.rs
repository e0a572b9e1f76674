//! The parameters of the latent daily model, in one place.
//!
//! Categories are indexed by their position in [`Category::ALL`]: home appliances, furniture, home
//! textiles, building materials, supermarket, restaurant, fuel, other.

use chrono::{Datelike, NaiveDate};
use homeseason_schema::calendar::{self, DayType, Holiday, ShoppingFestival};
use homeseason_schema::category::Category;

/// Number of categories ([`Category::ALL`]).
pub(crate) const NCAT: usize = 8;

/// Index of a category in [`Category::ALL`].
pub(crate) fn cat_index(c: Category) -> usize {
    Category::ALL
        .iter()
        .position(|&x| x == c)
        .unwrap_or(NCAT - 1)
}

/// The MCCs of category index `ci` (see [`cat_index`]) with their indices into [`MCCS`], in order.
pub(crate) fn mccs_of(ci: usize) -> impl Iterator<Item = (usize, &'static MccSpec)> {
    MCCS.iter()
        .enumerate()
        .filter(move |(_, m)| cat_index(m.category) == ci)
}

/// Base daily value (yuan) of a category in a region of weight 1 (≈ 1 trillion yuan GDP).
pub(crate) const CATEGORY_BASE: [f64; NCAT] =
    [1.2e6, 6.0e5, 2.5e5, 8.0e5, 4.0e6, 3.5e6, 1.5e6, 1.0e6];

/// Share of the institutions' value that acquirer acq_a carries.
pub(crate) const ACQ_A_SHARE: f64 = 0.85;

/// One merchant category code the generator emits.
pub(crate) struct MccSpec {
    /// Four-digit code.
    pub(crate) code: &'static str,
    /// Category in the generator's model.
    pub(crate) category: Category,
    /// Share of the category's value.
    pub(crate) share: f64,
    /// Online share of value on an ordinary day (0 = offline only).
    pub(crate) online: f64,
    /// acq_a mean ticket (yuan), offline; online tickets are 0.8×.
    pub(crate) acq_ticket: f64,
    /// Refund share of gross.
    pub(crate) refund_rate: f64,
    /// acq_a merchants per unit of region weight (offline; online is 8 %).
    pub(crate) acq_pool: f64,
    /// wallet_b mean ticket (yuan) and log-sd.
    pub(crate) wallet_ticket: (f64, f64),
    /// wallet_b merchants per unit of region weight.
    pub(crate) wallet_pool: f64,
    /// wallet_b sale rows expected at scale 1 over 37 regions × three years.
    pub(crate) wallet_rows: f64,
    /// Shop hours in minutes after midnight, one or two spans.
    pub(crate) hours: &'static [(u32, u32)],
}

const HOME_HOURS: &[(u32, u32)] = &[(570, 1290)];

/// The MCCs emitted, sorted by code. 5999 is deliberately absent from the campaign's MCC map.
pub(crate) const MCCS: [MccSpec; 12] = [
    MccSpec {
        code: "1520",
        category: Category::BuildingMaterials,
        share: 0.30,
        online: 0.0,
        acq_ticket: 15_000.0,
        refund_rate: 0.025,
        acq_pool: 30.0,
        wallet_ticket: (6500.0, 1.0),
        wallet_pool: 10.0,
        wallet_rows: 3_400.0,
        hours: &[(510, 1080)],
    },
    MccSpec {
        code: "5211",
        category: Category::BuildingMaterials,
        share: 0.50,
        online: 0.0,
        acq_ticket: 2400.0,
        refund_rate: 0.03,
        acq_pool: 80.0,
        wallet_ticket: (1300.0, 1.0),
        wallet_pool: 25.0,
        wallet_rows: 5_900.0,
        hours: &[(510, 1140)],
    },
    MccSpec {
        code: "5411",
        category: Category::Supermarket,
        share: 1.0,
        online: 0.0,
        acq_ticket: 130.0,
        refund_rate: 0.02,
        acq_pool: 600.0,
        wallet_ticket: (68.0, 0.8),
        wallet_pool: 200.0,
        wallet_rows: 42_600.0,
        hours: &[(450, 1350)],
    },
    MccSpec {
        code: "5541",
        category: Category::Fuel,
        share: 1.0,
        online: 0.0,
        acq_ticket: 300.0,
        refund_rate: 0.02,
        acq_pool: 90.0,
        wallet_ticket: (250.0, 0.4),
        wallet_pool: 30.0,
        wallet_rows: 15_400.0,
        hours: &[(360, 1380)],
    },
    MccSpec {
        code: "5712",
        category: Category::Furniture,
        share: 1.0,
        online: 0.15,
        acq_ticket: 4500.0,
        refund_rate: 0.05,
        acq_pool: 100.0,
        wallet_ticket: (2600.0, 0.9),
        wallet_pool: 35.0,
        wallet_rows: 9_400.0,
        hours: HOME_HOURS,
    },
    MccSpec {
        code: "5713",
        category: Category::BuildingMaterials,
        share: 0.20,
        online: 0.0,
        acq_ticket: 3800.0,
        refund_rate: 0.035,
        acq_pool: 35.0,
        wallet_ticket: (2100.0, 0.9),
        wallet_pool: 12.0,
        wallet_rows: 4_300.0,
        hours: HOME_HOURS,
    },
    MccSpec {
        code: "5714",
        category: Category::HomeTextiles,
        share: 1.0,
        online: 0.30,
        acq_ticket: 900.0,
        refund_rate: 0.045,
        acq_pool: 50.0,
        wallet_ticket: (420.0, 0.8),
        wallet_pool: 20.0,
        wallet_rows: 7_700.0,
        hours: HOME_HOURS,
    },
    MccSpec {
        code: "5722",
        category: Category::HomeAppliances,
        share: 0.62,
        online: 0.30,
        acq_ticket: 3200.0,
        refund_rate: 0.04,
        acq_pool: 120.0,
        wallet_ticket: (1800.0, 0.9),
        wallet_pool: 40.0,
        wallet_rows: 12_000.0,
        hours: HOME_HOURS,
    },
    MccSpec {
        code: "5732",
        category: Category::HomeAppliances,
        share: 0.38,
        online: 0.40,
        acq_ticket: 2600.0,
        refund_rate: 0.05,
        acq_pool: 90.0,
        wallet_ticket: (1500.0, 0.9),
        wallet_pool: 30.0,
        wallet_rows: 9_400.0,
        hours: HOME_HOURS,
    },
    MccSpec {
        code: "5812",
        category: Category::Restaurant,
        share: 1.0,
        online: 0.0,
        acq_ticket: 170.0,
        refund_rate: 0.02,
        acq_pool: 1200.0,
        wallet_ticket: (88.0, 0.7),
        wallet_pool: 400.0,
        wallet_rows: 42_600.0,
        hours: &[(630, 840), (1020, 1290)],
    },
    MccSpec {
        code: "5999",
        category: Category::Other,
        share: 0.75,
        online: 0.0,
        acq_ticket: 380.0,
        refund_rate: 0.04,
        acq_pool: 300.0,
        wallet_ticket: (190.0, 1.0),
        wallet_pool: 100.0,
        wallet_rows: 23_900.0,
        hours: &[(540, 1320)],
    },
    MccSpec {
        code: "7629",
        category: Category::Other,
        share: 0.25,
        online: 0.0,
        acq_ticket: 260.0,
        refund_rate: 0.03,
        acq_pool: 60.0,
        wallet_ticket: (150.0, 0.7),
        wallet_pool: 20.0,
        wallet_rows: 5_900.0,
        hours: &[(540, 1140)],
    },
];

/// Number of MCCs emitted.
pub(crate) const NMCC: usize = MCCS.len();

/// The MCC left out of the campaign map on purpose (counts as "other").
pub(crate) const UNMAPPED_MCC: &str = "5999";

/// Monthly seasonality (Jan..Dec) per category; interpolated between mid-months.
const SEASON: [[f64; 12]; NCAT] = [
    [
        0.95, 0.80, 0.90, 0.95, 1.00, 1.20, 1.12, 1.02, 0.95, 1.05, 1.08, 1.00,
    ], // appliances
    [
        1.00, 0.70, 0.95, 1.00, 1.05, 1.03, 0.95, 0.95, 1.05, 1.10, 1.10, 1.12,
    ], // furniture
    [
        1.10, 0.75, 0.90, 0.95, 0.95, 0.95, 0.85, 0.90, 1.05, 1.10, 1.25, 1.20,
    ], // textiles
    [
        0.80, 0.60, 1.00, 1.10, 1.10, 1.05, 0.95, 0.95, 1.05, 1.10, 1.12, 1.15,
    ], // building materials
    [
        1.15, 1.05, 0.95, 0.95, 0.97, 0.97, 0.97, 0.98, 1.00, 1.00, 1.00, 1.06,
    ], // supermarket
    [
        1.05, 1.00, 0.92, 0.95, 1.00, 0.98, 1.02, 1.02, 0.98, 1.02, 0.96, 1.08,
    ], // restaurant
    [
        0.97, 0.92, 0.98, 1.00, 1.02, 1.00, 1.04, 1.04, 1.00, 1.03, 0.99, 1.00,
    ], // fuel
    [
        1.00, 0.90, 0.98, 1.00, 1.00, 1.02, 1.00, 1.00, 1.00, 1.02, 1.05, 1.03,
    ], // other
];

/// Weekday factors Mon..Sun per category (home goods higher on weekends).
const DOW: [[f64; 7]; NCAT] = [
    [0.86, 0.85, 0.86, 0.88, 0.96, 1.32, 1.27],
    [0.84, 0.83, 0.85, 0.87, 0.95, 1.38, 1.30],
    [0.88, 0.87, 0.88, 0.90, 0.97, 1.25, 1.22],
    [0.90, 0.90, 0.91, 0.92, 0.96, 1.22, 1.15],
    [0.93, 0.92, 0.93, 0.95, 1.03, 1.16, 1.10],
    [0.88, 0.88, 0.90, 0.94, 1.12, 1.22, 1.06],
    [1.00, 0.98, 0.98, 1.00, 1.06, 1.00, 0.97],
    [0.96, 0.96, 0.97, 0.98, 1.01, 1.07, 1.04],
];

/// Holiday-day factors per category (replacing the weekday factor).
fn holiday_factor(h: Holiday) -> [f64; NCAT] {
    match h {
        Holiday::NewYear => [1.25, 1.20, 1.25, 1.05, 1.15, 1.25, 1.05, 1.10],
        Holiday::SpringFestival => [0.40, 0.30, 0.45, 0.20, 1.20, 0.95, 0.85, 0.60],
        Holiday::Qingming => [1.10, 1.10, 1.05, 1.10, 1.08, 1.20, 1.15, 1.05],
        Holiday::LabourDay => [1.55, 1.60, 1.35, 1.50, 1.12, 1.35, 1.15, 1.10],
        Holiday::DragonBoat => [1.15, 1.10, 1.05, 1.05, 1.12, 1.25, 1.10, 1.05],
        Holiday::MidAutumn => [1.30, 1.30, 1.20, 1.20, 1.25, 1.35, 1.10, 1.10],
        Holiday::NationalDay => [1.80, 1.95, 1.50, 1.70, 1.12, 1.35, 1.20, 1.10],
    }
}

/// Extra factor on the ten days before the Spring Festival block (new-year shopping).
const PRE_SPRING: [f64; NCAT] = [1.05, 0.95, 1.15, 0.85, 1.25, 1.05, 1.05, 1.05];

/// Shopping-festival multipliers (online part, offline part) per category.
fn festival_factor(f: ShoppingFestival) -> [(f64, f64); NCAT] {
    match f {
        ShoppingFestival::Jun18 => [
            (3.5, 1.15),
            (2.2, 1.05),
            (2.5, 1.05),
            (1.6, 1.03),
            (1.6, 1.0),
            (1.0, 1.0),
            (1.0, 1.0),
            (2.0, 1.03),
        ],
        ShoppingFestival::Double11 => [
            (4.5, 1.20),
            (3.2, 1.10),
            (4.0, 1.10),
            (2.0, 1.05),
            (2.2, 1.02),
            (1.0, 1.0),
            (1.0, 1.0),
            (2.8, 1.05),
        ],
        ShoppingFestival::Double12 => [
            (2.0, 1.05),
            (1.6, 1.03),
            (2.0, 1.05),
            (1.3, 1.02),
            (1.4, 1.0),
            (1.0, 1.0),
            (1.0, 1.0),
            (1.6, 1.02),
        ],
    }
}

/// How strongly a COVID depression hits each category (1 = as the national factor).
const COVID_SENSITIVITY: [f64; NCAT] = [1.0, 1.0, 1.0, 1.0, 0.7, 1.6, 1.2, 0.9];

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

/// National COVID factor: Apr–May 2022 ×0.85 (recovering over the first half of June), Nov 2022 ×0.92,
/// Dec 2022 ×0.78, recovering over 1–20 Jan 2023.
pub(crate) fn covid_national(d: NaiveDate) -> f64 {
    let ramp = |from: NaiveDate, to: NaiveDate, a: f64, b: f64| {
        let f = (d - from).num_days() as f64 / ((to - from).num_days() as f64).max(1.0);
        a + (b - a) * f
    };
    if (ymd(2022, 4, 1)..=ymd(2022, 5, 31)).contains(&d) {
        0.85
    } else if (ymd(2022, 6, 1)..=ymd(2022, 6, 15)).contains(&d) {
        ramp(ymd(2022, 5, 31), ymd(2022, 6, 16), 0.85, 1.0)
    } else if (ymd(2022, 11, 1)..=ymd(2022, 11, 30)).contains(&d) {
        0.92
    } else if (ymd(2022, 12, 1)..=ymd(2022, 12, 31)).contains(&d) {
        0.78
    } else if (ymd(2023, 1, 1)..=ymd(2023, 1, 20)).contains(&d) {
        ramp(ymd(2022, 12, 31), ymd(2023, 1, 21), 0.78, 1.0)
    } else {
        1.0
    }
}

/// A (year, month, day) triple.
type Ymd = (i32, u32, u32);

/// Regional lockdowns on top of the national factor: region, first day, last day, factor.
const REGIONAL_COVID: &[(&str, Ymd, Ymd, f64)] = &[
    ("610000", (2021, 12, 23), (2022, 1, 23), 0.85), // Xi'an
    ("440300", (2022, 3, 14), (2022, 3, 20), 0.80),  // Shenzhen
    ("220000", (2022, 3, 11), (2022, 4, 20), 0.80),  // Jilin / Changchun
    ("310000", (2022, 4, 1), (2022, 5, 31), 0.55),   // Shanghai
];

/// The COVID factor of a category in a region on a day.
pub(crate) fn covid(region: &str, cat: usize, d: NaiveDate) -> f64 {
    let mut f = covid_national(d);
    for &(code, s, e, x) in REGIONAL_COVID {
        if code == region && (ymd(s.0, s.1, s.2)..=ymd(e.0, e.1, e.2)).contains(&d) {
            f *= x;
        }
    }
    (1.0 - COVID_SENSITIVITY[cat] * (1.0 - f)).max(0.2)
}

/// Seasonality, interpolated linearly between month midpoints.
pub(crate) fn season(cat: usize, d: NaiveDate) -> f64 {
    let m = d.month0() as usize;
    let dim = days_in_month(d.year(), d.month());
    let pos = (f64::from(d.day()) - 0.5) / f64::from(dim); // (0, 1)
    let table = &SEASON[cat];
    if pos < 0.5 {
        let prev = table[(m + 11) % 12];
        prev + (table[m] - prev) * (pos + 0.5)
    } else {
        let next = table[(m + 1) % 12];
        table[m] + (next - table[m]) * (pos - 0.5)
    }
}

/// Days in a month.
pub(crate) fn days_in_month(y: i32, m: u32) -> u32 {
    let next = if m == 12 {
        ymd(y + 1, 1, 1)
    } else {
        ymd(y, m + 1, 1)
    };
    u32::try_from((next - ymd(y, m, 1)).num_days()).unwrap_or(30)
}

/// What the model needs to know about one calendar day, shared by all regions.
#[derive(Debug, Clone)]
pub(crate) struct DayInfo {
    /// The date.
    pub(crate) date: NaiveDate,
    /// Years since the first generated day.
    pub(crate) t: f64,
    /// Seasonality × weekday/holiday factor per category (before shopping festivals).
    pub(crate) factor: [f64; NCAT],
    /// Shopping festival on the day, if any.
    pub(crate) festival: Option<ShoppingFestival>,
}

impl DayInfo {
    /// Build the day's information.
    pub(crate) fn new(date: NaiveDate, first: NaiveDate) -> DayInfo {
        let t = (date - first).num_days() as f64 / 365.25;
        let dt = calendar::day_type(date);
        let wd = date.weekday().num_days_from_monday() as usize;
        let pre_spring = !matches!(dt, DayType::Holiday(_))
            && (1..=10).any(|k| {
                date.checked_add_days(chrono::Days::new(k))
                    .and_then(calendar::holiday)
                    .is_some_and(|(h, _)| h == Holiday::SpringFestival)
            });
        let mut factor = [0.0; NCAT];
        for (c, f) in factor.iter_mut().enumerate() {
            let day = match dt {
                DayType::Workday | DayType::Weekend | DayType::ShoppingFestival(_) => DOW[c][wd],
                // A Saturday or Sunday worked: like an ordinary midweek day.
                DayType::MakeupWorkday => (DOW[c][0] + DOW[c][1] + DOW[c][2] + DOW[c][3]) / 4.0,
                DayType::Holiday(h) => holiday_factor(h)[c],
            };
            let pre = if pre_spring { PRE_SPRING[c] } else { 1.0 };
            *f = season(c, date) * day * pre;
        }
        let festival = match dt {
            DayType::ShoppingFestival(f) => Some(f),
            _ => None,
        };
        DayInfo {
            date,
            t,
            factor,
            festival,
        }
    }

    /// The festival multiplier of an MCC's total value and its online share on the day.
    pub(crate) fn festival_and_online(&self, m: &MccSpec) -> (f64, f64) {
        let s = m.online;
        match self.festival {
            None => (1.0, s),
            Some(f) => {
                let (on, off) = festival_factor(f)[cat_index(m.category)];
                let total = (1.0 - s) * off + s * on;
                (total, s * on / total)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcc_shares_sum_to_one_per_category() {
        for c in Category::ALL {
            let s: f64 = MCCS
                .iter()
                .filter(|m| m.category == c)
                .map(|m| m.share)
                .sum();
            assert!((s - 1.0).abs() < 1e-9, "{c}: {s}");
        }
        let mut codes: Vec<&str> = MCCS.iter().map(|m| m.code).collect();
        codes.sort_unstable();
        assert_eq!(codes, MCCS.iter().map(|m| m.code).collect::<Vec<_>>());
    }

    #[test]
    fn golden_week_up_spring_festival_down_for_home_goods() {
        let first = ymd(2021, 1, 1);
        let gw = DayInfo::new(ymd(2023, 10, 3), first);
        let sf = DayInfo::new(ymd(2023, 1, 23), first);
        let wd = DayInfo::new(ymd(2023, 10, 11), first);
        assert!(gw.factor[0] > 1.5 * wd.factor[0]);
        assert!(sf.factor[1] < 0.5 * wd.factor[1]);
        assert!(sf.factor[4] > wd.factor[4]);
        let d11 = DayInfo::new(ymd(2023, 11, 11), first);
        let (mult, online) = d11.festival_and_online(&MCCS[7]);
        assert!(mult > 1.5 && online > 0.5, "{mult} {online}");
    }

    #[test]
    fn covid_depresses_late_2022() {
        assert!((covid("330000", 4, ymd(2022, 12, 10)) - (1.0 - 0.7 * 0.22)).abs() < 1e-12);
        assert!(covid("330000", 5, ymd(2022, 12, 10)) < 0.7);
        assert!(covid("310000", 0, ymd(2022, 4, 10)) < 0.5);
        assert!((covid("330000", 0, ymd(2023, 9, 10)) - 1.0).abs() < 1e-12);
    }
}
