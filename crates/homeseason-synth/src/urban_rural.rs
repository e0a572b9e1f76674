//! Town and country (城乡): the campaign lifts the urban and the rural areas of a targeted category
//! by different, known amounts, rural more in the days of the region's countryside-sales events
//! (下乡), and `truth_urban_rural.csv` says by how much.
//!
//! wallet_b's merchants each sit in one county-level area of [`crate::geo`]'s list, classed with the
//! bundled division list (`homeseason_schema::division`): urban (市辖区), rural (县域) or unknown
//! (a code that is not county-level). For region r and MCC m, `ρ_k(r, m)` is class k's share of the
//! merchant book's weight (so of wallet_b's expected sales without the campaign).
//!
//! For region r and targeted category c a rural tilt `k_rural(r, c) ~ U(0.4, 0.8)` is drawn (stream
//! `urban_rural/<region>/<category>`); on the days of a countryside-sales event of the region
//! (activity types 家电下乡 / 家居下乡 in the register the generator writes) it is raised by
//! [`COUNTRYSIDE_LIFT`]. On day d with campaign uplift `u(r, c, d)`, rural sales are multiplied by
//! `1 + k_rural·u`, unknown ones by `1 + u`, and urban ones by `1 + k_urban·u` with
//! `k_urban = (1 − ρ_unknown − ρ_rural·k_rural) / ρ_urban`, so that the cell's total — and so every
//! other truth and feed total — is unchanged: the campaign lifts rural areas less than towns, except
//! in the events' days, when it moves sales towards the countryside. (`k_rural` is capped so that
//! `k_urban ≥ 0`; a region with no urban merchants has `k_rural = 1`.) wallet_b draws each sale's
//! merchant from the classes with these weights (`ρ_k·(1 + k_k·u) / (1 + u)`), in both channels;
//! acq_a reports province codes only (its rows are not in the area table).

use chrono::NaiveDate;
use homeseason_schema::category::Category;
use homeseason_schema::division::{AreaType, Divisions};

use crate::latent::Latent;
use crate::model::{MCCS, NCAT, NMCC, cat_index, mccs_of};
use crate::output::{Out, fixed, write_parts};
use crate::rng::stream;
use crate::{SynthConfig, SynthError};

/// Range of the rural tilt `k_rural`.
pub(crate) const RURAL_TILT: (f64, f64) = (0.4, 0.8);

/// Added to `k_rural` on the days of the region's countryside-sales events.
pub(crate) const COUNTRYSIDE_LIFT: f64 = 1.5;

/// The file of the urban/rural truth.
pub const TRUTH_URBAN_RURAL_FILE: &str = "truth_urban_rural.csv";

/// Header of [`TRUTH_URBAN_RURAL_FILE`]: one row per region (and `000000`, the sum of the regions) ×
/// targeted category × class (urban, rural) with any sales; `true_uplift_pct` = 100 × (Σ window
/// value of the class with uplift / Σ without − 1), `rural_tilt` the drawn `k_rural` (before the
/// events' lift; empty for the nation), `countryside_days` the window days with a countryside-sales
/// event of the region, `with_yuan` and `without_yuan` the two sums (all institutions' value split
/// by wallet_b's class shares).
pub(crate) const HEADER: &str = "campaign_id,region_code,category,urban_rural,true_uplift_pct,rural_tilt,countryside_days,with_yuan,without_yuan";

/// The classes, in the order of [`Classes::share`]'s entries.
pub(crate) const CLASSES: [&str; 3] = ["rural", "urban", "unknown"];

/// The class index of a county-level code: 0 rural, 1 urban, 2 unknown.
pub(crate) fn class_of(code: &str) -> usize {
    match Divisions::embedded().area_type(code) {
        Some(AreaType::Rural) => 0,
        Some(AreaType::Urban) => 1,
        None => 2,
    }
}

/// What the generator knows of town and country: class shares, tilts and event days.
pub(crate) struct Classes {
    /// `ρ_k(r, m)` per region × MCC (region-major), k as in [`CLASSES`].
    share: Vec<[f64; 3]>,
    /// `k_rural` per region × category (1 for untargeted categories).
    tilt: Vec<[f64; NCAT]>,
    /// Per region × day (region-major), whether a countryside-sales event runs.
    countryside: Vec<bool>,
    /// Days of the range.
    nd: usize,
}

impl Classes {
    /// Draw the tilts, work out the class shares from wallet_b's merchant books and mark the days
    /// of each region's countryside-sales events (from the activities register).
    pub(crate) fn build(cfg: &SynthConfig, lat: &Latent) -> Classes {
        let nd = lat.nd();
        let mut share = Vec::with_capacity(lat.regions.len() * NMCC);
        for r in &lat.regions {
            for m in &MCCS {
                let (counties, weights) = crate::wallet_b::book_weights(cfg, r.code.as_str(), m);
                let mut s = [0.0; 3];
                for (c, w) in counties.iter().zip(weights) {
                    s[class_of(c)] += w;
                }
                let total: f64 = s.iter().sum();
                if total > 0.0 {
                    for v in &mut s {
                        *v /= total;
                    }
                }
                share.push(s);
            }
        }
        let tilt = lat
            .regions
            .iter()
            .map(|r| {
                let mut k = [1.0; NCAT];
                for c in Category::ALL {
                    let ci = cat_index(c);
                    if lat.targeted[ci] {
                        k[ci] = stream(cfg.seed, &["urban_rural", &r.code, c.id()])
                            .uniform(RURAL_TILT.0, RURAL_TILT.1);
                    }
                }
                k
            })
            .collect();
        let spans = crate::activities::countryside_spans(cfg, lat);
        let mut countryside = vec![false; lat.regions.len() * nd];
        for (r, list) in spans.iter().enumerate() {
            for d in 0..nd {
                let date: NaiveDate = lat.days[d].date;
                if list.iter().any(|(a, b)| *a <= date && date <= *b) {
                    countryside[r * nd + d] = true;
                }
            }
        }
        Classes {
            share,
            tilt,
            countryside,
            nd,
        }
    }

