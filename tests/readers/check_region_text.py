#!/usr/bin/env python3
"""Every reader reads region_code as text in a lake whose region codes are all numeric (issue 15).

Until the layout changed, region_code lived only in a `region_code=330000` folder, and engines infer a
folder key's type from the names they find: in a lake holding only 000000 and 330000, DuckDB's plain
read_parquet(..., hive_partitioning = true) gave BIGINT (000000 became 0). Today region_code is never a
folder: it is a text column in the files (the region names the file, `period=2023-09/330000.parquet`).
This script reads enterprise_sales and retail_stats with PLAIN DuckDB (read_parquet over `**/*.parquet`
with hive_partitioning), pyarrow.dataset (hive partitioning) and polars scan_parquet (hive
partitioning), and checks that each reads region_code as text with its leading zeros; then it runs the
views `homeseason export duckdb` writes and checks every view with a region_code the same way.

Usage: check_region_text.py --lake LAKE --views VIEWS.sql --codes 000000,330000 [--views-only]
Exit status 0 when every reader reads region_code as text; 1 with the differences otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lake", required=True, type=Path)
    ap.add_argument("--views", required=True, type=Path)
    ap.add_argument("--codes", required=True)
    ap.add_argument(
        "--views-only",
        action="store_true",
        help="check the views only (a lake of the layout before issue 15, whose plain reads infer the type)",
    )
    args = ap.parse_args()
    want = sorted(args.codes.split(","))
    con = duckdb.connect()
    problems: list[str] = []
    tables = ("enterprise_sales", "retail_stats")
    got_all: set[str] = set()
    for table in () if args.views_only else tables:
        glob = str(args.lake / table / "**" / "*.parquet")
        quoted = glob.replace("'", "''")
        # Plain DuckDB, no declared types.
        plain = {
            r[0]: r[1]
            for r in con.execute(
                f"DESCRIBE SELECT * FROM read_parquet('{quoted}', hive_partitioning = true)"
            ).fetchall()
        }
        codes = sorted(
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT region_code FROM read_parquet('{quoted}', hive_partitioning = true)"
            ).fetchall()
        )
        print(f"duckdb read_parquet {table}: region_code {plain.get('region_code')} {codes}")
        if plain.get("region_code") != "VARCHAR" or not codes or not set(codes) <= set(want):
            problems.append(f"duckdb {table}: region_code {plain.get('region_code')} {codes}")
        got_all |= set(codes)
        # pyarrow.dataset with Hive partitioning.
        dataset = ds.dataset(str(args.lake / table) + "/", format="parquet", partitioning="hive")
        arrow = dataset.to_table()
        field = arrow.schema.field("region_code")
        codes = sorted(set(arrow.column("region_code").to_pylist()))
        print(f"pyarrow dataset {table}: region_code {field.type} {codes}")
        if not (pa.types.is_string(field.type) or pa.types.is_large_string(field.type)) or not set(
            codes
        ) <= set(want):
            problems.append(f"pyarrow {table}: region_code {field.type} {codes}")
        # polars scan_parquet with Hive partitioning.
        lazy = pl.scan_parquet(glob, hive_partitioning=True)
        dtype = lazy.collect_schema()["region_code"]
        codes = sorted(lazy.select("region_code").unique().collect()["region_code"].to_list())
        print(f"polars scan_parquet {table}: region_code {dtype} {codes}")
        if dtype != pl.String or not set(codes) <= set(want):
            problems.append(f"polars {table}: region_code {dtype} {codes}")
    if not args.views_only and got_all != set(want):
        problems.append(f"region codes read {sorted(got_all)}, expected {want}")
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
    for table in tables:
        if table not in views:
            problems.append(f"no view for {table} (views: {views})")
    if checked == 0:
        problems.append("no view has a region_code column")
    for p in problems:
        print("PROBLEM", p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
