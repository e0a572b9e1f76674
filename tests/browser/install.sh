#!/usr/bin/env bash
# Install what the browser test needs (idempotent; fast when already present):
#   Debian's chromium (/usr/bin/chromium) and playwright-core (npm, into tests/browser/node_modules;
#   it downloads no browser). Prints "ready" on success; on failure prints why and exits non-zero.
set -uo pipefail
cd "$(dirname "$0")"
if [ -z "${CHROMIUM:-}" ] && [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "tests/browser: installing Debian's chromium" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || { echo "tests/browser: apt-get install chromium failed" >&2; exit 1; }
  else
    echo "tests/browser: /usr/bin/chromium is missing and apt-get (as root) is not available" >&2
    exit 1
  fi
fi
command -v node >/dev/null || { echo "tests/browser: node is not installed" >&2; exit 1; }
want="$(node -p 'require("./package.json").dependencies["playwright-core"]')"
have="$(node -p 'try { require("./node_modules/playwright-core/package.json").version } catch { "" }' 2>/dev/null)"
if [ "$have" != "$want" ]; then
  echo "tests/browser: npm install playwright-core@$want" >&2
  npm install --no-package-lock --no-audit --no-fund --loglevel=error >/dev/null \
    || { echo "tests/browser: npm install failed" >&2; exit 1; }
fi
echo ready
