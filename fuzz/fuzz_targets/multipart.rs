//! cargo-fuzz target: the body of `POST /api/uploads` through the router
//! ([`homeseason_server::fuzzing::MultipartHarness`], shared with the stable smoke test,
//! `crates/homeseason-server/tests/server/fuzz_smoke.rs`). One server state per process, in
//! `homeseason-fuzz-multipart-<pid>` under the system temp folder (or `HOMESEASON_FUZZ_DIR`), left
//! behind for inspection.
#![no_main]

mod common;

use std::sync::OnceLock;

use homeseason_server::fuzzing::MultipartHarness;

fn harness() -> &'static MultipartHarness {
    static H: OnceLock<MultipartHarness> = OnceLock::new();
    H.get_or_init(|| {
        let parent = std::env::var_os("HOMESEASON_FUZZ_DIR")
            .map_or_else(std::env::temp_dir, std::path::PathBuf::from);
        let dir = parent.join(format!("homeseason-fuzz-multipart-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        MultipartHarness::new(&dir)
    })
}

libfuzzer_sys::fuzz_target!(init: common::init(), |data: &[u8]| {
    common::guarded(|| {
        harness().run(data);
    });
});
