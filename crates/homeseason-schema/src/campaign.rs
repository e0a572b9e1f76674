//! A campaign as configuration: window, baseline, categories, regions and the MCC map.
//!
//! The 2023 Home Renewal Consumption Season is embedded (`data/campaign-2023.toml`) and is the default;
//! the 2024 trade-in season is embedded too (`data/campaign-2024.toml`); any other campaign is a TOML
//! file of the same shape. [`Campaign::embedded`] finds an embedded campaign by its id or its year.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::category::Category;
use crate::region::{Region, Regions};
use crate::{Result, SchemaError};

/// The embedded default campaign file.
pub const DEFAULT_TOML: &str = include_str!("../data/campaign-2023.toml");

/// The embedded 2024 trade-in season (家电以旧换新 and 家装厨卫“焕新”).
pub const TRADE_IN_TOML: &str = include_str!("../data/campaign-2024.toml");

/// Every embedded campaign file, the default first.
pub const EMBEDDED: [&str; 2] = [DEFAULT_TOML, TRADE_IN_TOML];

/// `baseline.primary_method = "auto"`: the headline uses the method the backtest finds best calibrated.
pub const AUTO_METHOD: &str = "auto";

/// Every accepted `baseline.primary_method` (`regression` is also read, as `counterfactual_regression`).
pub const PRIMARY_METHODS: [&str; 4] = [
    AUTO_METHOD,
    "prior_year",
    "two_year",
    "counterfactual_regression",
];

/// An inclusive date range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateRange {
    /// First day.
    pub start: NaiveDate,
    /// Last day (inclusive).
    pub end: NaiveDate,
}

impl DateRange {
    /// Whether the range holds the date.
    #[must_use]
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.start <= date && date <= self.end
    }
    /// Number of days, inclusive.
    #[must_use]
    pub fn days(&self) -> i64 {
        (self.end - self.start).num_days() + 1
    }
    /// Every date in the range.
    pub fn iter(&self) -> impl Iterator<Item = NaiveDate> + use<> {
        let end = self.end;
        self.start.iter_days().take_while(move |d| *d <= end)
    }
}

/// How baselines are built.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BaselineConfig {
    /// Comparison years: the first is the prior year, the second the two-year base.
    pub comparison_years: Vec<i32>,
    /// Pre-period whose year-on-year growth scales the comparison year.
    pub pre_period: DateRange,
    /// Interval level, e.g. 0.9.
    pub level: f64,
    /// Method behind the headline numbers: `auto` (the default: the best-calibrated method on the
    /// backtest, see `homeseason_metrics::backtest`) or a method id pinned (`prior_year`, `two_year`,
    /// `counterfactual_regression`; `regression` is read as `counterfactual_regression`).
    pub primary_method: String,
    /// Comparison years known to be distorted.
    #[serde(default)]
    pub distorted_years: Vec<i32>,
    /// Periods left out when fitting the counterfactual regression (known shocks, e.g. the late-2022
    /// COVID wave), so they neither bias the fit nor carry into the window.
    #[serde(default)]
    pub masked: Vec<DateRange>,
    /// What the masked periods were, as the report's method section says it (default: their dates).
    #[serde(default)]
    pub masked_note: Option<Bilingual>,
    /// How the `distorted_years` were distorted and which way that biases a baseline, as the report's
    /// caveat says it after "the comparison years … are" (default: "known to be distorted").
    #[serde(default)]
    pub distortion_note: Option<Bilingual>,
}

/// A text in Chinese and in English.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bilingual {
    /// Chinese.
    pub zh: String,
    /// English.
    pub en: String,
}

