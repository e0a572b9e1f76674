//! Local-station events (地方站活动) as geo experiments: did a region's own event add sales beyond
//! the national campaign?
//!
//! Some regions held extra "local station" events (activities register: `local_station = true`)
//! inside the national window. Each event is a treated cell of a synthetic-control geo experiment
//! ([`homeseason_stats::geolift`], GeoLift's method): the treated unit is the event's region, the
//! donors are the regions that held **no** local-station event (the national row `000000` is never
//! a unit), and the comparison runs per targeted category and for `all_targeted`.
//!
//! # Design
//!
//! - **One cell per event × category**, each estimated on its own panel: the days
//!   `pre_start ..= event_end`, with `pre_start` = [`LocalEventOptions::pre_days`] (default 120)
//!   days before the event's first day, but never before [`LocalEventOptions::pre_floor`] (by
//!   default 1 January of the campaign year, so the fit uses the campaign year only) nor before the
//!   first day of data. Events therefore have staggered starts, each with its own pre-period; an
//!   event's result is the same whichever other events are estimated with it.
//! - **What is measured is the extra effect.** Donors ran the national campaign too. For an event
//!   that starts inside the window, the pre-period holds the national campaign's first weeks and
//!   the event days are compared with donors that are themselves in the campaign, so the national
//!   uplift — common to donors and treated — sits in the counterfactual and the estimate is what
//!   the local event added on top (relative to sales with the national campaign but without the
//!   event).
//! - **Scale.** Regions differ in size by two orders of magnitude and their daily swings are
//!   proportional to their size, so by default ([`LocalEventOptions::normalize`]) every region's
//!   series is divided by its own pre-period mean before fitting (an index, 1 = the pre-period
//!   average). The synthetic control then matches shapes, not sizes; GeoLift's fixed effects
//!   remove the remaining level differences. Percent lift is unaffected by the scaling; ATT,
//!   incremental sales, the RMSE and the series are converted back to yuan with the treated
//!   region's pre-period mean.
//! - **Units with gaps** (a missing or non-finite day in the cell's range) or a non-positive
//!   pre-period mean are dropped from the donors of that cell; a treated region with gaps, an event
//!   outside the data, or a pre-period shorter than [`LocalEventOptions::min_pre_days`] skips the
//!   cell (listed in [`LocalEvents::skipped`]).
//! - **Inference** is GeoLift's: two-sided conformal p-value of no effect (`p_value`, with the
//!   direction in `effect_sign`), 1 − α interval of a constant effect by inverting the same test,
//!   falling back to jackknife+ when the conformal set is empty (`interval_method` says which; a
//!   jackknife+ interval is not the inversion of the p-value's test and can disagree with it).
//!
//! # Power
//!
//! [`local_event_power`] answers "which effect could an event of N days detect here?" for each
//! candidate region (default: the regions with a local-station event): on the campaign year's
//! history before the window (by default 1 January to the day before the window opens), placebo
//! windows of N days at the end of that history get a simulated effect (`× (1 + effect)`), the
//! conformal test is run, and the minimum detectable effect is the smallest effect detected in at
//! least 80% of the windows at α = 0.1 ([`homeseason_stats::geolift::power`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Datelike, NaiveDate};
use homeseason_schema::campaign::Campaign;
use homeseason_schema::region::{NATIONAL, Regions};
use homeseason_stats::geolift::{
    self, CellResult, CellSpec, Interval, Panel, PowerOptions, PowerResult,
};
use polars::prelude::*;

use crate::series::ALL_TARGETED;
use crate::tracking::{dates_of, floats_of, strings_of};
use crate::uplift::CellColumns;
use crate::{MetricsError, Result};

/// One local-station event from the activities register.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalEvent {
    /// Region that held the event.
    pub region_code: String,
    /// First day.
    pub start: NaiveDate,
    /// Last day (inclusive).
    pub end: NaiveDate,
}

/// Options of the power analysis ([`local_event_power`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LocalPowerOptions {
    /// Planned event durations in days; default 14 and 28.
    pub durations: Vec<usize>,
    /// Simulated relative effects; default 0, 0.01, …, 0.40.
    pub effects: Vec<f64>,
    /// Placebo windows per candidate and duration, the most recent first; default 10.
    pub windows: usize,
    /// Days between consecutive window ends; default 7 (one window per week).
    pub step: usize,
    /// Power the minimum detectable effect must reach; default 0.8.
    pub target_power: f64,
    /// Candidate regions; `None` (default) = every region with a local-station event.
    pub candidates: Option<Vec<String>>,
    /// Categories analysed; `None` (default) = only `all_targeted`.
    pub categories: Option<Vec<String>>,
    /// First day of the history; `None` = 1 January of the campaign year (or the first day of data).
    pub history_start: Option<NaiveDate>,
    /// Last day of the history; `None` = the day before the campaign window opens.
    pub history_end: Option<NaiveDate>,
}

impl Default for LocalPowerOptions {
    fn default() -> Self {
        LocalPowerOptions {
            durations: vec![14, 28],
            effects: (0..=40).map(|i| f64::from(i) / 100.0).collect(),
            windows: 10,
            step: 7,
            target_power: 0.8,
            candidates: None,
            categories: None,
            history_start: None,
            history_end: None,
        }
    }
}

