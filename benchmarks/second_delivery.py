#!/usr/bin/env python3
"""A second delivery into a lake that already holds a whole file's transaction ids.

    python3 benchmarks/second_delivery.py --csv W/txn_50000000.csv --work W \
        --bin new=PATH [--bin main=PATH ...] [--repeat 2]

The CSV is gen.py's (`benchmarks/run.py` makes it in its work folder). The first `--bin` ingests it
into a base lake once. Then every binary, in rotation, `--repeat` times, ingests into a fresh copy of
that lake:

* `resend`: the same file again: every transaction is already held (a duplicate across files);
* `other_ids`: the same file with every txn_id's `WB` prefix turned into `WC` (made once beside the
  CSV): every transaction is new, and the lake's ids must still be checked.

Each run is the whole process (`/usr/bin/time`): wall, CPU (user + sys) and peak RSS, with the counts
of `ingest --json`; the machine's load before the run is printed too. Prints a Markdown table.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def timed_ingest(binary, lake, csv):
    out = lake.parent / (lake.name + ".json")
    tfile = lake.parent / (lake.name + ".time")
    load = os.getloadavg()[0]
    with open(out, "wb") as o:
        p = subprocess.run(
            ["/usr/bin/time", "-f", "%e %U %S %M", "-o", str(tfile), binary, "ingest", "--json",
             "--lake", str(lake), str(csv)],
            stdout=o, stderr=subprocess.PIPE)
    if p.returncode != 0:
        sys.exit(f"{binary} failed on {csv}:\n{p.stderr.decode(errors='replace')[-2000:]}")
    wall, user, sys_, rss = open(tfile).read().split()[-4:]
    rep = json.load(open(out))[0]["report"]
    out.unlink()
    tfile.unlink()
    return {
        "wall_s": float(wall), "cpu_s": float(user) + float(sys_), "peak_mib": int(rss) / 1024,
        "load": load, "read": rep["read"], "accepted": rep["accepted"],
        "rejected": rep["rejected"], "duplicates": rep["duplicates"],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", required=True, type=Path)
    ap.add_argument("--work", required=True, type=Path)
    ap.add_argument("--bin", action="append", required=True, help="NAME=PATH")
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    bins = [b.split("=", 1) for b in a.bin]
    a.work.mkdir(parents=True, exist_ok=True)
    other = a.csv.with_name(a.csv.stem + "_other_ids.csv")
    if not other.exists():
        with open(a.csv, "rb") as src, open(other.with_suffix(".part"), "wb") as dst:
            dst.write(src.readline())
            for line in src:
                dst.write(b"WC" + line[2:] if line.startswith(b"WB") else line)
        other.with_suffix(".part").rename(other)
    base = a.work / "base"
    if not base.exists():
        first = timed_ingest(bins[0][1], a.work / "base_tmp", a.csv)
        (a.work / "base_tmp").rename(base)
        print(f"base lake ({bins[0][0]}): {first}", flush=True)
    rows = []
    for r in range(a.repeat):
        for scenario, csv in [("resend", a.csv), ("other_ids", other)]:
            for name, binary in bins:
                lake = a.work / f"{scenario}_{name}"
                shutil.rmtree(lake, ignore_errors=True)
                shutil.copytree(base, lake, symlinks=True)
                sh(["sync"])
                time.sleep(2)
                got = timed_ingest(binary, lake, csv)
                shutil.rmtree(lake)
                got.update(scenario=scenario, tool=name, run=r + 1)
                rows.append(got)
                print(json.dumps(got), flush=True)
    print()
    print("| delivery into a lake holding the file's ids | build | run | wall s | CPU s | peak RSS MiB "
          "| load before | read = accepted + rejected + duplicates |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for x in rows:
        print(f"| {x['scenario']} | {x['tool']} | {x['run']} | {x['wall_s']:.2f} | {x['cpu_s']:.1f} "
              f"| {x['peak_mib']:,.0f} | {x['load']:.2f} | {x['read']:,} = {x['accepted']:,} + "
              f"{x['rejected']:,} + {x['duplicates']:,} |")


if __name__ == "__main__":
    main()
