#!/usr/bin/env bash
# The one test command (README, .ci/run): every unit, integration and end-to-end test of the workspace.
# It installs what the tests need itself; nothing is assumed to be on the machine beyond the Rust
# toolchain. Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
cargo test --workspace --locked --no-fail-fast "$@"
