//! A province's city-level report (issue 18 part 5): the sample season → `uplift --level city` →
//! `report --level city --region 330000`, with the region section and tile map replaced by
//! Zhejiang's cities (table, bar chart, workbook sheet).
//!
//! Not registered in `main.rs` until the `payment_area_daily` writer (helper "area") is merged: the
//! demo's lake holds no area rows before it.

use calamine::Reader as _;

use crate::util::{demo_dir, fails, ok};

#[test]
fn a_province_gets_its_city_level_report() {
    let demo = demo_dir();
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    homeseason_test_support::copy_dir(&demo.join("lake"), &lake);
    let lake_s = lake.to_str().unwrap();
    let province_uplift = || {
        homeseason_lake::Lake::open(&lake)
            .unwrap()
            .read_table(homeseason_schema::contract::tables::UPLIFT)
            .unwrap()
    };
    let before = province_uplift();

    // Zhejiang's cities only: a folder of their own, the province-level tables untouched.
    let said = ok(&[
        "uplift",
        "--lake",
        lake_s,
        "--level",
        "city",
        "--region",
        "浙江",
        "--methods",
        "prior_year,two_year",
    ]);
    assert!(said.contains("浙江"), "{said}");
    assert!(said.contains("carry no city"), "{said}");
    assert!(
        province_uplift().equals_missing(&before),
        "the province-level uplift is not overwritten"
    );
    let city_lake = lake.join("levels/city/330000");
    let uplift = homeseason_lake::Lake::open(&city_lake)
        .unwrap()
        .read_table(homeseason_schema::contract::tables::UPLIFT)
        .unwrap();
    let codes: std::collections::BTreeSet<String> = crate::util::texts(&uplift, "region_code")
        .into_iter()
        .collect();
    assert!(codes.contains("330100"), "Hangzhou: {codes:?}");
    assert!(codes.contains("000000"), "the cities' total: {codes:?}");
    assert!(
        codes.iter().all(|c| c == "000000" || c.starts_with("33")),
        "only Zhejiang's cities: {codes:?}"
    );
    let scope = crate::util::read_json(&city_lake.join("scope.json"));
    assert_eq!(scope["scope"], "330000");
    assert!(scope["cities"].as_u64().unwrap() >= 2, "{scope}");

    // The city-level report of Zhejiang.
    let out = tmp.path().join("zj-cities");
    let out_s = out.to_str().unwrap();
    ok(&[
        "report", "--lake", lake_s, "--out", out_s, "--level", "city", "--region", "330000",
    ]);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    for text in [&html, &md] {
        assert!(text.contains("3 分城市 By city"), "the cities section");
        assert!(text.contains("杭州市"), "Hangzhou by name");
        assert!(!text.contains("3 分地区 By region"), "no region section");
        assert!(!text.contains("uplift_tilemap"), "no tile map");
        // The headline counts Zhejiang's cities, not the nation's 37 regions.
        assert!(
            text.contains("浙江省区间高于零的城市")
                && text.contains("Cities of 浙江省 with their interval above zero"),
            "the cities' count"
        );
        assert!(!text.contains("37 / 37"), "no national region count");
        // How much of the province's payments the cities stand on, and how noisy they are.
        assert!(text.contains("覆盖范围：各城市合计"), "the cities' share");
        assert!(text.contains("of the province's"), "the cities' share");
        assert!(text.contains("Noise: city series are small"), "the noise");
        assert!(!text.contains("-0.0"), "no negative zero");
    }
    assert!(out.join("charts/uplift_by_city.png").is_file());
    assert!(!out.join("charts/uplift_tilemap.png").exists());
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook(out.join("workbook.xlsx")).expect("workbook opens");
    assert!(
        book.sheet_names().iter().any(|n| n == "分城市 By city"),
        "{:?}",
        book.sheet_names()
    );
    let range = book.worksheet_range("分城市 By city").expect("city sheet");
    assert!(range.height() >= 3 + 2, "{}", range.height());
    let notes: Vec<String> = range
        .rows()
        .filter_map(|r| r.first().map(ToString::to_string))
        .filter(|t| t.starts_with("覆盖范围") || t.starts_with("噪声"))
        .collect();
    assert_eq!(
        notes.len(),
        2,
        "coverage and noise under the table: {notes:?}"
    );

    // A city report is a province's; without a city-level estimate it says what to run.
    fails(&[
        "report", "--lake", lake_s, "--out", out_s, "--level", "city",
    ]);
    let fresh = tmp.path().join("fresh");
    homeseason_test_support::copy_dir(&demo.join("lake"), &fresh);
    let err = fails(&[
        "report",
        "--lake",
        fresh.to_str().unwrap(),
        "--out",
        out_s,
        "--level",
        "city",
        "--region",
        "320000",
    ]);
    assert!(err.contains("uplift --level city"), "{err}");
}

/// A dense season's city estimates are scored against its `truth_cities.csv` (issue 18 part 5):
/// `homeseason score` reads the truth's code columns as text, so `reporting_region_code`'s `XPCC`
/// after more than a hundred six-digit codes (Zhejiang's and Guangdong's cities) is read, not
/// inferred as an integer and refused.
#[test]
fn a_dense_seasons_city_estimates_are_scored_against_truth_cities() {
    let tmp = tempfile::tempdir().unwrap();
    let campaign = tmp.path().join("campaign.toml");
    std::fs::write(
        &campaign,
        homeseason_schema::campaign::DEFAULT_TOML.replace(
            "include = \"all\"",
            "include = [\"330000\", \"440000\", \"XPCC\"]",
        ),
    )
    .unwrap();
    let (campaign, season, lake) = (
        campaign.to_str().unwrap().to_owned(),
        tmp.path().join("season"),
        tmp.path().join("lake"),
    );
    let (season_s, lake_s) = (season.to_str().unwrap(), lake.to_str().unwrap());
    let with = |args: &[&str]| -> String {
        let mut all = vec!["--campaign", campaign.as_str()];
        all.extend_from_slice(args);
        ok(&all)
    };
    with(&[
        "synth", "--out", season_s, "--areas", "dense", "--seed", "3",
    ]);
    let truth = season.join("truth_cities.csv");
    let text = std::fs::read_to_string(&truth).unwrap();
    let first_xpcc = text.lines().position(|l| l.ends_with(",XPCC")).unwrap();
    assert!(first_xpcc > 100, "XPCC's first row is {first_xpcc}");
    with(&[
        "ingest",
        "--lake",
        lake_s,
        season.join("payments").to_str().unwrap(),
    ]);
    with(&[
        "uplift",
        "--lake",
        lake_s,
        "--level",
        "city",
        "--methods",
        "two_year",
    ]);
    let said = with(&[
        "score",
        "--lake",
        lake.join("levels/city/000000").to_str().unwrap(),
        "--truth",
        truth.to_str().unwrap(),
        "--json",
    ]);
    let scores: serde_json::Value = serde_json::from_str(&said).unwrap();
    let rows = scores.as_array().expect("rows");
    let two_year = rows
        .iter()
        .find(|r| r["method"] == "two_year")
        .unwrap_or_else(|| panic!("{said}"));
    // Scale 1: few city × category cells have the two years of history (4 on seed 3).
    assert!(two_year["cells"].as_f64().unwrap() >= 1.0, "{said}");
}
