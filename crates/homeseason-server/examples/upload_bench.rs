//! Benchmark: N concurrent uploads of distinct ~S MB payment-transaction files to a server on
//! 127.0.0.1, each through the real client (hash, upload, validation, commit), reporting throughput and
//! latency percentiles. Loopback only; bounded by the file count and a deadline.
//!
//! ```sh
//! # --workspace: the same features as every other build (a `-p` build rebuilds polars)
//! cargo build --release --workspace --locked --examples
//! "${CARGO_TARGET_DIR:-target}"/release/examples/upload_bench 50 20 crates/homeseason-server/BENCHMARK.md
//! ```
#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line program prints its results"
)]

use std::io::Write;
use std::time::{Duration, Instant};

use homeseason_client::{Client, Retry};
use homeseason_server::tokens::NewToken;
use homeseason_server::{AppState, Config};

const REGIONS: [&str; 8] = [
    "330106", "110105", "440305", "310115", "320508", "370202", "510107", "420106",
];
const MCCS: [&str; 6] = ["5722", "5712", "5211", "5719", "5251", "5411"];

/// A transaction file of about `mb` MB for institution-month `index` (distinct content per index).
fn transactions(index: usize, mb: usize) -> (String, Vec<u8>) {
    let institution = if index < 36 { "acq_a" } else { "wallet_b" };
    let month = index % 36;
    let (year, m) = (2021 + month / 12, month % 12 + 1);
    let mut out = Vec::with_capacity(mb * 1_000_000 + 1000);
    out.extend_from_slice(
        b"txn_id,institution,txn_time,merchant_id,mcc,region_code,amount,txn_type,channel\n",
    );
    let mut i: u64 = 0;
    while out.len() < mb * 1_000_000 {
        i += 1;
        let day = (i % 28) + 1;
        let secs = (i * 7919) % 86_400;
        let region = REGIONS[(i as usize) % REGIONS.len()];
        let mcc = MCCS[(i as usize / 3) % MCCS.len()];
        let amount = 10.0 + ((i * 7_654_321) % 500_000) as f64 / 100.0;
        let channel = if i.is_multiple_of(3) {
            "online"
        } else {
            "offline"
        };
        writeln!(
            out,
            "B{index:02}{year}{m:02}{i:09},{institution},{year}-{m:02}-{day:02} {:02}:{:02}:{:02},M{region}{:04},{mcc},{region},{amount:.2},sale,{channel}",
            secs / 3600,
            (secs / 60) % 60,
            secs % 60,
            i % 997
        )
        .expect("write to memory");
    }
    (
        format!("payment_transactions_{institution}_{year}-{m:02}.csv"),
        out,
    )
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let count: usize = args.get(1).map_or(Ok(50), |s| s.parse())?;
    let mb: usize = args.get(2).map_or(Ok(20), |s| s.parse())?;
    let out_file = args.get(3).cloned();
    let count = count.min(72);
    let dir = tempfile::tempdir()?;
    let files_dir = dir.path().join("files");
    std::fs::create_dir_all(&files_dir)?;
    let gen_start = Instant::now();
    let mut files = Vec::new();
    let mut total_bytes = 0u64;
    for i in 0..count {
        let (name, bytes) = transactions(i, mb);
        total_bytes += bytes.len() as u64;
        let path = files_dir.join(name);
        std::fs::write(&path, bytes)?;
        files.push(path);
    }
    eprintln!(
        "generated {count} files, {:.1} MB, in {:.1} s",
        total_bytes as f64 / 1e6,
        gen_start.elapsed().as_secs_f64()
    );
    let mut config = Config::new(dir.path().join("data"));
    config.max_upload_bytes = (mb as u64 + 8) * 1_000_000;
    config.sync_wait = Duration::from_secs(1800);
    config.upload_timeout = Duration::from_secs(1800);
    let parallelism = config.ingest_parallelism;
    let state = AppState::open(config)?;
    let (_, token) = state.tokens().issue(
        &NewToken {
            name: "bench".into(),
            admin: true,
            ..NewToken::default()
        },
        "2023-09-01T00:00:00Z",
    )?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(homeseason_server::serve(
        listener,
        state.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    let client = Client::new(
        &format!("http://{addr}"),
        &token,
        Retry {
            attempts: 3,
            ..Retry::default()
        },
    )?;
    let start = Instant::now();
    let tasks: Vec<_> = files
        .iter()
        .cloned()
        .map(|path| {
            let client = client.clone();
            tokio::spawn(async move {
                let t = Instant::now();
                let outcome = client.upload(&path, Some("payment_transactions")).await;
                (t.elapsed().as_secs_f64(), outcome)
            })
        })
        .collect();
    let deadline = Duration::from_secs(3600);
    let mut latencies = Vec::new();
    let mut accepted = 0usize;
    let mut rows = 0u64;
    for t in tasks {
        let (secs, outcome) = tokio::time::timeout(deadline, t).await??;
        let outcome = outcome?;
        if outcome.record.status == homeseason_server::registry::Status::Accepted {
            accepted += 1;
        }
        rows += outcome
            .record
            .report
            .as_ref()
            .and_then(|r| r["read"].as_u64())
            .unwrap_or(0);
        latencies.push(secs);
    }
    let wall = start.elapsed().as_secs_f64();
    let _ = stop.send(());
    let _ = server.await;
    latencies.sort_by(f64::total_cmp);
    let mb_total = total_bytes as f64 / 1e6;
    let profile = if cfg!(debug_assertions) {
        "debug (dependencies at opt-level 1)"
    } else {
        "release"
    };
    let report = format!(
        "# Upload benchmark\n\n\
         `cargo build {flag}--workspace --locked --examples` then `upload_bench {count} {mb}` ({profile} build), \
         on a {cores}-core machine, server and clients in one process on 127.0.0.1.\n\n\
         {count} concurrent uploads of distinct payment-transaction CSV files (~{mb} MB, {rows_per} rows each), \
         each through the real client (SHA-256, by-hash check, multipart upload) and the server's whole path \
         (raw store, type checks, validation by homeseason-ingest, lake commit, audit); \
         validation runs {parallelism} at a time.\n\n\
         | measure | value |\n|---|---|\n\
         | files accepted | {accepted} / {count} |\n\
         | data | {mb_total:.0} MB, {rows} rows |\n\
         | wall time | {wall:.1} s |\n\
         | throughput | {tput:.1} MB/s, {rps:.0} rows/s, {fps:.2} files/s |\n\
         | latency p50 | {p50:.1} s |\n\
         | latency p90 | {p90:.1} s |\n\
         | latency p99 | {p99:.1} s |\n\
         | latency max | {max:.1} s |\n",
        flag = if cfg!(debug_assertions) {
            ""
        } else {
            "--release "
        },
        cores = std::thread::available_parallelism().map_or(0, usize::from),
        rows_per = rows / count.max(1) as u64,
        tput = mb_total / wall,
        rps = rows as f64 / wall,
        fps = count as f64 / wall,
        p50 = percentile(&latencies, 50.0),
        p90 = percentile(&latencies, 90.0),
        p99 = percentile(&latencies, 99.0),
        max = latencies.last().copied().unwrap_or(0.0),
    );
    print!("{report}");
    if let Some(path) = out_file {
        std::fs::write(&path, &report)?;
        eprintln!("written to {path}");
    }
    if accepted != count {
        return Err(format!("only {accepted} of {count} uploads were accepted").into());
    }
    Ok(())
}
