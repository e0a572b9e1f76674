//! What a reader sees in the report: the headline's scope, captions in words (no raw ids), the
//! planning table's basis, the triangulation's published/derived labels, and a report date outside
//! the window refused.

use chrono::NaiveDate;
use homeseason_report::{ExtraTables, IngestTotals, ReportError, ReportInput, build, validate};
use homeseason_schema::campaign::Campaign;
use polars::prelude::*;

/// The national report on the sample frames and the 2023 campaign.
fn sample_report() -> homeseason_report::Report {
    let c = Campaign::default_2023();
    let f = frames();
    build(&input(&c, &f, None)).expect("report")
}

/// The part of `text` from `start` up to (not including) the next `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = &text[text.find(start).unwrap_or_else(|| panic!("no {start:?}"))..];
    &from[..from
        .find(end)
        .unwrap_or_else(|| panic!("no {end:?} after {start:?}"))]
}

fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, dd).expect("date")
}

/// The series of the fixtures: all targeted categories together and each one.
const SERIES_CATEGORIES: [&str; 5] = [
    "all_targeted",
    "home_appliances",
    "furniture",
    "home_textiles",
    "building_materials",
];

/// Campaign rows of `uplift` for two_year (the fallback of `auto` without a backtest), prior_year and
/// the regression: national and
/// Zhejiang, all targeted and each targeted category.
fn uplift() -> DataFrame {
    let mut cols: [Vec<String>; 4] = Default::default();
    let mut nums: Vec<[f64; 11]> = Vec::new();
    for (region, name) in [("000000", "全国"), ("330000", "浙江省")] {
        for cat in SERIES_CATEGORIES {
            for (method, pct) in [
                ("two_year", 12.0),
                ("prior_year", 30.0),
                ("counterfactual_regression", 9.0),
            ] {
                cols[0].push(region.into());
                cols[1].push(name.into());
                cols[2].push(cat.into());
                cols[3].push(method.into());
                let base = 3.0e9;
                let actual = base * (1.0 + pct / 100.0);
                nums.push([
                    actual,
                    base,
                    actual - base,
                    pct,
                    pct - 4.0,
                    pct + 4.0,
                    base * (pct - 4.0) / 100.0,
                    base * (pct + 4.0) / 100.0,
                    0.001,
                    122.0,
                    1.08,
                ]);
            }
        }
    }
    let n = nums.len();
    let col = |k: usize| nums.iter().map(|r| r[k]).collect::<Vec<f64>>();
    df!(
        "window_kind" => vec!["campaign"; n],
        "region_code" => &cols[0],
        "region_name_zh" => &cols[1],
        "category" => &cols[2],
        "method" => &cols[3],
        "actual_yuan" => col(0),
        "baseline_yuan" => col(1),
        "uplift_abs_yuan" => col(2),
        "uplift_pct" => col(3),
        "lower_pct" => col(4),
        "upper_pct" => col(5),
        "uplift_abs_lower_yuan" => col(6),
        "uplift_abs_upper_yuan" => col(7),
        "p_value" => col(8),
        "days_used" => nums.iter().map(|r| r[9] as i64).collect::<Vec<_>>(),
        "growth_factor" => col(10),
    )
    .expect("uplift")
}

/// National daily detail for every category, June–December 2023.
fn baseline_daily() -> DataFrame {
    let (mut cat, mut date, mut actual) = (Vec::new(), Vec::new(), Vec::new());
    for c in SERIES_CATEGORIES {
        for (i, day) in d(2023, 6, 1)
            .iter_days()
            .take_while(|x| *x <= d(2023, 12, 31))
            .enumerate()
        {
            cat.push(c);
            date.push(day);
            actual.push(2.0e7 + 1.0e5 * (i % 7) as f64);
        }
    }
    let n = cat.len();
    let baseline: Vec<f64> = actual.iter().map(|a| a * 0.9).collect();
    df!(
        "region_code" => vec!["000000"; n],
        "category" => cat,
        "method" => vec!["two_year"; n],
        "date" => date,
        "actual_yuan" => actual,
        "lower_yuan" => baseline.iter().map(|b| b * 0.95).collect::<Vec<_>>(),
        "upper_yuan" => baseline.iter().map(|b| b * 1.05).collect::<Vec<_>>(),
        "baseline_yuan" => baseline,
    )
    .expect("daily")
}

/// Planning rows: Zhejiang calibrated (false positives 1 of 10), Fujian not (5 of 10), power 10/10.
fn power() -> DataFrame {
    df!(
        "region_code" => ["330000", "330000", "350000"],
        "category" => ["all_targeted", "all_targeted", "all_targeted"],
        "duration_days" => [14_i64, 28, 14],
        "windows" => [10_i64, 10, 10],
        "mde_pct" => [Some(6.5), Some(5.0), None],
        "power_10pct" => [1.0, 1.0, 0.6],
        "false_positive_rate" => [0.1, 0.1, 0.5],
        "alpha" => [0.1, 0.1, 0.1],
    )
    .expect("power")
}

