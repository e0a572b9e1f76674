//! Rows × columns heatmap with a diverging colour scale centred on zero.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::style::{self, AXIS, Diverging, MISSING, MUTED, ValueScale, check_finite, fmt_fixed};
use crate::{Chart, ChartError, DEFAULT_WIDTH};

/// A heatmap of e.g. 37 regions × 4 categories of uplift %.
///
/// Colours diverge from white at 0 to red (negative) and blue (positive), saturating at
/// ±`limit` (by default the largest |value| rounded up to 1, 2, 2.5 or 5 × 10ⁿ). Each cell
/// prints its value; missing cells are grey. A colour legend sits on the right.
/// Column labels may contain `\n` to break them into lines.
#[derive(Clone, Debug, PartialEq)]
pub struct Heatmap {
    /// Title, Chinese and English.
    pub title: String,
    /// Row labels, top to bottom (e.g. region names).
    pub row_labels: Vec<String>,
    /// Column labels, left to right (e.g. categories).
    pub col_labels: Vec<String>,
    /// `values[row][col]`; `None` is drawn as a grey "no data" cell.
    pub values: Vec<Vec<Option<f64>>>,
    /// The values' legend title, decimals, suffix (default empty: the unit is in the title) and
    /// colour limit.
    pub scale: ValueScale,
}

impl Heatmap {
    /// A heatmap with 1 decimal, no suffix and an automatic colour limit.
    pub fn new(
        title: impl Into<String>,
        row_labels: Vec<String>,
        col_labels: Vec<String>,
        values: Vec<Vec<Option<f64>>>,
        value_label: impl Into<String>,
    ) -> Self {
        Self {
            title: title.into(),
            row_labels,
            col_labels,
            values,
            scale: ValueScale::new(value_label, ""),
        }
    }

    fn validate(&self) -> Result<(), ChartError> {
        let (r, c) = (self.row_labels.len(), self.col_labels.len());
        if r == 0 || c == 0 {
            return Err(ChartError::InvalidData(
                "heatmap needs at least one row and one column".into(),
            ));
        }
        if self.values.len() != r {
            return Err(ChartError::InvalidData(format!(
                "heatmap has {r} row labels but {} rows of values",
                self.values.len()
            )));
        }
        for (i, row) in self.values.iter().enumerate() {
            if row.len() != c {
                return Err(ChartError::InvalidData(format!(
                    "heatmap row {i} ({:?}) has {} values, expected {c}",
                    self.row_labels[i],
                    row.len()
                )));
            }
            for v in row.iter().flatten() {
                check_finite(&format!("value in row {:?}", self.row_labels[i]), *v)?;
            }
        }
        Ok(())
    }
}

impl Chart for Heatmap {
    fn title(&self) -> &str {
        &self.title
    }

    fn default_size(&self) -> (u32, u32) {
        let n = self.row_labels.len() as u32;
        (DEFAULT_WIDTH, (170 + style::ROW_PX * n).max(400))
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), ChartError> {
        self.validate()?;
        let theme = style::prepare(area)?;
        let body = style::split_title(area, &theme, &self.title)?;
        let (bw, bh) = body.dim_in_pixel();
        let (nr, nc) = (self.row_labels.len() as i32, self.col_labels.len() as i32);
        let scale = Diverging::new(
            self.scale.limit,
            self.values.iter().flatten().flatten().copied(),
        );

        // Geometry: [row labels | grid | legend], header with column labels above the grid.
        let legend_w = theme.px(190.0);
        let margin = theme.px(16.0);
        let header_lines = self
            .col_labels
            .iter()
            .map(|l| l.split('\n').count())
            .max()
            .unwrap_or(1) as i32;
        let header_h = theme.px(10.0) + header_lines * theme.px(20.0);
        let bottom = theme.px(16.0);
        let avail_h = (bh as i32 - header_h - bottom).max(nr);
        let cell_h = (avail_h / nr).clamp(1, theme.px(44.0));
        let label_size = (f64::from(cell_h) * 0.68 / theme.s).clamp(8.0, 15.0);
        let label_font = theme.font(label_size);
        let mut row_w = 0;
        for l in &self.row_labels {
            row_w = row_w.max(body.estimate_text_size(l, &label_font)?.0 as i32);
        }
        let left = margin + row_w + theme.px(10.0);
        let avail_w = (bw as i32 - left - legend_w - margin).max(nc);
        let cell_w = (avail_w / nc).clamp(1, theme.px(230.0));
        let grid_w = cell_w * nc;
        // Centre [labels + grid] in the space left of the legend.
        let shift = ((bw as i32 - legend_w - margin) - (left + grid_w)).max(0) / 2;
        let gx = left + shift;
        let gy = header_h;

        let header_font = theme.font(15.0);
        for (j, l) in self.col_labels.iter().enumerate() {
            let cx = gx + cell_w * j as i32 + cell_w / 2;
            let lines: Vec<&str> = l.split('\n').collect();
            let k = lines.len() as i32;
            for (li, line) in lines.iter().enumerate() {
                let y = gy - theme.px(8.0) - (k - 1 - li as i32) * theme.px(20.0);
                let font = style::fit_font(
                    &body,
                    &theme,
                    15.0,
                    line,
                    (cell_w - theme.px(6.0)).max(1) as u32,
                )
                .unwrap_or_else(|_| header_font.clone());
                body.draw(&Text::new(
                    line.to_string(),
                    (cx, y),
                    font.pos(Pos::new(HPos::Center, VPos::Bottom)),
                ))?;
            }
        }

        let value_size = (f64::from(cell_h) * 0.6 / theme.s).clamp(8.0, 14.0);
        let show_values = f64::from(cell_h) >= 11.0 && cell_w >= theme.px(34.0);
        let gap = i32::from(cell_h >= 6);
        for (i, row) in self.values.iter().enumerate() {
            let y = gy + cell_h * i as i32;
            body.draw(&Text::new(
                self.row_labels[i].clone(),
                (gx - theme.px(10.0), y + cell_h / 2),
                label_font.pos(Pos::new(HPos::Right, VPos::Center)),
            ))?;
            for (j, v) in row.iter().enumerate() {
                let x = gx + cell_w * j as i32;
                let fill = match v {
                    Some(v) => scale.color(*v),
                    None => MISSING,
                };
                body.draw(&Rectangle::new(
                    [(x + gap, y + gap), (x + cell_w - gap, y + cell_h - gap)],
                    fill.filled(),
                ))?;
                if show_values {
                    let (text, color) = match v {
                        Some(v) => (
                            format!(
                                "{}{}",
                                fmt_fixed(*v, self.scale.decimals),
                                self.scale.suffix
                            ),
                            scale.text_color(*v),
                        ),
                        None => ("—".to_string(), &MUTED),
                    };
                    body.draw(&Text::new(
                        text,
                        (x + cell_w / 2, y + cell_h / 2),
                        theme
                            .font_colored(value_size, color)
                            .pos(Pos::new(HPos::Center, VPos::Center)),
                    ))?;
                }
            }
        }
        body.draw(&Rectangle::new(
            [(gx, gy), (gx + grid_w, gy + cell_h * nr)],
            AXIS.mix(0.5).stroke_width(1),
        ))?;

        let lx = bw as i32 - legend_w + theme.px(20.0);
        let bar_h = (cell_h * nr).clamp(theme.px(80.0), theme.px(300.0));
        let has_missing = self.values.iter().flatten().any(Option::is_none);
        style::color_legend(
            &body,
            &theme,
            &scale,
            &self.scale,
            lx,
            gy - theme.px(4.0),
            bar_h,
            has_missing,
        )?;
        Ok(())
    }
}
