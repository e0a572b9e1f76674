//! The report's sections for the dimensions of issue 18: online and offline (`channel_uplift`),
//! town and country (`urban_rural_uplift`), both through one split section, and themes and
//! subcategories (`theme_summary`).

use chrono::{Datelike, NaiveDate};
use homeseason_metrics::Method;
use homeseason_schema::region::{NATIONAL, Regions};
use polars::prelude::*;

use super::{Block, Document, Table};
use crate::rows::opt_texts;
use crate::{category_label, signed};

/// The column of a published split table that says why a row's figures are blank (the data floor,
/// small-cell suppression); null where nothing is withheld.
pub const WITHHELD_COLUMN: &str = "withheld_reason";

/// The history method the split tables (`channel_uplift`, `urban_rural_uplift`) are led with in the
/// report, its Markdown and the workbook, and why ([`split_lead`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SplitLead {
    /// `prior_year` or `two_year`.
    pub method: String,
    /// Why, in Chinese (one sentence).
    pub zh: String,
    /// Why, in English (one sentence).
    pub en: String,
}

/// The rule for the split tables' lead method. They are estimated with the history methods only
/// (a prior-year and a two-year base per class). Of the two, the one with the smaller backtest MAE
/// in `backtest` (`uplift_backtest`: the headline's backtest, the methods run on the region ×
/// category totals over rolling windows before the campaign, where the truth is no effect) leads:
/// a base year distorted by a shock (2022's lockdowns for the 2023 season) shows there as a large
/// error, and a class's series is the total's in small. Without backtest figures for both,
/// `two_year`: its base averages two years, so one abnormal year moves it half as much. The scores
/// behind the rule (channel and urban/rural uplifts over 5 seeds, both campaigns) are in
/// `benchmarks/SCORES.md`.
#[must_use]
pub fn split_lead(backtest: Option<&DataFrame>) -> SplitLead {
    let figures = backtest
        .filter(|b| b.height() > 0)
        .and_then(|b| homeseason_metrics::backtest::figures_of(b).ok())
        .unwrap_or_default();
    let of = |m: Method| {
        figures
            .iter()
            .find(|f| f.method == m && f.cells > 0 && f.mae_pp.is_finite())
    };
    match (of(Method::PriorYear), of(Method::TwoYear)) {
        (Some(p), Some(t)) => {
            let (lead, other) = if p.mae_pp < t.mae_pp { (p, t) } else { (t, p) };
            let (lm, om) = (lead.method.id(), other.method.id());
            SplitLead {
                method: lm.to_owned(),
                zh: format!(
                    "分拆表的主方法为 {lm}：两种历史基线法中，其在总量回测（活动前无活动窗口，地区 × 品类）上的误差较小（MAE {lm} {:.1} pp，{} 个单元 / {} 个窗口；{om} {:.1} pp，{} / {}）。",
                    lead.mae_pp, lead.cells, lead.windows, other.mae_pp, other.cells, other.windows
                ),
                en: format!(
                    "The split tables lead with {lm}: of the two history baselines it has the smaller error on the headline's backtest (windows before the campaign with no campaign, region × category totals): MAE {:.1} pp over {} cells in {} windows, against {:.1} pp over {} in {} for {om}.",
                    lead.mae_pp, lead.cells, lead.windows, other.mae_pp, other.cells, other.windows
                ),
            }
        }
        _ => SplitLead {
            method: Method::TwoYear.id().to_owned(),
            zh: "分拆表的主方法为 two_year：无两种历史基线法的回测结果，取两年基期（单一异常年份对其影响减半）。".into(),
            en: "The split tables lead with two_year: no backtest of both history baselines, so the two-year base (one abnormal year moves it half as much).".into(),
        },
    }
}

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
    /// Why figures of the row are blank, if any ([`WITHHELD_COLUMN`]).
    withheld: Option<String>,
}

