//! Snapshot tests (insta): what readers see, pinned so a change to it shows in review. On the sample
//! season: the report's headline, triangulation and data/completeness sections (Markdown and HTML) and
//! one SVG chart; `ingest --json` and the on-screen reject report of a file with bad rows. Update with
//! `cargo insta review` (or `INSTA_UPDATE=always`) after checking the diff.

use std::path::Path;

use crate::util::{demo_dir, ingest};
use homeseason_test_support::DAILY_WITH_BAD_ROWS as DAILY;

/// The Markdown sections whose heading starts with `## {n} `.
fn md_section(md: &str, n: u32) -> String {
    let head = format!("## {n} ");
    let start = md.find(&head).unwrap_or_else(|| panic!("no section {n}"));
    let rest = &md[start..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 4);
    rest[..end].trim_end().to_owned()
}

/// The HTML from the `<h2>` whose text starts with `{n} ` to the next `<h2>`.
fn html_section(html: &str, n: u32) -> String {
    let head = format!("<h2>{n} ");
    let start = html
        .find(&head)
        .unwrap_or_else(|| panic!("no HTML section {n}"));
    let rest = &html[start..];
    let end = rest[4..].find("<h2").map_or(rest.len(), |i| i + 4);
    rest[..end].trim_end().to_owned()
}

#[test]
fn report_sections_on_the_sample_season() {
    let report = demo_dir().join("report");
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    insta::assert_snapshot!("report_md_headline", md_section(&md, 1));
    insta::assert_snapshot!("report_md_triangulation", md_section(&md, 6));
    insta::assert_snapshot!("report_md_data_and_completeness", md_section(&md, 8));
    insta::assert_snapshot!("report_html_headline", html_section(&html, 1));
    insta::assert_snapshot!("report_html_triangulation", html_section(&html, 6));
    insta::assert_snapshot!("report_html_data_and_completeness", html_section(&html, 8));
    let svg = std::fs::read_to_string(report.join("charts/activities_by_week.svg")).unwrap();
    insta::assert_snapshot!("chart_activities_by_week_svg", svg);
}

fn scrub(text: &str, dir: &Path) -> String {
    text.replace(dir.to_str().unwrap(), "<tmp>")
}

#[test]
fn ingest_json_and_the_reject_report() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("in/payment_daily_test_2023-09.csv");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, DAILY).unwrap();
    let lake = tmp.path().join("lake");
    let json = ingest(&lake, &["--json"], &[&file]);
    insta::assert_snapshot!("ingest_json", scrub(&json, tmp.path()));
    let lake2 = tmp.path().join("lake2");
    let screen = ingest(&lake2, &[], &[&file]);
    insta::assert_snapshot!("ingest_reject_report", scrub(&screen, tmp.path()));
}
