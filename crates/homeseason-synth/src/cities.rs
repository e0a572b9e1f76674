//! Prefecture-level cities (issue 18 part 5, the dense spread [`crate::AreaSpread::Dense`]): the true
//! uplift of each city × targeted category, `truth_cities.csv`.
//!
//! With the dense spread, wallet_b's merchant book of region r and MCC m has merchants in every
//! city of the region ([`crate::geo::dense_cities`]). Let `σ_{c,k}(r, m)` be the share of the book's
//! weight held by the merchants of city c in class k (rural, urban, unknown: [`crate::urban_rural`]).
//! A sale of day d falls at a merchant of class k with probability `ρ_k·(1 + f_k·u)/(1 + u)` and,
//! within the class, by the book's weights, so city c's expected sales are
//! `Σ_k σ_{c,k}·v·(1 + f_k·u)` against `σ_c·v` without the campaign (`v` the day's value,
//! `u` the campaign uplift, `f_k` the class's tilt): the same machinery as the urban/rural truth,
//! one level finer. A city's truth is thus its region's uplift moved by its own mix of town and
//! country, and the estimate from `payment_area_daily` (wallet_b's rows of the city) estimates it.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::geo::dense_cities;
use crate::latent::Latent;
use crate::model::{cat_index, mccs_of};
use crate::output::{Out, fixed};
use crate::urban_rural::{Classes, class_of};
use crate::{SynthConfig, SynthError};

/// The file of the city truth.
pub const TRUTH_CITIES_FILE: &str = "truth_cities.csv";

/// Header of [`TRUTH_CITIES_FILE`]: `truth.csv`'s columns with `region_code` the city's code (as
/// the ingest writes it to `payment_area_daily`'s `city_code`, so `homeseason score` can read the
/// city-level `uplift` against it), then `reporting_region_code`. The oracles are computed as in
/// `truth.csv`, over the city's share of each day's value.
pub(crate) const HEADER: &str = "campaign_id,region_code,category,true_uplift_pct,local_station,local_uplift_pct,oracle_uplift_pct,oracle_economy_uplift_pct,reporting_region_code";

/// Per city × targeted category: Σ with, Σ without, Σ local part, Σ expected, Σ expected given the
/// economy.
#[derive(Clone, Copy, Default)]
struct Sums {
    with: f64,
    without: f64,
    local: f64,
    expected: f64,
    expected_econ: f64,
}

