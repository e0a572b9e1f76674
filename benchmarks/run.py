"""Benchmark: homeseason's streaming ingest vs tuned and naive DuckDB and Python polars, on the same files.

    python3 benchmarks/run.py --no-build --homeseason PATH [--sizes 1000000,10000000] [--repeat 3]
        [--tools homeseason,duckdb,polars,duckdb_naive,polars_naive,floor] [--work DIR] [--max-rss-gib 8]

Installs its peers itself (a venv with duckdb 2.0.1, polars 2.1.0 and numpy under the work folder), builds
homeseason in release mode unless `--no-build` (then `--homeseason PATH` names the binary), generates the
files once (benchmarks/gen.py: one month of wallet_b-layout transactions with ~3 % re-sends of the same
txn_id later in the file, some identical, some with another amount or date), then for each size runs
every tool in turn on the same file, `--repeat` times in rotation (tool A, B, C, A, B, C, …, so a change
of load on a shared machine falls on all tools alike). Each tool reads the CSV, keeps the FIRST row of
each txn_id in file order, rolls county codes up to the 37 reporting regions, maps MCC → category
(unmapped → other), aggregates to date × region × MCC × channel (sales count, gross, refunds, net,
distinct merchants) and writes Parquet.

Every run is measured under /usr/bin/time -v (wall, user + system CPU seconds, peak RSS), and a run whose
process tree passes `--max-rss-gib` is stopped (listed as stopped). The machine's other load during the
run is measured from /proc/stat (busy CPU seconds of the whole machine minus the tool's own, per wall
second). Every output is compared row by row, to the fen, with the reference roll-up gen.py computed
from its own arrays (OUT.ref.parquet); homeseason's duplicate and conflict counts are compared with the
re-sends gen.py wrote. Writes benchmarks/results.json (every run) and prints the Markdown table.

The tools:
* homeseason — `homeseason ingest --lake … --feed payment_transactions FILE` into a fresh lake
  (validates every row, keeps rejects, writes the txn-id index, the Hive partitions of `payment_daily`
  and `payment_area_daily`, the rejects and the manifest); its counts are read afterwards (not timed)
  from the manifest's file report, its rejects by reason from the lake's `rejects` table;
* homeseason_before — `homeseason` with another binary (`--before PATH`, e.g. the branch point's), in
  the same rotation;
* homeseason_json — the same with `--json`, which also prints every rejected row as JSON on stdout
  (at 10 M, 105,034 rejects with their bilingual messages: ~140 MB), as the earlier sessions ran it;
* duckdb — tuned: `read_csv` with `auto_detect = false`, every column typed, `timestampformat`; file
  order from `row_number() OVER ()` under `preserve_insertion_order = true`; exact keep-first: the
  txn_ids that repeat and their smallest row number (`GROUP BY txn_id HAVING count(*) > 1` + `min(rn)`),
  then every row but the later ones of those ids (a left join on that small table: `dups_left`, the
  fastest exact method measured; `semi`, `dups`, `arg_min`, `arg_min_struct`, `qualify` are the other
  exact ones, `any_value` and `distinct_on` are not keep-first, `none` does not dedupe: `--duckdb-method`);
  threads = 2, memory_limit = 6GB (`--duckdb-settings`);
* polars — tuned: `scan_csv(schema=…)` with every column typed (amount `Decimal(18, 2)`),
  `str.to_datetime(format, strict=True)`, exact keep-first by `filter(pl.col("txn_id").is_first_distinct())`
  (the fastest exact method measured; `unique_first` is `unique(keep="first")`, `row_index` a row
  index and `arg_min` per txn_id: `--polars-method`), streaming engine (`sink_parquet(engine="streaming")`);
* duckdb_naive, polars_naive — the peers of the first version of this benchmark (`SELECT DISTINCT ON
  (txn_id) *`, `unique(subset=["txn_id"], keep="any")` on text columns): neither promises the first row;
* floor — `cat FILE > /dev/null`, warm (page cache): reading the file and nothing else.
"""
import argparse
import json
import os
import pathlib
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent
TOOLS = ["floor", "homeseason", "homeseason_json", "homeseason_before", "duckdb", "polars", "duckdb_naive",
         "polars_naive"]
HOMESEASON = ("homeseason", "homeseason_json", "homeseason_before")


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


