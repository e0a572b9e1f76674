"""Benchmark: homeseason's streaming ingest vs DuckDB vs Python polars on the same transaction files.

    python3 benchmarks/run.py [--sizes 1000000,10000000,50000000] [--repeat 3] [--work /var/tmp/homeseason-bench]

Installs its peers itself (a venv with duckdb, polars and numpy under the work folder), builds homeseason
in release mode, generates the files (benchmarks/gen.py, sample season layout) once, then for each size runs
the three tools in turn on the same file — each reads the CSV, removes duplicate txn_ids, rolls county codes
up to the 37 reporting regions, maps MCC → category (unmapped → other), aggregates to date × region × MCC ×
channel (sales, gross, refunds, net, distinct merchants) and writes Parquet — under /usr/bin/time -v for
wall time and peak RSS. Writes benchmarks/RESULTS.md with the machine it ran on.
"""
import argparse
import os
import pathlib
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent
PLAN = ("2102", "3702", "3302", "3502", "4403")


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def venv(work):
    v = work / "venv"
    py = v / "bin" / "python"
    if not py.exists():
        sh([sys.executable, "-m", "venv", str(v)])
    try:
        sh([str(py), "-c", "import duckdb, polars, numpy"], capture_output=True)
    except subprocess.CalledProcessError:
        sh([str(py), "-m", "pip", "install", "-q", "duckdb==2.0.1", "polars==2.1.0", "numpy"])
    return py


MEMORY_CAP = None  # optional address-space cap per tool run (--memory-cap-gib)


def _cap():
    if MEMORY_CAP:
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def timed(cmd, cwd=None, env=None):
    """Run under /usr/bin/time -v: (wall seconds, peak RSS bytes, stdout)."""
    p = subprocess.run(
        ["/usr/bin/time", "-v"] + cmd, cwd=cwd, env=env, capture_output=True, text=True,
        preexec_fn=_cap,
    )
    if p.returncode != 0:
        raise RuntimeError(f"exit {p.returncode}: {(p.stderr.strip().splitlines() or ['?'])[0][:160]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", p.stderr).group(1)
    parts = [float(x) for x in wall.split(":")]
    secs = sum(v * 60 ** i for i, v in enumerate(reversed(parts)))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1)) * 1024
    return secs, rss, p.stdout


def mcc_map():
    c = tomllib.loads((ROOT / "crates/homeseason-schema/data/campaign-2023.toml").read_text("utf-8"))
    return [(m["code"], m["category"]) for m in c["mcc"]]


DUCKDB = r"""
import sys, duckdb
f, out, mccs = sys.argv[1], sys.argv[2], sys.argv[3]
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
con.execute("CREATE TABLE mcc_map(mcc VARCHAR, category VARCHAR)")
con.executemany("INSERT INTO mcc_map VALUES (?, ?)", [tuple(x.split(':')) for x in mccs.split(',')])
con.execute(f'''
COPY (
  WITH t AS (
    SELECT * FROM read_csv('{f}', header = true, auto_detect = false, delim = ',', quote = '"',
      timestampformat = '%Y-%m-%d %H:%M:%S',
      columns = {{'txn_id': 'VARCHAR', 'institution': 'VARCHAR', 'txn_time': 'TIMESTAMP',
                 'merchant_id': 'VARCHAR', 'mcc': 'VARCHAR', 'region_code': 'VARCHAR',
                 'amount': 'DECIMAL(18,2)', 'txn_type': 'VARCHAR', 'channel': 'VARCHAR'}})
  ), d AS (
    SELECT DISTINCT ON (txn_id) * FROM t
  ), r AS (
    SELECT txn_time::DATE AS date, institution,
      CASE WHEN substr(region_code, 1, 4) IN ('2102', '3702', '3302', '3502', '4403')
             THEN substr(region_code, 1, 4) || '00'
           WHEN substr(region_code, 1, 4) = '6590' OR region_code = 'XPCC' THEN 'XPCC'
           ELSE substr(region_code, 1, 2) || '0000' END AS region_code,
      mcc, channel, merchant_id, amount, txn_type = 'sale' AS sale
    FROM d
  )
  SELECT date, institution, region_code, r.mcc, coalesce(m.category, 'other') AS category, channel,
    count(*) FILTER (WHERE sale) AS txn_count,
    coalesce(sum(amount) FILTER (WHERE sale), 0)::DOUBLE AS amount_yuan,
    coalesce(sum(amount) FILTER (WHERE NOT sale), 0)::DOUBLE AS refund_amount_yuan,
    (coalesce(sum(amount) FILTER (WHERE sale), 0) - coalesce(sum(amount) FILTER (WHERE NOT sale), 0))::DOUBLE AS net_amount_yuan,
    count(DISTINCT merchant_id) FILTER (WHERE sale) AS merchant_count
  FROM r LEFT JOIN mcc_map m ON r.mcc = m.mcc
  GROUP BY ALL
) TO '{out}' (FORMAT parquet)
''')
print(con.execute(f"SELECT count(*), sum(net_amount_yuan) FROM '{out}'").fetchone())
"""