    /// `ρ_k(r, m)`.
    pub(crate) fn share(&self, r: usize, m: usize) -> [f64; 3] {
        self.share[r * NMCC + m]
    }

    /// Whether a countryside-sales event of region r runs on day d.
    pub(crate) fn countryside(&self, r: usize, d: usize) -> bool {
        self.countryside[r * self.nd + d]
    }

    /// The drawn `k_rural(r, c)` (before the events' lift).
    pub(crate) fn rural_tilt(&self, r: usize, c: usize) -> f64 {
        self.tilt[r][c]
    }

    /// The three classes' uplift multipliers `k` (rural, urban, unknown) of region r, MCC m, day d
    /// (module docs).
    pub(crate) fn factors(&self, r: usize, m: usize, d: usize, lat: &Latent) -> [f64; 3] {
        let ci = cat_index(MCCS[m].category);
        let [rural, urban, unknown] = self.share(r, m);
        if urban <= 0.0 || rural <= 0.0 || !lat.targeted[ci] {
            return [1.0; 3];
        }
        let raw = self.tilt[r][ci]
            + if self.countryside(r, d) {
                COUNTRYSIDE_LIFT
            } else {
                0.0
            };
        let k_rural = raw.min((1.0 - unknown) / rural);
        let k_urban = (1.0 - unknown - rural * k_rural) / urban;
        [k_rural, k_urban.max(0.0), 1.0]
    }

    /// The probability that a sale of region r, MCC m, day d is at a merchant of each class:
    /// `ρ_k·(1 + k_k·u) / (1 + u)`; `None` when there is no uplift (the book's own weights).
    pub(crate) fn pick_weights(
        &self,
        r: usize,
        m: usize,
        d: usize,
        lat: &Latent,
    ) -> Option<[f64; 3]> {
        let u = lat.uplift(r, cat_index(MCCS[m].category), d);
        if u == 0.0 {
            return None;
        }
        let k = self.factors(r, m, d, lat);
        let s = self.share(r, m);
        Some(std::array::from_fn(|i| s[i] * (1.0 + k[i] * u) / (1.0 + u)))
    }
}

/// Write [`TRUTH_URBAN_RURAL_FILE`].
pub(crate) fn write(
    cfg: &SynthConfig,
    lat: &Latent,
    classes: &Classes,
    out: &mut Out<'_>,
) -> Result<(), SynthError> {
    let (w0, w1) = lat.window_in_span();
    write_parts(
        cfg,
        lat,
        out,
        (TRUTH_URBAN_RURAL_FILE, HEADER),
        [CLASSES[0], CLASSES[1]],
        ",",
        |r, ci| {
            let days = (w0..w1).filter(|d| classes.countryside(r, *d)).count();
            let mut sums = [(0.0, 0.0); 2];
            for (mi, _) in mccs_of(ci) {
                let s = classes.share(r, mi);
                for d in w0..w1 {
                    let v = lat.value(r, mi, d);
                    let u = lat.uplift(r, ci, d);
                    let k = classes.factors(r, mi, d, lat);
                    for ((sum, share), tilt) in sums.iter_mut().zip(s).zip(k) {
                        sum.0 += v * share * (1.0 + tilt * u);
                        sum.1 += v * share;
                    }
                }
            }
            (
                sums,
                format!("{},{days}", fixed(classes.rural_tilt(r, ci), 4)),
            )
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The classes' weights add up to one on every day (the cell's total is unchanged), rural grows
    /// less than urban outside the events' days and more inside them, and some regions have both
    /// classes and countryside-sales events.
    #[test]
    fn the_classes_add_up_and_the_events_lift_rural_sales() {
        let (cfg, lat) = crate::test_support::small_latent(7);
        let classes = Classes::build(&cfg, &lat);
        let (mut plain, mut events) = (0, 0);
        for (r, m, mcc, d) in crate::test_support::window_cells(&lat, 1) {
            let Some(p) = classes.pick_weights(r, m, d, &lat) else {
                continue;
            };
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{p:?}");
            let s = classes.share(r, m);
            if s[0] <= 0.0 || s[1] <= 0.0 || !lat.targeted[cat_index(mcc.category)] {
                continue;
            }
            let (rural, urban) = (p[0] / s[0], p[1] / s[1]);
            if classes.countryside(r, d) {
                assert!(rural > urban, "{r} {m} {d}");
                events += 1;
            } else {
                assert!(rural < urban, "{r} {m} {d}");
                plain += 1;
            }
        }
        assert!(plain > 0 && events > 0, "{plain} {events}");
        assert_eq!(class_of("110101"), 1);
        assert_eq!(class_of("130123"), 0);
    }
}
