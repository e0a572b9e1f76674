//! The bundled CJK font and its registration with plotters.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef};
use plotters::style::FontStyle;

use crate::ChartError;

/// Font family name under which the bundled font is registered with plotters.
///
/// Every piece of text drawn by this crate uses this family.  In SVG output the
/// family is rewritten to [`SVG_FONT_STACK`], because SVG viewers do not know it.
pub const FONT_FAMILY: &str = "homeseason-cjk";

/// CSS font stack written into SVG output in place of [`FONT_FAMILY`].
///
/// SVG files do not embed the font: the viewer draws the text with the first
/// of these families it has.
pub const SVG_FONT_STACK: &str = "'Noto Sans SC', 'Noto Sans CJK SC', 'Source Han Sans SC', \
'Microsoft YaHei', 'PingFang SC', 'WenQuanYi Micro Hei', sans-serif";

/// The bundled font: a subset of Noto Sans CJK SC Regular 2.004 (SIL OFL 1.1)
/// covering ASCII, Latin-1, general and CJK punctuation, full-width forms and
/// every GB2312 character (all 6,763 hanzi).  See `assets/README.md`.
pub static FONT_BYTES: &[u8] = include_bytes!("../assets/NotoSansSC-subset.otf");

pub(crate) fn parsed() -> Option<&'static FontRef<'static>> {
    static FONT: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(FONT_BYTES).ok())
        .as_ref()
}

/// Registers the bundled font with plotters under [`FONT_FAMILY`] (once per process).
pub(crate) fn ensure_registered() -> Result<(), ChartError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, FONT_BYTES).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(ChartError::Font(
            "the bundled font could not be registered with plotters".into(),
        ))
    }
}

/// True when the bundled font has a glyph for every non-whitespace character of `text`.
///
/// Text that is not covered would be drawn as empty boxes ("tofu") in PNG output.
///
/// ```
/// assert!(homeseason_charts::font_covers("新疆维吾尔自治区 · 家电 Home appliances (%)"));
/// assert!(!homeseason_charts::font_covers("😀"));
/// ```
pub fn font_covers(text: &str) -> bool {
    missing_glyphs(text).is_empty()
}

/// The distinct non-whitespace characters of `text` that the bundled font lacks, in order of
/// first appearance.
pub fn missing_glyphs(text: &str) -> Vec<char> {
    let Some(font) = parsed() else {
        let mut all: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
        all.dedup();
        return all;
    };
    let mut missing = Vec::new();
    for c in text.chars() {
        if !c.is_whitespace() && font.glyph_id(c).0 == 0 && !missing.contains(&c) {
            missing.push(c);
        }
    }
    missing
}
