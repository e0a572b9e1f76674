//! Charts for the homeseason study of China's 2023 "家居焕新消费季" home-goods campaign.
//!
//! Every chart is a plain-data struct (no dataframe types; dates are [`chrono::NaiveDate`])
//! that implements [`Chart`], and renders to PNG bytes or to an SVG string with [`render`]:
//!
//! | chart | shows |
//! |---|---|
//! | [`SeriesChart`] | one region × category series: actual, baseline, its interval, the campaign window |
//! | [`BarChart`] | ranked horizontal bars (e.g. uplift % of 37 regions) with optional interval whiskers |
//! | [`Heatmap`] | regions × categories, diverging colours centred on 0, value in every cell |
//! | [`ImpactChart`] | CausalImpact-style panels: observed vs counterfactual, pointwise and cumulative effect |
//! | [`TileMap`] | one square per region on a schematic grid of China, coloured by value |
//!
//! All text is drawn with a bundled subset of Noto Sans CJK SC (SIL OFL 1.1, every GB2312
//! character), so PNGs show Chinese on machines without CJK fonts. Use [`font_covers`] to check
//! that labels you pass in can be drawn. SVG output does not embed the font: it names
//! [`SVG_FONT_STACK`] and the viewer supplies the glyphs; PNG looks the same everywhere.
//!
//! The crate does no file IO: callers write the returned bytes where they like.
//!
//! # Example
//!
//! ```
//! use chrono::NaiveDate;
//! use homeseason_charts::{render, Chart, Format, SeriesChart};
//!
//! let d = |m, day| NaiveDate::from_ymd_opt(2023, m, day).unwrap();
//! let mut chart = SeriesChart::new("浙江省 · 家电 Zhejiang · Home appliances", "销售额 Sales (万元)");
//! for (i, date) in d(6, 1).iter_days().take(120).enumerate() {
//!     let base = 1_000.0 + 5.0 * i as f64;
//!     let lift = if date >= d(7, 28) { 1.12 } else { 1.0 };
//!     chart.actual.push((date, base * lift));
//!     chart.baseline.push((date, base));
//!     chart.band.push((date, base * 0.95, base * 1.05));
//! }
//! chart.window = Some((d(7, 28), d(9, 28)));
//!
//! let png: Vec<u8> = render(&chart, Format::Png, 1200, 700)?;
//! assert!(png.starts_with(b"\x89PNG"));
//! let svg = String::from_utf8(render(&chart, Format::Svg, 1200, 700)?).unwrap();
//! assert!(svg.contains("浙江省"));
//! // Or at the chart's preferred size, tagged with its format:
//! let r = homeseason_charts::Rendered::new(&chart, Format::Png, chart.default_size())?;
//! assert_eq!(r.format.extension(), "png");
//! # Ok::<(), homeseason_charts::ChartError>(())
//! ```
#![deny(missing_docs)]

mod backend;
mod bar;
mod font;
mod heatmap;
mod impact;
mod series;
mod style;
mod tilemap;

use plotters::coord::Shift;
use plotters::drawing::DrawingAreaErrorKind;
use plotters::prelude::*;

pub use backend::CjkBackend;
pub use bar::{Bar, BarChart};
pub use font::{FONT_BYTES, FONT_FAMILY, SVG_FONT_STACK, font_covers, missing_glyphs};
pub use heatmap::Heatmap;
pub use impact::{EffectPoint, ImpactChart, ImpactEffects};
pub use series::SeriesChart;
pub use style::ValueScale;
pub use tilemap::{TILE_GRID, TileMap, TilePlace, tile_place};

/// The plotters version this crate draws with, for callers that implement [`Chart`] themselves
/// or draw a chart into their own plotters area.
pub use plotters;

/// Default image width in pixels; text sizes are designed for it and scale with the width.
pub const DEFAULT_WIDTH: u32 = 1200;
/// Default image height in pixels (charts with many rows prefer more, see [`Chart::default_size`]).
pub const DEFAULT_HEIGHT: u32 = 700;
/// Largest width or height [`render`] accepts.
pub const MAX_SIDE: u32 = 16_384;

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// 8-bit RGB PNG: looks the same everywhere (the font is rasterised in).
    Png,
    /// SVG text (UTF-8); the viewer supplies the font, see [`SVG_FONT_STACK`].
    Svg,
}

impl Format {
    /// File extension without the dot: `png` or `svg`.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Svg => "svg",
        }
    }

    /// MIME type: `image/png` or `image/svg+xml`.
    pub fn mime_type(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Svg => "image/svg+xml",
        }
    }
}

