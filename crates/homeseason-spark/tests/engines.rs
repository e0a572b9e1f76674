//! The two engines agree: the sample season's transaction files (and the hand-written `bank_c`
//! layout: GBK, fen, negative refunds) through Spark and through the Rust streaming ingest give the same
//! `payment_daily` and `payment_area_daily` rows to the fen, the same rejects (line, column,
//! reason), the same counts and the same txn index (ids, merchant pairs, area merchant pairs).
//!
//! Runs against a real standalone cluster: `tests/run.sh` starts one (`tests/spark/cluster.sh`) and
//! sets `HOMESEASON_SPARK_MASTER`, `SPARK_HOME`, `HOMESEASON_SPARK_PYTHON` and
//! `HOMESEASON_SPARK_TEST=require`. Without them (a plain `cargo test`) the test says so and skips.

#![expect(
    clippy::print_stderr,
    reason = "progress and timings of the Spark job, on purpose"
)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use homeseason_ingest::{KnownIds, MonthOwner, TxnContext, TxnOutcome, ingest_transactions};
use homeseason_pipeline::Profiles;
use homeseason_schema::campaign::Campaign;
use homeseason_spark::{Input, SparkOptions, run_rollup};
use homeseason_test_support::reject_triples;
use polars::prelude::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The cluster from the environment, or `None` (skip) when the suite did not start one.
fn cluster() -> Option<SparkOptions> {
    let required = std::env::var("HOMESEASON_SPARK_TEST").is_ok_and(|v| v == "require");
    match SparkOptions::from_env() {
        Some(o) => Some(o.with_conf("spark.sql.shuffle.partitions", "4")),
        None if required => panic!(
            "HOMESEASON_SPARK_TEST=require but no cluster: HOMESEASON_SPARK_MASTER / SPARK_HOME unset"
        ),
        None => {
            eprintln!(
                "SKIPPED: no Spark cluster (run tests/run.sh, or eval \"$(tests/spark/cluster.sh start)\")"
            );
            None
        }
    }
}

/// One id of the index: the 128-bit id, its day and its values' fingerprint.
type IdRecord = (u128, i32, u64);
/// One merchant pair (or area merchant pair) of the index, with its day.
type PairRecord = (u64, i32);

/// What the lake's index holds of one institution-month, as its `.id128v`, `.pairs` and `.apairs`
/// files do: ids (with day and values' fingerprint), merchant pairs and area merchant pairs (each
/// with its day).
#[derive(Default, PartialEq, Eq, Debug)]
struct MonthIndex {
    ids: BTreeSet<IdRecord>,
    pairs: BTreeSet<PairRecord>,
    area_pairs: BTreeSet<PairRecord>,
}

/// The spill of the file being read, per month.
type Spill<T> = BTreeMap<(i32, u32), Vec<T>>;

/// A lake in memory with the increment model's index: every txn id of each institution, and the
/// ids and pairs each institution-month holds; a file's spill is added when it commits.
#[derive(Default)]
struct MemLake {
    ids: HashMap<String, HashMap<u128, u64>>,
    /// (institution, year, month) → what the index holds of it.
    index: BTreeMap<(String, i32, u32), MonthIndex>,
    spill: Spill<IdRecord>,
    spill_pairs: Spill<PairRecord>,
    spill_area_pairs: Spill<PairRecord>,
}

/// Add `items` to the month's spill.
fn append<T: Copy>(spill: &mut Spill<T>, month: (i32, u32), items: &[T]) -> std::io::Result<()> {
    spill.entry(month).or_default().extend_from_slice(items);
    Ok(())
}

