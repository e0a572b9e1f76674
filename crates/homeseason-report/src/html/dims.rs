//! The report's sections for the dimensions of issue 18: online and offline (`channel_uplift`),
//! town and country (`urban_rural_uplift`), both through one split section, and themes and
//! subcategories (`theme_summary`).

use homeseason_schema::region::{NATIONAL, Regions};
use polars::prelude::*;

use super::{Block, Document, Table};
use crate::category_label;

/// One published row of a split table (`channel_uplift`, `urban_rural_uplift`), its figures as
/// shown (— where blank or absent).
struct ClassRow {
    region_code: String,
    category: String,
    /// The two classes' uplifts (online, offline; rural, urban).
    classes: [String; 2],
    share: String,
    change: String,
    /// Columns only one table has (the urban/rural table's unknown share and 下乡 link).
    extra: Vec<String>,
}

/// `"+x.x% [lo, hi]"`, or — when the estimate is blank (suppressed) or absent.
fn with_interval(p: Option<f64>, lo: Option<f64>, hi: Option<f64>, unit: &str) -> String {
    match (p, lo, hi) {
        (Some(p), Some(lo), Some(hi)) => format!("{p:+.1}{unit} [{lo:+.1}, {hi:+.1}]"),
        (Some(p), _, _) => format!("{p:+.1}{unit}"),
        _ => "—".into(),
    }
}

/// The text column `c` of `frame`; `None` in every row when it is absent or not text.
fn texts(frame: &DataFrame, c: &str) -> Vec<Option<String>> {
    frame
        .column(c)
        .ok()
        .and_then(|c| c.str().ok().cloned())
        .map_or_else(
            || vec![None; frame.height()],
            |s| s.iter().map(|v| v.map(str::to_owned)).collect(),
        )
}

/// The column `c` of `frame` as numbers; `None` in every row when it is absent or not numeric.
fn floats(frame: &DataFrame, c: &str) -> Vec<Option<f64>> {
    crate::rows::f64s(frame, c).unwrap_or_else(|_| vec![None; frame.height()])
}

/// The rows of `frame` for `method`, in table order, with the two classes `classes` (the first the
/// share's) and the extra cells `extra` makes from the frame and a row number.
fn class_rows(
    frame: &DataFrame,
    method: &str,
    classes: [&str; 2],
    extra: &dyn Fn(&DataFrame) -> Vec<Vec<String>>,
) -> Vec<ClassRow> {
    let text = |c: &str| texts(frame, c);
    let num = |c: &str| floats(frame, c);
    let (regions, categories, methods) = (text("region_code"), text("category"), text("method"));
    let figures = |class: &str| {
        (
            num(&format!("{class}_uplift_pct")),
            num(&format!("{class}_lower_pct")),
            num(&format!("{class}_upper_pct")),
        )
    };
    let (a, b) = (figures(classes[0]), figures(classes[1]));
    let first = classes[0];
    let (share, share0) = (
        num(&format!("{first}_share_pct")),
        num(&format!("{first}_share_baseline_pct")),
    );
    let (change, ch_lo, ch_hi) = (
        num(&format!("{first}_share_change_pp")),
        num(&format!("{first}_share_change_lower_pp")),
        num(&format!("{first}_share_change_upper_pp")),
    );
    let mut extra = extra(frame);
    (0..frame.height())
        .filter(|&i| methods[i].as_deref() == Some(method))
        .map(|i| ClassRow {
            region_code: regions[i].clone().unwrap_or_default(),
            category: categories[i].clone().unwrap_or_default(),
            classes: [
                with_interval(a.0[i], a.1[i], a.2[i], "%"),
                with_interval(b.0[i], b.1[i], b.2[i], "%"),
            ],
            share: match (share0[i], share[i]) {
                (Some(b), Some(s)) => format!("{b:.1}% → {s:.1}%"),
                _ => "—".into(),
            },
            change: with_interval(change[i], ch_lo[i], ch_hi[i], " pp"),
            extra: std::mem::take(&mut extra[i]),
        })
        .collect()
}