/// Options of [`local_events`] and [`local_event_power`].
#[derive(Debug, Clone, PartialEq)]
pub struct LocalEventOptions {
    /// Days of pre-period before each event used to fit the synthetic control; default 120.
    pub pre_days: usize,
    /// Earliest day any pre-period may use; `None` (default) = 1 January of the campaign year.
    pub pre_floor: Option<NaiveDate>,
    /// Shortest usable pre-period in days (a shorter one skips the cell); default 28.
    pub min_pre_days: usize,
    /// Divide each region's series by its pre-period mean before fitting; default true.
    pub normalize: bool,
    /// Categories analysed; `None` (default) = the campaign's targeted categories and `all_targeted`.
    pub categories: Option<Vec<String>>,
    /// Synthetic control and inference options; `alpha` = 1 − interval level. Default GeoLift's
    /// own inference ([`geolift::Options::geolift`]: single days permuted, `Σ|u|`, jackknife+ when
    /// the conformal set is empty), which the sample seasons' coverage checks are calibrated on;
    /// homeseason's block-permutation default ([`geolift::Options::default`]) covered the injected
    /// local-event effects in only 64% of the demo's cells and awaits its own calibration here.
    pub geolift: geolift::Options,
    /// Power analysis options.
    pub power: LocalPowerOptions,
}

impl Default for LocalEventOptions {
    fn default() -> Self {
        LocalEventOptions {
            pre_days: 120,
            pre_floor: None,
            min_pre_days: 28,
            normalize: true,
            categories: None,
            geolift: geolift::Options::geolift(),
            power: LocalPowerOptions::default(),
        }
    }
}

impl LocalEventOptions {
    /// Defaults with the interval level of the campaign (`alpha = 1 − level`).
    #[must_use]
    pub fn from_campaign(campaign: &Campaign) -> Self {
        let mut o = LocalEventOptions::default();
        let alpha = 1.0 - campaign.baseline.level;
        if alpha > 0.0 && alpha < 1.0 {
            o.geolift.alpha = alpha;
        }
        o
    }

    fn categories(&self, campaign: &Campaign) -> Vec<String> {
        self.categories.clone().unwrap_or_else(|| {
            campaign
                .categories
                .targeted_ids()
                .map(str::to_owned)
                .chain(std::iter::once(ALL_TARGETED.to_owned()))
                .collect()
        })
    }

    fn floor(&self, campaign: &Campaign) -> NaiveDate {
        self.pre_floor.unwrap_or_else(|| {
            NaiveDate::from_ymd_opt(campaign.window.start.year(), 1, 1)
                .unwrap_or(campaign.window.start)
        })
    }
}

/// The local-event estimates as frames (contracts `local_events`, `local_event_weights`,
/// `local_event_series`).
#[derive(Debug, Clone)]
pub struct LocalEvents {
    /// One row per event × category: effect, interval, p-value and fit diagnostics.
    pub events: DataFrame,
    /// One row per event × category × donor region: the synthetic-control weight.
    pub weights: DataFrame,
    /// One row per event × category × day of the pre-period and the event: observed and
    /// counterfactual sales of the treated region (the impact plot).
    pub series: DataFrame,
    /// Cells that could not be estimated, with the reason (`region category start: reason`).
    pub skipped: Vec<String>,
}

/// The local-station events of an activities register (`region_code`, `start_date`, `end_date`,
/// `local_station`): distinct region × dates with `local_station = true`, national rows
/// (`000000`) excluded, sorted by region and start. A register without a `local_station` column
/// has none.
///
/// # Errors
/// When `region_code`, `start_date` or `end_date` is missing while `local_station` is present.
pub fn local_station_events(activities: &DataFrame) -> Result<Vec<LocalEvent>> {
    if activities.height() == 0 || activities.column("local_station").is_err() {
        return Ok(Vec::new());
    }
    let flag = activities
        .column("local_station")?
        .cast(&DataType::Boolean)?;
    let flag = flag.bool()?;
    let regions = strings_of(activities, "region_code")?;
    let starts = dates_of(activities, "start_date")?;
    let ends = dates_of(activities, "end_date")?;
    let mut set = BTreeSet::new();
    for i in 0..activities.height() {
        if flag.get(i) != Some(true) || regions[i].is_empty() || regions[i] == NATIONAL {
            continue;
        }
        let (Some(start), Some(end)) = (starts[i], ends[i]) else {
            continue;
        };
        if start > end {
            continue;
        }
        set.insert(LocalEvent {
            region_code: regions[i].clone(),
            start,
            end,
        });
    }
    Ok(set.into_iter().collect())
}

/// Dense daily values per category × region (NaN where a day is missing).
struct Store {
    first: NaiveDate,
    days: usize,
    values: HashMap<(String, String), Vec<f64>>,
    regions: Vec<String>,
}