/// `"+x.x% [lo, hi]"`, or — when the estimate is blank (suppressed) or absent.
fn with_interval(p: Option<f64>, lo: Option<f64>, hi: Option<f64>, unit: &str) -> String {
    match (p, lo, hi) {
        (Some(p), Some(lo), Some(hi)) => format!(
            "{}{unit} [{}, {}]",
            signed(p, 1),
            signed(lo, 1),
            signed(hi, 1)
        ),
        (Some(p), _, _) => format!("{}{unit}", signed(p, 1)),
        _ => "—".into(),
    }
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
    let text = |c: &str| opt_texts(frame, c);
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
    let withheld = text(WITHHELD_COLUMN);
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
            withheld: withheld[i].clone(),
        })
        .collect()
}

/// What a split section shows of its table: heading, explanation and column headers.
struct SplitSection<'a> {
    classes: [&'a str; 2],
    heading: &'a str,
    para: String,
    /// Headers after the first column: the two classes, the share, its change, then the extras.
    header: Vec<String>,
    extra: fn(&DataFrame) -> Vec<Vec<String>>,
}

impl Document<'_> {
    /// The history method a split table is shown for and why: the published table's `lead_method`
    /// and `lead_reason` (the pipeline's [`split_lead`], which the workbook shows too), or
    /// [`split_lead`] of the report's `uplift_backtest` when the table lacks them.
    fn split_lead(&self, frame: &DataFrame) -> SplitLead {
        let computed = split_lead(self.input.tables.uplift_backtest);
        match (
            opt_texts(frame, "lead_method").first().cloned().flatten(),
            opt_texts(frame, "lead_reason").first().cloned().flatten(),
        ) {
            (Some(method), Some(reason)) => SplitLead {
                method,
                zh: reason,
                en: String::new(),
            },
            _ => computed,
        }
    }

    /// A split section of `frame` when it is present and not empty: the area's categories and
    /// (national report) each region's all targeted categories, what it shows from `section` of
    /// the lead method's name. Returns the table and its lead ([`Document::split_lead`]), with or
    /// without rows to show.
    fn split_section<'a>(
        &self,
        b: &mut Vec<Block>,
        frame: Option<&'a DataFrame>,
        section: impl FnOnce(&str) -> SplitSection<'a>,
    ) -> Option<(&'a DataFrame, SplitLead)> {
        let frame = frame.filter(|f| f.height() > 0)?;
        let lead = self.split_lead(frame);
        let section = section(lead.method.as_str());
        self.split_rows(b, frame, &section, &lead);
        Some((frame, lead))
    }

    /// The rows of a split section (nothing when the table has none for the lead method).
    fn split_rows(
        &self,
        b: &mut Vec<Block>,
        frame: &DataFrame,
        section: &SplitSection<'_>,
        lead: &SplitLead,
    ) {
        let rows = class_rows(frame, &lead.method, section.classes, &section.extra);
        if rows.is_empty() {
            return;
        }
        let (area, area_zh, area_en) = self.focus();
        b.push(Block::Heading(2, section.heading.into()));
        b.push(Block::Para(section.para.clone()));
        b.push(Block::Para(
            format!("{} {}", lead.zh, lead.en).trim_end().to_owned(),
        ));
        // In a region's report, its own rows only.
        let thin = rows
            .iter()
            .filter(|r| area == NATIONAL || r.region_code == area)
            .filter(|r| {
                r.withheld
                    .as_deref()
                    .is_some_and(|w| w.contains("too little data"))
            })
            .count();
        if thin > 0 {
            b.push(Block::Para(format!(
                "数据底线：{thin} 个地区 × 品类的分类估计因数据不足不予公布（“—”；该类别基期最多一天不足 {} 户商户，或有销售的天数不足 {} 天；全国行不受此限）。 Data floor: in {thin} region × category rows a class estimate is withheld (—) because too little data stands behind it (fewer than {} merchants on the pre-period's largest day, or fewer than {} days with sales); the national rows are always shown. The workbook gives each row's reason.",
                homeseason_metrics::urban_rural::FLOOR_MERCHANTS,
                homeseason_metrics::urban_rural::FLOOR_DAYS,
                homeseason_metrics::urban_rural::FLOOR_MERCHANTS,
                homeseason_metrics::urban_rural::FLOOR_DAYS,
            )));
        }
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
        if area != NATIONAL && !cats.is_empty() && cats.iter().all(|r| r.withheld.is_some()) {
            // Nothing of the region's own is published: say so, and give the nation's rows as
            // context rather than an empty table alone.
            let national: Vec<Vec<String>> = rows
                .iter()
                .filter(|r| r.region_code == NATIONAL)
                .map(|r| class_cells(category_label(&r.category), r))
                .collect();
            b.push(Block::Para(format!(
                "{area_zh}本节的分类估计全部因数据不足不予公布（原因见工作簿）；下表为全国各品类的同一拆分，仅供对照，不是{area_zh}的估计。 None of {area_en}'s class estimates is published here (too little data stands behind them; the workbook gives each reason); the table below gives the nation's split for context, not an estimate for {area_en}."
            )));
            if !national.is_empty() {
                b.push(Block::Para("全国（对照） National, for context".into()));
                b.push(Block::Table(Table {
                    header: header("品类 Category"),
                    rows: national,
                }));
            }
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
        // The channel table has the history methods only: the lead by the rule of split_lead.
        self.split_section(b, self.input.tables.channel_uplift, |method| SplitSection {
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
            extra: |f: &DataFrame| vec![Vec::new(); f.height()],
        });
    }

    /// "6.3 城乡 Town and country": urban and rural uplift, the rural share's change, the share of
    /// sales of unknown class and the 下乡 link, for the area's categories and (national report)
    /// per region for all targeted categories.
    pub(super) fn urban_rural_section(&self, b: &mut Vec<Block>) {
        let Some((frame, lead)) =
            self.split_section(b, self.input.tables.urban_rural_uplift, |method| SplitSection {
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
                extra: urban_rural_extra,
            })
        else {
            return;
        };
        if self.focus().0 == NATIONAL {
            self.nbs_rural_share_para(b, frame, &lead.method);
        }
    }

    /// Beside the national rural share's change in the payment data, 社零's rural share over the
    /// window's months against the same months a year earlier ([`nbs_rural_share`]), or why there
    /// is none.
    fn nbs_rural_share_para(&self, b: &mut Vec<Block>, frame: &DataFrame, method: &str) {
        let window = &self.input.campaign.window;
        let (regions, categories, methods) = (
            opt_texts(frame, "region_code"),
            opt_texts(frame, "category"),
            opt_texts(frame, "method"),
        );
        let change = floats(frame, "rural_share_change_pp");
        let payment = (0..frame.height())
            .find(|&i| {
                regions[i].as_deref() == Some(NATIONAL)
                    && categories[i].as_deref() == Some("all_targeted")
                    && methods[i].as_deref() == Some(method)
            })
            .and_then(|i| change[i])
            .map_or_else(|| "—".to_owned(), |c| format!("{} pp", signed(c, 2)));
        let text = match nbs_rural_share(window.start, window.end) {
            Some((now, before)) => format!(
                "对照社零（国家统计局，按经营单位所在地分，全部消费品，非仅家居）：窗口所在各月乡村消费品零售额占城乡合计的 {now:.2}%，上年同期 {before:.2}%，变化 {} pp；支付数据全国乡村占比（全部目标品类，{method}）变化 {payment}。 Against 社零 (NBS, by the seller's location, all consumer goods, not home goods only): rural retail sales were {now:.2} % of urban + rural over the window's months, {before:.2} % a year earlier, a change of {} pp; the payment data's national rural share (all targeted categories, {method}) changed by {payment}. Source: `nbs_retail_urban_rural.csv` (bundled).",
                signed(now - before, 2),
                signed(now - before, 2)
            ),
            None => format!(
                "社零城乡拆分：随附的国家统计局月度数据（nbs_retail_urban_rural.csv，1–2 月无单月值）不覆盖窗口所在各月及上年同期，未作对照；支付数据全国乡村占比变化 {payment}。 社零's urban/rural split: the bundled NBS months (`nbs_retail_urban_rural.csv`, no single January or February) do not cover the window's months and a year earlier, so no comparison; the payment data's national rural share changed by {payment}."
            ),
        };
        b.push(Block::Para(text));
    }
}