impl BaselineConfig {
    /// The masked periods as the report names them: the campaign's `masked_note`, or their dates
    /// (`2022-11 至 2023-01`, `Nov 2022 – Jan 2023`); `None` when nothing is masked.
    #[must_use]
    pub fn masked_text(&self) -> Option<Bilingual> {
        if let Some(n) = &self.masked_note {
            return Some(n.clone());
        }
        if self.masked.is_empty() {
            return None;
        }
        let zh: Vec<String> = self
            .masked
            .iter()
            .map(|m| format!("{} 至 {}", m.start.format("%Y-%m"), m.end.format("%Y-%m")))
            .collect();
        let en: Vec<String> = self
            .masked
            .iter()
            .map(|m| format!("{} – {}", m.start.format("%b %Y"), m.end.format("%b %Y")))
            .collect();
        Some(Bilingual {
            zh: format!("剔除 {} 扰动期", zh.join("、")),
            en: format!("the distorted {} left out", en.join(", ")),
        })
    }

    /// How the comparison years were distorted: the campaign's `distortion_note`, or a generic text.
    #[must_use]
    pub fn distortion_text(&self) -> Bilingual {
        self.distortion_note.clone().unwrap_or_else(|| Bilingual {
            zh: "受到扰动".to_owned(),
            en: "known to be distorted".to_owned(),
        })
    }
}

/// Targeted and control categories.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CategoryConfig {
    /// Categories whose uplift is measured.
    pub targeted: Vec<Category>,
    /// Untargeted categories that move with the local economy.
    pub controls: Vec<Category>,
}

impl CategoryConfig {
    /// The targeted categories' ids (`home_appliances`, …), in the campaign file's order.
    pub fn targeted_ids(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.targeted.iter().map(|c| c.id())
    }
}

/// One MCC → category mapping.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MccEntry {
    /// Four-digit merchant category code, as text.
    pub code: String,
    /// Category it counts under.
    pub category: Category,
    /// Optional sub-category (flooring, pipes, …).
    #[serde(default)]
    pub subcategory: Option<String>,
    /// Network title of the MCC.
    pub title: String,
}

/// One subsidy instrument of the campaign (`[[instrument]]` in the campaign file): the values the
/// `subsidies` feed's `instrument` column may take. A file's value is matched against the id, both
/// names and the contract's `enum_aliases` of the id (`data-schemas/subsidies.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instrument {
    /// Stable id (`voucher`, `trade_in` …), stored in the lake.
    pub id: String,
    /// Chinese name (消费券).
    pub name_zh: String,
    /// English name.
    pub name_en: String,
}

/// The instruments of a campaign file without an `[[instrument]]` list: the four of the 2023
/// campaign (voucher 消费券, trade_in 以旧换新补贴, instalment_interest 分期贴息, other 其他).
pub const DEFAULT_INSTRUMENTS: [(&str, &str, &str); 4] = [
    ("voucher", "消费券", "Consumption voucher"),
    ("trade_in", "以旧换新补贴", "Trade-in subsidy"),
    (
        "instalment_interest",
        "分期贴息",
        "Instalment interest subsidy",
    ),
    ("other", "其他", "Other"),
];

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RegionConfig {
    include: toml::Value,
}

/// A campaign.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Campaign {
    /// Stable id, written into every output row.
    pub id: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// Short Chinese name activities carry (`家居焕新`, `以旧换新`); default: `name_zh`.
    #[serde(default)]
    pub short_zh: Option<String>,
    /// First day of expected history.
    pub history_start: NaiveDate,
    /// The campaign window.
    pub window: DateRange,
    /// Baseline settings.
    pub baseline: BaselineConfig,
    /// Categories.
    pub categories: CategoryConfig,
    regions: RegionConfig,
    /// MCC map.
    pub mcc: Vec<MccEntry>,
    /// Subsidy instruments (`[[instrument]]`); empty in a file without the list, which means
    /// [`DEFAULT_INSTRUMENTS`] ([`Campaign::instruments`]).
    #[serde(default, rename = "instrument", skip_serializing_if = "Vec::is_empty")]
    pub instrument: Vec<Instrument>,
}

