//! The latent daily value of every region × MCC × day, and the campaign uplift on top of it.

use chrono::{Datelike, NaiveDate};
use homeseason_schema::calendar::{self, DayType, Holiday, ShoppingFestival};
use homeseason_schema::category::Category;
use homeseason_schema::region::Region;

use crate::geo::geo;
use crate::model::{self, DayInfo, MCCS, NCAT, NMCC, cat_index};
use crate::rng::stream;
use crate::scenario::{LATE_DAYS, MISSING_SHARE, Scenario};
use crate::{SynthConfig, SynthError};

/// Regional economy: AR(1) coefficient and innovation sd of the daily log factor.
pub(crate) const ECON_PHI: f64 = 0.98;
/// Innovation sd of the economy factor (stationary sd ≈ 0.02).
pub(crate) const ECON_SD: f64 = 0.004;
/// iid lognormal noise sd per cell-day.
pub(crate) const NOISE_SD: f64 = 0.04;
/// AR(1) noise component per cell: coefficient and innovation sd.
pub(crate) const NOISE_AR: (f64, f64) = (0.8, 0.012);
/// Growth per year, uniform range.
pub(crate) const GROWTH: (f64, f64) = (0.02, 0.08);
/// Base uplift per region × targeted category, uniform range.
pub(crate) const BASE_UPLIFT: (f64, f64) = (0.03, 0.12);
/// Extra uplift during a local-station event, uniform range.
pub(crate) const LOCAL_UPLIFT: (f64, f64) = (0.10, 0.25);

/// A local-station event injected into a region.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LocalEvent {
    /// First day.
    pub(crate) start: NaiveDate,
    /// Last day (inclusive).
    pub(crate) end: NaiveDate,
    /// Extra uplift during the event (0.10 = +10 %).
    pub(crate) extra: f64,
}

/// A calendar month of the generated range.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Month {
    /// Year.
    pub(crate) year: i32,
    /// Month 1..=12.
    pub(crate) month: u32,
    /// First day index.
    pub(crate) first: usize,
    /// One past the last day index.
    pub(crate) end: usize,
    /// Whether the whole month lies in the generated range.
    pub(crate) full: bool,
}

impl Month {
    /// "YYYY-MM".
    pub(crate) fn label(&self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }
}

/// The latent model, fully drawn.
pub(crate) struct Latent {
    /// Every day of the range.
    pub(crate) days: Vec<DayInfo>,
    /// The campaign's regions, sorted by key.
    pub(crate) regions: Vec<&'static Region>,
    v: Vec<f64>,
    /// The deterministic part of `v` (level, growth, season, day type, festival, COVID, scenario),
    /// same layout as `v`: what `v` is but for the economy and the cell's own noise.
    det: Vec<f64>,
    /// The regional economy's log factor per region × day (region-major).
    econ: Vec<f64>,
    online: Vec<f64>,
    base_uplift: Vec<[f64; NCAT]>,
    profile: Vec<f64>,
    /// Local-station event per region, if any.
    pub(crate) local: Vec<Option<LocalEvent>>,
    /// Day index from which each region pays subsidies (`crate::subsidy`).
    sub_start: Vec<usize>,
    /// Share of the base uplift driven by subsidies, per region × category.
    sub_share: Vec<[f64; NCAT]>,
    /// Incremental sales per yuan of subsidy, per region × category.
    leverage: Vec<[f64; NCAT]>,
    /// Day-index range of the campaign window (inclusive start, exclusive end).
    pub(crate) window: (usize, usize),
    /// Targeted categories of the campaign, as a mask.
    pub(crate) targeted: [bool; NCAT],
    /// The stress scenario.
    scenario: Scenario,
    /// Region-days without payment rows (`missing-late`), region-major.
    missing: Vec<bool>,
    /// The online tilt `k_on` per region × category ([`crate::channels`]).
    channel_tilt: Vec<[f64; NCAT]>,
}

impl Latent {
    /// The same season without the campaign: no uplift on any day (a scenario's spillover into the
    /// controls included) and no local event; every value without the campaign is unchanged. The
    /// campaign-off twin of the truth tests ([`crate::cities`]).
    #[cfg(test)]
    pub(crate) fn without_campaign(&mut self) {
        self.profile.iter_mut().for_each(|p| *p = 0.0);
        self.local.iter_mut().for_each(|l| *l = None);
    }

