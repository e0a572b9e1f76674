//! The outputs as other tools see them: DuckDB and pyarrow read every lake table the way a dashboard
//! would and must see what homeseason sees; the exported Jupyter notebook runs headless without an
//! error; the ministry workbook has the attachment's layout. The Python side lives in
//! `tests/readers/` and its packages are installed by `tests/run.sh` (`requirements.txt`): when they
//! are missing these tests fail and say so, they never skip.

use std::path::{Path, PathBuf};
use std::process::Command;

use homeseason_lake::{Lake, SCHEMA_VERSION, partition_keys};
use homeseason_schema::campaign::Campaign;
use homeseason_schema::contract::{self, FieldType, tables};
use polars::prelude::*;
use serde_json::{Map, Value, json};

use crate::util::{demo_dir, ok, read_json, run_ok, s};

/// The committed example notebook and the week it was exported for.
const EXAMPLE: &str = "notebooks-export/homeseason-weekly-2023-10-15.ipynb";
const EXAMPLE_WEEK: &str = "2023-10-15";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root")
}

/// Run `python3 tests/readers/<script> args…`; panics with the output when it fails.
#[expect(
    clippy::print_stderr,
    reason = "the readers' report is shown with the test's output"
)]
fn python(script: &str, args: &[&str]) -> String {
    ensure_python_readers();
    let path = repo().join("tests/readers").join(script);
    let (stdout, stderr) = run_ok(
        Command::new("python3").arg(&path).args(args),
        &format!("python3 {script} {args:?}"),
    );
    let text = format!("{stdout}{stderr}");
    eprintln!("{text}");
    text
}

/// The readers must be installed (tests/run.sh does it): fail loudly, never skip.
fn ensure_python_readers() {
    let probe = Command::new("python3")
        .args([
            "-c",
            "import duckdb, pyarrow, polars, matplotlib, nbformat, nbclient, ipykernel",
        ])
        .output();
    match probe {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "the Python readers are not installed: {}\ninstall them with `python3 -m pip install -r \
             tests/readers/requirements.txt` (tests/run.sh does this before cargo test)",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("python3 is needed for the reader tests and could not be run: {e}"),
    }
}

fn sum_of(frame: &DataFrame, name: &str, t: FieldType) -> Option<Value> {
    let s = frame.column(name).ok()?.as_materialized_series().clone();
    if s.null_count() == s.len() {
        return None;
    }
    match t {
        FieldType::Integer => s.sum::<i64>().ok().map(Value::from),
        _ => s
            .sum::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(Value::from),
    }
}

fn range_of(frame: &DataFrame, name: &str) -> Value {
    let r = frame
        .clone()
        .lazy()
        .select([
            col(name).min().cast(DataType::String).alias("lo"),
            col(name).max().cast(DataType::String).alias("hi"),
        ])
        .collect()
        .expect("min/max");
    let get = |c: &str| {
        r.column(c)
            .expect("column")
            .str()
            .expect("text")
            .get(0)
            .map(str::to_owned)
    };
    json!([get("lo"), get("hi")])
}

/// Sum of `column` and row count over the rows where every `(column, value)` matches (text columns).
fn filtered(frame: &DataFrame, column: &str, filter: Expr) -> (f64, usize) {
    let rows = frame
        .clone()
        .lazy()
        .filter(filter)
        .collect()
        .expect("filter");
    let sum = rows
        .column(column)
        .expect("column")
        .as_materialized_series()
        .sum::<f64>()
        .expect("sum");
    (sum, rows.height())
}