/// Triangulation rows: national appliances derived over four months, Zhejiang furniture published.
fn triangulation() -> DataFrame {
    df!(
        "region_code" => ["000000", "000000", "330000"],
        "category" => ["all_targeted", "home_appliances", "furniture"],
        "payments_uplift_pct" => [12.0, 12.0, 8.0],
        "payments_lower_pct" => [8.0, 8.0, 2.0],
        "payments_upper_pct" => [16.0, 16.0, 14.0],
        "enterprise_uplift_pct" => [Some(10.0), Some(11.0), None],
        "enterprise_lower_pct" => [Some(7.0), Some(8.0), None],
        "enterprise_upper_pct" => [Some(13.0), Some(14.0), None],
        "payments_yoy_pct" => [Some(20.0), Some(3.0), Some(5.0)],
        "payments_yoy_lower_pct" => [Some(16.0), Some(-1.0), Some(0.0)],
        "payments_yoy_upper_pct" => [Some(24.0), Some(7.0), Some(10.0)],
        "retail_yoy_pct" => [None, Some(2.4), Some(6.0)],
        "retail_months" => [0_i64, 4, 1],
        "retail_basis" => [None, Some("derived"), Some("published")],
        "retail_derivation" => [
            None,
            Some("from published YoY: 2023-09 −2.3, 2023-10 +9.6, 2023-11 +2.7, 2023-12 −0.1; months weighted by their value"),
            Some("published YoY 2023-10 +6.0"),
        ],
        "status" => ["agree", "agree", "retail_disagrees"],
    )
    .expect("triangulation")
}

fn input<'a>(
    campaign: &'a Campaign,
    frames: &'a [DataFrame; 4],
    as_of: Option<NaiveDate>,
) -> ReportInput<'a> {
    ReportInput {
        campaign,
        uplift: &frames[0],
        baseline_daily: &frames[1],
        ingest: IngestTotals::default(),
        completeness: None,
        generated_at: "2024-01-08 09:00".into(),
        as_of,
        tables: ExtraTables {
            local_event_power: Some(&frames[2]),
            triangulation: Some(&frames[3]),
            ..ExtraTables::default()
        },
        suppress_below: None,
    }
}

fn frames() -> [DataFrame; 4] {
    [uplift(), baseline_daily(), power(), triangulation()]
}

#[test]
fn a_report_date_outside_the_window_is_an_error() {
    let c = Campaign::default_2023();
    let f = frames();
    for bad in [d(2024, 3, 1), d(2024, 1, 1), d(2023, 8, 31)] {
        let err = build(&input(&c, &f, Some(bad))).expect_err("outside the window");
        assert!(
            matches!(err, ReportError::AsOfOutsideWindow { as_of, .. } if as_of == bad),
            "{err}"
        );
        let text = err.to_string();
        assert!(
            text.contains("不在活动窗口") && text.contains("outside the campaign window"),
            "{text}"
        );
        assert!(validate(&input(&c, &f, Some(bad))).is_err());
    }
    for good in [
        None,
        Some(d(2023, 9, 1)),
        Some(d(2023, 10, 15)),
        Some(d(2023, 12, 31)),
    ] {
        validate(&input(&c, &f, good)).expect("in the window");
    }
    build(&input(&c, &f, Some(d(2023, 10, 15)))).expect("a report for 15 October");
}

#[test]
fn the_headline_says_what_it_counts_and_captions_use_words() {
    let r = sample_report();
    assert!(
        r.headline
            .scope
            .contains("payments seen by the reporting payment institutions")
    );
    assert!(r.headline.scope.contains("not total retail"));
    for doc in [&r.html, &r.markdown] {
        assert!(
            doc.contains("报送支付机构所见的支付交易"),
            "scope in Chinese"
        );
        assert!(doc.contains("not total retail sales"), "scope in English");
        assert!(doc.contains("Incremental payments seen by the reporting institutions"));
    }
    let ids = [
        "all_targeted",
        "home_appliances",
        "building_materials",
        "home_textiles",
        "two_year",
        "prior_year",
    ];
    for chart in &r.charts {
        for id in ids {
            assert!(
                !chart.caption.contains(id),
                "caption {:?} holds the raw id {id}",
                chart.caption
            );
        }
    }
    // No figure caption or table header shows a raw id either.
    for piece in r
        .html
        .split("<figcaption>")
        .skip(1)
        .chain(r.html.split("<th>").skip(1))
    {
        let text = &piece[..piece.find('<').unwrap_or(piece.len())];
        for id in ids {
            assert!(!text.contains(id), "{text:?} holds the raw id {id}");
        }
    }
    assert!(r.html.contains(
        "全国全部目标品类日销售额与基线 National daily sales vs baseline, all targeted categories"
    ));
}

#[test]
fn the_power_table_shows_its_basis_and_no_bare_hundred_percent() {
    let r = sample_report();
    let section = between(&r.markdown, "最小可检测效应", "## 5");
    for (needle, what) in [
        ("10 placebo windows per region", "the basis"),
        ("| 10/10 窗口 windows |", "power as a count of windows"),
        ("| 1/10 窗口 windows |", "false positives as a count"),
        (
            "unreliable: false-positive rate 0.50 > 2 × alpha",
            "the unreliable mark",
        ),
        (
            "The false-positive rate of 福建 350000 is above 2 × alpha",
            "the note on the region",
        ),
    ] {
        assert!(section.contains(needle), "{what} ({needle}): {section}");
    }
    assert!(
        !section.contains("100%") && !section.contains("100 %"),
        "no bare 100 %: {section}"
    );
}

