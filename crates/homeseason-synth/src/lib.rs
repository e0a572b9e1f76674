//! # homeseason-synth
//!
//! A deterministic generator of sample data for homeseason: the four feeds a campaign evaluation
//! ingests, the activity lists, and the ground truth they were generated from. Same seed and
//! configuration → byte-identical files.
//!
//! ```no_run
//! use homeseason_synth::{NoProgress, SynthConfig, generate};
//! let config = SynthConfig::default(); // the default seed, scale 1, the default campaign's history and window
//! let summary = generate(&config, std::path::Path::new("sample-data"), &NoProgress).unwrap();
//! println!("{} files, truth in {}", summary.files.len(), summary.truth_path.display());
//! ```
//!
//! ## Files (paths relative to the output directory)
//!
//! | path | what |
//! |---|---|
//! | `payments/acq_a/payment_daily_acq_a_YYYY-MM.csv` | card acquirer, daily rows per region × MCC × channel: `date,institution,region_code,mcc,channel,txn_count,amount,refund_amount,merchant_count` |
//! | `payments/wallet_b/payment_transactions_wallet_b_YYYY-MM.csv` | QR wallet, one row per transaction at a county-level `region_code`: `txn_id,institution,txn_time,merchant_id,mcc,region_code,amount,txn_type,channel` |
//! | `enterprise_sales/enterprise_sales_<region>.csv` | key enterprises' monthly sales, Chinese header, 万元 or 元, three regions in GB18030 |
//! | `retail_stats/retail_stats_provincial.csv` | NBS-style provincial 社零 in 亿元 for the 31 provinces, Jan–Feb combined |
//! | `activities/activities_<region>.csv` | each region's 重点活动表 for the window, local-station events marked 地方站=是 |
//! | `subsidies/subsidies_<region>.csv` | subsidies and vouchers paid out per category × ISO week × instrument × funding source, 元 or 万元, one region with two prefecture-level cities; see the `subsidy` module |
//! | `truth_subsidies.csv` | the subsidy paid, the sales it drove and the injected uplift per region × category, per region and nationally: the true leverage ratio and the uplift per yuan of subsidy |
//! | `truth.csv`, `truth_local_events.csv` | the true uplift per region × targeted category (with the estimates of two oracles that know the counterfactual's expectation: `oracle_uplift_pct` over the region's economy and the cell's noise, `oracle_economy_uplift_pct` given the economy's path), and the injected local events |
//! | `truth_themes.csv` | per region (and nation) × theme or building-materials subcategory: the key enterprises, brands and window sales the enterprise files carry in their optional 细分品类 / 主题标签 columns (about half the regions' files have them) |
//! | `truth_channels.csv` | the true uplift per region (and nation) × targeted category × channel: the campaign lifts online more than offline by a drawn tilt (see below) |
//! | `truth_urban_rural.csv` | the true uplift per region (and nation) × targeted category × class (urban 市辖区, rural 县域) of wallet_b's county-level merchants: the campaign lifts rural areas less than towns, except on the days of the region's countryside-sales events (下乡), by drawn tilts (see below) |
//! | `truth_cities.csv` | only with [`AreaSpread::Dense`]: the true uplift per prefecture-level city × targeted category of wallet_b's merchants (truth.csv's columns, `region_code` the city's code, plus `reporting_region_code`); see the `cities` module |
//! | `synth.json` | this run's [`SynthSummary`]: seed, scale, files with rows, bytes and SHA-256, choices made |
//!
//! ## The latent model
//!
//! For region r, MCC m (category c) and day d, in yuan:
//!
//! value = level(r,c)·share(m) · e^{g_r t} · season(c, date) · day(c, day type) · festival(m, d) ·
//! e^{econ_r(d)} · covid(r, c, d) · noise(r, m, d) · (1 + u(r, c, d))
//!
//! - level: a region size weight (≈ 2022 GDP in trillion yuan, provinces net of their plan cities; XPCC
//!   smallest) × a category base (supermarket 4.0 M, restaurant 3.5 M, fuel 1.5 M, appliances 1.2 M,
//!   other 1.0 M, building materials 0.8 M, furniture 0.6 M, textiles 0.25 M yuan per day per unit
//!   weight) × the MCC's share of its category. A region × targeted category × day is mostly
//!   2·10^5–10^7 yuan.
//! - channels: appliances (5722 30 %, 5732 40 % online), furniture (15 %) and textiles (30 %) have an
//!   online part; every other MCC is offline only. The campaign's uplift `u` lifts the online part
//!   by `k_on·u` (`k_on ~ U(1.2, 1.6)` per region × targeted category) and the offline part by as
//!   much less that the cell's total is unchanged (`truth_channels.csv`; module `channels`).
//! - town and country: wallet_b's merchants sit in county-level areas, urban or rural by the bundled
//!   division list. The campaign's uplift `u` lifts rural sales by `k_rural·u` (`k_rural ~ U(0.4, 0.8)`
//!   per region × targeted category, + 1.5 on the days of the region's 家电下乡 / 家居下乡 activities)
//!   and urban sales by as much more that the cell's total is unchanged (`truth_urban_rural.csv`;
//!   module `urban_rural`).
//! - g_r ~ U(2 %, 8 %) a year; monthly seasonality interpolated between mid-months; weekday factors
//!   (home goods up at weekends); holiday factors from [`homeseason_schema::calendar::day_type`]
//!   (Golden Week strongly up and Spring Festival down for home goods, supermarkets up around Spring
//!   Festival); make-up workdays are ordinary workdays; 6.18 / 11.11 / 12.12 multiply mostly the online
//!   part, so the online share rises on those days.
//! - econ_r: a daily AR(1) log factor (φ 0.98, innovation sd 0.004) shared by every category of the
//!   region, controls included.
//! - covid: ×0.85 Apr–May 2022, ×0.92 Nov 2022, ×0.78 Dec 2022 (recovering over 1–20 Jan 2023), plus
//!   regional lockdowns (Shanghai Apr–May 2022 ×0.55, Jilin, Shenzhen, Xi'an); restaurants and fuel are
//!   hit 1.6× and 1.2× as hard, supermarkets 0.7×.
//! - noise: iid lognormal sd 0.04 per cell-day plus an AR(1) component (φ 0.8, sd 0.012).
//! - u: zero outside the campaign window and for untargeted categories; inside, a base uplift
//!   U(3 %, 12 %) per region × category times a time profile (mean 1; ×2 over Golden Week, rising into
//!   11.11) — of which a share U(35 %, 60 %) is driven by subsidies and missing on the days before a
//!   "late" region starts paying them (about a quarter of the regions start on the first Monday five
//!   weeks into the window), plus, for about ten local-station regions, +10–25 % during a 14–28-day local event
//!   (starts staggered across September–November).
//!
//! acq_a carries 85 % of every cell's value. wallet_b's book is the other 15 %, but its file is a
//! thinned sample of transactions with realistic ticket sizes (about 220 000 rows at scale 1; `scale`
//! multiplies the counts), each sale's expected amount proportional to the cell's value, so the wallet
//! carries far less than 15 % of value in the file (see [`SynthSummary::wallet_b_value_share`]). The
//! truth is computed from the daily values themselves, so it is what a perfect estimator of the
//! payment-data counterfactual would report, whichever institution it reads.
//!
//! ## Determinism
//!
//! Every random draw comes from a ChaCha8 stream seeded with the run's seed and a stream id named after
//! the feed, region and MCC, so adding a feed or a region does not shift the others' draws; maps are
//! iterated in sorted order.
#![deny(missing_docs)]