impl TxnContext for MemLake {
    fn month_owner(
        &mut self,
        institution: &str,
        year: i32,
        month: u32,
    ) -> Result<Option<MonthOwner>, String> {
        let ids = Arc::new(KnownIds::from(
            self.ids.get(institution).cloned().unwrap_or_default(),
        ));
        let held = self.index.get(&(institution.to_owned(), year, month));
        let hashes = |set: &BTreeSet<PairRecord>| set.iter().map(|(p, _)| *p).collect();
        Ok(Some(MonthOwner {
            txn_ids: ids,
            merchant_pairs: held.map(|h| hashes(&h.pairs)).unwrap_or_default(),
            area_pairs: held.map(|h| hashes(&h.area_pairs)).unwrap_or_default(),
            ..MonthOwner::default()
        }))
    }
    fn spill(&mut self, year: i32, month: u32, ids: &[IdRecord]) -> std::io::Result<()> {
        append(&mut self.spill, (year, month), ids)
    }
    fn spill_pairs(&mut self, year: i32, month: u32, pairs: &[PairRecord]) -> std::io::Result<()> {
        append(&mut self.spill_pairs, (year, month), pairs)
    }
    fn spill_area_pairs(&mut self, y: i32, m: u32, pairs: &[PairRecord]) -> std::io::Result<()> {
        append(&mut self.spill_area_pairs, (y, m), pairs)
    }
    fn reset_spill(&mut self) -> std::io::Result<()> {
        self.spill.clear();
        self.spill_pairs.clear();
        self.spill_area_pairs.clear();
        Ok(())
    }
}

impl MemLake {
    fn commit(&mut self, out: &TxnOutcome) {
        let inst = &out.institution;
        for ((y, m), ids) in std::mem::take(&mut self.spill) {
            let known = self.ids.entry(inst.clone()).or_default();
            known.extend(ids.iter().map(|(id, _, values)| (*id, *values)));
            self.month(inst, y, m).ids.extend(ids);
        }
        for ((y, m), pairs) in std::mem::take(&mut self.spill_pairs) {
            self.month(inst, y, m).pairs.extend(pairs);
        }
        for ((y, m), pairs) in std::mem::take(&mut self.spill_area_pairs) {
            self.month(inst, y, m).area_pairs.extend(pairs);
        }
    }

    /// What the index holds of an institution-month (created empty).
    fn month(&mut self, inst: &str, y: i32, m: u32) -> &mut MonthIndex {
        self.index.entry((inst.to_owned(), y, m)).or_default()
    }
}

type Index = BTreeMap<(String, i32, u32), MonthIndex>;

/// The Rust engine, file after file, each committed to an in-memory lake before the next is read.
fn rust_engine(inputs: &[Input], campaign: &Campaign) -> (Vec<Result<TxnOutcome, String>>, Index) {
    let mut lake = MemLake::default();
    let outs = inputs
        .iter()
        .map(|i| {
            let name = i.path.file_name().unwrap().to_str().unwrap().to_owned();
            let path = i.path.clone();
            let open = move || -> std::io::Result<Box<dyn Read + Send>> {
                Ok(Box::new(std::fs::File::open(&path)?))
            };
            lake.reset_spill().unwrap();
            let out = ingest_transactions(&name, &open, None, &i.profile, campaign, &mut lake)
                .map_err(|e| e.to_string())?;
            lake.commit(&out);
            Ok(out)
        })
        .collect();
    (outs, lake.index)
}