impl Store {
    fn new(series: &DataFrame) -> Result<Store> {
        // The text columns are read in place: a region and a category are owned once per cell,
        // not once per row (two columns of the frame's ~10⁵–10⁶ rows, read by both the events and
        // the power).
        let text =
            |name: &str| -> Result<Column> { Ok(series.column(name)?.cast(&DataType::String)?) };
        let (regions, categories) = (text("region_code")?, text("category")?);
        let (regions, categories) = (regions.str()?, categories.str()?);
        let dates = dates_of(series, "date")?;
        let values = floats_of(series, "net_amount_yuan")?;
        let (Some(first), Some(last)) = (
            dates.iter().flatten().min().copied(),
            dates.iter().flatten().max().copied(),
        ) else {
            return Err(MetricsError::Input(
                "the daily series has no dated rows".to_owned(),
            ));
        };
        let days = usize::try_from((last - first).num_days() + 1).unwrap_or(0);
        let mut map: HashMap<(&str, &str), Vec<f64>> = HashMap::new();
        let mut names: BTreeSet<&str> = BTreeSet::new();
        let rows = regions
            .iter()
            .zip(categories.iter())
            .zip(&dates)
            .zip(&values);
        for (((region, category), d), &value) in rows {
            let (region, category) = (region.unwrap_or_default(), category.unwrap_or_default());
            let Some(d) = *d else { continue };
            if region == NATIONAL || region.is_empty() {
                continue;
            }
            names.insert(region);
            let v = map
                .entry((category, region))
                .or_insert_with(|| vec![f64::NAN; days]);
            let k = usize::try_from((d - first).num_days()).unwrap_or(0);
            v[k] = if v[k].is_nan() { value } else { v[k] + value };
        }
        Ok(Store {
            first,
            days,
            values: map
                .into_iter()
                .map(|((c, r), v)| ((c.to_owned(), r.to_owned()), v))
                .collect(),
            regions: names.into_iter().map(str::to_owned).collect(),
        })
    }

    fn last(&self) -> NaiveDate {
        self.first + chrono::Duration::days(i64::try_from(self.days).unwrap_or(1) - 1)
    }

    fn index(&self, d: NaiveDate) -> Option<usize> {
        usize::try_from((d - self.first).num_days())
            .ok()
            .filter(|&k| k < self.days)
    }

    fn date(&self, k: usize) -> NaiveDate {
        self.first + chrono::Duration::days(i64::try_from(k).unwrap_or(0))
    }

    /// The slice `from..=to` of a unit and its mean over `from..pre_end`, if complete and positive.
    fn unit(
        &self,
        category: &str,
        region: &str,
        from: usize,
        to: usize,
        pre_end: usize,
    ) -> Option<(Vec<f64>, f64)> {
        let v = self.values.get(&(category.to_owned(), region.to_owned()))?;
        let slice = v.get(from..=to)?;
        if slice.iter().any(|x| !x.is_finite()) {
            return None;
        }
        let pre = &slice[..pre_end - from];
        let mean = pre.iter().sum::<f64>() / pre.len() as f64;
        (mean > 0.0 && mean.is_finite()).then(|| (slice.to_vec(), mean))
    }

    /// Panel of `treated` (row 0) and the usable donors over `from..=to`, normalised (or not) by
    /// each unit's mean over `from..pre_end`. Returns the panel and the treated unit's scale.
    fn panel(
        &self,
        category: &str,
        treated: &str,
        donors: &[String],
        (from, pre_end, to): (usize, usize, usize),
        normalize: bool,
    ) -> std::result::Result<(Panel, f64), String> {
        let Some((t, t_mean)) = self.unit(category, treated, from, to, pre_end) else {
            return Err("the treated region has missing days or no sales in the range".to_owned());
        };
        let mut units = vec![treated.to_owned()];
        let mut rows = vec![t];
        for d in donors {
            if let Some((v, _)) = self.unit(category, d, from, to, pre_end) {
                units.push(d.clone());
                rows.push(v);
            }
        }
        if units.len() < 2 {
            return Err("no donor region has complete data in the range".to_owned());
        }
        let long = units.iter().zip(&rows).flat_map(|(u, r)| {
            let scale = if normalize {
                r[..pre_end - from].iter().sum::<f64>() / (pre_end - from) as f64
            } else {
                1.0
            };
            r.iter()
                .enumerate()
                .map(move |(j, v)| (u.as_str(), j, v / scale))
        });
        let (mut panel, _) = Panel::from_long(long).map_err(|e| e.to_string())?;
        // Put the treated region first (from_long sorts units by name).
        let t = panel.unit_index(treated).unwrap_or(0);
        if t != 0 {
            panel.units.swap(0, t);
            panel.y.swap_rows(0, t);
        }
        Ok((panel, if normalize { t_mean } else { 1.0 }))
    }
}