#[test]
fn triangulation_rows_are_labelled_published_or_derived() {
    let r = sample_report();
    let md = between(&r.markdown, "## 6 三方印证", "## 7");
    let row = |needle: &str| {
        md.lines()
            .find(|l| l.starts_with('|') && l.contains(needle))
            .unwrap_or_else(|| panic!("no triangulation row with {needle}"))
            .to_owned()
    };
    let national = row("家电");
    assert!(
        national
            .contains("| +2.4% | 推算 derived | from published YoY: 2023-09 −2.3, 2023-10 +9.6"),
        "{national}"
    );
    assert!(
        national.contains("+3.0% (−1.0% … +7.0%)") || national.contains("+3.0% (-1.0% … +7.0%)"),
        "{national}"
    );
    let zhejiang = row("浙江 330000");
    assert!(
        zhejiang.contains("| +6.0% | 公布 published | published YoY 2023-10 +6.0 |"),
        "{zhejiang}"
    );
    assert!(md.contains("over exactly the window's months from published YoY"));
}

#[test]
fn the_html_embeds_the_font_that_covers_all_its_text() {
    use base64::Engine as _;
    let r = sample_report();
    let font = base64::engine::general_purpose::STANDARD.encode(homeseason_charts::FONT_BYTES);
    assert!(
        r.html.contains(&format!(
            "@font-face{{font-family:'Homeseason Noto Sans SC';src:url(data:font/otf;base64,{font})"
        )),
        "the bundled subset is embedded whole"
    );
    assert!(
        r.html
            .contains("body{font-family:'Homeseason Noto Sans SC',"),
        "and used first"
    );
    // Every character a reader sees has a glyph in it (the Markdown twin holds the same text).
    let missing = homeseason_charts::missing_glyphs(&r.markdown);
    assert!(
        missing.is_empty(),
        "characters the embedded font lacks: {missing:?}"
    );
}

#[test]
fn a_region_gets_its_own_report() {
    let c = Campaign::default_2023();
    let f = frames();
    let r =
        homeseason_report::build_region(&input(&c, &f, None), "330000").expect("Zhejiang's report");
    // Zhejiang's own headline: its all-targeted row (12 % in the frame, like the nation's, but its
    // incremental sales are its own).
    assert!((r.headline.uplift_pct - 12.0).abs() < 1e-9);
    assert!(
        r.markdown.starts_with("# 浙江家居焕新消费季成效评估"),
        "{}",
        &r.markdown[..120]
    );
    assert!(
        r.markdown
            .contains("## 2 分品类 By category (浙江 Zhejiang)")
    );
    // Its planning rows only: Fujian's are not in Zhejiang's report.
    assert!(r.markdown.contains("| 浙江 330000 | 14 |"));
    assert!(!r.markdown.contains("福建 350000"));
    // Its triangulation row and the national one for reference.
    assert!(r.markdown.contains("| 浙江 330000 | 家具 Furniture |"));
    let err = homeseason_report::build_region(&input(&c, &f, None), "999999")
        .expect_err("no such region");
    assert!(matches!(err, ReportError::UnknownRegion(_)), "{err}");
}

/// A backtest table whose figures make the regression the calibrated method with the lowest MAE.
fn backtest(campaign: &Campaign) -> DataFrame {
    use homeseason_metrics::Method;
    use homeseason_metrics::backtest::{MethodBacktest, backtest_frame, select};
    let fig = |method, mae, coverage| MethodBacktest {
        bias_pp: 0.5,
        error_band_pp: 10.0,
        conformal_factor: 1.1,
        calibrated_coverage: 0.9,
        ..MethodBacktest::example(method, 760, mae, coverage)
    };
    let figures = [
        fig(Method::PriorYear, 13.4, 0.44),
        fig(Method::TwoYear, 3.8, 0.89),
        fig(Method::CounterfactualRegression, 1.6, 0.86),
    ];
    let selection = select(&figures, campaign.baseline.level);
    backtest_frame(campaign, &figures, &selection).expect("backtest frame")
}

#[test]
fn auto_heads_the_report_with_the_backtests_choice_and_says_why() {
    let c = Campaign::default_2023();
    assert_eq!(c.baseline.primary_method, "auto");
    let f = frames();
    let bt = backtest(&c);
    let mut i = input(&c, &f, None);
    i.tables.uplift_backtest = Some(&bt);
    let r = build(&i).expect("report");
    assert_eq!(r.headline.method, "counterfactual_regression");
    assert!((r.headline.uplift_pct - 9.0).abs() < 1e-9);
    for doc in [&r.markdown, &r.html] {
        assert!(
            doc.contains("标题方法 Headline method: 反事实回归 counterfactual regression"),
            "the report names the method"
        );
        assert!(
            doc.contains("chosen by the backtest"),
            "and how it was chosen"
        );
        assert!(
            doc.contains("86.0%") && doc.contains("1.60 pp"),
            "with the figures"
        );
        assert!(doc.contains("回测单元 Cells"), "in a table");
    }
    // Without a backtest, auto falls back to two_year and no sentence is shown.
    let r = build(&input(&c, &f, None)).expect("report");
    assert_eq!(r.headline.method, "two_year");
    assert!(!r.markdown.contains("标题方法 Headline method"));
}

