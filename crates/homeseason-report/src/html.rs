//! HTML and Markdown rendering of the report.

use std::fmt::Write as _;

use base64::Engine as _;
use homeseason_schema::category::Category;
use homeseason_schema::region::NATIONAL;

use crate::{ChartFile, Headline, ReportInput, UpliftRow, category_label};

mod city;
pub(crate) mod dims;

pub(crate) struct Document<'a> {
    pub(crate) extra: &'a crate::Extra,
    pub(crate) input: &'a ReportInput<'a>,
    pub(crate) rows: &'a [UpliftRow],
    pub(crate) placebo: &'a [UpliftRow],
    pub(crate) completeness: &'a [(String, usize, usize, usize, Vec<String>)],
    pub(crate) headline: &'a Headline,
    pub(crate) charts: &'a [ChartFile],
    pub(crate) method: &'a str,
    /// The days of the daily series that are not published (suppressed small cells), as a note.
    pub(crate) suppressed: Option<String>,
}

/// Family name of the font embedded in the HTML (the bundled Noto Sans SC subset).
pub(crate) const EMBEDDED_FAMILY: &str = "Homeseason Noto Sans SC";

/// The `@font-face` rule embedding the bundled font subset (the one the charts are drawn with), so
/// the page's Chinese renders on a machine without CJK fonts.
fn font_face() -> String {
    let data = base64::engine::general_purpose::STANDARD.encode(homeseason_charts::FONT_BYTES);
    format!(
        "@font-face{{font-family:'{EMBEDDED_FAMILY}';src:url(data:font/otf;base64,{data}) format('opentype');font-display:block}}"
    )
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn yi(yuan: f64) -> String {
    format!("{:.2}", yuan / 1e8)
}

/// A headline table row: the measure, its value and interval printed by `show`, source [1].
fn measure_row(
    label: &str,
    show: fn(f64) -> String,
    value: f64,
    interval: (f64, f64),
) -> Vec<String> {
    vec![
        label.into(),
        show(value),
        format!("{} … {}", show(interval.0), show(interval.1)),
        "[1]".into(),
    ]
}

fn pct(p: f64) -> String {
    if p.is_finite() {
        format!("{}%", crate::signed(p, 1))
    } else {
        "—".into()
    }
}

fn method_label(m: &str) -> &'static str {
    match m {
        "prior_year" => {
            "上年同期（节假日对齐、按前期增速调整） prior year, holiday-aligned, growth-adjusted"
        }
        "two_year" => "两年前同期（复合增速） two years earlier, compounded growth",
        "counterfactual_regression" => {
            "反事实回归（未受活动影响的品类、星期、节假日、季节） counterfactual regression on untargeted categories, weekday, day type and season"
        }
        _ => "—",
    }
}

/// A method's short name in both languages (never the bare id).
fn method_short(m: &str) -> String {
    match m {
        "prior_year" => "上年同期 prior year".into(),
        "two_year" => "两年前同期 two years earlier".into(),
        "counterfactual_regression" => "反事实回归 counterfactual regression".into(),
        other => other.to_owned(),
    }
}

/// What a flagged cell says instead of a finding.
pub(crate) const NOT_DISTINGUISHABLE: &str = "与无效应无法区分 not distinguishable from no effect";

/// An uplift % as shown: a cell whose |uplift| is below its method's backtest error band is marked
/// as not distinguishable from no effect rather than shown as a finding.
fn flagged(r: &UpliftRow) -> String {
    let mut s = if r.distinguishable == Some(false) {
        format!("{} △ {NOT_DISTINGUISHABLE}", pct(r.uplift_pct))
    } else {
        pct(r.uplift_pct)
    };
    if r.diagnostics.as_ref().is_some_and(|d| d.flag) {
        s.push_str(" ※");
    }
    s
}

/// Most flagged cells listed by name in the report (the rest are counted).
const MAX_FLAGGED_LISTED: usize = 20;

/// The mark of a cell whose diagnostics flag it (the embedded font has ※; it has no ⚠).
pub(crate) const DIAGNOSTIC_MARK: &str = "※";

/// A table: header cells and rows of cells; rendered to HTML or Markdown.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn html(&self) -> String {
        let mut s = String::from("<table><thead><tr>");
        for h in &self.header {
            let _ = write!(s, "<th>{}</th>", esc(h));
        }
        s.push_str("</tr></thead><tbody>");
        for r in &self.rows {
            s.push_str("<tr>");
            for c in r {
                let _ = write!(s, "<td>{}</td>", esc(c));
            }
            s.push_str("</tr>");
        }
        s.push_str("</tbody></table>");
        s
    }
    fn markdown(&self) -> String {
        let mut s = format!("| {} |\n", self.header.join(" | "));
        let _ = writeln!(s, "|{}", "---|".repeat(self.header.len()));
        for r in &self.rows {
            let _ = writeln!(s, "| {} |", r.join(" | ").replace('\n', " "));
        }
        s
    }
}

enum Block {
    Heading(u8, String),
    Para(String),
    Table(Table),
    Chart(usize),
}