mod acq_a;
mod activities;
mod channels;
mod cities;
mod enterprise;
mod geo;
mod latent;
mod model;
mod output;
mod retail;
mod rng;
pub mod scenario;
mod subsidy;
mod themes;
mod truth;
mod urban_rural;
mod wallet_b;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use homeseason_schema::SchemaError;
use homeseason_schema::campaign::Campaign;
use serde::Serialize;

pub use channels::TRUTH_CHANNELS_FILE;
pub use cities::TRUTH_CITIES_FILE;
pub use scenario::Scenario;
pub use themes::TRUTH_THEMES_FILE;
pub use urban_rural::TRUTH_URBAN_RURAL_FILE;

/// The default seed.
pub const DEFAULT_SEED: u64 = 20_230_901;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthConfig {
    /// Seed of every random stream.
    pub seed: u64,
    /// Multiplier of wallet_b's transaction counts (1.0 ≈ 220 000 rows over three years); the other
    /// feeds do not depend on it.
    pub scale: f64,
    /// The campaign: window, targeted categories, regions and MCC map.
    pub campaign: Campaign,
    /// First day generated.
    pub start: NaiveDate,
    /// Last day generated (inclusive).
    pub end: NaiveDate,
    /// Stress scenario layered on the season ([`Scenario::Clean`]: none).
    pub scenario: Scenario,
    /// Where wallet_b's merchants sit ([`AreaSpread::Sample`]: a few county-level areas per region).
    pub areas: AreaSpread,
}

