//! cargo-fuzz target: [`homeseason_ingest::fuzzing::csv_ingest`] (shared with the stable smoke test).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    homeseason_ingest::fuzzing::csv_ingest(data);
});