    /// Draw the model for a configuration.
    pub(crate) fn build(cfg: &SynthConfig) -> Result<Latent, SynthError> {
        let mut regions = cfg.campaign.regions()?;
        regions.sort_by(|a, b| a.code.cmp(&b.code));
        let days: Vec<DayInfo> = cfg
            .start
            .iter_days()
            .take_while(|d| *d <= cfg.end)
            .map(|d| DayInfo::new(d, cfg.start))
            .collect();
        let nd = days.len();
        let w0 = usize::try_from((cfg.campaign.window.start - cfg.start).num_days()).unwrap_or(0);
        let w1 = usize::try_from((cfg.campaign.window.end - cfg.start).num_days() + 1).unwrap_or(0);
        let mut targeted = [false; NCAT];
        for &c in &cfg.campaign.categories.targeted {
            targeted[cat_index(c)] = true;
        }
        targeted[cat_index(Category::Other)] = false;

        let mut v = vec![0.0; regions.len() * NMCC * nd];
        let mut det = vec![0.0; regions.len() * NMCC * nd];
        let mut econ_all = Vec::with_capacity(regions.len() * nd);
        for (ri, region) in regions.iter().enumerate() {
            let code = region.code.as_str();
            let g = geo(code);
            let rate = stream(cfg.seed, &["growth", code]).uniform(GROWTH.0, GROWTH.1);
            let mut econ_stream = stream(cfg.seed, &["economy", code]);
            let stationary = ECON_SD / (1.0 - ECON_PHI * ECON_PHI).sqrt();
            let mut e = econ_stream.normal() * stationary;
            let econ: Vec<f64> = (0..nd)
                .map(|i| {
                    if i > 0 {
                        e = ECON_PHI * e + ECON_SD * econ_stream.normal();
                    }
                    e
                })
                .collect();
            econ_all.extend_from_slice(&econ);
            for (mi, m) in MCCS.iter().enumerate() {
                let c = cat_index(m.category);
                let level = g.weight * model::CATEGORY_BASE[c] * m.share;
                let mut noise = stream(cfg.seed, &["noise", code, m.code]);
                let mut a = noise.normal() * NOISE_AR.1 / (1.0 - NOISE_AR.0 * NOISE_AR.0).sqrt();
                let base = (ri * NMCC + mi) * nd;
                for (di, day) in days.iter().enumerate() {
                    if di > 0 {
                        a = NOISE_AR.0 * a + NOISE_AR.1 * noise.normal();
                    }
                    let eps = NOISE_SD * noise.normal() - 0.5 * NOISE_SD * NOISE_SD;
                    let (fest, _) = day.festival_and_online(m);
                    let fixed = level
                        * (rate * day.t).exp()
                        * day.factor[c]
                        * fest
                        * model::covid(code, c, day.date)
                        * cfg
                            .scenario
                            .level_factor(m.category, day.date, &cfg.campaign);
                    v[base + di] = fixed * econ[di].exp() * (a + eps).exp();
                    det[base + di] = fixed;
                }
            }
        }
        let online = days
            .iter()
            .flat_map(|day| MCCS.iter().map(move |m| day.festival_and_online(m).1))
            .collect();

        let base_uplift = regions
            .iter()
            .map(|r| {
                let mut b = [0.0; NCAT];
                for c in Category::ALL {
                    let ci = cat_index(c);
                    if targeted[ci] {
                        b[ci] = stream(cfg.seed, &["uplift", &r.code, c.id()])
                            .uniform(BASE_UPLIFT.0, BASE_UPLIFT.1);
                    }
                }
                b
            })
            .collect();
        let profile = uplift_profile(&days, w0, w1);
        let local = local_stations(cfg, &regions);
        // Subsidies: a share of each targeted cell's base uplift, from the window's start or, in a
        // few regions, from a later Monday (own streams: no other draw moves).
        let codes: Vec<String> = regions.iter().map(|r| r.code.clone()).collect();
        let late = crate::subsidy::late_regions(cfg.seed, &codes);
        let late_day = crate::subsidy::late_start(cfg.campaign.window.start);
        let late_index =
            w0 + usize::try_from((late_day - cfg.campaign.window.start).num_days()).unwrap_or(0);
        let sub_start = codes
            .iter()
            .map(|c| if late.contains(c) { late_index } else { w0 })
            .collect();
        let draw = |name: &str, range: (f64, f64)| -> Vec<[f64; NCAT]> {
            regions
                .iter()
                .map(|r| {
                    let mut x = [0.0; NCAT];
                    for c in Category::ALL {
                        let ci = cat_index(c);
                        if targeted[ci] {
                            x[ci] = stream(cfg.seed, &[name, &r.code, c.id()])
                                .uniform(range.0, range.1);
                        }
                    }
                    x
                })
                .collect()
        };
        let sub_share = draw("subsidy-share", crate::subsidy::SUBSIDY_SHARE);
        let leverage = draw("subsidy-leverage", crate::subsidy::LEVERAGE);
        let missing = missing_days(cfg, &regions, nd, w1);
        let channel_tilt = crate::channels::tilts(cfg.seed, &regions, &targeted);
        Ok(Latent {
            days,
            regions,
            v,
            det,
            econ: econ_all,
            online,
            base_uplift,
            profile,
            local,
            sub_start,
            sub_share,
            leverage,
            window: (w0, w1),
            targeted,
            scenario: cfg.scenario,
            missing,
            channel_tilt,
        })
    }

