//! The 37 reporting regions of the campaign and how raw region values map onto them.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::{Result, SchemaError};

/// Key of the Xinjiang Production and Construction Corps, which has no GB/T 2260 code.
pub const XPCC: &str = "XPCC";
/// Key of national (all-China) figures.
pub const NATIONAL: &str = "000000";

/// What kind of reporting unit a region is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionLevel {
    /// One of the 31 mainland province-level divisions.
    Province,
    /// One of the 5 cities with separate plans (计划单列市), reported on their own.
    PlanCity,
    /// The Xinjiang Production and Construction Corps (新疆生产建设兵团).
    Corps,
}

/// A reporting region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    /// Six-digit GB/T 2260 code as text, or [`XPCC`].
    pub code: String,
    /// Full Chinese name, e.g. 浙江省.
    pub name_zh: String,
    /// Short Chinese name, e.g. 浙江.
    pub short_zh: String,
    /// English name, e.g. Zhejiang.
    pub name_en: String,
    /// Province, plan city or corps.
    pub level: RegionLevel,
}

/// The set of reporting regions.
#[derive(Debug, Clone)]
pub struct Regions {
    list: Vec<Region>,
}

static EMBEDDED: LazyLock<Regions> = LazyLock::new(|| Regions {
    list: embedded_rows(include_str!("../data/regions.csv"), "regions.csv"),
});

/// The rows of a CSV list shipped inside the crate (`name` for the panic message).
///
/// # Panics
/// When the list does not parse: the crate's unit tests read every embedded list.
pub(crate) fn embedded_rows<T: serde::de::DeserializeOwned>(csv_text: &str, name: &str) -> Vec<T> {
    csv::Reader::from_reader(csv_text.as_bytes())
        .deserialize()
        .collect::<std::result::Result<Vec<T>, _>>()
        .unwrap_or_else(|e| panic!("embedded {name} is valid (checked by a unit test): {e}"))
}

/// Four-digit prefixes of the cities with separate plans.
const PLAN_CITY_PREFIXES: [(&str, &str); 5] = [
    ("2102", "210200"),
    ("3702", "370200"),
    ("3302", "330200"),
    ("3502", "350200"),
    ("4403", "440300"),
];

fn fold(s: &str) -> String {
    s.chars()
        .map(crate::text::half_width)
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

impl Regions {
    /// The 37 regions shipped with homeseason (`data/regions.csv`).
    #[must_use]
    pub fn embedded() -> &'static Regions {
        &EMBEDDED
    }

    /// All regions in their canonical order (provinces by code, then plan cities, then XPCC).
    #[must_use]
    pub fn all(&self) -> &[Region] {
        &self.list
    }

    /// The region with exactly this key.
    #[must_use]
    pub fn by_code(&self, code: &str) -> Option<&Region> {
        self.list.iter().find(|r| r.code == code)
    }

    /// Resolve a liaison's region value: a region key, a full name (浙江省), a short name (浙江), an
    /// English/pinyin name (Zhejiang, case and spaces ignored), or a county/prefecture code that rolls up.
    ///
    /// # Errors
    /// [`SchemaError::UnknownRegion`] when nothing matches.
    pub fn resolve(&self, raw: &str) -> Result<&Region> {
        let folded = fold(raw);
        if folded.is_empty() {
            return Err(SchemaError::UnknownRegion(raw.to_owned()));
        }
        if let Some(region) = self.list.iter().find(|r| {
            fold(&r.code) == folded
                || fold(&r.name_zh) == folded
                || fold(&r.short_zh) == folded
                || fold(&r.name_en) == folded
        }) {
            return Ok(region);
        }
        if folded == "xinjiangproductionandconstructioncorps"
            || folded == "xpcc"
            || folded == "兵团"
        {
            return self
                .by_code(XPCC)
                .ok_or_else(|| SchemaError::UnknownRegion(raw.to_owned()));
        }
        self.roll_up(&folded)
    }

    /// Roll a six-digit county or prefecture code up to its reporting region.
    ///
    /// # Errors
    /// [`SchemaError::UnknownRegion`] when the code is not six digits or its province is not known.
    pub fn roll_up(&self, code: &str) -> Result<&Region> {
        let code = code.trim();
        if code == XPCC {
            return self
                .by_code(XPCC)
                .ok_or_else(|| SchemaError::UnknownRegion(code.to_owned()));
        }
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SchemaError::UnknownRegion(code.to_owned()));
        }
        let key = if code.starts_with("6590") {
            XPCC.to_owned()
        } else if let Some((_, city)) = PLAN_CITY_PREFIXES.iter().find(|(p, _)| code.starts_with(p))
        {
            (*city).to_owned()
        } else {
            format!("{}0000", &code[..2])
        };
        self.by_code(&key)
            .ok_or_else(|| SchemaError::UnknownRegion(code.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirty_seven_regions() {
        let r = Regions::embedded();
        assert_eq!(r.all().len(), 37);
        assert_eq!(
            r.all()
                .iter()
                .filter(|x| x.level == RegionLevel::Province)
                .count(),
            31
        );
        assert_eq!(
            r.all()
                .iter()
                .filter(|x| x.level == RegionLevel::PlanCity)
                .count(),
            5
        );
    }

    #[test]
    fn resolves_every_spelling() {
        let r = Regions::embedded();
        for raw in [
            "330000",
            "浙江省",
            "浙江",
            "Zhejiang",
            " zhejiang ",
            "３３００００",
            "330106",
        ] {
            assert_eq!(r.resolve(raw).unwrap().code, "330000", "{raw}");
        }
        assert_eq!(r.resolve("新疆生产建设兵团").unwrap().code, XPCC);
        assert_eq!(r.resolve("659001").unwrap().code, XPCC);
        assert_eq!(r.resolve("440305").unwrap().code, "440300");
        assert_eq!(r.resolve("440100").unwrap().code, "440000");
        assert_eq!(r.resolve("Inner Mongolia").unwrap().code, "150000");
        assert!(r.resolve("火星").is_err());
        assert!(r.resolve("990000").is_err());
        assert!(r.resolve("").is_err());
    }
}
