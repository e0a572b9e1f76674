#!/usr/bin/env python3
"""Read every table of a homeseason lake the way a dashboard would, with two engines that share no code
with homeseason -- DuckDB (read_parquet with hive_partitioning) and pyarrow (pyarrow.dataset with Hive
partitioning) -- and compare what they see with what homeseason itself read (a JSON file written by
tests/e2e/readers.rs):

- the tables present, each one's row count, files and partitions;
- the columns and their types (the data contract: text/number/integer/boolean/date);
- the sum of every numeric column, the set of region codes (leading zeros and XPCC intact) and the range
  of every date column (partition dates such as weekly_tracking's as_of_week included);
- a few filtered totals, such as the national all-targeted uplift of the primary method, that only come
  out right when the partition columns are read with the right types;
- the key-value metadata every Parquet file carries: homeseason.table and homeseason.schema_version.

Usage: check_outputs.py --lake LAKE --expected EXPECTED.json
Exit status 0 when everything matches; 1 with a list of differences otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

# Contract type -> (DuckDB type, pyarrow type test).
DUCKDB_TYPES = {
    "string": {"VARCHAR"},
    "number": {"DOUBLE"},
    "integer": {"BIGINT"},
    "boolean": {"BOOLEAN"},
    "date": {"DATE"},
    "datetime": {"TIMESTAMP", "TIMESTAMP_MS", "TIMESTAMP WITH TIME ZONE"},
}
ARROW_TYPES = {
    "string": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t),
    "number": pa.types.is_float64,
    "integer": pa.types.is_int64,
    "boolean": pa.types.is_boolean,
    "date": pa.types.is_date32,
    "datetime": pa.types.is_timestamp,
}
ARROW_PARTITION_TYPES = {"string": pa.string(), "date": pa.date32(), "integer": pa.int64()}
DUCKDB_PARTITION_TYPES = {"string": "VARCHAR", "date": "DATE", "integer": "BIGINT"}
# Path-only keys that are not contract columns (payment_daily's year=/month=).
DERIVED_KEYS = {"year": "integer", "month": "integer"}

problems: list[str] = []


def problem(msg: str) -> None:
    problems.append(msg)


def close(a, b, rel: float = 1e-9) -> bool:
    # SQL and Arrow sum an all-null column to NULL, polars to 0.
    a = 0 if a is None else a
    b = 0 if b is None else b
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=1e-6)


def sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def table_dir(lake: Path, table: str, spec: dict) -> Path:
    """The table's folder: `lake/<table>`, or `lake/dashboard/<table>` for the dashboard copies."""
    return lake / spec.get("dir", table)


def duckdb_source(lake: Path, table: str, spec: dict) -> str:
    """The read_parquet call a dashboard would use for this table."""
    glob = sql_str(str(table_dir(lake, table, spec) / "**" / "*.parquet"))
    keys = spec["partition_keys"]
    types = {k: DUCKDB_PARTITION_TYPES[spec["columns"].get(k, DERIVED_KEYS.get(k, "string"))] for k in keys}
    args = [glob, "hive_partitioning = true"]
    if types:
        inner = ", ".join(f"{sql_str(k)}: {v}" for k, v in types.items())
        args.append(f"hive_types = {{{inner}}}")
    return f"read_parquet({', '.join(args)})"


def sql_literal(value: dict) -> str:
    if "date" in value:
        return f"DATE {sql_str(value['date'])}"
    if "text" in value:
        return sql_str(value["text"])
    raise ValueError(value)


def arrow_literal(value: dict):
    if "date" in value:
        return pa.scalar(dt.date.fromisoformat(value["date"]), pa.date32())
    return pa.scalar(value["text"], pa.string())