#[test]
fn a_pinned_regression_heads_the_report_whatever_the_backtest_says() {
    let c = Campaign::from_toml(&homeseason_schema::campaign::DEFAULT_TOML.replace(
        "primary_method = \"auto\"",
        "primary_method = \"regression\"",
    ))
    .expect("pinned campaign");
    let f = frames();
    let r = build(&input(&c, &f, None)).expect("report");
    assert_eq!(r.headline.method, "counterfactual_regression");
    assert!((r.headline.uplift_pct - 9.0).abs() < 1e-9);
    // A pinned prior_year beats a backtest that prefers the regression, and the report says pinned.
    let mut p = c.clone();
    p.baseline.primary_method = "prior_year".into();
    let figures_for_pin = {
        let auto = backtest(&Campaign::default_2023());
        let mut pinned = auto.clone();
        let selected: Vec<bool> = auto
            .column("method")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|m| m == Some("prior_year"))
            .collect();
        pinned
            .with_column(Column::new("selected".into(), selected))
            .unwrap();
        pinned
            .with_column(Column::new("selection".into(), vec!["pinned"; 3]))
            .unwrap();
        pinned
    };
    let mut i = input(&p, &f, None);
    i.tables.uplift_backtest = Some(&figures_for_pin);
    let r = build(&i).expect("report");
    assert_eq!(r.headline.method, "prior_year");
    assert!(r.markdown.contains("pinned in the campaign file"));
}

#[test]
fn cells_inside_the_backtest_error_band_are_not_findings() {
    let c = Campaign::default_2023();
    let mut f = frames();
    // Flag the national furniture cell of two_year (the fallback headline method).
    let flags: Vec<Option<bool>> = (0..f[0].height())
        .map(|i| {
            let region = f[0].column("region_code").unwrap().str().unwrap().get(i);
            let cat = f[0].column("category").unwrap().str().unwrap().get(i);
            let m = f[0].column("method").unwrap().str().unwrap().get(i);
            Some(!(region == Some("000000") && cat == Some("furniture") && m == Some("two_year")))
        })
        .collect();
    f[0].with_column(Column::new("distinguishable".into(), flags))
        .unwrap();
    let r = build(&input(&c, &f, None)).expect("report");
    let line = r
        .markdown
        .lines()
        .find(|l| l.starts_with("| 家具 Furniture"))
        .expect("furniture row");
    assert!(
        line.contains("与无效应无法区分 not distinguishable from no effect"),
        "{line}"
    );
    let other = r
        .markdown
        .lines()
        .find(|l| l.starts_with("| 家电 Home appliances"))
        .expect("appliances row");
    assert!(!other.contains("无法区分"), "{other}");
}

#[test]
fn the_headline_quotes_the_backtest_calibrated_interval() {
    let c = Campaign::default_2023();
    let mut f = frames();
    // The backtest widens every interval by 1.5: pct ± 4 becomes pct ± 6 (yuan likewise).
    let pct = f[0].column("uplift_pct").unwrap().f64().unwrap().clone();
    let base = f[0].column("baseline_yuan").unwrap().f64().unwrap().clone();
    let abs = f[0]
        .column("uplift_abs_yuan")
        .unwrap()
        .f64()
        .unwrap()
        .clone();
    let n = f[0].height();
    let at = |c: &Float64Chunked, i: usize| c.get(i).unwrap();
    let lo: Vec<f64> = (0..n).map(|i| at(&pct, i) - 6.0).collect();
    let hi: Vec<f64> = (0..n).map(|i| at(&pct, i) + 6.0).collect();
    let ylo: Vec<f64> = (0..n).map(|i| at(&abs, i) - 0.06 * at(&base, i)).collect();
    let yhi: Vec<f64> = (0..n).map(|i| at(&abs, i) + 0.06 * at(&base, i)).collect();
    for (name, v) in [
        ("calibrated_lower_pct", lo),
        ("calibrated_upper_pct", hi),
        ("calibrated_abs_lower_yuan", ylo),
        ("calibrated_abs_upper_yuan", yhi),
    ] {
        f[0].with_column(Column::new(name.into(), v)).unwrap();
    }
    let r = build(&input(&c, &f, None)).expect("report");
    // two_year (the fallback without a backtest table) at 12 %: raw 8 … 16, calibrated 6 … 18.
    assert!(r.headline.calibrated);
    assert_eq!(r.headline.uplift_interval, (6.0, 18.0));
    assert_eq!(r.headline.raw_uplift_interval, (8.0, 16.0));
    let (ylo, yhi) = r.headline.incremental_interval;
    assert!((ylo - 0.06 * 3.0e9).abs() < 1.0 && (yhi - 0.18 * 3.0e9).abs() < 1.0);
    for doc in [&r.markdown, &r.html] {
        assert!(
            doc.contains("回测校准 90% 区间 Backtest-calibrated 90% interval"),
            "the headline says its interval is calibrated"
        );
        assert!(
            doc.contains("+6.0% … +18.0%"),
            "the calibrated interval heads"
        );
        assert!(doc.contains("1.80 … 5.40"), "in yuan too (亿元)");
        assert!(
            doc.contains("uncalibrated interval: incremental 2.40 … 4.80 亿元")
                && doc.contains("uplift +8.0% … +16.0%"),
            "the raw interval is still given"
        );
    }
    // The by-category table keeps the method's own interval.
    let line = r
        .markdown
        .lines()
        .find(|l| l.starts_with("| 家具 Furniture"))
        .expect("furniture row");
    assert!(line.contains("+8.0% … +16.0%"), "{line}");
    // Without the calibrated columns the headline is the method's own interval, not called calibrated.
    let r = build(&input(&c, &frames(), None)).expect("report");
    assert!(!r.headline.calibrated);
    assert_eq!(r.headline.uplift_interval, (8.0, 16.0));
    assert!(!r.markdown.contains("Backtest-calibrated"));
}