/// Estimate every local-station event of the register against the regions without one.
///
/// `series` is [`daily_series`](crate::daily_series)'s frame (`region_code`, `category`, `date`,
/// `net_amount_yuan`); `activities` the activities register (see [`local_station_events`]). Returns
/// empty frames (with their columns) when the register holds no local-station event. See the
/// [module documentation](self) for the design.
///
/// # Errors
/// When a needed column is missing or the series has no dates.
pub fn local_events(
    series: &DataFrame,
    activities: &DataFrame,
    campaign: &Campaign,
    opts: &LocalEventOptions,
) -> Result<LocalEvents> {
    let events = local_station_events(activities)?;
    let mut rows = EventRows::default();
    let mut weights = WeightRows::default();
    let mut daily = SeriesRows::default();
    let mut skipped = Vec::new();
    if events.is_empty() || series.height() == 0 {
        return Ok(LocalEvents {
            events: rows.into_frame()?,
            weights: weights.into_frame()?,
            series: daily.into_frame()?,
            skipped,
        });
    }
    let store = Store::new(series)?;
    let treated: BTreeSet<&str> = events.iter().map(|e| e.region_code.as_str()).collect();
    let donors: Vec<String> = store
        .regions
        .iter()
        .filter(|r| !treated.contains(r.as_str()))
        .cloned()
        .collect();
    let floor = opts.floor(campaign).max(store.first);
    let names = Regions::embedded();
    let alpha = opts.geolift.alpha;
    for category in opts.categories(campaign) {
        for ev in &events {
            let skip = |why: &str| format!("{} {category} {}: {why}", ev.region_code, ev.start);
            let (Some(s), Some(e)) = (store.index(ev.start), store.index(ev.end.min(store.last())))
            else {
                skipped.push(skip("the event lies outside the daily series"));
                continue;
            };
            let from = store
                .index(floor)
                .unwrap_or(0)
                .max(s.saturating_sub(opts.pre_days));
            if s < from + opts.min_pre_days.max(2) {
                skipped.push(skip(&format!(
                    "only {} pre-period days (need {})",
                    s.saturating_sub(from),
                    opts.min_pre_days.max(2)
                )));
                continue;
            }
            let (panel, scale) = match store.panel(
                &category,
                &ev.region_code,
                &donors,
                (from, s, e),
                opts.normalize,
            ) {
                Ok(p) => p,
                Err(why) => {
                    skipped.push(skip(&why));
                    continue;
                }
            };
            let cell = CellSpec::new(
                format!("{} {}", ev.region_code, ev.start),
                vec![0],
                s - from,
                e - from,
            );
            let r = match geolift::estimate(&panel, &[cell], &opts.geolift) {
                Ok(mut r) => r.remove(0),
                Err(err) => {
                    skipped.push(skip(&err.to_string()));
                    continue;
                }
            };
            let name = names
                .by_code(&ev.region_code)
                .map_or_else(|| ev.region_code.clone(), |r| r.name_zh.clone());
            let key = CellKey {
                campaign: &campaign.id,
                region: &ev.region_code,
                name: &name,
                category: &category,
                event: ev,
                end: store.date(e),
                pre_start: store.date(from),
            };
            rows.push(&key, &r, scale, panel.units.len() - 1, 1.0 - alpha);
            for (donor, w) in &r.weights {
                weights.push(&key, donor, *w);
            }
            for (k, (o, c)) in r.observed.iter().zip(&r.counterfactual).enumerate() {
                daily.push(
                    &key,
                    store.date(from + k),
                    o * scale,
                    c * scale,
                    from + k >= s,
                );
            }
        }
    }
    Ok(LocalEvents {
        events: rows.into_frame()?,
        weights: weights.into_frame()?,
        series: daily.into_frame()?,
        skipped,
    })
}

/// Power and minimum detectable effect of a local event per candidate region, category and
/// duration (contract `local_event_power`). See the [module documentation](self).
///
/// Candidates default to the regions with a local-station event in `activities`; donors are the
/// regions that are neither candidates nor hosts of a local-station event. Returns an empty frame
/// (with its columns) when there is no candidate.
///
/// # Errors
/// When a needed column is missing or the series has no dates.
pub fn local_event_power(
    series: &DataFrame,
    activities: &DataFrame,
    campaign: &Campaign,
    opts: &LocalEventOptions,
) -> Result<DataFrame> {
    let p = &opts.power;
    let events = local_station_events(activities)?;
    let mut hosts: BTreeSet<String> = events.iter().map(|e| e.region_code.clone()).collect();
    let candidates: Vec<String> = match &p.candidates {
        Some(c) => c.clone(),
        None => hosts.iter().cloned().collect(),
    };
    let mut rows = PowerRows::default();
    if candidates.is_empty() || series.height() == 0 || p.durations.is_empty() {
        return rows.into_frame();
    }
    hosts.extend(candidates.iter().cloned());
    let store = Store::new(series)?;
    let donors: Vec<String> = store
        .regions
        .iter()
        .filter(|r| !hosts.contains(*r))
        .cloned()
        .collect();
    let start = p
        .history_start
        .unwrap_or_else(|| opts.floor(campaign))
        .max(store.first);
    let end = p
        .history_end
        .unwrap_or_else(|| campaign.window.start - chrono::Duration::days(1))
        .min(store.last());
    let (Some(from), Some(to)) = (store.index(start), store.index(end)) else {
        return rows.into_frame();
    };
    if to <= from {
        return rows.into_frame();
    }
    let categories = p
        .categories
        .clone()
        .unwrap_or_else(|| vec![ALL_TARGETED.to_owned()]);
    let names = Regions::embedded();
    let popts = PowerOptions {
        estimate: opts.geolift.clone(),
        windows: p.windows,
        step: p.step,
        min_pre: None,
        target_power: p.target_power,
        exclude: Vec::new(),
    };
    for category in &categories {
        for region in &candidates {
            // Normalise over the whole history (the placebo windows sit at its end).
            let Ok((panel, _)) = store.panel(
                category,
                region,
                &donors,
                (from, to + 1, to),
                opts.normalize,
            ) else {
                continue;
            };
            for &duration in &p.durations {
                let Ok(res) = geolift::power(&panel, &[0], duration, &p.effects, &popts) else {
                    continue;
                };
                let name = names
                    .by_code(region)
                    .map_or_else(|| region.clone(), |r| r.name_zh.clone());
                rows.push(PowerRow {
                    campaign: &campaign.id,
                    region,
                    name: &name,
                    category,
                    duration,
                    res: &res,
                    donors: panel.units.len() - 1,
                    alpha: opts.geolift.alpha,
                    target: p.target_power,
                    history: (store.date(from), store.date(to)),
                });
            }
        }
    }
    rows.into_frame()
}