POLARS = r"""
import sys, polars as pl
f, out, mccs = sys.argv[1], sys.argv[2], sys.argv[3]
mcc_map = pl.LazyFrame([tuple(x.split(':')) for x in mccs.split(',')], schema=['mcc', 'category'], orient='row')
cols = ['txn_id', 'institution', 'txn_time', 'merchant_id', 'mcc', 'region_code', 'amount', 'txn_type', 'channel']
lf = pl.scan_csv(f, schema={c: pl.String for c in cols})
code4 = pl.col('region_code').str.slice(0, 4)
region = (pl.when(code4.is_in(['2102', '3702', '3302', '3502', '4403'])).then(code4 + '00')
          .when((code4 == '6590') | (pl.col('region_code') == 'XPCC')).then(pl.lit('XPCC'))
          .otherwise(pl.col('region_code').str.slice(0, 2) + '0000'))
sale = pl.col('txn_type') == 'sale'
amount = pl.col('amount').cast(pl.Float64)
(lf.unique(subset=['txn_id'], keep='any')
   .with_columns(pl.col('txn_time').str.to_datetime('%Y-%m-%d %H:%M:%S').dt.date().alias('date'),
                 region.alias('region_code'))
   .join(mcc_map, on='mcc', how='left')
   .with_columns(pl.col('category').fill_null('other'))
   .group_by(['date', 'institution', 'region_code', 'mcc', 'category', 'channel'])
   .agg(sale.sum().alias('txn_count'),
        amount.filter(sale).sum().alias('amount_yuan'),
        amount.filter(~sale).sum().alias('refund_amount_yuan'),
        pl.col('merchant_id').filter(sale).n_unique().alias('merchant_count'))
   .with_columns((pl.col('amount_yuan') - pl.col('refund_amount_yuan')).alias('net_amount_yuan'))
   .sink_parquet(out))
print(pl.scan_parquet(out).select(pl.len(), pl.col('net_amount_yuan').sum()).collect().row(0))
"""


