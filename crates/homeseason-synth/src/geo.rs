//! Per-region facts the generator invents: size weight, main city and a few county-level codes.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use homeseason_schema::division::{AreaType, DivisionLevel, Divisions};
use homeseason_schema::region::{RegionLevel, Regions};

/// What the generator knows about one reporting region.
pub(crate) struct Geo {
    /// Region key (six digits or `XPCC`).
    pub(crate) code: &'static str,
    /// Size weight, roughly 2022 GDP in trillion yuan (provinces net of their plan cities).
    pub(crate) weight: f64,
    /// Main city, without 市 (used in company and activity names).
    pub(crate) city: &'static str,
    /// County-level (or, for cities without counties, prefecture-level) codes under the region, none
    /// under a plan city's prefix unless the region is that plan city: first the main city's
    /// districts and a few others, then up to four rural ones (counties, county-level cities) from
    /// the prefectures already listed (the bundled division list's 县域), so wallet_b's merchants
    /// sit in towns and in the countryside (`crate::urban_rural`). Beijing, Tianjin, Shanghai,
    /// Chongqing's listed districts, Guangdong's, Hainan's, Xiamen's and Shenzhen's have none.
    pub(crate) counties: Vec<&'static str>,
}

/// The table, one region a line: key, size weight, main city, county codes separated by spaces.
const GEO_CSV: &str = include_str!("../data/geo.csv");

/// [`GEO_CSV`] parsed (once).
static GEO: LazyLock<Vec<Geo>> = LazyLock::new(|| {
    GEO_CSV
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let mut f = line.split(',');
            let mut next = || {
                f.next()
                    .unwrap_or_else(|| panic!("geo.csv: short line {line:?}"))
            };
            let (code, weight, city, counties) = (next(), next(), next(), next());
            Geo {
                code,
                weight: weight
                    .parse()
                    .unwrap_or_else(|e| panic!("geo.csv: weight of {code}: {e}")),
                city,
                counties: counties.split(' ').collect(),
            }
        })
        .collect()
});

/// The facts for a region key. Unknown keys (a region added to the schema but not here) get a small
/// default so generation still works.
pub(crate) fn geo(code: &str) -> &'static Geo {
    static FALLBACK: Geo = Geo {
        code: "",
        weight: 1.0,
        city: "某",
        counties: Vec::new(),
    };
    GEO.iter().find(|g| g.code == code).unwrap_or(&FALLBACK)
}

/// Largest weight in the table.
pub(crate) fn max_weight() -> f64 {
    GEO.iter().map(|g| g.weight).fold(0.0, f64::max)
}

/// Sum of all weights in the table.
pub(crate) fn total_weight() -> f64 {
    GEO.iter().map(|g| g.weight).sum()
}