struct CellKey<'a> {
    campaign: &'a str,
    region: &'a str,
    name: &'a str,
    category: &'a str,
    event: &'a LocalEvent,
    end: NaiveDate,
    pre_start: NaiveDate,
}

#[derive(Default)]
struct EventRows {
    cell: CellColumns,
    start: Vec<NaiveDate>,
    end: Vec<NaiveDate>,
    days: Vec<i64>,
    pre_start: Vec<NaiveDate>,
    pre_days: Vec<i64>,
    donors: Vec<i64>,
    att: Vec<f64>,
    att_lower: Vec<Option<f64>>,
    att_upper: Vec<Option<f64>>,
    inc: Vec<f64>,
    inc_lower: Vec<Option<f64>>,
    inc_upper: Vec<Option<f64>>,
    lift: Vec<f64>,
    lift_lower: Vec<Option<f64>>,
    lift_upper: Vec<Option<f64>>,
    level: Vec<f64>,
    p: Vec<f64>,
    sign: Vec<i64>,
    method: Vec<&'static str>,
    l2: Vec<f64>,
    rmse: Vec<f64>,
    rmse_pct: Vec<f64>,
    observed: Vec<f64>,
    counterfactual: Vec<f64>,
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

impl EventRows {
    fn push(&mut self, k: &CellKey<'_>, r: &CellResult, scale: f64, donors: usize, level: f64) {
        let days = r.end + 1 - r.start;
        self.cell.push(k.campaign, k.region, k.name, k.category);
        self.start.push(k.event.start);
        self.end.push(k.end);
        self.days.push(i64::try_from(days).unwrap_or(0));
        self.pre_start.push(k.pre_start);
        self.pre_days.push(i64::try_from(r.start).unwrap_or(0));
        self.donors.push(i64::try_from(donors).unwrap_or(0));
        self.att.push(r.att * scale);
        self.att_lower.push(finite(r.att_lower * scale));
        self.att_upper.push(finite(r.att_upper * scale));
        self.inc.push(r.incremental * scale);
        self.inc_lower.push(finite(r.incremental_lower * scale));
        self.inc_upper.push(finite(r.incremental_upper * scale));
        self.lift.push(r.lift_pct);
        self.lift_lower.push(finite(r.lift_pct_lower));
        self.lift_upper.push(finite(r.lift_pct_upper));
        self.level.push(level);
        self.p.push(r.p_value);
        self.sign.push(crate::uplift::effect_sign(r.att));
        self.method.push(match r.interval {
            Interval::JackknifePlus => "jackknife_plus",
            _ => "conformal",
        });
        self.l2.push(r.scaled_l2_imbalance);
        self.rmse.push(r.pre_rmse * scale);
        let pre_mean = r.counterfactual[..r.start].iter().sum::<f64>() / r.start.max(1) as f64;
        self.rmse_pct.push(100.0 * r.pre_rmse / pre_mean.abs());
        self.observed
            .push(r.observed[r.start..].iter().sum::<f64>() * scale);
        self.counterfactual
            .push(r.counterfactual[r.start..].iter().sum::<f64>() * scale);
    }

    fn into_frame(self) -> Result<DataFrame> {
        self.cell.with(&df!(
            "event_start" => self.start,
            "event_end" => self.end,
            "event_days" => self.days,
            "pre_start" => self.pre_start,
            "pre_days" => self.pre_days,
            "donors" => self.donors,
            "actual_yuan" => self.observed,
            "counterfactual_yuan" => self.counterfactual,
            "att_yuan_per_day" => self.att,
            "att_lower_yuan_per_day" => self.att_lower,
            "att_upper_yuan_per_day" => self.att_upper,
            "incremental_yuan" => self.inc,
            "incremental_lower_yuan" => self.inc_lower,
            "incremental_upper_yuan" => self.inc_upper,
            "lift_pct" => self.lift,
            "lift_lower_pct" => self.lift_lower,
            "lift_upper_pct" => self.lift_upper,
            "level" => self.level,
            "p_value" => self.p,
            "effect_sign" => self.sign,
            "interval_method" => self.method,
            "scaled_l2_imbalance" => self.l2,
            "pre_rmse_yuan_per_day" => self.rmse,
            "pre_rmse_pct" => self.rmse_pct,
        )?)
    }
}

/// The columns that name an event cell (`campaign_id`, `region_code`, `category`, `event_start`),
/// with which the weights and the daily-series tables begin.
#[derive(Default)]
struct EventCellColumns {
    campaign: Vec<String>,
    region: Vec<String>,
    category: Vec<String>,
    start: Vec<NaiveDate>,
}

impl EventCellColumns {
    fn push(&mut self, k: &CellKey<'_>) {
        self.campaign.push(k.campaign.to_owned());
        self.region.push(k.region.to_owned());
        self.category.push(k.category.to_owned());
        self.start.push(k.event.start);
    }