/// What homeseason itself reads from the lake, in the shape `check_outputs.py` compares with.
fn expected(lake: &Lake, campaign: &Campaign) -> Value {
    let mut specs = Map::new();
    let mut frames = std::collections::BTreeMap::new();
    for t in contract::all() {
        let name = t.name.as_str();
        let files = lake.files(name).expect("files");
        if files.is_empty() {
            continue;
        }
        let frame = lake.read_table(name).expect("homeseason reads its table");
        let mut columns = Map::new();
        let mut sums = Map::new();
        let mut ranges = Map::new();
        for f in &t.fields {
            columns.insert(f.name.clone(), json!(f.r#type.as_str()));
            if frame.column(&f.name).is_err() {
                continue;
            }
            match f.r#type {
                FieldType::Number | FieldType::Integer => {
                    if let Some(v) = sum_of(&frame, &f.name, f.r#type) {
                        sums.insert(f.name.clone(), v);
                    }
                }
                FieldType::Date => {
                    ranges.insert(f.name.clone(), range_of(&frame, &f.name));
                }
                _ => {}
            }
        }
        let mut spec = json!({
            "rows": frame.height(),
            "files": files.len(),
            // Folder keys only: a file-naming key (`region_code`) is a column of the files.
            "partition_keys": partition_keys(name)
                .iter()
                .filter(|k| k.is_folder())
                .map(|k| k.key())
                .collect::<Vec<_>>(),
            "schema_version": SCHEMA_VERSION,
            "dir": contract::lake_dir(name),
            "columns": columns,
            "present_columns": frame.get_column_names().iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            "sums": sums,
            "date_ranges": ranges,
        });
        if let Ok(codes) = frame.column("region_code") {
            let mut codes: Vec<String> = codes
                .str()
                .expect("region_code is text")
                .iter()
                .flatten()
                .map(str::to_owned)
                .collect();
            codes.sort();
            codes.dedup();
            spec["region_codes"] = json!(codes);
        }
        specs.insert(name.to_owned(), spec);
        frames.insert(name.to_owned(), frame);
    }
    let text = |c: &str, v: &str| json!({"column": c, "text": v});
    let mut checks = Vec::new();
    let mut check = |name: &str, table: &str, column: &str, wheres: Vec<Value>| {
        let Some(frame) = frames.get(table) else {
            return;
        };
        let filter = wheres
            .iter()
            .map(|w| {
                let c = w["column"].as_str().expect("column");
                if let Some(d) = w["date"].as_str() {
                    col(c).cast(DataType::String).eq(lit(d.to_owned()))
                } else {
                    col(c).eq(lit(w["text"].as_str().expect("text").to_owned()))
                }
            })
            .reduce(Expr::and)
            .expect("a filter");
        let (value, rows) = filtered(frame, column, filter);
        assert!(rows > 0, "{name}: the filter selects rows");
        checks.push(json!({
            "name": name, "table": table, "column": column, "value": value, "rows": rows,
            "where": wheres,
        }));
    };
    let method = campaign.baseline.primary_method.as_str();
    check(
        "national all-targeted uplift (the headline)",
        tables::UPLIFT,
        "uplift_abs_yuan",
        vec![
            text("region_code", "000000"),
            text("category", "all_targeted"),
            text("method", method),
            text("window_kind", "campaign"),
        ],
    );
    check(
        "Ningbo (a plan city) daily baseline",
        tables::BASELINE_DAILY,
        "baseline_yuan",
        vec![text("region_code", "330200"), text("method", method)],
    );
    check(
        "Zhejiang retail statistics (a region_code partition)",
        tables::RETAIL_STATS,
        "value_100m_yuan",
        vec![text("region_code", "330000")],
    );
    check(
        "Zhejiang card-acquirer net payments (payment_daily, money named by its unit)",
        tables::PAYMENT_DAILY,
        "net_amount_yuan",
        vec![text("region_code", "330000"), text("institution", "acq_a")],
    );
    check(
        "Yiwu (a county-level city, rural) wallet payments (payment_area_daily, 城乡)",
        tables::PAYMENT_AREA_DAILY,
        "net_amount_yuan",
        vec![
            text("area_code", "330782"),
            text("urban_rural", "rural"),
            text("city_code", "330700"),
        ],
    );
    check(
        "Corps activities' enterprises (the XPCC partition)",
        tables::ACTIVITIES,
        "enterprise_count",
        vec![text("region_code", "XPCC")],
    );
    check(
        "national cumulative actual as of the example week (a date partition)",
        tables::WEEKLY_TRACKING,
        "cum_actual_yuan",
        vec![
            json!({"column": "as_of_week", "date": EXAMPLE_WEEK}),
            text("region_code", "000000"),
        ],
    );
    let contract_tables: Vec<&str> = contract::all().iter().map(|t| t.name.as_str()).collect();
    let contract_dirs: Map<String, Value> = contract_tables
        .iter()
        .map(|t| ((*t).to_owned(), json!(contract::lake_dir(t))))
        .collect();
    json!({
        "tables": specs,
        "contract_tables": contract_tables,
        "contract_dirs": contract_dirs,
        "filtered_sums": checks,
    })
}

/// The sample campaign with its headline method: "auto" resolved by the lake's backtest, as the
/// report does.
fn headline_campaign(lake: &Lake) -> Campaign {
    homeseason_metrics::backtest::resolve_primary(
        &Campaign::default_2023(),
        Some(
            &lake
                .read_table(tables::UPLIFT_BACKTEST)
                .expect("uplift_backtest"),
        ),
    )
    .expect("resolve")
}

#[test]
fn duckdb_and_pyarrow_read_every_table_as_homeseason_does() {
    let out = demo_dir();
    // A copy of the demo's lake with its dashboard copies (`ingest --suppress-below 3`, a re-sent
    // register), so the dashboard tables are read from their folder (`lake/dashboard/<table>`) too.
    let tmp = tempfile::tempdir().expect("temp dir");
    let lake_dir = tmp.path().join("lake");
    let copy = Command::new("cp")
        .args(["-a"])
        .arg(out.join("lake"))
        .arg(&lake_dir)
        .status()
        .expect("cp");
    assert!(copy.success());
    let register = crate::util::files_with_ext(&out.join("sample/activities"), "csv");
    ok(&[
        "ingest",
        "--lake",
        s(&lake_dir),
        "--suppress-below",
        "3",
        s(&register[0]),
    ]);
    let lake = Lake::open(&lake_dir).expect("lake");
    // Every table with partitions is read through a chain of links (issue 18): its stable link,
    // the lake's one commit pointer, the commit's link to the table's snapshot. The readers below
    // glob `lake/<table>/**` through it.
    for t in [
        tables::PAYMENT_DAILY,
        tables::PAYMENT_AREA_DAILY,
        tables::ACTIVITIES,
    ] {
        let text = std::fs::read_link(lake_dir.join(t)).expect("a table link");
        assert_eq!(text, std::path::Path::new(".current").join(t), "{t}");
    }
    let pointer = std::fs::read_link(lake_dir.join(".current")).expect("the commit pointer");
    assert!(
        pointer.starts_with(".snapshots/_lake"),
        "{}",
        pointer.display()
    );
    let campaign = headline_campaign(&lake);
    let expected = expected(&lake, &campaign);
    for t in [
        tables::UPLIFT,
        tables::BASELINE_DAILY,
        tables::ACTIVITIES,
        tables::DASHBOARD_PAYMENT_DAILY,
        tables::DASHBOARD_BASELINE_DAILY,
        tables::PAYMENT_AREA_DAILY,
    ] {
        assert!(expected["tables"].get(t).is_some(), "the lake holds {t}");
    }
    // The lake agrees with the report's headline before any other reader is asked.
    let headline: Value = read_json(&out.join("report/headline.json"));
    let national = &expected["filtered_sums"][0];
    let (lake_value, report_value) = (
        national["value"].as_f64().expect("number"),
        headline["incremental_yuan"].as_f64().expect("number"),
    );
    assert!(
        (lake_value - report_value).abs() <= 1e-6 * report_value.abs().max(1.0),
        "{lake_value} vs {report_value}"
    );
    let path = tmp.path().join("expected.json");
    std::fs::write(
        &path,
        serde_json::to_vec_pretty(&expected).expect("serialise"),
    )
    .expect("write expected");
    let said = python(
        "check_outputs.py",
        &["--lake", s(&lake_dir), "--expected", s(&path)],
    );
    assert!(said.contains("exactly as homeseason does"), "{said}");
}

#[test]
fn exported_notebook_reproduces_that_weeks_report_headline() {
    let out = demo_dir();
    let lake = out.join("lake");
    let tmp = tempfile::tempdir().expect("temp dir");
    // The report of the week ending 15 October, as `homeseason report --as-of` writes it.
    let report = tmp.path().join("report");
    ok(&[
        "report",
        "--lake",
        s(&lake),
        "--out",
        s(&report),
        "--as-of",
        EXAMPLE_WEEK,
    ]);
    let week_headline: Value = read_json(&report.join("headline.json"));
    let season_headline: Value = read_json(&out.join("report/headline.json"));
    assert_ne!(
        week_headline["incremental_yuan"], season_headline["incremental_yuan"],
        "the week's report differs from the season's, so the check below means something"
    );
    // The notebook exported for a day of that week.
    let nb_dir = tmp.path().join("nb");
    let said = ok(&[
        "export",
        "notebook",
        "--lake",
        s(&lake),
        "--out",
        s(&nb_dir),
        "--as-of",
        "2023-10-12",
    ]);
    let notebook = nb_dir.join(format!("homeseason-weekly-{EXAMPLE_WEEK}.ipynb"));
    assert!(
        said.contains(s(&notebook)),
        "the week is rounded to its Sunday: {said}"
    );
    let executed = tmp.path().join("executed.ipynb");
    let said = python(
        "run_notebook.py",
        &[
            s(&notebook),
            "--out",
            s(&executed),
            "--min-images",
            "2",
            "--headline",
            s(&report.join("headline.json")),
        ],
    );
    assert!(said.contains("without error"), "{said}");
    assert!(
        said.contains("the notebook's headline equals the report's"),
        "{said}"
    );

    // The committed example is this export: the same notebook, and the same tables beside it.
    // `HOMESEASON_BLESS=1` rewrites the example from this export (after a deliberate change).
    let example = repo().join(EXAMPLE);
    if std::env::var_os("HOMESEASON_BLESS").is_some() {
        std::fs::copy(&notebook, &example).expect("bless the example notebook");
        for entry in std::fs::read_dir(notebook.with_extension("")).expect("export folder") {
            let entry = entry.expect("entry");
            std::fs::copy(
                entry.path(),
                example.with_extension("").join(entry.file_name()),
            )
            .expect("bless the example's tables");
        }
    }
    assert_eq!(
        std::fs::read_to_string(&example).expect("the committed example notebook"),
        std::fs::read_to_string(&notebook).expect("notebook"),
        "{EXAMPLE} is stale: re-export it (see notebooks-export/README.md)"
    );
    let example_data = example.with_extension("");
    let fresh_data = notebook.with_extension("");
    for table in ["uplift", "baseline_daily", "weekly_tracking"] {
        let file = format!("{table}.parquet");
        let (a, b) = (
            crate::util::read_parquet(&example_data.join(&file)),
            crate::util::read_parquet(&fresh_data.join(&file)),
        );
        assert!(
            a.equals_missing(&b),
            "{EXAMPLE}: {file} is stale: re-export it"
        );
    }
    assert_eq!(
        std::fs::read_to_string(example_data.join("headline.json")).expect("example headline"),
        std::fs::read_to_string(fresh_data.join("headline.json")).expect("fresh headline"),
    );
}

#[test]
fn committed_example_notebook_runs_from_a_clean_clone() {
    // Only what a clone holds: the notebook and its folder, copied away from any lake or build
    // output, run with no HOMESEASON_* variable set.
    let tmp = tempfile::tempdir().expect("temp dir");
    let example = repo().join(EXAMPLE);
    let name = example.file_name().expect("file name");
    let copy = tmp.path().join(name);
    std::fs::copy(&example, &copy).expect("copy the notebook");
    let data = example.with_extension("");
    let copy_data = copy.with_extension("");
    std::fs::create_dir_all(&copy_data).expect("data folder");
    for e in std::fs::read_dir(&data).expect("the example's data folder is committed") {
        let p = e.expect("entry").path();
        std::fs::copy(&p, copy_data.join(p.file_name().expect("name"))).expect("copy");
    }
    ensure_python_readers();
    let (stdout, stderr) = run_ok(
        Command::new("python3")
            .arg(repo().join("tests/readers/run_notebook.py"))
            .arg(&copy)
            .args(["--min-images", "2", "--headline"])
            .arg(data.join("headline.json"))
            .current_dir(tmp.path())
            .env_remove("HOMESEASON_LAKE"),
        "the committed example",
    );
    let text = format!("{stdout}{stderr}");
    assert!(
        text.contains("the notebook's headline equals the report's"),
        "{text}"
    );
}

#[test]
fn ministry_workbook_has_the_attachment_layout() {
    let out = demo_dir();
    let workbook = out.join("report/workbook.xlsx");
    let bytes =
        std::fs::read(&workbook).expect("report/workbook.xlsx is written beside report.html");
    assert!(bytes.starts_with(b"PK"), "an xlsx is a zip");
    let lake = Lake::open(out.join("lake")).expect("lake");
    let activities = lake
        .read_table(tables::ACTIVITIES)
        .expect("activities")
        .height();
    let campaign = headline_campaign(&lake);
    let mut categories: Vec<String> = vec!["all_targeted".into()];
    categories.extend(
        campaign
            .categories
            .targeted
            .iter()
            .map(|c| c.id().to_owned()),
    );
    let primary = lake
        .read_table(tables::UPLIFT)
        .expect("uplift")
        .lazy()
        .filter(
            col("window_kind")
                .eq(lit("campaign"))
                .and(col("method").eq(lit(campaign.baseline.primary_method.clone()))),
        )
        .collect()
        .expect("filter");
    let summary_rows = primary
        .column("category")
        .expect("category")
        .str()
        .expect("text")
        .iter()
        .filter(|c| c.is_some_and(|c| categories.iter().any(|k| k == c)))
        .count();
    assert_eq!(
        summary_rows,
        38 * 5,
        "national and 37 regions × all targeted and 4 categories"
    );
    python(
        "check_workbook.py",
        &[
            s(&workbook),
            "--activities",
            &activities.to_string(),
            "--summary-rows",
            &summary_rows.to_string(),
        ],
    );
}

/// A USCC of a Beijing (`911101…`) or Zhejiang (`913301…`) enterprise with a valid check character.
fn uscc(prefix: &str, i: usize) -> String {
    let first17 = format!("{prefix}{i:09}");
    let check = homeseason_schema::uscc::check_char(&first17).expect("check character");
    format!("{first17}{check}")
}

/// Ingest into `lake` a lake holding only numeric regions: Zhejiang's enterprise sales for
/// September 2023 and the national and Zhejiang retail statistics of that month.
fn numeric_region_lake(dir: &Path, lake: &Path) {
    let sales = dir.join("enterprise_zj_2023-09.csv");
    let mut csv = String::from("uscc,enterprise_name,region_code,category,period,销售额（万元）\n");
    for i in 0..3 {
        csv.push_str(&format!(
            "{},浙江企业{i},330000,furniture,2023-09,{}\n",
            uscc("91330100", i),
            100 + i
        ));
    }
    std::fs::write(&sales, csv).expect("write");
    let retail = dir.join("retail_2023-09.csv");
    std::fs::write(
        &retail,
        "period,months_covered,region_code,category,value_100m_yuan,yoy_pct,cum_value_100m_yuan,cum_yoy_pct,source\n\
         2023-09,9,000000,furniture,137.0,0.5,1000.0,2.8,https://www.stats.gov.cn/\n\
         2023-09,9,330000,furniture,12.0,1.5,90.0,3.0,https://tjj.zj.gov.cn/\n",
    )
    .expect("write");
    let lake_arg = s(lake);
    ok(&["ingest", "--lake", lake_arg, s(&sales)]);
    ok(&[
        "ingest",
        "--lake",
        lake_arg,
        "--feed",
        "retail_stats",
        s(&retail),
    ]);
}

/// Rewrite `table` of `lake` into the layout written before issue 15: a plain folder (no snapshot
/// link) of `region_code=<code>/…/data.parquet` files without the region column, the manifest's
/// partition paths following.
fn to_region_folders(lake: &Path, table: &str) {
    let base = homeseason_test_support::lake_file(lake, &format!("{table}/x"));
    let files = homeseason_test_support::files_with_ext(base.parent().expect("folder"), "parquet");
    let mut moved: Vec<(String, String, DataFrame)> = Vec::new();
    for f in &files {
        let rel = homeseason_test_support::lake_rel(lake, f);
        let (folder, name) = rel.rsplit_once('/').expect("a partition");
        let code = name.strip_suffix(".parquet").expect("parquet");
        let rest = folder.strip_prefix(table).expect("the table");
        let old = format!("{table}/region_code={code}{rest}/data.parquet");
        let frame = ParquetReader::new(std::fs::File::open(f).expect("open"))
            .finish()
            .expect("read")
            .drop("region_code")
            .expect("the region column");
        moved.push((rel, old, frame));
    }
    std::fs::remove_file(lake.join(table)).expect("the table's link");
    for (_, old, frame) in &mut moved {
        let path = lake.join(old.as_str());
        std::fs::create_dir_all(path.parent().expect("folder")).expect("mkdir");
        ParquetWriter::new(std::fs::File::create(&path).expect("create"))
            .finish(frame)
            .expect("write");
    }
    let manifest_path = lake.join("_manifest.json");
    let mut m = read_json(&manifest_path);
    let rename = |p: &str| {
        moved
            .iter()
            .find(|(new, _, _)| new == p)
            .map_or_else(|| p.to_owned(), |(_, old, _)| old.clone())
    };
    let parts = m["partitions"].as_object().expect("partitions").clone();
    m["partitions"] = Value::Object(parts.into_iter().map(|(k, v)| (rename(&k), v)).collect());
    for file in m["files"].as_array_mut().expect("files") {
        for list in ["partitions", "superseded"] {
            if let Some(a) = file[list].as_array_mut() {
                for p in a.iter_mut() {
                    *p = Value::from(rename(p.as_str().expect("a path")));
                }
            }
        }
    }
    std::fs::write(&manifest_path, serde_json::to_vec_pretty(&m).expect("json")).expect("manifest");
}

/// `export duckdb` the lake's views into `views`, then `check_region_text.py` on the lake (plain
/// DuckDB, pyarrow and polars reads, unless `views_only`) and on the views; its report.
fn region_text(lake: &str, views: &str, codes: &str, views_only: bool) -> String {
    ok(&["export", "duckdb", "--lake", lake, "--out", views]);
    let mut args = vec!["--lake", lake, "--views", views, "--codes", codes];
    if views_only {
        args.push("--views-only");
    }
    python("check_region_text.py", &args)
}

/// Issue 15: a lake written before the region left the folders (`region_code=330000/period=…/
/// data.parquet`, the region only in the path) still reads `region_code` as text through the views of
/// `export duckdb`, and `check` passes on it. The next ingest — Beijing's sales for the same month —
/// rewrites it into today's layout (no `region_code=` folder left, Zhejiang's rows untouched beside
/// Beijing's in the period), `check` passes again, and plain DuckDB, pyarrow and polars reads give text.
#[test]
fn a_lake_of_region_folders_reads_as_text_and_the_next_ingest_rewrites_it() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let lake = tmp.path().join("lake");
    numeric_region_lake(tmp.path(), &lake);
    for table in [tables::ENTERPRISE_SALES, tables::RETAIL_STATS] {
        to_region_folders(&lake, table);
    }
    let lake_arg = s(&lake);
    let folders = |table: &str| {
        homeseason_test_support::files_with_ext(
            homeseason_test_support::lake_file(&lake, &format!("{table}/x"))
                .parent()
                .expect("folder"),
            "parquet",
        )
        .iter()
        .map(|p| homeseason_test_support::lake_rel(&lake, p))
        .collect::<Vec<_>>()
    };
    assert_eq!(
        folders(tables::ENTERPRISE_SALES),
        ["enterprise_sales/region_code=330000/period=2023-09/data.parquet"]
    );
    assert!(ok(&["check", "--lake", lake_arg]).contains("every table matches"));
    let views = tmp.path().join("views.sql");
    let views_arg = s(&views);
    let text = region_text(lake_arg, views_arg, "000000,330000", true);
    assert!(
        text.contains("view retail_stats: region_code VARCHAR ['000000', '330000']"),
        "{text}"
    );
    // Beijing's sales for the same month: the commit rewrites the lake first.
    let bj = tmp.path().join("enterprise_bj_2023-09.csv");
    std::fs::write(
        &bj,
        format!(
            "uscc,enterprise_name,region_code,category,period,销售额（万元）\n{},北京企业,110000,furniture,2023-09,7\n",
            uscc("91110100", 1)
        ),
    )
    .expect("write");
    ok(&["ingest", "--lake", lake_arg, s(&bj)]);
    assert_eq!(
        folders(tables::ENTERPRISE_SALES),
        [
            "enterprise_sales/period=2023-09/110000.parquet",
            "enterprise_sales/period=2023-09/330000.parquet"
        ]
    );
    assert!(
        folders(tables::RETAIL_STATS)
            .iter()
            .all(|p| !p.contains("region_code=")),
        "{:?}",
        folders(tables::RETAIL_STATS)
    );
    let sales = Lake::open(&lake)
        .expect("lake")
        .read_table(tables::ENTERPRISE_SALES)
        .expect("read");
    let by_region = sales
        .lazy()
        .group_by([col("region_code")])
        .agg([len().alias("n")])
        .sort(["region_code"], SortMultipleOptions::default())
        .collect()
        .expect("count");
    assert_eq!(
        by_region
            .column("n")
            .expect("n")
            .cast(&DataType::Int64)
            .expect("i64")
            .i64()
            .expect("i64")
            .into_no_null_iter()
            .collect::<Vec<_>>(),
        [1, 3],
        "{by_region}"
    );
    assert!(ok(&["check", "--lake", lake_arg]).contains("every table matches"));
    let text = region_text(lake_arg, views_arg, "000000,110000,330000", false);
    for line in [
        "duckdb read_parquet enterprise_sales: region_code VARCHAR ['110000', '330000']",
        "pyarrow dataset retail_stats: region_code large_string ['000000', '330000']",
        "polars scan_parquet enterprise_sales: region_code String ['110000', '330000']",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
}

/// Issue 15: `region_code` is text for every reader in every lake. A `region_code=000000` folder made
/// a plain `hive_partitioning` read infer `BIGINT` (000000 → 0) when every region was numeric; today
/// the region is never a folder: it names the partition's file (`period=2023-09/330000.parquet`) and
/// is a text column in it. In a lake holding only numeric regions, plain DuckDB `read_parquet`,
/// `pyarrow.dataset` and polars `scan_parquet` (all with Hive partitioning), and every view of
/// `homeseason export duckdb`, read `region_code` as text with its leading zeros.
#[test]
fn duckdb_reads_region_code_as_text_in_a_lake_of_numeric_region_folders() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let lake = tmp.path().join("lake");
    numeric_region_lake(tmp.path(), &lake);
    let lake_arg = s(&lake);
    // Only numeric regions, and none of them a folder: the files are named by them.
    for table in [tables::ENTERPRISE_SALES, tables::RETAIL_STATS] {
        // The table's folders are in its current snapshot (`lake/<table>/v000042/`).
        let base = homeseason_test_support::lake_file(&lake, &format!("{table}/x"));
        let files =
            homeseason_test_support::files_with_ext(base.parent().expect("folder"), "parquet");
        let rels: Vec<String> = files
            .iter()
            .map(|p| homeseason_test_support::lake_rel(&lake, p))
            .collect();
        assert!(!rels.is_empty(), "{table}");
        for rel in &rels {
            assert!(!rel.contains("region_code="), "{rel}");
            let name = rel.rsplit('/').next().expect("name");
            let code = name.strip_suffix(".parquet").expect("parquet");
            assert!(code.bytes().all(|b| b.is_ascii_digit()), "{rel}");
        }
    }
    let views = tmp.path().join("views.sql");
    let text = region_text(lake_arg, s(&views), "000000,330000", false);
    for line in [
        "duckdb read_parquet retail_stats: region_code VARCHAR ['000000', '330000']",
        "duckdb read_parquet enterprise_sales: region_code VARCHAR ['330000']",
        "pyarrow dataset retail_stats: region_code large_string ['000000', '330000']",
        "polars scan_parquet retail_stats: region_code String ['000000', '330000']",
        "view retail_stats: region_code VARCHAR ['000000', '330000']",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
    assert!(
        text.contains("view enterprise_sales: region_code VARCHAR ['330000']"),
        "{text}"
    );
}

/// Issue 15 point 6: `payment_daily`'s money columns name their unit since contract version 3
/// (`amount_yuan`, `refund_amount_yuan`, `net_amount_yuan`). A lake written before (`amount`,
/// `refund_amount`, `net_amount`) keeps working: `check` passes, homeseason and the DuckDB views of
/// `export duckdb` read the new names (renamed in the view; coalesced when the table mixes both
/// namings), and the next ingest rewrites every old partition under the new names.
#[test]
fn a_lake_written_before_the_payment_daily_rename_reads_under_the_new_names_everywhere() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let lake = tmp.path().join("lake");
    let lake_arg = s(&lake);
    let header = homeseason_test_support::DAILY_HEADER;
    let daily = |name: &str, rows: &str| {
        let path = tmp.path().join(name);
        std::fs::write(&path, format!("{header}{rows}")).expect("write");
        ok(&["ingest", "--lake", lake_arg, s(&path)]);
    };
    daily(
        "payment_daily_test_2023-09.csv",
        "2023-09-01,test,330000,5722,offline,10,1000.50,0.25,3\n",
    );
    daily(
        "payment_daily_test_2023-10.csv",
        "2023-10-01,test,330000,5722,offline,4,200,50,2\n",
    );
    let handle = Lake::open(&lake).expect("lake");
    let files = |h: &Lake| -> Vec<(String, Vec<String>)> {
        h.files(tables::PAYMENT_DAILY)
            .expect("files")
            .into_iter()
            .map(|(p, parts)| {
                (
                    parts.get("month").cloned().expect("month"),
                    h.file_columns(&p).expect("columns"),
                )
            })
            .collect()
    };
    // Rewrite a month's file under the names contract version 2 used (`v2`) or under today's.
    let rewrite_month = |month: &str, v2: bool| {
        for (path, parts) in handle.files(tables::PAYMENT_DAILY).expect("files") {
            if parts.get("month").map(String::as_str) != Some(month) {
                continue;
            }
            let mut frame = homeseason_test_support::read_parquet(&path);
            for (old, new) in contract::renamed_columns(tables::PAYMENT_DAILY) {
                let (from, to) = if v2 { (new, old) } else { (old, new) };
                frame.rename(from, to.into()).expect("rename");
            }
            let scratch = tmp.path().join("rewritten.parquet");
            ParquetWriter::new(std::fs::File::create(&scratch).expect("create"))
                .finish(&mut frame)
                .expect("write");
            std::fs::rename(&scratch, &path).expect("replace");
        }
    };
    let views = tmp.path().join("views.sql");
    let duckdb = |expect_select: &str| -> String {
        ok(&["export", "duckdb", "--lake", lake_arg, "--out", s(&views)]);
        let sql = std::fs::read_to_string(&views).expect("views");
        assert!(sql.contains(expect_select), "{sql}");
        ensure_python_readers();
        let (out, _) = run_ok(
            Command::new("python3").args([
                "-c",
                "import duckdb, sys\n\
                 con = duckdb.connect()\n\
                 con.execute(open(sys.argv[1]).read())\n\
                 cols = [d[0] for d in con.execute('SELECT * FROM payment_daily').description]\n\
                 s = con.execute('SELECT sum(amount_yuan), sum(refund_amount_yuan), sum(net_amount_yuan) FROM payment_daily').fetchone()\n\
                 print(','.join(c for c in cols if 'amount' in c), *[round(float(x), 2) for x in s])\n",
                s(&views),
            ]),
            "duckdb over the views",
        );
        out.trim().to_owned()
    };
    let sums = "1200.5 50.25 1150.25";
    // A lake all of whose payment_daily files have the old names.
    rewrite_month("9", true);
    rewrite_month("10", true);
    assert!(
        files(&handle)
            .iter()
            .all(|(_, c)| c.contains(&"net_amount".to_owned())),
        "{:?}",
        files(&handle)
    );
    ok(&["check", "--lake", lake_arg]);
    let read = handle.read_table(tables::PAYMENT_DAILY).expect("read");
    assert!(read.column("net_amount_yuan").is_ok() && read.column("net_amount").is_err());
    let out = duckdb("RENAME (amount AS amount_yuan");
    assert!(out.ends_with(sums), "{out}");
    assert!(
        !out.contains("amount,") && !out.contains("net_amount,"),
        "{out}"
    );
    // One month rewritten under the new names (as a replace of it would): the view coalesces.
    let october = handle
        .read_table(tables::PAYMENT_DAILY)
        .expect("read")
        .lazy()
        .filter(col("date").dt().month().eq(lit(10)))
        .collect()
        .expect("october");
    assert_eq!(october.height(), 1);
    rewrite_month("10", false);
    let out = duckdb("coalesce(net_amount_yuan, net_amount) AS net_amount_yuan");
    assert!(out.ends_with(sums), "{out}");
    ok(&["check", "--lake", lake_arg]);
    // September old again, October new: the next ingest (October) rewrites September too.
    daily(
        "payment_daily_test_2023-10b.csv",
        "2023-10-02,test,330000,5722,offline,1,9.75,0,1\n",
    );
    for (month, cols) in files(&handle) {
        for (old, new) in contract::renamed_columns(tables::PAYMENT_DAILY) {
            assert!(
                cols.contains(&new.to_owned()) && !cols.contains(&old.to_owned()),
                "month {month}: {cols:?}"
            );
        }
    }
    ok(&["check", "--lake", lake_arg]);
    let out = duckdb("SELECT * FROM read_parquet");
    assert!(out.ends_with("1210.25 50.25 1160.0"), "{out}");
}