/// NBS 社零 by the seller's location (城镇 and 乡村 consumer-goods retail sales) per month, 2022–2024:
/// the bundled reference file (`crates/homeseason-schema/data/nbs_retail_urban_rural.csv`, sources in
/// that folder's `SOURCES.md`).
const NBS_URBAN_RURAL: &str =
    include_str!("../../../homeseason-schema/data/nbs_retail_urban_rural.csv");

/// 社零's rural share, 乡村 ÷ (城镇 + 乡村) in %, over the calendar months from `start` to `end`
/// and over the same months a year earlier, from the bundled NBS file ([`NBS_URBAN_RURAL`]);
/// `None` when a month of either span has no value there (January and February, published
/// combined, have none).
#[must_use]
pub(crate) fn nbs_rural_share(start: NaiveDate, end: NaiveDate) -> Option<(f64, f64)> {
    let mut values: std::collections::HashMap<(String, bool), f64> =
        std::collections::HashMap::new();
    for line in NBS_URBAN_RURAL.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let (Some(period), Some(class), Some(value)) =
            (fields.first(), fields.get(2), fields.get(4))
        else {
            continue;
        };
        if let Ok(v) = value.parse::<f64>() {
            values.insert(((*period).to_owned(), class.starts_with('乡')), v);
        }
    }
    let share = |offset: i32| -> Option<f64> {
        let (mut rural, mut urban) = (0.0, 0.0);
        let mut month = NaiveDate::from_ymd_opt(start.year(), start.month(), 1)?;
        while month <= end {
            let key = format!("{}-{:02}", month.year() - offset, month.month());
            rural += values.get(&(key.clone(), true))?;
            urban += values.get(&(key, false))?;
            month = month.checked_add_months(chrono::Months::new(1))?;
        }
        (rural + urban > 0.0).then(|| 100.0 * rural / (rural + urban))
    };
    Some((share(0)?, share(1)?))
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
        opt_texts(frame, c)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn backtest(prior: f64, two: f64) -> DataFrame {
        df!(
            "method" => ["prior_year", "two_year", "counterfactual_regression"],
            "windows" => [3i64, 1, 3],
            "cells" => [570i64, 190, 570],
            "bias_pp" => [2.2, 2.2, -0.2],
            "mae_pp" => [prior, two, 1.8],
            "coverage" => [0.56, 0.87, 0.95],
            "error_band_pp" => [14.2, 5.7, 3.7],
            "conformal_factor" => [2.0, 1.1, 0.8],
            "calibrated_coverage" => [0.8, 0.9, 0.9],
        )
        .unwrap()
    }

    /// The history method with the smaller backtest MAE leads (the regression, not a split
    /// method, is ignored even where it is best), with its evidence; no backtest: two_year.
    #[test]
    fn the_split_tables_lead_with_the_history_method_the_backtest_supports() {
        let lead = split_lead(Some(&backtest(7.6, 2.8)));
        assert_eq!(lead.method, "two_year");
        assert!(
            lead.en.contains("MAE 2.8 pp over 190 cells in 1 windows"),
            "{}",
            lead.en
        );
        assert!(lead.zh.contains("prior_year 7.6 pp"), "{}", lead.zh);
        assert_eq!(split_lead(Some(&backtest(2.1, 3.4))).method, "prior_year");
        assert_eq!(split_lead(None).method, "two_year");
        assert_eq!(split_lead(Some(&DataFrame::empty())).method, "two_year");
    }

    /// 社零's rural share over September–December 2023 and 2022, by hand from the bundled file:
    /// (5841.3 + 5854.2 + 5974.8 + 6479.2) / 169214.1 and 22228.6 / 157172.8; a window reaching
    /// into January has no value (Jan–Feb are published combined).
    #[test]
    fn the_nbs_rural_share_sums_the_windows_months() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        let (now, before) = nbs_rural_share(d(2023, 9, 1), d(2023, 12, 31)).unwrap();
        assert!((now - 100.0 * 24149.5 / 169_214.1).abs() < 1e-9, "{now}");
        assert!(
            (before - 100.0 * 22228.6 / 157_172.8).abs() < 1e-9,
            "{before}"
        );
        assert!(nbs_rural_share(d(2023, 12, 1), d(2024, 1, 31)).is_none());
        assert!(nbs_rural_share(d(2022, 9, 1), d(2022, 10, 31)).is_none());
    }
}
