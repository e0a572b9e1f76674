#!/usr/bin/env python3
"""Execute a Jupyter notebook headless (nbclient + ipykernel) and fail if any cell errors.

Used by tests/e2e/readers.rs on the notebook `homeseason export notebook` writes. Before running it, the
notebook is validated against the nbformat schema; after running, it must have drawn at least
--min-images images (the two charts) and every code cell must have run.

With --headline REPORT/headline.json, the headline the notebook computed (the line it prints after
HEADLINE_JSON) must equal that report's headline: method, incremental sales and uplift with their
intervals (relative tolerance 1e-9), and the regions above zero.

Usage: run_notebook.py NOTEBOOK [--out EXECUTED.ipynb] [--timeout SECONDS] [--min-images N]
                       [--headline HEADLINE.json]
Exit status 0 on success; 1 with the failing cell and its traceback otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebook", type=Path)
    ap.add_argument("--out", type=Path, help="write the executed notebook here")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    ap.add_argument("--min-images", type=int, default=0)
    ap.add_argument("--headline", type=Path, help="the report's headline.json the notebook must reproduce")
    args = ap.parse_args()

    nb = nbformat.read(args.notebook, as_version=4)
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as e:
        print(f"{args.notebook}: not a valid nbformat {nb.nbformat}.{nb.nbformat_minor} notebook: {e}")
        return 1
    start = time.monotonic()
    client = NotebookClient(
        nb,
        timeout=args.timeout,
        kernel_name="python3",
        allow_errors=False,
        resources={"metadata": {"path": str(args.notebook.parent.resolve())}},
    )
    failed = None
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as e:
        failed = e
    if args.out:
        nbformat.write(nb, args.out)
    if failed is not None:
        print(f"{args.notebook}: a cell failed:\n{failed}")
        return 1
    code = [c for c in nb.cells if c.cell_type == "code"]
    unrun = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.get("execution_count") is None]
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    images = sum(1 for c in code for o in c.get("outputs", []) if "image/png" in o.get("data", {}))
    if unrun or errors:
        print(f"{args.notebook}: cells not run {unrun}, error outputs {len(errors)}")
        return 1
    if images < args.min_images:
        print(f"{args.notebook}: {images} images drawn, expected at least {args.min_images}")
        return 1
    if args.headline:
        problem = compare_headline(code, json.loads(args.headline.read_text(encoding="utf-8")))
        if problem:
            print(f"{args.notebook}: {problem}")
            return 1
        print(f"{args.notebook.name}: the notebook's headline equals the report's ({args.headline})")
    print(
        f"{args.notebook.name}: {len(code)} code cells ran without error in "
        f"{time.monotonic() - start:.1f} s, {images} images"
    )
    return 0


def compare_headline(code_cells, report: dict) -> str | None:
    """None when the notebook printed a headline equal to the report's, else what differs."""
    printed = [
        line.split("HEADLINE_JSON ", 1)[1]
        for c in code_cells
        for o in c.get("outputs", [])
        if o.get("output_type") == "stream"
        for line in o.get("text", "").splitlines()
        if line.startswith("HEADLINE_JSON ")
    ]
    if len(printed) != 1:
        return f"expected one HEADLINE_JSON line, found {len(printed)}"
    got = json.loads(printed[0])
    if got["method"] != report["method"]:
        return f"method {got['method']} != report {report['method']}"
    for key in ("incremental_yuan", "uplift_pct"):
        if not math.isclose(got[key], report[key], rel_tol=1e-9, abs_tol=1e-6):
            return f"{key} {got[key]} != report {report[key]}"
    for key in ("incremental_interval", "uplift_interval"):
        for g, r in zip(got[key], report[key]):
            if not math.isclose(g, r, rel_tol=1e-9, abs_tol=1e-6):
                return f"{key} {got[key]} != report {report[key]}"
    if list(got["regions_up"]) != list(report["regions_up"]):
        return f"regions_up {got['regions_up']} != report {report['regions_up']}"
    return None


if __name__ == "__main__":
    sys.exit(main())