impl Campaign {
    /// The embedded 2023 season.
    #[must_use]
    pub fn default_2023() -> Campaign {
        Campaign::from_toml(DEFAULT_TOML).expect("embedded campaign is valid (unit-tested)")
    }

    /// An embedded campaign by its id (`2024-trade-in`) or the year its window starts (`2024`).
    #[must_use]
    pub fn embedded(key: &str) -> Option<(Campaign, &'static str)> {
        EMBEDDED.iter().find_map(|text| {
            let c = Campaign::from_toml(text).ok()?;
            let year = c.window.start.format("%Y").to_string();
            (c.id == key || year == key).then_some((c, *text))
        })
    }

    /// The short Chinese name activities carry: `short_zh`, or the Chinese name.
    #[must_use]
    pub fn short_name_zh(&self) -> &str {
        self.short_zh.as_deref().unwrap_or(&self.name_zh)
    }

    /// Parse and check a campaign file's text.
    ///
    /// # Errors
    /// [`SchemaError::Campaign`] naming what is wrong.
    pub fn from_toml(text: &str) -> Result<Campaign> {
        let mut c: Campaign =
            toml::from_str(text).map_err(|e| SchemaError::Campaign(e.to_string()))?;
        if c.baseline.primary_method == "regression" {
            c.baseline.primary_method = "counterfactual_regression".into();
        }
        c.check()?;
        Ok(c)
    }

    /// The campaign's subsidy instruments: its `[[instrument]]` list, or [`DEFAULT_INSTRUMENTS`]
    /// when the file has none.
    #[must_use]
    pub fn instruments(&self) -> Vec<Instrument> {
        if self.instrument.is_empty() {
            DEFAULT_INSTRUMENTS
                .iter()
                .map(|(id, zh, en)| Instrument {
                    id: (*id).to_owned(),
                    name_zh: (*zh).to_owned(),
                    name_en: (*en).to_owned(),
                })
                .collect()
        } else {
            self.instrument.clone()
        }
    }

