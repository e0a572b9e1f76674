"""Benchmark: the payment roll-up on Spark (`homeseason ingest --engine spark`) beside the Rust engine.

    python3 benchmarks/spark/run.py [--rows 20000000 50000000] [--work DIR] [--bin PATH]

For each size: generate one month of wallet_b-layout transactions (benchmarks/gen.py, once), ingest it
into a fresh lake with the Rust engine, then with the Spark engine on the standalone cluster of
tests/spark/cluster.sh (master + 2 workers of 1 core on 127.0.0.1, each executor capped at
spark.executor.memory=1g so the dedupe's sort must spill), and check the two lakes hold the same
payment_daily (every row, to the fen). Wall time is the whole command (JVM start, job, commit); peak
memory is each process's VmHWM (peak resident set) polled from /proc twice a second. Writes
benchmarks/spark/RESULTS.md (table) and results.json.

The cluster must be running: eval "$(bash tests/spark/cluster.sh start)". Run it when no build holds
the machine; it never runs cargo (pass --bin, default: the dev binary of the shared target).
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]


def procs():
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            cmd = open(f"/proc/{d}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
            status = open(f"/proc/{d}/status").read()
        except OSError:
            continue
        hwm = next((int(l.split()[1]) for l in status.splitlines() if l.startswith("VmHWM:")), 0)
        ppid = next((int(l.split()[1]) for l in status.splitlines() if l.startswith("PPid:")), 0)
        try:
            # utime + stime (fields 14 and 15, after the parenthesised command name), in clock ticks.
            fields = open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            cpu = 0.0
        out[int(d)] = (cmd, hwm, ppid, cpu)
    return out


def role(cmd):
    if "CoarseGrainedExecutorBackend" in cmd:
        return "executor"
    if "deploy.worker.Worker" in cmd:
        return "worker"
    if "deploy.master.Master" in cmd:
        return "master"
    if "org.apache.spark.deploy.SparkSubmit" in cmd:
        return "driver JVM"
    if "rollup.py" in cmd:
        return "driver python"
    if " ingest " in cmd and "homeseason" in cmd:
        return "homeseason"
    return None


def measured(args, env=None):
    """Run `args`; (seconds, {pid: (role, peak KiB, CPU seconds)}, stdout). CPU seconds are the last
    sample of the process's user + system time (polled twice a second, so at most 0.5 s short): on a
    machine shared with other work they measure the work itself, where wall time measures the share."""
    t0 = time.time()
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    peaks = {}
    state = pathlib.Path(os.environ.get("HOMESEASON_SPARK_DIR", f"/var/tmp/homeseason-spark-{os.environ.get('USER') or os.getuid()}"))
    cluster = {int(x) for x in (state / "pids").read_text().split()} if (state / "pids").exists() else set()
    while p.poll() is None:
        table = procs()
        # Only this command's process tree and the test cluster's JVMs (and their executors): other
        # processes on a shared machine are not counted.
        mine = {p.pid} | cluster
        grew = True
        while grew:
            grew = False
            for pid, (_, _, ppid, _) in table.items():
                if ppid in mine and pid not in mine:
                    mine.add(pid)
                    grew = True
        for pid in mine & table.keys():
            cmd, hwm, _, cpu = table[pid]
            r = role(cmd)
            if r:
                old = peaks.get(pid, (r, 0, 0.0))
                peaks[pid] = (r, max(hwm, old[1]), max(cpu, old[2]))
        time.sleep(0.5)
    out, err = p.communicate()
    secs = time.time() - t0
    if p.returncode != 0:
        sys.exit(f"{args} failed:\n{err.decode()[-3000:]}")
    return secs, peaks, out.decode()


def daily(lake):
    import polars as pl

    files = sorted(pathlib.Path(lake, "payment_daily").rglob("*.parquet"))
    # institution/year/month are in the Hive-style path, not in the file: keep the path as a column.
    df = pl.concat(
        [pl.read_parquet(f).with_columns(pl.lit(str(f.relative_to(lake))).alias("part")) for f in files],
        how="vertical_relaxed",
    )
    return df.sort(df.columns)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="+", default=[20_000_000, 50_000_000])
    ap.add_argument("--work", default="/var/tmp/homeseason-spark-bench")
    ap.add_argument("--bin", default=os.environ.get("HOMESEASON_BIN", "/var/tmp/homeseason-target/debug/homeseason"))
    ap.add_argument("--shuffle-partitions", type=int, default=64)
    a = ap.parse_args()
    master = os.environ.get("HOMESEASON_SPARK_MASTER")
    if not master or not os.environ.get("SPARK_HOME"):
        sys.exit('start the cluster first: eval "$(bash tests/spark/cluster.sh start)"')
    work = pathlib.Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    results = []
    for rows in a.rows:
        csv = work / f"payment_transactions_wallet_b_2023-09_{rows // 1_000_000}M.csv"
        if not csv.exists():
            subprocess.run([sys.executable, str(ROOT / "benchmarks/gen.py"), str(rows), str(csv)], check=True)
        mb = csv.stat().st_size / 1e6
        for engine in ["rust", "spark"]:
            lake = work / f"lake-{engine}-{rows}"
            subprocess.run(["rm", "-rf", str(lake)], check=True)
            cmd = [a.bin, "ingest", "--lake", str(lake), "--json", "--engine", engine]
            if engine == "spark":
                cmd += [
                    "--spark-master", master,
                    "--spark-conf", "spark.executor.memory=1g",
                    "--spark-conf", f"spark.sql.shuffle.partitions={a.shuffle_partitions}",
                ]
            secs, peaks, out = measured(cmd + [str(csv)])
            rep = json.loads(out)[0]["report"]
            by_role = {}
            cpu_by_role = {}
            for r, kib, cpu in peaks.values():
                by_role.setdefault(r, []).append(round(kib / 1024))
                cpu_by_role[r] = round(cpu_by_role.get(r, 0.0) + cpu, 1)
            results.append({
                "rows": rows, "csv_mb": round(mb), "engine": engine, "wall_s": round(secs, 1),
                "rows_per_s": round(rows / secs), "accepted": rep["accepted"], "duplicates": rep["duplicates"],
                "peak_mib": {r: sorted(v, reverse=True) for r, v in by_role.items()},
                "cpu_s": cpu_by_role,
                "load_avg_at_end": os.getloadavg()[0],
            })
            # Rows per CPU-second of the processes doing the work (the executors for Spark,
            # homeseason itself for Rust): the per-core rate that does not depend on sharing.
            worker = "executor" if engine == "spark" else "homeseason"
            if cpu_by_role.get(worker):
                results[-1]["rows_per_cpu_s"] = round(rows / cpu_by_role[worker])
            print(json.dumps(results[-1]), flush=True)
        same = daily(work / f"lake-rust-{rows}").equals(daily(work / f"lake-spark-{rows}"))
        results[-1]["same_payment_daily_as_rust"] = same
        results[-2]["same_payment_daily_as_rust"] = same
        print(f"{rows}: payment_daily identical: {same}", flush=True)
        # Earlier runs of other sizes stay in results.json; this run replaces its own sizes.
        path = ROOT / "benchmarks/spark/results.json"
        earlier = json.loads(path.read_text()) if path.exists() else []
        kept = [r for r in earlier if r.get("rows") not in a.rows]
        path.write_text(json.dumps(kept + results, indent=1))
    lines = [
        "| rows | CSV MB | engine | wall s | rows/s | rows/s per core (wall) | rows per CPU-second of the engine's processes | peak RSS MiB per process | payment_daily = Rust |",
        "|---:|---:|---|---:|---:|---:|---:|---|---|",
    ]
    for r in results:
        per_core = r["rows_per_s"] // 2
        mem = ", ".join(f"{k} {'/'.join(map(str, v))}" for k, v in sorted(r["peak_mib"].items()))
        lines.append(
            f"| {r['rows']:,} | {r['csv_mb']:,} | {r['engine']} | {r['wall_s']} | {r['rows_per_s']:,} | "
            f"{per_core:,} | {r.get('rows_per_cpu_s', 0):,} | {mem} | {'yes' if r.get('same_payment_daily_as_rust') else 'NO'} |"
        )
    (ROOT / "benchmarks/spark/table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
