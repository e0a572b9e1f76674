//! Per-region facts the generator invents: size weight, main city and a few county-level codes.

use std::sync::LazyLock;

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
}
