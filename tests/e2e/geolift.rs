//! `homeseason geolift` on GeoLift's own example data (reproduction through the CLI's `--json`),
//! several cells, staggered starts, Parquet input and power; and the local-event tables the
//! pipeline writes for the sample season.
//!
//! The GeoLift example files are the repository's copies in `tests/fixtures/benchmarks/geolift/`
//! (MIT, with their licence and source beside them).

use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde_json::Value;

use crate::util::{
    assert_contains_all, demo_dir, entry, fails, homeseason, ok, read_csv, read_json, read_parquet,
};
use homeseason_test_support::assert_close;

fn benchmark(file: &str) -> PathBuf {
    let path = homeseason_test_support::fixtures_dir()
        .join("benchmarks/geolift")
        .join(file);
    assert!(
        path.is_file(),
        "GeoLift example data not found at {} (tests/fixtures/benchmarks/geolift/ in the repository)",
        path.display()
    );
    path
}

/// The walkthrough's test: Chicago and Portland treated from period 91 to 105.
const WALKTHROUGH: [&str; 6] = [
    "--treated",
    "chicago,portland",
    "--start",
    "91",
    "--end",
    "105",
];

/// GeoLift's own inference: single days permuted and the statistic Σ|u| (homeseason's default is
/// blocks of days and |Σu|).
const GEOLIFT_INFERENCE: [&str; 4] = ["--permutations", "iid", "--statistic", "sum-abs"];

