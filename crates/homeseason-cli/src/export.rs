//! `homeseason export notebook`: a Jupyter notebook (nbformat 4) that loads the lake's Parquet
//! outputs with Python polars, reproduces the headline and by-category tables, draws two of the
//! report's charts with matplotlib, and explains each step in Chinese and English.
//!
//! The notebook reads every path relative to `LAKE`, set in its first cell to the absolute lake path
//! given on the command line (the environment variable `HOMESEASON_LAKE` overrides it without an
//! edit). The export is deterministic: the same campaign, lake path and week give the same bytes.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use homeseason_schema::campaign::Campaign;
use homeseason_schema::region::NATIONAL;
use serde_json::{Value, json};

/// The Sunday ending the (Monday–Sunday) week that holds a date (the report's rule).
pub(crate) use homeseason_schema::calendar::week_end as week_ending;

/// File name of an exported notebook for a report week.
pub(crate) fn file_name(as_of: NaiveDate) -> String {
    format!("homeseason-weekly-{as_of}.ipynb")
}

/// A Python string literal (JSON string syntax is valid Python for these values).
fn py_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

fn lines(text: &str) -> Vec<String> {
    let text = text.trim_matches('\n');
    let mut out: Vec<String> = text.split_inclusive('\n').map(str::to_owned).collect();
    if let Some(last) = out.last_mut() {
        if last.ends_with('\n') {
            last.pop();
        }
    }
    out
}

fn markdown(id: &str, text: &str) -> Value {
    json!({"cell_type": "markdown", "id": id, "metadata": {}, "source": lines(text)})
}

fn code(id: &str, text: &str, tags: &[&str]) -> Value {
    let metadata = if tags.is_empty() {
        json!({})
    } else {
        json!({ "tags": tags })
    };
    json!({
        "cell_type": "code",
        "execution_count": null,
        "id": id,
        "metadata": metadata,
        "outputs": [],
        "source": lines(text),
    })
}

/// Fill `{{NAME}}` placeholders (Python code is full of single braces).
fn fill(template: &str, values: &[(&str, String)]) -> String {
    let mut out = template.to_owned();
    for (k, v) in values {
        out = out.replace(&format!("{{{{{k}}}}}"), v);
    }
    out
}

/// The notebook for `campaign`, reading the lake at `lake` (absolute), as of the week ending `as_of`.
pub(crate) fn notebook(campaign: &Campaign, lake: &Path, as_of: NaiveDate) -> Result<Value> {
    let as_of = week_ending(as_of);
    let targeted: Vec<String> = campaign
        .categories
        .targeted
        .iter()
        .map(|c| py_str(c.id()))
        .collect();
    let mut categories = vec![format!(
        "    \"all_targeted\": (\"全部目标品类\", \"All targeted categories\"),"
    )];
    for c in &campaign.categories.targeted {
        categories.push(format!(
            "    {}: ({}, {}),",
            py_str(c.id()),
            py_str(c.name_zh()),
            py_str(c.name_en())
        ));
    }
    let mut region_names = vec![format!("    {}: \"China (national)\",", py_str(NATIONAL))];
    for r in campaign.regions().context("the campaign's regions")? {
        region_names.push(format!("    {}: {},", py_str(&r.code), py_str(&r.name_en)));
    }
    let lake_str = lake
        .to_str()
        .with_context(|| format!("the lake path {} is not UTF-8", lake.display()))?;
    let values = [
        ("LAKE", py_str(lake_str)),
        ("AS_OF", py_str(&as_of.to_string())),
        ("CAMPAIGN_ID", py_str(&campaign.id)),
        ("CAMPAIGN_ZH", campaign.name_zh.clone()),
        ("CAMPAIGN_EN", campaign.name_en.clone()),
        ("METHOD", py_str(&campaign.baseline.primary_method)),
        ("LEVEL", format!("{}", campaign.baseline.level)),
        (
            "LEVEL_PCT",
            format!("{:.0}", campaign.baseline.level * 100.0),
        ),
        ("WINDOW_START", py_str(&campaign.window.start.to_string())),
        ("WINDOW_END", py_str(&campaign.window.end.to_string())),
        ("WINDOW_START_RAW", campaign.window.start.to_string()),
        ("WINDOW_END_RAW", campaign.window.end.to_string()),
        ("AS_OF_RAW", as_of.to_string()),
        ("TARGETED", format!("[{}]", targeted.join(", "))),
        ("CATEGORIES", categories.join("\n")),
        ("REGIONS", region_names.join("\n")),
        ("VERSION", env!("CARGO_PKG_VERSION").to_owned()),
    ];
    let cells: Vec<Value> = CELLS
        .iter()
        .enumerate()
        .map(|(i, cell)| {
            let id = format!("cell-{:02}", i + 1);
            let text = fill(cell.text, &values);
            match cell.kind {
                Kind::Markdown => markdown(&id, &text),
                Kind::Code => code(&id, &text, cell.tags),
            }
        })
        .collect();
    Ok(json!({
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
            "homeseason": {
                "campaign_id": campaign.id,
                "as_of_week": as_of.to_string(),
                "exported_by": format!("homeseason {}", env!("CARGO_PKG_VERSION")),
            },
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }))
}

