//! `homeseason impact`: the counterfactual regression on an analyst's own series.

use std::fmt::Write as _;
use std::path::Path;

use crate::util::{assert_contains_all, entry, fails, ok, read_json};

/// A daily target that follows two controls (each with its own noise) with weekday rhythm, and
/// `effect` added from 2023-09-01 on. Deterministic pseudo-noise.
fn series(effect: f64) -> String {
    let mut csv = String::from("date,sales,supermarket,restaurant\n");
    let start = chrono::NaiveDate::from_ymd_opt(2022, 1, 1).unwrap();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let mut econ = 0.0f64;
    for (t, d) in start.iter_days().take(730).enumerate() {
        econ = 0.95 * econ + 0.01 * noise();
        let weekend = matches!(
            chrono::Datelike::weekday(&d),
            chrono::Weekday::Sat | chrono::Weekday::Sun
        );
        let season = 1.0 + 0.1 * (t as f64 * std::f64::consts::TAU / 365.25).sin();
        let base = 1000.0 * econ.exp() * season;
        let x1 = base * 4.0 * (1.0 + 0.01 * noise());
        let x2 = base * 3.0 * (1.0 + 0.01 * noise());
        let mut y = base * if weekend { 1.3 } else { 1.0 } * (1.0 + 0.02 * noise());
        if d >= chrono::NaiveDate::from_ymd_opt(2023, 9, 1).unwrap() {
            y *= 1.0 + effect;
        }
        writeln!(csv, "{d},{y:.2},{x1:.2},{x2:.2}").unwrap();
    }
    csv
}

fn run(effect: f64) -> serde_json::Value {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("series.csv");
    std::fs::write(&input, series(effect)).unwrap();
    let (text, json) = impact(&input, &["--draws", "400"]);
    assert_contains_all(
        &text,
        &[
            "Actual",
            "Prediction (s.d.)",
            "Relative effect (s.d.)",
            "p-value (two-sided, no effect)",
        ],
        "summary",
    );
    json
}

/// `homeseason impact` of the series at `input` (sales against the two covariates, with weekday
/// effects; pre-period 2022-01-01 – 2023-08-31, post-period 2023-09-01 – 2023-12-31) with `extra`
/// arguments: the printed summary and the `--json` output (written beside `input`).
fn impact(input: &Path, extra: &[&str]) -> (String, serde_json::Value) {
    let json = input.with_extension("json");
    let mut args = vec![
        "impact",
        input.to_str().unwrap(),
        "--target",
        "sales",
        "--covariates",
        "supermarket,restaurant",
        "--weekday",
        "--pre",
        "2022-01-01:2023-08-31",
        "--post",
        "2023-09-01:2023-12-31",
    ];
    args.extend_from_slice(extra);
    args.extend(["--json", json.to_str().unwrap()]);
    let text = ok(&args);
    let value = read_json(&json);
    (text, value)
}

#[test]
fn impact_recovers_a_known_effect_with_its_interval() {
    let j = run(0.10);
    let rel = &j["cumulative"]["relative_effect"];
    let (v, lo, hi) = (
        rel["value"].as_f64().unwrap(),
        rel["lower"].as_f64().unwrap(),
        rel["upper"].as_f64().unwrap(),
    );
    assert!((v - 0.10).abs() < 0.02, "relative effect {v}");
    assert!(
        lo < 0.10 && 0.10 < hi,
        "interval [{lo}, {hi}] misses the true 10 %"
    );
    assert!(j["p_value"].as_f64().unwrap() < 0.05);
    assert_eq!(j["effect_sign"], 1);
    assert!(j.get("tail_probability").is_none(), "one p-value");
    assert_eq!(
        j["post_period"],
        serde_json::json!(["2023-09-01", "2023-12-31"])
    );
    assert_eq!(
        j["points"].as_array().unwrap().len(),
        122,
        "one point per post-period day"
    );
}

#[test]
fn impact_without_an_effect_is_not_significant() {
    let j = run(0.0);
    let rel = &j["cumulative"]["relative_effect"];
    let (lo, hi) = (
        rel["lower"].as_f64().unwrap(),
        rel["upper"].as_f64().unwrap(),
    );
    assert!(
        lo < 0.0 && 0.0 < hi,
        "interval [{lo}, {hi}] should cover zero"
    );
    assert!(j["p_value"].as_f64().unwrap() > 0.1);
}

#[test]
fn impact_names_the_missing_column_and_a_bad_period() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("s.csv");
    std::fs::write(&input, "t,y\n1,10\n2,11\n3,12\n").unwrap();
    for (target, pre, post, named) in [
        ("sales", "1:2", "3:3", "\"sales\""),
        ("y", "1:3", "2:3", "--post must start after --pre"),
    ] {
        let err = fails(&[
            "impact",
            input.to_str().unwrap(),
            "--time",
            "t",
            "--target",
            target,
            "--pre",
            pre,
            "--post",
            post,
        ]);
        assert!(err.contains(named), "--target {target}: {err}");
    }
}

/// Dates absent from the file are missing days on the series' own (daily) spacing, not skipped:
/// the post-period keeps one point per calendar day, the absent ones unobserved, and the weekday
/// dummies stay aligned; the error model is chosen (or pinned with --model) and reported.
#[test]
fn impact_treats_absent_dates_as_missing_days() {
    let full = series(0.10);
    let mut lines: Vec<&str> = full.lines().collect();
    // Drop 5 pre-period days and 2 post-period days.
    for day in [
        "2022-03-01",
        "2022-03-02",
        "2022-07-15",
        "2023-02-10",
        "2023-06-30",
        "2023-10-05",
        "2023-11-20",
    ] {
        let at = lines
            .iter()
            .position(|l| l.starts_with(day))
            .expect("day in the series");
        lines.remove(at);
    }
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("holed.csv");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let run = |model: &str| {
        let (text, j) = impact(&input, &["--draws", "300", "--model", model]);
        assert!(text.contains("7 period(s) absent"), "{text}");
        (text, j)
    };
    let (_, j) = run("auto");
    assert_eq!(j["missing_periods"], 7);
    assert_eq!(
        j["points"].as_array().unwrap().len(),
        122,
        "one point per calendar day"
    );
    assert_eq!(j["days_used"], 120);
    let absent = entry(&j["points"], "time", "2023-10-05");
    assert!(absent["actual"].is_null());
    assert_eq!(j["model_scores"].as_array().unwrap().len(), 2);
    let rel = j["cumulative"]["relative_effect"]["value"]
        .as_f64()
        .unwrap();
    assert!((rel - 0.10).abs() < 0.02, "relative effect {rel}");
    assert!(j["p_value"].as_f64().unwrap() < 0.05);
    let (text, j) = run("local-level");
    assert!(text.contains("local level"), "{text}");
    assert_eq!(j["error_model"], "local level (random walk) + noise");
    let rel = &j["cumulative"]["relative_effect"];
    assert!(
        rel["lower"].as_f64().unwrap() < 0.10 && 0.10 < rel["upper"].as_f64().unwrap(),
        "{rel}"
    );
}