/// What a split section shows: its table, heading, explanation and column headers.
struct SplitSection<'a> {
    frame: &'a DataFrame,
    classes: [&'a str; 2],
    heading: &'a str,
    para: String,
    /// Headers after the first column: the two classes, the share, its change, then the extras.
    header: Vec<String>,
    extra: &'a dyn Fn(&DataFrame) -> Vec<Vec<String>>,
}

impl Document<'_> {
    /// The history method a split table is shown for: the headline's, or prior_year.
    fn split_method(&self) -> &str {
        if matches!(self.method, "prior_year" | "two_year") {
            self.method
        } else {
            "prior_year"
        }
    }

    /// A split section: the area's categories and (national report) each region's all targeted
    /// categories.
    fn split_section(&self, b: &mut Vec<Block>, section: &SplitSection<'_>) {
        let rows = class_rows(
            section.frame,
            self.split_method(),
            section.classes,
            section.extra,
        );
        if rows.is_empty() {
            return;
        }
        let (area, area_zh, area_en) = self.focus();
        b.push(Block::Heading(2, section.heading.into()));
        b.push(Block::Para(section.para.clone()));
        let header = |first: &str| {
            let mut h = vec![first.to_owned()];
            h.extend(section.header.iter().cloned());
            h
        };
        let cats: Vec<&ClassRow> = rows.iter().filter(|r| r.region_code == area).collect();
        if !cats.is_empty() {
            b.push(Block::Para(format!("{area_zh} {area_en}")));
            b.push(Block::Table(Table {
                header: header("品类 Category"),
                rows: cats
                    .iter()
                    .map(|r| class_cells(category_label(&r.category), r))
                    .collect(),
            }));
        }
        if area == NATIONAL {
            let names = Regions::embedded();
            let regions: Vec<Vec<String>> = rows
                .iter()
                .filter(|r| r.region_code != NATIONAL && r.category == "all_targeted")
                .map(|r| {
                    let name = names
                        .by_code(&r.region_code)
                        .map_or_else(|| r.region_code.clone(), |x| x.short_zh.clone());
                    class_cells(name, r)
                })
                .collect();
            if !regions.is_empty() {
                b.push(Block::Para(
                    "各地区（全部目标品类） By region, all targeted categories".into(),
                ));
                b.push(Block::Table(Table {
                    header: header("地区 Region"),
                    rows: regions,
                }));
            }
        }
    }

    /// "6.1 线上线下 Online and offline": each channel's uplift and the online share's change for
    /// the area's categories, and (national report) per region for all targeted categories.
    pub(super) fn channel_section(&self, b: &mut Vec<Block>) {
        let Some(frame) = self.input.tables.channel_uplift.filter(|f| f.height() > 0) else {
            return;
        };
        // The channel table has the history methods only: the headline's, or prior_year.
        let method = self.split_method();
        self.split_section(
            b,
            &SplitSection {
                frame,
                classes: ["online", "offline"],
                heading: "6.1 线上线下 Online and offline",
                para: format!(
                    "支付数据按渠道（线上、线下）分别估计的提升（{method}，历史基线法；名义区间，水平同上，未经回测校准），以及线上占比：基线占比（无活动时的线上占比，两个渠道基线之比）→ 窗口实际占比，变化以百分点计，区间把两个渠道的误差视为独立（偏宽）。“—”：该渠道无销售，或因小单元格抑制不予公布（有被抑制单元格的地区 × 品类及包含它的合计均不公布渠道拆分）。 Each channel's uplift from the payment data ({method}, a history baseline; nominal interval at the same level, not backtest-calibrated), and the online share: the share without the campaign (the ratio of the two channels' baselines) → the window's actual share, its change in percentage points, the interval treating the two channels' errors as independent (it errs wide). —: no sales in that channel, or not published under small-cell suppression (a region × category with a suppressed cell, and every total holding it, publishes no channel split). Table `channel_uplift`."
                ),
                header: vec![
                    "线上提升 Online uplift".into(),
                    "线下提升 Offline uplift".into(),
                    "线上占比 基线→实际 Online share, baseline → actual".into(),
                    "占比变化 Share change".into(),
                ],
                extra: &|f: &DataFrame| vec![Vec::new(); f.height()],
            },
        );
    }

    /// "6.3 城乡 Town and country": urban and rural uplift, the rural share's change, the share of
    /// sales of unknown class and the 下乡 link, for the area's categories and (national report)
    /// per region for all targeted categories.
    pub(super) fn urban_rural_section(&self, b: &mut Vec<Block>) {
        let Some(frame) = self
            .input
            .tables
            .urban_rural_uplift
            .filter(|f| f.height() > 0)
        else {
            return;
        };
        let method = self.split_method();
        self.split_section(
            b,
            &SplitSection {
                frame,
                classes: ["rural", "urban"],
                heading: "6.3 城乡 Town and country",
                para: format!(
                    "按交易所在区县的城乡类别（市辖区为城镇，县、旗、县级市等县域为乡村）分别估计的提升（{method}，历史基线法；名义区间，未经回测校准），乡村占比（城镇 + 乡村中）：基线占比 → 窗口实际占比及其变化；“未知”为仅报送省级代码等无法归类的交易占比，不计入任一类别；“下乡周”为本地区有下乡活动（活动登记表）的窗口周内乡村销售相对基线比其他窗口周高出多少（Welch 区间；是与活动周的关联，不是因果证明；全国行为各地区的逆方差合并，各地区方差不低于其中位数）。“—”：无该类别销售，或因商户过少不予公布（及其在各合计中的补充单元格）。 Each class's uplift by the county-level area of the transactions (districts 市辖区 urban; counties, banners and county-level cities rural), {method}, a history baseline with its nominal interval (not backtest-calibrated); the rural share of urban + rural sales, baseline → actual, and its change; unknown: the share of sales in areas of no class (province codes only), in neither class; 下乡 weeks: how much higher rural sales ran against their baseline in the weeks of the region's countryside-sales events (activities register) than in its other window weeks (Welch interval; an association with the events' weeks, not proof they caused it; the national row pools the regions by inverse variance, each variance floored at their median). —: no sales of that class, or not published because too few merchants stand behind it (with its complements in every total). Table `urban_rural_uplift`."
                ),
                header: vec![
                    "乡村提升 Rural uplift".into(),
                    "城镇提升 Urban uplift".into(),
                    "乡村占比 基线→实际 Rural share, baseline → actual".into(),
                    "占比变化 Share change".into(),
                    "未知占比 Unknown share".into(),
                    "下乡周额外提升 Rural lift in 下乡 weeks".into(),
                ],
                extra: &urban_rural_extra,
            },
        );
    }
}