#[test]
fn flagged_cells_are_marked_with_their_diagnostics() {
    let c = Campaign::default_2023();
    let mut f = frames();
    // Diagnostics on the regression rows; Zhejiang's furniture cell is flagged (a control broke).
    let n = f[0].height();
    let col_str = |name: &str, i: usize| homeseason_test_support::str_at(&f[0], name, i);
    let (mut flag, mut reason, mut r2, mut mape, mut lo, mut hi, mut shift, mut p) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    for i in 0..n {
        let regression = col_str("method", i) == "counterfactual_regression";
        let broke = regression
            && col_str("region_code", i) == "330000"
            && col_str("category", i) == "furniture";
        flag.push(regression.then_some(broke));
        reason.push(regression.then(|| {
            if broke {
                "对照 supermarket 与目标的关系在活动开始前变化 -12.0%（p 0.000） · control supermarket's relation to the target shifted -12.0% before the campaign start (p 0.000)".to_owned()
            } else {
                String::new()
            }
        }));
        r2.push(regression.then_some(0.93));
        mape.push(regression.then_some(4.2));
        lo.push(regression.then_some(8.1));
        hi.push(regression.then_some(9.7));
        shift.push(regression.then_some(if broke { -12.0 } else { 0.8 }));
        p.push(regression.then_some(if broke { 0.0001 } else { 0.41 }));
    }
    for (name, v) in [
        ("pre_fit_r2", r2),
        ("pre_fit_mape_pct", mape),
        ("loo_min_pct", lo),
        ("loo_max_pct", hi),
        ("break_shift_max_pct", shift),
        ("break_p_min", p),
    ] {
        f[0].with_column(Column::new(name.into(), v)).unwrap();
    }
    f[0].with_column(Column::new("diagnostic_flag".into(), flag))
        .unwrap();
    f[0].with_column(Column::new("diagnostic_reason".into(), reason))
        .unwrap();
    // The national report: the diagnostics table and the flagged cell with its reason.
    let r = build(&input(&c, &f, None)).expect("report");
    for doc in [&r.markdown, &r.html] {
        assert!(
            doc.contains("去一对照范围 Leave-one-control-out"),
            "diagnostics table"
        );
        assert!(doc.contains("+8.1% … +9.7%"), "the leave-one-out range");
        assert!(doc.contains("有诊断警示的单元 Flagged cells (1)"));
        assert!(
            doc.contains("※ 浙江省 330000, 家具 Furniture"),
            "the flagged cell named"
        );
        assert!(doc.contains("shifted -12.0% before the campaign start"));
        assert!(!doc.contains('⚠'), "only glyphs the embedded font has");
    }
    // Zhejiang's own report marks its furniture row (regression as a check column) with ※.
    let r = homeseason_report::build_region(&input(&c, &f, None), "330000").expect("region");
    let line = r
        .markdown
        .lines()
        .find(|l| l.starts_with("| 家具 Furniture"))
        .expect("furniture row");
    assert!(line.contains(" ※"), "{line}");
    let other = r
        .markdown
        .lines()
        .find(|l| l.starts_with("| 家电 Home appliances"))
        .expect("appliances row");
    assert!(!other.contains('※'), "{other}");
}

/// The targeted categories of the 2023 campaign and a control.
const CATEGORIES: [&str; 5] = [
    "home_appliances",
    "furniture",
    "home_textiles",
    "building_materials",
    "supermarket",
];
/// The day on which Zhejiang alone sells home textiles, through two merchants.
const LONE_DAY: (i32, u32, u32) = (2023, 9, 6);

/// `payment_daily` cells of two weeks of the window (2023-09-04 … 09-17): Beijing, Shanghai and
/// Zhejiang × 5 categories × 2 institutions, 1–12 merchants each (some below 3), except that on
/// 2023-09-06 only Zhejiang sells home textiles, through one institution and 2 merchants: the
/// national home-textiles margin of that day is that small cell alone.
fn cells() -> DataFrame {
    let lone = d(LONE_DAY.0, LONE_DAY.1, LONE_DAY.2);
    let mut rows: Vec<(NaiveDate, &str, &str, &str, i64, f64)> = Vec::new();
    let mut state = 7_u64;
    for date in d(2023, 9, 4).iter_days().take(14) {
        for region in ["110000", "310000", "330000"] {
            for (c, cat) in CATEGORIES.iter().enumerate() {
                for inst in ["bank_a", "wallet_b"] {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    let merchants = 1 + ((state >> 33) % 12) as i64;
                    if *cat == "home_textiles" && date == lone {
                        continue;
                    }
                    let amount = (1000 + (state >> 40) % 90_000) as f64 / 10.0 * (c + 1) as f64;
                    rows.push((date, inst, region, cat, merchants, amount));
                }
            }
        }
        if date == lone {
            rows.push((date, "bank_a", "330000", "home_textiles", 2, 4321.09));
        }
    }
    let n = rows.len();
    df!(
        "date" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        "institution" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
        "region_code" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        "mcc" => rows.iter().map(|r| format!("57{:02}", r.3.len())).collect::<Vec<_>>(),
        "category" => rows.iter().map(|r| r.3).collect::<Vec<_>>(),
        "channel" => vec!["offline"; n],
        "txn_count" => rows.iter().map(|r| r.4 * 3).collect::<Vec<_>>(),
        "amount_yuan" => rows.iter().map(|r| r.5).collect::<Vec<_>>(),
        "refund_amount_yuan" => vec![0.0; n],
        "net_amount_yuan" => rows.iter().map(|r| r.5).collect::<Vec<_>>(),
        "merchant_count" => rows.iter().map(|r| r.4).collect::<Vec<_>>(),
    )
    .expect("cells")
}

