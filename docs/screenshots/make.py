#!/usr/bin/env python3
"""Screenshots of what a provincial department now submits: the report (HTML, national and one
province's view) and the workbook (XLSX, its main sheets), from the sample season.

Steps: `homeseason demo --out WORK` (the sample season, ingested, estimated, reported), then
`homeseason report --region REGION` for the province's own report and workbook, and on a dense
season (`demo --areas dense`) `uplift --level city --region REGION` and `report --level city
--region REGION` for the province's city-level report and workbook; the reports are
cut into sections (headline and tables; subsidies, online/offline, themes; town and country;
the cities) and shot with Chromium
headless (`--screenshot`); each workbook sheet is read with openpyxl and drawn as an HTML table
(merged title rows, bold headers, the cells' number formats rounded as Excel shows them) and shot
the same way. Each PNG is reduced to a 256-colour palette (Pillow) to stay under 400 KB.

Usage (a venv with openpyxl and Pillow; a built `homeseason`; Chromium):

    python3 -m venv /tmp/shots-venv && /tmp/shots-venv/bin/pip install openpyxl pillow
    /tmp/shots-venv/bin/python docs/screenshots/make.py \
        --homeseason target/release/homeseason --work /tmp/shots-work

Nothing here is hand-edited: the PNGs beside this script are its output.
"""

import argparse
import html
import os
import re
import subprocess
import sys
from pathlib import Path

import openpyxl
from PIL import Image

HERE = Path(__file__).resolve().parent
MAX_BYTES = 400 * 1024
# Rows of each sheet drawn: the title rows, the header and the first data rows.
SHEET_ROWS = 28


def run(cmd, quiet=False):
    print("+", " ".join(str(c) for c in cmd), file=sys.stderr)
    out = subprocess.run([str(c) for c in cmd], check=False, capture_output=quiet, text=True)
    if out.returncode != 0:
        sys.exit(f"{cmd[0]} failed ({out.returncode}): {out.stderr if quiet else ''}")


def shoot(chromium, page, png, width, height):
    """Chromium headless screenshot of `page` (an HTML file), then trimmed and reduced."""
    run([
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
        "--force-device-scale-factor=1", f"--window-size={width},{height}",
        f"--screenshot={png}", page.as_uri(),
    ], quiet=True)
    img = Image.open(png).convert("RGB")
    # Trim the blank page below the content (rows equal to the bottom-right pixel).
    bg = img.getpixel((img.width - 1, img.height - 1))
    px = img.load()
    bottom = img.height
    while bottom > 1 and all(px[x, bottom - 1] == bg for x in range(0, img.width, 4)):
        bottom -= 1
    # And the blank page right of it (a sheet narrower than the window).
    right = img.width
    while right > 1 and all(px[right - 1, y] == bg for y in range(0, bottom, 4)):
        right -= 1
    img = img.crop((0, 0, min(img.width, right + 16), min(img.height, bottom + 16)))
    for colours in (256, 128, 64):
        img.quantize(colors=colours, method=Image.Quantize.MEDIANCUT).save(png, optimize=True)
        if png.stat().st_size < MAX_BYTES:
            break
    print(f"{png.name}: {img.width}×{img.height}, {png.stat().st_size // 1024} KB", file=sys.stderr)


def report_sections(report_html, wanted):
    """The report page with only the sections (`<h2>` and what follows up to the next `<h2>`)
    whose heading starts with one of `wanted` (e.g. "1 ", "6a ")."""
    text = report_html.read_text(encoding="utf-8")
    body_at = text.index("<body")
    body_at = text.index(">", body_at) + 1
    head, body = text[:body_at], text[body_at:]
    end = body.rfind("</body>")
    body = body[:end] if end >= 0 else body
    parts = re.split(r"(?=<h2>)", body)
    kept = [parts[0]] if parts and not parts[0].startswith("<h2>") and "1 " in wanted else []
    for p in parts:
        m = re.match(r"<h2>([^<]*)</h2>", p)
        if m and any(m.group(1).startswith(w) for w in wanted):
            kept.append(p)
    return head + "".join(kept) + "</body></html>"


