#!/usr/bin/env bash
# rust-toolchain.toml pins 1.95.0. rustup cannot download toolchains here (no network beyond the
# package registries), so when the machine's stable toolchain *is* 1.95.0 and no `1.95.0` toolchain
# is installed, name it so (a symlink in rustup's toolchain folder). Idempotent.
set -euo pipefail
home="${RUSTUP_HOME:-$HOME/.rustup}"
host="$(RUSTUP_TOOLCHAIN=stable rustc -vV | sed -n 's/^host: //p')"
pinned="1.95.0-$host"
if [ ! -e "$home/toolchains/$pinned" ]; then
  version="$(RUSTUP_TOOLCHAIN=stable rustc --version | awk '{print $2}')"
  if [ "$version" = "1.95.0" ]; then
    ln -s "$home/toolchains/stable-$host" "$home/toolchains/$pinned"
    echo "tests/toolchain.sh: $pinned -> stable-$host" >&2
  else
    echo "tests/toolchain.sh: rust-toolchain.toml pins 1.95.0 but stable is $version; install 1.95.0" >&2
  fi
fi
