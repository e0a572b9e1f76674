//! Tile-grid map of China: one square per region on a hand-made schematic grid.

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::style::{self, Diverging, MISSING, MUTED, TEXT, ValueScale, check_finite, fmt_fixed};
use crate::{Chart, ChartError};

/// Where one region sits on the [`TILE_GRID`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TilePlace {
    /// Region code: 6-digit GB/T 2260 code, or `XPCC` for 新疆生产建设兵团.
    pub code: &'static str,
    /// Default short name, drawn when the caller gives an empty one.
    pub short_name: &'static str,
    /// Column, 0 = west.
    pub col: u8,
    /// Row, 0 = north.
    pub row: u8,
    /// True for the five cities specifically designated in the state plan (计划单列市)
    /// and for XPCC: drawn with a dashed outline next to their province.
    pub sub_provincial: bool,
}

const fn p(code: &'static str, short_name: &'static str, col: u8, row: u8) -> TilePlace {
    TilePlace {
        code,
        short_name,
        col,
        row,
        sub_provincial: false,
    }
}

const fn c(code: &'static str, short_name: &'static str, col: u8, row: u8) -> TilePlace {
    TilePlace {
        code,
        short_name,
        col,
        row,
        sub_provincial: true,
    }
}

/// The schematic grid (8 columns × 8 rows): 31 provinces, the 5 plan cities placed next to
/// their provinces, and XPCC next to Xinjiang. Positions follow rough geography; they are not
/// a map.
pub const TILE_GRID: [TilePlace; 37] = [
    p("230000", "黑龙江", 7, 0),
    c("XPCC", "兵团", 0, 1),
    p("150000", "内蒙古", 3, 1),
    p("110000", "北京", 4, 1),
    p("210000", "辽宁", 6, 1),
    p("220000", "吉林", 7, 1),
    p("650000", "新疆", 0, 2),
    p("620000", "甘肃", 1, 2),
    p("640000", "宁夏", 2, 2),
    p("140000", "山西", 3, 2),
    p("130000", "河北", 4, 2),
    p("120000", "天津", 5, 2),
    c("210200", "大连", 6, 2),
    p("540000", "西藏", 0, 3),
    p("630000", "青海", 1, 3),
    p("610000", "陕西", 2, 3),
    p("410000", "河南", 3, 3),
    p("370000", "山东", 4, 3),
    c("370200", "青岛", 5, 3),
    p("510000", "四川", 1, 4),
    p("500000", "重庆", 2, 4),
    p("420000", "湖北", 3, 4),
    p("340000", "安徽", 4, 4),
    p("320000", "江苏", 5, 4),
    p("310000", "上海", 6, 4),
    p("530000", "云南", 1, 5),
    p("520000", "贵州", 2, 5),
    p("430000", "湖南", 3, 5),
    p("360000", "江西", 4, 5),
    p("330000", "浙江", 5, 5),
    c("330200", "宁波", 6, 5),
    p("450000", "广西", 2, 6),
    p("440000", "广东", 3, 6),
    p("350000", "福建", 4, 6),
    c("350200", "厦门", 5, 6),
    p("460000", "海南", 2, 7),
    c("440300", "深圳", 3, 7),
];

const GRID_COLS: i32 = 8;
const GRID_ROWS: i32 = 8;

/// The grid place of a region code (`XPCC` matches case-insensitively), if it is on the grid.
pub fn tile_place(code: &str) -> Option<&'static TilePlace> {
    let code = code.trim();
    TILE_GRID.iter().find(|t| t.code.eq_ignore_ascii_case(code))
}

