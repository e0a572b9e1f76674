//! Smoke pass of the `multipart` fuzz target on stable (the real fuzzing is `fuzz/`, cargo-fuzz on
//! nightly): every file of `fuzz/corpus/multipart/` and `fuzz/artifacts/multipart/` as the body of an
//! upload through the router ([`homeseason_server::fuzzing::MultipartHarness`], the fuzzer's own
//! body), then a fixed number of deterministic mutations of them. A failing body is written under the
//! system temp folder and named in the failure.
//!
//! `HOMESEASON_FUZZ_SMOKE_ITERS` scales the mutation count (default 1 = the stable pass).
#![expect(
    clippy::print_stderr,
    reason = "the smoke pass says what it ran (seen with --nocapture)"
)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use homeseason_ingest::fuzzing::Mutator;
use homeseason_server::fuzzing::MultipartHarness;

fn inputs() -> Vec<(PathBuf, Vec<u8>)> {
    homeseason_ingest::fuzzing::corpus_inputs(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz"),
        "multipart",
    )
}

#[test]
fn multipart_corpus_and_mutations() {
    let scale = homeseason_test_support::env_count("HOMESEASON_FUZZ_SMOKE_ITERS", 1);
    let dir = tempfile::tempdir().expect("temp dir");
    let harness = MultipartHarness::new(dir.path());
    let corpus = inputs();
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    let mut run = |what: &str, data: &[u8]| {
        let Ok((status, code)) = catch_unwind(AssertUnwindSafe(|| harness.run(data))) else {
            let path = std::env::temp_dir().join(format!(
                "homeseason-fuzz-smoke-multipart-{}",
                homeseason_ingest::sha256_hex(data)
            ));
            let _ = std::fs::write(&path, data);
            panic!(
                "fuzz target multipart failed on {what}; body written to {}",
                path.display()
            );
        };
        *seen
            .entry(format!("{} {code}", status.as_u16()))
            .or_default() += 1;
    };
    let start = Instant::now();
    for (path, data) in &corpus {
        run(&path.display().to_string(), data);
    }
    let replayed = start.elapsed();
    let mut rng = Mutator::new(0x3D1A);
    let budget = Duration::from_secs(8) * u32::try_from(scale).unwrap_or(1);
    let mut done = 0;
    for i in 0..300 * scale {
        if start.elapsed() > budget {
            break;
        }
        let (_, a) = &corpus[rng.below(corpus.len())];
        let (_, b) = &corpus[rng.below(corpus.len())];
        let m = rng.mutate(a, b);
        run(&format!("mutation {i}"), &m);
        done += 1;
    }
    eprintln!(
        "fuzz smoke multipart: {} corpus files in {replayed:.1?}, {done} mutations, {:.1?} in all; answers {seen:?}",
        corpus.len(),
        start.elapsed()
    );
}