/// The urban/rural table's extra cells: the unknown class's share and the 下乡 link.
fn urban_rural_extra(frame: &DataFrame) -> Vec<Vec<String>> {
    let unknown = floats(frame, "unknown_share_pct");
    let (lift, lo, hi) = (
        floats(frame, "countryside_lift_pct"),
        floats(frame, "countryside_lift_lower_pct"),
        floats(frame, "countryside_lift_upper_pct"),
    );
    let weeks = floats(frame, "countryside_weeks");
    (0..frame.height())
        .map(|i| {
            vec![
                unknown[i].map_or_else(|| "—".into(), |u| format!("{u:.1}%")),
                match weeks[i] {
                    Some(w) if lift[i].is_some() => format!(
                        "{}（{w:.0} 周 weeks）",
                        with_interval(lift[i], lo[i], hi[i], "%")
                    ),
                    _ => "—".into(),
                },
            ]
        })
        .collect()
}

fn class_cells(first: String, r: &ClassRow) -> Vec<String> {
    let mut cells = vec![
        first,
        r.classes[0].clone(),
        r.classes[1].clone(),
        r.share.clone(),
        r.change.clone(),
    ];
    cells.extend(r.extra.iter().cloned());
    cells
}

/// One row of `theme_summary` as shown.
struct ThemeRow {
    region_code: String,
    dimension: String,
    label: String,
    cells: Vec<String>,
}

