//! Prefecture-level and county-level divisions below the reporting regions, and which counties are urban
//! or rural (城乡).
//!
//! The list (`data/divisions.csv`, sources in `data/SOURCES.md`) holds the 333 prefecture-level divisions,
//! the 4 groups of county-level divisions a province administers directly (`xx90xx`), and 3,285 county-level
//! divisions, from the 2021 statistical division codes. The rule behind [`AreaType`] is stated in
//! `data/README.md`: a 市辖区 is urban; counties, banners, 特区, 林区 and county-level cities (the county economy,
//! 县域) are rural.
//!
//! ```
//! use homeseason_schema::division::{AreaType, Divisions};
//! let d = Divisions::embedded();
//! assert_eq!(d.area_type("330102"), Some(AreaType::Urban)); // 杭州市上城区
//! assert_eq!(d.area_type("330782"), Some(AreaType::Rural)); // 义乌市, a county-level city
//! assert_eq!(d.prefecture_of("330782").unwrap().name_zh, "金华市");
//! ```

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

/// Prefecture-level or county-level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DivisionLevel {
    /// A prefecture-level division (地级: city, 地区, 自治州, 盟) or a province's group of directly
    /// administered county-level divisions.
    Prefecture,
    /// A county-level division (县级: 市辖区, 县, 自治县, 旗, 县级市, …).
    County,
}

/// What a division is, as its name says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DivisionKind {
    /// A prefecture-level division.
    Prefecture,
    /// 省直辖县级行政区划: the county-level divisions a province administers directly (no city above them).
    ProvinceAdministered,
    /// 市辖区: a district of a prefecture-level city or municipality (and the development zones the
    /// statistical codes list beside them).
    District,
    /// 县, 自治县, 旗, 自治旗, 特区, 林区.
    County,
    /// 县级市: a county-level city.
    CountyCity,
    /// Neither (三沙's island groups, 白沟新城, 乌拉盖管委会, 大柴旦行政委员会).
    Other,
}

/// Town or country (城乡) of a county-level division.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AreaType {
    /// 城: a 市辖区.
    Urban,
    /// 乡: the county economy (县域) — counties, banners and county-level cities.
    Rural,
}

impl AreaType {
    /// The column value: `urban` / `rural`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            AreaType::Urban => "urban",
            AreaType::Rural => "rural",
        }
    }
    /// The Chinese label: 城镇 / 乡村（县域）.
    #[must_use]
    pub fn label_zh(self) -> &'static str {
        match self {
            AreaType::Urban => "城镇（市辖区）",
            AreaType::Rural => "乡村（县域）",
        }
    }
}

/// One division.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Division {
    /// Six-digit statistical division code.
    pub code: String,
    /// Chinese name, e.g. 义乌市.
    pub name_zh: String,
    /// Prefecture-level or county-level.
    pub level: DivisionLevel,
    /// The prefecture above a county (its province's code for the municipalities' districts and
    /// counties); the province above a prefecture.
    pub parent_code: String,
    /// What the division is.
    pub kind: DivisionKind,
    /// Urban or rural; empty for prefecture-level rows.
    pub area_type: Option<AreaType>,
}

/// The embedded list of divisions.
#[derive(Debug)]
pub struct Divisions {
    list: Vec<Division>,
    index: HashMap<String, usize>,
}

static EMBEDDED: LazyLock<Divisions> = LazyLock::new(|| {
    let list: Vec<Division> =
        crate::region::embedded_rows(include_str!("../data/divisions.csv"), "divisions.csv");
    let index = list
        .iter()
        .enumerate()
        .map(|(i, d)| (d.code.clone(), i))
        .collect();
    Divisions { list, index }
});