    fn check(&self) -> Result<()> {
        let bad = |m: String| Err(SchemaError::Campaign(m));
        let mut ids = std::collections::BTreeSet::new();
        for i in &self.instrument {
            let well_formed = !i.id.is_empty()
                && i.id.len() <= 40
                && i.id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !well_formed {
                return bad(format!(
                    "instrument id {:?} must be 1–40 lower-case letters, digits or _ 补贴方式编号 {:?} 只能由小写字母、数字和下划线组成",
                    i.id, i.id
                ));
            }
            if !ids.insert(i.id.as_str()) {
                return bad(format!(
                    "instrument {} is listed twice 补贴方式 {} 重复",
                    i.id, i.id
                ));
            }
        }
        if self.window.start > self.window.end {
            return bad("window.start is after window.end".into());
        }
        if self.history_start > self.baseline.pre_period.start {
            return bad("history_start is after baseline.pre_period.start".into());
        }
        let (first, last) = crate::calendar::YEARS;
        let (from, to) = (self.history_start.year(), self.window.end.year());
        if from < first || to > last {
            return bad(format!(
                "history_start … window.end ({from}–{to}) reach past the holiday calendar ({first}–{last}) \
                 历史起点至窗口结束（{from}–{to}）超出节假日日历（{first}–{last}）"
            ));
        }
        if self.baseline.pre_period.end >= self.window.start {
            return bad("baseline.pre_period must end before the window starts".into());
        }
        if !(0.5..1.0).contains(&self.baseline.level) {
            return bad(format!(
                "baseline.level {} must be in [0.5, 1)",
                self.baseline.level
            ));
        }
        if self.baseline.comparison_years.is_empty() {
            return bad("baseline.comparison_years is empty".into());
        }
        if !PRIMARY_METHODS.contains(&self.baseline.primary_method.as_str()) {
            return bad(format!(
                "unknown baseline.primary_method {:?} (one of {}) 未知的 baseline.primary_method {:?}（可选 {}）",
                self.baseline.primary_method,
                PRIMARY_METHODS.join(", "),
                self.baseline.primary_method,
                PRIMARY_METHODS.join("、"),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for m in &self.mcc {
            if m.code.len() != 4 || !m.code.bytes().all(|b| b.is_ascii_digit()) {
                return bad(format!("MCC {:?} is not four digits", m.code));
            }
            if !seen.insert(&m.code) {
                return bad(format!("MCC {} is mapped twice", m.code));
            }
        }
        self.regions()?;
        Ok(())
    }

    /// The regions this campaign reports on.
    ///
    /// # Errors
    /// When the list names an unknown region.
    pub fn regions(&self) -> Result<Vec<&'static Region>> {
        let all = Regions::embedded();
        match &self.regions.include {
            toml::Value::String(s) if s == "all" => Ok(all.all().iter().collect()),
            toml::Value::Array(items) => items
                .iter()
                .map(|v| {
                    let s = v.as_str().unwrap_or_default();
                    all.by_code(s)
                        .ok_or_else(|| SchemaError::UnknownRegion(s.to_owned()))
                })
                .collect(),
            other => Err(SchemaError::Campaign(format!(
                "regions.include must be \"all\" or a list, not {other}"
            ))),
        }
    }

    /// MCC → category, for every mapped code.
    #[must_use]
    pub fn mcc_map(&self) -> BTreeMap<&str, Category> {
        self.mcc
            .iter()
            .map(|m| (m.code.as_str(), m.category))
            .collect()
    }

    /// Category of an MCC; unmapped codes are [`Category::Other`].
    #[must_use]
    pub fn category_of(&self, mcc: &str) -> Category {
        self.mcc
            .iter()
            .find(|m| m.code == mcc)
            .map_or(Category::Other, |m| m.category)
    }

    /// The prior comparison year (the first in `comparison_years`).
    #[must_use]
    pub fn prior_year(&self) -> i32 {
        self.baseline.comparison_years[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_campaign_loads() {
        let c = Campaign::default_2023();
        assert_eq!(c.window.days(), 122);
        assert_eq!(c.regions().unwrap().len(), 37);
        assert_eq!(c.category_of("5722"), Category::HomeAppliances);
        assert_eq!(c.category_of("5411"), Category::Supermarket);
        assert_eq!(c.category_of("9999"), Category::Other);
        assert_eq!(c.category_of("1520"), Category::BuildingMaterials);
        assert_eq!(c.prior_year(), 2022);
    }

    /// The 2024 trade-in season: selectable by id and by year, its window and baseline, and the
    /// holiday calendar covers its history and window.
    #[test]
    fn trade_in_campaign_loads_by_id_and_year() {
        let (by_year, text) = Campaign::embedded("2024").unwrap();
        assert_eq!(text, TRADE_IN_TOML);
        let (by_id, _) = Campaign::embedded(&by_year.id).unwrap();
        assert_eq!(by_id.id, by_year.id);
        assert_eq!(by_year.window.start.year(), 2024);
        assert_eq!(by_year.prior_year(), 2023);
        assert!(by_year.baseline.pre_period.end < by_year.window.start);
        assert_eq!(by_year.regions().unwrap().len(), 37);
        assert_eq!(by_year.category_of("5722"), Category::HomeAppliances);
        assert_ne!(
            by_year.short_name_zh(),
            Campaign::default_2023().short_name_zh()
        );
        let (default, _) = Campaign::embedded("2023").unwrap();
        assert_eq!(default.id, Campaign::default_2023().id);
        assert!(Campaign::embedded("2019").is_none());
    }

    /// The 2023 file's notes read as the report has always written them; without notes the masked
    /// periods are named by their dates.
    #[test]
    fn masked_and_distortion_notes() {
        let c = Campaign::default_2023();
        let m = c.baseline.masked_text().unwrap();
        assert_eq!(m.zh, "剔除 2022-11 至 2023-01 疫情扰动期");
        assert_eq!(m.en, "the COVID-distorted Nov 2022 – Jan 2023 left out");
        let mut b = c.baseline.clone();
        b.masked_note = None;
        b.distortion_note = None;
        let m = b.masked_text().unwrap();
        assert_eq!(m.zh, "剔除 2022-11 至 2023-01 扰动期");
        assert_eq!(m.en, "the distorted Nov 2022 – Jan 2023 left out");
        assert_eq!(b.distortion_text().en, "known to be distorted");
        b.masked.clear();
        assert!(b.masked_text().is_none());
    }

    #[test]
    fn instruments_are_configuration() {
        let c = Campaign::default_2023();
        let ids: Vec<String> = c.instruments().into_iter().map(|i| i.id).collect();
        assert_eq!(ids, ["voucher", "trade_in", "instalment_interest", "other"]);
        assert_eq!(c.instrument.len(), 4, "the 2023 file lists them");
        // A file without the list has the same four.
        let start = DEFAULT_TOML.find("[[instrument]]").unwrap();
        let end = DEFAULT_TOML.find("# Merchant category code").unwrap();
        let without = format!("{}{}", &DEFAULT_TOML[..start], &DEFAULT_TOML[end..]);
        let bare = Campaign::from_toml(&without).unwrap();
        assert!(bare.instrument.is_empty());
        assert_eq!(bare.instruments(), c.instruments());
        // Another campaign lists its own; a malformed or repeated id is refused.
        let own = DEFAULT_TOML.replace("id = \"other\"", "id = \"appliance_upgrade\"");
        assert!(
            Campaign::from_toml(&own)
                .unwrap()
                .instruments()
                .iter()
                .any(|i| i.id == "appliance_upgrade")
        );
        let twice = DEFAULT_TOML.replace("id = \"other\"", "id = \"voucher\"");
        assert!(
            Campaign::from_toml(&twice)
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
        let bad = DEFAULT_TOML.replace("id = \"other\"", "id = \"../x\"");
        assert!(Campaign::from_toml(&bad).is_err());
    }

    #[test]
    fn bad_campaigns_are_refused() {
        let broken = DEFAULT_TOML.replace("start = \"2023-09-01\"", "start = \"2024-09-01\"");
        assert!(Campaign::from_toml(&broken).is_err());
        let early = DEFAULT_TOML.replace(
            "history_start = \"2021-01-01\"",
            "history_start = \"2019-01-01\"",
        );
        let err = Campaign::from_toml(&early).unwrap_err().to_string();
        assert!(err.contains("calendar") && err.contains("日历"), "{err}");
        let unknown = DEFAULT_TOML.replace("include = \"all\"", "include = [\"999999\"]");
        assert!(Campaign::from_toml(&unknown).is_err());
        let method = DEFAULT_TOML.replace("primary_method = \"auto\"", "primary_method = \"best\"");
        let err = Campaign::from_toml(&method).unwrap_err().to_string();
        assert!(err.contains("\"best\"") && err.contains("未知"), "{err}");
    }

    #[test]
    fn primary_method_is_auto_by_default_and_any_method_can_be_pinned() {
        assert_eq!(
            Campaign::default_2023().baseline.primary_method,
            AUTO_METHOD
        );
        for (written, read) in [
            ("prior_year", "prior_year"),
            ("two_year", "two_year"),
            ("counterfactual_regression", "counterfactual_regression"),
            ("regression", "counterfactual_regression"),
        ] {
            let text = DEFAULT_TOML.replace(
                "primary_method = \"auto\"",
                &format!("primary_method = \"{written}\""),
            );
            let c = Campaign::from_toml(&text).unwrap();
            assert_eq!(c.baseline.primary_method, read);
        }
    }
}
