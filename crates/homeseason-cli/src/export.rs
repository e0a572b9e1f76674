//! `homeseason export notebook`: a Jupyter notebook (nbformat 4) for one report week that loads that
//! week's tables with Python polars, reproduces the week's headline and by-category tables, draws two
//! of the report's charts with matplotlib, and explains each step in Chinese and English.
//!
//! The export writes the notebook and, beside it, a folder of the same name holding the week's
//! tables as the report of that week uses them — `uplift` (re-estimated on the data up to the week's
//! Sunday, as `homeseason report --as-of` does), the national `baseline_daily`, that week's
//! `weekly_tracking` — and the report's headline (`headline.json`, from
//! [`homeseason_report::headline`]). The notebook reads them by a path relative to itself: it runs
//! wherever the two are copied together (a clean clone of the repository holds the example), with
//! no lake and no environment variable, and its headline is that week's report headline.
//! The export is deterministic: the same campaign, lake and week give the same notebook.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use homeseason_lake::Lake;
use homeseason_schema::campaign::Campaign;
use homeseason_schema::contract::tables;
use homeseason_schema::region::NATIONAL;
use polars::prelude::*;
use serde_json::{Value, json};

/// The Sunday ending the (Monday–Sunday) week that holds a date (the report's rule).
pub(crate) use homeseason_schema::calendar::week_end as week_ending;

/// File name of an exported notebook for a report week.
pub(crate) fn file_name(as_of: NaiveDate) -> String {
    format!("homeseason-weekly-{as_of}.ipynb")
}

/// The data folder of a notebook: its path without `.ipynb`.
pub(crate) fn data_dir(notebook: &Path) -> PathBuf {
    notebook.with_extension("")
}

/// A Python string literal (JSON string syntax is valid Python for these values).
fn py_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