def iso(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    return str(v)


def check_duckdb(con, lake: Path, table: str, spec: dict) -> None:
    src = duckdb_source(lake, table, spec)
    who = f"duckdb {table}"
    described = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}
    for name, kind in spec["columns"].items():
        got = described.get(name)
        if got is None:
            if name in spec["present_columns"]:
                problem(f"{who}: column {name} missing (columns: {sorted(described)})")
            continue
        if got not in DUCKDB_TYPES[kind]:
            problem(f"{who}: column {name} is {got}, the contract says {kind}")
    for name in described:
        if name not in spec["columns"] and name not in spec["partition_keys"]:
            problem(f"{who}: column {name} is not in the contract")
    rows = con.execute(f"SELECT count(*) FROM {src}").fetchone()[0]
    if rows != spec["rows"]:
        problem(f"{who}: {rows} rows, homeseason read {spec['rows']}")
    for col, want in spec["sums"].items():
        got = con.execute(f'SELECT sum("{col}") FROM {src}').fetchone()[0]
        if not close(got, want):
            problem(f"{who}: sum({col}) = {got}, homeseason {want}")
    if "region_codes" in spec:
        got = [r[0] for r in con.execute(f"SELECT DISTINCT region_code FROM {src} ORDER BY 1").fetchall()]
        if got != spec["region_codes"]:
            problem(f"{who}: region codes {got[:8]}…, homeseason {spec['region_codes'][:8]}…")
    for col, (lo, hi) in spec["date_ranges"].items():
        got = con.execute(f'SELECT min("{col}"), max("{col}") FROM {src}').fetchone()
        if [iso(got[0]), iso(got[1])] != [lo, hi]:
            problem(f"{who}: {col} ranges {iso(got[0])} … {iso(got[1])}, homeseason {lo} … {hi}")
    kv = con.execute(
        f"SELECT file_name, key::VARCHAR, value::VARCHAR FROM parquet_kv_metadata({sql_str(str(table_dir(lake, table, spec) / '**' / '*.parquet'))})"
    ).fetchall()
    files = sorted({r[0] for r in kv})
    if len(files) != spec["files"]:
        problem(f"{who}: {len(files)} files carry metadata, homeseason wrote {spec['files']}")
    for f in files:
        meta = {k: v for (name, k, v) in kv if name == f}
        if meta.get("homeseason.table") != table:
            problem(f"{who}: {f} has homeseason.table = {meta.get('homeseason.table')}")
        if meta.get("homeseason.schema_version") != spec["schema_version"]:
            problem(
                f"{who}: {f} has homeseason.schema_version = {meta.get('homeseason.schema_version')}, "
                f"expected {spec['schema_version']}"
            )


def arrow_dataset(lake: Path, table: str, spec: dict) -> ds.Dataset:
    keys = spec["partition_keys"]
    if not keys:
        return ds.dataset(table_dir(lake, table, spec), format="parquet")
    schema = pa.schema(
        [(k, ARROW_PARTITION_TYPES[spec["columns"].get(k, DERIVED_KEYS.get(k, "string"))]) for k in keys]
    )
    return ds.dataset(
        table_dir(lake, table, spec), format="parquet", partitioning=ds.partitioning(schema, flavor="hive")
    )


def check_pyarrow(lake: Path, table: str, spec: dict) -> None:
    who = f"pyarrow {table}"
    # The one-liner first: partitioning='hive' with inferred types still counts every row.
    plain = ds.dataset(table_dir(lake, table, spec), format="parquet", partitioning="hive")
    if plain.count_rows() != spec["rows"]:
        problem(f"{who} (partitioning='hive'): {plain.count_rows()} rows, homeseason read {spec['rows']}")
    dataset = arrow_dataset(lake, table, spec)
    data = dataset.to_table()
    if data.num_rows != spec["rows"]:
        problem(f"{who}: {data.num_rows} rows, homeseason read {spec['rows']}")
    names = set(data.schema.names)
    for name, kind in spec["columns"].items():
        if name not in names:
            if name in spec["present_columns"]:
                problem(f"{who}: column {name} missing")
            continue
        t = data.schema.field(name).type
        if not ARROW_TYPES[kind](t):
            problem(f"{who}: column {name} is {t}, the contract says {kind}")
    for col, want in spec["sums"].items():
        got = pc.sum(data[col]).as_py()
        if not close(got, want):
            problem(f"{who}: sum({col}) = {got}, homeseason {want}")
    if "region_codes" in spec:
        got = sorted(pc.unique(data["region_code"].cast(pa.string())).to_pylist())
        if got != spec["region_codes"]:
            problem(f"{who}: region codes {got[:8]}…, homeseason {spec['region_codes'][:8]}…")
    for col, (lo, hi) in spec["date_ranges"].items():
        mm = pc.min_max(data[col]).as_py()
        if [iso(mm["min"]), iso(mm["max"])] != [lo, hi]:
            problem(f"{who}: {col} ranges {iso(mm['min'])} … {iso(mm['max'])}, homeseason {lo} … {hi}")
    files = sorted(dataset.files)
    if len(files) != spec["files"]:
        problem(f"{who}: {len(files)} files, homeseason wrote {spec['files']}")
    for f in files:
        meta = pq.read_metadata(f).metadata or {}
        if meta.get(b"homeseason.table") != table.encode():
            problem(f"{who}: {f} has homeseason.table = {meta.get(b'homeseason.table')}")
        if meta.get(b"homeseason.schema_version") != spec["schema_version"].encode():
            problem(f"{who}: {f} has homeseason.schema_version = {meta.get(b'homeseason.schema_version')}")


