//! Themes (重点方向) and building-materials subcategories (建材细分品类) the campaign's notice names:
//! products that are 绿色 (green), 智能 (smart) or 适老 (age-friendly), and themed events for 陶瓷,
//! 卫浴, 门窗, 地板, 照明 and 管材. The activities register carries themes as `focus_tags`; key
//! enterprises may report `theme_tags` and a `subcategory` beside their sales (optional columns).
//!
//! ```
//! use homeseason_schema::theme::{Subcategory, Theme};
//! assert_eq!(Theme::parse("适老"), Some(Theme::AgeFriendly));
//! assert_eq!(Theme::parse_list("绿色、智能").unwrap(), vec![Theme::Green, Theme::Smart]);
//! assert_eq!(Subcategory::parse("瓷砖"), Some(Subcategory::Ceramics));
//! assert_eq!(Subcategory::parse("doors_windows"), Some(Subcategory::DoorsWindows));
//! ```

use crate::text::half_width;

/// Full-width letters, digits and punctuation as their half-width forms.
fn fold_width(s: &str) -> String {
    s.chars().map(half_width).collect()
}

/// A campaign theme (重点方向).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Theme {
    /// 绿色: green, energy-saving products.
    Green,
    /// 智能: smart-home products.
    Smart,
    /// 适老化: age-friendly (elderly-friendly) products.
    AgeFriendly,
}

impl Theme {
    /// Every theme, in report order.
    pub const ALL: [Theme; 3] = [Theme::Green, Theme::Smart, Theme::AgeFriendly];

    /// Stable id (`green`, `smart`, `age_friendly`), as in `focus_tags` and `theme_tags`.
    #[must_use]
    pub fn id(self) -> &'static str {
        match self {
            Theme::Green => "green",
            Theme::Smart => "smart",
            Theme::AgeFriendly => "age_friendly",
        }
    }

    /// Chinese name.
    #[must_use]
    pub fn name_zh(self) -> &'static str {
        match self {
            Theme::Green => "绿色",
            Theme::Smart => "智能",
            Theme::AgeFriendly => "适老化",
        }
    }

    /// English name.
    #[must_use]
    pub fn name_en(self) -> &'static str {
        match self {
            Theme::Green => "green",
            Theme::Smart => "smart",
            Theme::AgeFriendly => "age-friendly",
        }
    }

    /// Spellings accepted besides the id (compared after width folding and lower-casing).
    #[must_use]
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Theme::Green => &["绿色", "绿色环保", "节能", "环保", "绿色家居", "green"],
            Theme::Smart => &[
                "智能",
                "智能家居",
                "智慧",
                "智慧家居",
                "smart",
                "smart home",
            ],
            Theme::AgeFriendly => &[
                "适老化",
                "适老",
                "适老家居",
                "适老化改造",
                "age-friendly",
                "age friendly",
                "elderly",
                "elderly-friendly",
                "elderly friendly",
            ],
        }
    }

    /// A theme from its id, Chinese name or an alias.
    #[must_use]
    pub fn parse(raw: &str) -> Option<Theme> {
        let t = fold_width(raw.trim()).to_lowercase();
        Theme::ALL
            .into_iter()
            .find(|th| th.id() == t || th.aliases().iter().any(|a| a.to_lowercase() == t))
    }

    /// A list of themes separated by `;`, `；`, `,`, `，`, `、`, `/` or spaces, each once, in the order
    /// first written; empty text is an empty list.
    ///
    /// # Errors
    /// The first item that is not a theme.
    pub fn parse_list(raw: &str) -> Result<Vec<Theme>, String> {
        let mut out = Vec::new();
        for part in fold_width(raw)
            .split([';', '；', ',', '，', '、', '/', '|'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let theme = Theme::parse(part).ok_or_else(|| part.to_owned())?;
            if !out.contains(&theme) {
                out.push(theme);
            }
        }
        Ok(out)
    }

    /// Themes as stored: ids joined by `;`.
    #[must_use]
    pub fn join(themes: &[Theme]) -> String {
        themes.iter().map(|t| t.id()).collect::<Vec<_>>().join(";")
    }
}

/// A building-materials subcategory (建材细分品类) the notice names for themed events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subcategory {
    /// 陶瓷: ceramics (tiles).
    Ceramics,
    /// 卫浴: sanitary ware.
    SanitaryWare,
    /// 门窗: doors and windows.
    DoorsWindows,
    /// 地板: flooring.
    Flooring,
    /// 照明: lighting.
    Lighting,
    /// 管材: pipes.
    Pipes,
}

