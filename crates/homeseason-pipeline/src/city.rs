//! Prefecture-level cities (issue 18 part 5): `homeseason uplift --level city` and what a province's
//! city-level report publishes of it.
//!
//! **Estimate** ([`estimate_cities`]). The lake's `payment_area_daily` is read once; its rows with a
//! `city_code` (the prefecture-level division, or the plan city) become the units in place of the
//! reporting regions: `region_code` of the city-level tables holds the 6-digit city code (the
//! contracts' pattern admits it). Rows without a city (an institution that reports province codes
//! only) are counted and their share of net sales reported ([`CityCoverage`]), never spread over the
//! cities. The same series as the province level's (`homeseason_metrics::daily_series`' output,
//! built in one pass: [`city_series`]), the same methods and the same backtest
//! (`homeseason_metrics::backtest::uplift_with_backtest`) as the province level then run on the
//! city series, so the cost is linear in cities × categories and the lake is not read
//! again per city. The `000000` row of the city-level tables is **the total of the cities in scope**:
//! the province's cities for `--region`, every city of the nation without it (named
//! `浙江省（各城市合计）` / `全国（各城市合计）` in `region_name_zh`); it leaves out the sales without a
//! city, so it is below the province-level figure by [`CityCoverage::net_without_city_yuan`].
//!
//! **Where.** The city-level tables (`uplift`, `uplift_backtest`, `baseline_daily`,
//! `weekly_tracking`, each in its usual contract) go to a level folder of the lake,
//! `levels/city/<scope>/` (scope `000000` for the nation, or the province's code), opened as a lake of
//! its own ([`city_lake`]), so they never overwrite the province-level tables; beside them
//! `scope.json` ([`CityCoverage`]). Steps that only make sense for the 37 reporting regions are
//! skipped at city level: triangulation with 社零 and key enterprises (both are reported per region),
//! subsidy leverage (subsidies are per region), local-station events (per region), data completeness
//! (per region and feed), online/offline and themes.
//!
//! **Publishing** ([`published_cities`]). A city figure is a window sum of area cells of a reporting
//! region whose total is published; a city whose lower bound on distinct merchants is below the
//! suppression threshold is blanked, and another city of the same region (and category margin) with
//! it, by the generic rule [`suppress_cells`].

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use homeseason_lake::Lake;
use homeseason_metrics::{ALL_TARGETED, Method, NET_FEN, UpliftOptions, UpliftResult};
use homeseason_schema::campaign::Campaign;
use homeseason_schema::contract::tables;
use homeseason_schema::division::Divisions;
use homeseason_schema::region::{NATIONAL, Regions};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{PipelineError, Result, io_err};
pub use crate::publish::{Suppression, suppress_cells};

/// The unit of the per-region tables: the reporting region (37) or the prefecture-level city (~340).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Level {
    /// The 31 provinces, 5 plan cities and XPCC (the default, and the only level before issue 18).
    #[default]
    Province,
    /// Prefecture-level cities, from `payment_area_daily`'s `city_code`.
    City,
}

impl Level {
    /// The command-line value: `province` / `city`.
    #[must_use]
    pub fn id(self) -> &'static str {
        match self {
            Level::Province => "province",
            Level::City => "city",
        }
    }
}

impl std::str::FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.trim() {
            "province" | "region" => Ok(Level::Province),
            "city" => Ok(Level::City),
            other => Err(format!(
                "unknown level {other:?}: province | city / 未知的层级（应为 province 或 city）"
            )),
        }
    }
}

/// What the city-level estimate covered: written as `scope.json` beside the city-level tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CityCoverage {
    /// `000000` (every city of the nation) or the reporting region whose cities these are.
    pub scope: String,
    /// The scope's Chinese name.
    pub scope_name_zh: String,
    /// What the `000000` rows of the city-level tables are.
    pub total_row: String,
    /// Distinct cities with rows.
    pub cities: usize,
    /// `payment_area_daily` rows in scope.
    pub rows: usize,
    /// Of those, rows without a city (kept out of every city figure).
    pub rows_without_city: usize,
    /// Net sales of the rows in scope, yuan (all dates, all categories).
    pub net_yuan: f64,
    /// Net sales of the rows without a city, yuan.
    pub net_without_city_yuan: f64,
    /// `net_without_city_yuan / net_yuan` (0 when there are no sales).
    pub share_without_city: f64,
    /// The province-level steps not run at city level, and why.
    pub skipped: Vec<String>,
}

/// The steps [`estimate_cities`] skips, with the reason (in `scope.json` and the docs).
pub const SKIPPED_AT_CITY_LEVEL: [&str; 5] = [
    "triangulation: key-enterprise sales and 社零 are reported per region, not per city",
    "leverage: subsidies are reported per region",
    "local events: local-station events are registered per region",
    "data completeness: deliveries are tracked per region and feed",
    "online/offline and themes: estimated per region",
];

/// The folder of the city-level tables of one scope, relative to the lake's root: `scope` must be
/// `000000` or a reporting region's code from the embedded list, so no other text becomes a folder.
///
/// # Errors
/// A scope that is not a known region code.
pub fn city_dir(scope: &str) -> Result<PathBuf> {
    if scope != NATIONAL && Regions::embedded().by_code(scope).is_none() {
        return Err(PipelineError::Invalid(format!(
            "{scope:?} is not a reporting region's code 不是报送地区代码"
        )));
    }
    Ok(PathBuf::from("levels").join("city").join(scope))
}

/// The lake of the city-level tables of `scope` (`000000` or a reporting region's code from the
/// embedded list: checked, never a value from a file), under `levels/city/<scope>/` of `lake`.
///
/// # Errors
/// A scope that is not a known region code; when the folder cannot be created.
pub fn city_lake(lake: &Lake, scope: &str) -> Result<Lake> {
    Ok(Lake::open(lake.root().join(city_dir(scope)?))?)
}

/// The Chinese name of a city code: the division list's, else the region list's (a plan city), else
/// the code itself.
#[must_use]
pub fn city_name(code: &str) -> String {
    Divisions::embedded()
        .by_code(code)
        .map(|d| d.name_zh.clone())
        .or_else(|| Regions::embedded().by_code(code).map(|r| r.name_zh.clone()))
        .unwrap_or_else(|| code.to_owned())
}

/// The filter of the `payment_area_daily` rows of a scope, by their reporting region: all for
/// `000000`; for a province (`xx0000`) every reporting region of its two-digit prefix (its plan city
/// included: Ningbo's cities are Zhejiang's); otherwise that region only.
fn scope_filter(scope: &str) -> Expr {
    if scope == NATIONAL {
        lit(true)
    } else if scope.len() == 6 && scope.ends_with("0000") {
        col("region_code")
            .str()
            .starts_with(lit(scope[..2].to_owned()))
    } else {
        col("region_code").eq(lit(scope.to_owned()))
    }
}

/// Whether a row names its city.
fn has_city() -> Expr {
    col("city_code")
        .is_not_null()
        .and(col("city_code").neq(lit("")))
}

/// The columns of `payment_area_daily` the estimate reads ([`estimate_cities`], [`city_week_estimates`]).
pub const ESTIMATE_COLUMNS: [&str; 5] = [
    "date",
    "region_code",
    "city_code",
    "category",
    "net_amount_yuan",
];

/// The columns of `payment_area_daily` the publication reads ([`published_cities`]): the
/// estimate's and the merchant counts.
pub const PUBLISH_COLUMNS: [&str; 6] = [
    "date",
    "region_code",
    "city_code",
    "category",
    "net_amount_yuan",
    "merchant_count",
];

/// The lake's `payment_area_daily`, `columns` only: each Parquet file is read with that projection,
/// so the columns the city level does not use (institution, area, class, MCC, channel, counts) are
/// never decoded — at city scale the table has millions of rows of nine text columns. A file
/// without one of them (written under an earlier contract) makes the whole table be read through
/// the lake, which renames and fills columns, and the columns selected from it.
///
/// # Errors
/// Lake and IO failures; a column the table does not have.
pub fn read_area(lake: &Lake, columns: &[&str]) -> Result<DataFrame> {
    let wanted: Vec<String> = columns.iter().map(|c| (*c).to_owned()).collect();
    let select = || columns.iter().map(|c| col(*c)).collect::<Vec<_>>();
    // The file list and the fallback's whole-table read from one commit of the lake: a commit
    // landing between them cannot mix two commits' files.
    let lake = lake.view()?;
    let mut frames = Vec::new();
    for (path, _) in lake.files(tables::PAYMENT_AREA_DAILY)? {
        let file = std::fs::File::open(&path).map_err(io_err("reading", &path))?;
        match ParquetReader::new(file)
            .with_columns(Some(wanted.clone()))
            .finish()
        {
            Ok(frame) => frames.push(frame.lazy().select(select())),
            Err(_) => {
                let all = lake.read_table(tables::PAYMENT_AREA_DAILY)?;
                return Ok(all.lazy().select(select()).collect()?);
            }
        }
    }
    if frames.is_empty() {
        return Ok(DataFrame::empty());
    }
    Ok(concat(frames, UnionArgs::default())?.collect()?)
}

