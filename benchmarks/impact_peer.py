#!/usr/bin/env python3
"""`homeseason impact` against Google's tfp-causalimpact (PyPI) on the same series.

Generates seeded daily and weekly series with KNOWN relative effects (CSV), runs
`homeseason impact` (--model ar, local-level and auto) and tfp-causalimpact on the same
files, each in its own process, and writes a Markdown table of: whole-process wall time,
CPU seconds (user + system), peak RSS, the tool's own fit time where it has one, the
relative effect on the post-period with its interval (same level for both tools), the
p-value, and the error against the known effect. See benchmarks/IMPACT.md.

    python3 benchmarks/impact_peer.py all --homeseason /tmp/main-homeseason
    python3 benchmarks/impact_peer.py gen|tfp|hs|table ...   (one stage; results are cached)
    python3 benchmarks/impact_peer.py report --homeseason BIN   (`report`'s time on the demo
                                                                season: benchmarks/REPORT.md)

The peer lives in a virtualenv (default /var/tmp/tfp-venv) that this script creates with
pinned versions (PIP_PINS); the script re-runs itself under that venv's Python.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FIXTURES = REPO / "tests" / "fixtures" / "benchmarks" / "causalimpact"

# tfp-causalimpact 0.2.0 imports tensorflow-probability, whose 0.25.0 release is built
# against TensorFlow 2.18 and (with Keras 3 installed) needs tf-keras of the same minor.
PIP_PINS = [
    "tfp-causalimpact==0.2.0",
    "tensorflow-probability==0.25.0",
    "tensorflow==2.18.1",
    "tf-keras==2.18.0",
    "pandas==2.2.3",
    "numpy<2.1",
]

LEVEL = 0.95  # interval level of both tools (tfp: alpha = 1 - LEVEL; homeseason: --level)
TFP_NUM_RESULTS = 900  # tfp-causalimpact's default number of posterior samples (kept)
HS_DRAWS = 1000  # homeseason's default number of posterior predictive draws (kept)
HS_MODELS = ["ar", "local-level", "auto"]  # homeseason impact --model (auto: the default)

# ---------------------------------------------------------------------------------------------
# venv


def ensure_venv(venv: Path) -> None:
    """Create the venv with the pinned peer if it is not there, then re-exec under it."""
    py = venv / "bin" / "python"
    if os.environ.get("IMPACT_PEER_IN_VENV") == "1":
        return
    probe = [str(py), "-c", "import causalimpact, tf_keras"]
    if not py.exists() or subprocess.run(probe, capture_output=True).returncode != 0:
        print(f"creating {venv} (pip: {' '.join(PIP_PINS)})", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
        subprocess.run(
            [str(py), "-m", "pip", "install", "-q", "--no-cache-dir", *PIP_PINS],
            check=True,
        )
    env = dict(os.environ, IMPACT_PEER_IN_VENV="1")
    os.execve(str(py), [str(py), str(Path(__file__).resolve()), *sys.argv[1:]], env)


# ---------------------------------------------------------------------------------------------
# series with known effects


def _ar1(rng, n, phi, sigma):
    import numpy as np

    e = np.empty(n)
    e[0] = rng.normal(0, sigma / (1 - phi * phi) ** 0.5)
    for t in range(1, n):
        e[t] = phi * e[t - 1] + rng.normal(0, sigma)
    return e


def make_series(name, seed, effect, *, weekly=False, drift=0.0, n_pre=365, n_post=122):
    """A target and two covariates; the target is exp(c + 0.6 ln x1 + 0.4 ln x2 + AR(1))
    (+ a random-walk level when `drift` > 0), multiplied by (1 + effect) over the post-period,
    so the true relative effect on the post-period total is exactly `effect`."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = n_pre + n_post
    step = 7 if weekly else 1
    start = dt.date(2020, 3, 1) if weekly else dt.date(2022, 3, 1)
    if weekly:
        start += dt.timedelta(days=(6 - start.weekday()) % 7)  # Sundays
    dates = [start + dt.timedelta(days=step * i) for i in range(n)]
    day = np.array([(d - dates[0]).days for d in dates], dtype=float)
    wd = np.array([d.weekday() for d in dates])
    weekday_shape = np.array([-0.06, -0.08, -0.07, -0.04, 0.02, 0.12, 0.11])
    season = 0.12 * np.sin(2 * np.pi * day / 365.25) + 0.05 * np.cos(4 * np.pi * day / 365.25)
    week = 0.0 if weekly else weekday_shape[wd]
    noise_sd = 0.03 if weekly else 0.04
    x1 = 5000 * np.exp(season + week + 0.0004 * day / step + _ar1(rng, n, 0.7, noise_sd))
    x2 = 3200 * np.exp(0.7 * season + week + _ar1(rng, n, 0.6, noise_sd))
    ln_y0 = 1.0 + 0.6 * np.log(x1) + 0.4 * np.log(x2) + _ar1(rng, n, 0.5, 0.03)
    if drift > 0:
        ln_y0 += np.cumsum(rng.normal(0, drift, n))
    y0 = np.exp(ln_y0)
    y = y0.copy()
    y[n_pre:] *= 1 + effect
    truth = y[n_pre:].sum() / y0[n_pre:].sum() - 1
    return {
        "name": name,
        "dates": [d.isoformat() for d in dates],
        "y": y,
        "x1": x1,
        "x2": x2,
        "pre": (dates[0].isoformat(), dates[n_pre - 1].isoformat()),
        "post": (dates[n_pre].isoformat(), dates[-1].isoformat()),
        "truth": float(truth),
    }


