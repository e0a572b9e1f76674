//! Product categories: those the campaign targets and the untargeted controls.

use serde::{Deserialize, Serialize};

use crate::{Result, SchemaError};

/// A product category, as the uplift is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// 家电: household appliances and audio-video equipment.
    HomeAppliances,
    /// 家具: furniture.
    Furniture,
    /// 家纺: home textiles.
    HomeTextiles,
    /// 建材家装: building and decoration materials and home fit-out (ceramics, sanitary ware, doors and
    /// windows, flooring, lighting, pipes, renovation contractors).
    BuildingMaterials,
    /// 超市: supermarkets and grocery (untargeted control).
    Supermarket,
    /// 餐饮: restaurants (untargeted control).
    Restaurant,
    /// 加油: fuel stations (untargeted control).
    Fuel,
    /// 其他: anything the campaign's MCC map does not place.
    Other,
}

impl Category {
    /// Every category, targeted first.
    pub const ALL: [Category; 8] = [
        Category::HomeAppliances,
        Category::Furniture,
        Category::HomeTextiles,
        Category::BuildingMaterials,
        Category::Supermarket,
        Category::Restaurant,
        Category::Fuel,
        Category::Other,
    ];
    /// The categories the 2023 campaign targets.
    pub const TARGETED: [Category; 4] = [
        Category::HomeAppliances,
        Category::Furniture,
        Category::HomeTextiles,
        Category::BuildingMaterials,
    ];
    /// The untargeted control categories that move with the local economy.
    pub const CONTROLS: [Category; 3] =
        [Category::Supermarket, Category::Restaurant, Category::Fuel];

    /// Stable snake_case id used in every table.
    #[must_use]
    pub fn id(self) -> &'static str {
        match self {
            Category::HomeAppliances => "home_appliances",
            Category::Furniture => "furniture",
            Category::HomeTextiles => "home_textiles",
            Category::BuildingMaterials => "building_materials",
            Category::Supermarket => "supermarket",
            Category::Restaurant => "restaurant",
            Category::Fuel => "fuel",
            Category::Other => "other",
        }
    }

    /// Chinese name.
    #[must_use]
    pub fn name_zh(self) -> &'static str {
        match self {
            Category::HomeAppliances => "家电",
            Category::Furniture => "家具",
            Category::HomeTextiles => "家纺",
            Category::BuildingMaterials => "建材家装",
            Category::Supermarket => "超市",
            Category::Restaurant => "餐饮",
            Category::Fuel => "加油",
            Category::Other => "其他",
        }
    }

    /// English name.
    #[must_use]
    pub fn name_en(self) -> &'static str {
        match self {
            Category::HomeAppliances => "Home appliances",
            Category::Furniture => "Furniture",
            Category::HomeTextiles => "Home textiles",
            Category::BuildingMaterials => "Building & decoration materials",
            Category::Supermarket => "Supermarkets",
            Category::Restaurant => "Restaurants",
            Category::Fuel => "Fuel",
            Category::Other => "Other",
        }
    }

    /// Whether the campaign targets this category.
    #[must_use]
    pub fn is_targeted(self) -> bool {
        Category::TARGETED.contains(&self)
    }

    /// Parse an id, a Chinese or an English name (including common synonyms such as 家用电器, 建材, 家装).
    ///
    /// # Errors
    /// [`SchemaError::UnknownCategory`] when nothing matches.
    pub fn parse(raw: &str) -> Result<Category> {
        let t = raw.trim().to_lowercase();
        let found = Category::ALL
            .into_iter()
            .find(|c| t == c.id() || t == c.name_zh() || t == c.name_en().to_lowercase());
        if let Some(c) = found {
            return Ok(c);
        }
        let c = match t.as_str() {
            "家用电器"
            | "家用电器和音像器材"
            | "家用电器和音像器材类"
            | "appliances"
            | "home_appliance" => Category::HomeAppliances,
            "家具类" => Category::Furniture,
            "纺织" | "家用纺织品" => Category::HomeTextiles,
            "建材"
            | "家装"
            | "建筑及装潢材料"
            | "建筑及装潢材料类"
            | "家装建材"
            | "建材/家装"
            | "home_decoration"
            | "building materials" => Category::BuildingMaterials,
            _ => return Err(SchemaError::UnknownCategory(raw.to_owned())),
        };
        Ok(c)
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.id()).unwrap(), c);
            assert_eq!(Category::parse(c.name_zh()).unwrap(), c);
            assert_eq!(Category::parse(c.name_en()).unwrap(), c);
        }
        assert_eq!(
            Category::parse("建筑及装潢材料类").unwrap(),
            Category::BuildingMaterials
        );
        assert!(Category::parse("玩具").is_err());
    }
}