/// Where wallet_b's merchants sit, so which prefecture-level cities the area table
/// (`payment_area_daily`) has series for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AreaSpread {
    /// The sample season: each region's merchants in a handful of county-level areas of a few
    /// cities (the main city's districts first, then up to four rural counties).
    #[default]
    Sample,
    /// Every prefecture-level city of every region (about 340): each city has its first urban
    /// district and its first rural county-level division, the region's main city a larger share,
    /// and `truth_cities.csv` gives the true uplift per city × targeted category. For the
    /// city-level benchmark (`homeseason uplift --level city`); with `scale` about 20 and more the
    /// cities' daily series are more than noise.
    Dense,
}

impl AreaSpread {
    /// The command-line value: `sample` / `dense`.
    #[must_use]
    pub fn id(self) -> &'static str {
        match self {
            AreaSpread::Sample => "sample",
            AreaSpread::Dense => "dense",
        }
    }
}

impl std::str::FromStr for AreaSpread {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "sample" => Ok(AreaSpread::Sample),
            "dense" => Ok(AreaSpread::Dense),
            other => Err(format!(
                "unknown area spread {other:?}: sample | dense / 未知的区县分布（应为 sample 或 dense）"
            )),
        }
    }
}

impl Default for SynthConfig {
    /// The default seed and the embedded default campaign ([`SynthConfig::for_campaign`]).
    fn default() -> Self {
        SynthConfig::for_campaign(Campaign::default_2023(), DEFAULT_SEED)
    }
}

impl SynthConfig {
    /// The default configuration with another seed.
    #[must_use]
    pub fn with_seed(seed: u64) -> SynthConfig {
        SynthConfig {
            seed,
            ..SynthConfig::default()
        }
    }

    /// A sample season for `campaign`: its history from `history_start` to the end of its window,
    /// scale 1, no stress scenario.
    #[must_use]
    pub fn for_campaign(campaign: Campaign, seed: u64) -> SynthConfig {
        SynthConfig {
            seed,
            scale: 1.0,
            start: campaign.history_start,
            end: campaign.window.end,
            campaign,
            scenario: Scenario::Clean,
            areas: AreaSpread::Sample,
        }
    }