SERIES = [
    # name, seed, effect, options, description
    ("daily_plus8", 20260101, 0.08, {}, "daily, 365 + 122 days, 2 covariates, AR(1) errors, +8.0 %"),
    ("daily_null", 20260102, 0.0, {}, "the same design, no effect"),
    ("daily_minus5", 20260103, -0.05, {}, "the same design, -5.0 %"),
    (
        "daily_drift_plus8",
        20260104,
        0.08,
        {"drift": 0.004},
        "+8.0 % on a target whose level drifts as a random walk (sd 0.4 %/day) the covariates lack",
    ),
    (
        "weekly_plus8",
        20260105,
        0.08,
        {"weekly": True, "n_pre": 156, "n_post": 26},
        "weekly (Sundays), 156 + 26 weeks, 2 covariates, +8.0 %",
    ),
]


def write_csv(path: Path, s) -> None:
    with path.open("w") as f:
        f.write("date,y,x1,x2\n")
        for d, y, a, b in zip(s["dates"], s["y"], s["x1"], s["x2"]):
            f.write(f"{d},{y:.6f},{a:.6f},{b:.6f}\n")


def fixture_specs(work: Path):
    """The tfcausalimpact example data shipped in tests/fixtures (see its SOURCE.md), as
    CSVs both tools read: arma_data (+1 added from index 70 on y ≈ 1.2·X + noise: the truth is
    known), comparison_data (the README's no-effect comparison) and volks_data (weekly stock
    prices, the Volkswagen emissions scandal: no known truth)."""
    import pandas as pd

    out = []
    if not FIXTURES.exists():
        return out
    arma = pd.read_csv(FIXTURES / "arma_data.csv")
    # An integer time column (homeseason needs one); 0–69 pre, 70–99 post.
    arma_path = work / "fixture_arma.csv"
    days = pd.date_range("2021-01-01", periods=len(arma), freq="D")
    pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "y": arma["y"], "x1": arma["X"]}).to_csv(
        arma_path, index=False
    )
    post = arma["y"].iloc[70:]
    out.append(
        {
            "name": "fixture_arma",
            "csv": str(arma_path),
            "target": "y",
            "covariates": ["x1"],
            "pre": (days[0].strftime("%Y-%m-%d"), days[69].strftime("%Y-%m-%d")),
            "post": (days[70].strftime("%Y-%m-%d"), days[99].strftime("%Y-%m-%d")),
            "truth": float(post.sum() / (post - 1).sum() - 1),
            "desc": "tfcausalimpact's arma_data: y ≈ 1.2·X + noise, +1 from index 70 (100 days, index "
            "mapped to dates from 2021-01-01)",
        }
    )
    out.append(
        dated_fixture_spec(
            work,
            "comparison_data.csv",
            "DATE",
            "fixture_comparison",
            "CHANGED",
            ["NOT_CHANGED_1", "NOT_CHANGED_2", "NOT_CHANGED_3"],
            ("2019-04-16", "2019-07-14"),
            ("2019-07-15", "2019-08-01"),
            "tfcausalimpact's comparison_data (README: no significant effect)",
        )
    )
    out.append(
        dated_fixture_spec(
            work,
            "volks_data.csv",
            "Date",
            "fixture_volks",
            "VolksWagen",
            ["BMW", "Allianz"],
            ("2011-01-02", "2015-09-13"),
            ("2015-09-20", "2017-03-19"),
            "tfcausalimpact's volks_data, weekly (R CausalImpact: -26 % [-32 %, -19 %], 95 %)",
        )
    )
    return out


