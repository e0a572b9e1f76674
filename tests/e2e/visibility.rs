//! Readers never see half a commit (issue 13): a real DuckDB reader, through the views of
//! `homeseason export duckdb` (a `**/*.parquet` glob with Hive partitioning, as dashboards read), reads
//! `enterprise_sales` in a loop while a series of `homeseason ingest` commits runs. Every commit adds
//! one row to each of 36 partitions (3 regions × 12 months), so a reader that saw some partitions
//! new and others old would count a number of rows no commit left. Every successful read must equal
//! the (rows, total) of one committed state, computed here from the files themselves; a read that
//! straddles a switch may fail (and a dashboard retries), never mix.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use homeseason_schema::uscc;
use homeseason_test_support::dying_with_parent;

use crate::util::s;

/// The binary under test: this build's, or another (`HOMESEASON_VISIBILITY_BIN`, e.g. a build of
/// the old layout, to see the test fail there).
fn run(args: &[&str]) {
    let bin = std::env::var("HOMESEASON_VISIBILITY_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_homeseason").to_owned());
    let out = Command::new(&bin)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the homeseason binary runs");
    assert!(
        out.status.success(),
        "{bin} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

const SALES_HEADER: &str =
    "统一社会信用代码,企业名称,地区,品类,统计期,销售额,单位,线上/线下,品牌\n";
const REGIONS: [&str; 3] = ["浙江", "江苏", "广东"];

/// The reader: loads the exported views, writes `ready`, then one line per read until `stop`
/// exists: `ok <rows> <total yuan>` or `err <message>`.
const READER: &str = r#"
import duckdb, os, sys
views, out, stop = sys.argv[1:4]
con = duckdb.connect()
con.execute(open(views, encoding="utf-8").read())
with open(out, "w") as f:
    f.write("ready\n")
    f.flush()
    while not os.path.exists(stop):
        try:
            n, s = con.execute("SELECT count(*), sum(sales_amount_yuan) FROM enterprise_sales").fetchone()
            f.write("ok %d %d\n" % (n, round(s)))
        except Exception as e:
            f.write("err %s\n" % str(e).replace("\n", " ")[:300])
        f.flush()
"#;

/// Delivery `k`: one enterprise (its own credit code) reporting each of 12 months in each region;
/// returns the file's text and its total in yuan.
fn delivery(k: usize) -> (String, i64) {
    let first17 = format!("91330000MA{k:07}");
    let code = format!(
        "{first17}{}",
        uscc::check_char(&first17).expect("valid code")
    );
    let mut text = SALES_HEADER.to_owned();
    let mut total = 0;
    for (ri, region) in REGIONS.iter().enumerate() {
        for m in 1..=12 {
            let wan = 1 + (k * 37 + ri * 12 + m) % 97;
            total += i64::try_from(wan).expect("small") * 10_000;
            text.push_str(&format!(
                "{code},企业{k},{region},家电,2023-{m:02},{wan},万元,全部,\n"
            ));
        }
    }
    (text, total)
}

#[test]
fn a_duckdb_reader_in_a_loop_never_sees_half_a_commit() {
    let commits = homeseason_test_support::env_count("HOMESEASON_VISIBILITY_COMMITS", 40);
    let tmp = tempfile::tempdir().expect("temp dir");
    let lake = tmp.path().join("lake");
    let input = tmp.path().join("in");
    std::fs::create_dir_all(&input).expect("mkdir");
    // The committed states, from the files alone: after delivery k the table holds 36·(k+1) rows
    // and the sum of the first k+1 files' totals.
    let mut states = Vec::new();
    let mut files = Vec::new();
    let (mut rows, mut sum) = (0_i64, 0_i64);
    for k in 0..=commits {
        let (text, total) = delivery(k);
        let path = input.join(format!("enterprise_sales_{k:03}.csv"));
        std::fs::write(&path, text).expect("write");
        rows += 36;
        sum += total;
        states.push((rows, sum));
        files.push(path);
    }
    run(&["ingest", "--lake", s(&lake), s(&files[0])]);
    let views = tmp.path().join("views.sql");
    run(&["export", "duckdb", "--lake", s(&lake), "--out", s(&views)]);
    let out = tmp.path().join("reads.txt");
    let stop = tmp.path().join("stop");
    // Killed with the test's thread should the test die before it writes `stop`.
    let mut reader = dying_with_parent(Command::new("python3").args([
        "-c",
        READER,
        s(&views),
        s(&out),
        s(&stop),
    ]))
    .stdin(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap_or_else(|e| panic!("python3 with duckdb is needed (tests/run.sh installs it): {e}"));
    let start = Instant::now();
    while std::fs::read_to_string(&out).map_or(true, |t| !t.starts_with("ready")) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the DuckDB reader did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let started = Instant::now();
    for f in &files[1..] {
        run(&["ingest", "--lake", s(&lake), s(f)]);
    }
    let writing = started.elapsed();
    // A few reads of the final state.
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&stop, b"").expect("stop");
    let status = reader.wait().expect("reader ends");
    let mut err = String::new();
    if let Some(mut e) = reader.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    assert!(status.success(), "the reader failed: {err}");
    let mut reads = 0;
    let mut failed = 0;
    let mut mixes = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut errors = std::collections::BTreeMap::<String, usize>::new();
    for line in BufReader::new(std::fs::File::open(&out).expect("reads")).lines() {
        let line = line.expect("line");
        if let Some(rest) = line.strip_prefix("ok ") {
            reads += 1;
            let mut it = rest.split(' ').map(|v| v.parse::<i64>().expect("number"));
            let got = (it.next().expect("rows"), it.next().expect("sum"));
            match states.iter().position(|s| *s == got) {
                Some(k) => {
                    seen.insert(k);
                }
                None => mixes.push(got),
            }
        } else if let Some(e) = line.strip_prefix("err ") {
            failed += 1;
            let kind: String = e.chars().take(60).collect();
            *errors.entry(kind).or_default() += 1;
        }
    }
    eprintln!(
        "visibility: {commits} commits in {:.1} s; {reads} reads, {} distinct committed states \
         observed (of {}), mixes seen = {}, {failed} reads failed (retried by a dashboard): {errors:?}",
        writing.as_secs_f64(),
        seen.len(),
        states.len(),
        mixes.len()
    );
    assert!(
        mixes.is_empty(),
        "{} of {reads} reads saw half a commit: (rows, total) not left by any commit, e.g. {:?}",
        mixes.len(),
        &mixes[..mixes.len().min(5)]
    );
    assert!(
        reads > commits,
        "only {reads} reads during {commits} commits"
    );
    assert!(
        seen.len() > commits / 4,
        "the reader saw only {} states of {}",
        seen.len(),
        states.len()
    );
    assert!(
        seen.contains(&commits),
        "the reader never saw the final state"
    );
}
