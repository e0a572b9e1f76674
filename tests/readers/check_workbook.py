#!/usr/bin/env python3
"""Open the ministry workbook (report/workbook.xlsx) with nothing but the Python standard library (an
.xlsx is a zip of XML parts) and check its layout: the sheets 汇总 Summary and 重点活动表 (and the weekly
activity summary when present), the attachment's column headers, one row per activity, a frozen header
and set column widths on every sheet.

Usage: check_workbook.py WORKBOOK.xlsx --activities N [--summary-rows N]
Exit status 0 when the layout is right; 1 with the problems otherwise.
"""

from __future__ import annotations

import argparse
import re
import sys
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
}
ACTIVITY_COLUMNS = [
    "序号", "地区", "活动名称", "活动类型", "起止时间", "举办地点",
    "主办单位", "参与企业数", "参与品牌数", "重点方向", "线上/线下", "是否地方站",
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("workbook", type=Path)
    ap.add_argument("--activities", type=int, required=True, help="rows of the activities table")
    ap.add_argument("--summary-rows", type=int, help="data rows expected on the summary sheet")
    args = ap.parse_args()
    problems = []
    with zipfile.ZipFile(args.workbook) as z:
        book = ET.fromstring(z.read("xl/workbook.xml"))
        rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
        targets = {r.get("Id"): r.get("Target") for r in rels}
        sheets = {
            s.get("name"): "xl/" + targets[s.get(f"{{{NS['r']}}}id")].lstrip("/").removeprefix("xl/")
            for s in book.find("m:sheets", NS)
        }
        strings = [
            "".join(t.text or "" for t in si.iter(f"{{{NS['m']}}}t"))
            for si in ET.fromstring(z.read("xl/sharedStrings.xml")).findall("m:si", NS)
        ]
        names = list(sheets)
        if names[:2] != ["汇总 Summary", "重点活动表"]:
            problems.append(f"sheets {names}, expected 汇总 Summary and 重点活动表 first")
        for name, part in sheets.items():
            root = ET.fromstring(z.read(part))
            pane = root.find("m:sheetViews/m:sheetView/m:pane", NS)
            if pane is None or pane.get("state") != "frozen" or pane.get("ySplit") != "3":
                problems.append(f"{name}: the header (row 3) is not frozen: {None if pane is None else pane.attrib}")
            if root.find("m:cols", NS) is None:
                problems.append(f"{name}: no column widths set")
            rows = root.findall("m:sheetData/m:row", NS)

            def row_text(r):
                out = []
                for c in r.findall("m:c", NS):
                    v = c.find("m:v", NS)
                    if v is None:
                        out.append("")
                    elif c.get("t") == "s":
                        out.append(strings[int(v.text)])
                    else:
                        out.append(v.text or "")
                return out

            if name == "重点活动表":
                header = row_text(rows[2]) if len(rows) > 2 else []
                if header != ACTIVITY_COLUMNS:
                    problems.append(f"{name}: header {header}, the attachment's columns are {ACTIVITY_COLUMNS}")
                if len(rows) - 3 != args.activities:
                    problems.append(f"{name}: {len(rows) - 3} activity rows, the activities table has {args.activities}")
                numbers = [row_text(r)[0] for r in rows[3:]]
                if numbers != [str(i) for i in range(1, len(numbers) + 1)]:
                    problems.append(f"{name}: 序号 is not 1..n: {numbers[:5]}…")
            if name == "汇总 Summary":
                header = row_text(rows[2]) if len(rows) > 2 else []
                if not header or not all(re.search(r"[\u4e00-\u9fff]", h) and re.search(r"[A-Za-z]", h) for h in header):
                    problems.append(f"{name}: headers are not in both languages: {header}")
                if not any("亿元" in h for h in header) or not any("%" in h for h in header):
                    problems.append(f"{name}: headers do not state the units 亿元 and %: {header}")
                first = row_text(rows[3]) if len(rows) > 3 else []
                if first[:1] != ["000000"]:
                    problems.append(f"{name}: the first row is not the national one: {first}")
                if args.summary_rows is not None and len(rows) - 3 != args.summary_rows:
                    problems.append(f"{name}: {len(rows) - 3} rows, expected {args.summary_rows}")
    if problems:
        print(f"{args.workbook}: {len(problems)} problems")
        for p in problems:
            print(" -", p)
        return 1
    print(f"{args.workbook.name}: sheets {names}; {args.activities} activities in the attachment's layout")
    return 0


if __name__ == "__main__":
    sys.exit(main())