/// Compare the engines file by file; returns the totals (rows of payment_daily, rejects by reason).
fn compare(
    opts: &SparkOptions,
    inputs: &[Input],
    campaign: &Campaign,
) -> (usize, BTreeMap<String, usize>) {
    let staging = tempfile::tempdir().unwrap();
    let rollup = run_rollup(opts, campaign, inputs, staging.path(), None).expect("spark rollup");
    eprintln!(
        "spark-submit {:.1} s for {} files: {}",
        rollup.submit_seconds,
        inputs.len(),
        rollup.summary.get("timings").cloned().unwrap_or_default()
    );
    let (rust, rust_index) = rust_engine(inputs, campaign);
    let mut lake = MemLake::default();
    let (mut daily_rows, mut area_rows) = (0, 0);
    let mut by_reason: BTreeMap<String, usize> = BTreeMap::new();
    for ((staged, rust), input) in rollup.files.iter().zip(&rust).zip(inputs) {
        let name = input.path.display();
        lake.reset_spill().unwrap();
        let spark = staged.outcome(campaign, &mut lake, &mut |_, _, _| None);
        match (rust, spark) {
            (Err(r), Err(Ok(s))) => {
                eprintln!("{name}: both refuse\n  rust:  {r}\n  spark: {s}");
            }
            (Ok(r), Ok(s)) => {
                lake.commit(&s);
                assert_eq!(r.report, s.report, "{name}: report");
                assert_eq!(r.months, s.months, "{name}: months");
                assert_eq!(r.home_month, s.home_month, "{name}: home month");
                assert_eq!(r.unmapped_mcc, s.unmapped_mcc, "{name}: unmapped MCCs");
                assert_eq!(r.duplicates_in_file, s.duplicates_in_file, "{name}");
                assert_eq!(
                    r.duplicates_across_files, s.duplicates_across_files,
                    "{name}"
                );
                // Every payment_daily row, to the fen (the same f64 from the same integer fen).
                assert!(
                    r.rows.equals_missing(&s.rows),
                    "{name}: payment_daily differs\nrust:\n{}\nspark:\n{}",
                    r.rows,
                    s.rows
                );
                // And every payment_area_daily row (area, city, class, money, merchants).
                assert!(
                    r.area_rows.equals_missing(&s.area_rows),
                    "{name}: payment_area_daily differs\nrust:\n{}\nspark:\n{}",
                    r.area_rows,
                    s.area_rows
                );
                area_rows += s.area_rows.height();
                let (r_rejects, s_rejects) = (
                    r.rejects.to_frame().expect("rejects"),
                    s.rejects.to_frame().expect("rejects"),
                );
                assert_eq!(
                    reject_triples(&r_rejects),
                    reject_triples(&s_rejects),
                    "{name}: rejects"
                );
                // The messages and raw text agree too (same sink, same details).
                let msgs = |df: &DataFrame| -> Vec<String> {
                    let mut v: Vec<String> = df
                        .column("message_en")
                        .unwrap()
                        .str()
                        .unwrap()
                        .iter()
                        .map(|s| s.unwrap_or("").to_owned())
                        .collect();
                    v.sort();
                    v
                };
                assert_eq!(
                    msgs(&r_rejects),
                    msgs(&s_rejects),
                    "{name}: reject messages"
                );
                daily_rows += s.rows.height();
                for (_, _, reason) in reject_triples(&s_rejects) {
                    *by_reason.entry(reason).or_default() += 1;
                }
            }
            (r, s) => panic!(
                "{name}: engines disagree on refusing the file\n  rust: {:?}\n  spark: {:?}",
                r.as_ref().map(|o| &o.report),
                s.as_ref()
                    .map(|o| &o.report)
                    .map_err(|e| e.as_ref().map(ToString::to_string))
            ),
        }
    }
    // The index the two engines leave: the same ids (with their day), merchant pairs and area
    // merchant pairs per institution-month. Spark hashed with its built-in xxhash64, Rust with
    // XXH64: equal sets prove the hashes equal on every id and pair of the season.
    let spark_index = lake.index;
    let count = |i: &Index| -> (usize, usize, usize) {
        i.values().fold((0, 0, 0), |(a, b, c), m| {
            (a + m.ids.len(), b + m.pairs.len(), c + m.area_pairs.len())
        })
    };
    eprintln!(
        "payment_area_daily rows {area_rows}; txn index: rust {:?} (ids, pairs, area pairs) in {} institution-months; spark {:?} in {}",
        count(&rust_index),
        rust_index.len(),
        count(&spark_index),
        spark_index.len()
    );
    assert_eq!(rust_index.len(), spark_index.len(), "institution-months");
    for (k, v) in &rust_index {
        assert!(spark_index.get(k) == Some(v), "txn index of {k:?} differs");
    }
    let (ids, pairs, area_pairs) = count(&rust_index);
    assert!(
        ids > 0 && pairs > 0 && area_pairs >= pairs,
        "{ids} {pairs} {area_pairs}"
    );
    assert!(
        area_rows >= daily_rows,
        "{area_rows} area rows, {daily_rows} daily"
    );
    (daily_rows, by_reason)
}