    /// Whether region r has no payment rows on day d (`missing-late`).
    pub(crate) fn missing(&self, r: usize, d: usize) -> bool {
        self.missing
            .get(r * self.nd() + d)
            .copied()
            .unwrap_or(false)
    }

    /// Number of days.
    pub(crate) fn nd(&self) -> usize {
        self.days.len()
    }

    /// The campaign window's day indices that the generated span holds: [`Latent::window`] cut
    /// at [`Latent::nd`] (the span may end before the window does).
    pub(crate) fn window_in_span(&self) -> (usize, usize) {
        (self.window.0, self.window.1.min(self.nd()))
    }

    /// Value without the campaign, yuan, for region index r, MCC index m, day index d.
    pub(crate) fn value(&self, r: usize, m: usize, d: usize) -> f64 {
        self.v[(r * NMCC + m) * self.nd() + d]
    }

    /// An oracle's counterfactual, yuan: the expectation of [`Latent::value`] over the cell's own
    /// noise (`E[exp(a + ε)] = exp(var(a)/2)`: ε carries its own −σ²/2, the stationary AR part `a`
    /// has variance sd²/(1 − φ²)) and — unless `economy`, when the oracle knows the region's
    /// economy path — over the economy too (`E[exp(econ)] = exp(var/2)`, its stationary variance).
    pub(crate) fn expected_value(&self, r: usize, m: usize, d: usize, economy: bool) -> f64 {
        let var_a = NOISE_AR.1 * NOISE_AR.1 / (1.0 - NOISE_AR.0 * NOISE_AR.0);
        let econ = if economy {
            self.econ[r * self.nd() + d].exp()
        } else {
            (0.5 * ECON_SD * ECON_SD / (1.0 - ECON_PHI * ECON_PHI)).exp()
        };
        self.det[(r * NMCC + m) * self.nd() + d] * econ * (0.5 * var_a).exp()
    }

    /// The online tilt `k_on` of region r and category index c ([`crate::channels`]).
    pub(crate) fn online_tilt(&self, r: usize, c: usize) -> f64 {
        self.channel_tilt.get(r).map_or(1.0, |k| k[c])
    }

    /// Online share of an MCC's value on a day.
    pub(crate) fn online_share(&self, m: usize, d: usize) -> f64 {
        self.online[d * NMCC + m]
    }

    /// The local-station part of the uplift.
    pub(crate) fn local_uplift(&self, r: usize, cat: usize, d: usize) -> f64 {
        if !self.targeted[cat] {
            return 0.0;
        }
        match self.local[r] {
            Some(ev) if ev.start <= self.days[d].date && self.days[d].date <= ev.end => ev.extra,
            _ => 0.0,
        }
    }

