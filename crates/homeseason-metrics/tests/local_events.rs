//! Local-station events on the sample season: the injected extra uplift of each event must lie
//! inside the estimated interval of its lift.
//!
//! The sample season (`homeseason_synth::generate`) injects, for about ten regions, an extra
//! uplift U(10–25 %) during a 14–28-day local event on the targeted categories
//! (`truth_local_events.csv`). The default suite checks one seed (a 2023-only sample, for speed);
//! the 5-seed check of the acceptance criterion (≥ 85 % of event × category cells) runs
//! with `cargo test --workspace --locked --test local_events -- --ignored` and prints the numbers
//! recorded in `benchmarks/LOCAL_EVENTS.md`.
#![expect(clippy::print_stderr, reason = "progress and diagnostics on purpose")]
#![expect(
    clippy::disallowed_methods,
    reason = "the test lists the sample season's files"
)]

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use homeseason_metrics::daily_series;
use homeseason_metrics::local_events::{
    LocalEventOptions, coverage, local_event_power, local_events,
};
use homeseason_metrics::score::interval_coverage;
use homeseason_schema::campaign::Campaign;
use homeseason_synth::{NoProgress, SynthConfig, generate};
use polars::prelude::*;

fn read_csv(path: &Path, text_columns: &[&str]) -> DataFrame {
    CsvReadOptions::default()
        .with_has_header(true)
        .with_schema_overwrite(Some(Arc::new(
            text_columns
                .iter()
                .map(|c| Field::new((*c).into(), DataType::String))
                .collect::<Schema>(),
        )))
        .try_into_reader_with_file_path(Some(path.to_owned()))
        .expect("csv opens")
        .finish()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn to_date(c: &str) -> Expr {
    col(c).str().to_date(StrptimeOptions {
        format: Some("%Y-%m-%d".into()),
        ..Default::default()
    })
}

/// A generated sample season as the metrics see it: the daily series (from the card acquirer's
/// payment_daily files, which carry 85 % of every cell), the local-station events as an
/// activities register, and the truth (`region_code`, `event_start`, `truth_pct`).
struct Season {
    campaign: Campaign,
    series: DataFrame,
    activities: DataFrame,
    truth: DataFrame,
}

fn season(seed: u64, from_2023: bool) -> Season {
    let campaign = Campaign::default_2023();
    let mut config = SynthConfig::with_seed(seed);
    config.scale = 0.01;
    if from_2023 {
        config.start = NaiveDate::from_ymd_opt(2023, 1, 1).expect("date");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    generate(&config, dir.path(), &NoProgress).expect("sample season");
    let acq = dir.path().join("payments/acq_a");
    let mut files: Vec<_> = std::fs::read_dir(&acq)
        .expect("acq_a files")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let frames: Vec<LazyFrame> = files
        .iter()
        .map(|f| read_csv(f, &["region_code", "mcc"]).lazy())
        .collect();
    let mcc: Vec<(String, String)> = campaign
        .mcc_map()
        .into_iter()
        .map(|(m, c)| (m.to_owned(), c.id().to_owned()))
        .collect();
    let map = df!(
        "mcc" => mcc.iter().map(|m| m.0.clone()).collect::<Vec<_>>(),
        "category" => mcc.iter().map(|m| m.1.clone()).collect::<Vec<_>>(),
    )
    .expect("mcc map");
    let daily = concat(frames, UnionArgs::default())
        .expect("concat")
        .with_columns([
            to_date("date").alias("date"),
            (col("amount") - col("refund_amount")).alias("net_amount_yuan"),
        ])
        .join(
            map.lazy(),
            [col("mcc")],
            [col("mcc")],
            JoinArgs::new(JoinType::Left),
        )
        .with_column(col("category").fill_null(lit("other")));
    let series = daily_series(daily, &campaign).expect("daily series");
    let truth = read_csv(&dir.path().join("truth_local_events.csv"), &["region_code"])
        .lazy()
        .select([
            col("region_code"),
            to_date("event_start").alias("event_start"),
            to_date("event_end").alias("event_end"),
            col("category"),
            col("extra_uplift_pct_during_event")
                .cast(DataType::Float64)
                .alias("truth_pct"),
        ])
        .collect()
        .expect("truth");
    // The register: the local-station rows (地方站=是) carry exactly these dates.
    let activities = truth
        .clone()
        .lazy()
        .filter(col("category").eq(lit("all_targeted")))
        .select([
            col("region_code"),
            col("event_start").alias("start_date"),
            col("event_end").alias("end_date"),
            lit(true).alias("local_station"),
        ])
        .collect()
        .expect("register");
    Season {
        campaign,
        series,
        activities,
        truth,
    }
}

/// Per-category coverage and timing of one season.
struct Run {
    covered: usize,
    scored: usize,
    seconds: f64,
    rows: DataFrame,
}

fn run(seed: u64, from_2023: bool) -> Run {
    let s = season(seed, from_2023);
    let opts = LocalEventOptions::from_campaign(&s.campaign);
    let started = Instant::now();
    let out = local_events(&s.series, &s.activities, &s.campaign, &opts).expect("local events");
    let seconds = started.elapsed().as_secs_f64();
    assert!(out.skipped.is_empty(), "skipped: {:?}", out.skipped);
    let (covered, scored) = coverage(&out.events, &s.truth).expect("coverage");
    let rows = out
        .events
        .lazy()
        .join(
            s.truth.lazy(),
            [col("region_code"), col("event_start"), col("category")],
            [col("region_code"), col("event_start"), col("category")],
            JoinArgs::new(JoinType::Left),
        )
        .select([
            col("region_code"),
            col("category"),
            col("event_start"),
            col("event_days"),
            col("truth_pct"),
            col("lift_pct"),
            col("lift_lower_pct"),
            col("lift_upper_pct"),
            col("p_value"),
            col("interval_method"),
            col("pre_rmse_pct"),
        ])
        .collect()
        .expect("joined");
    Run {
        covered,
        scored,
        seconds,
        rows,
    }
}

#[test]
fn one_sample_season_events_are_recovered_within_their_intervals() {
    let r = run(1, true);
    let rate = r.covered as f64 / r.scored as f64;
    eprintln!(
        "seed 1: {}/{} covered ({:.1}%), local_events {:.2} s\n{}",
        r.covered,
        r.scored,
        100.0 * rate,
        r.seconds,
        r.rows
    );
    // 10 events × (4 targeted categories + all_targeted).
    assert_eq!(r.scored, 50);
    assert!(rate >= 0.85, "coverage {rate}");
    // Every event is found: the lift of all_targeted is positive and significant.
    let all = r
        .rows
        .clone()
        .lazy()
        .filter(col("category").eq(lit("all_targeted")))
        .collect()
        .expect("filter");
    let lift = all.column("lift_pct").expect("lift").f64().expect("f64");
    let p = all.column("p_value").expect("p").f64().expect("f64");
    for i in 0..all.height() {
        assert!(lift.get(i).expect("lift") > 0.0, "{all}");
        assert!(p.get(i).expect("p") < 0.1, "{all}");
    }
}

#[test]
#[ignore = "5 sample seasons, about a minute or two in debug; numbers in benchmarks/LOCAL_EVENTS.md"]
fn five_sample_seasons_events_are_recovered_within_their_intervals() {
    let (mut covered, mut scored) = (0, 0);
    let mut all = Vec::new();
    for seed in 1..=5 {
        let r = run(seed, false);
        eprintln!(
            "seed {seed}: {}/{} covered ({:.1}%), local_events {:.2} s",
            r.covered,
            r.scored,
            100.0 * r.covered as f64 / r.scored as f64,
            r.seconds
        );
        covered += r.covered;
        scored += r.scored;
        all.push(r.rows.lazy().with_column(lit(seed as i64).alias("seed")));
    }
    let all = concat(all, UnionArgs::default())
        .expect("concat")
        .collect()
        .expect("rows");
    let by_category = all
        .clone()
        .lazy()
        .group_by([col("category")])
        .agg([
            len().alias("cells"),
            interval_coverage("truth_pct", "lift_lower_pct", "lift_upper_pct").alias("coverage"),
            (col("lift_pct") - col("truth_pct")).mean().alias("bias_pp"),
            (col("lift_pct") - col("truth_pct"))
                .abs()
                .mean()
                .alias("mae_pp"),
            (col("lift_upper_pct") - col("lift_lower_pct"))
                .mean()
                .alias("mean_width_pp"),
            col("interval_method")
                .eq(lit("conformal"))
                .cast(DataType::Float64)
                .mean()
                .alias("conformal_share"),
        ])
        .sort(["category"], SortMultipleOptions::default())
        .collect()
        .expect("summary");
    let rate = covered as f64 / scored as f64;
    eprintln!(
        "5 seeds: {covered}/{scored} covered ({:.1}%)\n{by_category}",
        100.0 * rate
    );
    assert!(rate >= 0.85, "coverage {rate}");
}

#[test]
fn power_table_has_a_row_per_region_and_duration() {
    let s = season(2, true);
    let mut opts = LocalEventOptions::from_campaign(&s.campaign);
    opts.power.candidates = Some(vec!["310000".to_owned(), "440300".to_owned()]);
    let started = Instant::now();
    let power = local_event_power(&s.series, &s.activities, &s.campaign, &opts).expect("power");
    eprintln!("power {:.2} s\n{power}", started.elapsed().as_secs_f64());
    assert_eq!(power.height(), 4);
    let mde = power.column("mde_pct").expect("mde").f64().expect("f64");
    let duration = power
        .column("duration_days")
        .expect("duration")
        .i64()
        .expect("i64");
    for i in 0..power.height() {
        let m = mde.get(i).expect("an effect up to 40% is detectable");
        assert!(m > 0.0 && m <= 40.0, "{power}");
        assert!([14, 28].contains(&duration.get(i).expect("duration")));
    }
}