def font_face(report_html):
    """The report's embedded CJK font (@font-face rule), so the workbook's tables render Chinese
    on a machine without CJK fonts."""
    text = report_html.read_text(encoding="utf-8")
    m = re.search(r"@font-face\{[^}]*\}", text)
    family = re.search(r"font-family:'([^']+)'", m.group(0)) if m else None
    return (m.group(0) if m else ""), (family.group(1) if family else "sans-serif")


def cell_text(cell):
    v = cell.value
    if v is None:
        return ""
    if isinstance(v, float):
        fmt = cell.number_format or "General"
        m = re.search(r"0\.(0+)", fmt)
        places = len(m.group(1)) if m else (0 if re.fullmatch(r"[#,]*0", fmt) else 2)
        text = f"{v:,.{places}f}" if "," in fmt else f"{v:.{places}f}"
        return text + ("%" if fmt.endswith("%") else "")
    if hasattr(v, "isoformat"):
        return v.isoformat()[:10]
    return str(v)


def sheet_width(ws):
    """The window width for a sheet: wide enough for all its columns (the town/country sheet has
    21, its last one the reason a row is blank), trimmed to the table afterwards."""
    return min(4400, max(1600, 200 * ws.max_column))


def sheet_html(ws, face, family, caption):
    """One sheet as an HTML table: merged cells spanned, bold and filled as in the workbook."""
    merged = {}
    hidden = set()
    for rng in ws.merged_cells.ranges:
        merged[(rng.min_row, rng.min_col)] = (rng.max_row - rng.min_row + 1, rng.max_col - rng.min_col + 1)
        for r in range(rng.min_row, rng.max_row + 1):
            for c in range(rng.min_col, rng.max_col + 1):
                if (r, c) != (rng.min_row, rng.min_col):
                    hidden.add((r, c))
    rows = []
    last = min(ws.max_row, SHEET_ROWS)
    for r in range(1, last + 1):
        tds = [f'<th class="n">{r}</th>']
        for c in range(1, ws.max_column + 1):
            if (r, c) in hidden:
                continue
            cell = ws.cell(row=r, column=c)
            style = []
            if cell.font is not None and cell.font.b:
                style.append("font-weight:bold")
            fill = cell.fill.fgColor.rgb if cell.fill is not None and cell.fill.fill_type == "solid" else None
            if isinstance(fill, str) and len(fill) == 8 and fill != "00000000":
                style.append(f"background:#{fill[2:]}")
            if isinstance(cell.value, (int, float)):
                style.append("text-align:right")
            span = ""
            if (r, c) in merged:
                rs, cs = merged[(r, c)]
                span = f' rowspan="{rs}" colspan="{cs}"'
                style.append("text-align:left")
            tds.append(f'<td{span} style="{";".join(style)}">{html.escape(cell_text(cell))}</td>')
        rows.append("<tr>" + "".join(tds) + "</tr>")
    letters = "".join(
        f"<th>{openpyxl.utils.get_column_letter(c)}</th>" for c in range(1, ws.max_column + 1)
    )
    more = ws.max_row - last
    note = f"<p class=more>… {more} more rows 另有 {more} 行</p>" if more > 0 else ""
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><style>{face}
body{{font-family:'{family}',sans-serif;font-size:12px;margin:8px;background:#fff}}
h1{{font-size:14px;margin:0 0 6px}} table{{border-collapse:collapse}}
td,th{{border:1px solid #d0d0d0;padding:2px 6px;white-space:nowrap;max-width:380px;overflow:hidden;text-overflow:ellipsis}}
th{{background:#f0f0f0;color:#555;font-weight:normal}} th.n{{text-align:right}} p.more{{color:#777}}
</style></head><body><h1>{html.escape(caption)}</h1><table><tr><th></th>{letters}</tr>{"".join(rows)}</table>{note}</body></html>"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--homeseason", default=os.environ.get("HOMESEASON", "homeseason"))
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--work", type=Path, default=Path("/tmp/homeseason-screenshots"))
    ap.add_argument("--out", type=Path, default=HERE)
    ap.add_argument("--region", default="浙江", help="the province whose own report is shot")
    ap.add_argument("--reuse", action="store_true", help="keep an existing demo under --work")
    ap.add_argument("--city-work", type=Path, default=None,
                    help="folder of the dense season for the city level (default: WORK-dense)")
    ap.add_argument("--city-scale", default="40",
                    help="--scale of the dense season: 40, benchmarks/CITY.md's season (at 1, 2 of "
                         "浙江's 11 cities have no estimate; at 5 all have one but their MAE against "
                         "truth_cities.csv is 41 pp; at 40 it is 18 pp for two_year)")
    a = ap.parse_args()
    work = a.work
    if not (a.reuse and (work / "report" / "workbook.xlsx").exists()):
        run([a.homeseason, "demo", "--out", work])
    region_dir = work / "report-region"
    run([a.homeseason, "report", "--lake", work / "lake", "--out", region_dir, "--region", a.region])
    pages = work / "shots"
    pages.mkdir(exist_ok=True)
    a.out.mkdir(parents=True, exist_ok=True)
    shots = [
        ("report-national-headline", work / "report" / "report.html", ["1 ", "2 "]),
        ("report-national-subsidies-channels-themes", work / "report" / "report.html", ["6a ", "6.1 ", "6.2 "]),
        ("report-region-headline", region_dir / "report.html", ["1 ", "2 "]),
        ("report-region-subsidies-channels-themes", region_dir / "report.html", ["6a ", "6.1 ", "6.2 "]),
        ("report-national-town-country", work / "report" / "report.html", ["6.3 "]),
        ("report-region-town-country", region_dir / "report.html", ["6.3 "]),
    ]
    for name, src, wanted in shots:
        page = pages / f"{name}.html"
        page.write_text(report_sections(src, wanted), encoding="utf-8")
        shoot(a.chromium, page, a.out / f"{name}.png", 1200, 2400)
    face, family = font_face(work / "report" / "report.html")
    for label, book in (("national", work / "report" / "workbook.xlsx"), ("region", region_dir / "workbook.xlsx")):
        wb = openpyxl.load_workbook(book)
        for i, ws in enumerate(wb.worksheets):
            if label == "region" and i > 0 and not re.search(r"线上|主题|补贴|城乡", ws.title):
                continue
            if label == "national" and ws.title.startswith(("重点活动表", "活动周度")):
                continue
            page = pages / f"workbook-{label}-{i}.html"
            page.write_text(sheet_html(ws, face, family, f"{book.name} · {ws.title}"), encoding="utf-8")
            shoot(a.chromium, page, a.out / f"workbook-{label}-{i}.png", sheet_width(ws), 1000)
    city_shots(a, face, family)


def city_shots(a, face, family):
    """The province's city-level report and workbook (`--level city`) on a dense season (every
    prefecture-level city has merchants): `demo --areas dense`, `uplift --level city --region`,
    `report --level city --region`."""
    dense = a.city_work or a.work.with_name(a.work.name + "-dense")
    if not (a.reuse and (dense / "lake").exists()):
        run([a.homeseason, "demo", "--out", dense, "--areas", "dense", "--scale", a.city_scale])
    run([a.homeseason, "uplift", "--lake", dense / "lake", "--level", "city", "--region", a.region])
    city_dir = dense / "report-city"
    run([a.homeseason, "report", "--lake", dense / "lake", "--out", city_dir,
         "--level", "city", "--region", a.region])
    pages = a.work / "shots"
    for name, wanted in (("report-city-headline", ["1 "]), ("report-city-cities", ["3 "])):
        page = pages / f"{name}.html"
        page.write_text(report_sections(city_dir / "report.html", wanted), encoding="utf-8")
        shoot(a.chromium, page, a.out / f"{name}.png", 1200, 2400)
    book = city_dir / "workbook.xlsx"
    wb = openpyxl.load_workbook(book)
    for i, ws in enumerate(wb.worksheets):
        if i > 0 and "城市" not in ws.title:
            continue
        page = pages / f"workbook-city-{i}.html"
        page.write_text(sheet_html(ws, face, family, f"{book.name} · {ws.title}"), encoding="utf-8")
        shoot(a.chromium, page, a.out / f"workbook-city-{i}.png", sheet_width(ws), 1000)


if __name__ == "__main__":
    main()
