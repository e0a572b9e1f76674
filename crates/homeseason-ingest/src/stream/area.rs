//! The area of a transaction (`payment_area_daily`, 城乡): the finest division its region code names
//! that the bundled division list holds, with the prefecture-level city it lies in and its
//! urban/rural class. Both engines use [`Areas`], so their area cells agree by construction.

use std::collections::HashMap;
use std::sync::LazyLock;

use homeseason_schema::division::{AreaType, DivisionLevel, Divisions};
use homeseason_schema::region::{RegionLevel, Regions};

/// The four municipalities (直辖市): a city, so their districts and counties (and a transaction
/// naming only the municipality) have the municipality as their city.
const MUNICIPALITIES: [&str; 4] = ["110000", "120000", "310000", "500000"];

/// One area a transaction can fall in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Area {
    /// `area_code`: a county-level or prefecture-level division code, or the reporting region's key.
    pub code: String,
    /// `region_code`: the reporting region the area rolls up to.
    pub region: String,
    /// `city_code`: the prefecture-level division the area lies in; the plan city for a plan city's
    /// areas, the municipality for a municipality's; `None` for a province's (or the corps') own key.
    pub city: Option<String>,
    /// `urban_rural`: `urban`, `rural` (county-level areas, by the division list's rule) or
    /// `unknown` (a prefecture-level area or a reporting region).
    pub urban_rural: &'static str,
}

/// Every area: the division list's divisions, then the reporting regions the list does not hold,
/// numbered (an area's index fits 14 bits: the streaming ingest packs it into a cell key).
#[derive(Debug)]
pub struct Areas {
    list: Vec<Area>,
    index: HashMap<String, u16>,
}

static AREAS: LazyLock<Areas> = LazyLock::new(|| {
    let divisions = Divisions::embedded();
    let regions = Regions::embedded();
    let mut list = Vec::new();
    let city_of_region = |code: &str| {
        let r = regions.by_code(code)?;
        (r.level == RegionLevel::PlanCity || MUNICIPALITIES.contains(&code))
            .then(|| code.to_owned())
    };
    for d in divisions.all() {
        // The embedded list is checked to roll up (division.rs's tests).
        let Ok(region) = regions.roll_up(&d.code) else {
            continue;
        };
        let city = city_of_region(&region.code).or_else(|| match d.level {
            DivisionLevel::Prefecture => Some(d.code.clone()),
            DivisionLevel::County => divisions
                .prefecture_of(&d.code)
                .map(|p| p.code.clone())
                .or_else(|| Some(d.parent_code.clone()).filter(|p| p.len() == 6)),
        });
        list.push(Area {
            code: d.code.clone(),
            region: region.code.clone(),
            city,
            urban_rural: d.area_type.map_or("unknown", AreaType::as_str),
        });
    }
    for r in regions.all() {
        if divisions.by_code(&r.code).is_none() {
            list.push(Area {
                code: r.code.clone(),
                region: r.code.clone(),
                city: city_of_region(&r.code),
                urban_rural: "unknown",
            });
        }
    }
    let index = list
        .iter()
        .enumerate()
        .map(|(i, a)| (a.code.clone(), u16::try_from(i).unwrap_or(u16::MAX)))
        .collect();
    Areas { list, index }
});

impl Areas {
    /// The areas of the bundled division list and regions.
    #[must_use]
    pub fn embedded() -> &'static Areas {
        &AREAS
    }

    /// Every area, by index.
    #[must_use]
    pub fn all(&self) -> &[Area] {
        &self.list
    }

    /// The area with index `i`.
    #[must_use]
    pub fn get(&self, i: u16) -> Option<&Area> {
        self.list.get(usize::from(i))
    }

    /// The index of the area with this code.
    #[must_use]
    pub fn index_of(&self, code: &str) -> Option<u16> {
        self.index.get(code).copied()
    }

    /// The area of a transaction whose region value `raw` resolves to the reporting region
    /// `region`: the division `raw` names when the list holds it (and it rolls up to `region`),
    /// else the reporting region itself.
    #[must_use]
    pub fn area_of(&self, raw: &str, region: &str) -> Option<u16> {
        let code: String = raw
            .trim()
            .chars()
            .map(homeseason_schema::text::half_width)
            .collect();
        self.index_of(&code)
            .filter(|&i| self.list[usize::from(i)].region == region)
            .or_else(|| self.index_of(region))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_region_and_division_is_an_area_once() {
        let a = Areas::embedded();
        assert_eq!(
            a.all().len(),
            Divisions::embedded().all().len() + 37 - 5,
            "the 5 plan cities are prefecture-level divisions too"
        );
        assert!(a.all().len() < 1 << 14);
        let area = |raw: &str, region: &str| a.get(a.area_of(raw, region).unwrap()).unwrap();
        let x = area("330782", "330000"); // 义乌市
        assert_eq!(
            (x.code.as_str(), x.city.as_deref(), x.urban_rural),
            ("330782", Some("330700"), "rural")
        );
        let x = area("330212", "330200"); // 宁波市鄞州区: a plan city's district
        assert_eq!(
            (x.region.as_str(), x.city.as_deref(), x.urban_rural),
            ("330200", Some("330200"), "urban")
        );
        let x = area("330200", "330200");
        assert_eq!((x.code.as_str(), x.urban_rural), ("330200", "unknown"));
        let x = area("110105", "110000"); // 朝阳区: a municipality's district
        assert_eq!(x.city.as_deref(), Some("110000"));
        let x = area("Zhejiang", "330000");
        assert_eq!((x.code.as_str(), x.city.as_deref()), ("330000", None));
        let x = area("330100", "330000"); // 杭州市: prefecture-level
        assert_eq!(
            (x.code.as_str(), x.city.as_deref()),
            ("330100", Some("330100"))
        );
        let x = area("990101", "330000"); // not in the list: the reporting region
        assert_eq!(x.code, "330000");
        let x = area("659001", "XPCC");
        assert_eq!((x.region.as_str(), x.urban_rural), ("XPCC", "rural"));
        assert_eq!(area("XPCC", "XPCC").city, None);
    }
}