/// Write [`TRUTH_CITIES_FILE`] (dense spread only).
pub(crate) fn write(
    cfg: &SynthConfig,
    lat: &Latent,
    classes: &Classes,
    out: &mut Out<'_>,
) -> Result<(), SynthError> {
    let (w0, w1) = lat.window_in_span();
    let targeted = &cfg.campaign.categories.targeted;
    let mut buf = String::from(HEADER);
    buf.push('\n');
    let mut rows = 0;
    for (r, region) in lat.regions.iter().enumerate() {
        let code: &'static str = region.code.as_str();
        let cities = dense_cities(code);
        let city_of: HashMap<&str, usize> = cities
            .iter()
            .enumerate()
            .flat_map(|(i, c)| c.areas.iter().map(move |a| (*a, i)))
            .collect();
        let mut sums = vec![Sums::default(); cities.len() * targeted.len()];
        for (t, &c) in targeted.iter().enumerate() {
            let ci = cat_index(c);
            for (mi, m) in mccs_of(ci) {
                // σ_{city,k}: the book's weight per city and class, as a share of the whole book.
                let (areas, weights) = crate::wallet_b::book_weights(cfg, code, m);
                let total: f64 = weights.iter().sum();
                let mut sigma = vec![[0.0; 3]; cities.len()];
                for (a, w) in areas.iter().zip(&weights) {
                    if let Some(&i) = city_of.get(a) {
                        sigma[i][class_of(a)] += w / total;
                    }
                }
                for d in w0..w1 {
                    let v = lat.value(r, mi, d);
                    let u = lat.uplift(r, ci, d);
                    let local = lat.local_uplift(r, ci, d);
                    let f = classes.factors(r, mi, d, lat);
                    let (e, ee) = (
                        lat.expected_value(r, mi, d, false),
                        lat.expected_value(r, mi, d, true),
                    );
                    for (i, s) in sigma.iter().enumerate() {
                        let share: f64 = s.iter().sum();
                        let tilted: f64 = s.iter().zip(f).map(|(s, f)| s * f).sum();
                        let x = &mut sums[i * targeted.len() + t];
                        x.with += v * (share + tilted * u);
                        x.without += v * share;
                        x.local += v * tilted * local;
                        x.expected += e * share;
                        x.expected_econ += ee * share;
                    }
                }
            }
        }
        for (i, city) in cities.iter().enumerate() {
            for (t, c) in targeted.iter().enumerate() {
                let x = sums[i * targeted.len() + t];
                if x.without <= 0.0 {
                    continue;
                }
                let oracle = |e: f64| {
                    if e > 0.0 {
                        100.0 * (x.with / e - 1.0)
                    } else {
                        0.0
                    }
                };
                let _ = writeln!(
                    buf,
                    "{},{},{},{},{},{},{},{},{code}",
                    cfg.campaign.id,
                    city.code,
                    c.id(),
                    fixed(100.0 * (x.with / x.without - 1.0), 4),
                    lat.local[r].is_some(),
                    fixed(100.0 * x.local / x.without, 4),
                    fixed(oracle(x.expected), 4),
                    fixed(oracle(x.expected_econ), 4),
                );
                rows += 1;
            }
        }
    }
    out.write(TRUTH_CITIES_FILE, buf.as_bytes(), rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AreaSpread;
    use crate::model::MCCS;

    /// Dense: wallet_b's merchants sit in every city of Zhejiang, and the cities' truth averages
    /// (weighted by sales without the campaign) to the region's: the classes' tilts only move sales
    /// between cities.
    #[test]
    fn every_city_has_merchants_and_the_cities_add_up_to_the_region() {
        let mut cfg = crate::test_support::small_config(7);
        cfg.areas = AreaSpread::Dense;
        let lat = Latent::build(&cfg).unwrap();
        let classes = Classes::build(&cfg, &lat);
        let dir = tempfile::tempdir().unwrap();
        let mut out = Out::new(dir.path());
        write(&cfg, &lat, &classes, &mut out).unwrap();
        let text = std::fs::read_to_string(dir.path().join(TRUTH_CITIES_FILE)).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(HEADER));
        let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
        let zj: std::collections::BTreeSet<&str> = rows
            .iter()
            .filter(|r| r[8] == "330000")
            .map(|r| r[1])
            .collect();
        assert_eq!(zj.len(), 10, "{zj:?}");
        for m in &MCCS {
            let (areas, _) = crate::wallet_b::book_weights(&cfg, "330000", m);
            for city in dense_cities("330000") {
                assert!(
                    city.areas.iter().any(|a| areas.contains(a)),
                    "{} has no merchant of {}",
                    city.code,
                    m.code
                );
            }
        }
        // Truth.csv's region figure against the cities' truth weighted by their sales without.
        let truth = crate::truth::rows(&cfg, &lat);
        for t in truth.iter().filter(|t| t.region_code == "330000") {
            let mine: Vec<&Vec<&str>> = rows
                .iter()
                .filter(|r| r[8] == "330000" && r[2] == t.category)
                .collect();
            assert_eq!(mine.len(), 10);
            let spread = mine
                .iter()
                .map(|r| r[3].parse::<f64>().unwrap())
                .fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(x), hi.max(x)));
            assert!(
                spread.0 <= t.true_uplift_pct + 1e-3 && t.true_uplift_pct - 1e-3 <= spread.1,
                "{} {:?} vs {}",
                t.category,
                spread,
                t.true_uplift_pct
            );
        }
    }

    /// Window sale amounts of wallet_b's files under `dir` per (city, targeted category): the sum
    /// and the sum of squares (for the ratio's standard error).
    fn window_sales(
        cfg: &SynthConfig,
        dir: &std::path::Path,
    ) -> HashMap<(&'static str, &'static str), (f64, f64)> {
        let city_of: HashMap<&str, &'static str> = ["330000", "330200"]
            .iter()
            .flat_map(|r| dense_cities(r))
            .flat_map(|c| c.areas.iter().map(move |a| (*a, c.code)))
            .collect();
        let (start, end) = (
            cfg.campaign.window.start.to_string(),
            cfg.campaign.window.end.to_string(),
        );
        let mut sums = HashMap::new();
        for file in std::fs::read_dir(dir.join("payments/wallet_b")).unwrap() {
            let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
            for line in text.lines().skip(1) {
                let f: Vec<&str> = line.split(',').collect();
                let day = &f[2][..10];
                if f[7] != "sale" || day < start.as_str() || day > end.as_str() {
                    continue;
                }
                let m = MCCS.iter().find(|m| m.code == f[4]).unwrap();
                if !cfg.campaign.categories.targeted.contains(&m.category) {
                    continue;
                }
                let amount: f64 = f[6].parse().unwrap();
                let x: &mut (f64, f64) = sums.entry((city_of[f[5]], m.category.id())).or_default();
                x.0 += amount;
                x.1 += amount * amount;
            }
        }
        sums
    }

    /// The truth is the lift the season realises: wallet_b's window sales of each Zhejiang and
    /// Ningbo city × targeted category, against those of the same season with the campaign turned
    /// off ([`Latent::without_campaign`]; the merchant books and values are the same), lie within
    /// sampling error of `truth_cities.csv`'s `true_uplift_pct` — cell by cell (|z| < 4) and on
    /// average (mean z within ±0.8, its standard error ~0.16 over the 44 cells). A truth with the
    /// class tilt left out, applied twice, or the region's figure for every city is not what is
    /// checked here; the realised lift is, whatever made it.
    #[test]
    fn the_truth_is_the_realised_lift_of_a_campaign_off_twin() {
        let mut cfg = crate::test_support::small_config(5);
        cfg.areas = AreaSpread::Dense;
        cfg.start = cfg.campaign.window.start;
        cfg.scale = 400.0;
        let lat = Latent::build(&cfg).unwrap();
        let classes = Classes::build(&cfg, &lat);
        let mut off = Latent::build(&cfg).unwrap();
        off.without_campaign();
        let (on_dir, off_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut out = Out::new(on_dir.path());
        crate::wallet_b::write(&cfg, &lat, &classes, &mut out, &crate::NoProgress).unwrap();
        write(&cfg, &lat, &classes, &mut out).unwrap();
        let mut out = Out::new(off_dir.path());
        crate::wallet_b::write(&cfg, &off, &classes, &mut out, &crate::NoProgress).unwrap();
        let (with, without) = (
            window_sales(&cfg, on_dir.path()),
            window_sales(&cfg, off_dir.path()),
        );
        let text = std::fs::read_to_string(on_dir.path().join(TRUTH_CITIES_FILE)).unwrap();
        let mut zs = Vec::new();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let truth: f64 = f[3].parse().unwrap();
            let key = (f[1], f[2]);
            let (Some(a), Some(b)) = (with.get(&key).copied(), without.get(&key).copied()) else {
                panic!("{key:?} has no sales");
            };
            let ratio = a.0 / b.0;
            let se = 100.0 * ratio * (a.1 / (a.0 * a.0) + b.1 / (b.0 * b.0)).sqrt();
            let realised = 100.0 * (ratio - 1.0);
            let z = (realised - truth) / se;
            assert!(
                z.abs() < 4.0,
                "{key:?}: realised {realised:.2} truth {truth:.2} se {se:.2}"
            );
            zs.push(z);
        }
        assert_eq!(
            zs.len(),
            11 * 4,
            "Zhejiang's 10 cities and Ningbo × 4 categories"
        );
        let mean = zs.iter().sum::<f64>() / zs.len() as f64;
        assert!(mean.abs() < 0.8, "mean z {mean:.2} over {zs:?}");
    }
}