/// Whether a cell (region, category, date) belongs to a published figure's group: `region` `None`
/// is the nation, `category` `None` every category, `Some("all_targeted")` the targeted ones.
#[derive(Clone, Debug)]
struct Figure {
    region: Option<String>,
    category: Option<String>,
    days: Vec<NaiveDate>,
}

impl Figure {
    fn holds(&self, region: &str, category: &str, date: NaiveDate) -> bool {
        self.region.as_deref().is_none_or(|r| r == region)
            && match self.category.as_deref() {
                None => true,
                Some("all_targeted") => category != "supermarket",
                Some(c) => c == category,
            }
            && self.days.contains(&date)
    }
}

/// `baseline_daily` as the uplift writes it, for the cells: national and regional, each category and
/// `all_targeted`, each day; the baseline 90 % of the actual.
fn daily_margins(cells: &DataFrame) -> DataFrame {
    let (regions, cats, dates, nets) = cell_columns(cells);
    let mut out: (Vec<String>, Vec<String>, Vec<NaiveDate>, Vec<f64>) = Default::default();
    for region in ["000000", "110000", "310000", "330000"] {
        for cat in CATEGORIES.iter().copied().chain(["all_targeted"]) {
            for date in d(2023, 9, 4).iter_days().take(14) {
                let f = Figure {
                    region: (region != "000000").then(|| region.to_owned()),
                    category: Some(cat.to_owned()),
                    days: vec![date],
                };
                let actual: f64 = (0..nets.len())
                    .filter(|&i| f.holds(&regions[i], &cats[i], dates[i]))
                    .map(|i| nets[i])
                    .sum();
                out.0.push(region.to_owned());
                out.1.push(cat.to_owned());
                out.2.push(date);
                out.3.push(actual);
            }
        }
    }
    let n = out.0.len();
    let baseline: Vec<f64> = out.3.iter().map(|a| a * 0.9).collect();
    df!(
        "region_code" => out.0,
        "category" => out.1,
        "method" => vec!["two_year"; n],
        "date" => out.2,
        "actual_yuan" => out.3,
        "baseline_yuan" => baseline.clone(),
        "lower_yuan" => baseline.iter().map(|b| b * 0.95).collect::<Vec<_>>(),
        "upper_yuan" => baseline.iter().map(|b| b * 1.05).collect::<Vec<_>>(),
    )
    .expect("daily margins")
}

fn cell_columns(cells: &DataFrame) -> (Vec<String>, Vec<String>, Vec<NaiveDate>, Vec<f64>) {
    let text = |c: &str| -> Vec<String> {
        cells
            .column(c)
            .expect(c)
            .str()
            .expect("text")
            .iter()
            .map(|v| v.unwrap_or_default().to_owned())
            .collect()
    };
    let dates: Vec<NaiveDate> = cells
        .column("date")
        .expect("date")
        .cast(&DataType::Int32)
        .expect("days")
        .i32()
        .expect("days")
        .iter()
        .map(|v| d(1970, 1, 1) + chrono::Duration::days(i64::from(v.unwrap_or(0))))
        .collect();
    let nets: Vec<f64> = cells
        .column("net_amount_yuan")
        .expect("net")
        .f64()
        .expect("f64")
        .iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect();
    (text("region_code"), text("category"), dates, nets)
}

/// `cells` with the columns the published figures group by: `__targeted` (a targeted category),
/// `__week` (the Monday of the day's week) and `__window` (one value: the two weeks).
fn with_figure_columns(cells: &DataFrame, targeted: &[&str]) -> DataFrame {
    let (_, cats, dates, _) = cell_columns(cells);
    let mut out = cells.clone();
    out.with_column(Column::new(
        "__targeted".into(),
        cats.iter()
            .map(|c| targeted.contains(&c.as_str()))
            .collect::<Vec<bool>>(),
    ))
    .expect("targeted");
    out.with_column(Column::new(
        "__week".into(),
        dates
            .iter()
            .map(|day| homeseason_report::week_sunday(*day).to_string())
            .collect::<Vec<String>>(),
    ))
    .expect("week");
    out.with_column(Column::new("__window".into(), vec!["window"; dates.len()]))
        .expect("window");
    out
}

/// A frame's `suppressed` flags (empty as false).
fn suppressed_flags(frame: &DataFrame) -> Vec<bool> {
    frame
        .column("suppressed")
        .expect("flag")
        .bool()
        .expect("bool")
        .iter()
        .map(|v| v.unwrap_or(false))
        .collect()
}

