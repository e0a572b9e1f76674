#!/usr/bin/env bash
# The one test command (README, .ci/run): every unit, integration and end-to-end test of the workspace.
# It installs what the tests need itself; nothing is assumed to be on the machine beyond the Rust
# toolchain. Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
bash tests/toolchain.sh
# Python readers for tests/e2e/readers.rs (DuckDB, pyarrow, polars, nbclient + ipykernel, matplotlib):
# pinned, idempotent, quiet. When they cannot be installed those tests fail and say so; they never skip.
if PIP_ROOT_USER_ACTION=ignore PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet \
  --disable-pip-version-check -r tests/readers/requirements.txt; then
  python3 -c 'import sys; from jupyter_client.kernelspec import KernelSpecManager as K; sys.exit("python3" not in K().find_kernel_specs())' \
    || python3 -m ipykernel install --user --name python3 >/dev/null
else
  echo "tests/run.sh: could not install tests/readers/requirements.txt; the reader tests will fail" >&2
fi
# Browser test of the upload page (crates/homeseason-server/tests/server/browser.rs): Debian's chromium
# and playwright-core, idempotent and quick when present. Once installed the test is required; if the
# install is impossible it is skipped with a loud message.
if bash tests/browser/install.sh >&2; then
  export HOMESEASON_BROWSER_TEST=require
else
  echo "########################################################################" >&2
  echo "### tests/run.sh: could not install chromium/playwright-core:        ###" >&2
  echo "### the browser test (liaison_round_trip_in_headless_chromium) SKIPS ###" >&2
  echo "########################################################################" >&2
  export HOMESEASON_BROWSER_TEST=skip
fi
# A real Apache Spark standalone cluster for the Spark engine's tests (issue 17): pyspark in a venv, a
# master and two 1-core workers on 127.0.0.1 (tests/spark/cluster.sh); always stopped on exit. If it
# cannot start, the Spark tests fail and say so (HOMESEASON_SPARK_TEST=require); they never skip here.
export HOMESEASON_SPARK_TEST=require
trap 'bash tests/spark/cluster.sh stop' EXIT
if SPARK_ENV="$(bash tests/spark/cluster.sh start)"; then
  eval "$SPARK_ENV"
else
  echo "tests/run.sh: could not start the Spark cluster; the Spark tests will fail" >&2
fi
cargo test --workspace --locked --no-fail-fast "$@"
