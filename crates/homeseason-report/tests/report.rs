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

/// Campaign rows of `uplift` for two_year (the fallback of `auto` without a backtest), prior_year and
/// the regression: national and
/// Zhejiang, all targeted and each targeted category.
fn uplift() -> DataFrame {
    let mut cols: [Vec<String>; 4] = Default::default();
    let mut nums: Vec<[f64; 11]> = Vec::new();
    for (region, name) in [("000000", "全国"), ("330000", "浙江省")] {
        for cat in [
            "all_targeted",
            "home_appliances",
            "furniture",
            "home_textiles",
            "building_materials",
        ] {
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
    for c in [
        "all_targeted",
        "home_appliances",
        "furniture",
        "home_textiles",
        "building_materials",
    ] {
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
        method,
        windows: 4,
        cells: 760,
        bias_pp: 0.5,
        mae_pp: mae,
        coverage,
        error_band_pp: 10.0,
        conformal_factor: 1.1,
        calibrated_coverage: 0.9,
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
            doc.contains("unwidened interval: incremental 2.40 … 4.80 亿元")
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
    let col_str = |name: &str, i: usize| {
        f[0].column(name)
            .unwrap()
            .str()
            .unwrap()
            .get(i)
            .unwrap()
            .to_owned()
    };
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