/// Run `homeseason geolift ARGS --json FILE` and parse the JSON.
fn geolift_json(args: &[&str]) -> Value {
    let tmp = tempfile::tempdir().expect("temp dir");
    let json = tmp.path().join("out.json");
    let mut all = vec!["geolift"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--json", json.to_str().expect("utf-8")]);
    let stdout = ok(&all);
    assert!(stdout.contains("JSON →"), "{stdout}");
    read_json(&json)
}

fn f(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {v}"))
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn geolift_cli_reproduces_the_published_walkthrough() {
    let data = benchmark("GeoLift_Test.csv");
    let out = geolift_json(
        &[
            &[
                path_str(&data),
                "--unit",
                "location",
                "--time",
                "date",
                "--outcome",
                "Y",
            ][..],
            &WALKTHROUGH,
            // GeoLift's own inference and its jackknife+ interval.
            &GEOLIFT_INFERENCE,
            &["--interval", "jackknife"],
        ]
        .concat(),
    );
    assert_eq!(
        (out["units"].as_u64(), out["periods"].as_u64()),
        (Some(40), Some(105))
    );
    let cells = out["cells"].as_array().expect("cells");
    assert_eq!(cells.len(), 1);
    let c = &cells[0];
    // Published: ATT 155.556, Percent Lift 5.4%, Incremental Y 4667, p ≈ 0.01.
    let att = f(c, "att");
    assert!((att - 155.556).abs() / 155.556 < 0.02, "ATT {att}");
    let lift = f(c, "lift_pct");
    assert!((lift - 5.4).abs() < 0.2, "lift {lift}");
    assert!(f(c, "p_value") < 0.05, "p {}", f(c, "p_value"));
    assert_eq!(f(c, "incremental").round(), 4667.0);
    assert_close(f(c, "scaled_l2_imbalance"), 0.1636, 0.5e-4, "scaled L2");
    // The published 90% interval of the incremental outcome (jackknife+ fallback).
    assert_eq!(c["interval_method"], "jackknife_plus");
    assert!((f(c, "incremental_lower") - -2450.734).abs() < 0.01, "{c}");
    assert!((f(c, "incremental_upper") - 11349.93).abs() < 0.01, "{c}");
    assert_eq!(
        (c["start_time"].as_str(), c["end_time"].as_str()),
        (Some("2021-04-01"), Some("2021-04-15"))
    );
    assert_eq!(
        (c["start_period"].as_u64(), c["end_period"].as_u64()),
        (Some(91), Some(105))
    );
    assert_eq!(c["donors"].as_u64(), Some(38));
    let cincinnati = entry(&c["weights"], "unit", "cincinnati");
    assert!((f(cincinnati, "weight") - 0.2272).abs() <= 0.5e-4);
    assert_eq!(c["series"].as_array().map(Vec::len), Some(105));

    // The same test with dates instead of period numbers, and the default column names.
    let by_date = geolift_json(
        &[
            &[path_str(&data), "--treated", "chicago,portland"][..],
            &["--start", "2021-04-01", "--end", "2021-04-15"],
            &GEOLIFT_INFERENCE,
            &["--interval", "jackknife"],
        ]
        .concat(),
    );
    assert_eq!(by_date["cells"][0]["att"], c["att"]);
    assert_eq!(by_date["cells"][0]["p_value"], c["p_value"]);

    // The printed summary reads like GeoLift's.
    let text = ok(&[&["geolift", path_str(&data)][..], &WALKTHROUGH].concat());
    assert_contains_all(
        &text,
        &[
            "Average treatment effect (ATT): 155.556",
            "Percent lift: 5.4%",
            "Incremental outcome: 4667",
            "scaled L2 imbalance 0.1636",
            "cincinnati 0.2272",
        ],
        "summary",
    );
}

#[test]
fn geolift_cli_runs_several_cells_and_staggered_starts() {
    // GeoLift_Test_MultiCell: chicago + cincinnati ×1.30 and honolulu + indianapolis ×1.18 on days 91–105.
    let data = benchmark("GeoLift_Test_MultiCell.csv");
    let out = geolift_json(&[
        path_str(&data),
        "--cell",
        "cell 1=chicago,cincinnati:91:105",
        "--cell",
        "cell 2=honolulu,indianapolis:91:105",
    ]);
    let cells = out["cells"].as_array().expect("cells");
    assert_eq!(cells.len(), 2);
    assert_eq!(
        (cells[0]["name"].as_str(), cells[1]["name"].as_str()),
        (Some("cell 1"), Some("cell 2"))
    );
    for c in cells {
        assert_eq!(c["donors"].as_u64(), Some(36), "donors exclude both cells");
        assert!(f(c, "att") > 0.0 && f(c, "p_value") < 0.05, "{c}");
        // The interval is the inverted test: it excludes zero as p < 0.1 says (cell 2's lies beside
        // its estimate — the refit moves the synthetic control — and carries a warning).
        assert_eq!(c["interval_method"], "conformal");
        assert!(
            f(c, "att_lower") > 0.0 && c["interval_excludes_zero"] == true,
            "{c}"
        );
    }
    assert!(f(&cells[0], "lift_pct") > f(&cells[1], "lift_pct") && f(&cells[1], "lift_pct") > 0.0);
    assert!((15.0..35.0).contains(&f(&cells[0], "lift_pct")));

    // Staggered: two cohorts of one event starting on different days, pooled.
    let stag = geolift_json(&[
        path_str(&data),
        "--cell",
        "early=chicago,cincinnati:91:105",
        "--cell",
        "late=honolulu,indianapolis:96:105",
        "--pool",
    ]);
    let cells = stag["cells"].as_array().expect("cells");
    assert_eq!(
        (
            cells[0]["start_period"].as_u64(),
            cells[1]["start_period"].as_u64()
        ),
        (Some(91), Some(96))
    );
    // A cell's result does not depend on the other cells: "early" equals "cell 1" above.
    assert_eq!(cells[0]["att"], out["cells"][0]["att"]);
    let pooled = &stag["pooled"];
    let sum = f(&cells[0], "incremental") + f(&cells[1], "incremental");
    assert!((f(pooled, "incremental") - sum).abs() < 1e-6 * sum.abs());
    assert_eq!(pooled["unit_periods"].as_u64(), Some(2 * 15 + 2 * 10));
    assert!(f(pooled, "p_value") <= 1.0);
}

#[test]
fn geolift_cli_reads_parquet_and_rejects_bad_input() {
    let data = benchmark("GeoLift_Test.csv");
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut frame = CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(data.clone()))
        .expect("csv opens")
        .finish()
        .expect("csv reads");
    let pq = tmp.path().join("panel.parquet");
    let mut file = std::fs::File::create(&pq).expect("create");
    ParquetWriter::new(&mut file)
        .finish(&mut frame)
        .expect("parquet");
    let out = geolift_json(&[&[path_str(&pq)][..], &WALKTHROUGH].concat());
    assert_close(f(&out["cells"][0], "att"), 155.556, 1e-3, "ATT");

    // Bad input is refused, naming what is wrong where the case gives a word to look for (a start
    // after the data only has to fail).
    let cases: [(&[&str], &str); 3] = [
        (&["--treated", "atlantis", "--start", "91"], "atlantis"),
        (
            &[
                "--outcome",
                "sales",
                "--treated",
                "chicago",
                "--start",
                "91",
            ],
            "sales",
        ),
        (&["--treated", "chicago", "--start", "2030-01-01"], ""),
    ];
    for (args, named) in cases {
        let mut all = vec!["geolift", path_str(&data)];
        all.extend_from_slice(args);
        let err = fails(&all);
        assert!(err.contains(named), "{args:?} should name {named}: {err}");
    }
}

#[test]
fn geolift_cli_power_gives_the_published_minimum_detectable_effect() {
    // Walkthrough: GeoLiftPower on GeoLift_PreTest, chicago + portland, 15 days → MDE 10%.
    let data = benchmark("GeoLift_PreTest.csv");
    let out = geolift_json(
        &[
            &[path_str(&data), "--power", "--treated", "chicago,portland"][..],
            &[
                "--duration",
                "15",
                "--windows",
                "27",
                "--effects",
                "0,2,4,6,8,10,12",
            ],
            // GeoLift's inference, as in its walkthrough (homeseason's default block permutations
            // and |Σu| give 6% here).
            &GEOLIFT_INFERENCE,
        ]
        .concat(),
    );
    let p = &out["power"][0];
    assert_eq!(p["duration"].as_u64(), Some(15));
    assert_eq!(p["windows"].as_array().map(Vec::len), Some(27));
    assert!((f(p, "mde_pct") - 10.0).abs() < 1e-9, "{p}");
    assert!(
        f(&p["curve"][0], "power") <= 0.1,
        "no effect is rarely detected: {p}"
    );
}

/// The demo (default sample season) writes the local-event tables, and the injected extra uplift
/// of the local events lies inside the estimated lift interval in at least 85% of the event ×
/// category cells (the 5-seed check is in homeseason-metrics' `tests/local_events.rs`).
#[test]
fn demo_writes_local_event_tables_that_recover_the_injected_events() {
    let out = demo_dir();
    let lake = out.join("lake");
    for t in [
        "local_events",
        "local_event_weights",
        "local_event_series",
        "local_event_power",
    ] {
        assert!(lake.join(t).join("data.parquet").is_file(), "{t} missing");
    }
    let events = read_parquet(&lake.join("local_events/data.parquet"));
    let truth = read_csv(&out.join("sample/truth_local_events.csv"));
    assert_eq!(
        events.height(),
        truth.height(),
        "every event × (4 categories + all_targeted), as in the truth"
    );
    let joined = events
        .clone()
        .lazy()
        .join(
            truth
                .clone()
                .lazy()
                .with_column(col("event_start").str().to_date(StrptimeOptions {
                    format: Some("%Y-%m-%d".into()),
                    ..Default::default()
                })),
            [col("region_code"), col("event_start"), col("category")],
            [col("region_code"), col("event_start"), col("category")],
            JoinArgs::new(JoinType::Inner),
        )
        .with_column(
            col("extra_uplift_pct_during_event")
                .gt_eq(col("lift_lower_pct"))
                .and(col("extra_uplift_pct_during_event").lt_eq(col("lift_upper_pct")))
                .alias("covered"),
        )
        .collect()
        .expect("join");
    assert_eq!(joined.height(), events.height());
    let covered = joined
        .column("covered")
        .expect("covered")
        .bool()
        .expect("bool")
        .sum()
        .unwrap_or(0);
    let rate = f64::from(covered) / joined.height() as f64;
    assert!(rate >= 0.85, "coverage {rate}\n{joined}");

    let weights = read_parquet(&lake.join("local_event_weights/data.parquet"));
    let sums = weights
        .lazy()
        .group_by([col("region_code"), col("category"), col("event_start")])
        .agg([col("weight").sum()])
        .collect()
        .expect("sums");
    assert_eq!(sums.height(), events.height());
    for w in sums
        .column("weight")
        .expect("weight")
        .f64()
        .expect("f64")
        .into_no_null_iter()
    {
        assert!((w - 1.0).abs() < 1e-6, "weights sum to one: {w}");
    }
    let series = read_parquet(&lake.join("local_event_series/data.parquet"));
    let event_days: i64 = events
        .column("event_days")
        .expect("days")
        .i64()
        .expect("i64")
        .sum()
        .unwrap_or(0);
    let in_event = series
        .column("in_event")
        .expect("in_event")
        .bool()
        .expect("bool")
        .sum()
        .unwrap_or(0);
    assert_eq!(i64::from(in_event), event_days);
    let power = read_parquet(&lake.join("local_event_power/data.parquet"));
    assert_eq!(
        power.height(),
        2 * (truth.height() / 5),
        "14 and 28 days per local-station region (the truth has 5 rows per event)"
    );
}

/// `homeseason geolift --tbr`: google/matched_markets' TBR example through the CLI reproduces its
/// published incremental response (147337.1) and iROAS (2.946742, one-sided 90% lower 2.826194).
#[test]
fn geolift_cli_tbr_reproduces_matched_markets() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/benchmarks/tbr_matched_markets");
    let data = dir.join("salesandcost.csv");
    let assignment = dir.join("geoassignment.csv");
    let out = geolift_json(&[
        path_str(&data),
        "--tbr",
        "--unit",
        "geo",
        "--time",
        "date",
        "--outcome",
        "sales",
        "--cost",
        "cost",
        "--assignment",
        path_str(&assignment),
        "--pre-start",
        "2015-01-05",
        "--start",
        "2015-02-16",
        "--end",
        "2015-03-15",
    ]);
    let resp = &out["response"];
    assert!((f(resp, "estimate") - 147_337.122).abs() < 0.01, "{resp}");
    assert_eq!(resp["effect_sign"], 1);
    let iroas = &out["iroas"];
    assert!((f(iroas, "estimate") - 2.946_742).abs() < 1e-6, "{iroas}");
    assert!((f(iroas, "lower") - 2.826_194).abs() < 1e-6, "{iroas}");
    assert_eq!(iroas["fixed_cost"], true);
    assert_eq!(
        (
            out["treatment_units"].as_u64(),
            out["control_units"].as_u64()
        ),
        (Some(50), Some(50))
    );
}