def machine():
    cpu = "unknown"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = int(re.search(r"MemTotal:\s+(\d+)", open("/proc/meminfo").read()).group(1)) / 2**20
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, {platform.system()} {platform.release()}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000000,10000000,50000000")
    ap.add_argument("--repeat", type=int, default=3, help="runs per tool at ≤ 10 M rows (median kept)")
    ap.add_argument("--work", default="/var/tmp/homeseason-bench")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    ap.add_argument("--memory-cap-gib", type=int, default=0, help="address-space cap per run (0: none)")
    a = ap.parse_args()
    global MEMORY_CAP
    MEMORY_CAP = a.memory_cap_gib * 2**30 or None
    work = pathlib.Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    py = venv(work)
    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", "/var/tmp/homeseason-target")
    if not a.no_build:
        # --workspace: the same feature set as every other build of the workspace (a `-p` build would
        # resolve different features and rebuild polars).
        sh(["cargo", "build", "--release", "--workspace", "--locked", "--bins"], cwd=ROOT, env=env)
    exe = pathlib.Path(env["CARGO_TARGET_DIR"]) / "release" / "homeseason"
    mccs = ",".join(f"{c}:{k}" for c, k in mcc_map())
    versions = subprocess.run(
        [str(py), "-c", "import duckdb, polars; print(duckdb.__version__, polars.__version__)"],
        capture_output=True, text=True, check=True).stdout.split()
    rows_out = []
    for n in [int(s) for s in a.sizes.split(",")]:
        f = work / f"txn_{n}.csv"
        if not f.exists():
            sh([str(py), str(ROOT / "benchmarks" / "gen.py"), str(n), str(f)])
        size_mb = f.stat().st_size / 1e6
        runs = a.repeat if n <= 10_000_000 else 1
        res = {}
        for tool in ["homeseason", "duckdb", "polars"]:
            walls, rsss, check = [], [], ""
            for _ in range(runs):
                out = work / f"out_{tool}"
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir()
                try:
                    if tool == "homeseason":
                        cmd = [str(exe), "ingest", "--lake", str(out / "lake"), "--feed",
                               "payment_transactions", "--json", str(f)]
                        w, r, so = timed(cmd, cwd=out)
                        import json
                        rep = json.loads(so)[0]["report"]
                        # The same two numbers the peers print, read back from homeseason's lake.
                        daily = subprocess.run(
                            [str(py), "-c", "import sys, duckdb; print(duckdb.sql(\"SELECT count(*), sum(net_amount_yuan) "
                             "FROM read_parquet('\" + sys.argv[1] + \"/payment_daily/**/*.parquet')\").fetchall()[0])",
                             str(out / "lake")], capture_output=True, text=True, check=True).stdout.strip()
                        check = f"{daily}; read {rep['read']} = {rep['accepted']} + {rep['rejected']} + {rep['duplicates']}"
                    elif tool == "duckdb":
                        w, r, so = timed([str(py), "-c", DUCKDB, str(f), str(out / "daily.parquet"), mccs])
                        check = so.strip()
                    else:
                        w, r, so = timed([str(py), "-c", POLARS, str(f), str(out / "daily.parquet"), mccs])
                        check = so.strip()
                except RuntimeError as e:
                    print(f"{n:>10} {tool:<10} failed: {e}", flush=True)
                    walls.append(float("nan"))
                    rsss.append(0)
                    check = f"failed: {e}" + (f" (address-space cap {MEMORY_CAP // 2**30} GiB)" if MEMORY_CAP else "")
                    break
                walls.append(w)
                rsss.append(r)
                print(f"{n:>10} {tool:<10} {w:7.2f} s  {r / 2**20:8.0f} MiB  {check}", flush=True)
            res[tool] = (statistics.median(walls), max(rsss), check)
        for tool, (w, r, check) in res.items():
            rows_out.append((n, size_mb, tool, w, n / w, r, res["homeseason"][0] / res["duckdb"][0], check))
    lines = [
        "# Benchmark: payment transaction ingest",
        "",
        f"Machine: {machine()}. DuckDB {versions[0]}, Python polars {versions[1]}, homeseason release build.",
        "Produced by `python3 benchmarks/run.py` (files from `benchmarks/gen.py`: one month of wallet_b-layout",
        "transactions, ~1 000 county codes, 45 MCCs, merchants = rows/250 capped at 200 000). Each tool reads",
        "the CSV, removes duplicate txn_ids, rolls county codes up to the reporting regions, maps MCC → category,",
        "aggregates to date × region × MCC × channel (sales count, gross, refunds, net, distinct merchants) and",
        "writes Parquet; homeseason also validates every row, keeps rejects, writes the txn-id index and the",
        f"manifest. Wall time is the median of {a.repeat} runs at ≤ 10 M rows (one run at 50 M); peak RSS is",
        "the maximum, from `/usr/bin/time -v`. A run that fails (e.g. out of memory) is listed as failed. The check column",
        "is (daily rows, net total) as each tool wrote it — for homeseason read back from its lake with DuckDB.",
        "",
        "| rows | CSV MB | tool | wall s | rows/s | peak RSS MiB | homeseason / DuckDB | check |",
        "|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for n, mb, tool, w, rps, r, ratio, check in rows_out:
        lines.append(
            f"| {n:,} | {mb:,.0f} | {tool} | {w:.2f} | {rps:,.0f} | {r / 2**20:,.0f} | "
            f"{ratio:.2f}× | {check} |"
        )
    pathlib.Path(a.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