    /// The cell columns followed by the columns of `rest` (of the same height).
    fn with(self, rest: &DataFrame) -> Result<DataFrame> {
        Ok(df!(
            "campaign_id" => self.campaign,
            "region_code" => self.region,
            "category" => self.category,
            "event_start" => self.start,
        )?
        .hstack(rest.columns())?)
    }
}

#[derive(Default)]
struct WeightRows {
    cell: EventCellColumns,
    donor: Vec<String>,
    weight: Vec<f64>,
}

impl WeightRows {
    fn push(&mut self, k: &CellKey<'_>, donor: &str, w: f64) {
        self.cell.push(k);
        self.donor.push(donor.to_owned());
        self.weight.push(w);
    }

    fn into_frame(self) -> Result<DataFrame> {
        self.cell.with(&df!(
            "donor_region_code" => self.donor,
            "weight" => self.weight,
        )?)
    }
}

#[derive(Default)]
struct SeriesRows {
    cell: EventCellColumns,
    date: Vec<NaiveDate>,
    observed: Vec<f64>,
    counterfactual: Vec<f64>,
    in_event: Vec<bool>,
}

impl SeriesRows {
    fn push(&mut self, k: &CellKey<'_>, date: NaiveDate, o: f64, c: f64, in_event: bool) {
        self.cell.push(k);
        self.date.push(date);
        self.observed.push(o);
        self.counterfactual.push(c);
        self.in_event.push(in_event);
    }

    fn into_frame(self) -> Result<DataFrame> {
        self.cell.with(&df!(
            "date" => self.date,
            "observed_yuan" => self.observed,
            "counterfactual_yuan" => self.counterfactual,
            "in_event" => self.in_event,
        )?)
    }
}

struct PowerRow<'a> {
    campaign: &'a str,
    region: &'a str,
    name: &'a str,
    category: &'a str,
    duration: usize,
    res: &'a PowerResult,
    donors: usize,
    alpha: f64,
    target: f64,
    history: (NaiveDate, NaiveDate),
}

#[derive(Default)]
struct PowerRows {
    cell: CellColumns,
    duration: Vec<i64>,
    mde: Vec<Option<f64>>,
    p10: Vec<Option<f64>>,
    p20: Vec<Option<f64>>,
    null_rate: Vec<Option<f64>>,
    windows: Vec<i64>,
    donors: Vec<i64>,
    l2: Vec<f64>,
    alpha: Vec<f64>,
    target: Vec<f64>,
    h_start: Vec<NaiveDate>,
    h_end: Vec<NaiveDate>,
}

impl PowerRows {
    fn push(&mut self, r: PowerRow<'_>) {
        let at = |e: f64| {
            r.res
                .curve
                .iter()
                .find(|p| (p.effect - e).abs() < 1e-9)
                .map(|p| p.power)
        };
        self.cell.push(r.campaign, r.region, r.name, r.category);
        self.duration.push(i64::try_from(r.duration).unwrap_or(0));
        self.mde.push(r.res.mde.map(|m| 100.0 * m));
        self.p10.push(at(0.10));
        self.p20.push(at(0.20));
        self.null_rate.push(at(0.0));
        self.windows
            .push(i64::try_from(r.res.windows.len()).unwrap_or(0));
        self.donors.push(i64::try_from(r.donors).unwrap_or(0));
        self.l2.push(r.res.mean_scaled_l2_imbalance);
        self.alpha.push(r.alpha);
        self.target.push(r.target);
        self.h_start.push(r.history.0);
        self.h_end.push(r.history.1);
    }

    fn into_frame(self) -> Result<DataFrame> {
        self.cell.with(&df!(
            "duration_days" => self.duration,
            "mde_pct" => self.mde,
            "power_10pct" => self.p10,
            "power_20pct" => self.p20,
            "false_positive_rate" => self.null_rate,
            "windows" => self.windows,
            "donors" => self.donors,
            "mean_scaled_l2_imbalance" => self.l2,
            "alpha" => self.alpha,
            "target_power" => self.target,
            "history_start" => self.h_start,
            "history_end" => self.h_end,
        )?)
    }
}

/// Share of cells whose interval `[lift_lower_pct, lift_upper_pct]` holds the true extra uplift, for
/// scoring against a known truth (`truth`: `region_code`, `event_start`, optionally `category`, and
/// `truth_pct` — e.g. the sample season's `truth_local_events.csv` with
/// `extra_uplift_pct_during_event` renamed). Without a `category` column one truth serves every
/// category of the event. Returns `(covered, scored)` over the `events` rows that have a truth.
///
/// # Errors
/// When a column is missing.
pub fn coverage(events: &DataFrame, truth: &DataFrame) -> Result<(usize, usize)> {
    let t_region = strings_of(truth, "region_code")?;
    let t_start = dates_of(truth, "event_start")?;
    let t_pct = floats_of(truth, "truth_pct")?;
    let t_cat = if truth.column("category").is_ok() {
        Some(strings_of(truth, "category")?)
    } else {
        None
    };
    let mut map = BTreeMap::new();
    for i in 0..truth.height() {
        if let Some(d) = t_start[i] {
            let cat = t_cat.as_ref().map_or_else(String::new, |c| c[i].clone());
            map.insert((t_region[i].clone(), d, cat), t_pct[i]);
        }
    }
    let region = strings_of(events, "region_code")?;
    let category = strings_of(events, "category")?;
    let start = dates_of(events, "event_start")?;
    let lo = floats_of(events, "lift_lower_pct")?;
    let hi = floats_of(events, "lift_upper_pct")?;
    let (mut covered, mut scored) = (0, 0);
    for i in 0..events.height() {
        let Some(d) = start[i] else { continue };
        let cat = if t_cat.is_some() {
            category[i].clone()
        } else {
            String::new()
        };
        let Some(&t) = map.get(&(region[i].clone(), d, cat)) else {
            continue;
        };
        scored += 1;
        if lo[i] <= t && t <= hi[i] {
            covered += 1;
        }
    }
    Ok((covered, scored))
}