impl Document<'_> {
    fn find(&self, region: &str, category: &str, method: &str) -> Option<&UpliftRow> {
        self.rows
            .iter()
            .find(|r| r.region_code == region && r.category == category && r.method == method)
    }

    /// The methods other than the primary one that have rows, in report order.
    fn other_methods(&self) -> Vec<&'static str> {
        ["prior_year", "two_year", "counterfactual_regression"]
            .into_iter()
            .filter(|m| *m != self.method && self.rows.iter().any(|r| r.method == *m))
            .collect()
    }

    /// The report's area: the nation or one region.
    fn focus(&self) -> (&str, &str, &str) {
        match &self.extra.focus {
            Some(f) => (f.code.as_str(), f.zh.as_str(), f.en.as_str()),
            None => (NATIONAL, "全国", "national"),
        }
    }

    /// The per-cell diagnostics of the area's categories for the methods that have them (the
    /// regression): pre-period fit, leave-one-control-out range, control break test, flag; then the
    /// flagged cells of every region with their reasons.
    fn diagnostics_block(&self, b: &mut Vec<Block>, area: &str, cats: &[String]) {
        let with: Vec<&UpliftRow> = cats
            .iter()
            .flat_map(|cat| {
                self.rows
                    .iter()
                    .filter(move |r| r.region_code == area && &r.category == cat)
            })
            .filter(|r| r.diagnostics.is_some())
            .collect();
        if with.is_empty() {
            return;
        }
        let num = |x: Option<f64>, f: fn(f64) -> String| {
            x.filter(|v| v.is_finite()).map_or("—".into(), f)
        };
        b.push(Block::Para(format!(
            "诊断 Diagnostics（使用对照品类的方法 methods that use control categories）：前期拟合、去掉单个对照后的提升范围、活动开始前各对照与目标关系的断点检验；标 {DIAGNOSTIC_MARK} 的单元有警示，其结论需谨慎。 Pre-period fit, the uplift's range when one control is left out, and a break test of each control against the target just before the campaign start; cells marked {DIAGNOSTIC_MARK} are flagged and their finding needs care."
        )));
        b.push(Block::Table(Table {
            header: vec![
                "品类 Category".into(),
                "方法 Method".into(),
                "前期 R² Pre-period R²".into(),
                "前期 MAPE Pre-period MAPE".into(),
                "去一对照范围 Leave-one-control-out".into(),
                "对照关系变化 Control break (p)".into(),
                "警示 Flag".into(),
            ],
            rows: with
                .iter()
                .map(|r| {
                    let d = r.diagnostics.as_ref();
                    vec![
                        category_label(&r.category),
                        method_short(&r.method),
                        num(d.and_then(|d| d.pre_fit_r2), |v| format!("{v:.3}")),
                        num(d.and_then(|d| d.pre_fit_mape_pct), |v| format!("{v:.1}%")),
                        d.and_then(|d| d.loo).map_or("—".into(), |(lo, hi)| {
                            format!("{} … {}", pct(lo), pct(hi))
                        }),
                        match d.and_then(|d| d.break_shift_pct.zip(d.break_p)) {
                            Some((s, p)) => format!("{} ({p:.3})", pct(s)),
                            None => "—".into(),
                        },
                        if d.is_some_and(|d| d.flag) {
                            DIAGNOSTIC_MARK.into()
                        } else {
                            String::new()
                        },
                    ]
                })
                .collect(),
        }));
        let flagged: Vec<&UpliftRow> = self
            .rows
            .iter()
            .filter(|r| {
                (area == NATIONAL || r.region_code == area)
                    && r.diagnostics.as_ref().is_some_and(|d| d.flag)
            })
            .collect();
        if !flagged.is_empty() {
            b.push(Block::Para(format!(
                "有诊断警示的单元 Flagged cells ({}):",
                flagged.len()
            )));
            b.push(Block::Table(Table {
                header: vec![
                    "单元 Cell".into(),
                    "方法 Method".into(),
                    "原因 Reason".into(),
                ],
                rows: flagged
                    .iter()
                    .take(MAX_FLAGGED_LISTED)
                    .map(|r| {
                        vec![
                            format!(
                                "{DIAGNOSTIC_MARK} {} {}, {}",
                                r.region_name_zh,
                                r.region_code,
                                category_label(&r.category)
                            ),
                            method_short(&r.method),
                            r.diagnostics
                                .as_ref()
                                .map_or(String::new(), |d| d.reason.clone()),
                        ]
                    })
                    .collect(),
            }));
            if flagged.len() > MAX_FLAGGED_LISTED {
                b.push(Block::Para(format!(
                    "另有 {} 个单元有警示，见 uplift 表的 diagnostic_flag 与 diagnostic_reason 列。 {} more flagged cells: see the diagnostic_flag and diagnostic_reason columns of the uplift table.",
                    flagged.len() - MAX_FLAGGED_LISTED,
                    flagged.len() - MAX_FLAGGED_LISTED
                )));
            }
        }
    }

    /// The headline's count of areas whose interval lies above zero: the regions for the national
    /// report; for a region's report the same national count, labelled as national context; for a
    /// city-level report its published cities ([`crate::city::cities_up`]).
    fn areas_up_row(&self) -> Vec<String> {
        let h = self.headline;
        let (label, value) = if let Some(section) = &self.extra.cities {
            let (up, shown, blank) = crate::city::cities_up(&section.rows);
            (
                format!(
                    "{}区间高于零的城市（有回测时为校准区间） Cities of {} with their interval above zero ({}; backtest-calibrated where scored)",
                    section.scope_name_zh, section.scope_name_zh, section.method
                ),
                if blank > 0 {
                    format!("{up} / {shown}（另 {blank} 个留空 blank）")
                } else {
                    format!("{up} / {shown}")
                },
            )
        } else if self.focus().0 == NATIONAL {
            (
                "显著提升的地区 Regions with uplift above zero at the interval level".to_owned(),
                format!("{} / {}", h.regions_up.0, h.regions_up.1),
            )
        } else {
            (
                "全国显著提升的地区（对照） Regions nationwide with uplift above zero at the interval level (for context)"
                    .to_owned(),
                format!("{} / {}", h.regions_up.0, h.regions_up.1),
            )
        };
        vec![label, value, "—".into(), "[2]".into()]
    }

    fn blocks(&self) -> Vec<Block> {
        let c = self.input.campaign;
        let h = self.headline;
        let (area, area_zh, area_en) = self.focus();
        let level = format!("{:.0}%", c.baseline.level * 100.0);
        let mut b = vec![
            Block::Heading(
                1,
                if area == NATIONAL {
                    format!("{}成效评估 · {} impact report", c.name_zh, c.name_en)
                } else {
                    format!("{area_zh}{}成效评估 · {} impact report, {area_en}", c.name_zh, c.name_en)
                },
            ),
            Block::Para(format!(
                "活动窗口 Window: {} – {}；数据截至 Data up to: {}；基线方法 Baseline: {}；区间 Interval: {level}；数据源 Source: 支付机构交易数据 payment_daily. 生成时间 Generated: {}.",
                c.window.start,
                c.window.end,
                self.extra.as_of.map_or_else(
                    || c.window.end.to_string(),
                    |d| d.min(c.window.end).to_string()
                ),
                method_label(self.method),
                self.input.generated_at
            )),
            Block::Heading(2, "1 核心指标 Headline".into()),
            Block::Para(
                "口径 Scope: 以下数字统计的是报送支付机构所见的支付交易（支付机构交易数据 payment_daily），不是全部社会零售额：现金、未报送机构的交易不在其中。 The figures count the payments seen by the reporting payment institutions, not total retail sales: cash and institutions that do not report are outside them.".into(),
            ),
            Block::Table(Table {
                header: vec![
                    "指标 Measure".into(),
                    "数值 Value".into(),
                    if h.calibrated {
                        format!("回测校准 {level} 区间 Backtest-calibrated {level} interval")
                    } else {
                        format!("{level} 区间 Interval")
                    },
                    "来源 Source".into(),
                ],
                rows: vec![
                    measure_row(
                        "报送机构所见支付增量 Incremental payments seen by the reporting institutions (亿元)",
                        yi,
                        h.incremental_yuan,
                        h.incremental_interval,
                    ),
                    measure_row(
                        "支付额提升幅度 Uplift of those payments",
                        pct,
                        h.uplift_pct,
                        h.uplift_interval,
                    ),
                    self.areas_up_row(),
                ],
            }),
        ];
        if h.calibrated {
            b.push(Block::Para(format!(
                "上表区间为回测校准区间：该方法的 {level} 区间按其在无活动回测窗口上的误差校准（覆盖不足则放宽，过宽则收窄；见下文回测表）。未经校准的方法区间：增量 {} … {} 亿元，提升 {} … {}；分品类、分地区表列出的仍是方法本身的区间。 The intervals above are backtest-calibrated: the method's {level} interval scaled on its errors over backtest windows with no campaign (widened where it covered too little, narrowed where too much; see the backtest table below). The method's own, uncalibrated interval: incremental {} … {} 亿元 (100 million yuan), uplift {} … {}; the tables by category and region keep the method's own interval.",
                yi(h.raw_incremental_interval.0),
                yi(h.raw_incremental_interval.1),
                pct(h.raw_uplift_interval.0),
                pct(h.raw_uplift_interval.1),
                yi(h.raw_incremental_interval.0),
                yi(h.raw_incremental_interval.1),
                pct(h.raw_uplift_interval.0),
                pct(h.raw_uplift_interval.1),
            )));
        }
        if let Some(c) = &self.extra.caveat {
            b.push(Block::Para(c.clone()));
        }
        if let Some(p) = &self.extra.progress {
            b.push(Block::Para(format!(
                "截至 As of {}（本周 week {} – {}）：本周实际 {} 亿元，本周提升 {}{}；窗口累计实际 {} 亿元、基线 {} 亿元、累计提升 {} [4]。 Cumulative from the window start: actual {} 亿元 (100 million yuan), baseline {}, uplift so far {}; this week's actual {}, uplift {}.",
                p.as_of_week,
                p.week_start,
                p.as_of_week,
                yi(p.week_actual),
                pct(p.week_uplift_pct),
                p.wow_change_pct.map_or(String::new(), |w| format!("，环比 week on week {}", pct(w))),
                yi(p.cum_actual),
                yi(p.cum_baseline),
                pct(p.cum_uplift_pct),
                yi(p.cum_actual),
                yi(p.cum_baseline),
                pct(p.cum_uplift_pct),
                yi(p.week_actual),
                pct(p.week_uplift_pct),
            )));
        }
        self.backtest_block(&mut b, &level);
        b.push(Block::Heading(
            2,
            format!("2 分品类 By category ({area_zh} {area_en})"),
        ));
        let mut cats: Vec<String> = c.categories.targeted_ids().map(str::to_owned).collect();
        cats.push("all_targeted".into());
        let others = self.other_methods();
        let mut header: Vec<String> = vec![
            "品类 Category".into(),
            "实际 Actual (亿元)".into(),
            "基线 Baseline (亿元)".into(),
            "增量 Uplift (亿元)".into(),
            "提升 Uplift".into(),
            format!("{level} 区间 Interval"),
            "p".into(),
        ];
        header.extend(
            others
                .iter()
                .map(|o| format!("对照 Check: {}", method_short(o))),
        );
        header.push("来源 Source".into());
        b.push(Block::Table(Table {
            header,
            rows: cats
                .iter()
                .filter_map(|cat| {
                    let r = self.find(area, cat, self.method)?;
                    let mut row = vec![
                        category_label(cat),
                        yi(r.actual),
                        yi(r.baseline),
                        yi(r.uplift_abs),
                        flagged(r),
                        format!("{} … {}", pct(r.lower), pct(r.upper)),
                        r.p_value.map_or("—".into(), |p| format!("{p:.3}")),
                    ];
                    row.extend(others.iter().map(|o| {
                        self.find(area, cat, o).map_or("—".into(), |o| {
                            format!(
                                "{} ({} … {}){}",
                                pct(o.uplift_pct),
                                pct(o.lower),
                                pct(o.upper),
                                if o.diagnostics.as_ref().is_some_and(|d| d.flag) {
                                    " ※"
                                } else {
                                    ""
                                }
                            )
                        })
                    }));
                    row.push("[1]".into());
                    Some(row)
                })
                .collect(),
        }));
        self.diagnostics_block(&mut b, area, &cats);
        if !self.city_section(&mut b) {
            b.push(Block::Heading(
                2,
                "3 分地区 By region (全部目标品类 all targeted categories)".into(),
            ));
            let mut regional: Vec<&UpliftRow> = self
                .rows
                .iter()
                .filter(|r| {
                    r.region_code != NATIONAL
                        && r.category == "all_targeted"
                        && r.method == self.method
                })
                .collect();
            regional.sort_by(|a, b| b.uplift_pct.total_cmp(&a.uplift_pct));
            let by_cat = |region: &str, cat: Category| {
                self.find(region, cat.id(), self.method)
                    .map_or("—".into(), flagged)
            };
            let mut header = vec![
                "地区 Region".into(),
                "实际 Actual (亿元)".into(),
                "增量 Uplift (亿元)".into(),
                "提升 Uplift".into(),
                format!("{level} 区间"),
            ];
            header.extend(c.categories.targeted.iter().map(|x| x.name_zh().to_owned()));
            b.push(Block::Table(Table {
                header,
                rows: regional
                    .iter()
                    .map(|r| {
                        let mut row = vec![
                            format!("{} {}", r.region_name_zh, r.region_code),
                            yi(r.actual),
                            yi(r.uplift_abs),
                            flagged(r),
                            format!("{} … {}", pct(r.lower), pct(r.upper)),
                        ];
                        row.extend(
                            c.categories
                                .targeted
                                .iter()
                                .map(|cat| by_cat(&r.region_code, *cat)),
                        );
                        row
                    })
                    .collect(),
            }));
            for (i, chart) in self.charts.iter().enumerate() {
                if chart.name.starts_with("uplift_") {
                    b.push(Block::Chart(i));
                }
            }
        }
        self.extra_sections(&mut b);
        self.channel_section(&mut b);
        self.theme_section(&mut b);
        self.urban_rural_section(&mut b);
        b.push(Block::Heading(
            2,
            format!("7 走势 Daily series ({area_zh} {area_en})"),
        ));
        for (i, chart) in self.charts.iter().enumerate() {
            if chart.name.starts_with("series_") {
                b.push(Block::Chart(i));
            }
        }
        if let Some(note) = &self.suppressed {
            b.push(Block::Para(note.clone()));
        }
        b.push(Block::Heading(2, "8 数据 Data received".into()));
        b.push(Block::Table(Table {
            header: vec![
                "数据类型 Feed".into(),
                "文件 Files".into(),
                "读取行 Read".into(),
                "接收 Accepted".into(),
                "拒收 Rejected".into(),
                "重复 Duplicates".into(),
            ],
            rows: self
                .input
                .ingest
                .by_feed
                .iter()
                .map(|(f, n, r, a, x, d)| {
                    vec![
                        f.clone(),
                        n.to_string(),
                        r.to_string(),
                        a.to_string(),
                        x.to_string(),
                        d.to_string(),
                    ]
                })
                .collect(),
        }));
        if !self.input.ingest.refused.is_empty() {
            b.push(Block::Para("整份拒收的文件 Files refused whole:".into()));
            b.push(Block::Table(Table {
                header: vec!["文件 File".into(), "原因 Reason".into()],
                rows: self
                    .input
                    .ingest
                    .refused
                    .iter()
                    .map(|(f, r)| vec![f.clone(), r.clone()])
                    .collect(),
            }));
        }
        if !self.completeness.is_empty() {
            let regions = homeseason_schema::region::Regions::embedded();
            b.push(Block::Para(
                "数据完整性（窗口内各周）Data completeness (weeks of the window) [3]:".into(),
            ));
            b.push(Block::Table(Table {
                header: vec![
                    "数据类型 Feed".into(),
                    "已报 Present".into(),
                    "已修订 Revised".into(),
                    "缺报 Missing".into(),
                    "缺报地区 Regions with gaps".into(),
                ],
                rows: self
                    .completeness
                    .iter()
                    .map(|(f, p, r, m, gaps)| {
                        let names: Vec<String> = gaps
                            .iter()
                            .take(12)
                            .map(|g| {
                                regions
                                    .by_code(g)
                                    .map_or_else(|| g.clone(), |x| x.short_zh.clone())
                            })
                            .collect();
                        let more = if gaps.len() > 12 {
                            format!(" … (+{})", gaps.len() - 12)
                        } else {
                            String::new()
                        };
                        vec![
                            f.clone(),
                            p.to_string(),
                            r.to_string(),
                            m.to_string(),
                            format!("{}{more}", names.join("、")),
                        ]
                    })
                    .collect(),
            }));
        }
        b.push(Block::Para("每一行拒收记录（文件、行号、列、原因、原文）见 lake/rejects。 Every rejected row (file, line, column, reason, raw text) is in the lake's `rejects` table.".into()));
        b.push(Block::Heading(2, "9 方法与说明 Method and caveats".into()));
        b.push(Block::Para(format!(
            "基线 Baseline = g × Σ y*(d)（y*(d)：比较年份对齐日的销售额 aligned comparison-year sales）：窗口内每一天与比较年份同类日期对齐（普通工作日/周末按同星期、节假日按同一假期、调休日按调休日、6.18/11.11/12.12 按同日期并换算到本年的星期：比较日销售额乘以比较年份普通日中“本年星期”与“比较日星期”的水平之比），g 为前期（{} – {}）的实际与对齐基线之比。Each day of the window is matched with days of the same kind in the comparison year (6.18 / 11.11 / 12.12 by date, carried to this year's weekday by the comparison year's ordinary-day ratio of the two weekdays); g is the ratio of actual to aligned comparison sales over the pre-period. 区间 Interval: 用前期日残差拟合 AR(1) 过程；窗口与前期加权平均残差之差服从正态分布，其方差由 AR(1) 的自相关在前期与窗口上精确算出，涵盖噪声、序列相关与 g 的误差，不涵盖比较年份本身的扭曲。 An AR(1) process is fitted to the pre-period daily residuals; the difference of the window's and the pre-period's weighted mean residuals is then exactly normal, its variance computed from the AR(1)'s autocorrelation over the pre-period and window together; the interval covers noise, serial correlation and the error of g, not a distorted comparison year.",
            c.baseline.pre_period.start, c.baseline.pre_period.end
        )));
        let (masked_zh, masked_en) = c
            .baseline
            .masked_text()
            .map_or((String::new(), String::new()), |m| {
                (format!("（{}）", m.zh), format!(" ({})", m.en))
            });
        b.push(Block::Para(format!(
            "反事实回归 Counterfactual regression（CausalImpact 思路）：以同地区未受活动影响的品类（超市、餐饮、加油，一周滑动平均）的对数、线性趋势、年周期（6 阶傅里叶项）、星期与节假日/调休/购物节哑变量，在窗口前至多三年{masked_zh}上拟合目标品类的对数销售额，误差为两个 AR(1) 加白噪声；窗口内的反事实与区间取自后验预测抽样（300 次），p 值为尾部概率。 Log sales of the target category are regressed on the same region's untargeted categories (supermarkets, restaurants, fuel; weekly means), a linear trend, yearly Fourier terms, weekday and day-type dummies, fitted on up to three years before the window{masked_en}, with a slow AR(1) + fast AR(1) + noise error; the counterfactual and its interval come from 300 posterior predictive draws, p is the tail-area probability."
        )));
        if !c.baseline.distorted_years.is_empty() {
            let distortion = c.baseline.distortion_text();
            b.push(Block::Para(format!(
                "注意 Caveat: 比较年份 {:?} 的窗口期{}，故主方法为 {}；其他方法列于“对照”列。 The comparison year(s) {:?} are {}, so the primary method is {}; the other methods are in the “check” columns. 各方法在样本数据上的准确度见 benchmarks/SCORES.md。 Each method's accuracy on generated seasons: benchmarks/SCORES.md.",
                c.baseline.distorted_years,
                distortion.zh,
                method_short(self.method),
                c.baseline.distorted_years,
                distortion.en,
                method_short(self.method)
            )));
        }
        let placebo: Vec<String> = self
            .placebo
            .iter()
            .filter(|r| r.region_code == area && r.category == "all_targeted")
            .map(|r| {
                format!(
                    "{}: {} ({} … {})",
                    method_short(&r.method),
                    pct(r.uplift_pct),
                    pct(r.lower),
                    pct(r.upper)
                )
            })
            .collect();
        if !placebo.is_empty() {
            let (s, e) = (c.baseline.pre_period.start, c.baseline.pre_period.end);
            b.push(Block::Para(format!(
                "安慰剂检验 Placebo check: 在无活动的前期（{s} – {e}）上按同样方法估计“提升”，应接近 0、区间应包含 0。 The same method on the pre-period, where no campaign ran, should find about zero with an interval holding zero — {area_zh}全部目标品类 {area_en}, all targeted: {}.",
                placebo.join("；")
            )));
        }
        b.push(Block::Para(
            "[1] 表 uplift（lake/uplift/data.parquet），region_code = 000000，方法见 method 列；逐日数值见 baseline_daily。 Table `uplift` (lake/uplift/data.parquet), region_code 000000, method as named; the daily detail is in `baseline_daily`. [2] 表 uplift，category = all_targeted，lower > 0。 Table `uplift`, category all_targeted, rows whose lower bound is above zero. [3] 表 data_completeness（lake/data_completeness）。 Table `data_completeness`. [4] 表 weekly_tracking（as_of_week 分区），region_code = 000000，category = all_targeted。 Table `weekly_tracking` (partitioned by as_of_week). [5] 表 local_events / local_event_series / local_event_power。 [6] 表 activity_summary。 [7] 表 triangulation。 [8] 表 uplift_backtest（lake/uplift_backtest）。 Table `uplift_backtest`. 输入文件及版本见 lake/_manifest.json。 Input files and their versions: lake/_manifest.json.".into(),
        ));
        b
    }

    /// Which method heads the report and why, in one sentence, with the backtest figures behind it.
    fn backtest_block(&self, b: &mut Vec<Block>, level: &str) {
        let rows = &self.extra.backtest;
        let Some(chosen) = rows.iter().find(|r| r.selected) else {
            return;
        };
        let how = if chosen.selection == "pinned" {
            "（活动配置文件指定 pinned in the campaign file）"
        } else {
            "（按回测自动选择 chosen by the backtest, primary_method = auto）"
        };
        b.push(Block::Para(format!(
            "标题方法 Headline method: {}{how}：{}。 {}. [8]",
            method_short(&chosen.method),
            chosen.reason_zh,
            chosen.reason_en
        )));
        let f2 = |v: f64| {
            if v.is_finite() {
                format!("{v:.2}")
            } else {
                "—".into()
            }
        };
        let share = |v: f64| {
            if v.is_finite() {
                format!("{:.1}%", 100.0 * v)
            } else {
                "—".into()
            }
        };
        b.push(Block::Table(Table {
            header: vec![
                "方法 Method".into(),
                "回测窗口 Windows".into(),
                "回测单元 Cells".into(),
                "偏差 Bias (pp)".into(),
                "平均绝对误差 MAE (pp)".into(),
                format!("{level} 区间覆盖率 Coverage"),
                "误差带 Error band (pp)".into(),
                "区间校准倍数 Calibration factor".into(),
                "校准后覆盖率 Calibrated coverage".into(),
                "标题 Headline".into(),
            ],
            rows: rows
                .iter()
                .map(|r| {
                    vec![
                        method_short(&r.method),
                        r.figures.windows.to_string(),
                        r.figures.cells.to_string(),
                        f2(r.figures.bias_pp),
                        f2(r.figures.mae_pp),
                        share(r.figures.coverage),
                        f2(r.figures.error_band_pp),
                        f2(r.figures.conformal_factor),
                        share(r.figures.calibrated_coverage),
                        if r.selected {
                            "√".into()
                        } else {
                            String::new()
                        },
                    ]
                })
                .collect(),
        }));
        let band = chosen.figures.error_band_pp;
        if band.is_finite() {
            b.push(Block::Para(format!(
                "回测窗口为活动窗口等长、未开展活动的时段（活动前的滚动窗口及往年同期，剔除已知冲击期），真实提升为 0。提升绝对值小于该方法回测误差带（{}：±{band:.2} 个百分点）的单元标为“与无效应无法区分”，不作为结论。 Backtest windows have the campaign's length and no campaign (rolling windows before it and the same window in earlier years, known shocks left out), so the true uplift there is zero. Cells whose |uplift| is below the method's backtest error band ({}: ±{band:.2} pp) are marked “{NOT_DISTINGUISHABLE}” rather than reported as findings.",
                chosen.method, chosen.method
            )));
        }
    }

    fn extra_sections(&self, b: &mut Vec<Block>) {
        let x = self.extra;
        let (area, _, _) = self.focus();
        let level = format!("{:.0}%", self.input.campaign.baseline.level * 100.0);
        b.push(Block::Heading(
            2,
            "4 地方站活动 Local-station events".into(),
        ));
        if x.events.is_empty() {
            b.push(Block::Para("截至本报告周尚无地方站活动的估计。 No local-station event estimate up to the report week.".into()));
        } else {
            b.push(Block::Para(format!(
                "有地方站活动的地区为处理组，无活动的地区为供体，合成控制（非负权重、地区固定效应）估计活动期间在全国活动之外的额外效果；区间与 p 值来自共形推断 [5]。 Regions with a local event are treated, regions without are donors: a synthetic control (non-negative weights, unit fixed effects) gives the effect beyond the national campaign; {level} intervals and p-values by conformal inference [5]."
            )));
            b.push(Block::Table(Table {
                header: vec![
                    "地区 Region".into(),
                    "活动期 Event".into(),
                    "供体 Donors".into(),
                    "增量 Incremental (万元)".into(),
                    "提升 Lift".into(),
                    format!("{level} 区间"),
                    "p".into(),
                    "前期失衡 Scaled L2 imbalance".into(),
                ],
                rows: x
                    .events
                    .iter()
                    .map(|e| {
                        vec![
                            e.region.clone(),
                            format!("{} – {}", e.start, e.end),
                            e.donors.to_string(),
                            format!("{:.1}", e.incremental / 1e4),
                            pct(e.lift.0),
                            format!("{} … {}", pct(e.lift.1), pct(e.lift.2)),
                            format!("{:.3}", e.p_value),
                            format!("{:.3}", e.imbalance),
                        ]
                    })
                    .collect(),
            }));
        }
        for (i, chart) in self.charts.iter().enumerate() {
            if chart.name == "local_event_impact" {
                b.push(Block::Chart(i));
            }
        }
        if !x.power.is_empty() {
            // α as configured (0.1, not its float noise), and "above 2α" with a tolerance, so 2 of 10
            // windows at α = 0.1 is not flagged.
            let alpha = x
                .power
                .iter()
                .map(|p| p.alpha)
                .find(|a| a.is_finite())
                .unwrap_or(0.1);
            let alpha = (alpha * 1000.0).round() / 1000.0;
            let above = |fpr: f64| fpr > 2.0 * alpha + 1e-9;
            let (min_w, max_w) = x.power.iter().fold((i64::MAX, 0), |(lo, hi), p| {
                (lo.min(p.windows), hi.max(p.windows))
            });
            let windows = if min_w == max_w {
                min_w.to_string()
            } else {
                format!("{min_w}–{max_w}")
            };
            let miscalibrated: Vec<&crate::sections::PowerRow> = x
                .power
                .iter()
                .filter(|p| above(p.false_positive_rate))
                .collect();
            b.push(Block::Para(format!(
                "规划：最小可检测效应（α = {alpha}，功效 80%，全部目标品类）。依据：在窗口前的历史中每地区模拟 {windows} 个安慰剂窗口；功效与误报率为这些窗口中检验拒绝的个数（窗口少则比例粗糙，“10/10”并非确定）；误报率（无效应时拒绝的比例）应接近 α，超过 2α 的行标注为不可信。 Planning: minimum detectable effect at alpha {alpha} with 80 % power, all targeted categories [5]. Basis: {windows} placebo windows per region from the history before the window; power and false-positive rate are counts of windows where the test rejected (few windows make coarse shares: 10/10 is not certainty); the false-positive rate (rejections without an effect) should be near alpha, and rows above 2 × alpha are marked unreliable."
            )));
            b.push(Block::Table(Table {
                header: vec![
                    "地区 Region".into(),
                    "时长 Days".into(),
                    "最小可检测效应 MDE".into(),
                    "检出 +10% 效应 Detected a +10 % effect".into(),
                    "误报 False positives".into(),
                    "可信度 Reliability".into(),
                ],
                rows: x
                    .power
                    .iter()
                    .map(|p| {
                        vec![
                            p.region.clone(),
                            p.days.to_string(),
                            if p.mde_pct.is_finite() { pct(p.mde_pct) } else { "> 40%".into() },
                            crate::sections::share_of_windows(p.power_10, p.windows),
                            crate::sections::share_of_windows(p.false_positive_rate, p.windows),
                            if above(p.false_positive_rate) {
                                format!("不可信：误报率 {:.2} > 2α · unreliable: false-positive rate {:.2} > 2 × alpha", p.false_positive_rate, p.false_positive_rate)
                            } else {
                                format!("误报率 false-positive rate {:.2}", p.false_positive_rate)
                            },
                        ]
                    })
                    .collect(),
            }));
            if !miscalibrated.is_empty() {
                let names: Vec<&str> = miscalibrated
                    .iter()
                    .map(|p| p.region.as_str())
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                b.push(Block::Para(format!(
                    "注意 Caveat: {} 的误报率超过 2α，其功效与最小可检测效应不可作为规划依据。 The false-positive rate of {} is above 2 × alpha: their power and MDE are no basis for planning.",
                    names.join("、"),
                    names.join(", ")
                )));
            }
        }
        b.push(Block::Heading(
            2,
            "5 活动 Activities, enterprises and brands".into(),
        ));
        if x.activities.by_type.is_empty() {
            b.push(Block::Para("活动登记表尚无本窗口的记录。 The activities register holds nothing for the window yet.".into()));
        } else {
            let total = x.activities.by_type.iter().fold([0i64; 6], |mut t, r| {
                for (k, v) in [r.1, r.2, r.3, r.4, r.5, r.6].into_iter().enumerate() {
                    t[k] += v;
                }
                t
            });
            let mut rows: Vec<Vec<String>> = x
                .activities
                .by_type
                .iter()
                .map(|r| {
                    vec![
                        r.0.clone(),
                        r.1.to_string(),
                        r.2.to_string(),
                        r.3.to_string(),
                        r.4.to_string(),
                        r.5.to_string(),
                        r.6.to_string(),
                    ]
                })
                .collect();
            rows.push(vec![
                "合计 Total".into(),
                total[0].to_string(),
                total[1].to_string(),
                total[2].to_string(),
                total[3].to_string(),
                total[4].to_string(),
                total[5].to_string(),
            ]);
            b.push(Block::Table(Table {
                header: vec![
                    "活动类型 Type".into(),
                    "本周场次 Activities this week".into(),
                    "本周企业 Enterprises".into(),
                    "本周品牌 Brands".into(),
                    "累计场次 Activities to date".into(),
                    "累计企业 Enterprises".into(),
                    "累计品牌 Brands".into(),
                ],
                rows,
            }));
            b.push(Block::Para("企业、品牌为各活动上报数之和（同一企业参加多场活动按多次计）[6]。 Enterprises and brands are the sums of what each activity reported (an enterprise in several activities counts in each) [6].".into()));
        }
        for (i, chart) in self.charts.iter().enumerate() {
            if chart.name == "activities_by_week" {
                b.push(Block::Chart(i));
            }
        }
        b.push(Block::Heading(2, "6 三方印证 Triangulation".into()));
        if x.triangulation.is_empty() {
            b.push(Block::Para("无企业或社零数据可供印证。 No enterprise or retail-statistics data to compare with.".into()));
        } else {
            let disagree = x
                .triangulation
                .iter()
                .filter(|r| r.status.contains("disagree"))
                .count();
            b.push(Block::Para(format!(
                "同一方法下并列：支付数据的提升与重点企业销售的提升（配对企业，区间为企业自助抽样）；支付数据自身的同比增速与社零增速（仅用窗口各月公布的同比，不含前期月份）。社零增速标注“公布”（即公布数本身）或“推算”（由公布的同比加权或跨年复合得到，推算方法列出所用各月同比）。{disagree} 个地区 × 品类的结果超出支付数据区间 [7]。 Side by side for the same method: the payments uplift and the key-enterprise uplift (matched enterprises, bootstrap interval); the payments' own growth over the comparison year and the 社零 growth over exactly the window's months from published YoY. Each 社零 figure is labelled published (the released figure itself) or derived (weighted over months or compounded over years from published YoY; the derivation lists every YoY used). {disagree} region × category cells disagree beyond the payment interval or band [7]."
            )));
            b.push(Block::Para("注意 Caveat: 社零覆盖全部零售（含现金与非活动因素、价格变化），无区间；它与支付数据比较的是增速，不是提升。`homeseason demo` 中全国社零为国家统计局公布的真实数据，而支付与企业数据为生成的样本，故全国行的分歧是预期之内的。 社零 covers all retail (cash, price changes, everything besides the campaign) and has no interval; it is compared with the payments' growth, not with the uplift. In `homeseason demo` the national 社零 rows are the real NBS figures while payments and enterprise sales are the generated sample, so national disagreement there is expected.".into()));
            let rows: Vec<Vec<String>> = x
                .triangulation
                .iter()
                .filter(|r| {
                    if area == NATIONAL {
                        r.region_code == NATIONAL || r.status.contains("disagree")
                    } else {
                        r.region_code == area || r.region_code == NATIONAL
                    }
                })
                .take(40)
                .map(|r| {
                    vec![
                        r.region.clone(),
                        r.category.clone(),
                        r.payments.clone(),
                        r.enterprise.clone(),
                        r.payments_growth.clone(),
                        r.retail.clone(),
                        r.basis.clone(),
                        r.derivation.clone(),
                        r.status.clone(),
                    ]
                })
                .collect();
            b.push(Block::Table(Table {
                header: vec![
                    "地区 Region".into(),
                    "品类 Category".into(),
                    "支付提升 Payments uplift".into(),
                    "企业提升 Enterprise uplift".into(),
                    "支付增速 Payments growth".into(),
                    "社零增速 社零 growth".into(),
                    "社零口径 Basis".into(),
                    "推算方法 Derivation".into(),
                    "判断 Status".into(),
                ],
                rows,
            }));
        }
        self.leverage_section(b, area);
    }

    /// The subsidy leverage section (拉动比, `crate::leverage`), when the lake holds subsidies.
    fn leverage_section(&self, b: &mut Vec<Block>, area: &str) {
        let rows = &self.extra.leverage;
        if rows.is_empty() {
            return;
        }
        b.push(Block::Heading(2, "6a 补贴拉动比 Subsidy leverage".into()));
        b.push(Block::Para(crate::leverage::METHOD.into()));
        b.push(Block::Table(Table {
            header: crate::leverage::HEADER.map(str::to_owned).to_vec(),
            rows: crate::leverage::shown(rows, area)
                .into_iter()
                .take(60)
                .map(crate::leverage::cells)
                .collect(),
        }));
        b.push(Block::Para(crate::leverage::SOURCE.into()));
    }

    pub(crate) fn html(&self) -> String {
        let mut body = String::new();
        for block in self.blocks() {
            match block {
                Block::Heading(l, t) => {
                    let _ = writeln!(body, "<h{l}>{}</h{l}>", esc(&t));
                }
                Block::Para(t) => {
                    let _ = writeln!(body, "<p>{}</p>", esc(&t));
                }
                Block::Table(t) => body.push_str(&t.html()),
                Block::Chart(i) => {
                    let c = &self.charts[i];
                    let data = base64::engine::general_purpose::STANDARD.encode(&c.png);
                    let _ = writeln!(
                        body,
                        "<figure><img alt=\"{}\" src=\"data:image/png;base64,{data}\"><figcaption>{}</figcaption></figure>",
                        esc(&c.caption),
                        esc(&c.caption)
                    );
                }
            }
        }
        format!(
            "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{} · homeseason</title>\n<style>{}\nbody{{font-family:'{EMBEDDED_FAMILY}','Noto Sans SC','PingFang SC','Microsoft YaHei',sans-serif;max-width:1240px;margin:2em auto;padding:0 1em;color:#222}}table{{border-collapse:collapse;margin:1em 0;font-size:14px;max-width:100%}}th,td{{border:1px solid #ccc;padding:4px 8px;text-align:right;overflow-wrap:break-word}}th{{background:#f3f3f3}}td:first-child,th:first-child{{text-align:left}}figure{{margin:1.5em 0}}img{{max-width:100%}}figcaption{{color:#555;font-size:13px}}</style></head>\n<body>\n{body}</body></html>\n",
            esc(&self.input.campaign.name_zh),
            font_face()
        )
    }

    pub(crate) fn markdown(&self) -> String {
        let mut s = String::new();
        for block in self.blocks() {
            match block {
                Block::Heading(l, t) => {
                    let _ = write!(s, "{} {t}\n\n", "#".repeat(l as usize));
                }
                Block::Para(t) => {
                    let _ = write!(s, "{t}\n\n");
                }
                Block::Table(t) => {
                    s.push_str(&t.markdown());
                    s.push('\n');
                }
                Block::Chart(i) => {
                    let c = &self.charts[i];
                    let _ = write!(s, "![{}](charts/{}.png)\n\n", c.caption, c.name);
                }
            }
        }
        s
    }
}