    /// Check the configuration.
    ///
    /// # Errors
    /// [`SynthError::Config`] when the scale is not positive, the range is empty or does not hold the
    /// campaign window, or the campaign's MCC map places one of the generated MCCs elsewhere than the
    /// model does.
    pub fn validate(&self) -> Result<(), SynthError> {
        let bad = |m: String| Err(SynthError::Config(m));
        if !(self.scale.is_finite() && self.scale > 0.0) {
            return bad(format!(
                "scale must be a positive number, not {}",
                self.scale
            ));
        }
        if self.start > self.end {
            return bad(format!("start {} is after end {}", self.start, self.end));
        }
        let w = self.campaign.window;
        if w.start < self.start || w.end > self.end {
            return bad(format!(
                "the campaign window {}…{} must lie inside the generated range {}…{}",
                w.start, w.end, self.start, self.end
            ));
        }
        for m in &model::MCCS {
            let mapped = self.campaign.category_of(m.code);
            if mapped != m.category {
                return bad(format!(
                    "the campaign maps MCC {} to {mapped}, the generator to {}",
                    m.code, m.category
                ));
            }
        }
        if self.campaign.regions()?.is_empty() {
            return bad("the campaign has no regions".to_owned());
        }
        Ok(())
    }
}

/// Receives progress messages (a library does not print).
pub trait Progress {
    /// One step done or started.
    fn step(&self, message: &str);
}

/// A [`Progress`] that ignores every message.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn step(&self, _message: &str) {}
}