#[test]
fn sample_season_and_bank_layout_agree_with_the_rust_engine() {
    let Some(opts) = cluster() else { return };
    let campaign = Campaign::default_2023();
    let dir = tempfile::tempdir().unwrap();
    homeseason_synth::generate(
        &homeseason_synth::SynthConfig::default(),
        dir.path(),
        &homeseason_synth::NoProgress,
    )
    .unwrap();
    let profiles = Profiles::load(None, &repo().join("profiles")).unwrap();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir.path().join("payments/wallet_b"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 36, "{paths:?}");
    // bank_c: GBK, Chinese headers, fen, refunds as negative rows, no institution column.
    paths.push(
        repo().join("tests/fixtures/payments/bank_c/payment_transactions_bank_c_2023-09.csv"),
    );
    // Delivery patterns: a corrected September file of wallet_b (same name in another folder, five
    // rows fewer: all its rows are duplicates across files), and a weekly-style export overlapping
    // September and October (duplicates across files, plus one new October transaction).
    let extra = dir.path().join("extra");
    std::fs::create_dir_all(&extra).unwrap();
    let sep = std::fs::read_to_string(&paths[32]).unwrap();
    let mut lines: Vec<&str> = sep.lines().collect();
    let corrected: String = lines
        .iter()
        .take(lines.len() - 5)
        .flat_map(|l| [*l, "\n"])
        .collect();
    let name = paths[32].file_name().unwrap().to_owned();
    std::fs::write(extra.join(&name), corrected).unwrap();
    let oct = std::fs::read_to_string(&paths[33]).unwrap();
    let oct_lines: Vec<&str> = oct.lines().collect();
    lines.truncate(200);
    let mut overlap: String = lines.iter().flat_map(|l| [*l, "\n"]).collect();
    for l in &oct_lines[1..30] {
        overlap.push_str(l);
        overlap.push('\n');
    }
    overlap.push_str(&oct_lines[40].replacen(',', "X,", 1));
    overlap.push('\n');
    // Conflicts: a September transaction the lake holds sent again with another amount (against
    // the index), an October row of this file repeated with another amount (within the file), and
    // one repeated with the same values (a duplicate within the file).
    let amount_at = lines[0]
        .split(',')
        .position(|h| h == "amount")
        .expect("an amount column");
    let other_amount = |line: &str| -> String {
        let mut cells: Vec<String> = line.split(',').map(str::to_owned).collect();
        cells[amount_at] = if cells[amount_at] == "1.23" {
            "4.56".into()
        } else {
            "1.23".into()
        };
        cells.join(",")
    };
    let later_sep = sep
        .lines()
        .nth(500)
        .expect("a September row after the overlap's 200");
    for l in [
        other_amount(later_sep),
        other_amount(oct_lines[5]),
        oct_lines[6].to_owned(),
    ] {
        overlap.push_str(&l);
        overlap.push('\n');
    }
    std::fs::write(
        extra.join("payment_transactions_wallet_b_export7.csv"),
        overlap,
    )
    .unwrap();
    paths.push(extra.join(&name));
    paths.push(extra.join("payment_transactions_wallet_b_export7.csv"));
    // Issue 15: the amounts' unit in the header (wallet_b's profile says yuan): September again
    // with new txn ids, in fen under `交易金额(分)` and in 万元 under `amount (万元)`; and a bracket
    // that is no money unit, which both engines refuse whole.
    let amount_at = lines[0].split(',').position(|h| h == "amount").unwrap();
    for (tag, header, unit) in [
        ("F", "交易金额(分)", 0_u32),
        ("W", "amount (万元)", 6),
        ("P", "amount (%)", 2),
    ] {
        let mut text = String::new();
        for (i, l) in sep.lines().enumerate() {
            let mut cells: Vec<String> = l.split(',').map(str::to_owned).collect();
            if i == 0 {
                cells[amount_at] = header.to_owned();
            } else {
                cells[0] = format!("{}{tag}", cells[0]);
                let fen = (cells[amount_at].parse::<f64>().unwrap() * 100.0).round() as i64;
                assert!(fen >= 0, "{l}");
                cells[amount_at] = match unit {
                    0 => fen.to_string(),
                    6 => format!("{}.{:06}", fen / 1_000_000, fen % 1_000_000),
                    _ => cells[amount_at].clone(),
                };
            }
            text.push_str(&cells.join(","));
            text.push('\n');
        }
        let path = extra.join(format!("payment_transactions_wallet_b_unit{tag}.csv"));
        std::fs::write(&path, text).unwrap();
        paths.push(path);
    }
    let inputs: Vec<Input> = paths
        .iter()
        .map(|p| Input {
            path: p.clone(),
            profile: profiles.for_path(p),
            ledger: 0,
        })
        .collect();
    let (rows, by_reason) = compare(&opts, &inputs, &campaign);
    eprintln!("payment_daily rows {rows}; rejects by reason {by_reason:?}");
    assert!(rows > 10_000, "{rows}");
    // The two conflicts of the export: one against the lake's index, one within the file.
    assert_eq!(by_reason.get("conflict"), Some(&2), "{by_reason:?}");
}