#[cfg(test)]
mod tests {
    use super::*;
    use homeseason_schema::contract;

    use crate::test_frames::d as date;

    const REGIONS: [&str; 12] = [
        "110000", "120000", "130000", "140000", "150000", "210000", "220000", "230000", "310000",
        "320000", "330000", "340000",
    ];

    /// 2023 daily furniture sales of 12 regions of very different sizes sharing a weekly and
    /// seasonal pattern, with deterministic noise; `effects` multiply a region's sales on a range.
    fn series(effects: &[(&str, NaiveDate, NaiveDate, f64)]) -> DataFrame {
        let (mut r, mut c, mut d, mut v) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (i, code) in REGIONS.iter().enumerate() {
            let size = 1e5 * (1.0 + 3.0 * i as f64);
            for (k, day) in date(2023, 1, 1).iter_days().take(365).enumerate() {
                let week = [1.0, 0.95, 0.97, 1.0, 1.05, 1.3, 1.35]
                    [day.weekday().num_days_from_monday() as usize];
                let season = 1.0 + 0.2 * (k as f64 / 58.0).sin();
                let own = 1.0 + 0.03 * ((k as f64 / 17.0 + i as f64).sin());
                let noise = 1.0 + 0.02 * (((i * 7919 + k * 104_729) % 1000) as f64 / 500.0 - 1.0);
                let mut x = size * week * season * own * noise;
                for (e, s, t, f) in effects {
                    if e == code && *s <= day && day <= *t {
                        x *= 1.0 + f;
                    }
                }
                r.push(code.to_string());
                c.push("furniture".to_owned());
                d.push(day);
                v.push(x);
            }
        }
        // The national row is ignored.
        for day in date(2023, 1, 1).iter_days().take(365) {
            r.push(NATIONAL.to_owned());
            c.push("furniture".to_owned());
            d.push(day);
            v.push(1e9);
        }
        df!("region_code" => r, "category" => c, "date" => d, "net_amount_yuan" => v)
            .expect("frame")
    }

    fn register(rows: &[(&str, NaiveDate, NaiveDate, Option<bool>)]) -> DataFrame {
        df!(
            "region_code" => rows.iter().map(|r| r.0.to_owned()).collect::<Vec<_>>(),
            "start_date" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            "end_date" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            "local_station" => rows.iter().map(|r| r.3).collect::<Vec<_>>(),
        )
        .expect("register")
    }

    fn opts() -> LocalEventOptions {
        let mut o = LocalEventOptions::from_campaign(&Campaign::default_2023());
        o.categories = Some(vec!["furniture".to_owned()]);
        o.geolift.permutations = geolift::Permutations::Iid { draws: 200 };
        o
    }

