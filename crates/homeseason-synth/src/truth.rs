//! The ground truth: the uplift a perfect estimator of the payment counterfactual would report.

use crate::latent::Latent;
use crate::model::{MCCS, cat_index};
use crate::output::{Out, fixed};
use crate::{SynthConfig, SynthError};

/// Header of `truth.csv`.
pub(crate) const HEADER: &str =
    "campaign_id,region_code,category,true_uplift_pct,local_station,local_uplift_pct";
/// Header of `truth_local_events.csv`.
pub(crate) const EVENTS_HEADER: &str =
    "region_code,event_start,event_end,extra_uplift_pct_during_event";

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
}

/// Compute the truth rows (regions in key order, categories in the campaign's order).
pub(crate) fn rows(cfg: &SynthConfig, lat: &Latent) -> Vec<TruthRow> {
    let (w0, w1) = lat.window;
    let mut out = Vec::new();
    for (r, region) in lat.regions.iter().enumerate() {
        for &c in &cfg.campaign.categories.targeted {
            let ci = cat_index(c);
            let (mut with, mut without, mut local) = (0.0, 0.0, 0.0);
            for (mi, m) in MCCS.iter().enumerate() {
                if cat_index(m.category) != ci {
                    continue;
                }
                for d in w0..w1.min(lat.nd()) {
                    let v = lat.value(r, mi, d);
                    without += v;
                    with += v * (1.0 + lat.uplift(r, ci, d));
                    local += v * lat.local_uplift(r, ci, d);
                }
            }
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
            "{},{},{},{},{},{}\n",
            cfg.campaign.id,
            t.region_code,
            t.category,
            fixed(t.true_uplift_pct, 4),
            t.local_station,
            fixed(t.local_uplift_pct, 4)
        ));
    }
    out.write("truth.csv", buf.as_bytes(), truth.len())?;

    let mut buf = String::new();
    buf.push_str(EVENTS_HEADER);
    buf.push('\n');
    let mut rows = 0;
    for (region, ev) in lat.regions.iter().zip(&lat.local) {
        if let Some(ev) = ev {
            buf.push_str(&format!(
                "{},{},{},{}\n",
                region.code,
                ev.start,
                ev.end,
                fixed(100.0 * ev.extra, 2)
            ));
            rows += 1;
        }
    }
    out.write("truth_local_events.csv", buf.as_bytes(), rows)
}