impl<F: Fn(&str)> Progress for F {
    fn step(&self, message: &str) {
        self(message);
    }
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SynthError {
    /// The configuration is not usable.
    #[error("synth configuration: {0}")]
    Config(String),
    /// A domain value was rejected by the schema crate.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A CSV record could not be formatted.
    #[error("csv: {0}")]
    Csv(String),
    /// The summary could not be serialised.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

/// One written file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileInfo {
    /// Path relative to the output directory, `/`-separated.
    pub path: PathBuf,
    /// Data rows (the header not counted).
    pub rows: usize,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the contents, lower-case hex.
    pub sha256: String,
}

/// What a run wrote; also written as `synth.json` in the output directory.
#[derive(Debug, Clone, Serialize)]
pub struct SynthSummary {
    /// Seed used.
    pub seed: u64,
    /// Stress scenario (`clean` for the default season).
    pub scenario: Scenario,
    /// Where wallet_b's merchants sit: `None` for [`AreaSpread::Sample`] (not serialised, so the
    /// default season's `synth.json` is unchanged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub areas: Option<AreaSpread>,
    /// wallet_b count multiplier used.
    pub scale: f64,
    /// Campaign id.
    pub campaign_id: String,
    /// First generated day.
    pub start: NaiveDate,
    /// Last generated day.
    pub end: NaiveDate,
    /// Every data file (not `synth.json`) relative to the output directory, with its data-row count,
    /// sorted by path.
    pub files: Vec<(PathBuf, usize)>,
    /// The same files with sizes and SHA-256.
    pub file_details: Vec<FileInfo>,
    /// `truth.csv`, relative to the output directory.
    pub truth_path: PathBuf,
    /// `truth_local_events.csv`, relative to the output directory.
    pub truth_local_events_path: PathBuf,
    /// Regions whose enterprise file is encoded in GB18030 (the rest are UTF-8).
    pub gb18030_regions: Vec<String>,
    /// Regions whose enterprise file reports in 元 (the rest in 万元).
    pub yuan_unit_regions: Vec<String>,
    /// Regions with a local-station event (see `truth_local_events.csv`).
    pub local_station_regions: Vec<String>,
    /// Regions that start paying subsidies late, and the day they start (see
    /// `truth_subsidies.csv`; the others pay from the window's start).
    pub subsidy_late_regions: Vec<String>,
    /// The day the late regions start paying subsidies.
    pub subsidy_late_start: NaiveDate,
    /// `truth_subsidies.csv`, relative to the output directory.
    pub truth_subsidies_path: PathBuf,
    /// MCC emitted but deliberately absent from the campaign's MCC map (it counts as "other").
    pub unmapped_mcc: String,
    /// Share of each cell's value in acq_a's rows.
    pub acq_a_share: f64,
    /// Expected share of each cell's value in wallet_b's rows at this scale, per MCC.
    pub wallet_b_value_share: BTreeMap<String, f64>,
    /// Total data rows over all files.
    pub total_rows: usize,
    /// Total bytes over all files.
    pub total_bytes: u64,
    /// The output directory (not serialised).
    #[serde(skip)]
    pub out_dir: PathBuf,
}

impl SynthSummary {
    /// Absolute (or caller-relative) path of a file listed in [`SynthSummary::files`].
    #[must_use]
    pub fn path(&self, rel: &Path) -> PathBuf {
        self.out_dir.join(rel)
    }
}

/// Pick up to `k` regions with a named stream, returned sorted.
fn choose_regions(seed: u64, name: &str, codes: &[String], k: usize) -> Vec<String> {
    let mut s = rng::stream(seed, &["choices", name]);
    let mut idx: Vec<usize> = (0..codes.len()).collect();
    let k = k.min(codes.len());
    for i in 0..k {
        let j = i + s.below(codes.len() - i);
        idx.swap(i, j);
    }
    let mut out: Vec<String> = idx[..k].iter().map(|&i| codes[i].clone()).collect();
    out.sort();
    out
}

/// Generate every file for `config` under `out_dir` (created if missing; existing files of the same
/// names are overwritten) and write `synth.json`.
///
/// # Errors
/// [`SynthError::Config`] for an unusable configuration, [`SynthError::Io`] when a file cannot be
/// written.
pub fn generate(
    config: &SynthConfig,
    out_dir: &Path,
    progress: &dyn Progress,
) -> Result<SynthSummary, SynthError> {
    config.validate()?;
    progress.step("latent model");
    let lat = latent::Latent::build(config)?;
    let codes: Vec<String> = lat.regions.iter().map(|r| r.code.clone()).collect();
    let few = (codes.len() / 3).clamp(1, 3);
    let gb18030_regions = choose_regions(config.seed, "gb18030", &codes, few);
    let yuan_unit_regions = choose_regions(config.seed, "yuan-unit", &codes, few);

    let mut out = output::Out::new(out_dir);
    acq_a::write(config, &lat, &mut out, progress)?;
    let classes = urban_rural::Classes::build(config, &lat);
    wallet_b::write(config, &lat, &classes, &mut out, progress)?;
    progress.step("enterprise sales");
    let firms = enterprise::enterprises(config, &lat);
    enterprise::write(
        config,
        &lat,
        &firms,
        &yuan_unit_regions,
        &gb18030_regions,
        &mut out,
    )?;
    progress.step("retail statistics");
    retail::write(config, &lat, &mut out)?;
    progress.step("activities");
    activities::write(config, &lat, &mut out)?;
    progress.step("subsidies");
    let wan_regions = choose_regions(config.seed, "subsidy-wan", &codes, few);
    let city_regions = subsidy::city_regions(config.seed, &lat.regions);
    subsidy::write(
        config,
        &lat,
        &wan_regions,
        &gb18030_regions,
        &city_regions,
        &mut out,
    )?;
    progress.step("truth");
    let truth_rows = truth::rows(config, &lat);
    truth::write(config, &lat, &truth_rows, &mut out)?;
    subsidy::write_truth(config, &lat, &mut out)?;
    channels::write(config, &lat, &mut out)?;
    urban_rural::write(config, &lat, &classes, &mut out)?;
    if config.areas == AreaSpread::Dense {
        cities::write(config, &lat, &classes, &mut out)?;
    }

    let mut details = out.files;
    details.sort_by(|a, b| a.path.cmp(&b.path));
    let summary = SynthSummary {
        seed: config.seed,
        scenario: config.scenario,
        areas: (config.areas != AreaSpread::Sample).then_some(config.areas),
        scale: config.scale,
        campaign_id: config.campaign.id.clone(),
        start: config.start,
        end: config.end,
        files: details.iter().map(|f| (f.path.clone(), f.rows)).collect(),
        total_rows: details.iter().map(|f| f.rows).sum(),
        total_bytes: details.iter().map(|f| f.bytes).sum(),
        file_details: details,
        truth_path: PathBuf::from("truth.csv"),
        truth_local_events_path: PathBuf::from("truth_local_events.csv"),
        gb18030_regions,
        yuan_unit_regions,
        local_station_regions: lat
            .regions
            .iter()
            .zip(&lat.local)
            .filter(|(_, ev)| ev.is_some())
            .map(|(r, _)| r.code.clone())
            .collect(),
        subsidy_late_regions: subsidy::late_regions(config.seed, &codes),
        subsidy_late_start: subsidy::late_start(config.campaign.window.start),
        truth_subsidies_path: PathBuf::from("truth_subsidies.csv"),
        unmapped_mcc: model::UNMAPPED_MCC.to_owned(),
        acq_a_share: model::ACQ_A_SHARE,
        wallet_b_value_share: model::MCCS
            .iter()
            .map(|m| (m.code.to_owned(), wallet_b::value_share(m, config.scale)))
            .collect(),
        out_dir: out_dir.to_owned(),
    };
    let json = serde_json::to_string_pretty(&summary)?;
    let path = out_dir.join("synth.json");
    std::fs::write(&path, format!("{json}\n")).map_err(|e| SynthError::Io { path, source: e })?;
    progress.step("done");
    Ok(summary)
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// Two regions (Zhejiang and Ningbo), June–December 2023.
    pub(crate) fn small_config(seed: u64) -> SynthConfig {
        let text = homeseason_schema::campaign::DEFAULT_TOML
            .replace("include = \"all\"", "include = [\"330200\", \"330000\"]");
        SynthConfig {
            seed,
            scale: 1.0,
            campaign: Campaign::from_toml(&text).unwrap(),
            start: NaiveDate::from_ymd_opt(2023, 6, 1).unwrap(),
            end: NaiveDate::from_ymd_opt(2023, 12, 31).unwrap(),
            scenario: Scenario::Clean,
            areas: AreaSpread::Sample,
        }
    }

    /// [`small_config`] with its latent model.
    pub(crate) fn small_latent(seed: u64) -> (SynthConfig, crate::latent::Latent) {
        let cfg = small_config(seed);
        let lat = crate::latent::Latent::build(&cfg).unwrap();
        (cfg, lat)
    }

    /// Every region × MCC × day of `lat`'s campaign window, every `step`-th day, in that order:
    /// `(region, MCC index, MCC, day)`.
    pub(crate) fn window_cells(
        lat: &crate::latent::Latent,
        step: usize,
    ) -> impl Iterator<Item = (usize, usize, &'static crate::model::MccSpec, usize)> {
        let (w0, w1) = lat.window;
        (0..lat.regions.len()).flat_map(move |r| {
            crate::model::MCCS
                .iter()
                .enumerate()
                .flat_map(move |(m, mcc)| (w0..w1).step_by(step).map(move |d| (r, m, mcc, d)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_configs_are_refused() {
        let mut c = test_support::small_config(1);
        c.scale = 0.0;
        assert!(matches!(c.validate(), Err(SynthError::Config(_))));
        let mut c = test_support::small_config(1);
        c.start = NaiveDate::from_ymd_opt(2023, 10, 1).unwrap();
        assert!(matches!(c.validate(), Err(SynthError::Config(_))));
        assert!(test_support::small_config(1).validate().is_ok());
    }

    /// The generated span follows the campaign: the default's is 2021-01-01 … 2023-12-31 as before,
    /// the 2024 season's runs from its history start to its window's end.
    #[test]
    fn the_span_comes_from_the_campaign() {
        let d = SynthConfig::default();
        assert_eq!(d.start, NaiveDate::from_ymd_opt(2021, 1, 1).unwrap());
        assert_eq!(d.end, NaiveDate::from_ymd_opt(2023, 12, 31).unwrap());
        let (c, _) = Campaign::embedded("2024").unwrap();
        let cfg = SynthConfig::for_campaign(c.clone(), 7);
        assert_eq!((cfg.start, cfg.end), (c.history_start, c.window.end));
        assert_eq!(cfg.seed, 7);
        assert!(cfg.validate().is_ok());
    }
}