    /// The campaign uplift u(r, c, d): the base uplift times the window's profile (0 outside the
    /// window) plus the local event's, for targeted categories; for an untargeted category only a
    /// scenario's spillover (a multiple of the region's mean targeted uplift, same profile).
    pub(crate) fn uplift(&self, r: usize, cat: usize, d: usize) -> f64 {
        if !self.targeted[cat] {
            let spill = self.scenario.spill(Category::ALL[cat]);
            if spill == 0.0 || self.profile[d] == 0.0 {
                return 0.0;
            }
            let (sum, n) = (0..NCAT)
                .filter(|c| self.targeted[*c])
                .fold((0.0, 0.0), |(s, n), c| {
                    (s + self.base_uplift[r][c], n + 1.0)
                });
            let mean = if n > 0.0 { sum / n } else { 0.0 };
            return spill * mean * self.profile[d];
        }
        let base = if self.profile[d] == 0.0 {
            0.0
        } else if d < self.sub_start[r] {
            // Before the region pays subsidies, the base uplift lacks their part.
            self.base_uplift[r][cat] * (1.0 - self.sub_share[r][cat]) * self.profile[d]
        } else {
            self.base_uplift[r][cat] * self.profile[d]
        };
        base + self.local_uplift(r, cat, d)
    }

    /// The part of [`Latent::uplift`] the region's subsidies drive: the subsidy share of the base
    /// uplift on the days it pays subsidies (0 for untargeted categories and outside the window).
    pub(crate) fn subsidy_uplift(&self, r: usize, cat: usize, d: usize) -> f64 {
        if !self.targeted[cat] || self.profile[d] == 0.0 || d < self.sub_start[r] {
            return 0.0;
        }
        self.base_uplift[r][cat] * self.sub_share[r][cat] * self.profile[d]
    }

    /// Incremental sales per yuan of subsidy in region r, category index `cat`.
    pub(crate) fn leverage(&self, r: usize, cat: usize) -> f64 {
        self.leverage[r][cat]
    }

    /// The first day region r pays subsidies.
    pub(crate) fn subsidy_start(&self, r: usize) -> NaiveDate {
        self.days
            .get(self.sub_start[r])
            .map_or(NaiveDate::MAX, |d| d.date)
    }

    /// Value with the campaign, yuan: what the institutions see.
    pub(crate) fn x(&self, r: usize, m: usize, d: usize) -> f64 {
        self.value(r, m, d) * (1.0 + self.uplift(r, cat_index(MCCS[m].category), d))
    }

    /// The months of the range, in order.
    pub(crate) fn months(&self) -> Vec<Month> {
        let mut out: Vec<Month> = Vec::new();
        for (i, day) in self.days.iter().enumerate() {
            let (y, m) = (day.date.year(), day.date.month());
            match out.last_mut() {
                Some(last) if last.year == y && last.month == m => last.end = i + 1,
                _ => out.push(Month {
                    year: y,
                    month: m,
                    first: i,
                    end: i + 1,
                    full: false,
                }),
            }
        }
        for m in &mut out {
            m.full =
                u32::try_from(m.end - m.first).ok() == Some(model::days_in_month(m.year, m.month));
        }
        out
    }
}

/// Time profile of the base uplift inside the window, mean 1 over the window's days: ramping up over
/// the first ten days, ×2 over the Mid-Autumn/National Day holidays, ×1.3 from 24 Oct and ×1.5 from
/// 1 Nov into 11.11 (×2.5 on the day), ×1.5 on 12.12.
fn uplift_profile(days: &[DayInfo], w0: usize, w1: usize) -> Vec<f64> {
    let mut p = vec![0.0; days.len()];
    let w1 = w1.min(days.len());
    if w0 >= w1 {
        return p;
    }
    for (i, day) in days.iter().enumerate().take(w1).skip(w0) {
        let date = day.date;
        let mut x = match calendar::day_type(date) {
            DayType::Holiday(Holiday::NationalDay | Holiday::MidAutumn) => 2.0,
            DayType::ShoppingFestival(ShoppingFestival::Double11) => 2.5,
            DayType::ShoppingFestival(ShoppingFestival::Double12) => 1.5,
            _ if date.month() == 11 && date.day() <= 10 => 1.5,
            _ if date.month() == 10 && date.day() >= 24 => 1.3,
            _ => 1.0,
        };
        let k = i - w0;
        if k < 10 {
            let ramp = 0.5 + 0.05 * k as f64;
            x *= ramp;
        }
        p[i] = x;
    }
    let mean = p[w0..w1].iter().sum::<f64>() / (w1 - w0) as f64;
    for x in &mut p[w0..w1] {
        *x /= mean;
    }
    p
}

