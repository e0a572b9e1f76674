//! What every target shares: panics the library catches on purpose (a damaged workbook or Parquet file
//! whose reader panics is refused, not fatal) must not count as crashes, yet every panic that escapes
//! the target must. libfuzzer-sys aborts inside its panic hook, before any `catch_unwind` could run, so
//! [`init`] replaces that hook with one that only prints, and [`guarded`] aborts on an escaped panic.

/// Run once at start (the `init:` block of `fuzz_target!`).
pub fn init() {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("panic: {info}");
    }));
}

/// Run a target body; a panic that reaches here is a crash (abort, so libFuzzer keeps the input).
pub fn guarded(body: impl FnOnce()) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).is_err() {
        std::process::abort();
    }
}