impl Divisions {
    /// The divisions shipped with homeseason (`data/divisions.csv`).
    #[must_use]
    pub fn embedded() -> &'static Divisions {
        &EMBEDDED
    }

    /// Every division, by code.
    #[must_use]
    pub fn all(&self) -> &[Division] {
        &self.list
    }

    /// The division with this code.
    #[must_use]
    pub fn by_code(&self, code: &str) -> Option<&Division> {
        self.index.get(code.trim()).map(|&i| &self.list[i])
    }

    /// Urban or rural for a county-level code; `None` for an unknown code or a prefecture/province code
    /// (which covers both).
    #[must_use]
    pub fn area_type(&self, code: &str) -> Option<AreaType> {
        self.by_code(code).and_then(|d| d.area_type)
    }

    /// The prefecture-level division a county-level or prefecture-level code belongs to (the prefecture
    /// itself for a prefecture code); `None` for unknown codes and for the municipalities' districts and
    /// counties, which have no prefecture between them and their municipality.
    #[must_use]
    pub fn prefecture_of(&self, code: &str) -> Option<&Division> {
        let d = self.by_code(code)?;
        match d.level {
            DivisionLevel::Prefecture => Some(d),
            DivisionLevel::County => self
                .by_code(&d.parent_code)
                .filter(|p| p.level == DivisionLevel::Prefecture),
        }
    }

    /// The prefecture-level divisions of one province (two-digit prefix of `province_code`), by code.
    pub fn prefectures_of<'a>(
        &'a self,
        province_code: &'a str,
    ) -> impl Iterator<Item = &'a Division> {
        self.list.iter().filter(move |d| {
            d.level == DivisionLevel::Prefecture && d.parent_code.get(..2) == province_code.get(..2)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::region::Regions;

    #[test]
    fn the_list_has_the_published_counts() {
        let d = Divisions::embedded();
        let count = |kind: DivisionKind| d.all().iter().filter(|x| x.kind == kind).count();
        // 2021: 293 prefecture-level cities + 7 地区 + 30 自治州 + 3 盟 = 333.
        assert_eq!(count(DivisionKind::Prefecture), 333);
        assert_eq!(count(DivisionKind::ProvinceAdministered), 4);
        let counties = d
            .all()
            .iter()
            .filter(|x| x.level == DivisionLevel::County)
            .count();
        assert_eq!(counties, 3_285);
        assert_eq!(count(DivisionKind::CountyCity), 396);
    }

    #[test]
    fn every_county_is_classified_and_every_code_rolls_up_to_a_reporting_region() {
        let d = Divisions::embedded();
        let regions = Regions::embedded();
        let mut seen = std::collections::HashSet::new();
        for x in d.all() {
            assert!(seen.insert(&x.code), "duplicate code {}", x.code);
            assert_eq!(x.code.len(), 6, "{x:?}");
            assert_eq!(
                x.level == DivisionLevel::County,
                x.area_type.is_some(),
                "{x:?}"
            );
            assert!(regions.roll_up(&x.code).is_ok(), "{x:?} rolls up");
            let parent_is_known =
                d.by_code(&x.parent_code).is_some() || regions.by_code(&x.parent_code).is_some();
            assert!(parent_is_known, "{x:?}: parent unknown");
        }
    }

    #[test]
    fn the_rule_classifies_each_kind() {
        let d = Divisions::embedded();
        let cases = [
            ("110101", DivisionKind::District, AreaType::Urban), // 东城区 (a municipality)
            ("330102", DivisionKind::District, AreaType::Urban), // 杭州市上城区
            ("330782", DivisionKind::CountyCity, AreaType::Rural), // 义乌市
            ("150121", DivisionKind::County, AreaType::Rural),   // 土默特左旗
            ("429021", DivisionKind::County, AreaType::Rural),   // 神农架林区, not a district
            ("659001", DivisionKind::CountyCity, AreaType::Rural), // 石河子市 (XPCC)
        ];
        for (code, kind, area) in cases {
            let x = d.by_code(code).unwrap();
            assert_eq!(
                (x.kind, x.area_type),
                (kind, Some(area)),
                "{code} {}",
                x.name_zh
            );
        }
        assert_eq!(d.area_type("330000"), None);
        assert_eq!(d.area_type("330100"), None);
        assert_eq!(d.area_type("999999"), None);
    }

    #[test]
    fn prefectures_group_their_counties() {
        let d = Divisions::embedded();
        assert_eq!(d.prefecture_of("330782").unwrap().code, "330700");
        assert_eq!(d.prefecture_of("330700").unwrap().code, "330700");
        assert!(
            d.prefecture_of("110101").is_none(),
            "a municipality has no prefecture"
        );
        assert_eq!(
            d.prefecture_of("429004").unwrap().kind,
            DivisionKind::ProvinceAdministered
        );
        // Zhejiang: 11 prefecture-level cities (Ningbo among them; it reports as a plan city).
        assert_eq!(d.prefectures_of("330000").count(), 11);
    }
}
