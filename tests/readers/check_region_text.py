#!/usr/bin/env python3
"""DuckDB reads region_code as text in a lake whose region folders are all numeric.

DuckDB infers a Hive partition key's type from the folder names it finds: in a lake holding only
region_code=000000 and region_code=330000, a plain read_parquet(..., hive_partitioning = true) gives
BIGINT (000000 becomes 0), while a lake that also holds region_code=XPCC gives VARCHAR. The views that
`homeseason export duckdb` writes declare every partition key's type from the contract; this script runs
them and checks that region_code is VARCHAR with its leading zeros in every view that has it.

Usage: check_region_text.py --lake LAKE --views VIEWS.sql --codes 000000,330000
Exit status 0 when every view reads region_code as text; 1 with the differences otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lake", required=True, type=Path)
    ap.add_argument("--views", required=True, type=Path)
    ap.add_argument("--codes", required=True)
    args = ap.parse_args()
    want = sorted(args.codes.split(","))
    con = duckdb.connect()
    problems: list[str] = []
    # The trap, shown for the record: the plain read infers the key's type from the folders.
    for table in ("enterprise_sales", "retail_stats"):
        glob = str(args.lake / table / "**" / "*.parquet").replace("'", "''")
        plain = dict(
            (r[0], r[1])
            for r in con.execute(
                f"DESCRIBE SELECT * FROM read_parquet('{glob}', hive_partitioning = true)"
            ).fetchall()
        )
        print(f"plain read_parquet of {table}: region_code is {plain.get('region_code')}")
    con.execute(args.views.read_text(encoding="utf-8"))
    views = [r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()]
    checked = 0
    for view in sorted(views):
        described = {r[0]: r[1] for r in con.execute(f'DESCRIBE "{view}"').fetchall()}
        if "region_code" not in described:
            continue
        checked += 1
        if described["region_code"] != "VARCHAR":
            problems.append(f"view {view}: region_code is {described['region_code']}, not VARCHAR")
            continue
        got = sorted(r[0] for r in con.execute(f'SELECT DISTINCT region_code FROM "{view}"').fetchall())
        if not set(got) <= set(want) or not got:
            problems.append(f"view {view}: region codes {got}, expected among {want}")
        print(f"view {view}: region_code VARCHAR {got}")
    for table in ("enterprise_sales", "retail_stats"):
        if table not in views:
            problems.append(f"no view for {table} (views: {views})")
    if checked == 0:
        problems.append("no view has a region_code column")
    for p in problems:
        print("PROBLEM", p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
