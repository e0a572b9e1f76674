//! A backend wrapper that measures (and, for bitmaps, draws) text with the bundled font.

use ab_glyph::{Font, GlyphId, PxScale, ScaleFont, point};
use plotters::prelude::DrawingBackend;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind, FontFamily,
    FontStyle, FontTransform,
};

use crate::font;

/// Ascent of the ideographic em box above the baseline, as a fraction of the em.
const EM_ASCENT: f64 = 0.88;

/// Wraps a plotters backend so that text uses the bundled CJK font with CSS semantics: a
/// font size of `N` means an em of `N` pixels, as in SVG.
///
/// * [`CjkBackend::raster`] (for bitmap backends) draws every text itself with the bundled
///   font, whatever family the style names, with correct glyph bearings, kerning, anchors and
///   90° rotations. (plotters' own ab_glyph path ignores side bearings and sizes text by
///   line height, so CJK text comes out ~30% small with misplaced punctuation.)
/// * [`CjkBackend::vector`] (for SVG) passes text through to the inner backend.
///
/// Both measure text with the bundled font, so layouts match between PNG and SVG.
/// [`crate::render`] uses this wrapper; wrap your own backend in it when calling
/// [`crate::Chart::draw`] directly.
#[derive(Debug)]
pub struct CjkBackend<B> {
    inner: B,
    raster: bool,
}

impl<B: DrawingBackend> CjkBackend<B> {
    /// For pixel backends (e.g. `BitMapBackend`): text is rasterised by this wrapper.
    pub fn raster(inner: B) -> Self {
        Self {
            inner,
            raster: true,
        }
    }

    /// For vector backends (e.g. `SVGBackend`): text is passed through as text.
    pub fn vector(inner: B) -> Self {
        Self {
            inner,
            raster: false,
        }
    }

    /// The wrapped backend.
    pub fn into_inner(self) -> B {
        self.inner
    }
}

struct Layout {
    glyphs: Vec<ab_glyph::Glyph>,
    width: f64,
}

fn layout(text: &str, em: f64) -> Option<Layout> {
    let f = font::parsed()?;
    let units = f64::from(f.units_per_em()?);
    let scale = PxScale::from((em * f64::from(f.height_unscaled()) / units) as f32);
    let sf = f.as_scaled(scale);
    let mut pen = 0.0f32;
    let mut prev: Option<GlyphId> = None;
    let mut glyphs = Vec::with_capacity(text.len());
    for c in text.chars() {
        if c == '\n' || c == '\r' {
            continue;
        }
        let id = f.glyph_id(c);
        if let Some(p) = prev {
            pen += sf.kern(p, id);
        }
        glyphs.push(id.with_scale_and_position(scale, point(pen, 0.0)));
        pen += sf.h_advance(id);
        prev = Some(id);
    }
    Some(Layout {
        glyphs,
        width: f64::from(pen),
    })
}

/// plotters' SVG backend writes `font-size = size / 1.24`; this undoes that so the SVG
/// font size is the em size, as in the PNG.
struct EmSized<'a, T>(&'a T);

impl<T: BackendTextStyle> BackendTextStyle for EmSized<'_, T> {
    type FontError = T::FontError;

    fn color(&self) -> BackendColor {
        self.0.color()
    }

    fn size(&self) -> f64 {
        self.0.size() * 1.24
    }

    fn transform(&self) -> FontTransform {
        self.0.transform()
    }

    fn style(&self) -> FontStyle {
        self.0.style()
    }

    fn anchor(&self) -> plotters_backend::text_anchor::Pos {
        self.0.anchor()
    }

    fn family(&self) -> FontFamily<'_> {
        self.0.family()
    }

    fn layout_box(&self, text: &str) -> Result<((i32, i32), (i32, i32)), Self::FontError> {
        self.0.layout_box(text)
    }

    fn draw<E, DrawFunc: FnMut(i32, i32, BackendColor) -> Result<(), E>>(
        &self,
        text: &str,
        pos: BackendCoord,
        draw: DrawFunc,
    ) -> Result<Result<(), E>, Self::FontError> {
        self.0.draw(text, pos, draw)
    }
}

fn font_error<E: std::error::Error + Send + Sync>() -> DrawingErrorKind<E> {
    DrawingErrorKind::FontError(Box::new(crate::ChartError::Font(
        "the bundled font could not be parsed".into(),
    )))
}

impl<B: DrawingBackend> DrawingBackend for CjkBackend<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        (iw, ih): (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.blit_bitmap(pos, (iw, ih), src)
    }

    fn estimate_text_size<TStyle: BackendTextStyle>(
        &self,
        text: &str,
        style: &TStyle,
    ) -> Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        let em = style.size();
        let l = layout(text, em).ok_or_else(font_error)?;
        Ok((l.width.ceil().max(0.0) as u32, em.ceil().max(0.0) as u32))
    }

    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        if !self.raster {
            return self.inner.draw_text(text, &EmSized(style), pos);
        }
        let color = style.color();
        if color.alpha == 0.0 || text.is_empty() {
            return Ok(());
        }
        let em = style.size();
        let l = layout(text, em).ok_or_else(font_error)?;
        let f = font::parsed().ok_or_else(font_error)?;
        let anchor = style.anchor();
        let dx = match anchor.h_pos {
            HPos::Left => 0.0,
            HPos::Center => -l.width / 2.0,
            HPos::Right => -l.width,
        };
        // The text box is the ideographic em box: top at baseline − 0.88 em, height 1 em.
        let top = match anchor.v_pos {
            VPos::Top => 0.0,
            VPos::Center => -em / 2.0,
            VPos::Bottom => -em,
        };
        let baseline = top + EM_ASCENT * em;
        let trans: FontTransform = style.transform();
        let (w, h) = self.inner.get_size();
        for g in l.glyphs {
            let mut g = g;
            g.position = point(g.position.x + dx as f32, g.position.y + baseline as f32);
            let Some(outline) = f.outline_glyph(g) else {
                continue;
            };
            let b = outline.px_bounds();
            let (bx, by) = (b.min.x as i32, b.min.y as i32);
            let mut pixels = Vec::new();
            outline.draw(|x, y, c| {
                if c > 0.0 {
                    pixels.push((bx + x as i32, by + y as i32, c));
                }
            });
            for (x, y, c) in pixels {
                let (tx, ty) = trans.transform(x, y);
                let (px, py) = (pos.0 + tx, pos.1 + ty);
                if px < 0 || py < 0 || px >= w as i32 || py >= h as i32 {
                    continue;
                }
                // Slight gamma so small text is not washed out.
                let cov = f64::from(c.min(1.0)).powf(0.85);
                self.inner.draw_pixel(
                    (px, py),
                    BackendColor {
                        alpha: color.alpha * cov,
                        rgb: color.rgb,
                    },
                )?;
            }
        }
        Ok(())
    }
}