def dated_fixture_spec(work: Path, file: str, date_column: str, name: str, target: str, covariates: list[str], pre: tuple, post: tuple, desc: str) -> dict:
    """Copy the fixture `file` (its date column renamed `date`) to work/<name>.csv; its spec (no known truth)."""
    import pandas as pd

    path = work / f"{name}.csv"
    pd.read_csv(FIXTURES / file).rename(columns={date_column: "date"}).to_csv(path, index=False)
    return {
        "name": name,
        "csv": str(path),
        "target": target,
        "covariates": covariates,
        "pre": pre,
        "post": post,
        "truth": None,
        "desc": desc,
    }


def generated_spec(work: Path, name: str, seed: int, effect: float, opts: dict, desc: str, replicate: bool) -> dict:
    """Generate one synthetic series (make_series), write it as work/<name>.csv, and return its spec."""
    s = make_series(name, seed, effect, **opts)
    path = work / f"{name}.csv"
    write_csv(path, s)
    return {
        "name": name,
        "csv": str(path),
        "target": "y",
        "covariates": ["x1", "x2"],
        "pre": s["pre"],
        "post": s["post"],
        "truth": s["truth"],
        "seed": seed,
        "desc": desc,
        "replicate": replicate,
    }


def stage_gen(args) -> list[dict]:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    specs = [generated_spec(work, name, seed, effect, opts, desc, False) for name, seed, effect, opts, desc in SERIES]
    for r in range(args.replicates):
        specs.append(
            generated_spec(
                work,
                f"rep{r:02d}_daily_plus8",
                20260200 + r,
                0.08,
                {},
                "replicate of daily_plus8's design with another seed",
                True,
            )
        )
    if not args.no_fixtures:
        for f in fixture_specs(work):
            f["replicate"] = False
            f["fixture"] = True
            specs.append(f)
    (work / "series.json").write_text(json.dumps(specs, indent=1))
    print(f"wrote {len(specs)} series under {work}")
    return specs


# ---------------------------------------------------------------------------------------------
# running a process and measuring it


