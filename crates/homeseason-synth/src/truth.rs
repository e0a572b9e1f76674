//! The ground truth: the uplift a perfect estimator of the payment counterfactual would report.

use crate::latent::Latent;
use crate::model::{cat_index, mccs_of};
use crate::output::{Out, fixed};
use crate::{SynthConfig, SynthError};

/// Header of `truth.csv`.
/// The two oracle columns are the uplift an estimator would report that knew the expectation of
/// the counterfactual, 100 × (Σ window value with uplift / Σ window expected value without − 1):
/// `oracle_uplift_pct` knows every fixed part of the generator (level, growth, season, day types,
/// festivals, COVID, the scenario) and takes the expectation over the region's economy and the
/// cell's own noise; `oracle_economy_uplift_pct` also knows the economy's path (which the
/// controls reveal only through their own noise), so only the cell's own noise is left. Their
/// distance from `true_uplift_pct` is the error of each oracle; `homeseason evaluate` scores them
/// as the `oracle` and `oracle_economy` rows.
pub(crate) const HEADER: &str = "campaign_id,region_code,category,true_uplift_pct,local_station,local_uplift_pct,oracle_uplift_pct,oracle_economy_uplift_pct";
/// Header of `truth_local_events.csv`: one row per event × targeted category and `all_targeted`.
/// `extra_uplift_pct_during_event` is the estimand of the local-event analysis — the event's sales
/// over the event days relative to the same days with the national campaign but without the event,
/// 100 × Σ v·e / Σ v·(1 + u_nat) — and `injected_extra_pct` is the generator's parameter e (added to
/// the national uplift u_nat, so the estimand is a little below it).
pub(crate) const EVENTS_HEADER: &str =
    "region_code,event_start,event_end,category,extra_uplift_pct_during_event,injected_extra_pct";

/// One truth row.
#[derive(Debug, Clone)]
pub(crate) struct TruthRow {
    /// Region key.
    pub(crate) region_code: String,
    /// Category id.
    pub(crate) category: String,
    /// 100 × (Σ window value with uplift / Σ window value without − 1).
    pub(crate) true_uplift_pct: f64,
    /// Whether the region ran a local-station event.
    pub(crate) local_station: bool,
    /// The part of `true_uplift_pct` due to the local event.
    pub(crate) local_uplift_pct: f64,
    /// The estimate of the oracle that knows the generator's fixed parts (see [`HEADER`]).
    pub(crate) oracle_uplift_pct: f64,
    /// The estimate of the oracle that also knows the economy's path (see [`HEADER`]).
    pub(crate) oracle_economy_uplift_pct: f64,
}

/// Compute the truth rows (regions in key order, categories in the campaign's order).
pub(crate) fn rows(cfg: &SynthConfig, lat: &Latent) -> Vec<TruthRow> {
    let (w0, w1) = lat.window;
    let mut out = Vec::new();
    for (r, region) in lat.regions.iter().enumerate() {
        for &c in &cfg.campaign.categories.targeted {
            let ci = cat_index(c);
            let (mut with, mut without, mut local) = (0.0, 0.0, 0.0);
            let (mut expected, mut expected_econ) = (0.0, 0.0);
            for (mi, _) in mccs_of(ci) {
                for d in w0..w1.min(lat.nd()) {
                    let v = lat.value(r, mi, d);
                    without += v;
                    with += v * (1.0 + lat.uplift(r, ci, d));
                    local += v * lat.local_uplift(r, ci, d);
                    expected += lat.expected_value(r, mi, d, false);
                    expected_econ += lat.expected_value(r, mi, d, true);
                }
            }
            let oracle = |e: f64| {
                if e > 0.0 {
                    100.0 * (with / e - 1.0)
                } else {
                    0.0
                }
            };
            let pct = |x: f64| {
                if without > 0.0 {
                    100.0 * x / without
                } else {
                    0.0
                }
            };
            out.push(TruthRow {
                region_code: region.code.clone(),
                category: c.id().to_owned(),
                true_uplift_pct: pct(with - without),
                local_station: lat.local[r].is_some(),
                local_uplift_pct: pct(local),
                oracle_uplift_pct: oracle(expected),
                oracle_economy_uplift_pct: oracle(expected_econ),
            });
        }
    }
    out
}

/// Write `truth.csv` and `truth_local_events.csv`.
pub(crate) fn write(
    cfg: &SynthConfig,
    lat: &Latent,
    truth: &[TruthRow],
    out: &mut Out<'_>,
) -> Result<(), SynthError> {
    let mut buf = String::new();
    buf.push_str(HEADER);
    buf.push('\n');
    for t in truth {
        buf.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            cfg.campaign.id,
            t.region_code,
            t.category,
            fixed(t.true_uplift_pct, 4),
            t.local_station,
            fixed(t.local_uplift_pct, 4),
            fixed(t.oracle_uplift_pct, 4),
            fixed(t.oracle_economy_uplift_pct, 4)
        ));
    }
    out.write("truth.csv", buf.as_bytes(), truth.len())?;

    let mut buf = String::new();
    buf.push_str(EVENTS_HEADER);
    buf.push('\n');
    let mut rows = 0;
    for (r, (region, ev)) in lat.regions.iter().zip(&lat.local).enumerate() {
        let Some(ev) = ev else { continue };
        let days: Vec<usize> = (0..lat.nd())
            .filter(|&d| ev.start <= lat.days[d].date && lat.days[d].date <= ev.end)
            .collect();
        let (mut all_extra, mut all_base) = (0.0, 0.0);
        let write = |category: &str, extra: f64, base: f64, buf: &mut String| {
            let pct = if base > 0.0 {
                100.0 * extra / base
            } else {
                0.0
            };
            buf.push_str(&format!(
                "{},{},{},{},{},{}\n",
                region.code,
                ev.start,
                ev.end,
                category,
                fixed(pct, 4),
                fixed(100.0 * ev.extra, 2)
            ));
        };
        for &c in &cfg.campaign.categories.targeted {
            let ci = cat_index(c);
            let (mut extra, mut base) = (0.0, 0.0);
            for (mi, _) in mccs_of(ci) {
                for &d in &days {
                    let v = lat.value(r, mi, d);
                    let local = lat.local_uplift(r, ci, d);
                    extra += v * local;
                    base += v * (1.0 + lat.uplift(r, ci, d) - local);
                }
            }
            all_extra += extra;
            all_base += base;
            write(c.id(), extra, base, &mut buf);
            rows += 1;
        }
        write("all_targeted", all_extra, all_base, &mut buf);
        rows += 1;
    }
    out.write("truth_local_events.csv", buf.as_bytes(), rows)
}