fn theme_rows(frame: &DataFrame) -> Vec<ThemeRow> {
    let text = |c: &str| -> Vec<String> {
        texts(frame, c)
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect()
    };
    let num = |c: &str| floats(frame, c);
    let (region, dim, tag, zh) = (
        text("region_code"),
        text("dimension"),
        text("tag"),
        text("tag_zh"),
    );
    let counts = [
        num("activities"),
        num("activity_enterprises"),
        num("activity_brands"),
        num("enterprises"),
        num("brands"),
    ];
    let sales = num("sales_yuan");
    (0..frame.height())
        .map(|i| {
            let mut cells: Vec<String> = counts
                .iter()
                .map(|c| c[i].map_or_else(|| "—".into(), |v| format!("{v:.0}")))
                .collect();
            cells.push(sales[i].map_or_else(|| "—".into(), |v| format!("{:.2}", v / 1e4)));
            ThemeRow {
                region_code: region[i].clone(),
                dimension: dim[i].clone(),
                label: format!("{} {}", zh[i], tag[i]),
                cells,
            }
        })
        .collect()
}

impl Document<'_> {
    /// "6.2 主题与细分品类 Themes and subcategories": per theme the activities and key enterprises,
    /// per building-materials subcategory the key enterprises and their sales, for the report's area.
    pub(super) fn theme_section(&self, b: &mut Vec<Block>) {
        let Some(frame) = self.input.tables.theme_summary.filter(|f| f.height() > 0) else {
            return;
        };
        let (area, area_zh, area_en) = self.focus();
        let rows: Vec<ThemeRow> = theme_rows(frame)
            .into_iter()
            .filter(|r| r.region_code == area)
            .collect();
        b.push(Block::Heading(
            2,
            "6.2 主题与细分品类 Themes and subcategories".into(),
        ));
        b.push(Block::Para(format!(
            "{area_zh} {area_en}：各主题（绿色、智能、适老化）的活动数及活动上报的参与企业、品牌数之和（活动登记表的重点方向），以及填报了主题标签或细分品类的重点企业数、品牌数和活动期内销售额（万元；只计填报了这些可选列的企业）。 Per theme, the register's activities with their reported enterprises and brands summed, and the key enterprises, brands and window sales (10k yuan) of those that tag their sales with a theme or building-materials subcategory (only enterprises filling these optional columns count). Table `theme_summary`."
        )));
        let header = |first: &str| -> Vec<String> {
            vec![
                first.into(),
                "活动数 Activities".into(),
                "活动参与企业 Enterprises in activities".into(),
                "活动参与品牌 Brands in activities".into(),
                "重点企业 Key enterprises".into(),
                "品牌 Brands".into(),
                "销售额 Sales (万元)".into(),
            ]
        };
        for (dim, first) in [
            ("theme", "主题 Theme"),
            ("subcategory", "细分品类 Subcategory"),
        ] {
            let mut table: Vec<Vec<String>> = Vec::new();
            for r in rows.iter().filter(|r| r.dimension == dim) {
                let mut cells = vec![r.label.clone()];
                if dim == "subcategory" {
                    // Activities are tagged by theme only.
                    cells.extend(r.cells.iter().skip(3).cloned());
                } else {
                    cells.extend(r.cells.iter().cloned());
                }
                table.push(cells);
            }
            if table.is_empty() {
                continue;
            }
            let mut h = header(first);
            if dim == "subcategory" {
                h.drain(1..4);
            }
            b.push(Block::Table(Table {
                header: h,
                rows: table,
            }));
        }
    }
}