    /// Every column is in the table's contract with the contract's type, and every required
    /// field is present.
    fn assert_contract(table: &str, frame: &DataFrame) {
        let c = contract::get(table).expect("contract");
        for col in frame.columns() {
            let f = c
                .field(col.name().as_str())
                .unwrap_or_else(|| panic!("{table}.{} not in the contract", col.name()));
            let want = homeseason_lake::dtype_of(f.r#type);
            assert_eq!(col.dtype(), &want, "{table}.{}", col.name());
        }
        for f in &c.fields {
            assert!(frame.column(&f.name).is_ok(), "{table}.{} missing", f.name);
        }
    }

    #[test]
    fn local_station_events_are_read_from_the_register() {
        let reg = register(&[
            ("330000", date(2023, 10, 1), date(2023, 10, 14), Some(true)),
            ("330000", date(2023, 10, 1), date(2023, 10, 14), Some(true)),
            ("110000", date(2023, 9, 10), date(2023, 9, 30), Some(false)),
            ("120000", date(2023, 9, 10), date(2023, 9, 30), None),
            (NATIONAL, date(2023, 9, 1), date(2023, 9, 30), Some(true)),
            ("310000", date(2023, 9, 30), date(2023, 9, 1), Some(true)),
            ("210000", date(2023, 9, 5), date(2023, 9, 20), Some(true)),
        ]);
        let ev = local_station_events(&reg).expect("events");
        assert_eq!(
            ev,
            vec![
                LocalEvent {
                    region_code: "210000".to_owned(),
                    start: date(2023, 9, 5),
                    end: date(2023, 9, 20)
                },
                LocalEvent {
                    region_code: "330000".to_owned(),
                    start: date(2023, 10, 1),
                    end: date(2023, 10, 14)
                },
            ]
        );
        let no_flag = reg.drop("local_station").expect("drop");
        assert!(local_station_events(&no_flag).expect("none").is_empty());
    }

    #[test]
    fn a_known_event_effect_is_recovered_with_staggered_events() {
        let (a0, a1) = (date(2023, 10, 1), date(2023, 10, 14));
        let (b0, b1) = (date(2023, 11, 6), date(2023, 11, 30));
        let s = series(&[("330000", a0, a1, 0.20), ("210000", b0, b1, 0.0)]);
        let reg = register(&[
            ("330000", a0, a1, Some(true)),
            ("210000", b0, b1, Some(true)),
        ]);
        let campaign = Campaign::default_2023();
        let out = local_events(&s, &reg, &campaign, &opts()).expect("estimate");
        assert!(out.skipped.is_empty(), "{:?}", out.skipped);
        assert_contract("local_events", &out.events);
        assert_contract("local_event_weights", &out.weights);
        assert_contract("local_event_series", &out.series);
        assert_eq!(out.events.height(), 2);
        let lift = floats_of(&out.events, "lift_pct").expect("lift");
        let lo = floats_of(&out.events, "lift_lower_pct").expect("lo");
        let hi = floats_of(&out.events, "lift_upper_pct").expect("hi");
        let p = floats_of(&out.events, "p_value").expect("p");
        let region = strings_of(&out.events, "region_code").expect("region");
        // Sorted by region: 210000 (no effect) then 330000 (+20%).
        assert_eq!(region, ["210000", "330000"]);
        assert!((lift[1] - 20.0).abs() < 2.0, "{}", out.events);
        assert!(
            lo[1] <= 20.0 && 20.0 <= hi[1] && p[1] < 0.1,
            "{}",
            out.events
        );
        assert!(lo[0] <= 0.0 && 0.0 <= hi[0], "{}", out.events);
        // Each event has its own pre-period (120 days before its start) and donors exclude both
        // event regions and the national row.
        let pre_start = dates_of(&out.events, "pre_start").expect("pre");
        assert_eq!(pre_start[1], Some(a0 - chrono::Duration::days(120)));
        assert_eq!(pre_start[0], Some(b0 - chrono::Duration::days(120)));
        let donors = out
            .events
            .column("donors")
            .expect("donors")
            .i64()
            .expect("i64")
            .get(0);
        assert_eq!(donors, Some(10));
        let weights = &out.weights;
        assert_eq!(weights.height(), 20);
        let donor = strings_of(weights, "donor_region_code").expect("donor");
        assert!(
            donor
                .iter()
                .all(|d| d != "330000" && d != "210000" && d != NATIONAL)
        );
        let w = floats_of(weights, "weight").expect("w");
        assert!((w[10..].iter().sum::<f64>() - 1.0).abs() < 1e-9);
        // Series: pre-period and event days, in yuan; the event days' totals are the table's.
        assert_eq!(out.series.height(), 120 + 14 + 120 + 25);
        let att = floats_of(&out.events, "att_yuan_per_day").expect("att");
        let inc = floats_of(&out.events, "incremental_yuan").expect("inc");
        assert!((att[1] * 14.0 - inc[1]).abs() < 1e-6 * inc[1].abs());
        let actual = floats_of(&out.events, "actual_yuan").expect("actual");
        let cf = floats_of(&out.events, "counterfactual_yuan").expect("cf");
        assert!((actual[1] - cf[1] - inc[1]).abs() < 1e-6 * actual[1]);
        assert!((100.0 * (actual[1] / cf[1] - 1.0) - lift[1]).abs() < 1e-9);
        // 330000 is the 11th region: about 3.1 M yuan a day, so the effect is about 0.6 M a day.
        assert!(att[1] > 4e5 && att[1] < 8e5, "{}", att[1]);
    }

    #[test]
    fn power_is_computed_per_candidate_and_duration() {
        let s = series(&[]);
        let reg = register(&[("330000", date(2023, 10, 1), date(2023, 10, 14), Some(true))]);
        let mut o = opts();
        o.power.categories = Some(vec!["furniture".to_owned()]);
        o.power.effects = vec![0.0, 0.05, 0.1, 0.2];
        let power = local_event_power(&s, &reg, &Campaign::default_2023(), &o).expect("power");
        assert_contract("local_event_power", &power);
        assert_eq!(power.height(), 2);
        let mde = floats_of(&power, "mde_pct").expect("mde");
        assert!(mde.iter().all(|m| *m > 0.0 && *m <= 20.0), "{power}");
        let end = dates_of(&power, "history_end").expect("end");
        assert_eq!(end[0], Some(date(2023, 8, 31)));
    }

    #[test]
    fn no_local_station_event_gives_empty_frames_with_their_columns() {
        let s = series(&[]);
        let reg = register(&[("330000", date(2023, 10, 1), date(2023, 10, 14), Some(false))]);
        let campaign = Campaign::default_2023();
        let out = local_events(&s, &reg, &campaign, &opts()).expect("estimate");
        assert_eq!(out.events.height(), 0);
        assert_contract("local_events", &out.events);
        assert_contract("local_event_weights", &out.weights);
        assert_contract("local_event_series", &out.series);
        let power = local_event_power(&s, &reg, &campaign, &opts()).expect("power");
        assert_eq!(power.height(), 0);
        assert_contract("local_event_power", &power);
    }

    #[test]
    fn events_without_enough_history_or_data_are_skipped() {
        let s = series(&[]);
        let reg = register(&[
            ("330000", date(2023, 1, 10), date(2023, 1, 20), Some(true)),
            ("340000", date(2024, 3, 1), date(2024, 3, 10), Some(true)),
            ("440000", date(2023, 10, 1), date(2023, 10, 10), Some(true)),
        ]);
        let out = local_events(&s, &reg, &Campaign::default_2023(), &opts()).expect("estimate");
        assert_eq!(out.events.height(), 0);
        assert_eq!(out.skipped.len(), 3, "{:?}", out.skipped);
    }
}
