#!/usr/bin/env bash
# The weekly re-run of `homeseason uplift` (issue 19; results in benchmarks/UPLIFT.md): last
# week's lake is estimated (which fills the lake's cache of regression fits, `_cache/`), this
# week's delivery lands (the campaign's December payment files), and `uplift` runs again — once
# with the cache (what an analyst's weekly run does) and once with `--no-fit-cache` (every fit
# computed, the cold figure), interleaved, each on a fresh copy of the same lake. Every pair's
# tables are compared byte for byte (they must be the same).
#
#   benchmarks/uplift_weekly.sh HOMESEASON_BINARY WORK_DIR [PAIRS]
set -euo pipefail
bin=$(realpath "$1")
work=$2
pairs=${3:-5}
rm -rf "$work"
mkdir -p "$work"
"$bin" synth --out "$work/sample" > /dev/null
mkdir -p "$work/delivery"
find "$work/sample/payments" -name "*_2023-12.csv" -exec mv {} "$work/delivery/" \;
"$bin" ingest --lake "$work/lake" "$work/sample" > /dev/null
"$bin" uplift --lake "$work/lake" > /dev/null 2> "$work/last-week.err"   # last week's run
"$bin" ingest --lake "$work/lake" "$work/delivery" > /dev/null           # this week's files
tables() {  # every table file reachable from the lake's public paths, with its SHA-256
  (cd "$1" && for t in $(ls | grep -v '^[._]'); do
    find -L "$t/" -name "*.parquet" | sort | while read -r f; do
      echo "$(echo "$f" | sed -E 's#/v[0-9]{6}/#/#') $(sha256sum < "$f" | cut -c1-16)"
    done
  done | sort)
}
echo "run wall_s user_s sys_s peak_KiB regression_fits"
for i in $(seq "$pairs"); do
  for mode in cached cold; do
    rm -rf "$work/run-$mode"
    cp -a "$work/lake" "$work/run-$mode"
    flag=()
    [ "$mode" = cold ] && flag=(--no-fit-cache)
    /usr/bin/time -f "%e %U %S %M" -o "$work/time" \
      "$bin" uplift --lake "$work/run-$mode" "${flag[@]}" > /dev/null 2> "$work/err"
    fits=$(grep -o "regression fits: [0-9]* remembered, [0-9]* computed" "$work/err" || echo "-")
    echo "$mode $(cat "$work/time") $fits"
  done
  if diff <(tables "$work/run-cached") <(tables "$work/run-cold") > /dev/null; then
    echo "pair $i: tables identical ($(tables "$work/run-cold" | wc -l) files)"
  else
    echo "pair $i: TABLES DIFFER"
    exit 1
  fi
done
