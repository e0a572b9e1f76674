//! Theme and subcategory participation (issue 18): in about half the regions (stream
//! `themes/<region>`), the key-enterprise file carries the optional columns 细分品类 and 主题标签 — the
//! other regions' files keep the old layout, so every sample season exercises both. There, each
//! building-materials enterprise reports one subcategory (陶瓷 … 管材, uniform), and each enterprise
//! tags its sales with each theme independently (绿色 40 %, 智能 35 %, 适老化 15 %). What was injected
//! is in `truth_themes.csv`: per region (and `000000`) × theme or subcategory, the enterprises,
//! their distinct brands and their sales over the campaign window's months, as written in the files.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use homeseason_schema::category::Category;
use homeseason_schema::region::NATIONAL;
use homeseason_schema::theme::{Subcategory, Theme};

use crate::SynthError;
use crate::enterprise::Enterprise;
use crate::output::{Out, fixed};
use crate::rng::stream;

/// Probability that an enterprise tags its sales with each theme, in [`Theme::ALL`] order.
const THEME_P: [f64; 3] = [0.40, 0.35, 0.15];

/// The file of the theme truth.
pub const TRUTH_THEMES_FILE: &str = "truth_themes.csv";

/// Header of [`TRUTH_THEMES_FILE`].
const HEADER: &str = "region_code,dimension,tag,enterprises,brands,sales_yuan";

/// What one enterprise reports beside its sales, in a region whose file carries the columns.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tags {
    /// The subcategory (building materials only).
    pub(crate) subcategory: Option<Subcategory>,
    /// The themes, in [`Theme::ALL`] order.
    pub(crate) themes: Vec<Theme>,
}

impl Tags {
    /// The two cells as written: subcategory in Chinese, themes in Chinese joined by 、.
    pub(crate) fn cells(&self) -> (String, String) {
        (
            self.subcategory
                .map(|s| s.name_zh().to_owned())
                .unwrap_or_default(),
            self.themes
                .iter()
                .map(|t| t.name_zh())
                .collect::<Vec<_>>()
                .join("、"),
        )
    }
}

/// Whether a region's file carries the theme columns.
pub(crate) fn region_has_tags(seed: u64, region: &str) -> bool {
    stream(seed, &["themes", region]).chance(0.5)
}

/// The tags of one enterprise (drawn from its own stream, so other draws do not shift).
pub(crate) fn tags_of(seed: u64, e: &Enterprise) -> Tags {
    let mut s = stream(seed, &["themes", &e.uscc]);
    let subcategory = (e.category == Category::BuildingMaterials)
        .then(|| Subcategory::ALL[s.below(Subcategory::ALL.len())]);
    let themes = Theme::ALL
        .iter()
        .zip(THEME_P)
        .filter_map(|(t, p)| s.chance(p).then_some(*t))
        .collect();
    Tags {
        subcategory,
        themes,
    }
}

/// (region, dimension, tag): one cell of [`TRUTH_THEMES_FILE`].
type TruthKey = (String, &'static str, &'static str);

/// A cell's enterprises (USCC), brands and sales in yuan.
type TruthCell = (BTreeSet<String>, BTreeSet<String>, f64);

/// Accumulates [`TRUTH_THEMES_FILE`] while the enterprise files are written.
#[derive(Default)]
pub(crate) struct Truth {
    /// (region, dimension, tag) → (enterprises, brands, sales in yuan).
    cells: BTreeMap<TruthKey, TruthCell>,
}

impl Truth {
    /// Record one written row: its enterprise's tags and its amount in yuan (as written), when the
    /// row's period lies in the campaign window.
    pub(crate) fn add(&mut self, region: &str, e: &Enterprise, tags: &Tags, yuan: f64) {
        let mut keys: Vec<(&'static str, &'static str)> =
            tags.themes.iter().map(|t| ("theme", t.id())).collect();
        if let Some(s) = tags.subcategory {
            keys.push(("subcategory", s.id()));
        }
        for (dim, tag) in keys {
            for r in [region, NATIONAL] {
                let c = self.cells.entry((r.to_owned(), dim, tag)).or_default();
                c.0.insert(e.uscc.clone());
                c.1.insert(e.brand.clone());
                c.2 += yuan;
            }
        }
    }

    /// Write [`TRUTH_THEMES_FILE`].
    pub(crate) fn write(&self, out: &mut Out<'_>) -> Result<(), SynthError> {
        let mut buf = String::from(HEADER);
        buf.push('\n');
        for ((region, dim, tag), (ents, brands, sales)) in &self.cells {
            let _ = writeln!(
                buf,
                "{region},{dim},{tag},{},{},{}",
                ents.len(),
                brands.len(),
                fixed(*sales, 2)
            );
        }
        out.write(TRUTH_THEMES_FILE, buf.as_bytes(), self.cells.len())
    }
}

/// The theme columns' Chinese headers (aliases of `subcategory` and `theme_tags` in the contract).
pub(crate) const HEADERS: [&str; 2] = ["细分品类", "主题标签"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_drawn_per_enterprise_and_written_in_chinese() {
        let t = Tags {
            subcategory: Some(Subcategory::DoorsWindows),
            themes: vec![Theme::Green, Theme::AgeFriendly],
        };
        assert_eq!(t.cells(), ("门窗".to_owned(), "绿色、适老化".to_owned()));
        assert_eq!(Tags::default().cells(), (String::new(), String::new()));
    }
}
