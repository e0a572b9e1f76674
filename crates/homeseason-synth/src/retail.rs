//! Feed 4: NBS-style provincial retail sales (社零) in 亿元.

use std::collections::BTreeMap;

use homeseason_schema::category::Category;
use homeseason_schema::region::RegionLevel;

use crate::latent::Latent;
use crate::model::{MCCS, cat_index};
use crate::output::{Out, fixed};
use crate::rng::stream;
use crate::{SynthConfig, SynthError};

/// Header of the retail file.
pub(crate) const HEADER: &str = "period,months_covered,region_code,category,value_100m_yuan,yoy_pct,cum_value_100m_yuan,cum_yoy_pct,source";
/// Market multiplier range over the payment universe, per province.
pub(crate) const MARKET_MULTIPLIER: (f64, f64) = (20.0, 50.0);
/// Total retail relative to the sum of all modelled categories (cars, clothing, … are not modelled).
pub(crate) const TOTAL_RETAIL_FACTOR: f64 = 2.5;

const SERIES: [(&str, Option<Category>); 4] = [
    ("home_appliances", Some(Category::HomeAppliances)),
    ("furniture", Some(Category::Furniture)),
    ("building_materials", Some(Category::BuildingMaterials)),
    ("total_retail", None),
];

/// One published figure: value and cumulative value of a (year, last month) period.
#[derive(Clone, Copy)]
struct Figure {
    value: f64,
    cum: f64,
}

/// Write `retail_stats/retail_stats_provincial.csv`. Years are published from January of the first
/// fully generated year; January and February only as one combined row; year-on-year changes are
/// empty where the previous year was not generated.
pub(crate) fn write(cfg: &SynthConfig, lat: &Latent, out: &mut Out<'_>) -> Result<(), SynthError> {
    let months: Vec<_> = lat.months().into_iter().filter(|m| m.full).collect();
    // (period label, months covered) → region → series → figure, in publication order.
    let mut table: BTreeMap<(i32, u32), BTreeMap<usize, [Figure; 4]>> = BTreeMap::new();
    for (r, region) in lat.regions.iter().enumerate() {
        if region.level != RegionLevel::Province {
            continue;
        }
        let mut s = stream(cfg.seed, &["retail", &region.code]);
        let k = s.uniform(MARKET_MULTIPLIER.0, MARKET_MULTIPLIER.1);
        let mut by_month: BTreeMap<(i32, u32), [f64; 4]> = BTreeMap::new();
        for month in &months {
            let mut v = [0.0; 4];
            for d in month.first..month.end {
                for (mi, m) in MCCS.iter().enumerate() {
                    let x = lat.x(r, mi, d);
                    v[3] += x * TOTAL_RETAIL_FACTOR;
                    for (i, (_, c)) in SERIES.iter().enumerate().take(3) {
                        if c.map(cat_index) == Some(cat_index(m.category)) {
                            v[i] += x;
                        }
                    }
                }
            }
            for x in &mut v {
                *x = *x * k / 1e8 * s.lognormal_mean(1.0, 0.01);
            }
            by_month.insert((month.year, month.month), v);
        }
        let years: Vec<i32> = by_month
            .keys()
            .filter(|(_, m)| *m == 1)
            .map(|(y, _)| *y)
            .collect();
        for y in years {
            let mut cum = [0.0; 4];
            for m in 1..=12 {
                let Some(v) = by_month.get(&(y, m)) else {
                    break;
                };
                let mut value = [0.0; 4];
                for i in 0..4 {
                    cum[i] += v[i];
                    value[i] = if m == 2 { cum[i] } else { v[i] };
                }
                if m == 1 {
                    continue;
                }
                let figs = std::array::from_fn(|i| Figure {
                    value: value[i],
                    cum: cum[i],
                });
                table.entry((y, m)).or_default().insert(r, figs);
            }
        }
    }
    let mut buf = String::new();
    buf.push_str(HEADER);
    buf.push('\n');
    let mut rows = 0;
    for (&(y, m), regions) in &table {
        let prior = table.get(&(y - 1, m));
        for (&r, figs) in regions {
            let code = &lat.regions[r].code;
            for (i, (id, _)) in SERIES.iter().enumerate() {
                let f = figs[i];
                let before = prior.and_then(|p| p.get(&r)).map(|p| p[i]);
                let yoy = before
                    .map(|b| fixed(100.0 * (f.value / b.value - 1.0), 1))
                    .unwrap_or_default();
                let cum_yoy = before
                    .map(|b| fixed(100.0 * (f.cum / b.cum - 1.0), 1))
                    .unwrap_or_default();
                let covered = if m == 2 {
                    "1-2".to_owned()
                } else {
                    m.to_string()
                };
                buf.push_str(&format!(
                    "{y:04}-{m:02},{covered},{code},{id},{},{yoy},{},{cum_yoy},synthetic\n",
                    fixed(f.value, 2),
                    fixed(f.cum, 2)
                ));
                rows += 1;
            }
        }
    }
    out.write(
        "retail_stats/retail_stats_provincial.csv",
        buf.as_bytes(),
        rows,
    )
}