/// Export the notebook: `out` is a `.ipynb` file or a folder (the file is then named after the
/// week). Returns the path written.
pub(crate) fn export_notebook(
    campaign: &Campaign,
    lake: &Path,
    out: &Path,
    as_of: NaiveDate,
) -> Result<PathBuf> {
    if !lake.join("uplift").is_dir() {
        bail!(
            "{} holds no uplift table: run `homeseason uplift --lake {}` (or `homeseason demo`) first \
             湖中没有 uplift 表",
            lake.display(),
            lake.display()
        );
    }
    let lake =
        std::path::absolute(lake).with_context(|| format!("resolving {}", lake.display()))?;
    let lake = normalise(&lake);
    let week = week_ending(as_of);
    let path = if out.extension().is_some_and(|e| e == "ipynb") {
        out.to_owned()
    } else {
        out.join(file_name(week))
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let nb = notebook(campaign, &lake, week)?;
    let mut text = serde_json::to_string_pretty(&nb)?;
    text.push('\n');
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Drop `.` and resolve `..` lexically (no symlinks followed), for a readable absolute path.
fn normalise(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

enum Kind {
    Markdown,
    Code,
}

struct Cell {
    kind: Kind,
    tags: &'static [&'static str],
    text: &'static str,
}

const fn md(text: &'static str) -> Cell {
    Cell {
        kind: Kind::Markdown,
        tags: &[],
        text,
    }
}

const fn py(text: &'static str) -> Cell {
    Cell {
        kind: Kind::Code,
        tags: &[],
        text,
    }
}

const CELLS: &[Cell] = &[
    Cell {
        kind: Kind::Code,
        tags: &["parameters"],
        text: r#"
# {{CAMPAIGN_ZH}} · {{CAMPAIGN_EN}} — homeseason notebook, week ending {{AS_OF_RAW}}
# 参数 Parameters, written by `homeseason export notebook`. Every path below is relative to LAKE;
# set the environment variable HOMESEASON_LAKE to read another lake without editing this cell.
import os
from pathlib import Path

LAKE = Path(os.environ.get("HOMESEASON_LAKE", {{LAKE}}))
AS_OF = {{AS_OF}}  # report week: the Sunday it ends on
CAMPAIGN_ID = {{CAMPAIGN_ID}}
METHOD = {{METHOD}}  # the campaign's primary baseline method
SOURCE = "payment_daily"  # the feed the uplift is estimated from
LEVEL = {{LEVEL}}  # interval level
WINDOW = ({{WINDOW_START}}, {{WINDOW_END}})
TARGETED = {{TARGETED}}
NATIONAL = "000000"  # region code of national figures
"#,
    },
    md(r#"
# {{CAMPAIGN_ZH}}效果评估 · {{CAMPAIGN_EN}}: did it raise sales?

本笔记本由 `homeseason export notebook` 生成，直接读取 homeseason 数据湖中的 Parquet 输出表（用 Python polars），
复现报告的核心指标表和分品类表，并画出报告中的两张图。每一步都有说明，可以逐格运行、修改、继续分析。

This notebook was written by `homeseason export notebook`. It reads the Parquet output tables of a homeseason
lake with Python polars, reproduces the report's headline and by-category tables, and draws two of its charts.
Each step is explained; run it cell by cell and carry on from there.

| | |
|---|---|
| 活动期 Campaign window | {{WINDOW_START_RAW}} – {{WINDOW_END_RAW}} |
| 报告周 Report week | week ending 截至 {{AS_OF_RAW}} |
| 基线方法 Baseline method | `{{METHOD}}` ({{LEVEL_PCT}}% interval 区间) |
| 金额单位 Money | 亿元 = 100 million yuan (the tables store yuan 元) |

Steps 步骤: 0 setup 准备 · 1 load the tables 读取输出表 · 2 headline 核心指标 · 3 by category 分品类 ·
4 progress as of the report week 截至报告周的累计进度 · 5 chart: national sales vs baseline 全国销售额与基线 ·
6 chart: uplift by region 各地区提升.
"#),
    md(r#"
## 0 准备 Setup

只需要 `polars`（读表）和 `matplotlib`（画图）：`pip install polars matplotlib`。图中标签用英文，任何字体都能显示；
若要在图中写中文（地区名等），需安装中文字体（例如 Noto Sans CJK SC：`apt install fonts-noto-cjk`），
下面一格会自动把找到的中文字体放到字体回退列表的最前面。

Only `polars` (tables) and `matplotlib` (charts) are needed. The chart labels are English, so they render with any
font; for Chinese labels matplotlib needs a CJK font (e.g. Noto Sans CJK SC, `apt install fonts-noto-cjk`): the
next cell puts the first one it finds at the front of the font fallback list.
"#),
    py(r#"
import datetime as dt
import json
import math

import matplotlib
import matplotlib.pyplot as plt
import polars as pl
from matplotlib import font_manager

_installed = {f.name for f in font_manager.fontManager.ttflist}
CJK_FONTS = [
    f
    for f in ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
              "SimHei", "Microsoft YaHei", "PingFang SC")
    if f in _installed
]
plt.rcParams["font.sans-serif"] = CJK_FONTS + plt.rcParams["font.sans-serif"]
plt.rcParams["axes.unicode_minus"] = False
pl.Config.set_tbl_rows(40)
pl.Config.set_tbl_cols(14)
print("polars", pl.__version__, "· matplotlib", matplotlib.__version__,
      "· CJK font:", CJK_FONTS[0] if CJK_FONTS else "none (English labels only)")
"#),
    md(r#"
## 1 读取输出表 Load the output tables

数据湖中每张表是一个文件夹，采用 Hive 分区：分区键写在文件夹名里（如 `weekly_tracking/as_of_week={{AS_OF_RAW}}/`、
`activities/region_code=330000/`），读取时还原为列。`LAKE/<表>/**/*.parquet` 能读到一张表的全部分区。
地区代码是文本（`000000` 表示全国，`XPCC` 为兵团），所以要告诉 polars 分区列的类型，否则 `000000` 会被当成整数 0。
`scan_parquet` 是惰性的：筛选条件在读文件前生效，只读需要的分区和列。每个文件的元数据里记录了表名和契约版本
（`homeseason.table`、`homeseason.schema_version`），列的含义见仓库的 `data-schemas/`。

Each lake table is a folder, Hive-partitioned: partition keys live in the folder names
(`weekly_tracking/as_of_week={{AS_OF_RAW}}/`, `activities/region_code=330000/`) and come back as columns;
`LAKE/<table>/**/*.parquet` reads every partition of a table. Region codes are text (`000000` = national, `XPCC` = the
Corps), so we give polars the partition columns' types — otherwise `000000` would become the integer 0.
`scan_parquet` is lazy: filters apply before files are read, so only the partitions and columns needed are read.
Every file's metadata names its table and contract version (`homeseason.table`, `homeseason.schema_version`); the
columns are documented in the repository's `data-schemas/`.
"#),
    py(r#"
HIVE_TYPES = {
    "region_code": pl.String, "as_of_week": pl.Date, "institution": pl.String,
    "feed": pl.String, "file_sha256": pl.String, "period": pl.String, "year": pl.Int32, "month": pl.Int32,
}


def scan(table: str) -> pl.LazyFrame:
    """Every partition of one lake table, lazily (nothing is read before .collect())."""
    return pl.scan_parquet(LAKE / table / "**" / "*.parquet", hive_partitioning=True, hive_schema=HIVE_TYPES)


tables = sorted(p.name for p in LAKE.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
inventory = pl.DataFrame({
    "table": tables,
    "files": [len(list((LAKE / t).rglob("*.parquet"))) for t in tables],
    "rows": [scan(t).select(pl.len()).collect().item() for t in tables],
    "schema_version": [
        pl.read_parquet_metadata(next((LAKE / t).rglob("*.parquet"))).get("homeseason.schema_version")
        for t in tables
    ],
})
inventory
"#),
    py(r#"
# The uplift table holds every method, data source and window (the campaign window and a placebo window inside the
# pre-period, as a check of the method). The report uses the campaign window of the primary method.
uplift_all = scan("uplift").collect()
uplift = uplift_all.filter(
    (pl.col("window_kind") == "campaign") & (pl.col("method") == METHOD) & (pl.col("source") == SOURCE)
)
print(f"uplift: {uplift_all.height} rows in all, {uplift.height} for the campaign window with method {METHOD}")
uplift.head(5)
"#),
    md(r#"
## 2 核心指标 Headline

全国（`region_code = "000000"`）、全部目标品类（`category = "all_targeted"`）在活动期内的增量销售额（实际 − 基线）和提升率，
以及 {{LEVEL_PCT}}% 区间；再数一数区间下限大于零的地区有多少个。这些就是报告开头的三个数。

National (`region_code = "000000"`), all targeted categories (`category = "all_targeted"`), over the campaign window:
the incremental sales (actual − baseline) and the uplift in percent, each with its {{LEVEL_PCT}}% interval, and how
many regions have an interval above zero. These are the report's three headline numbers.
"#),
    py(r#"
national = uplift.filter((pl.col("region_code") == NATIONAL) & (pl.col("category") == "all_targeted"))
assert national.height == 1, national
regions = uplift.filter((pl.col("region_code") != NATIONAL) & (pl.col("category") == "all_targeted"))
regions_up = regions.filter(pl.col("lower") > 0).height
h = national.row(0, named=True)

headline = national.select(
    pl.col("method").alias("方法 Method"),
    (pl.col("uplift_abs") / 1e8).round(2).alias("增量 Incremental (亿元)"),
    (pl.col("uplift_abs_lower") / 1e8).round(2).alias("下限 Lower (亿元)"),
    (pl.col("uplift_abs_upper") / 1e8).round(2).alias("上限 Upper (亿元)"),
    pl.col("uplift_pct").round(1).alias("提升 Uplift (%)"),
    pl.col("lower").round(1).alias("下限 Lower (%)"),
    pl.col("upper").round(1).alias("上限 Upper (%)"),
).with_columns(pl.lit(f"{regions_up} / {regions.height}").alias("区间高于零的地区 Regions above zero"))
headline
"#),
    md(r#"
如果报告文件夹就在数据湖旁边（`homeseason demo` 的布局：`out/lake`、`out/report`），下一格把上面的数和报告的
`headline.json` 逐一核对；不一致就报错。

If the report folder sits beside the lake (the layout `homeseason demo` writes: `out/lake`, `out/report`), the next
cell checks the numbers above against the report's `headline.json` and fails on any difference.
"#),
    py(r#"
headline_json = LAKE.parent / "report" / "headline.json"
if headline_json.exists():
    ref = json.loads(headline_json.read_text(encoding="utf-8"))
    assert ref["method"] == METHOD, (ref["method"], METHOD)
    pairs = [
        (ref["incremental_yuan"], h["uplift_abs"]),
        (ref["incremental_interval"][0], h["uplift_abs_lower"]),
        (ref["incremental_interval"][1], h["uplift_abs_upper"]),
        (ref["uplift_pct"], h["uplift_pct"]),
        (ref["uplift_interval"][0], h["lower"]),
        (ref["uplift_interval"][1], h["upper"]),
    ]
    for want, got in pairs:
        assert math.isclose(want, got, rel_tol=1e-9, abs_tol=1e-9), (want, got)
    assert ref["regions_up"] == [regions_up, regions.height], (ref["regions_up"], regions_up, regions.height)
    print("the headline matches the report's", headline_json, "与报告一致")
else:
    print("no report beside the lake, nothing to compare:", headline_json)
"#),
    md(r#"
## 3 分品类 By category

全国各目标品类在活动期内的实际销售额、基线、增量和提升率（含区间）。金额由元换算为亿元（÷ 10⁸）。

National actual sales, baseline, incremental sales and uplift per targeted category over the campaign window, with
intervals. Money converted from yuan to 亿元 (÷ 10⁸).
"#),
    py(r#"
CATEGORY_NAMES = {
{{CATEGORIES}}
}
CATEGORY_TITLES = {k: f"{zh} {en}" for k, (zh, en) in CATEGORY_NAMES.items()}
order = pl.DataFrame({"category": list(CATEGORY_NAMES), "order": list(range(len(CATEGORY_NAMES)))})
by_category = (
    uplift.filter(pl.col("region_code") == NATIONAL)
    .join(order, on="category")
    .sort("order")
    .select(
        pl.col("category").replace_strict(CATEGORY_TITLES).alias("品类 Category"),
        (pl.col("actual") / 1e8).round(2).alias("实际 Actual (亿元)"),
        (pl.col("baseline") / 1e8).round(2).alias("基线 Baseline (亿元)"),
        (pl.col("uplift_abs") / 1e8).round(2).alias("增量 Incremental (亿元)"),
        pl.col("uplift_pct").round(1).alias("提升 Uplift (%)"),
        pl.col("lower").round(1).alias("下限 Lower (%)"),
        pl.col("upper").round(1).alias("上限 Upper (%)"),
    )
)
by_category
"#),
    md(r#"
## 4 截至报告周的累计进度 Progress as of the report week

`weekly_tracking` 按报告周分区（`as_of_week=`周日日期）。按 `as_of_week` 筛选时 polars 只读这一个分区文件夹。
这里看全国各品类从活动开始到 {{AS_OF_RAW}} 的累计实际值、累计基线和累计提升率。

`weekly_tracking` is partitioned by report week (`as_of_week=` the Sunday). Filtering on `as_of_week` makes polars read
that one partition folder only. Here: national cumulative actual, baseline and uplift per category from the start of
the window to {{AS_OF_RAW}}.
"#),
    py(r#"
as_of = dt.date.fromisoformat(AS_OF)
if (LAKE / "weekly_tracking").is_dir():
    progress = (
        scan("weekly_tracking")
        .filter(
            (pl.col("as_of_week") == as_of) & (pl.col("region_code") == NATIONAL) & (pl.col("method") == METHOD)
        )
        .join(order.lazy(), on="category")
        .sort("order")
        .select(
            "as_of_week",
            pl.col("category").replace_strict(CATEGORY_TITLES).alias("品类 Category"),
            (pl.col("cum_actual") / 1e8).round(2).alias("累计实际 Cumulative actual (亿元)"),
            (pl.col("cum_baseline") / 1e8).round(2).alias("累计基线 Cumulative baseline (亿元)"),
            (pl.col("cum_uplift_abs") / 1e8).round(2).alias("累计增量 Cumulative uplift (亿元)"),
            pl.col("cum_uplift_pct").round(1).alias("累计提升 Cumulative uplift (%)"),
            pl.col("week_uplift_pct").round(1).alias("本周提升 Week uplift (%)"),
        )
        .collect()
    )
    if progress.height == 0:
        print("weekly_tracking has no national rows for the week ending", AS_OF)
else:
    progress = None
    print("this lake has no weekly_tracking table")
progress
"#),
    md(r#"
## 5 图一 全国日销售额与基线 Chart 1: national daily sales vs baseline

`baseline_daily` 是每个提升估计背后的逐日明细：实际净销售额、按节假日对齐并经增长调整的基线，以及基线的日波动区间。
阴影是活动期，竖线是报告周的周日。先核对：活动期内逐日求和，应与 `uplift` 表的实际值和基线一致。

`baseline_daily` is the daily detail behind every uplift estimate: the actual net sales, the holiday-aligned,
growth-adjusted baseline and a daily band. The shaded span is the campaign window, the dashed line the report week's
Sunday. First a check: summed over the window, the daily actual and baseline give the uplift table's figures.
"#),
    py(r#"
daily = (
    scan("baseline_daily")
    .filter((pl.col("region_code") == NATIONAL) & (pl.col("category") == "all_targeted") & (pl.col("method") == METHOD))
    .sort("date")
    .collect()
)
start, end = (dt.date.fromisoformat(d) for d in WINDOW)
in_window = daily.filter(pl.col("date").is_between(start, end))
assert math.isclose(in_window["actual"].sum(), h["actual"], rel_tol=1e-6), (in_window["actual"].sum(), h["actual"])
assert math.isclose(in_window["baseline"].sum(), h["baseline"], rel_tol=1e-6), (in_window["baseline"].sum(), h["baseline"])

dates = daily["date"].to_list()
fig, ax = plt.subplots(figsize=(11, 4.5))
ax.axvspan(start, end, color="tab:orange", alpha=0.08, label="campaign window")
ax.fill_between(dates, (daily["lower"] / 1e8).to_list(), (daily["upper"] / 1e8).to_list(),
                color="tab:blue", alpha=0.15, label="baseline band")
ax.plot(dates, (daily["baseline"] / 1e8).to_list(), color="tab:blue", lw=1.2, label="baseline")
ax.plot(dates, (daily["actual"] / 1e8).to_list(), color="black", lw=1.0, label="actual")
ax.axvline(as_of, color="tab:red", ls="--", lw=1, label=f"week ending {AS_OF}")
ax.set_title(f"National daily net sales, all targeted categories ({METHOD} baseline)")
ax.set_ylabel("100 million yuan per day")
ax.legend(loc="upper left", ncols=3, fontsize=8)
fig.tight_layout()
plt.show()
"#),
    md(r#"
## 6 图二 各地区提升 Chart 2: uplift by region

各地区全部目标品类的提升率及 {{LEVEL_PCT}}% 区间，从高到低排列；区间不跨零的地区提升显著。
图中用英文地区名；装有中文字体时可把 `label` 换成 `region_name_zh`。

Uplift of all targeted categories by region with its {{LEVEL_PCT}}% interval, ranked; a region whose interval stays
above zero shows a clear uplift. English region names here; with a CJK font installed, label with `region_name_zh`.
"#),
    py(r#"
REGION_EN = {
{{REGIONS}}
}
ranked = regions.sort("uplift_pct").with_columns(
    pl.col("region_code").replace_strict(REGION_EN, default=pl.col("region_code")).alias("label")
)
fig, ax = plt.subplots(figsize=(8, 0.28 * ranked.height + 1.2))
y = list(range(ranked.height))
pct = ranked["uplift_pct"].to_list()
err = [
    [p - lo for p, lo in zip(pct, ranked["lower"].to_list())],
    [hi - p for p, hi in zip(pct, ranked["upper"].to_list())],
]
colours = ["tab:green" if lo > 0 else "tab:gray" for lo in ranked["lower"].to_list()]
ax.barh(y, pct, xerr=err, color=colours, ecolor="black", capsize=2, height=0.7)
ax.set_yticks(y, ranked["label"].to_list(), fontsize=8)
ax.axvline(0, color="black", lw=0.8)
ax.set_xlabel(f"uplift, % (bars: {LEVEL:.0%} interval; green: interval above zero)")
ax.set_title(f"Uplift by region, all targeted categories ({METHOD})")
fig.tight_layout()
plt.show()
"#),
    md(r#"
## 接下来 Next

- 各表各列的含义（中英文）：仓库的 `data-schemas/`；读取方法（DuckDB、Superset、Power BI、pyarrow）：`docs/reading-the-outputs.md`。
- 换一周：重新导出 `homeseason export notebook --lake … --as-of 2023-10-22`，或直接改第一格的 `AS_OF`。
- What each column means: the repository's `data-schemas/`; other readers (DuckDB, Superset, Power BI, pyarrow):
  `docs/reading-the-outputs.md`.
- Another week: export again with `--as-of`, or change `AS_OF` in the first cell.

_Exported by homeseason {{VERSION}}._
"#),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_end_on_sunday() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(week_ending(d("2023-10-15")), d("2023-10-15"));
        assert_eq!(week_ending(d("2023-10-09")), d("2023-10-15"));
        assert_eq!(week_ending(d("2023-10-14")), d("2023-10-15"));
        assert_eq!(
            file_name(d("2023-10-15")),
            "homeseason-weekly-2023-10-15.ipynb"
        );
    }

    #[test]
    fn the_notebook_is_nbformat_4_with_the_lake_in_its_first_cell() {
        let campaign = Campaign::default_2023();
        let d = NaiveDate::from_ymd_opt(2023, 10, 15).unwrap();
        let nb = notebook(&campaign, Path::new("/data/my \"lake\""), d).unwrap();
        assert_eq!(nb["nbformat"], 4);
        let cells = nb["cells"].as_array().unwrap();
        let first: String = cells[0]["source"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        assert_eq!(cells[0]["cell_type"], "code");
        assert!(
            first
                .contains(r#"LAKE = Path(os.environ.get("HOMESEASON_LAKE", "/data/my \"lake\""))"#),
            "{first}"
        );
        assert!(first.contains(r#"AS_OF = "2023-10-15""#));
        let all = serde_json::to_string(&nb).unwrap();
        assert!(!all.contains("{{"), "every placeholder is filled");
        for cell in cells {
            assert!(cell["id"].as_str().is_some_and(|id| !id.is_empty()));
            if cell["cell_type"] == "code" {
                assert!(cell["outputs"].as_array().unwrap().is_empty());
                assert!(cell["execution_count"].is_null());
            }
        }
        let markdown = cells
            .iter()
            .filter(|c| c["cell_type"] == "markdown")
            .count();
        assert!(markdown >= 8, "each step is explained");
        assert!(all.contains("hive_partitioning=True"));
        assert!(all.contains("scan_parquet"));
        assert_eq!(
            notebook(&campaign, Path::new("/data/my \"lake\""), d).unwrap(),
            nb,
            "deterministic"
        );
    }
}
