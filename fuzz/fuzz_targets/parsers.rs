//! cargo-fuzz target: [`homeseason_ingest::fuzzing::parsers`] (shared with the stable smoke test,
//! `crates/homeseason-ingest/tests/fuzz_smoke.rs`).
#![no_main]

mod common;

libfuzzer_sys::fuzz_target!(init: common::init(), |data: &[u8]| {
    common::guarded(|| homeseason_ingest::fuzzing::parsers(data));
});