/// The county codes of a region; regions not in the table report under their own key.
pub(crate) fn counties(code: &'static str) -> Vec<&'static str> {
    let g = geo(code);
    if g.counties.is_empty() {
        vec![code]
    } else {
        g.counties.clone()
    }
}

/// The municipalities (直辖市): one city each, their districts and counties included.
const MUNICIPALITIES: [&str; 4] = ["110000", "120000", "310000", "500000"];

/// One prefecture-level city of a region in the dense spread ([`crate::AreaSpread::Dense`]).
pub(crate) struct DenseCity {
    /// The city's code as the ingest assigns it to `payment_area_daily`'s `city_code`: the
    /// prefecture-level division, the plan city or the municipality (the reporting region itself),
    /// or a province's group of directly administered county-level divisions.
    pub(crate) code: &'static str,
    /// Up to two county-level areas of the city: its first urban district (市辖区) by code, then its
    /// first rural county-level division (县域) by code, so that towns and the countryside are both
    /// there (the urban/rural tilt of [`crate::urban_rural`] needs both); the city's own code for a
    /// city without county-level divisions (东莞, 中山).
    pub(crate) areas: Vec<&'static str>,
}

/// Per reporting region, its cities in code order: every county-level division of the bundled list
/// that rolls up to the region, grouped by city the way the ingest groups them.
static DENSE: LazyLock<BTreeMap<&'static str, Vec<DenseCity>>> = LazyLock::new(|| {
    let divisions = Divisions::embedded();
    let regions = Regions::embedded();
    // region → city → (first urban, first rural)
    type Pair = (Option<&'static str>, Option<&'static str>);
    let mut by_region: BTreeMap<&'static str, BTreeMap<&'static str, Pair>> = BTreeMap::new();
    for d in divisions.all() {
        let Ok(region) = regions.roll_up(&d.code) else {
            continue;
        };
        let region_code: &'static str = region.code.as_str();
        let whole_city =
            region.level == RegionLevel::PlanCity || MUNICIPALITIES.contains(&region_code);
        let city: &'static str = if whole_city {
            region_code
        } else if d.level == DivisionLevel::Prefecture {
            // Listed so that a city without county-level divisions (东莞, 中山) is there too.
            d.code.as_str()
        } else if let Some(p) = divisions.prefecture_of(&d.code) {
            p.code.as_str()
        } else if d.parent_code.len() == 6 {
            d.parent_code.as_str()
        } else {
            continue;
        };
        let slot = by_region
            .entry(region_code)
            .or_default()
            .entry(city)
            .or_default();
        match d.area_type {
            Some(AreaType::Urban) if slot.0.is_none() => slot.0 = Some(d.code.as_str()),
            Some(AreaType::Rural) if slot.1.is_none() => slot.1 = Some(d.code.as_str()),
            _ => {}
        }
    }
    by_region
        .into_iter()
        .map(|(region, cities)| {
            let list = cities
                .into_iter()
                .map(|(code, (urban, rural))| {
                    let mut areas: Vec<&'static str> = urban.into_iter().chain(rural).collect();
                    if areas.is_empty() {
                        // No county-level division: the transactions name the city itself.
                        areas.push(code);
                    }
                    DenseCity { code, areas }
                })
                .collect();
            (region, list)
        })
        .collect()
});

/// The cities of a region in the dense spread (empty for a region the division list does not
/// cover).
pub(crate) fn dense_cities(code: &str) -> &'static [DenseCity] {
    DENSE.get(code).map_or(&[][..], Vec::as_slice)
}

#[cfg(test)]
mod tests {
    use super::*;
    use homeseason_schema::region::Regions;

    #[test]
    fn every_region_has_facts_and_counties_roll_up() {
        let regions = Regions::embedded();
        assert_eq!(GEO.len(), regions.all().len());
        for r in regions.all() {
            let g = geo(&r.code);
            assert_eq!(g.code, r.code);
            assert!(g.counties.len() >= 3);
            for c in &g.counties {
                assert_eq!(regions.roll_up(c).unwrap().code, r.code, "{c}");
                assert_ne!(*c, r.code.as_str());
            }
        }
        let largest: Vec<&str> = {
            let mut v: Vec<&Geo> = GEO.iter().collect();
            v.sort_by(|a, b| b.weight.total_cmp(&a.weight));
            v.iter().take(4).map(|g| g.code).collect()
        };
        for c in ["440000", "320000", "370000", "330000"] {
            assert!(largest.contains(&c), "{largest:?}");
        }
        let smallest = GEO
            .iter()
            .min_by(|a, b| a.weight.total_cmp(&b.weight))
            .unwrap();
        assert_eq!(smallest.code, "XPCC");
    }

    /// The dense spread covers every prefecture-level city of the division list, each city's areas
    /// roll up to its region, and Zhejiang's cities are its 11 prefectures less Ningbo (a plan city).
    #[test]
    fn the_dense_spread_covers_every_city() {
        let regions = Regions::embedded();
        let mut total = 0;
        for r in regions.all() {
            let cities = dense_cities(&r.code);
            assert!(!cities.is_empty(), "{}", r.code);
            for c in cities {
                assert!(!c.areas.is_empty() && c.areas.len() <= 2, "{}", c.code);
                for a in &c.areas {
                    assert_eq!(regions.roll_up(a).unwrap().code, r.code, "{a}");
                }
            }
            total += cities.len();
        }
        assert!((330..=350).contains(&total), "{total} cities");
        let zj: Vec<&str> = dense_cities("330000").iter().map(|c| c.code).collect();
        assert_eq!(zj.len(), 10, "{zj:?}");
        assert!(!zj.contains(&"330200"));
        assert_eq!(dense_cities("330200").len(), 1);
        assert_eq!(dense_cities("110000")[0].code, "110000");
    }
}
