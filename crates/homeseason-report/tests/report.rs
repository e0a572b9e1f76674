//! What a reader sees in the report: the headline's scope, captions in words (no raw ids), the
//! planning table's basis, the triangulation's published/derived labels, and a report date outside
//! the window refused.

use chrono::NaiveDate;
use homeseason_report::{ExtraTables, IngestTotals, ReportError, ReportInput, build, validate};
use homeseason_schema::campaign::Campaign;
use polars::prelude::*;

fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, dd).expect("date")
}

/// Campaign rows of `uplift` for the primary method (two_year) and prior_year: national and
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
            for (method, pct) in [("two_year", 12.0), ("prior_year", 30.0)] {
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
        "actual" => col(0),
        "baseline" => col(1),
        "uplift_abs" => col(2),
        "uplift_pct" => col(3),
        "lower" => col(4),
        "upper" => col(5),
        "uplift_abs_lower" => col(6),
        "uplift_abs_upper" => col(7),
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
        "actual" => actual,
        "lower" => baseline.iter().map(|b| b * 0.95).collect::<Vec<_>>(),
        "upper" => baseline.iter().map(|b| b * 1.05).collect::<Vec<_>>(),
        "baseline" => baseline,
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
        "payments_lower" => [8.0, 8.0, 2.0],
        "payments_upper" => [16.0, 16.0, 14.0],
        "enterprise_uplift_pct" => [Some(10.0), Some(11.0), None],
        "enterprise_lower" => [Some(7.0), Some(8.0), None],
        "enterprise_upper" => [Some(13.0), Some(14.0), None],
        "payments_yoy_pct" => [Some(20.0), Some(3.0), Some(5.0)],
        "payments_yoy_lower" => [Some(16.0), Some(-1.0), Some(0.0)],
        "payments_yoy_upper" => [Some(24.0), Some(7.0), Some(10.0)],
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
    let c = Campaign::default_2023();
    let f = frames();
    let r = build(&input(&c, &f, None)).expect("report");
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
    let c = Campaign::default_2023();
    let f = frames();
    let r = build(&input(&c, &f, None)).expect("report");
    let section = &r.markdown[r.markdown.find("最小可检测效应").expect("power section")..];
    let section = &section[..section.find("## 5").expect("next section")];
    assert!(
        section.contains("10 placebo windows per region"),
        "{section}"
    );
    assert!(
        section.contains("| 10/10 窗口 windows |"),
        "power as a count of windows: {section}"
    );
    assert!(
        section.contains("| 1/10 窗口 windows |"),
        "false positives as a count: {section}"
    );
    assert!(
        !section.contains("100%") && !section.contains("100 %"),
        "no bare 100 %: {section}"
    );
    assert!(
        section.contains("unreliable: false-positive rate 0.50 > 2 × alpha"),
        "{section}"
    );
    assert!(
        section.contains("The false-positive rate of 福建 350000 is above 2 × alpha"),
        "{section}"
    );
}

#[test]
fn triangulation_rows_are_labelled_published_or_derived() {
    let c = Campaign::default_2023();
    let f = frames();
    let r = build(&input(&c, &f, None)).expect("report");
    let md = &r.markdown[r
        .markdown
        .find("## 6 三方印证")
        .expect("triangulation section")..];
    let md = &md[..md.find("## 7").expect("next section")];
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
    let c = Campaign::default_2023();
    let f = frames();
    let r = build(&input(&c, &f, None)).expect("report");
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
