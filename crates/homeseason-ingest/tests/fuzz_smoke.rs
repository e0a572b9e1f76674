//! Smoke pass of the fuzz targets on stable (the real fuzzing is `fuzz/`, cargo-fuzz on nightly): every
//! file of `fuzz/corpus/<target>/` and `fuzz/artifacts/<target>/` (crash reproducers, kept once fixed)
//! through the same target bodies as the fuzzer ([`homeseason_ingest::fuzzing`]), then a fixed number
//! of deterministic mutations of them (seeded xorshift: bit flips, inserted tokens, deleted and
//! duplicated ranges, truncations, splices). A failing input is written under the system temp folder
//! and named in the failure, ready to be added to the corpus.
//!
//! `HOMESEASON_FUZZ_SMOKE_ITERS` scales the mutation count (default 1 = the stable pass);
//! `HOMESEASON_FUZZ_SMOKE_TRACE=1` names each input as it runs and keeps it in
//! `<temp>/homeseason-fuzz-smoke-<target>-current` (for an input that hangs or exhausts memory).
#![expect(
    clippy::print_stderr,
    reason = "the smoke pass says what it ran (seen with --nocapture)"
)]
#![expect(
    clippy::disallowed_methods,
    reason = "a failing input is written out for the reader"
)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use homeseason_ingest::fuzzing::{self, Mutator};

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    fuzzing::corpus_inputs(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz"),
        target,
    )
}

fn scale() -> usize {
    std::env::var("HOMESEASON_FUZZ_SMOKE_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

/// The latest panic of any thread (the library runs polars' thread pool): message and backtrace.
static LAST_PANIC: std::sync::Mutex<Option<(String, std::backtrace::Backtrace)>> =
    std::sync::Mutex::new(None);

/// Panics are recorded, not printed: the library catches some on purpose (a damaged workbook the
/// reader panics on is refused), and printing each with its backtrace would dominate the run. The one
/// that escapes a target is printed by [`run_one`].
fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            // Unresolved until printed: cheap for the panics the library catches.
            let bt = std::backtrace::Backtrace::capture();
            let thread = std::thread::current().name().unwrap_or("?").to_owned();
            if let Ok(mut last) = LAST_PANIC.lock() {
                *last = Some((format!("[thread {thread}] {info}"), bt));
            }
        }));
    });
}

fn run_one(target: &str, what: &str, data: &[u8], body: fn(&[u8])) {
    quiet_panics();
    if std::env::var_os("HOMESEASON_FUZZ_SMOKE_TRACE").is_some() {
        // Each input before it runs, so one that hangs or exhausts memory is on disk.
        let _ = std::fs::write(
            std::env::temp_dir().join(format!("homeseason-fuzz-smoke-{target}-current")),
            data,
        );
        eprintln!("{target}: {what} ({} bytes)", data.len());
    }
    if catch_unwind(AssertUnwindSafe(|| body(data))).is_err() {
        let path = std::env::temp_dir().join(format!(
            "homeseason-fuzz-smoke-{target}-{}",
            homeseason_ingest::sha256_hex(data)
        ));
        let _ = std::fs::write(&path, data);
        let why = LAST_PANIC
            .lock()
            .ok()
            .and_then(|p| p.as_ref().map(|(m, bt)| format!("{m}\n{bt}")))
            .unwrap_or_default();
        let _ = std::panic::take_hook();
        panic!(
            "fuzz target {target} failed on {what}; input written to {}\n{why}",
            path.display()
        );
    }
}

/// Replay the corpus, then `mutations` mutants (stopping early at `budget`, which a debug build on a
/// slow machine may hit; the count run is printed).
fn smoke(target: &str, seed: u64, mutations: usize, budget: Duration, body: fn(&[u8])) {
    let corpus = inputs(target);
    let start = Instant::now();
    for (path, data) in &corpus {
        run_one(target, &path.display().to_string(), data, body);
    }
    let replayed = start.elapsed();
    let mut rng = Mutator::new(seed);
    let mut done = 0;
    for i in 0..mutations * scale() {
        if start.elapsed() > budget * u32::try_from(scale()).unwrap_or(1) {
            break;
        }
        let (_, a) = &corpus[rng.below(corpus.len())];
        let (_, b) = &corpus[rng.below(corpus.len())];
        let m = rng.mutate(a, b);
        run_one(target, &format!("mutation {i} (seed {seed})"), &m, body);
        done += 1;
    }
    eprintln!(
        "fuzz smoke {target}: {} corpus files in {replayed:.1?}, {done} mutations, {:.1?} in all",
        corpus.len(),
        start.elapsed()
    );
}

#[test]
fn csv_ingest() {
    smoke(
        "csv_ingest",
        0xC5F1,
        1500,
        Duration::from_secs(8),
        fuzzing::csv_ingest,
    );
}

#[test]
fn xlsx_ingest() {
    smoke(
        "xlsx_ingest",
        0x0715,
        400,
        Duration::from_secs(6),
        fuzzing::xlsx_ingest,
    );
}

#[test]
fn parsers() {
    smoke(
        "parsers",
        0xDA7E,
        5000,
        Duration::from_secs(4),
        fuzzing::parsers,
    );
}

/// The mutator is deterministic: the same seed gives the same mutants (so a failure reproduces).
#[test]
fn mutations_are_deterministic() {
    let (mut a, mut b) = (Mutator::new(7), Mutator::new(7));
    for _ in 0..100 {
        assert_eq!(a.mutate(b"a,b\n1,2\n", b"x"), b.mutate(b"a,b\n1,2\n", b"x"));
    }
}