/// Region-days without payment rows in `missing-late` (empty otherwise): each region-day with
/// probability [`MISSING_SHARE`], and the last [`LATE_DAYS`] days of the window (`w1` exclusive)
/// for three regions whose file is late.
fn missing_days(cfg: &SynthConfig, regions: &[&'static Region], nd: usize, w1: usize) -> Vec<bool> {
    if cfg.scenario != Scenario::MissingLate {
        return Vec::new();
    }
    let mut out = vec![false; regions.len() * nd];
    let mut s = stream(cfg.seed, &["missing-days"]);
    for x in &mut out {
        *x = s.chance(MISSING_SHARE);
    }
    let codes: Vec<String> = regions.iter().map(|r| r.code.clone()).collect();
    let late = crate::choose_regions(cfg.seed, "late-files", &codes, 3);
    let late_days = usize::try_from(LATE_DAYS).unwrap_or(0);
    for (ri, r) in regions.iter().enumerate() {
        if late.contains(&r.code) {
            for d in w1.saturating_sub(late_days)..w1.min(nd) {
                out[ri * nd + d] = true;
            }
        }
    }
    out
}

/// Choose the local-station regions (about 10 of 37) and their staggered events.
fn local_stations(cfg: &SynthConfig, regions: &[&'static Region]) -> Vec<Option<LocalEvent>> {
    let n = regions.len();
    let mut out = vec![None; n];
    if n == 0 {
        return out;
    }
    let k = ((n as f64 * 10.0 / 37.0).round() as usize).clamp(1, n);
    let mut s = stream(cfg.seed, &["local-stations"]);
    let mut idx: Vec<usize> = (0..n).collect();
    for i in 0..k {
        let j = i + s.below(n - i);
        idx.swap(i, j);
    }
    let wdays = cfg.campaign.window.days();
    let span = (wdays as f64 * 0.70).round() as i64;
    let early = cfg.scenario == Scenario::EarlyLocalEvent;
    for (i, &r) in idx.iter().take(k).enumerate() {
        let i = i64::try_from(i).unwrap_or(0);
        let k = i64::try_from(k).unwrap_or(1);
        let base = if k > 1 { i * span / (k - 1) } else { 0 };
        let mut start_off = (base + s.range_incl(-3, 3)).clamp(0, (wdays - 14).max(0));
        let mut dur = s.range_incl(14, 28);
        if early {
            // Starts 14–28 days before the window, runs 35–49 days.
            start_off = -s.range_incl(14, 28);
            dur = s.range_incl(35, 49);
        }
        let end_off = (start_off + dur - 1).min(wdays - 1);
        let extra = s.uniform(LOCAL_UPLIFT.0, LOCAL_UPLIFT.1);
        let day = |off: i64| cfg.campaign.window.start + chrono::Duration::days(off);
        out[r] = Some(LocalEvent {
            start: day(start_off),
            end: day(end_off),
            extra,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{small_config, small_latent};

    #[test]
    fn uplift_only_inside_the_window_and_for_targeted_categories() {
        let (cfg, lat) = small_latent(11);
        assert_eq!(
            lat.regions
                .iter()
                .map(|r| r.code.as_str())
                .collect::<Vec<_>>(),
            ["330000", "330200"]
        );
        let (w0, w1) = lat.window;
        assert_eq!(lat.days[w0].date, cfg.campaign.window.start);
        assert_eq!(lat.days[w1 - 1].date, cfg.campaign.window.end);
        let mean = lat.profile[w0..w1].iter().sum::<f64>() / (w1 - w0) as f64;
        assert!((mean - 1.0).abs() < 1e-9);
        for r in 0..2 {
            for c in Category::ALL {
                let ci = cat_index(c);
                for d in 0..lat.nd() {
                    let u = lat.uplift(r, ci, d);
                    if c.is_targeted() && (w0..w1).contains(&d) {
                        assert!(u > 0.0);
                    } else {
                        assert!(u == 0.0, "{c} {}", lat.days[d].date);
                    }
                }
            }
        }
        assert_eq!(lat.local.iter().filter(|e| e.is_some()).count(), 1);
        let ev = lat.local.iter().flatten().next().unwrap();
        assert!(cfg.campaign.window.contains(ev.start) && cfg.campaign.window.contains(ev.end));
        assert!((13..=27).contains(&(ev.end - ev.start).num_days()));
    }

    #[test]
    fn values_are_positive_and_controls_share_the_economy() {
        let (_, lat) = small_latent(5);
        for r in 0..2 {
            for m in 0..NMCC {
                for d in 0..lat.nd() {
                    assert!(lat.value(r, m, d) > 0.0);
                }
            }
        }
        let mut cfg2 = small_config(5);
        cfg2.seed = 6;
        let other = Latent::build(&cfg2).unwrap();
        assert!((lat.value(0, 0, 0) - other.value(0, 0, 0)).abs() > 0.0);
    }

    #[test]
    fn the_oracle_counterfactual_is_the_value_without_its_own_noise() {
        let (cfg, lat) = small_latent(7);
        // value / expected (economy known) is the cell's noise factor exp(a + eps): mean 1, sd ≈
        // √(0.04² + 0.02²); without the economy, its AR(0.98) factor (sd 0.02) is in the ratio too.
        let stats = |economy: bool| {
            let ratios: Vec<f64> = (0..2)
                .flat_map(|r| (0..NMCC).map(move |m| (r, m)))
                .flat_map(|(r, m)| (0..lat.nd()).map(move |d| (r, m, d)))
                .map(|(r, m, d)| lat.value(r, m, d) / lat.expected_value(r, m, d, economy))
                .collect();
            let n = ratios.len() as f64;
            let mean = ratios.iter().sum::<f64>() / n;
            let sd = (ratios.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
            (mean, sd)
        };
        let (mean, sd) = stats(true);
        assert!((mean - 1.0).abs() < 0.005, "mean {mean}");
        assert!((0.035..0.055).contains(&sd), "sd {sd}");
        let (mean, sd_no_econ) = stats(false);
        assert!((mean - 1.0).abs() < 0.02, "mean {mean}");
        assert!(sd_no_econ > sd, "{sd_no_econ} > {sd}");
        // The oracles' uplifts are near the truth but not equal to it: the window's own noise (and
        // the economy's, for the oracle that does not know it).
        let rows = crate::truth::rows(&cfg, &lat);
        for t in &rows {
            for o in [t.oracle_uplift_pct, t.oracle_economy_uplift_pct] {
                assert!(
                    (o - t.true_uplift_pct).abs() < 6.0,
                    "{o} vs {}",
                    t.true_uplift_pct
                );
            }
        }
        assert!(
            rows.iter()
                .any(|t| (t.oracle_economy_uplift_pct - t.true_uplift_pct).abs() > 0.01)
        );
    }

    #[test]
    fn truth_matches_a_direct_sum() {
        let (cfg, lat) = small_latent(3);
        let rows = crate::truth::rows(&cfg, &lat);
        assert_eq!(rows.len(), 8);
        let (w0, w1) = lat.window;
        for row in &rows {
            let r = lat
                .regions
                .iter()
                .position(|x| x.code == row.region_code)
                .unwrap();
            let c = cat_index(Category::parse(&row.category).unwrap());
            let (mut with, mut without) = (0.0, 0.0);
            for (m, spec) in MCCS.iter().enumerate() {
                if cat_index(spec.category) == c {
                    for d in w0..w1 {
                        with += lat.x(r, m, d);
                        without += lat.value(r, m, d);
                    }
                }
            }
            assert!((row.true_uplift_pct - 100.0 * (with / without - 1.0)).abs() < 1e-9);
            assert!(row.true_uplift_pct > 0.0);
            assert_eq!(row.local_station, row.local_uplift_pct > 0.0);
            assert!(row.local_uplift_pct < row.true_uplift_pct);
        }
    }
}