/// A grid place, the name to draw and the value.
type Tile = (&'static TilePlace, String, Option<f64>);

/// A tile map: every region of [`TILE_GRID`] as a square coloured by its value.
///
/// Regions absent from `values`, or with `None`, are grey. Colours diverge from white at 0
/// (red negative, blue positive) like [`crate::Heatmap`].
#[derive(Clone, Debug, PartialEq)]
pub struct TileMap {
    /// Title, Chinese and English.
    pub title: String,
    /// `(region code, short name, value)`; an empty short name uses the grid's default.
    pub values: Vec<(String, String, Option<f64>)>,
    /// The values' legend title, decimals, suffix (default `%`) and colour limit.
    pub scale: ValueScale,
}

impl TileMap {
    /// A tile map with 1 decimal, `%` suffix and an automatic colour limit.
    pub fn new(
        title: impl Into<String>,
        value_label: impl Into<String>,
        values: Vec<(String, String, Option<f64>)>,
    ) -> Self {
        Self {
            title: title.into(),
            values,
            scale: ValueScale::new(value_label, "%"),
        }
    }

    /// One entry per grid tile: `(place, name, value)`, validated.
    fn tiles(&self) -> Result<Vec<Tile>, ChartError> {
        let mut tiles: Vec<Tile> = TILE_GRID
            .iter()
            .map(|t| (t, t.short_name.to_string(), None))
            .collect();
        let mut seen = Vec::new();
        for (code, name, v) in &self.values {
            let Some(i) = TILE_GRID
                .iter()
                .position(|t| t.code.eq_ignore_ascii_case(code.trim()))
            else {
                return Err(ChartError::InvalidData(format!(
                    "tile map: region code {code:?} ({name}) is not on the grid"
                )));
            };
            if seen.contains(&i) {
                return Err(ChartError::InvalidData(format!(
                    "tile map: region code {code:?} given twice"
                )));
            }
            seen.push(i);
            if let Some(v) = v {
                check_finite(&format!("value of {code}"), *v)?;
            }
            if !name.trim().is_empty() {
                tiles[i].1 = name.trim().to_string();
            }
            tiles[i].2 = *v;
        }
        Ok(tiles)
    }
}

impl Chart for TileMap {
    fn title(&self) -> &str {
        &self.title
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), ChartError> {
        let tiles = self.tiles()?;
        let theme = style::prepare(area)?;
        let body = style::split_title(area, &theme, &self.title)?;
        let (bw, bh) = body.dim_in_pixel();
        let scale = Diverging::new(self.scale.limit, tiles.iter().filter_map(|t| t.2));

        let legend_w = theme.px(200.0);
        let legend_gap = theme.px(40.0);
        let foot_h = theme.px(30.0);
        let top = theme.px(4.0);
        let avail_w = bw as i32 - legend_w - legend_gap - theme.px(32.0);
        let avail_h = bh as i32 - foot_h - top;
        let pitch = (avail_w / GRID_COLS).min(avail_h / GRID_ROWS).max(4);
        let gap = (pitch / 14).max(1);
        let tile = pitch - gap;
        let grid_w = pitch * GRID_COLS;
        // Centre [grid | legend] as one block.
        let gx = ((bw as i32 - grid_w - legend_gap - legend_w) / 2).max(theme.px(16.0));
        let gy = top;

        let name_size = (f64::from(tile) * 0.24 / theme.s).clamp(8.0, 17.0);
        let value_size = (f64::from(tile) * 0.20 / theme.s).clamp(8.0, 15.0);
        for (place, name, v) in &tiles {
            let x = gx + pitch * i32::from(place.col);
            let y = gy + pitch * i32::from(place.row);
            let fill = v.map_or(MISSING, |v| scale.color(v));
            body.draw(&Rectangle::new(
                [(x, y), (x + tile, y + tile)],
                fill.filled(),
            ))?;
            if place.sub_provincial {
                let inset = (gap + 1).max(theme.px(3.0));
                let (a, b) = ((x + inset, y + inset), (x + tile - inset, y + tile - inset));
                let color: &RGBColor = v.map_or(&MUTED, |v| scale.text_color(v));
                body.draw(&DashedPathElement::new(
                    vec![a, (b.0, a.1), b, (a.0, b.1), a],
                    theme.upx(5.0),
                    theme.upx(3.0),
                    color.mix(0.8).stroke_width(1),
                ))?;
            }
            let text_color = v.map_or(&TEXT, |v| scale.text_color(v));
            let name_font = {
                let mut sz = name_size;
                loop {
                    let f = theme.font_colored(sz, text_color);
                    if body.estimate_text_size(name, &f)?.0 as i32 <= tile - theme.px(8.0)
                        || sz <= 8.0
                    {
                        break f;
                    }
                    sz -= 1.0;
                }
            };
            let cx = x + tile / 2;
            body.draw(&Text::new(
                name.clone(),
                (cx, y + tile * 37 / 100),
                name_font.pos(Pos::new(HPos::Center, VPos::Center)),
            ))?;
            let value_text = match v {
                Some(v) => {
                    let s = fmt_fixed(*v, self.scale.decimals);
                    let plus = if *v > 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0') {
                        "+"
                    } else {
                        ""
                    };
                    format!("{plus}{s}{}", self.scale.suffix)
                }
                None => "—".to_string(),
            };
            body.draw(&Text::new(
                value_text,
                (cx, y + tile * 70 / 100),
                theme
                    .font_colored(value_size, text_color)
                    .pos(Pos::new(HPos::Center, VPos::Center)),
            ))?;
        }

        let lx = gx + grid_w + legend_gap;
        let has_missing = tiles.iter().any(|t| t.2.is_none());
        let bar_h = (pitch * 4).clamp(theme.px(80.0), theme.px(280.0));
        style::color_legend(
            &body,
            &theme,
            &scale,
            &self.scale,
            lx,
            gy + theme.px(10.0),
            bar_h,
            has_missing,
        )?;
        let note_font = theme.font_colored(14.0, &MUTED);
        let fy = bh as i32 - foot_h / 2;
        body.draw(&Text::new(
            "方块位置为示意，非地图  Schematic tile grid, not to scale.   虚线框：计划单列市 / 兵团  Dashed: plan-listed cities / XPCC"
                .to_string(),
            (theme.px(16.0), fy),
            note_font.pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_has_no_collisions_and_all_codes() {
        let mut cells = std::collections::BTreeSet::new();
        for t in &TILE_GRID {
            assert!(
                cells.insert((t.col, t.row)),
                "two regions at {:?}",
                (t.col, t.row)
            );
            assert!(i32::from(t.col) < GRID_COLS && i32::from(t.row) < GRID_ROWS);
        }
        let codes: std::collections::BTreeSet<&str> = TILE_GRID.iter().map(|t| t.code).collect();
        assert_eq!(codes.len(), 37);
        assert_eq!(
            TILE_GRID
                .iter()
                .filter(|t| t.code.ends_with("0000"))
                .count(),
            31
        );
        assert!(tile_place("xpcc").is_some());
        assert_eq!(tile_place("440300").map(|t| t.short_name), Some("深圳"));
    }
}