def measure(cmd, env=None, stdout=None):
    """Run `cmd` under GNU time; return wall seconds, CPU seconds (user + sys) and peak RSS
    (MiB) of the command. The peak RSS is GNU time's (%M: its forked child's, so not the
    Python parent's pages, which a vfork'ed child's high-water mark would include); the CPU
    seconds are wait4's for the time process and the children it reaped (microseconds,
    where GNU time prints hundredths)."""
    if not Path("/usr/bin/time").exists():
        sys.exit("GNU time (/usr/bin/time, Debian package `time`) is needed for the peak RSS")
    rss_file = Path(f"/tmp/tfp-rss-{os.getpid()}")
    t0 = time.perf_counter()
    p = subprocess.Popen(
        ["/usr/bin/time", "-f", "%M", "-o", str(rss_file), *map(str, cmd)],
        env=env,
        stdout=stdout or subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    err = p.stderr.read().decode(errors="replace")
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.stderr.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    rss_kib = int(rss_file.read_text().strip().splitlines()[-1])
    rss_file.unlink()
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {p.returncode}:\n{err[-3000:]}")
    return {
        "wall_s": wall,
        "cpu_s": ru.ru_utime + ru.ru_stime,
        "rss_mib": rss_kib / 1024.0,
    }


# ---------------------------------------------------------------------------------------------
# tfp-causalimpact


def tfp_child(spec_json: str, out_json: str, seeds: str) -> None:
    """One process: import the peer, fit once per seed, write the results and fit times."""
    t_start = time.perf_counter()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import causalimpact
    import pandas as pd
    import tensorflow as tf

    t_import = time.perf_counter() - t_start
    spec = json.loads(spec_json)
    df = pd.read_csv(spec["csv"], parse_dates=["date"]).set_index("date")
    df = df[[spec["target"], *spec["covariates"]]].astype("float64")
    df.index = pd.DatetimeIndex(df.index, freq=pd.infer_freq(df.index))
    fits = []
    for seed in [int(s) for s in seeds.split(",")]:
        t0, c0 = time.perf_counter(), time.process_time()
        res = causalimpact.fit_causalimpact(
            df,
            pre_period=tuple(spec["pre"]),
            post_period=tuple(spec["post"]),
            alpha=1 - LEVEL,
            seed=seed,
            inference_options=causalimpact.InferenceOptions(num_results=TFP_NUM_RESULTS),
        )
        fit_s, fit_cpu_s = time.perf_counter() - t0, time.process_time() - c0
        row = res.summary.loc["average"]
        fits.append(
            {
                "seed": seed,
                "fit_s": fit_s,
                "fit_cpu_s": fit_cpu_s,
                "rel": float(row["rel_effect"]),
                "lo": float(row["rel_effect_lower"]),
                "hi": float(row["rel_effect_upper"]),
                "p_one_sided": float(row["p_value"]),
            }
        )
    Path(out_json).write_text(
        json.dumps({"import_s": t_import, "fits": fits, "tf": tf.__version__})
    )


def versions() -> dict:
    from importlib.metadata import version

    out = {}
    for pkg in ["tfp-causalimpact", "tensorflow-probability", "tensorflow", "tf-keras", "numpy", "pandas"]:
        try:
            out[pkg] = version(pkg)
        except Exception:  # noqa: BLE001 - a missing package is reported as such
            out[pkg] = "absent"
    return out


def stage_tfp(args, specs) -> None:
    work = Path(args.work)
    out_path = work / "results-tfp.json"
    results = json.loads(out_path.read_text()) if out_path.exists() else {}
    results.setdefault("_meta", {})["versions"] = versions()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    me = str(Path(__file__).resolve())
    for spec in specs:
        if args.series and spec["name"] not in args.series:
            continue
        runs = 1 if spec.get("replicate") else args.runs
        load0 = os.getloadavg()[0]
        if args.warm_only and (spec.get("replicate") or "runs" not in results.get(spec["name"], {})):
            continue
        try:
            rows, warm = _tfp_series(args, spec, runs, env, me)
            if args.warm_only:
                rows = results[spec["name"]]["runs"]
        except RuntimeError as e:  # a peer failure is reported, not fatal to the others
            print(f"tfp {spec['name']}: FAILED: {e}", flush=True)
            results[spec["name"]] = {"error": str(e)[-2000:]}
            out_path.write_text(json.dumps(results, indent=1))
            continue
        results[spec["name"]] = {
            "runs": rows,
            "warm_fit_s": warm,
            "load_before": load0,
            "load_after": os.getloadavg()[0],
        }
        med = statistics.median(x["wall_s"] for x in rows)
        print(f"tfp {spec['name']}: wall {med:.2f} s, rel {statistics.median(x['rel'] for x in rows):+.4f}"
              + (f", warm fit {statistics.median(w['fit_s'] for w in warm):.2f} s" if warm else ""), flush=True)
        out_path.write_text(json.dumps(results, indent=1))


def _tfp_series(args, spec, runs, env, me):
    """`runs` one-fit processes on one series, then (unless a replicate) one warm process.
    With --warm-only, only the warm process (the one-fit runs are kept from the results)."""
    work = Path(args.work)
    rows = []
    for r in range(0 if args.warm_only else runs):
        tmp = work / f"tfp-{spec['name']}-{r}.json"
        m = measure([sys.executable, me, "_tfp_child", json.dumps(spec), str(tmp), str(r + 1)], env)
        child = json.loads(tmp.read_text())
        tmp.unlink()
        rows.append({**m, "import_s": child["import_s"], **child["fits"][0]})
    warm = None
    if not spec.get("replicate") and args.warm > 1:
        # One process fitting the same series `warm` times: the second and later fits reuse
        # the traced TensorFlow graph — tfp's best case per fit in a long-running process.
        tmp = work / f"tfp-{spec['name']}-warm.json"
        seeds = ",".join(str(100 + i) for i in range(args.warm))
        measure([sys.executable, me, "_tfp_child", json.dumps(spec), str(tmp), seeds], env)
        child = json.loads(tmp.read_text())
        tmp.unlink()
        warm = [{"fit_s": f["fit_s"], "fit_cpu_s": f["fit_cpu_s"]} for f in child["fits"][1:]]
    return rows, warm


# ---------------------------------------------------------------------------------------------
# homeseason impact


def stage_hs(args, specs) -> None:
    work = Path(args.work)
    binary = Path(args.homeseason)
    out_path = work / "results-hs.json"
    results = json.loads(out_path.read_text()) if out_path.exists() else {}
    digest = hashlib.sha256(binary.read_bytes()).hexdigest()[:16]
    ver = subprocess.run([str(binary), "--version"], capture_output=True, text=True).stdout.strip()
    results["_meta"] = {
        "binary": str(binary),
        "sha256_16": digest,
        "version": ver,
        "mtime": dt.datetime.fromtimestamp(binary.stat().st_mtime, dt.timezone.utc).isoformat(),
    }
    for spec in specs:
        if args.series and spec["name"] not in args.series:
            continue
        runs = 1 if spec.get("replicate") else args.runs
        for model in HS_MODELS:
            rows = []
            load0 = os.getloadavg()[0]
            for r in range(runs):
                js = work / f"hs-{spec['name']}-{model}-{r}.json"
                cmd = [
                    str(binary), "impact", spec["csv"],
                    "--time", "date",
                    "--target", spec["target"],
                    "--covariates", ",".join(spec["covariates"]),
                    "--pre", ":".join(spec["pre"]),
                    "--post", ":".join(spec["post"]),
                    "--level", str(LEVEL),
                    "--draws", str(HS_DRAWS),
                    "--seed", str(r + 1),
                    "--model", model,
                    "--json", str(js),
                    "--timings",
                ]
                m = measure(cmd)
                doc = json.loads(js.read_text())
                js.unlink()
                rel = doc["average"]["relative_effect"]
                rows.append(
                    {
                        **m,
                        "rel": rel["value"],
                        "lo": rel["lower"],
                        "hi": rel["upper"],
                        "p_two_sided": doc["p_value"],
                        "error_model": doc["error_model"],
                        # The analysis alone (fit, draws, summary), wall, in-process.
                        "fit_s": doc.get("fit_seconds"),
                        # The CPU time of all its threads (CLOCK_PROCESS_CPUTIME_ID; since session 26:
                        # before, the one thread's schedstat, which then ran it all).
                        "fit_cpu_s": doc.get("fit_cpu_seconds"),
                    }
                )
            results[f"{spec['name']}|{model}"] = {
                "runs": rows,
                "cmd": " ".join(cmd),
                "load_before": load0,
                "load_after": os.getloadavg()[0],
            }
            med = statistics.median(x["wall_s"] for x in rows)
            print(f"hs {model} {spec['name']}: wall {med:.3f} s, rel {statistics.median(x['rel'] for x in rows):+.4f}",
                  flush=True)
        out_path.write_text(json.dumps(results, indent=1))


# ---------------------------------------------------------------------------------------------
# table


def _median_run(rows):
    """The run with the median relative effect (its interval and p-value go with it)."""
    ordered = sorted(rows, key=lambda x: x["rel"])
    return ordered[(len(ordered) - 1) // 2]


def pct(x):
    return "—" if x is None else f"{100 * x:+.2f} %"


def stage_table(args, specs) -> str:
    work = Path(args.work)
    tfp = json.loads((work / "results-tfp.json").read_text())
    hs = json.loads((work / "results-hs.json").read_text())
    lines = [
        f"Interval level {LEVEL:.0%} for both; p: homeseason's two-sided p-value of no effect on the "
        "post-period total; tfp's one-sided tail area ×2 (capped at 1) for the same definition. "
        "Times and memory: medians of the runs; estimate: the run with the median estimate "
        "(seeds 1, 2, 3).",
        "",
        "| series | truth | tool | wall s | CPU s | peak RSS MiB | fit wall / CPU s | relative effect [95 %] | width pp | covers | p | abs error pp |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    ratios = []
    rep = {"ar": [], "local-level": [], "auto": [], "tfp": []}
    for spec in specs:
        name, truth = spec["name"], spec["truth"]
        entries = []
        for model in HS_MODELS:
            r = hs.get(f"{name}|{model}")
            if r:
                chosen = "" if model != "auto" else f" (→ {_median_run(r['runs'])['error_model']})"
                entries.append((f"homeseason {model}{chosen}", model, r["runs"], None, None))
        t = tfp.get(name)
        if t and "error" in t:
            lines.append(f"| {name} | {pct(truth)} | tfp-causalimpact | failed: {t['error'].splitlines()[-1][:120]} |||||||||")
            t = None
        if t:
            entries.append(("tfp-causalimpact", "tfp", t["runs"], t.get("warm_fit_s"), "fit_s"))
        for label, key, rows, warm, fitkey in entries:
            best = _median_run(rows)
            wall = statistics.median(x["wall_s"] for x in rows)
            cpu = statistics.median(x["cpu_s"] for x in rows)
            rss = statistics.median(x["rss_mib"] for x in rows)
            if fitkey:
                fit = statistics.median(x[fitkey] for x in rows)
                fit_cpu = statistics.median(x["fit_cpu_s"] for x in rows)
                fit_s = f"{fit:.2f} / {fit_cpu:.2f}"
                if warm:
                    fit_s += (f" (warm {statistics.median(w['fit_s'] for w in warm):.2f}"
                              f" / {statistics.median(w['fit_cpu_s'] for w in warm):.2f})")
            else:
                fit_s = "—"
            p = best.get("p_two_sided")
            if p is None:
                p = min(1.0, 2 * best["p_one_sided"])
            covers = "—" if truth is None else ("yes" if best["lo"] <= truth <= best["hi"] else "no")
            err = "—" if truth is None else f"{100 * abs(best['rel'] - truth):.2f}"
            if spec.get("replicate"):
                rep[key].append(
                    {
                        "err": abs(best["rel"] - truth),
                        "covers": best["lo"] <= truth <= best["hi"],
                        "width": best["hi"] - best["lo"],
                        "wall": wall,
                        "p": p,
                    }
                )
                continue
            lines.append(
                f"| {name} | {pct(truth)} | {label} | {wall:.3f} | {cpu:.3f} | {rss:.0f} | {fit_s} | "
                f"{pct(best['rel'])} [{pct(best['lo'])}, {pct(best['hi'])}] | "
                f"{100 * (best['hi'] - best['lo']):.2f} | {covers} | {p:.3f} | {err} |"
            )
        if t and not spec.get("replicate"):
            tw = statistics.median(x["wall_s"] for x in t["runs"])
            tc = statistics.median(x["cpu_s"] for x in t["runs"])
            warm = t.get("warm_fit_s") or []
            ww = statistics.median(w["fit_s"] for w in warm) if warm else None
            wc = statistics.median(w["fit_cpu_s"] for w in warm) if warm else None
            for model in HS_MODELS:
                r = hs.get(f"{name}|{model}")
                if r:
                    hw = statistics.median(x["wall_s"] for x in r["runs"])
                    hc = statistics.median(x["cpu_s"] for x in r["runs"])
                    fits = [x["fit_s"] for x in r["runs"] if x.get("fit_s") is not None]
                    cpus = [x["fit_cpu_s"] for x in r["runs"] if x.get("fit_cpu_s") is not None]
                    hf = statistics.median(fits) if fits else None
                    hfc = statistics.mean(cpus) if cpus else None
                    ratios.append((name, model, hw, hc, tw / hw, tc / hc,
                                   ww / hw if ww else None, wc / hc if wc else None,
                                   (hf, hfc), ww / hf if ww and hf else None,
                                   wc / hfc if wc and hfc else None))
    lines += [
        "",
        "Ratio per fit (tfp ÷ homeseason whole process; homeseason's process is its fit: it reads "
        "the CSV, fits, draws and writes the JSON):",
        "",
        "| series | homeseason model | hs wall s | hs CPU s | tfp process ÷ hs, wall | tfp process ÷ hs, CPU | tfp warm fit ÷ hs, wall | tfp warm fit ÷ hs, CPU | hs fit ms, wall (median) / CPU (mean) | tfp warm fit ÷ hs fit, wall | tfp warm fit ÷ hs fit, CPU |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    x_ = lambda v: "—" if v is None else f"{v:.0f}×"  # noqa: E731
    for name, model, hw, hc, a, b, c, d, hf, e, f in ratios:
        hf_ = "—" if hf[0] is None else f"{1000 * hf[0]:.1f}"
        hf_ += "" if hf[1] is None else f" / {1000 * hf[1]:.1f}"
        lines.append(f"| {name} | {model} | {hw:.3f} | {hc:.3f} | {x_(a)} | {x_(b)} | {x_(c)} | {x_(d)} | {hf_} | {x_(e)} | {x_(f)} |")
    for model in HS_MODELS:
        mine = [r for r in ratios if r[1] == model]
        if mine:
            lows = [min((r[k] for r in mine if r[k] is not None), default=None) for k in (4, 5, 6, 7)]
            lows2 = [min((r[k] for r in mine if r[k] is not None), default=None) for k in (9, 10)]
            lines.append(f"| **lowest** | {model} | | | " + " | ".join(f"**{x_(v)}**" for v in lows)
                         + " | | " + " | ".join(f"**{x_(v)}**" for v in lows2) + " |")
    if any(rep.values()):
        n = len(rep["tfp"]) or len(rep["ar"])
        lines += [
            "",
            f"Replicates: {n} more series of daily_plus8's design (seeds 20260200 …), one run each, truth +8.00 %:",
            "",
            "| tool | mean abs error pp | max abs error pp | coverage of the truth | mean width pp | median wall s |",
            "|---|---|---|---|---|---|",
        ]
        for key, label in [*((m, f"homeseason {m}") for m in HS_MODELS), ("tfp", "tfp-causalimpact")]:
            v = rep[key]
            if not v:
                continue
            lines.append(
                f"| {label} | {100 * statistics.mean(x['err'] for x in v):.2f} | "
                f"{100 * max(x['err'] for x in v):.2f} | {sum(x['covers'] for x in v)}/{len(v)} | "
                f"{100 * statistics.mean(x['width'] for x in v):.2f} | "
                f"{statistics.median(x['wall'] for x in v):.3f} |"
            )
    meta = tfp.get("_meta", {}).get("versions", {})
    lines += [
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in meta.items())
        + f"; homeseason: {hs.get('_meta', {}).get('version')} (binary sha256 {hs.get('_meta', {}).get('sha256_16')}…, "
        f"built {hs.get('_meta', {}).get('mtime')}); Python {platform.python_version()}.",
    ]
    text = "\n".join(lines) + "\n"
    (work / "table.md").write_text(text)
    print(text)
    return text


# ---------------------------------------------------------------------------------------------
# `homeseason report` on the demo's sample season (issue 19: report stays < 2 s)


def stage_report(args) -> None:
    """`homeseason demo` into a fresh folder, then `homeseason report` on its lake `runs` times
    (each into its own output folder); the folder is removed at the end unless --keep-demo."""
    import shutil

    binary = str(Path(args.homeseason))
    demo = Path(args.demo_dir)
    if demo.exists():
        shutil.rmtree(demo)
    m = measure([binary, "demo", "--out", str(demo)])
    print(f"demo: wall {m['wall_s']:.1f} s, CPU {m['cpu_s']:.1f} s, peak {m['rss_mib']:.0f} MiB", flush=True)
    rows = []
    for r in range(args.runs):
        out = demo / f"report-run{r + 1}"
        load0 = os.getloadavg()[0]
        m = measure([binary, "report", "--lake", str(demo / "lake"), "--out", str(out)])
        files = sorted(p.name for p in out.rglob("*") if p.is_file())
        rows.append({**m, "load_before": load0, "files": len(files)})
        print(f"report run {r + 1}: wall {m['wall_s']:.3f} s, CPU {m['cpu_s']:.3f} s, "
              f"peak {m['rss_mib']:.0f} MiB, {len(files)} files, load {load0:.2f}", flush=True)
    md = (demo / "report-run1" / "report.md")
    sections = [l for l in md.read_text().splitlines() if l.startswith("#")] if md.exists() else []
    result = {
        "command": f"{binary} report --lake {demo}/lake --out {demo}/report-runN",
        "runs": rows,
        "median_wall_s": statistics.median(x["wall_s"] for x in rows),
        "median_cpu_s": statistics.median(x["cpu_s"] for x in rows),
        "median_rss_mib": statistics.median(x["rss_mib"] for x in rows),
        "report_md_headings": sections,
    }
    Path(args.work).mkdir(parents=True, exist_ok=True)
    (Path(args.work) / "results-report.json").write_text(json.dumps(result, indent=1, ensure_ascii=False))
    print(json.dumps({k: v for k, v in result.items() if k != "report_md_headings"}, indent=1))
    print(f"{len(sections)} headings in report.md")
    if not args.keep_demo:
        shutil.rmtree(demo)


# ---------------------------------------------------------------------------------------------


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_tfp_child":
        tfp_child(sys.argv[2], sys.argv[3], sys.argv[4])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage", choices=["all", "gen", "tfp", "hs", "table", "report"])
    ap.add_argument("--work", default="/var/tmp/tfp-impact", help="series, results and table")
    ap.add_argument("--venv", default="/var/tmp/tfp-venv")
    ap.add_argument("--homeseason", default="/tmp/main-homeseason", help="release binary of homeseason")
    ap.add_argument("--runs", type=int, default=3, help="runs per tool and series (medians)")
    ap.add_argument("--warm", type=int, default=3, help="fits in tfp's one-process warm run (0: skip)")
    ap.add_argument("--warm-only", action="store_true", help="tfp stage: redo only the warm runs")
    ap.add_argument("--replicates", type=int, default=10, help="extra seeds of daily_plus8 (one run each)")
    ap.add_argument("--no-fixtures", action="store_true", help="skip tests/fixtures' tfcausalimpact data")
    ap.add_argument("--series", nargs="*", help="only these series (tfp, hs stages)")
    ap.add_argument("--demo-dir", default="/var/tmp/tfp-demo", help="report stage: the demo's folder")
    ap.add_argument("--keep-demo", action="store_true", help="report stage: keep the demo's folder")
    args = ap.parse_args()
    if args.stage == "report":
        stage_report(args)
        return
    ensure_venv(Path(args.venv))
    work = Path(args.work)
    if args.stage in ("all", "gen") or not (work / "series.json").exists():
        specs = stage_gen(args)
    else:
        specs = json.loads((work / "series.json").read_text())
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()}", flush=True)
    if args.stage in ("all", "tfp"):
        stage_tfp(args, specs)
    if args.stage in ("all", "hs"):
        stage_hs(args, specs)
    if args.stage in ("all", "table"):
        stage_table(args, specs)


if __name__ == "__main__":
    main()