impl Subcategory {
    /// Every subcategory, in the notice's order.
    pub const ALL: [Subcategory; 6] = [
        Subcategory::Ceramics,
        Subcategory::SanitaryWare,
        Subcategory::DoorsWindows,
        Subcategory::Flooring,
        Subcategory::Lighting,
        Subcategory::Pipes,
    ];

    /// Stable id, as in `enterprise_sales.subcategory`.
    #[must_use]
    pub fn id(self) -> &'static str {
        match self {
            Subcategory::Ceramics => "ceramics",
            Subcategory::SanitaryWare => "sanitary_ware",
            Subcategory::DoorsWindows => "doors_windows",
            Subcategory::Flooring => "flooring",
            Subcategory::Lighting => "lighting",
            Subcategory::Pipes => "pipes",
        }
    }

    /// Chinese name.
    #[must_use]
    pub fn name_zh(self) -> &'static str {
        match self {
            Subcategory::Ceramics => "陶瓷",
            Subcategory::SanitaryWare => "卫浴",
            Subcategory::DoorsWindows => "门窗",
            Subcategory::Flooring => "地板",
            Subcategory::Lighting => "照明",
            Subcategory::Pipes => "管材",
        }
    }

    /// English name.
    #[must_use]
    pub fn name_en(self) -> &'static str {
        match self {
            Subcategory::Ceramics => "ceramics",
            Subcategory::SanitaryWare => "sanitary ware",
            Subcategory::DoorsWindows => "doors and windows",
            Subcategory::Flooring => "flooring",
            Subcategory::Lighting => "lighting",
            Subcategory::Pipes => "pipes",
        }
    }

    /// Spellings accepted besides the id (compared after width folding and lower-casing).
    #[must_use]
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Subcategory::Ceramics => &["陶瓷", "瓷砖", "陶瓷砖", "建筑陶瓷", "ceramic", "tiles"],
            Subcategory::SanitaryWare => &[
                "卫浴",
                "卫浴洁具",
                "洁具",
                "卫生洁具",
                "sanitary ware",
                "sanitary",
                "bathroom",
            ],
            Subcategory::DoorsWindows => &[
                "门窗",
                "门",
                "窗",
                "门业",
                "系统门窗",
                "doors and windows",
                "doors",
                "windows",
            ],
            Subcategory::Flooring => &["地板", "木地板", "实木地板", "复合地板", "floor", "floors"],
            Subcategory::Lighting => &["照明", "灯具", "灯饰", "照明灯具", "lamps", "lights"],
            Subcategory::Pipes => &["管材", "管道", "管件", "水管", "管材管件", "pipe", "piping"],
        }
    }

    /// A subcategory from its id, Chinese name or an alias.
    #[must_use]
    pub fn parse(raw: &str) -> Option<Subcategory> {
        let t = fold_width(raw.trim()).to_lowercase();
        Subcategory::ALL
            .into_iter()
            .find(|s| s.id() == t || s.aliases().iter().any(|a| a.to_lowercase() == t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_resolves_and_ids_round_trip() {
        for t in Theme::ALL {
            assert_eq!(Theme::parse(t.id()), Some(t));
            assert_eq!(Theme::parse(t.name_zh()), Some(t));
            for a in t.aliases() {
                assert_eq!(Theme::parse(a), Some(t), "{a}");
            }
        }
        for s in Subcategory::ALL {
            assert_eq!(Subcategory::parse(s.id()), Some(s));
            assert_eq!(Subcategory::parse(s.name_zh()), Some(s));
            for a in s.aliases() {
                assert_eq!(Subcategory::parse(a), Some(s), "{a}");
            }
        }
        assert_eq!(Theme::parse("ＧＲＥＥＮ"), Some(Theme::Green));
        assert_eq!(Theme::parse("低碳"), None);
        assert_eq!(Subcategory::parse("家具"), None);
    }

    #[test]
    fn lists_keep_each_theme_once_and_name_the_bad_item() {
        assert_eq!(
            Theme::parse_list("智能；绿色、智能 / 适老").unwrap(),
            vec![Theme::Smart, Theme::Green, Theme::AgeFriendly]
        );
        assert_eq!(Theme::parse_list("").unwrap(), Vec::<Theme>::new());
        assert_eq!(Theme::parse_list("绿色,低碳").unwrap_err(), "低碳");
        assert_eq!(
            Theme::join(&[Theme::Green, Theme::AgeFriendly]),
            "green;age_friendly"
        );
    }
}