/// The daily series of the cities of `scope` (`region_code` = the city code, `category`, `date`,
/// `net_amount_yuan`, with the `000000` and `all_targeted` totals, sorted: what
/// `homeseason_metrics::daily_series` gives on the province level) from `payment_area_daily` rows,
/// and what it covered.
///
/// Built in one pass over the rows (no cross join, no second group-by): each row in scope marks its
/// reporting region's day, and a row with a city and a category adds its amount, in integer fen, to
/// its region × city × category's day. A day the city's reporting region reported on but the city
/// sold nothing of a category is then a zero of that city × category, not a missing day (as
/// `homeseason_metrics::with_zero_days` makes it); a day the region has no row at all stays
/// missing. The `000000` and `all_targeted` totals are summed in fen from the same arrays, and the
/// amounts turned into yuan once: bit for bit `daily_series` of `with_zero_days`' frame (the
/// test `the_one_pass_series_is_the_group_by_series` checks it), at a fraction of its time and
/// memory on ~340 cities × three years of days.
///
/// # Errors
/// A missing column.
pub fn city_series(
    area: &DataFrame,
    scope: &str,
    campaign: &Campaign,
) -> Result<(DataFrame, CityCoverage)> {
    let in_scope = area.clone().lazy().filter(scope_filter(scope));
    let coverage = coverage_of(in_scope.clone(), scope)?;
    let rows = in_scope
        .select([
            col("region_code"),
            col("city_code"),
            col("category"),
            col("date").cast(DataType::Int32),
            // In integer fen, as `daily_series` rounds (half away from zero).
            (col("net_amount_yuan").cast(DataType::Float64) * lit(100.0))
                .round(0, RoundMode::HalfAwayFromZero)
                .cast(DataType::Int64)
                .alias(NET_FEN),
        ])
        .collect()?;
    let targeted: Vec<&str> = campaign.categories.targeted_ids().collect();
    Ok((series_of_rows(&rows, &targeted)?, coverage))
}

/// What `in_scope` (area rows of `scope`) covers: rows and sales with and without a city.
fn coverage_of(in_scope: LazyFrame, scope: &str) -> Result<CityCoverage> {
    let totals = in_scope
        .clone()
        .select([
            len().cast(DataType::Float64).alias("rows"),
            has_city()
                .not()
                .cast(DataType::Float64)
                .sum()
                .alias("rows_without_city"),
            col("net_amount_yuan")
                .cast(DataType::Float64)
                .sum()
                .alias("net"),
            col("net_amount_yuan")
                .cast(DataType::Float64)
                .filter(has_city().not())
                .sum()
                .alias("net_without_city"),
            col("city_code")
                .filter(has_city())
                .n_unique()
                .cast(DataType::Float64)
                .alias("cities"),
        ])
        .collect()?;
    let get = |name: &str| -> Result<f64> {
        Ok(totals
            .column(name)?
            .cast(&DataType::Float64)?
            .f64()?
            .get(0)
            .unwrap_or(0.0))
    };
    let (net, net_without) = (get("net")?, get("net_without_city")?);
    let scope_name_zh = if scope == NATIONAL {
        "全国".to_owned()
    } else {
        Regions::embedded()
            .by_code(scope)
            .map_or_else(|| scope.to_owned(), |r| r.name_zh.clone())
    };
    Ok(CityCoverage {
        scope: scope.to_owned(),
        total_row: format!(
            "000000 = the total of the cities of {scope_name_zh} (sales without a city left out) \
             000000 行为{scope_name_zh}各城市合计（不含无城市代码的销售额）"
        ),
        scope_name_zh,
        cities: get("cities")? as usize,
        rows: get("rows")? as usize,
        rows_without_city: get("rows_without_city")? as usize,
        net_yuan: net,
        net_without_city_yuan: net_without,
        share_without_city: if net.abs() > 0.0 {
            net_without / net
        } else {
            0.0
        },
        skipped: SKIPPED_AT_CITY_LEVEL
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
    })
}

/// Interns the text of a column (ids in order of first appearance), the last value cached: the
/// area rows come in runs of one region, city and category.
#[derive(Default)]
struct Interner<'a> {
    ids: HashMap<&'a str, usize>,
    names: Vec<&'a str>,
    last: Option<(&'a str, usize)>,
}

impl<'a> Interner<'a> {
    /// The id of `name`.
    fn id(&mut self, name: &'a str) -> usize {
        if let Some((last, id)) = self.last
            && last == name
        {
            return id;
        }
        let names = &mut self.names;
        let id = *self.ids.entry(name).or_insert_with(|| {
            names.push(name);
            names.len() - 1
        });
        self.last = Some((name, id));
        id
    }
}

/// One series of the output: its region (city or `000000`) and category, the amount of each day
/// in fen and whether the day is in the series.
struct Unit<'a> {
    region: &'a str,
    category: &'a str,
    fen: Vec<i64>,
    present: Vec<bool>,
}

impl Unit<'_> {
    /// Add `fen` on the days `present` marks.
    fn add(&mut self, fen: &[i64], present: &[bool]) {
        for (day, on) in present.iter().enumerate() {
            if *on {
                self.present[day] = true;
                self.fen[day] += fen[day];
            }
        }
    }
}

/// [`city_series`]' pass over `rows` (`region_code, city_code, category`, `date` as days since
/// 1970 (`Int32`), the amount in fen ([`NET_FEN`], `Int64`)); `targeted` the campaign's targeted
/// categories.
fn series_of_rows(rows: &DataFrame, targeted: &[&str]) -> Result<DataFrame> {
    let region = rows.column("region_code")?.str()?;
    let city = rows.column("city_code")?.str()?;
    let category = rows.column("category")?.str()?;
    let date = rows.column("date")?.i32()?;
    let net = rows.column(NET_FEN)?.i64()?;
    let (Some(first), Some(last)) = (date.min(), date.max()) else {
        return series_frame(&[]);
    };
    let span = usize::try_from(last - first).unwrap_or(0) + 1;
    let (mut regions, mut cities, mut categories) = (
        Interner::default(),
        Interner::default(),
        Interner::default(),
    );
    // Per reporting region, the days it has rows on; per region × city × category, its sums.
    let mut region_days: Vec<Vec<bool>> = Vec::new();
    let mut cell_ids: HashMap<(usize, usize, usize), usize> = HashMap::new();
    let mut cells: Vec<((usize, usize, usize), Vec<i64>)> = Vec::new();
    let mut last_cell: Option<((usize, usize, usize), usize)> = None;
    let rows_iter = region
        .iter()
        .zip(city.iter())
        .zip(category.iter())
        .zip(date.iter())
        .zip(net.iter());
    for ((((r, c), k), d), v) in rows_iter {
        let (Some(r), Some(d)) = (r, d) else {
            continue;
        };
        let day = usize::try_from(d - first).unwrap_or(0);
        let ri = regions.id(r);
        if ri == region_days.len() {
            region_days.push(vec![false; span]);
        }
        region_days[ri][day] = true;
        let (Some(c), Some(k)) = (c, k) else {
            continue;
        };
        if c.is_empty() {
            continue;
        }
        let key = (ri, cities.id(c), categories.id(k));
        let cell = match last_cell {
            Some((last, id)) if last == key => id,
            _ => {
                let id = *cell_ids.entry(key).or_insert_with(|| {
                    cells.push((key, vec![0; span]));
                    cells.len() - 1
                });
                last_cell = Some((key, id));
                id
            }
        };
        cells[cell].1[day] += v.unwrap_or(0);
    }
    // Per city × category: its cells (one per reporting region the city has rows under) on their
    // region's days, missing days zero.
    let mut units: Vec<Unit<'_>> = Vec::new();
    let mut unit_ids: HashMap<(&str, &str), usize> = HashMap::new();
    for ((ri, ci, ki), fen) in &cells {
        let (c, k) = (cities.names[*ci], categories.names[*ki]);
        let id = *unit_ids.entry((c, k)).or_insert_with(|| {
            units.push(Unit {
                region: c,
                category: k,
                fen: vec![0; span],
                present: vec![false; span],
            });
            units.len() - 1
        });
        units[id].add(fen, &region_days[*ri]);
    }
    drop(cells);
    // The total of the cities (`000000`) per category, then `all_targeted` per city and total.
    let mut totals: Vec<Unit<'_>> = Vec::new();
    let mut total_ids: HashMap<(&str, &str), usize> = HashMap::new();
    for unit in &units {
        let id = *total_ids
            .entry((NATIONAL, unit.category))
            .or_insert_with(|| {
                totals.push(Unit {
                    region: NATIONAL,
                    category: unit.category,
                    fen: vec![0; span],
                    present: vec![false; span],
                });
                totals.len() - 1
            });
        totals[id].add(&unit.fen, &unit.present);
    }
    units.append(&mut totals);
    let mut all: Vec<Unit<'_>> = Vec::new();
    let mut all_ids: HashMap<&str, usize> = HashMap::new();
    for unit in units.iter().filter(|u| targeted.contains(&u.category)) {
        let id = *all_ids.entry(unit.region).or_insert_with(|| {
            all.push(Unit {
                region: unit.region,
                category: ALL_TARGETED,
                fen: vec![0; span],
                present: vec![false; span],
            });
            all.len() - 1
        });
        all[id].add(&unit.fen, &unit.present);
    }
    units.append(&mut all);
    units.sort_by(|a, b| (a.region, a.category).cmp(&(b.region, b.category)));
    series_frame_of(&units, first)
}