def check_filtered(con, lake: Path, expected: dict) -> None:
    for check in expected.get("filtered_sums", []):
        table, col, want = check["table"], check["column"], check["value"]
        spec = expected["tables"][table]
        where = " AND ".join(f'"{w["column"]}" = {sql_literal(w)}' for w in check["where"])
        got = con.execute(f'SELECT sum("{col}"), count(*) FROM {duckdb_source(lake, table, spec)} WHERE {where}').fetchone()
        if not close(got[0], want) or got[1] != check["rows"]:
            problem(f"duckdb {check['name']}: sum {got[0]} over {got[1]} rows, homeseason {want} over {check['rows']}")
        flt = None
        for w in check["where"]:
            # A plain filter, as a dashboard would write it (text columns are large_string: the lake
            # avoids string_view, which pyarrow cannot filter).
            term = ds.field(w["column"]) == arrow_literal(w)
            flt = term if flt is None else flt & term
        data = arrow_dataset(lake, table, spec).to_table(filter=flt, columns=[col])
        got_sum = pc.sum(data[col]).as_py()
        if not close(got_sum, want) or data.num_rows != check["rows"]:
            problem(
                f"pyarrow {check['name']}: sum {got_sum} over {data.num_rows} rows, "
                f"homeseason {want} over {check['rows']}"
            )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lake", required=True, type=Path)
    ap.add_argument("--expected", required=True, type=Path)
    args = ap.parse_args()
    expected = json.loads(args.expected.read_text(encoding="utf-8"))
    lake = args.lake.resolve()
    # Folders of the contract's tables (`<table>`, or `dashboard/<table>` for the dashboard copies);
    # other folders are not tables.
    dirs = expected.get("contract_dirs", {t: t for t in expected.get("contract_tables", expected["tables"])})
    present = sorted(t for t, d in dirs.items() if (lake / d).is_dir() and any((lake / d).rglob("*.parquet")))
    if present != sorted(expected["tables"]):
        problem(f"tables in the lake {present}, homeseason read {sorted(expected['tables'])}")
    con = duckdb.connect()
    for table, spec in sorted(expected["tables"].items()):
        try:
            check_duckdb(con, lake, table, spec)
        except Exception as e:  # a reader error is a finding, not a crash: report it with the rest
            problem(f"duckdb {table}: {type(e).__name__}: {e}")
        try:
            check_pyarrow(lake, table, spec)
        except Exception as e:
            problem(f"pyarrow {table}: {type(e).__name__}: {e}")
    try:
        check_filtered(con, lake, expected)
    except Exception as e:
        problem(f"filtered totals: {type(e).__name__}: {e}")
    tables = len(expected["tables"])
    checks = len(expected.get("filtered_sums", []))
    if problems:
        print(f"{len(problems)} differences between homeseason and the independent readers:")
        for p in problems:
            print(" -", p)
        return 1
    print(
        f"duckdb {duckdb.__version__} and pyarrow {pa.__version__} read {tables} tables "
        f"({sum(s['rows'] for s in expected['tables'].values())} rows) and {checks} filtered totals "
        "exactly as homeseason does"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