fn lines(text: &str) -> Vec<String> {
    let text = text.trim_matches('\n');
    let mut out: Vec<String> = text.split_inclusive('\n').map(str::to_owned).collect();
    if let Some(last) = out.last_mut()
        && last.ends_with('\n')
    {
        last.pop();
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

/// The notebook for `campaign` as of the week ending `as_of`, reading the week's tables from the
/// folder `data` (a path relative to the notebook: the folder beside it).
pub(crate) fn notebook(campaign: &Campaign, data: &str, as_of: NaiveDate) -> Result<Value> {
    let as_of = week_ending(as_of);
    // One pass over the targeted categories: their ids (the list `TARGETED`) and their names.
    let mut targeted: Vec<String> = Vec::new();
    let mut categories = vec![format!(
        "    \"all_targeted\": (\"全部目标品类\", \"All targeted categories\"),"
    )];
    for c in &campaign.categories.targeted {
        targeted.push(py_str(c.id()));
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
    let values = [
        ("DATA", py_str(data)),
        ("DATA_RAW", data.to_owned()),
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
/// week); the week's tables go to the folder of the same name beside it. Returns the notebook's path.
///
/// # Errors
/// When `as_of` lies outside the campaign window (the report's rule), the lake holds no uplift
/// table, or a table cannot be read or written.
pub(crate) fn export_notebook(
    campaign: &Campaign,
    lake: &Path,
    out: &Path,
    as_of: NaiveDate,
) -> Result<PathBuf> {
    homeseason_report::check_as_of(campaign, Some(as_of))?;
    if !lake.join("uplift").is_dir() {
        bail!(
            "{} holds no uplift table: run `homeseason uplift --lake {}` (or `homeseason demo`) first \
             湖中没有 uplift 表",
            lake.display(),
            lake.display()
        );
    }
    let week = week_ending(as_of);
    let path = if out.extension().is_some_and(|e| e == "ipynb") {
        out.to_owned()
    } else {
        out.join(file_name(week))
    };
    let data = data_dir(&path);
    std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
    let lake = Lake::open(lake)?;
    // "auto" resolved once, by the lake's backtest, for the notebook's METHOD and its headline.
    let backtest = lake.read_table(tables::UPLIFT_BACKTEST)?;
    let resolved = homeseason_metrics::backtest::resolve_primary(campaign, Some(&backtest))?;
    let campaign = &resolved;
    let (uplift_week, baseline_daily) =
        homeseason_pipeline::outputs::week_estimates(&lake, campaign, week)?;
    // Published as the report publishes it: a margin that is one suppressed small cell is blank
    // (`suppressed = true`, as in the lake's dashboard copy) when the lake has dashboard copies.
    let (baseline_daily, suppress_below) =
        homeseason_pipeline::payments::published_daily(&lake, campaign, baseline_daily)?;
    let national_daily = baseline_daily
        .lazy()
        .filter(col("region_code").eq(lit(NATIONAL)))
        .collect()?;
    let daily_table = if suppress_below.is_some() {
        tables::DASHBOARD_BASELINE_DAILY
    } else {
        tables::BASELINE_DAILY
    };
    let tracking = lake.read_table(tables::WEEKLY_TRACKING)?;
    let tracking = if tracking.height() > 0 {
        let days = i32::try_from(
            (week - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()).num_days(),
        )?;
        tracking
            .lazy()
            .filter(col("as_of_week").cast(DataType::Int32).eq(lit(days)))
            .collect()?
    } else {
        tracking
    };
    // The sums over days as the report publishes them (those a suppression box would not
    // cancel blank).
    let (uplift_week, tracking, _) = homeseason_pipeline::payments::published_sums(
        &lake,
        campaign,
        uplift_week,
        tracking,
        DataFrame::default(),
    )?;
    for (table, stem, frame) in [
        (tables::UPLIFT, tables::UPLIFT, &uplift_week),
        (daily_table, tables::BASELINE_DAILY, &national_daily),
        (tables::WEEKLY_TRACKING, tables::WEEKLY_TRACKING, &tracking),
    ] {
        let file = data.join(format!("{stem}.parquet"));
        std::fs::write(&file, Lake::parquet_bytes(table, frame)?)
            .with_context(|| format!("writing {}", file.display()))?;
    }
    let headline = homeseason_report::headline(campaign, &uplift_week, None)?;
    let mut text = serde_json::to_string_pretty(&headline)?;
    text.push('\n');
    std::fs::write(data.join("headline.json"), text)?;
    let name = data
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("the folder name of {} is not UTF-8", data.display()))?;
    let nb = notebook(campaign, name, week)?;
    let mut text = serde_json::to_string_pretty(&nb)?;
    text.push('\n');
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
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
# 参数 Parameters, written by `homeseason export notebook --as-of {{AS_OF_RAW}}`. The week's tables are in
# the folder DATA beside this notebook (written by the same export); keep the two together.
from pathlib import Path

DATA = Path({{DATA}})  # relative to this notebook's folder
assert DATA.is_dir(), f"{DATA.resolve()} is missing: keep the folder the export wrote beside the notebook"
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

本笔记本由 `homeseason export notebook` 为截至 {{AS_OF_RAW}} 的报告周生成：读取导出时写在旁边文件夹 `{{DATA_RAW}}/` 中的
该周输出表（Parquet，用 Python polars），复现该周报告的核心指标表和分品类表，并画出报告中的两张图。
每一步都有说明，可以逐格运行、修改、继续分析。

This notebook was written by `homeseason export notebook` for the report week ending {{AS_OF_RAW}}. It reads that
week's output tables (Parquet, with Python polars) from the folder `{{DATA_RAW}}/` the export wrote beside it,
reproduces that week's report headline and by-category tables, and draws two of its charts. Each step is
explained; run it cell by cell and carry on from there.

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

`{{DATA_RAW}}/` 中每张表一个 Parquet 文件，列与数据湖中的同名表相同（含义见仓库的 `data-schemas/`）：
`uplift` 是用截至 {{AS_OF_RAW}} 的数据重新估计的提升表（与 `homeseason report --as-of {{AS_OF_RAW}}` 所用的相同），
`baseline_daily` 是全国的逐日明细，`weekly_tracking` 是这一周的累计进度，`headline.json` 是该周报告的核心指标。
每个文件的元数据里记录了表名和契约版本（`homeseason.table`、`homeseason.schema_version`）。
`scan_parquet` 是惰性的：筛选条件在读文件前生效。要读整个数据湖（Hive 分区文件夹），见 `docs/reading-the-outputs.md`。

`{{DATA_RAW}}/` holds one Parquet file per table, with the columns of the lake's table of that name (documented in the
repository's `data-schemas/`): `uplift` re-estimated on the data up to {{AS_OF_RAW}} (the very table
`homeseason report --as-of {{AS_OF_RAW}}` uses), the national `baseline_daily`, this week's `weekly_tracking`, and
`headline.json`, the headline of that week's report. Every file's metadata names its table and contract version
(`homeseason.table`, `homeseason.schema_version`). `scan_parquet` is lazy: filters apply before the file is read. To
read a whole lake (Hive-partitioned folders), see `docs/reading-the-outputs.md`.
"#),
    py(r#"
def scan(table: str) -> pl.LazyFrame:
    """One of the week's tables, lazily (nothing is read before .collect())."""
    return pl.scan_parquet(DATA / f"{table}.parquet")


tables = sorted(p.stem for p in DATA.glob("*.parquet"))
inventory = pl.DataFrame({
    "table": tables,
    "rows": [scan(t).select(pl.len()).collect().item() for t in tables],
    "schema_version": [pl.read_parquet_metadata(DATA / f"{t}.parquet").get("homeseason.schema_version") for t in tables],
})
inventory
"#),
    py(r#"
# The uplift table holds every method, data source and window (the campaign window up to the report week and a
# placebo window inside the pre-period, as a check of the method). The report uses the campaign window of the
# primary method.
uplift_all = scan("uplift").collect()
uplift = uplift_all.filter(
    (pl.col("window_kind") == "campaign") & (pl.col("method") == METHOD) & (pl.col("source") == SOURCE)
)
print(f"uplift: {uplift_all.height} rows in all, {uplift.height} for the campaign window with method {METHOD}")
uplift.head(5)
"#),
    md(r#"
## 2 核心指标 Headline

全国（`region_code = "000000"`）、全部目标品类（`category = "all_targeted"`）从活动开始到 {{AS_OF_RAW}} 的增量
（实际 − 基线）和提升率，以及 {{LEVEL_PCT}}% 区间；再数一数区间下限大于零的地区有多少个。这些就是该周报告开头的三个数。
有回测时，核心指标的区间是回测校准区间（`calibrated_*` 列：方法区间按回测误差校准：放宽或收窄），方法本身的区间仍在 `lower_pct`/`upper_pct`。
口径：报送支付机构所见的支付交易，不是全部社会零售额。

National (`region_code = "000000"`), all targeted categories (`category = "all_targeted"`), from the start of the
window to {{AS_OF_RAW}}: the incremental sales (actual − baseline) and the uplift in percent, each with its
{{LEVEL_PCT}}% interval, and how many regions have an interval above zero. These are the three headline numbers of
that week's report. With a backtest, the headline's interval is the backtest-calibrated one (the `calibrated_*`
columns: the method's interval scaled (widened or narrowed) on its backtest errors); the method's own stays in `lower_pct`/`upper_pct`.
Scope: payments seen by the reporting payment institutions, not total retail sales.
"#),
    py(r#"
national = uplift.filter((pl.col("region_code") == NATIONAL) & (pl.col("category") == "all_targeted"))
assert national.height == 1, national
regions = uplift.filter((pl.col("region_code") != NATIONAL) & (pl.col("category") == "all_targeted"))
regions_up = regions.filter(pl.col("lower_pct") > 0).height
h = national.row(0, named=True)

headline = national.select(
    pl.col("method").alias("方法 Method"),
    (pl.col("uplift_abs_yuan") / 1e8).round(2).alias("增量 Incremental (亿元)"),
    (pl.col("uplift_abs_lower_yuan") / 1e8).round(2).alias("下限 Lower (亿元)"),
    (pl.col("uplift_abs_upper_yuan") / 1e8).round(2).alias("上限 Upper (亿元)"),
    pl.col("uplift_pct").round(1).alias("提升 Uplift (%)"),
    pl.col("lower_pct").round(1).alias("下限 Lower (%)"),
    pl.col("upper_pct").round(1).alias("上限 Upper (%)"),
).with_columns(pl.lit(f"{regions_up} / {regions.height}").alias("区间高于零的地区 Regions above zero"))
headline
"#),
    md(r#"
下一格把上面的数和导出时写下的该周报告核心指标（`{{DATA_RAW}}/headline.json`）逐一核对；不一致就报错。

The next cell checks the numbers above against the headline of that week's report, written by the export
(`{{DATA_RAW}}/headline.json`), and fails on any difference.
"#),
    py(r#"
# The headline quotes the backtest-calibrated interval when the table has it (else the method's own).
calibrated = all(h.get(c) is not None for c in
                 ("calibrated_lower_pct", "calibrated_upper_pct",
                  "calibrated_abs_lower_yuan", "calibrated_abs_upper_yuan"))
if calibrated:
    regions_up = regions.filter(pl.coalesce("calibrated_lower_pct", "lower_pct") > 0).height
    pct_bounds = [h["calibrated_lower_pct"], h["calibrated_upper_pct"]]
    yuan_bounds = [h["calibrated_abs_lower_yuan"], h["calibrated_abs_upper_yuan"]]
else:
    pct_bounds = [h["lower_pct"], h["upper_pct"]]
    yuan_bounds = [h["uplift_abs_lower_yuan"], h["uplift_abs_upper_yuan"]]
computed = {
    "method": METHOD,
    "incremental_yuan": h["uplift_abs_yuan"],
    "incremental_interval": yuan_bounds,
    "uplift_pct": h["uplift_pct"],
    "uplift_interval": pct_bounds,
    "calibrated": calibrated,
    "regions_up": [regions_up, regions.height],
}
ref = json.loads((DATA / "headline.json").read_text(encoding="utf-8"))
assert ref["method"] == METHOD, (ref["method"], METHOD)
for key in ("incremental_yuan", "uplift_pct"):
    assert math.isclose(ref[key], computed[key], rel_tol=1e-9, abs_tol=1e-9), (key, ref[key], computed[key])
for key in ("incremental_interval", "uplift_interval"):
    for want, got in zip(ref[key], computed[key]):
        assert math.isclose(want, got, rel_tol=1e-9, abs_tol=1e-9), (key, want, got)
assert ref["calibrated"] == computed["calibrated"], (ref["calibrated"], computed["calibrated"])
assert ref["regions_up"] == computed["regions_up"], (ref["regions_up"], computed["regions_up"])
print(f"{ref['incremental_yuan'] / 1e8:.2f} 亿元, {ref['uplift_pct']:+.1f}%, {regions_up}/{regions.height}:",
      "the headline matches the report of the week ending", AS_OF, "与该周报告一致")
print("HEADLINE_JSON", json.dumps(computed))
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
        (pl.col("actual_yuan") / 1e8).round(2).alias("实际 Actual (亿元)"),
        (pl.col("baseline_yuan") / 1e8).round(2).alias("基线 Baseline (亿元)"),
        (pl.col("uplift_abs_yuan") / 1e8).round(2).alias("增量 Incremental (亿元)"),
        pl.col("uplift_pct").round(1).alias("提升 Uplift (%)"),
        pl.col("lower_pct").round(1).alias("下限 Lower (%)"),
        pl.col("upper_pct").round(1).alias("上限 Upper (%)"),
    )
)
by_category
"#),
    md(r#"
## 4 截至报告周的累计进度 Progress as of the report week

`weekly_tracking` 在数据湖中按报告周分区（`as_of_week=`周日日期）；导出只取了这一周。
这里看全国各品类从活动开始到 {{AS_OF_RAW}} 的累计实际值、累计基线和累计提升率。

`weekly_tracking` is partitioned by report week in the lake (`as_of_week=` the Sunday); the export holds this week's
partition. Here: national cumulative actual, baseline and uplift per category from the start of the window to
{{AS_OF_RAW}}.
"#),
    py(r#"
as_of = dt.date.fromisoformat(AS_OF)
if (DATA / "weekly_tracking.parquet").exists():
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
            (pl.col("cum_actual_yuan") / 1e8).round(2).alias("累计实际 Cumulative actual (亿元)"),
            (pl.col("cum_baseline_yuan") / 1e8).round(2).alias("累计基线 Cumulative baseline (亿元)"),
            (pl.col("cum_uplift_abs_yuan") / 1e8).round(2).alias("累计增量 Cumulative uplift (亿元)"),
            pl.col("cum_uplift_pct").round(1).alias("累计提升 Cumulative uplift (%)"),
            pl.col("week_uplift_pct").round(1).alias("本周提升 Week uplift (%)"),
        )
        .collect()
    )
    if progress.height == 0:
        print("weekly_tracking has no national rows for the week ending", AS_OF)
else:
    progress = None
    print("the export holds no weekly_tracking table")
progress
"#),
    md(r#"
## 5 图一 全国日销售额与基线 Chart 1: national daily sales vs baseline

`baseline_daily` 是每个提升估计背后的逐日明细：实际净销售额、按节假日对齐并经增长调整的基线，以及基线的日波动区间。
阴影是活动期，竖线是报告周的周日。先核对：活动开始到报告周逐日求和，应与 `uplift` 表的实际值和基线一致。

`baseline_daily` is the daily detail behind every uplift estimate: the actual net sales, the holiday-aligned,
growth-adjusted baseline and a daily band. The shaded span is the campaign window, the dashed line the report week's
Sunday. First a check: summed from the window's start to the report week, the daily actual and baseline give the uplift
table's figures.
"#),
    py(r#"
daily = (
    scan("baseline_daily")
    .filter((pl.col("region_code") == NATIONAL) & (pl.col("category") == "all_targeted") & (pl.col("method") == METHOD))
    .sort("date")
    .collect()
)
start, end = (dt.date.fromisoformat(d) for d in WINDOW)
in_window = daily.filter(pl.col("date").is_between(start, min(end, as_of)))
assert math.isclose(in_window["actual_yuan"].sum(), h["actual_yuan"], rel_tol=1e-6), (in_window["actual_yuan"].sum(), h["actual_yuan"])
assert math.isclose(in_window["baseline_yuan"].sum(), h["baseline_yuan"], rel_tol=1e-6), (in_window["baseline_yuan"].sum(), h["baseline_yuan"])

dates = daily["date"].to_list()
fig, ax = plt.subplots(figsize=(11, 4.5))
ax.axvspan(start, end, color="tab:orange", alpha=0.08, label="campaign window")
ax.fill_between(dates, (daily["lower_yuan"] / 1e8).to_list(), (daily["upper_yuan"] / 1e8).to_list(),
                color="tab:blue", alpha=0.15, label="baseline band")
ax.plot(dates, (daily["baseline_yuan"] / 1e8).to_list(), color="tab:blue", lw=1.2, label="baseline")
ax.plot(dates, (daily["actual_yuan"] / 1e8).to_list(), color="black", lw=1.0, label="actual")
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
    [p - lo for p, lo in zip(pct, ranked["lower_pct"].to_list())],
    [hi - p for p, hi in zip(pct, ranked["upper_pct"].to_list())],
]
colours = ["tab:green" if lo > 0 else "tab:gray" for lo in ranked["lower_pct"].to_list()]
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
- 换一周：重新导出 `homeseason export notebook --lake … --as-of 2023-10-22`（每周的表随导出一起写出）。
- What each column means: the repository's `data-schemas/`; other readers (DuckDB, Superset, Power BI, pyarrow):
  `docs/reading-the-outputs.md`.
- Another week: export again with `--as-of` (each week's tables are written with its notebook).

_Exported by homeseason {{VERSION}}._
"#),
];

/// `homeseason export duckdb`: one `CREATE OR REPLACE VIEW` per table the lake holds, for DuckDB and
/// the dashboards on top of it (Superset through `duckdb-engine`, Power BI through the ODBC driver).
///
/// Each view reads the table's Parquet files with Hive partitioning and declares the type of every
/// folder key the files carry from the contract (`hive_types`). Without that declaration DuckDB
/// infers a key's type from the folder names it happens to find. `region_code` is never a folder in
/// today's layout (it is text in the files, so a plain `read_parquet` reads it as text too); a lake
/// written before, with `region_code=330000` folders and not yet rewritten by a commit, gets it
/// declared `VARCHAR` (otherwise `BIGINT` when every folder is numeric, `000000` becoming 0). Paths are
/// the lake's absolute path; only table names fixed in the contract are appended to it.
///
/// # Errors
/// When the lake cannot be listed or its path is not valid UTF-8.
pub(crate) fn duckdb_views(lake: &Lake) -> Result<String> {
    let root = std::path::absolute(lake.root())
        .with_context(|| format!("absolute path of {}", lake.root().display()))?;
    let root = root
        .to_str()
        .with_context(|| format!("lake path {} is not UTF-8", root.display()))?
        .trim_end_matches('/')
        .to_owned();
    let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let mut sql = String::from(
        "-- homeseason: DuckDB views over the lake's Parquet tables (homeseason export duckdb).\n\
         -- Partition keys are typed from the data contract, so region_code is always text (VARCHAR).\n\
         -- 每张表一个视图；分区键按数据契约声明类型，region_code 始终是文本。\n",
    );
    let mut views = 0;
    for table in tables::ALL {
        if lake.files(table)?.is_empty() {
            continue;
        }
        let contract = homeseason_schema::contract::get(table);
        // Every folder key the table's files carry, typed from the contract (`year`/`month` are
        // numbers): today's layout, and a lake of an earlier one whose `region_code=…` folders the
        // next commit rewrites. `region_code` lives in the files as text in today's layout.
        let mut keys: Vec<String> = Vec::new();
        for (path, _) in lake.files(table)? {
            let rel = lake.partition_rel(&path).unwrap_or_default();
            let mut segments: Vec<&str> = rel.split('/').collect();
            segments.pop();
            for (k, _) in segments.iter().filter_map(|s| s.split_once('=')) {
                if !keys.iter().any(|have| have == k) {
                    keys.push(k.to_owned());
                }
            }
        }
        let types: Vec<String> = keys
            .iter()
            .map(|k| {
                let ty = match k.as_str() {
                    "year" | "month" => "BIGINT",
                    c => match contract.and_then(|t| t.field(c)).map(|f| f.r#type) {
                        Some(homeseason_schema::contract::FieldType::Date) => "DATE",
                        Some(homeseason_schema::contract::FieldType::Integer) => "BIGINT",
                        _ => "VARCHAR",
                    },
                };
                format!("{}: {ty}", quote(k))
            })
            .collect();
        let glob = quote(&format!(
            "{root}/{}/**/*.parquet",
            homeseason_schema::contract::lake_dir(table)
        ));
        let hive = if types.is_empty() {
            String::new()
        } else {
            format!(", hive_types = {{{}}}", types.join(", "))
        };
        let (select, union) = old_names_select(lake, table)?;
        sql.push_str(&format!(
            "CREATE OR REPLACE VIEW {table} AS\n  SELECT {select} FROM read_parquet({glob}, hive_partitioning = true{union}{hive});\n"
        ));
        views += 1;
    }
    anyhow::ensure!(
        views > 0,
        "the lake {root} holds no tables / 数据湖 {root} 中没有任何表"
    );
    Ok(sql)
}

/// The select list of a table's view: `*`, or, when files written under an earlier contract version
/// still carry a column's old name (`payment_daily.amount` before version 3), that column under its
/// new name (`* RENAME (amount AS amount_yuan)`; with files of both namings, read by name and
/// coalesced). The second value is the `union_by_name` option such a table needs.
fn old_names_select(lake: &Lake, table: &str) -> Result<(String, &'static str)> {
    let renames: Vec<(&str, &str)> = homeseason_schema::contract::renamed_columns(table).collect();
    if renames.is_empty() {
        return Ok(("*".to_owned(), ""));
    }
    let mut names = std::collections::BTreeSet::new();
    for (path, _) in lake.files(table)? {
        names.extend(lake.file_columns(&path)?);
    }
    let (mut rename, mut exclude, mut replace) = (Vec::new(), Vec::new(), Vec::new());
    for (old, new) in renames {
        match (names.contains(old), names.contains(new)) {
            (true, false) => rename.push(format!("{old} AS {new}")),
            (true, true) => {
                exclude.push(old.to_owned());
                replace.push(format!("coalesce({new}, {old}) AS {new}"));
            }
            _ => {}
        }
    }
    if rename.is_empty() && exclude.is_empty() {
        return Ok(("*".to_owned(), ""));
    }
    let mut select = String::from("*");
    if !exclude.is_empty() {
        select.push_str(&format!(
            " EXCLUDE ({}) REPLACE ({})",
            exclude.join(", "),
            replace.join(", ")
        ));
    }
    if !rename.is_empty() {
        select.push_str(&format!(" RENAME ({})", rename.join(", ")));
    }
    Ok((select, ", union_by_name = true"))
}

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
        let nb = notebook(&campaign, "homeseason-weekly-2023-10-15", d).unwrap();
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
            first.contains(r#"DATA = Path("homeseason-weekly-2023-10-15")"#),
            "{first}"
        );
        assert!(
            !first.contains("environ"),
            "no environment variable decides what is read"
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
        assert!(all.contains("scan_parquet"));
        assert!(
            !all.contains("LAKE"),
            "the notebook reads the export, not a lake path"
        );
        assert_eq!(
            notebook(&campaign, "homeseason-weekly-2023-10-15", d).unwrap(),
            nb,
            "deterministic"
        );
    }
}