/// The series frame of `units` (sorted), days counted from `first`.
fn series_frame_of(units: &[Unit<'_>], first: i32) -> Result<DataFrame> {
    let n: usize = units
        .iter()
        .map(|u| u.present.iter().filter(|p| **p).count())
        .sum();
    let (mut region, mut category, mut date, mut net) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for unit in units {
        for (day, on) in unit.present.iter().enumerate() {
            if *on {
                region.push(unit.region);
                category.push(unit.category);
                date.push(first + i32::try_from(day).unwrap_or(i32::MAX));
                net.push(unit.fen[day]);
            }
        }
    }
    series_frame(&[
        Column::new("region_code".into(), region),
        Column::new("category".into(), category),
        Column::new("date".into(), date).cast(&DataType::Date)?,
        Column::new(NET_FEN.into(), net),
    ])
}

/// A series frame of `columns` (all four, or none: the empty series with its columns).
fn series_frame(columns: &[Column]) -> Result<DataFrame> {
    if columns.is_empty() {
        return series_frame(&[
            Column::new("region_code".into(), Vec::<&str>::new()),
            Column::new("category".into(), Vec::<&str>::new()),
            Column::new("date".into(), Vec::<i32>::new()).cast(&DataType::Date)?,
            Column::new(NET_FEN.into(), Vec::<i64>::new()),
        ]);
    }
    // Fen into yuan by polars' own division, as `daily_series` does it (the same bits).
    let height = columns[0].len();
    Ok(DataFrame::new(height, columns.to_vec())?
        .lazy()
        .select([
            col("region_code"),
            col("category"),
            col("date"),
            (col(NET_FEN).cast(DataType::Float64) / lit(100.0)).alias("net_amount_yuan"),
        ])
        .collect()?)
}

/// `uplift` with `region_name_zh` the city's name, and the `000000` rows named as the total of the
/// cities of the scope.
fn with_city_names(uplift: &DataFrame, coverage: &CityCoverage) -> Result<DataFrame> {
    if uplift.height() == 0 {
        return Ok(uplift.clone());
    }
    let total = format!("{}（各城市合计）", coverage.scope_name_zh);
    let mut names: HashMap<&str, String> = HashMap::new();
    let codes = uplift.column("region_code")?.str()?;
    let column: Vec<String> = codes
        .iter()
        .map(|c| {
            let c = c.unwrap_or_default();
            names
                .entry(c)
                .or_insert_with(|| {
                    if c == NATIONAL {
                        total.clone()
                    } else {
                        city_name(c)
                    }
                })
                .clone()
        })
        .collect();
    let mut out = uplift.clone();
    out.with_column(Column::new("region_name_zh".into(), column))?;
    Ok(out)
}

/// What [`estimate_cities`] made and wrote.
#[derive(Debug)]
pub struct CityEstimate {
    /// The city-level `uplift` and `baseline_daily`.
    pub result: UpliftResult,
    /// The city-level `uplift_backtest`.
    pub backtest: DataFrame,
    /// What the estimate covered.
    pub coverage: CityCoverage,
    /// The lake folder of the tables.
    pub dir: PathBuf,
    /// Wall time per stage, seconds, in order (`uplift --timings`).
    pub timings: Vec<(&'static str, f64)>,
    /// What the estimate did with the lake's cache of regression fits ([`crate::fit_cache`]).
    pub fit_cache: Option<crate::fit_cache::FitCacheReport>,
}

/// `homeseason uplift --level city [--region CODE]`: estimate uplift per city × category from the
/// lake's `payment_area_daily` (read once) with the province level's methods and backtest, and write
/// `uplift`, `uplift_backtest`, `baseline_daily`, `weekly_tracking` and `scope.json` under
/// `levels/city/<scope>/` ([`city_lake`]). `scope` is `None` for every city of the nation, or a
/// reporting region's code (resolved by the caller from the embedded list).
///
/// # Errors
/// A lake without area rows, or none with a city in scope; lake, estimation or IO failures.
pub fn estimate_cities(
    lake: &Lake,
    campaign: &Campaign,
    methods: &[Method],
    opts: &UpliftOptions,
    scope: Option<&str>,
) -> Result<CityEstimate> {
    let scope = scope.unwrap_or(NATIONAL);
    let out = city_lake(lake, scope)?;
    let mut clock = Stages::default();
    let opts = &crate::fit_cache::fresh(opts);
    let mut cache = crate::fit_cache::load(lake, &crate::fit_cache::city_fits(scope), opts);
    let area = read_area(lake, &ESTIMATE_COLUMNS)?;
    if area.height() == 0 {
        return Err(PipelineError::Invalid(
            "the lake holds no payment_area_daily rows (written from transaction files): the city level needs them \
             湖中没有 payment_area_daily 数据（由交易明细生成），无法按城市估算"
                .into(),
        ));
    }
    clock.lap("read payment_area_daily");
    let (series, coverage) = city_series(&area, scope, campaign)?;
    drop(area);
    if series.height() == 0 {
        return Err(PipelineError::Invalid(format!(
            "no payment_area_daily row of {scope} names its city (city_code) 该范围内没有带城市代码的区县数据"
        )));
    }
    clock.lap("city series (one pass: frame, zero days and totals)");
    let (mut result, backtest) = estimate_series(&series, campaign, methods, opts)?;
    drop(series);
    clock.lap("uplift and backtest");
    result.uplift = with_city_names(&result.uplift, &coverage)?;
    out.write_output(tables::UPLIFT_BACKTEST, &backtest)?;
    out.write_output(tables::UPLIFT, &result.uplift)?;
    out.write_output(tables::BASELINE_DAILY, &result.baseline_daily)?;
    clock.lap("write");
    let weekly = homeseason_metrics::tracking::weekly_tracking(&result.baseline_daily, campaign)?;
    out.write_output(tables::WEEKLY_TRACKING, &weekly)?;
    drop(weekly);
    let note = out.root().join("scope.json");
    std::fs::write(&note, serde_json::to_vec_pretty(&coverage)?)
        .map_err(io_err("writing", &note))?;
    clock.lap("weekly tracking");
    crate::fit_cache::save(lake, opts, &mut cache);
    if cache.is_some() {
        clock.lap("write the cache of regression fits");
    }
    Ok(CityEstimate {
        result,
        backtest,
        coverage,
        dir: out.root().to_owned(),
        timings: clock.laps,
        fit_cache: cache,
    })
}

/// The methods on the city series: the history methods on every cell, the counterfactual
/// regression only on [`regression_series`]' cells (with its own backtest, so its calibration
/// pools the cells it ran on); the tables of both, one after the other, and one backtest table
/// whose headline method is chosen among the methods that estimated every city cell the others
/// did ([`headline_of_cities`]).
fn estimate_series(
    series: &DataFrame,
    campaign: &Campaign,
    methods: &[Method],
    opts: &UpliftOptions,
) -> Result<(UpliftResult, DataFrame)> {
    let parts = by_city_rule(series, campaign, methods, |cells, some| {
        Ok(homeseason_metrics::backtest::uplift_with_backtest(
            cells, campaign, some, opts,
        )?)
    })?;
    let mut parts = parts.into_iter();
    let Some((mut result, mut backtest, mut figures, mut selection)) = parts.next() else {
        return Err(PipelineError::Invalid(
            "no method to run 未指定估算方法".into(),
        ));
    };
    let mut stacked = false;
    for (more, _, more_figures, more_selection) in parts {
        result.uplift.vstack_mut(&more.uplift)?;
        result.baseline_daily.vstack_mut(&more.baseline_daily)?;
        if more_figures.iter().any(|f| f.method == selection.method) {
            selection = more_selection;
        }
        figures.extend(more_figures);
        stacked = true;
    }
    if stacked {
        let selection = headline_of_cities(campaign, &result.uplift, &figures, selection)?;
        backtest = homeseason_metrics::backtest::backtest_frame(campaign, &figures, &selection)?;
    }
    Ok((result, backtest))
}

/// The headline method of a city table: with `primary_method = "auto"`, the backtest's choice
/// ([`homeseason_metrics::backtest::select`]) among the history methods and the regression where
/// it estimated as many city × category cells as the most complete method — run on full city
/// series only ([`regression_series`]), it is eligible only where that left out no city cell, so a
/// province's city table never shows a handful of its cities because the method that ran on those
/// scored best on them. A pinned method stays (`pinned`).
fn headline_of_cities(
    campaign: &Campaign,
    uplift: &DataFrame,
    figures: &[homeseason_metrics::backtest::MethodBacktest],
    pinned: homeseason_metrics::backtest::Selection,
) -> Result<homeseason_metrics::backtest::Selection> {
    if campaign.baseline.primary_method != homeseason_schema::campaign::AUTO_METHOD {
        return Ok(pinned);
    }
    let counts = uplift
        .clone()
        .lazy()
        .group_by([col("method")])
        .agg(
            [concat_str([col("region_code"), col("category")], "|", true)
                .n_unique()
                .alias("cells")],
        )
        .collect()?;
    let names = counts.column("method")?.str()?;
    let cells = counts.column("cells")?.cast(&DataType::UInt64)?;
    let cells = cells.u64()?;
    let of: HashMap<&str, u64> = names
        .iter()
        .zip(cells.iter())
        .filter_map(|(m, n)| Some((m?, n?)))
        .collect();
    let most = of.values().copied().max().unwrap_or_default();
    let eligible: Vec<_> = figures
        .iter()
        .filter(|f| {
            f.method != Method::CounterfactualRegression
                || of.get(f.method.id()).copied() == Some(most)
        })
        .cloned()
        .collect();
    Ok(homeseason_metrics::backtest::select(
        &eligible,
        campaign.baseline.level,
    ))
}

/// `run` on the city series as the city level's rule has it: the history methods of `methods` on
/// every cell, the counterfactual regression on [`regression_series`]' cells only; one result per
/// part that ran, history first.
fn by_city_rule<T>(
    series: &DataFrame,
    campaign: &Campaign,
    methods: &[Method],
    run: impl Fn(&DataFrame, &[Method]) -> Result<T>,
) -> Result<Vec<T>> {
    let regression = Method::CounterfactualRegression;
    let history: Vec<Method> = methods
        .iter()
        .copied()
        .filter(|m| *m != regression)
        .collect();
    let mut parts = Vec::new();
    if !history.is_empty() {
        parts.push(run(series, &history)?);
    }
    if methods.contains(&regression) {
        parts.push(run(&regression_series(series, campaign)?, &[regression])?);
    }
    Ok(parts)
}

/// The city series the counterfactual regression runs on: the targeted cells (and
/// `all_targeted`) with a sale on every day of the series, and every other category's series
/// (the controls) in full.
///
/// The regression models ln(daily sales): a pre-period day at zero is left out of its fit, a
/// window day at zero is summed, so on a thin city series (one wallet's sample of sales, a few a
/// day at scale 20) the baseline is the level of the days with sales spread over every day of the
/// window. On `synth --areas dense --scale 20 --seed 1` (benchmarks/CITY.md, 2026-12-05) its bias
/// against `truth_cities.csv` was −19 pp on cells without a zero day in the window, −27 pp with up
/// to 10 % zero days, −41 pp with 10–30 %, −55 pp with 30–50 %.
fn regression_series(series: &DataFrame, campaign: &Campaign) -> Result<DataFrame> {
    let targeted = campaign
        .categories
        .targeted
        .iter()
        .fold(col("category").eq(lit(ALL_TARGETED)), |e, c| {
            e.or(col("category").eq(lit(c.id())))
        });
    let zero_days = series
        .clone()
        .lazy()
        .group_by([col("region_code"), col("category")])
        .agg([col("net_amount_yuan")
            .cast(DataType::Float64)
            .lt_eq(lit(0.0))
            .any(true)
            .alias("has_zero_day")]);
    Ok(series
        .clone()
        .lazy()
        .join(
            zero_days,
            [col("region_code"), col("category")],
            [col("region_code"), col("category")],
            JoinArgs::new(JoinType::Left),
        )
        .filter(targeted.not().or(col("has_zero_day").not()))
        .drop(by_name(["has_zero_day"], true, false))
        .collect()?)
}

/// Wall time per stage, for `uplift --timings`.
#[derive(Debug)]
struct Stages {
    last: std::time::Instant,
    laps: Vec<(&'static str, f64)>,
}

impl Default for Stages {
    fn default() -> Self {
        Stages {
            last: std::time::Instant::now(),
            laps: Vec::new(),
        }
    }
}

impl Stages {
    /// Record the time since the previous lap as `stage`.
    fn lap(&mut self, stage: &'static str) {
        let now = std::time::Instant::now();
        self.laps
            .push((stage, now.duration_since(self.last).as_secs_f64()));
        self.last = now;
    }
}

/// The Sunday ending the week of `as_of` when it falls inside the campaign window before its last
/// day: the weekly report's cut (`None`: the whole window).
fn week_inside(campaign: &Campaign, as_of: Option<chrono::NaiveDate>) -> Option<chrono::NaiveDate> {
    let window = &campaign.window;
    as_of
        .map(homeseason_report::week_sunday)
        .filter(|d| *d < window.end && *d >= window.start)
}

/// The city-level `uplift` of `region`'s cities for a weekly report as of `as_of` (any day of the
/// report's week; the week ends on its Sunday): for a week ending inside the campaign window, the
/// window so far is estimated afresh in memory from the area rows, as the province level does
/// ([`crate::outputs::week_estimates`]): the methods of `stored` (the whole-window estimate), the
/// default options, and the calibrated intervals of `backtest` (the whole window's, as the stored
/// table has them). Without `as_of`, for a week ending on or after the window's end, or before its
/// start (which the report refuses), `stored` itself.
///
/// # Errors
/// Lake, IO or estimation failures.
pub fn city_week_estimates(
    lake: &Lake,
    campaign: &Campaign,
    region: &str,
    as_of: Option<chrono::NaiveDate>,
    stored: DataFrame,
    backtest: &DataFrame,
) -> Result<DataFrame> {
    let Some(week) = week_inside(campaign, as_of) else {
        return Ok(stored);
    };
    let mut partial = campaign.clone();
    partial.window.end = week;
    let mut methods: Vec<Method> = Vec::new();
    if let Ok(ids) = stored.column("method") {
        for id in ids.str()?.iter().flatten() {
            if let Some(m) = Method::from_id(id).filter(|m| !methods.contains(m)) {
                methods.push(m);
            }
        }
    }
    if methods.is_empty() {
        methods = Method::ALL.to_vec();
    }
    methods.sort_by_key(|m| Method::ALL.iter().position(|a| a == m));
    let area = read_area(lake, &ESTIMATE_COLUMNS)?;
    let (series, coverage) = city_series(&area, region, &partial)?;
    drop(area);
    let opts = UpliftOptions::from_campaign(&partial);
    // As the province's week ([`crate::outputs::week_estimates`]): the lake's cache of fits, in a
    // file of the region's own (the lake refuses a name that is not a plain file name), and the
    // whole window's city fits consulted (the region's own estimate's and the nation's).
    let mut cache = crate::fit_cache::load(lake, &crate::fit_cache::city_week_fits(region), &opts);
    let scopes: &[&str] = if region == NATIONAL {
        &[NATIONAL]
    } else {
        &[region, NATIONAL]
    };
    for scope in scopes {
        crate::fit_cache::consult(lake, &crate::fit_cache::city_fits(scope), &opts, &mut cache);
    }
    // The same rule as the whole window's estimate: the regression on full city series only.
    let mut parts = by_city_rule(&series, &partial, &methods, |cells, some| {
        Ok(homeseason_metrics::uplift(cells, &partial, some, &opts)?)
    })?
    .into_iter();
    crate::fit_cache::save(lake, &opts, &mut cache);
    let Some(mut r) = parts.next() else {
        return Ok(stored);
    };
    for more in parts {
        r.uplift.vstack_mut(&more.uplift)?;
    }
    if backtest.height() > 0 && r.uplift.column("calibrated_lower_pct").is_err() {
        r.uplift = homeseason_metrics::backtest::annotate(
            &r.uplift,
            &homeseason_metrics::backtest::figures_of(backtest)?,
        )?;
    }
    with_city_names(&r.uplift, &coverage)
}

/// The city-level tables for a report on `region` (`None`: the nation): those estimated for that
/// scope if there are any, else the nation's with the rows of the region's cities (and no `000000`
/// row, which would be the nation's). Returns the `uplift`, the `uplift_backtest` and the coverage
/// note.
///
/// # Errors
/// When no city-level estimate covers the region (run `homeseason uplift --level city` first).
pub fn read_city_tables(
    lake: &Lake,
    region: Option<&str>,
) -> Result<(DataFrame, DataFrame, CityCoverage)> {
    let scope = region.unwrap_or(NATIONAL);
    for (dir, filter) in [(scope, false), (NATIONAL, scope != NATIONAL)] {
        // Only a folder an estimate wrote (opening a lake would create it).
        if !lake
            .root()
            .join(city_dir(dir)?)
            .join("scope.json")
            .is_file()
        {
            continue;
        }
        let sub = city_lake(lake, dir)?;
        let uplift = sub.read_table(tables::UPLIFT)?;
        if uplift.height() == 0 {
            continue;
        }
        let note = sub.root().join("scope.json");
        let mut coverage: CityCoverage =
            serde_json::from_slice(&std::fs::read(&note).map_err(io_err("reading", &note))?)?;
        let backtest = sub.read_table(tables::UPLIFT_BACKTEST)?;
        if !filter {
            return Ok((uplift, backtest, coverage));
        }
        let prefix = if scope.ends_with("0000") {
            &scope[..2]
        } else {
            scope
        };
        let uplift = uplift
            .lazy()
            .filter(
                col("region_code")
                    .str()
                    .starts_with(lit(prefix.to_owned()))
                    .and(col("region_code").neq(lit(NATIONAL))),
            )
            .collect()?;
        coverage.scope = scope.to_owned();
        coverage.scope_name_zh = Regions::embedded()
            .by_code(scope)
            .map_or_else(|| scope.to_owned(), |r| r.name_zh.clone());
        coverage.total_row =
            "these cities are read from the nation's city-level estimate (no 000000 row; \
             the share of sales without a city above is the nation's) \
             取自全国地市级估算（无合计行；上述无城市代码销售额占比为全国数）"
                .into();
        return Ok((uplift, backtest, coverage));
    }
    Err(PipelineError::Invalid(format!(
        "no city-level uplift for {scope} in the lake: run `homeseason uplift --level city` first \
         湖中没有该范围的城市级提升结果：请先运行 homeseason uplift --level city"
    )))
}

/// The city-level `uplift` as published with suppression threshold `k`: every figure of a city ×
/// category blanked (all methods and windows) when [`suppress_cells`] blanks it.
///
/// Cells: every (city, category) of `uplift` but the `000000` total. The lower bound on a cell's
/// distinct merchants is the largest `merchant_count` of one `payment_area_daily` row of that city
/// and category on one day of the campaign window (a row counts distinct merchants; rows of one day
/// may share merchants across channels and institutions, so they are not added); for
/// `all_targeted`, the largest of its categories'. Margins: the cities of one reporting region ×
/// category (the region's total is published at province level), and one city's targeted categories
/// with its `all_targeted` cell. Returns the frame and the number of city × category cells blanked.
///
/// # Errors
/// Missing columns.
pub fn published_cities(
    uplift: &DataFrame,
    area: &DataFrame,
    campaign: &Campaign,
    k: u32,
) -> Result<(DataFrame, usize)> {
    if uplift.height() == 0 {
        return Ok((uplift.clone(), 0));
    }
    let window = &campaign.window;
    // Lower bounds and each city's reporting region, from the area rows of the window.
    let bounds = area
        .clone()
        .lazy()
        .filter(
            has_city()
                .and(col("date").gt_eq(lit(window.start)))
                .and(col("date").lt_eq(lit(window.end))),
        )
        .group_by([col("city_code"), col("category")])
        .agg([
            col("merchant_count")
                .cast(DataType::Int64)
                .max()
                .alias("merchants"),
            col("region_code").first().alias("region_code"),
        ])
        .collect()?;
    let mut lower: HashMap<(String, String), u64> = HashMap::new();
    let mut region_of: HashMap<String, String> = HashMap::new();
    {
        let (c, g, m, r) = (
            bounds.column("city_code")?.str()?,
            bounds.column("category")?.str()?,
            bounds.column("merchants")?.i64()?,
            bounds.column("region_code")?.str()?,
        );
        for i in 0..bounds.height() {
            let (Some(city), Some(cat)) = (c.get(i), g.get(i)) else {
                continue;
            };
            let n = u64::try_from(m.get(i).unwrap_or(0)).unwrap_or(0);
            lower.insert((city.to_owned(), cat.to_owned()), n);
            if let Some(r) = r.get(i) {
                region_of.insert(city.to_owned(), r.to_owned());
            }
        }
    }
    let targeted: Vec<&str> = campaign.categories.targeted_ids().collect();
    // Cells, with the campaign window's actual sales as their size.
    let (codes, cats) = (
        uplift.column("region_code")?.str()?,
        uplift.column("category")?.str()?,
    );
    let actual = uplift.column("actual_yuan")?.cast(&DataType::Float64)?;
    let actual = actual.f64()?;
    let mut index: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut sizes: Vec<f64> = Vec::new();
    for i in 0..uplift.height() {
        let (Some(code), Some(cat)) = (codes.get(i), cats.get(i)) else {
            continue;
        };
        if code == NATIONAL {
            continue;
        }
        if let std::collections::btree_map::Entry::Vacant(e) =
            index.entry((code.to_owned(), cat.to_owned()))
        {
            e.insert(sizes.len());
            sizes.push(actual.get(i).unwrap_or(0.0));
        }
    }
    let mut merchants = vec![0u64; sizes.len()];
    for ((city, cat), &i) in &index {
        merchants[i] = if cat == ALL_TARGETED {
            targeted
                .iter()
                .filter_map(|t| lower.get(&(city.clone(), (*t).to_owned())))
                .copied()
                .max()
                .unwrap_or(0)
        } else {
            lower
                .get(&(city.clone(), cat.clone()))
                .copied()
                .unwrap_or(0)
        };
    }
    // Margins: region × category over cities; city over its targeted categories and all_targeted.
    let mut by_region: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    let mut by_city: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for ((city, cat), &i) in &index {
        let region = region_of.get(city).cloned().unwrap_or_else(|| city.clone());
        by_region.entry((region, cat.clone())).or_default().push(i);
        if cat == ALL_TARGETED || targeted.contains(&cat.as_str()) {
            by_city.entry(city.clone()).or_default().push(i);
        }
    }
    let margins: Vec<Vec<usize>> = by_region
        .into_values()
        .chain(by_city.into_values())
        .collect();
    let decided = suppress_cells(&merchants, &sizes, &margins, u64::from(k));
    let blank: Vec<bool> = (0..uplift.height())
        .map(|i| match (codes.get(i), cats.get(i)) {
            (Some(code), Some(cat)) => index
                .get(&(code.to_owned(), cat.to_owned()))
                .is_some_and(|&c| decided.hidden[c]),
            _ => false,
        })
        .collect();
    let figures: Vec<String> = uplift
        .columns()
        .iter()
        .filter(|c| {
            (c.dtype().is_float() || c.dtype().is_integer())
                && !matches!(c.name().as_str(), "level" | "days_used")
        })
        .map(|c| c.name().to_string())
        .collect();
    let figures: Vec<&str> = figures.iter().map(String::as_str).collect();
    let hidden = decided.hidden.iter().filter(|h| **h).count();
    Ok((
        homeseason_ingest::blank_rows(uplift, &blank, &figures)?,
        hidden,
    ))
}

/// `homeseason report --level city --region CODE`: the region's own report
/// as of `as_of` ([`crate::outputs::report_for`]) with its region section, region bars, heatmap and tile map
/// replaced by the table and bar chart of its cities, and a 分城市 By city sheet in its workbook.
/// The cities' figures are those of the city-level `uplift` ([`read_city_tables`]; for a week
/// inside the window, the window so far, [`city_week_estimates`]) for the headline
/// method its own backtest chose, published with the lake's suppression threshold
/// ([`published_cities`]; none set: nothing blanked, as for the province level). Returns the HTML's
/// path.
///
/// # Errors
/// Without `region` (a city report is a province's); without a city-level estimate; as
/// [`crate::outputs::report_for`].
pub fn report_cities(
    lake: &Lake,
    campaign: &Campaign,
    out: &std::path::Path,
    now: &str,
    as_of: Option<chrono::NaiveDate>,
    region: Option<&str>,
) -> Result<PathBuf> {
    let Some(region) = region else {
        return Err(PipelineError::Invalid(
            "--level city needs --region (a province's city report) 按地市出具报告需指定 --region"
                .into(),
        ));
    };
    // The report's province sections read what `uplift` wrote: say so before any estimate.
    if lake.read_table(tables::UPLIFT)?.height() == 0 {
        return Err(crate::outputs::no_uplift_table());
    }
    let (uplift, backtest, coverage) = read_city_tables(lake, Some(region))?;
    // The weekly report's cut-off: the cities' window so far, as the province level's.
    let uplift = city_week_estimates(lake, campaign, region, as_of, uplift, &backtest)?;
    let method = homeseason_report::primary_method(campaign, Some(&backtest))?;
    // The cities' share of the province's payments over the same days (before any blanking: only
    // the sum is shown, a margin the blanking already protects).
    let share = city_share(lake, campaign, region, as_of, &uplift, &method)?;
    let noise = city_noise(lake, &backtest, &method)?;
    let k = lake.suppression_threshold()?;
    let (uplift, blanked) = match k {
        Some(k) => published_cities(&uplift, &read_area(lake, &PUBLISH_COLUMNS)?, campaign, k)?,
        None => (uplift, 0),
    };
    let suppression = match k {
        Some(k) => format!(
            "{blanked} 个城市×品类单元格因商户数少于 {k} 或为防止差分还原而留空（—）。 {blanked} city × category cells are blank (—): fewer than {k} merchants, or blanked so that the province's total less the others does not give one back."
        ),
        None => "湖未设置小单元格抑制阈值：未留空。 The lake has no suppression threshold: nothing is blanked.".into(),
    };
    let section = homeseason_report::city::CitySection {
        scope_name_zh: coverage.scope_name_zh.clone(),
        method: method.clone(),
        rows: homeseason_report::city::rows_of(&uplift, &method)?,
        note: format!(
            "城市按区县交易汇总（payment_area_daily）估算；无城市代码的销售额占 {:.2}%，不计入任何城市。{suppression} Cities are estimated from the transactions by area (payment_area_daily); {:.2} % of net sales carry no city and are in no city's figure. {}",
            coverage.share_without_city * 100.0,
            coverage.share_without_city * 100.0,
            coverage.total_row
        ),
        share,
        noise,
    };
    let (_, html, _) = crate::outputs::report_for_level(
        lake,
        campaign,
        out,
        now,
        as_of,
        Some(region),
        Some(section),
    )?;
    Ok(html)
}

/// The cities' net sales (all targeted categories, the campaign window up to the report's Sunday)
/// from the city-level `uplift` of `method`, against the province's own in `payment_daily` over the
/// same days and categories; `None` when the table has no such rows.
fn city_share(
    lake: &Lake,
    campaign: &Campaign,
    region: &str,
    as_of: Option<chrono::NaiveDate>,
    uplift: &DataFrame,
    method: &str,
) -> Result<Option<homeseason_report::city::CityShare>> {
    let window = &campaign.window;
    let last = week_inside(campaign, as_of).unwrap_or(window.end);
    // The rows the cities table shows, before any blanking.
    let cities = homeseason_report::city::rows_of(uplift, method)?;
    if cities.is_empty() {
        return Ok(None);
    }
    let cities_yuan: f64 = cities.iter().filter_map(|r| r.actual_yuan).sum();
    let targeted = campaign
        .categories
        .targeted_ids()
        .fold(lit(false), |acc, c| {
            acc.or(col("category").eq(lit(c.to_owned())))
        });
    let view = lake.view()?;
    let mut region_yuan = 0.0;
    for (path, _) in view.files(tables::PAYMENT_DAILY)? {
        let part = view
            .read_file(
                &path,
                &["date", "region_code", "category", "net_amount_yuan"],
            )?
            .lazy()
            .filter(
                col("region_code")
                    .eq(lit(region.to_owned()))
                    .and(targeted.clone())
                    .and(col("date").gt_eq(lit(window.start)))
                    .and(col("date").lt_eq(lit(last))),
            )
            .select([col("net_amount_yuan").cast(DataType::Float64).sum()])
            .collect()?;
        region_yuan += part.column("net_amount_yuan")?.f64()?.get(0).unwrap_or(0.0);
    }
    Ok(Some(homeseason_report::city::CityShare {
        cities_yuan,
        region_yuan,
    }))
}

/// The city-level backtest of `method` (its MAE and calibrated coverage over the city cells),
/// beside the province-level backtest's MAE of the same method when the lake has one.
fn city_noise(
    lake: &Lake,
    backtest: &DataFrame,
    method: &str,
) -> Result<Option<homeseason_report::city::CityNoise>> {
    let figures = homeseason_metrics::backtest::figures_of(backtest)?;
    let Some(city) = figures
        .iter()
        .find(|f| f.method.id() == method && f.cells > 0)
    else {
        return Ok(None);
    };
    let region_mae_pp = match lake.read_table(tables::UPLIFT_BACKTEST) {
        Ok(b) if b.height() > 0 => homeseason_metrics::backtest::figures_of(&b)?
            .iter()
            .find(|f| f.method.id() == method && f.cells > 0)
            .map(|f| f.mae_pp),
        _ => None,
    };
    Ok(Some(homeseason_report::city::CityNoise {
        method: method.to_owned(),
        windows: city.windows,
        cells: city.cells,
        mae_pp: city.mae_pp,
        calibrated_coverage: city.calibrated_coverage,
        region_mae_pp,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveDate};
    use homeseason_lake::Commit;

    /// Only `000000` and the embedded regions' codes become a folder of the city level.
    #[test]
    fn only_known_scopes_become_folders() {
        assert_eq!(
            city_dir("330000").unwrap(),
            std::path::Path::new("levels/city/330000")
        );
        assert!(city_dir(NATIONAL).is_ok());
        for bad in ["../330000", "330000/..", "/tmp", "999999", ""] {
            assert!(city_dir(bad).is_err(), "{bad:?}");
        }
    }

    /// The regression, run on a few full city series, is not the city table's headline even with
    /// the lowest backtest error and enough backtest cells; covering every city cell, it can be.
    #[test]
    fn the_city_headline_is_a_method_that_covers_every_city() {
        use homeseason_metrics::backtest::MethodBacktest;
        let campaign = Campaign::default_2023();
        let figure = |method, cells, mae_pp| MethodBacktest::example(method, cells, mae_pp, 0.9);
        let figures = [
            figure(Method::PriorYear, 300, 9.0),
            figure(Method::TwoYear, 100, 7.0),
            figure(Method::CounterfactualRegression, 30, 3.0),
        ];
        // Ten cities in all; the regression ran on two of them.
        let uplift = |regression_cities: usize| {
            let mut method = Vec::new();
            let mut region = Vec::new();
            for (m, n) in [
                ("prior_year", 10),
                ("two_year", 10),
                ("counterfactual_regression", regression_cities),
            ] {
                for c in 0..n {
                    method.push(m);
                    region.push(format!("3301{c:02}"));
                }
            }
            let category = vec!["furniture"; method.len()];
            df!("method" => method, "region_code" => region, "category" => category).unwrap()
        };
        let pinned = homeseason_metrics::backtest::select(&figures, 0.9);
        assert_eq!(pinned.method, Method::CounterfactualRegression);
        let few = headline_of_cities(&campaign, &uplift(2), &figures, pinned.clone()).unwrap();
        assert_eq!(few.method, Method::TwoYear);
        let all = headline_of_cities(&campaign, &uplift(10), &figures, pinned).unwrap();
        assert_eq!(all.method, Method::CounterfactualRegression);
    }

    /// City, its reporting region, its area, merchants per row.
    const CITIES: [(&str, &str, &str, i64); 6] = [
        ("330100", "330000", "330102", 40), // 杭州
        ("330300", "330000", "330302", 30), // 温州
        ("330400", "330000", "330402", 2),  // 嘉兴: below the threshold
        ("330200", "330200", "330203", 25), // 宁波 (a plan city)
        ("320100", "320000", "320102", 50), // 南京
        ("320200", "320000", "320205", 35), // 无锡
    ];

    /// Deterministic `payment_area_daily` rows, 2021-01-01 … 2023-12-31: furniture and supermarket in
    /// each city (furniture +20 % in the 2023 window in 杭州, +0 % elsewhere), plus rows of 330000
    /// without a city (an institution reporting province codes).
    fn area_rows() -> DataFrame {
        let start = NaiveDate::from_ymd_opt(2021, 1, 1).unwrap();
        let end = NaiveDate::from_ymd_opt(2023, 12, 31).unwrap();
        let window = NaiveDate::from_ymd_opt(2023, 9, 1).unwrap();
        let (mut date, mut region, mut area, mut city, mut mcc, mut cat) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        let (mut net, mut merchants) = (vec![], vec![]);
        let mut d = start;
        while d <= end {
            let t = f64::from(u32::try_from((d - start).num_days()).unwrap());
            let weekly = 1.0 + 0.1 * f64::from(d.weekday().num_days_from_monday() / 5);
            for (i, (c, r, a, m)) in CITIES.iter().enumerate() {
                let scale = 1_000.0 * (1.0 + f64::from(u8::try_from(i).unwrap()));
                let growth = 1.0 + t / 3_000.0;
                for (code, category) in [("5712", "furniture"), ("5411", "supermarket")] {
                    let lift = if category == "furniture" && *c == "330100" && d >= window {
                        1.2
                    } else {
                        1.0
                    };
                    date.push(d);
                    region.push(*r);
                    area.push(*a);
                    city.push(Some(*c));
                    mcc.push(code);
                    cat.push(category);
                    net.push((scale * growth * weekly * lift * 100.0).round() / 100.0);
                    merchants.push(*m);
                }
            }
            date.push(d);
            region.push("330000");
            area.push("330000");
            city.push(None);
            mcc.push("5712");
            cat.push("furniture");
            net.push(500.0);
            merchants.push(10);
            d += chrono::Duration::days(1);
        }
        let n = date.len();
        df!(
            "date" => date,
            "institution" => vec!["unionpay"; n],
            "region_code" => region,
            "area_code" => area,
            "city_code" => city,
            "urban_rural" => vec!["urban"; n],
            "mcc" => mcc,
            "category" => cat,
            "channel" => vec!["offline"; n],
            "txn_count" => vec![10i64; n],
            "amount_yuan" => net.clone(),
            "refund_amount_yuan" => vec![0.0; n],
            "net_amount_yuan" => net,
            "merchant_count" => merchants,
        )
        .unwrap()
    }

    /// Commit `rows` to `table` of `lake` as one file of `feed` (its digest `sha` repeated).
    fn commit_rows(lake: &Lake, table: &str, feed: &str, sha: &str, rows: &DataFrame) {
        let (empty, sha256, file) = (DataFrame::empty(), sha.repeat(64), format!("{table}.csv"));
        let commit = Commit {
            table,
            feed,
            file: &file,
            sha256: &sha256,
            rows,
            rejects: &empty,
            origins: None,
            report: serde_json::json!({}),
            now: "2024-01-01T00:00:00Z",
        };
        lake.commit(&commit).unwrap();
    }

    fn lake_with_areas(dir: &std::path::Path) -> Lake {
        let lake = Lake::open(dir).unwrap();
        commit_rows(
            &lake,
            tables::PAYMENT_AREA_DAILY,
            "payment_transactions",
            "a",
            &area_rows(),
        );
        lake
    }

    /// The distinct `region_code`s of a frame, sorted.
    fn codes_of(frame: &DataFrame) -> Vec<&str> {
        let mut codes = homeseason_test_support::str_values(frame, "region_code");
        codes.sort_unstable();
        codes.dedup();
        codes
    }

    fn row(uplift: &DataFrame, code: &str, cat: &str, method: &str) -> DataFrame {
        uplift
            .clone()
            .lazy()
            .filter(
                col("region_code")
                    .eq(lit(code.to_owned()))
                    .and(col("category").eq(lit(cat.to_owned())))
                    .and(col("method").eq(lit(method.to_owned())))
                    .and(col("window_kind").eq(lit("campaign"))),
            )
            .collect()
            .unwrap()
    }

    fn f(frame: &DataFrame, name: &str) -> Option<f64> {
        frame
            .column(name)
            .unwrap()
            .cast(&DataType::Float64)
            .unwrap()
            .f64()
            .unwrap()
            .get(0)
    }

    /// The area rows' lake in a temporary folder, the 2023 campaign, and `methods` estimated on
    /// the cities of `scope` (`None`: the nation).
    fn estimated(
        methods: &[Method],
        scope: Option<&str>,
    ) -> (tempfile::TempDir, Lake, Campaign, CityEstimate) {
        let dir = tempfile::tempdir().unwrap();
        let lake = lake_with_areas(dir.path());
        let campaign = Campaign::default_2023();
        let opts = UpliftOptions::from_campaign(&campaign);
        let est = estimate_cities(&lake, &campaign, methods, &opts, scope).unwrap();
        (dir, lake, campaign, est)
    }

    /// Zhejiang's cities: one read of the area rows, a table per city in the level folder (the
    /// province-level `uplift` untouched), names from the division list, 杭州's +20 % recovered,
    /// the 000000 row the sum of the cities, and the share of sales without a city counted.
    #[test]
    fn a_province_s_cities_are_estimated_in_their_own_folder() {
        let (dir, lake, _campaign, est) =
            estimated(&[Method::PriorYear, Method::TwoYear], Some("330000"));
        assert!(lake.read_table(tables::UPLIFT).unwrap().height() == 0);
        assert!(dir.path().join("levels/city/330000/scope.json").is_file());
        let uplift = city_lake(&lake, "330000")
            .unwrap()
            .read_table(tables::UPLIFT)
            .unwrap();
        assert_eq!(uplift.height(), est.result.uplift.height());
        // Zhejiang's cities, Ningbo included; no Jiangsu city.
        assert_eq!(
            codes_of(&uplift),
            ["000000", "330100", "330200", "330300", "330400"]
        );
        let hz = row(&uplift, "330100", "furniture", "prior_year");
        assert_eq!(
            hz.column("region_name_zh").unwrap().str().unwrap().get(0),
            Some("杭州市")
        );
        let pct = f(&hz, "uplift_pct").unwrap();
        assert!((pct - 20.0).abs() < 3.0, "杭州 furniture {pct}");
        let wz = f(
            &row(&uplift, "330300", "furniture", "prior_year"),
            "uplift_pct",
        )
        .unwrap();
        assert!(wz.abs() < 3.0, "温州 furniture {wz}");
        // The total row is the sum of the four cities' actual sales.
        let total = row(&uplift, "000000", "furniture", "prior_year");
        assert_eq!(
            total
                .column("region_name_zh")
                .unwrap()
                .str()
                .unwrap()
                .get(0),
            Some("浙江省（各城市合计）")
        );
        let sum: f64 = ["330100", "330200", "330300", "330400"]
            .iter()
            .map(|c| f(&row(&uplift, c, "furniture", "prior_year"), "actual_yuan").unwrap())
            .sum();
        let got = f(&total, "actual_yuan").unwrap();
        assert!((got - sum).abs() < 1.0, "{got} vs {sum}");
        // 1095 days of one no-city row in scope, 500 yuan each.
        let c = &est.coverage;
        assert_eq!(c.rows_without_city, 1095);
        assert_eq!(c.rows, 1095 * 9);
        assert_eq!(c.cities, 4);
        assert!((c.net_without_city_yuan - 1095.0 * 500.0).abs() < 1e-6);
        assert!(c.share_without_city > 0.0 && c.share_without_city < 0.05);
    }

    /// Both provinces at once (the nation's cities): Jiangsu's cities are there, and the national
    /// total is the sum of all six.
    #[test]
    fn the_nation_s_cities_total_every_city() {
        let (_dir, lake, _campaign, est) = estimated(&[Method::PriorYear], None);
        let uplift = &est.result.uplift;
        let sum: f64 = CITIES
            .iter()
            .map(|(c, ..)| f(&row(uplift, c, "furniture", "prior_year"), "actual_yuan").unwrap())
            .sum();
        let total = f(
            &row(uplift, "000000", "furniture", "prior_year"),
            "actual_yuan",
        )
        .unwrap();
        assert!((total - sum).abs() < 1.0, "{total} vs {sum}");
        assert_eq!(est.coverage.cities, 6);
        // The report for one province reads the nation's tables, its cities only.
        let (mine, _, _) = read_city_tables(&lake, Some("320000")).unwrap();
        assert_eq!(codes_of(&mine), ["320100", "320200"]);
        let (_, _, coverage) = read_city_tables(&lake, Some("320000")).unwrap();
        assert_eq!(coverage.scope_name_zh, "江苏省");
    }

    /// The city series of the one pass ([`city_series`]) is bit for bit the group-by way's (the
    /// cells × days join of `with_zero_days`, then `daily_series`), zero days and totals included,
    /// for the nation and for a province: the rows of some city × category days are removed (so
    /// zero days are filled) and a row without a category is added.
    #[test]
    fn the_one_pass_series_is_the_group_by_series() {
        let campaign = Campaign::default_2023();
        let area = area_rows()
            .lazy()
            .filter(
                (col("city_code")
                    .eq(lit("330100"))
                    .and(col("category").eq(lit("furniture")))
                    .and(col("date").dt().day().lt(lit(4))))
                .or(col("city_code")
                    .eq(lit("320200"))
                    .and(col("category").eq(lit("supermarket")))
                    .and(col("date").dt().month().eq(lit(2))))
                .not(),
            )
            .with_column(
                when(
                    col("city_code")
                        .eq(lit("330300"))
                        .and(col("date").dt().day().eq(lit(7))),
                )
                .then(lit(NULL).cast(DataType::String))
                .otherwise(col("category"))
                .alias("category"),
            )
            .collect()
            .unwrap();
        for scope in [NATIONAL, "330000", "320000"] {
            let in_scope = area.clone().lazy().filter(scope_filter(scope));
            let frame = homeseason_metrics::with_zero_days(
                in_scope
                    .clone()
                    .filter(has_city().and(col("category").is_not_null())),
                in_scope,
                "region_code",
                &["region_code", "city_code", "category"],
            )
            .unwrap()
            .lazy()
            .select([
                col("city_code").alias("region_code"),
                col("category"),
                col("date"),
                col("net_amount_yuan"),
            ])
            .collect()
            .unwrap();
            let expected = homeseason_metrics::daily_series(frame.lazy(), &campaign).unwrap();
            let (got, coverage) = city_series(&area, scope, &campaign).unwrap();
            assert!(expected.height() > 1_000, "{expected}");
            assert_eq!(got.schema(), expected.schema(), "{scope}");
            for name in ["region_code", "category", "date", "net_amount_yuan"] {
                let (a, b) = (
                    got.column(name).unwrap().as_materialized_series().clone(),
                    expected
                        .column(name)
                        .unwrap()
                        .as_materialized_series()
                        .clone(),
                );
                if !a.equals_missing(&b) {
                    let ne = a.not_equal_missing(&b).unwrap();
                    let first = ne.iter().position(|v| v == Some(true)).unwrap();
                    panic!(
                        "{scope} {name} row {first}: {:?} vs {:?}",
                        got.get_row(first),
                        expected.get_row(first)
                    );
                }
            }
            assert!(
                got.equals_missing(&expected),
                "{scope}: {got} vs {expected}"
            );
            // Zero days were filled, and the totals are there.
            let zeros = got
                .clone()
                .lazy()
                .filter(col("net_amount_yuan").eq(lit(0.0)))
                .collect()
                .unwrap();
            assert!(zeros.height() > 0, "{scope}");
            let codes = got.column("region_code").unwrap().str().unwrap();
            assert!(codes.iter().any(|c| c == Some(NATIONAL)));
            assert!(coverage.cities > 0);
        }
    }

    /// 嘉兴 (2 merchants) is blanked with k = 5, and so is another Zhejiang city (杭州, the
    /// smallest of the others), so Zhejiang's published furniture total less the visible cities gives back a sum of
    /// two, not 嘉兴; the differencing attack of the test-support crate recovers nothing.
    #[test]
    fn a_small_city_is_blanked_with_a_complement_that_the_attack_cannot_undo() {
        let (_dir, lake, campaign, est) = estimated(&[Method::PriorYear], None);
        let area = lake.read_table(tables::PAYMENT_AREA_DAILY).unwrap();
        let (published, hidden) =
            published_cities(&est.result.uplift, &area, &campaign, 5).unwrap();
        let blank =
            |c: &str, g: &str| f(&row(&published, c, g, "prior_year"), "actual_yuan").is_none();
        assert!(blank("330400", "furniture"));
        assert!(blank("330400", "all_targeted"));
        // A complement in Zhejiang (ex-Ningbo) for each category.
        for g in ["furniture", "all_targeted"] {
            let n = ["330100", "330300"].iter().filter(|c| blank(c, g)).count();
            assert!(n >= 1, "{g}: no complement");
        }
        for c in ["320100", "320200", "330200"] {
            assert!(!blank(c, "furniture"), "{c} blanked for nothing");
        }
        assert_eq!(hidden, 4);
        // Every figure of a blanked cell goes, in every method's and window's row: its actual and
        // baseline yuan too, so the published baseline gives nothing back either — for 嘉兴 and for
        // its complements alike.
        for (city, cat) in [
            ("330100", "furniture"),
            ("330300", "furniture"),
            ("330400", "furniture"),
            ("330100", "all_targeted"),
            ("330300", "all_targeted"),
            ("330400", "all_targeted"),
        ] {
            let rows = published
                .clone()
                .lazy()
                .filter(
                    col("region_code")
                        .eq(lit(city))
                        .and(col("category").eq(lit(cat))),
                )
                .collect()
                .unwrap();
            assert!(rows.height() >= 1, "{city} {cat}: its rows");
            let blanked = blank(city, cat);
            for c in [
                "actual_yuan",
                "baseline_yuan",
                "uplift_abs_yuan",
                "lower_pct",
            ] {
                let nulls = rows.column(c).unwrap().null_count();
                if blanked {
                    assert_eq!(nulls, rows.height(), "{city} {cat} {c}");
                } else {
                    assert!(nulls < rows.height(), "{city} {cat} {c}");
                }
            }
        }
        // The totals survive, and the level column too.
        assert!(!blank("000000", "furniture"));
        assert!(
            f(
                &row(&published, "330400", "furniture", "prior_year"),
                "level"
            )
            .is_some()
        );

        // The attack: cells are Zhejiang (ex-Ningbo) city × {furniture, all_targeted}; published
        // sums: the region's furniture and all_targeted totals, and each city's all_targeted less
        // its furniture, which is zero (furniture is the one targeted category here).
        let cells = ["330100", "330300", "330400"];
        let idx = |c: usize, g: usize| c * 2 + g;
        let mut groups: Vec<Vec<usize>> = vec![
            (0..3).map(|c| idx(c, 0)).collect(),
            (0..3).map(|c| idx(c, 1)).collect(),
        ];
        let mut forms: Vec<Vec<(usize, f64)>> = groups
            .drain(..)
            .map(|g| g.into_iter().map(|c| (c, 1.0)).collect())
            .collect();
        forms.extend((0..3).map(|c| vec![(idx(c, 0), 1.0), (idx(c, 1), -1.0)]));
        let hidden_cells: Vec<usize> = (0..3)
            .flat_map(|c| [(c, "furniture", 0), (c, "all_targeted", 1)])
            .filter(|(c, g, _)| blank(cells[*c], g))
            .map(|(c, _, g)| idx(c, g))
            .collect();
        let recovered = homeseason_test_support::recoverable_weighted(&hidden_cells, &forms);
        assert!(recovered.is_empty(), "recovered {recovered:?}");
    }

    /// The province level and the city level side by side, then Zhejiang's city-level report: the
    /// cities' section and chart in place of the region section, bars, heatmap and tile map.
    #[test]
    fn a_province_s_city_report_replaces_its_region_section() {
        use homeseason_schema::contract::{self, FieldType};
        let dir = tempfile::tempdir().unwrap();
        let lake = lake_with_areas(dir.path());
        // payment_daily: the same rows without their area (what ingest writes beside them), by its
        // contract's text and date columns with its numbers summed.
        let fields = &contract::get(tables::PAYMENT_DAILY).unwrap().fields;
        let columns = |numbers: bool| -> Vec<Expr> {
            fields
                .iter()
                .filter(|f| matches!(f.r#type, FieldType::Integer | FieldType::Number) == numbers)
                .map(|f| col(f.name.as_str()))
                .collect()
        };
        let daily = area_rows()
            .lazy()
            .group_by(columns(false))
            .agg(columns(true).into_iter().map(Expr::sum).collect::<Vec<_>>())
            .collect()
            .unwrap();
        commit_rows(&lake, tables::PAYMENT_DAILY, "payment_daily", "b", &daily);
        let campaign = Campaign::default_2023();
        let opts = UpliftOptions::from_campaign(&campaign);
        crate::outputs::estimate(
            &lake,
            &campaign,
            &[Method::PriorYear, Method::TwoYear],
            &opts,
        )
        .unwrap();
        estimate_cities(
            &lake,
            &campaign,
            &[Method::PriorYear, Method::TwoYear],
            &opts,
            Some("330000"),
        )
        .unwrap();
        let out = dir.path().join("report");
        let html = report_cities(
            &lake,
            &campaign,
            &out,
            "2024-01-01T00:00:00Z",
            None,
            Some("330000"),
        )
        .unwrap();
        let html = std::fs::read_to_string(html).unwrap();
        let md = std::fs::read_to_string(out.join("report.md")).unwrap();
        for text in [&html, &md] {
            assert!(text.contains("3 分城市 By city: 浙江省"), "cities section");
            assert!(text.contains("杭州市") && text.contains("嘉兴市"));
            assert!(!text.contains("3 分地区 By region"), "no region section");
            assert!(!text.contains("瓦片图"), "no tile map");
        }
        assert!(md.contains("charts/uplift_by_city.png"));
        assert!(out.join("charts/uplift_by_city.png").is_file());
        assert!(!out.join("charts/uplift_tilemap.png").exists());
        assert!(out.join("workbook.xlsx").is_file());
        // The province-level report still has its region section and tile map.
        let plain = dir.path().join("plain");
        crate::outputs::report_for(
            &lake,
            &campaign,
            &plain,
            "2024-01-01T00:00:00Z",
            None,
            Some("330000"),
        )
        .unwrap();
        let md = std::fs::read_to_string(plain.join("report.md")).unwrap();
        assert!(md.contains("3 分地区 By region") && md.contains("uplift_tilemap"));
        // Without --region there is no city report.
        assert!(report_cities(&lake, &campaign, &out, "now", None, None).is_err());
    }

    /// The weekly report's cut-off at city level: as of a day of the window's third week, Zhejiang's
    /// cities are estimated over the window so far (the campaign rows end on that week's Sunday),
    /// with the stored estimate's methods only, 杭州's +20 % still found; without a cut-off, or with
    /// one past the window's end, the stored table itself.
    #[test]
    fn a_weekly_report_cuts_the_cities_at_its_sunday() {
        let (_dir, lake, campaign, est) = estimated(&[Method::PriorYear], Some("330000"));
        let stored = est.result.uplift.clone();
        let day = campaign.window.start + chrono::Duration::days(16);
        let sunday = homeseason_report::week_sunday(day);
        assert!(sunday < campaign.window.end);
        let week = city_week_estimates(
            &lake,
            &campaign,
            "330000",
            Some(day),
            stored.clone(),
            &est.backtest,
        )
        .unwrap();
        let campaign_rows = week
            .clone()
            .lazy()
            .filter(col("window_kind").eq(lit("campaign")))
            .collect()
            .unwrap();
        assert!(campaign_rows.height() > 0);
        let later = campaign_rows
            .lazy()
            .filter(col("window_end").neq(lit(sunday)))
            .collect()
            .unwrap();
        assert_eq!(later.height(), 0, "every campaign row ends on {sunday}");
        assert_eq!(
            homeseason_test_support::str_values(&week, "method")
                .into_iter()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>(),
            ["prior_year"]
        );
        let hz = row(&week, "330100", "furniture", "prior_year");
        assert_eq!(hz.height(), 1);
        let pct = f(&hz, "uplift_pct").unwrap();
        assert!((pct - 20.0).abs() < 3.0, "杭州 furniture so far {pct}");
        if est.backtest.height() > 0 {
            assert!(hz.column("calibrated_lower_pct").is_ok(), "calibrated");
        }
        for as_of in [None, Some(campaign.window.end + chrono::Duration::days(3))] {
            let same = city_week_estimates(
                &lake,
                &campaign,
                "330000",
                as_of,
                stored.clone(),
                &est.backtest,
            )
            .unwrap();
            assert!(same.equals_missing(&stored), "{as_of:?}");
        }
    }
}