/// A rendered chart: PNG bytes or SVG UTF-8 text, tagged with its format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// The format of `bytes`.
    pub format: Format,
    /// PNG file bytes, or the SVG document as UTF-8.
    pub bytes: Vec<u8>,
}

impl Rendered {
    /// Renders `chart` at `(width, height)` pixels; see [`render`].
    pub fn new<C: Chart>(
        chart: &C,
        format: Format,
        (width, height): (u32, u32),
    ) -> Result<Self, ChartError> {
        Ok(Self {
            format,
            bytes: render(chart, format, width, height)?,
        })
    }

    /// The SVG text, when this is an SVG.
    pub fn as_svg(&self) -> Option<&str> {
        match self.format {
            Format::Svg => std::str::from_utf8(&self.bytes).ok(),
            Format::Png => None,
        }
    }
}

/// Everything that can go wrong while rendering.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// The chart's data cannot be drawn (empty, lengths differ, not finite, unknown region...).
    #[error("invalid chart data: {0}")]
    InvalidData(String),
    /// Width or height is zero or above [`MAX_SIDE`].
    #[error("invalid image size {width}×{height} (each side must be 1..={MAX_SIDE})")]
    InvalidSize {
        /// Requested width.
        width: u32,
        /// Requested height.
        height: u32,
    },
    /// The bundled font could not be loaded.
    #[error("font error: {0}")]
    Font(String),
    /// plotters failed while drawing.
    #[error("drawing failed: {0}")]
    Drawing(String),
    /// PNG encoding failed.
    #[error("PNG encoding failed: {0}")]
    Encode(String),
}

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for ChartError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        ChartError::Drawing(e.to_string())
    }
}

/// A chart that can draw itself on any plotters drawing area.
///
/// Implemented by [`SeriesChart`], [`BarChart`], [`Heatmap`], [`ImpactChart`] and [`TileMap`].
/// Most callers only need [`render`]; [`Chart::draw`] lets a caller place a chart inside a
/// larger plotters figure of their own.
pub trait Chart {
    /// The chart's title (Chinese and English), drawn at the top.
    fn title(&self) -> &str;

    /// Preferred `(width, height)` in pixels; charts with many rows ask for more height.
    fn default_size(&self) -> (u32, u32) {
        (DEFAULT_WIDTH, DEFAULT_HEIGHT)
    }

    /// Draws the whole chart (white background, title, plot, legend) on `area`.
    /// Text sizes scale with the area's width (reference: 1200 px).
    ///
    /// Wrap the backend in [`CjkBackend`] (as [`render`] does): plotters' own text path
    /// draws CJK text too small and misplaces punctuation.
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), ChartError>;
}

/// Renders `chart` to PNG bytes or SVG UTF-8 bytes at `width` × `height` pixels.
///
/// Rendering is deterministic: the same chart and size give identical bytes.
pub fn render<C: Chart>(
    chart: &C,
    format: Format,
    width: u32,
    height: u32,
) -> Result<Vec<u8>, ChartError> {
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(ChartError::InvalidSize { width, height });
    }
    match format {
        Format::Png => render_png(chart, width, height),
        Format::Svg => render_svg(chart, width, height).map(String::into_bytes),
    }
}

/// Renders `chart` as an SVG document (see [`render`]).
pub fn render_svg<C: Chart>(chart: &C, width: u32, height: u32) -> Result<String, ChartError> {
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(ChartError::InvalidSize { width, height });
    }
    let mut svg = String::new();
    {
        let root = CjkBackend::vector(SVGBackend::with_string(&mut svg, (width, height)))
            .into_drawing_area();
        chart.draw(&root)?;
        root.present()?;
    }
    let needle = format!("font-family=\"{FONT_FAMILY}\"");
    Ok(svg.replace(&needle, &format!("font-family=\"{SVG_FONT_STACK}\"")))
}

/// Renders `chart` as PNG file bytes (see [`render`]).
pub fn render_png<C: Chart>(chart: &C, width: u32, height: u32) -> Result<Vec<u8>, ChartError> {
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(ChartError::InvalidSize { width, height });
    }
    let mut rgb = vec![255u8; width as usize * height as usize * 3];
    {
        let root = CjkBackend::raster(BitMapBackend::with_buffer(&mut rgb, (width, height)))
            .into_drawing_area();
        chart.draw(&root)?;
        root.present()?;
    }
    let mut out = Vec::with_capacity(rgb.len() / 8);
    {
        use image::ImageEncoder;
        let encoder = image::codecs::png::PngEncoder::new(&mut out);
        encoder
            .write_image(&rgb, width, height, image::ColorType::Rgb8)
            .map_err(|e| ChartError::Encode(e.to_string()))?;
    }
    Ok(out)
}