/// Every figure that can be published over the cells of `grouped` ([`with_figure_columns`]), as
/// the columns it groups by and the cells it sums: each day, week and the window; by region and
/// nationally; by category, over the targeted categories and over all. The sum of the untargeted
/// categories (`__targeted` false) is no figure.
fn figure_groups(grouped: &DataFrame, cats: &[String]) -> Vec<(Vec<&'static str>, Vec<usize>)> {
    let mut out = Vec::new();
    for time in ["date", "__week", "__window"] {
        for region in [Some("region_code"), None] {
            for cat in [Some("category"), Some("__targeted"), None] {
                let cols: Vec<&str> = [Some(time), region, cat].into_iter().flatten().collect();
                for group in homeseason_ingest::margin_groups(grouped, &cols).expect("groups") {
                    if cat == Some("__targeted") && cats[group[0]] == "supermarket" {
                        continue;
                    }
                    out.push((cols.clone(), group));
                }
            }
        }
    }
    out
}

#[test]
fn a_margin_that_is_one_small_cell_is_a_gap_in_every_published_series_and_nothing_is_recovered() {
    let c = Campaign::default_2023();
    let cells = cells();
    let targeted: Vec<&str> = c.categories.targeted.iter().map(|t| t.id()).collect();
    let published = homeseason_ingest::Published::of(&c);
    let (dash, s) =
        homeseason_ingest::suppress_small_cells(&cells, 3, &published).expect("suppression");
    let lone = d(LONE_DAY.0, LONE_DAY.1, LONE_DAY.2);
    // The lone cell is a margin alone, and gets a box: no other region sells home textiles that
    // day, so the box is two days × two categories of Zhejiang, with the national figures of
    // those days and categories blanked.
    assert!(
        s.exposed_margins
            .contains(&format!("date={lone},category=home_textiles")),
        "{s:?}"
    );
    assert_eq!((s.boxes, s.unprotected.len()), (1, 0), "{s:?}");
    let margins = daily_margins(&cells);
    let blanked = homeseason_ingest::blank_exposed_margins(&margins, &s).expect("blank");
    let f = [uplift(), blanked.clone(), power(), triangulation()];
    let mut input = input(&c, &f, None);
    input.suppress_below = Some(3);
    let national = build(&input).expect("national report");
    let zhejiang = homeseason_report::build_region(&input, "330000").expect("Zhejiang's report");
    // The rows the dashboard copy of baseline_daily blanks, as (region, category, day).
    let mut renamed = blanked.clone();
    renamed
        .rename("actual_yuan", "net_amount_yuan".into())
        .expect("rename");
    let (b_regions, b_cats, b_dates, _) = cell_columns(&renamed);
    let b_flags = suppressed_flags(&blanked);
    let blanked_rows: Vec<(String, String, NaiveDate)> = (0..b_flags.len())
        .filter(|&i| b_flags[i])
        .map(|i| (b_regions[i].clone(), b_cats[i].clone(), b_dates[i]))
        .collect();
    assert!(blanked_rows.contains(&("000000".into(), "home_textiles".into(), lone)));
    assert!(blanked_rows.contains(&("330000".into(), "home_textiles".into(), lone)));
    // Each report's gaps are exactly its blanked rows (the nation's, Zhejiang's).
    for (report, code) in [(&national, "000000"), (&zhejiang, "330000")] {
        let mut gaps: Vec<(String, String, NaiveDate)> = report
            .series
            .iter()
            .flat_map(|s| {
                s.points
                    .iter()
                    .filter(|p| p.suppressed)
                    .map(|p| (s.region_code.clone(), s.category.clone(), p.date))
            })
            .collect();
        gaps.sort();
        let mut expected: Vec<(String, String, NaiveDate)> = blanked_rows
            .iter()
            .filter(|(r, cat, _)| r == code && cat != "supermarket")
            .cloned()
            .collect();
        expected.sort();
        assert_eq!(gaps, expected, "{code}");
        assert!(gaps.len() >= 4, "the lone day and its box: {gaps:?}");
        let visible = report
            .series
            .iter()
            .flat_map(|s| &s.points)
            .filter(|p| p.actual_yuan.is_some())
            .count();
        assert_eq!(
            visible,
            5 * 14 - gaps.len(),
            "every other point is published"
        );
        let note = "suppressed: fewer than 3 merchants 少于3家商户，不予公布";
        for text in [&report.html, &report.markdown] {
            assert!(text.contains(note), "the note is in the report");
            assert!(
                text.contains(&format!("{lone} 家纺 Home textiles: —")),
                "{note}"
            );
        }
    }
    // Without the gap, the published point would be the cell itself.
    let unblanked = [uplift(), margins.clone(), power(), triangulation()];
    let plain = build(&self::input(&c, &unblanked, None)).expect("report");
    let shown = plain
        .series
        .iter()
        .find(|s| s.name == "series_national_home_textiles")
        .and_then(|s| s.points.iter().find(|p| p.date == lone))
        .and_then(|p| p.actual_yuan);
    assert_eq!(shown, Some(4321.09));

    // The differencing attack on everything published: the dashboard copy's visible cells, the
    // report's daily series (national and Zhejiang), the dashboard baseline's visible rows (every
    // region and the nation, each category and all_targeted), region × day and national day over
    // all categories, and the sums over weeks and over the window that weekly_tracking and uplift
    // publish, for every region and the nation, category, all_targeted and all categories. The
    // figures are grouped by the library's grouping (`margin_groups`); the attack is the
    // independent `homeseason_test_support::recoverable`.
    let flags = suppressed_flags(&dash);
    let hidden: Vec<usize> = (0..flags.len()).filter(|&i| flags[i]).collect();
    assert!(
        hidden.len() > 1,
        "primary, complementary and secondary cells"
    );
    let grouped = with_figure_columns(&cells, &targeted);
    let (regions, cats, dates, _) = cell_columns(&cells);
    let daily_shown = |region: Option<&str>, cat: Option<&str>, day: NaiveDate| -> bool {
        let Some(cat) = cat else {
            return true; // over all categories: always published
        };
        let code = region.unwrap_or("000000");
        let in_report = [&national, &zhejiang].iter().any(|rep| {
            rep.series.iter().any(|s| {
                s.region_code == code
                    && s.category == cat
                    && s.points
                        .iter()
                        .any(|p| p.date == day && p.actual_yuan.is_some())
            })
        });
        let in_dashboard = !blanked_rows.contains(&(code.to_owned(), cat.to_owned(), day));
        in_report || in_dashboard
    };
    let mut figures: Vec<Vec<usize>> = Vec::new();
    for (cols, group) in figure_groups(&grouped, &cats) {
        let first = group[0];
        let cat_name = if cols.contains(&"category") {
            Some(cats[first].as_str())
        } else if cols.contains(&"__targeted") {
            Some("all_targeted")
        } else {
            None
        };
        let region_code = cols
            .contains(&"region_code")
            .then(|| regions[first].as_str());
        if cols[0] != "date" || daily_shown(region_code, cat_name, dates[first]) {
            figures.push(group);
        }
    }
    assert_eq!(
        homeseason_test_support::recoverable(&hidden, &figures),
        Vec::<usize>::new(),
        "{} suppressed cells, {} published figures: {s:?}",
        hidden.len(),
        figures.len()
    );
    // The attack is real. Remove the protection — the cells of the first pass hidden (primary
    // and complementary), only the lone cell's own daily figures blanked, every other figure
    // published — and the parents (all_targeted of that day, the week's and the window's totals)
    // minus their other parts give the lone cell.
    let (first, _) =
        homeseason_ingest::suppression_mask(&grouped, 3, &homeseason_ingest::PUBLISHED_MARGINS)
            .expect("first pass");
    let first: Vec<usize> = (0..first.len()).filter(|&i| first[i]).collect();
    let lone_cell: Vec<usize> = (0..cats.len())
        .filter(|&i| cats[i] == "home_textiles" && dates[i] == lone)
        .collect();
    assert_eq!(lone_cell.len(), 1);
    let unprotected: Vec<Vec<usize>> = figure_groups(&grouped, &cats)
        .into_iter()
        .map(|(_, group)| group)
        .filter(|group| *group != lone_cell)
        .collect();
    assert_eq!(
        homeseason_test_support::recoverable(&first, &unprotected),
        lone_cell
    );
    // And the gap itself gives nothing away: without the lone cell's parents, nothing is
    // recovered from the first pass either.
    let parents_removed: Vec<Vec<usize>> = unprotected
        .into_iter()
        .filter(|g| !g.contains(&lone_cell[0]))
        .collect();
    assert!(homeseason_test_support::recoverable(&first, &parents_removed).is_empty());
}