/// The summary never says "significant" beside an interval covering zero, always names the
/// interval method, prints no `inf%`, and unbalanced panels can be zero-filled.
#[test]
fn geolift_cli_summary_is_consistent_and_fills_gaps() {
    let data = benchmark("GeoLift_Test.csv");
    let text = ok(&[&["geolift", path_str(&data)][..], &WALKTHROUGH].concat());
    assert!(
        text.contains("conformal: the inverted permutation test"),
        "{text}"
    );
    assert!(text.contains("blocks of 7 periods"), "{text}");
    assert!(text.contains("p-value (two-sided, no effect):"), "{text}");
    assert!(
        text.contains("not significant"),
        "p 0.30 with an interval covering 0:\n{text}"
    );
    assert!(!text.contains("inf"), "{text}");
    // GeoLift's own test: p 0.014, jackknife+ interval covering zero — the summary does not call
    // it significant and warns about the fallback.
    let text = ok(&[
        &["geolift", path_str(&data)][..],
        &WALKTHROUGH,
        &GEOLIFT_INFERENCE,
    ]
    .concat());
    assert!(
        text.contains("interval covers zero: not significant"),
        "{text}"
    );
    assert!(
        text.contains("Warning: the conformal set is empty"),
        "{text}"
    );

    // Drop two rows: refused by default, zero-filled or dropped on request.
    let csv = std::fs::read_to_string(&data).expect("read");
    let mut lines: Vec<&str> = csv.lines().collect();
    let gap = lines
        .iter()
        .position(|l| l.starts_with("austin,") && l.ends_with("2021-01-10"))
        .expect("an austin row");
    lines.remove(gap);
    let tmp = tempfile::tempdir().expect("temp dir");
    let holed = tmp.path().join("holed.csv");
    std::fs::write(&holed, lines.join("\n") + "\n").expect("write");
    let holed_test = [path_str(&holed), "--treated", "chicago", "--start", "91"];
    let refused = homeseason(&[&["geolift"][..], &holed_test].concat());
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--fill"));
    let zero = geolift_json(&[&holed_test[..], &["--fill", "zero"]].concat());
    assert_eq!(zero["zero_filled"].as_u64(), Some(1));
    let dropped = geolift_json(&[&holed_test[..], &["--fill", "drop"]].concat());
    assert_eq!(dropped["dropped_units"], serde_json::json!(["austin"]));
    assert_eq!(dropped["units"].as_u64(), Some(39));
}