def busy_seconds():
    """Busy CPU seconds of the whole machine so far (user + nice + system + irq + softirq + steal)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / os.sysconf("SC_CLK_TCK")


def tree_rss(root):
    """Resident set of a process and its descendants, bytes."""
    kids, rss = {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        kids.setdefault(int(fields[1]), []).append(int(d))
        rss[int(d)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [root]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo.extend(kids.get(p, []))
    return total


def timed(cmd, max_rss, cwd=None):
    """Run under /usr/bin/time -v: a dict of wall and CPU seconds, peak RSS bytes, stdout, other load.

    The process tree is polled every 0.2 s and stopped (its own process group, started here) when its
    resident set passes `max_rss`."""
    b0, t0 = busy_seconds(), time.monotonic()
    p = subprocess.Popen(
        ["/usr/bin/time", "-v"] + cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    stopped = []

    def guard():
        while p.poll() is None:
            if tree_rss(p.pid) > max_rss:
                stopped.append(True)
                os.killpg(p.pid, signal.SIGKILL)
                return
            time.sleep(0.2)

    g = threading.Thread(target=guard, daemon=True)
    g.start()
    out, err = p.communicate()
    wall_mono = time.monotonic() - t0
    busy = busy_seconds() - b0
    g.join()
    if stopped:
        raise RuntimeError(f"stopped at {max_rss / 2**30:.0f} GiB resident (--max-rss-gib)")
    if p.returncode != 0:
        lines = [x for x in err.strip().splitlines() if not x.startswith("\t")] or ["?"]
        raise RuntimeError(f"exit {p.returncode}: {lines[-1][:200]}")
    user = float(re.search(r"User time \(seconds\): (\S+)", err).group(1))
    system = float(re.search(r"System time \(seconds\): (\S+)", err).group(1))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1)) * 1024
    return {
        # Wall time from a monotonic clock around the run (/usr/bin/time's is rounded to 10 ms).
        "wall_s": wall_mono,
        "cpu_s": user + system,
        "peak_rss": rss,
        "stdout": out,
        # Cores busy with other work during the run (the machine's busy time less this run's own).
        "other_load": max(0.0, busy - (user + system)) / wall_mono if wall_mono > 0 else 0.0,
    }


def mcc_map():
    c = tomllib.loads((ROOT / "crates/homeseason-schema/data/campaign-2023.toml").read_text("utf-8"))
    return [(m["code"], m["category"]) for m in c["mcc"]]


READ_CSV = """read_csv('{f}', header = true, auto_detect = false, delim = ',', quote = '"',
      timestampformat = '%Y-%m-%d %H:%M:%S',
      columns = {{'txn_id': 'VARCHAR', 'institution': 'VARCHAR', 'txn_time': 'TIMESTAMP',
                 'merchant_id': 'VARCHAR', 'mcc': 'VARCHAR', 'region_code': 'VARCHAR',
                 'amount': 'DECIMAL(18,2)', 'txn_type': 'VARCHAR', 'channel': 'VARCHAR'}})"""

# The roll-up every DuckDB variant ends with, over `d` (one row per txn_id).
DUCKDB_ROLLUP = """
  r AS (
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
"""

COLS = ["institution", "txn_time", "merchant_id", "mcc", "region_code", "amount", "txn_type", "channel"]

# Ways to keep one row per txn_id. `t` is the file; `n` is the file with its row number `rn`.
DUCKDB_DEDUPE = {
    # Exact keep-first: the values of the row with the smallest row number.
    "arg_min": "d AS (SELECT txn_id, " + ", ".join(f"arg_min({c}, rn) AS {c}" for c in COLS)
    + " FROM n GROUP BY txn_id),",
    # Exact keep-first: the whole first row as one struct.
    "arg_min_struct": "d AS (SELECT unnest(arg_min({" + ", ".join(f"'{c}': {c}" for c in COLS)
    + "}, rn)) FROM n GROUP BY txn_id),",
    # Exact keep-first: a window per txn_id.
    "qualify": "d AS (SELECT * FROM n QUALIFY row_number() OVER (PARTITION BY txn_id ORDER BY rn) = 1),",
    # Exact keep-first: the smallest row number of each txn_id, then the rows that carry it.
    "semi": "f AS (SELECT txn_id, min(rn) AS rn FROM n GROUP BY txn_id), "
    "d AS (SELECT n.* FROM n SEMI JOIN f ON n.txn_id = f.txn_id AND n.rn = f.rn),",
    # Exact keep-first: only the txn_ids that repeat (and their first row number) go to the join.
    "dups": "f AS (SELECT txn_id, min(rn) AS rn FROM n GROUP BY txn_id HAVING count(*) > 1), "
    "d AS (SELECT n.* FROM n ANTI JOIN f ON n.txn_id = f.txn_id AND n.rn <> f.rn),",
    "dups_left": "f AS (SELECT txn_id, min(rn) AS first_rn FROM n GROUP BY txn_id HAVING count(*) > 1), "
    "d AS (SELECT n.* FROM n LEFT JOIN f ON n.txn_id = f.txn_id WHERE f.first_rn IS NULL OR n.rn = f.first_rn),",
    # Not keep-first (any row of the txn_id): the first tuning, for its cost only.
    "any_value": "d AS (SELECT txn_id, " + ", ".join(f"any_value({c}) AS {c}" for c in COLS)
    + " FROM t GROUP BY txn_id),",
    # No dedupe at all (wrong on files with re-sends): what the dedupe costs, for exploration only.
    "none": "d AS (SELECT * FROM t),",
    # The first version of this benchmark: whole rows, no promise of the first.
    "distinct_on": "d AS (SELECT DISTINCT ON (txn_id) * FROM t),",
}

DUCKDB = r"""
import sys, duckdb
f, out, mccs, method, settings = sys.argv[1:6]
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
for s in filter(None, settings.split(';')):
    con.execute('SET ' + s)
con.execute("CREATE TABLE mcc_map(mcc VARCHAR, category VARCHAR)")
con.executemany("INSERT INTO mcc_map VALUES (?, ?)", [tuple(x.split(':')) for x in mccs.split(',')])
dedupe = DEDUPE[method]
con.execute(f'''
COPY (
  WITH t AS (SELECT * FROM {READ_CSV.format(f=f)}),
  n AS (SELECT row_number() OVER () AS rn, * FROM t),
  {dedupe}
  {ROLLUP}
) TO '{out}' (FORMAT parquet)
''')
"""

POLARS = r"""
import sys, polars as pl
f, out, mccs, method = sys.argv[1:5]
mcc_map = pl.LazyFrame([tuple(x.split(':')) for x in mccs.split(',')], schema=['mcc', 'category'], orient='row')
cols = ['txn_id', 'institution', 'txn_time', 'merchant_id', 'mcc', 'region_code', 'amount', 'txn_type', 'channel']
if method == 'naive':
    lf = pl.scan_csv(f, schema={c: pl.String for c in cols})
    amount = pl.col('amount').cast(pl.Float64)
    date = pl.col('txn_time').str.to_datetime('%Y-%m-%d %H:%M:%S').dt.date()
else:
    schema = {c: pl.String for c in cols}
    schema['amount'] = pl.Decimal(18, 2)
    lf = pl.scan_csv(f, schema=schema)
    amount = pl.col('amount')
    date = pl.col('txn_time').str.to_datetime('%Y-%m-%d %H:%M:%S', strict=True).dt.date()
if method == 'naive':
    lf = lf.unique(subset=['txn_id'], keep='any')
elif method == 'unique_first':
    lf = lf.unique(subset=['txn_id'], keep='first')
elif method == 'first_distinct':
    lf = lf.filter(pl.col('txn_id').is_first_distinct())
elif method == 'none':
    pass
elif method == 'row_index':
    lf = (lf.with_row_index('rn').group_by('txn_id')
            .agg(pl.all().exclude('rn').get(pl.col('rn').arg_min())))
else:
    raise SystemExit('unknown polars method ' + method)
code4 = pl.col('region_code').str.slice(0, 4)
region = (pl.when(code4.is_in(['2102', '3702', '3302', '3502', '4403'])).then(code4 + '00')
          .when((code4 == '6590') | (pl.col('region_code') == 'XPCC')).then(pl.lit('XPCC'))
          .otherwise(pl.col('region_code').str.slice(0, 2) + '0000'))
sale = pl.col('txn_type') == 'sale'
(lf.with_columns(date.alias('date'), region.alias('region_code'))
   .join(mcc_map, on='mcc', how='left')
   .with_columns(pl.col('category').fill_null('other'))
   .group_by(['date', 'institution', 'region_code', 'mcc', 'category', 'channel'])
   .agg(sale.sum().alias('txn_count'),
        amount.filter(sale).sum().alias('amount_yuan'),
        amount.filter(~sale).sum().alias('refund_amount_yuan'),
        pl.col('merchant_id').filter(sale).n_unique().alias('merchant_count'))
   .with_columns((pl.col('amount_yuan') - pl.col('refund_amount_yuan')).alias('net_amount_yuan'))
   .with_columns(pl.col('^.*_yuan$').cast(pl.Float64))
   .sink_parquet(out, **({} if method == 'naive' else {'engine': 'streaming'})))
"""

# The rejects a homeseason lake holds, by reason (JSON on one line).
REJECTS = r"""
import json, sys, duckdb
rows = duckdb.sql(f"SELECT reason, count(*) FROM read_parquet('{sys.argv[1]}/**/*.parquet') GROUP BY reason").fetchall()
print(json.dumps({r: n for r, n in rows}))
"""


# Compares a tool's daily Parquet (a file, or a Hive-partitioned lake folder) with gen.py's reference,
# row by row on the key, counts and money to the fen. Prints one JSON line.
COMPARE = r"""
import json, sys, duckdb
ref, got, hive = sys.argv[1], sys.argv[2], sys.argv[3] == '1'
src = f"read_parquet('{got}/**/*.parquet', hive_partitioning = true, union_by_name = true)" if hive else f"read_parquet('{got}')"
con = duckdb.connect()
con.execute("SET threads = 2")
con.execute(f'''CREATE VIEW g AS SELECT date::DATE AS date, institution::VARCHAR AS institution, region_code, mcc,
  category, channel, txn_count::BIGINT AS txn_count, round(amount_yuan * 100)::BIGINT AS amount_fen,
  round(refund_amount_yuan * 100)::BIGINT AS refund_fen, round(net_amount_yuan * 100)::BIGINT AS net_fen,
  merchant_count::BIGINT AS merchant_count FROM {src}''')
con.execute(f"CREATE VIEW r AS SELECT * FROM read_parquet('{ref}')")
rows, net = con.execute("SELECT count(*), sum(net_fen) FROM g").fetchone()
dup_keys = con.execute("SELECT count(*) FROM (SELECT 1 FROM g GROUP BY date, institution, region_code, mcc, channel HAVING count(*) > 1)").fetchone()[0]
diff = con.execute('''SELECT count(*) FROM r FULL JOIN g USING (date, institution, region_code, mcc, channel)
  WHERE r.category IS DISTINCT FROM g.category OR r.txn_count IS DISTINCT FROM g.txn_count
     OR r.amount_fen IS DISTINCT FROM g.amount_fen OR r.refund_fen IS DISTINCT FROM g.refund_fen
     OR r.net_fen IS DISTINCT FROM g.net_fen OR r.merchant_count IS DISTINCT FROM g.merchant_count''').fetchone()[0]
print(json.dumps({'rows': rows, 'net_fen': int(net or 0), 'rows_differing': diff + dup_keys}))
"""


def machine():
    cpu = "unknown"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = int(re.search(r"MemTotal:\s+(\d+)", open("/proc/meminfo").read()).group(1)) / 2**20
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, {platform.system()} {platform.release()}"


def fmt_fen(fen):
    return f"{fen // 100:,}.{fen % 100:02d}".replace(",", " ")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000000,10000000")
    ap.add_argument("--repeat", type=int, default=3, help="runs per tool (median kept)")
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--work", default="/var/tmp/homeseason-bench")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--homeseason", help="the homeseason binary (default: the release build of CARGO_TARGET_DIR)")
    ap.add_argument("--before", help="the binary of the homeseason_before tool")
    ap.add_argument("--resend", type=float, default=0.03, help="gen.py --resend for new files")
    ap.add_argument("--duckdb-method", default="dups_left", choices=sorted(DUCKDB_DEDUPE))
    ap.add_argument("--duckdb-settings", default="threads = 2;memory_limit = '6GB';preserve_insertion_order = true",
                    help="SET statements of the tuned DuckDB, separated by ';'")
    ap.add_argument("--polars-method", default="first_distinct", choices=["unique_first", "first_distinct", "row_index", "none"])
    ap.add_argument("--max-rss-gib", type=float, default=8.0, help="stop a run whose process tree passes this")
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results.json"))
    ap.add_argument("--label", default="", help="a note kept with this run's results")
    a = ap.parse_args()
    max_rss = a.max_rss_gib * 2**30
    work = pathlib.Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    py = venv(work)
    tools = a.tools.split(",")
    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", "/var/tmp/homeseason-target")
    if "homeseason" in tools and not a.no_build:
        # --workspace: the same feature set as every other build of the workspace (a `-p` build would
        # resolve different features and rebuild polars).
        sh(["cargo", "build", "--release", "--workspace", "--locked", "--bins"], cwd=ROOT, env=env)
    exe = pathlib.Path(a.homeseason or pathlib.Path(env["CARGO_TARGET_DIR"]) / "release" / "homeseason")
    mccs = ",".join(f"{c}:{k}" for c, k in mcc_map())
    duck_src = "DEDUPE = " + repr(DUCKDB_DEDUPE) + "\nREAD_CSV = " + repr(READ_CSV) + "\nROLLUP = " + repr(DUCKDB_ROLLUP) + "\n" + DUCKDB
    versions = subprocess.run(
        [str(py), "-c", "import duckdb, polars; print(duckdb.__version__, polars.__version__)"],
        capture_output=True, text=True, check=True).stdout.split()
    results = []
    for n in [int(s) for s in a.sizes.split(",")]:
        f = work / f"txn_{n}.csv"
        if not f.exists():
            sh([str(py), str(ROOT / "benchmarks" / "gen.py"), str(n), str(f), "--resend", str(a.resend)])
        meta = json.loads(pathlib.Path(str(f) + ".ref.json").read_text())
        ref = str(f) + ".ref.parquet"
        size_mb = f.stat().st_size / 1e6
        sh(["cat", str(f)], stdout=subprocess.DEVNULL)  # warm the page cache for every tool alike
        runs = {t: [] for t in tools}
        notes = {t: "" for t in tools}
        for i in range(a.repeat):
            for tool in tools:
                if notes[tool].startswith("failed") or notes[tool].startswith("stopped"):
                    continue
                out = work / f"out_{tool}"
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir()
                hive = False
                try:
                    if tool == "floor":
                        m = timed(["sh", "-c", 'cat "$1" > /dev/null', "cat", str(f)], max_rss)
                    elif tool in HOMESEASON:
                        json_out = tool == "homeseason_json"
                        binary = a.before if tool == "homeseason_before" else str(exe)
                        m = timed([binary, "ingest", "--lake", str(out / "lake"), "--feed",
                                   "payment_transactions"] + (["--json"] if json_out else []) + [str(f)],
                                  max_rss, cwd=out)
                        if json_out:
                            entry = json.loads(m["stdout"])[0]
                            rep = entry["report"]
                            reasons = {}
                            for x in entry.get("rejects") or []:
                                reasons[x["reason"]] = reasons.get(x["reason"], 0) + 1
                        else:
                            manifest = json.loads((out / "lake" / "_manifest.json").read_text())
                            rep = manifest["files"][-1]["report"]
                            reasons = json.loads(subprocess.run(
                                [str(py), "-c", REJECTS, str(out / "lake" / "rejects")],
                                capture_output=True, text=True, check=True).stdout)
                        m["report"] = {k: rep[k] for k in ("read", "accepted", "rejected", "duplicates")}
                        m["report"]["rejects_by_reason"] = reasons
                        target, hive = out / "lake" / "payment_daily", True
                    elif tool in ("duckdb", "duckdb_naive"):
                        method = a.duckdb_method if tool == "duckdb" else "distinct_on"
                        settings = a.duckdb_settings if tool == "duckdb" else ""
                        target = out / "daily.parquet"
                        m = timed([str(py), "-c", duck_src, str(f), str(target), mccs, method, settings], max_rss)
                    elif tool in ("polars", "polars_naive"):
                        method = a.polars_method if tool == "polars" else "naive"
                        target = out / "daily.parquet"
                        m = timed([str(py), "-c", POLARS, str(f), str(target), mccs, method], max_rss)
                    else:
                        raise SystemExit(f"unknown tool {tool}")
                except RuntimeError as e:
                    notes[tool] = ("stopped: " if "stopped" in str(e) else "failed: ") + str(e)
                    print(f"{n:>10} {tool:<13} {notes[tool]}", flush=True)
                    continue
                m.pop("stdout")
                if tool != "floor":
                    m["check"] = json.loads(subprocess.run(
                        [str(py), "-c", COMPARE, ref, str(target), "1" if hive else "0"],
                        capture_output=True, text=True, check=True).stdout)
                runs[tool].append(m)
                print(f"{n:>10} {tool:<13} {m['wall_s']:7.2f} s wall {m['cpu_s']:7.2f} s CPU "
                      f"{m['peak_rss'] / 2**20:8.0f} MiB  other load {m['other_load']:.2f}  "
                      f"{m.get('check', '')} {m.get('report', '')}", flush=True)
        for tool in tools:
            shutil.rmtree(work / f"out_{tool}", ignore_errors=True)
        for tool in tools:
            ms = runs[tool]
            row = {
                "rows": n, "lines": meta["lines"], "csv_mb": round(size_mb), "tool": tool,
                "method": {"duckdb": a.duckdb_method, "polars": a.polars_method}.get(tool, ""),
                "settings": a.duckdb_settings if tool == "duckdb" else "",
                "runs": len(ms), "note": notes[tool], "label": a.label,
            }
            if ms:
                row.update({
                    "wall_s": statistics.median(x["wall_s"] for x in ms),
                    "cpu_s": statistics.median(x["cpu_s"] for x in ms),
                    "peak_rss_mib": max(x["peak_rss"] for x in ms) / 2**20,
                    "other_load": max(x["other_load"] for x in ms),
                    "walls": [round(x["wall_s"], 2) for x in ms],
                    "cpus": [round(x["cpu_s"], 2) for x in ms],
                })
                if tool != "floor":
                    row["check"] = ms[-1]["check"]
                    row["exact"] = all(x["check"]["rows_differing"] == 0 for x in ms)
                if tool in HOMESEASON:
                    row["report"] = ms[-1]["report"]
                    row["expected"] = meta["homeseason_expected"]
            results.append(row)
    path = pathlib.Path(a.json)
    earlier = json.loads(path.read_text()) if path.exists() else []
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for r in results:
        r["at"] = stamp
        r["machine"] = machine()
        r["versions"] = {"duckdb": versions[0], "polars": versions[1]}
    path.write_text(json.dumps(earlier + results, indent=1) + "\n")
    print(table(results))


def table(results):
    """The Markdown table of one run: the ratio is homeseason over the fastest EXACT peer."""
    lines = [
        "| rows (lines) | CSV MB | tool | wall s | CPU s | peak RSS MiB | other load | homeseason / best exact peer (wall; CPU) | output vs reference |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for n in sorted({r["rows"] for r in results}):
        rs = [r for r in results if r["rows"] == n]
        hs = next((r for r in rs if r["tool"] == "homeseason" and "wall_s" in r), None)
        peers = [r for r in rs if r["tool"] not in HOMESEASON + ("floor",) and r.get("exact")]
        best_w = min(peers, key=lambda r: r["wall_s"], default=None)
        best_c = min(peers, key=lambda r: r["cpu_s"], default=None)
        # The target is stated against the tuned DuckDB: its wall ratio is shown too.
        duck = next((r for r in peers if r["tool"] == "duckdb"), None)
        for r in rs:
            if "wall_s" not in r:
                lines.append(f"| {n:,} ({r['lines']:,}) | {r['csv_mb']:,} | {r['tool']} | — | — | — | — | | {r['note']} |")
                continue
            ratio = ""
            if r["tool"] in HOMESEASON and best_w:
                ratio = (f"**{r['wall_s'] / best_w['wall_s']:.2f}×** ({best_w['tool']}); "
                         f"**{r['cpu_s'] / best_c['cpu_s']:.2f}×** ({best_c['tool']})")
                if duck and duck is not best_w:
                    ratio += f"; {r['wall_s'] / duck['wall_s']:.2f}× duckdb's wall"
            elif r["tool"] == "floor" and hs and r["wall_s"] > 0:
                ratio = f"homeseason is {hs['wall_s'] / r['wall_s']:.0f}× the floor"
            c = r.get("check")
            if c:
                verdict = "equal" if r.get("exact") else f"**{c['rows_differing']:,} rows differ**"
                check = f"{verdict} ({c['rows']:,} rows, net {fmt_fen(c['net_fen'])})"
            else:
                check = "—"
            if r["tool"] in HOMESEASON:
                rep, exp = r["report"], r["expected"]
                check += (f"; read {rep['read']:,} = accepted {rep['accepted']:,} + rejected {rep['rejected']:,}"
                          f" + duplicates {rep['duplicates']:,}; rejects by reason "
                          + ", ".join(f"{k} {v:,}" for k, v in sorted(rep["rejects_by_reason"].items()))
                          + f" (gen.py wrote {exp['duplicates']:,} same-contribution re-sends and"
                          f" {exp['conflicts']:,} conflicting ones)")
            name = r["tool"] + (f" ({r['method']})" if r["method"] else "")
            lines.append(
                f"| {n:,} ({r['lines']:,}) | {r['csv_mb']:,} | {name} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | "
                f"{r['peak_rss_mib']:,.0f} | {r['other_load']:.2f} | {ratio} | {check} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