/// The town and country section (6.3): each class's uplift with its interval, the rural share
/// baseline → actual and its change, the unknown class's share and the 下乡 link as shown; a
/// region whose class figures are blank (suppressed) shows —.
#[test]
fn the_town_and_country_section_shows_each_class_the_share_and_the_link() {
    let c = Campaign::default_2023();
    let f = frames();
    let both = |v: f64| [Some(v), Some(v), None, None];
    let table = df!(
        "region_code" => ["000000", "000000", "330000", "330000"],
        "category" => ["all_targeted"; 4],
        "method" => ["prior_year", "two_year", "prior_year", "two_year"],
        "rural_uplift_pct" => both(21.5),
        "rural_lower_pct" => both(10.0),
        "rural_upper_pct" => both(33.0),
        "urban_uplift_pct" => both(8.3),
        "urban_lower_pct" => both(1.0),
        "urban_upper_pct" => both(16.0),
        "rural_share_pct" => both(28.2),
        "rural_share_baseline_pct" => both(24.8),
        "rural_share_change_pp" => both(3.4),
        "rural_share_change_lower_pp" => both(0.2),
        "rural_share_change_upper_pp" => both(6.3),
        "unknown_share_pct" => both(2.4),
        "countryside_weeks" => [Some(30i64), Some(30), None, None],
        "countryside_lift_pct" => both(12.0),
        "countryside_lift_lower_pct" => both(3.0),
        "countryside_lift_upper_pct" => both(22.0),
    )
    .expect("frame");
    let mut input = input(&c, &f, None);
    input.tables.urban_rural_uplift = Some(&table);
    let report = build(&input).expect("report");
    let md = &report.markdown;
    let section = &md[md
        .find("## 6.3 城乡 Town and country")
        .expect("the section")..];
    for shown in [
        "+21.5% [+10.0, +33.0]",
        "+8.3% [+1.0, +16.0]",
        "24.8% → 28.2%",
        "+3.4 pp [+0.2, +6.3]",
        "| 2.4% |",
        "+12.0% [+3.0, +22.0]（30 周 weeks）",
    ] {
        assert!(section.contains(shown), "{shown:?} not in {section}");
    }
    let zhejiang = section
        .lines()
        .find(|l| l.starts_with("| 浙江"))
        .unwrap_or_else(|| panic!("no Zhejiang row in {section}"));
    assert!(zhejiang.contains("| — | — | — | — | — | — |"), "{zhejiang}");
}
