//! Daily net-sales series per region × category.

use homeseason_schema::campaign::Campaign;
use homeseason_schema::region::NATIONAL;
use polars::prelude::*;

use crate::Result;

/// Category id of the sum of the campaign's targeted categories.
pub const ALL_TARGETED: &str = "all_targeted";

/// The column of [`fen_cells`]' sums: the net amount in integer fen (分).
pub const NET_FEN: &str = "net_fen";

/// `net_amount_yuan` in integer fen, rounded half away from zero.
fn fen() -> Expr {
    (col("net_amount_yuan").cast(DataType::Float64) * lit(100.0))
        .round(0, RoundMode::HalfAwayFromZero)
        .cast(DataType::Int64)
}

/// `rows` (with `net_amount_yuan`) summed in integer fen per `keys` (e.g. `region_code, category,
/// channel, date`): one row per key with the sum in [`NET_FEN`].
///
/// Integer sums do not depend on the order in which polars' parallel group-by adds the rows, and
/// summing these sums over one of the keys gives exactly the sums of a group-by without it: one
/// group-by keyed by a class column (channel, town/country) serves the series of every class and
/// of all classes together ([`series_from_fen`]).
pub fn fen_cells(rows: LazyFrame, keys: &[&str]) -> LazyFrame {
    let by: Vec<Expr> = keys.iter().map(|k| col(*k)).collect();
    rows.group_by(by).agg([fen().sum().alias(NET_FEN)])
}

/// [`fen_cells`] of a frame in hand, computed directly: the same rows (in another order — the
/// group-by's order is no order) for keys that are text, dates or 32-bit integers; other keys go
/// through [`fen_cells`].
///
/// # Errors
/// When a column is missing or `net_amount_yuan` is not a number.
pub(crate) fn fen_cells_of(rows: &DataFrame, keys: &[&str]) -> Result<DataFrame> {
    let yuan = rows.column("net_amount_yuan")?.cast(&DataType::Float64)?;
    // `fen()`: ×100, rounded half away from zero, to i64 (a value outside i64 or not a number is
    // null, as polars' cast makes it).
    let fen: Int64Chunked = yuan
        .f64()?
        .iter()
        .map(|v| {
            let f = (v? * 100.0).round();
            (-9.223_372_036_854_775e18..9.223_372_036_854_775e18)
                .contains(&f)
                .then_some(f as i64)
        })
        .collect();
    group_sum_fen(rows, keys, &fen)
}

/// `frame`'s `fen` summed per `keys` (nulls add nothing) into [`NET_FEN`], one row per key in the
/// order keys are first seen; keys that are not text, dates or 32-bit integers fall back to a
/// polars group-by.
pub(crate) fn group_sum_fen(
    frame: &DataFrame,
    keys: &[&str],
    fen: &Int64Chunked,
) -> Result<DataFrame> {
    enum Key<'a> {
        Text(&'a StringChunked, Names<'a>),
        Int(Int32Chunked, DataType),
    }
    let group_by = || -> Result<DataFrame> {
        let mut with_fen = frame.select(keys.iter().copied())?;
        with_fen.with_column(fen.clone().with_name(NET_FEN.into()).into_column())?;
        let by: Vec<Expr> = keys.iter().map(|k| col(*k)).collect();
        Ok(with_fen
            .lazy()
            .group_by(by)
            .agg([col(NET_FEN).sum()])
            .collect()?)
    };
    // A key as one number: each column's code in 32 bits (a text's number from [`Names`], a null
    // numbered too; an integer's distance from the column's smallest + 1, 0 for a null), four
    // columns at the most.
    if keys.len() > 4 {
        return group_by();
    }
    let mut parts: Vec<Key<'_>> = Vec::with_capacity(keys.len());
    for k in keys {
        let c = frame.column(k)?;
        match c.dtype() {
            DataType::String => parts.push(Key::Text(c.str()?, Names::default())),
            DataType::Date | DataType::Int32 => {
                let values = c.cast(&DataType::Int32)?.i32()?.clone();
                let span =
                    i64::from(values.max().unwrap_or(0)) - i64::from(values.min().unwrap_or(0));
                if span >= i64::from(u32::MAX) - 1 {
                    return group_by();
                }
                parts.push(Key::Int(values, c.dtype().clone()));
            }
            _ => return group_by(),
        }
    }
    let mut packed: Vec<u128> = vec![0; frame.height()];
    for (shift, part) in (0u32..).step_by(32).zip(&mut parts) {
        match part {
            Key::Text(values, names) => {
                for (p, v) in packed.iter_mut().zip(values.iter()) {
                    let code = names.id(v);
                    *p |= u128::from(code) << shift;
                }
            }
            Key::Int(values, _) => {
                let low = values.min().unwrap_or(0);
                for (p, v) in packed.iter_mut().zip(values.iter()) {
                    let code = v.map_or(0, |v| (i64::from(v) - i64::from(low) + 1) as u32);
                    *p |= u128::from(code) << shift;
                }
            }
        }
    }
    let mut first: Vec<usize> = Vec::new();
    let mut sums: Vec<i64> = Vec::new();
    let mut at: std::collections::HashMap<u128, usize, Fast> =
        std::collections::HashMap::with_capacity_and_hasher(frame.height() / 2, Fast::default());
    for (i, (key, f)) in packed.iter().zip(fen.iter()).enumerate() {
        let n = *at.entry(*key).or_insert_with(|| {
            first.push(i);
            sums.push(0);
            sums.len() - 1
        });
        sums[n] += f.unwrap_or(0);
    }
    let mut columns: Vec<Column> = Vec::with_capacity(parts.len() + 1);
    for (k, part) in keys.iter().zip(&parts) {
        columns.push(match part {
            Key::Text(values, _) => first
                .iter()
                .map(|&i| values.get(i))
                .collect::<StringChunked>()
                .with_name((*k).into())
                .into_column(),
            Key::Int(values, dtype) => first
                .iter()
                .map(|&i| values.get(i))
                .collect::<Int32Chunked>()
                .with_name((*k).into())
                .into_series()
                .cast(dtype)?
                .into_column(),
        });
    }
    columns.push(Int64Chunked::from_vec(NET_FEN.into(), sums).into_column());
    Ok(DataFrame::new_infer_height(columns)?)
}

/// `payment_daily` rows → `region_code, category, date, net_amount_yuan` with national (`000000`) and
/// `all_targeted` totals added, sorted.
///
/// Sums are taken in integer fen (分), so they do not depend on the order in which polars' parallel
/// group-by adds the rows: the same lake gives the same bits every run.
///
/// # Errors
/// When a needed column is missing.
pub fn daily_series(payment_daily: LazyFrame, campaign: &Campaign) -> Result<DataFrame> {
    series_from_fen(
        fen_cells(payment_daily, &["region_code", "category", "date"]),
        campaign,
    )
}

/// [`daily_series`] from sums already taken in fen: `by_cell` holds `region_code, category, date`
/// and [`NET_FEN`], one row per region × category × date (a [`fen_cells`] frame, or one summed
/// over a class key, or filtered to one class). The national and `all_targeted` totals are added
/// in fen and the amounts turned into yuan once, so the result is bit for bit [`daily_series`] of
/// the rows the sums came from.
///
/// # Errors
/// When a needed column is missing.
pub fn series_from_fen(by_cell: LazyFrame, campaign: &Campaign) -> Result<DataFrame> {
    series_of(by_cell, campaign, Unit::Yuan)
}

/// [`series_from_fen`] with the amounts left in integer fen ([`NET_FEN`], `i64`) in place of
/// `net_amount_yuan`: sums of it are exact whatever order they are taken in.
pub(crate) fn series_in_fen(by_cell: LazyFrame, campaign: &Campaign) -> Result<DataFrame> {
    series_of(by_cell, campaign, Unit::Fen)
}

/// The unit of the amounts [`series_of`] gives.
#[derive(Clone, Copy)]
enum Unit {
    /// `net_amount_yuan`, `f64`.
    Yuan,
    /// [`NET_FEN`], `i64`.
    Fen,
}

/// [`series_from_fen`] in the unit asked for.
fn series_of(by_cell: LazyFrame, campaign: &Campaign, unit: Unit) -> Result<DataFrame> {
    let cells = by_cell
        .select([
            col("region_code"),
            col("category"),
            col("date"),
            col(NET_FEN).cast(DataType::Int64),
        ])
        .collect()?;
    if cells.column("date")?.dtype() != &DataType::Date {
        return series_from_fen_lazy(cells.lazy(), campaign, unit);
    }
    let regions = cells.column("region_code")?.str()?;
    let categories = cells.column("category")?.str()?;
    let dates = cells.column("date")?.cast(&DataType::Int32)?;
    let dates = dates.i32()?;
    let fens = cells.column(NET_FEN)?.i64()?;
    // Region and category codes as small numbers (`None`, a null, is a code too).
    let mut names: Names<'_> = Names::default();
    let national = names.id(Some(NATIONAL));
    let all_targeted = names.id(Some(ALL_TARGETED));
    let mut rows: Vec<Row> = Vec::with_capacity(cells.height() * 2);
    for (((r, c), d), fen) in regions
        .iter()
        .zip(categories.iter())
        .zip(dates.iter())
        .zip(fens.iter())
    {
        let (r, c) = (names.id(r), names.id(c));
        rows.push(Row {
            region: r,
            category: c,
            date: d,
            fen,
        });
    }
    // The national total per category × date (over every row, as a group-by would), then the
    // targeted categories' total per region × date (the national rows included). A null amount
    // adds nothing to a total; a null date is a key of its own.
    let mut totals: std::collections::HashMap<(u32, Option<i32>), i64, Fast> =
        std::collections::HashMap::default();
    for row in &rows {
        *totals.entry((row.category, row.date)).or_default() += row.fen.unwrap_or(0);
    }
    rows.extend(totals.drain().map(|((category, date), fen)| Row {
        region: national,
        category,
        date,
        fen: Some(fen),
    }));
    let targeted: std::collections::HashSet<u32> = campaign
        .categories
        .targeted
        .iter()
        .filter_map(|c| names.get(c.id()))
        .collect();
    for row in rows.iter().filter(|r| targeted.contains(&r.category)) {
        *totals.entry((row.region, row.date)).or_default() += row.fen.unwrap_or(0);
    }
    rows.extend(totals.drain().map(|((region, date), fen)| Row {
        region,
        category: all_targeted,
        date,
        fen: Some(fen),
    }));
    // Sorted by region, category and date as polars sorts them (nulls first, text by its bytes).
    let rank = names.ranks();
    rows.sort_unstable_by_key(|r| {
        (
            rank[r.region as usize],
            rank[r.category as usize],
            r.date,
            r.fen,
        )
    });
    let name = |id: u32| names.names[id as usize];
    let date = rows
        .iter()
        .map(|r| r.date)
        .collect::<Int32Chunked>()
        .into_series()
        .cast(&DataType::Date)?;
    Ok(DataFrame::new_infer_height(vec![
        rows.iter()
            .map(|r| name(r.region))
            .collect::<StringChunked>()
            .with_name("region_code".into())
            .into_column(),
        rows.iter()
            .map(|r| name(r.category))
            .collect::<StringChunked>()
            .with_name("category".into())
            .into_column(),
        date.with_name("date".into()).into_column(),
        match unit {
            // polars divides a column by a scalar as a product with its reciprocal: the same
            // here, so the bits are those of `col(NET_FEN) / lit(100.0)`.
            Unit::Yuan => rows
                .iter()
                .map(|r| r.fen.map(|f| f as f64 * (1.0 / 100.0)))
                .collect::<Float64Chunked>()
                .with_name("net_amount_yuan".into())
                .into_column(),
            Unit::Fen => rows
                .iter()
                .map(|r| r.fen)
                .collect::<Int64Chunked>()
                .with_name(NET_FEN.into())
                .into_column(),
        },
    ])?)
}

/// One row of [`series_from_fen`]: codes from [`Names`].
struct Row {
    region: u32,
    category: u32,
    date: Option<i32>,
    fen: Option<i64>,
}

/// Text values (region and category codes) numbered in the order they are first seen.
#[derive(Default)]
struct Names<'a> {
    names: Vec<Option<&'a str>>,
    ids: std::collections::HashMap<Option<&'a str>, u32, Fast>,
    /// The last name numbered and its id: a lake's rows come a partition at a time, so a column's
    /// value mostly repeats the row before (compared, not hashed).
    last: Option<(Option<&'a str>, u32)>,
}

/// A multiply-rotate hasher for the group-by's keys (codes and short codes of text: no hostile
/// input reaches a table that lives for one call).
#[derive(Default, Clone, Copy)]
struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn finish(&self) -> u64 {
        // A product's low bits depend on its operands' low bits only: fold the high bits down
        // (the table picks its bucket by the low bits).
        let x = self.0 ^ (self.0 >> 32);
        x.wrapping_mul(0x94_d0_49_bb_13_31_11_eb) ^ (x >> 29)
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u128(&mut self, v: u128) {
        self.write_u64(v as u64);
        self.write_u64((v >> 64) as u64);
    }
}

type Fast = std::hash::BuildHasherDefault<FastHasher>;

impl<'a> Names<'a> {
    fn id(&mut self, name: Option<&'a str>) -> u32 {
        if let Some((last, id)) = self.last
            && last == name
        {
            return id;
        }
        let id = *self.ids.entry(name).or_insert_with(|| {
            self.names.push(name);
            u32::try_from(self.names.len() - 1).expect("fewer than 2^32 codes")
        });
        self.last = Some((name, id));
        id
    }

    fn get(&self, name: &str) -> Option<u32> {
        let at = self.names.iter().position(|n| *n == Some(name))?;
        u32::try_from(at).ok()
    }

    /// Each id's place in the sorted order of the names (`None` first).
    fn ranks(&self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.names.len() as u32).collect();
        order.sort_unstable_by_key(|&i| self.names[i as usize]);
        let mut rank = vec![0; order.len()];
        for (place, id) in order.into_iter().enumerate() {
            rank[id as usize] = place as u32;
        }
        rank
    }
}

/// [`series_from_fen`] as polars expressions: for a `date` column that is not a date, and the
/// reference the tests compare the direct version with.
fn series_from_fen_lazy(by_cell: LazyFrame, campaign: &Campaign, unit: Unit) -> Result<DataFrame> {
    // The series' columns, in order.
    let columns = || {
        [
            col("region_code"),
            col("category"),
            col("date"),
            col(NET_FEN),
        ]
    };
    // Totals over `lf`'s rows by `by` and date, the other key set to `value`.
    let totals = |lf: LazyFrame, by: &str, key: &str, value: &str| {
        lf.group_by([col(by), col("date")])
            .agg([col(NET_FEN).sum()])
            .with_column(lit(value).alias(key))
            .select(columns())
    };
    let national = totals(by_cell.clone(), "category", "region_code", NATIONAL);
    let cells =
        concat([by_cell.select(columns()), national], UnionArgs::default())?.select(columns());
    let targeted: Vec<Expr> = campaign
        .categories
        .targeted
        .iter()
        .map(|c| col("category").eq(lit(c.id())))
        .collect();
    let targeted = targeted
        .into_iter()
        .reduce(Expr::or)
        .unwrap_or_else(|| lit(false));
    let all = totals(
        cells.clone().filter(targeted),
        "region_code",
        "category",
        ALL_TARGETED,
    );
    Ok(concat([cells, all], UnionArgs::default())?
        .select([
            col("region_code"),
            col("category"),
            col("date"),
            match unit {
                Unit::Yuan => {
                    (col(NET_FEN).cast(DataType::Float64) / lit(100.0)).alias("net_amount_yuan")
                }
                Unit::Fen => col(NET_FEN),
            },
        ])
        .sort(
            ["region_code", "category", "date"],
            SortMultipleOptions::default(),
        )
        .collect()?)
}

/// `rows` (the `cell` columns, `date`, `net_amount_yuan`) summed per cell × date, with a zero for
/// each day of `days` (columns `group`, `date`) of the cell's `group` on which the cell has no row.
///
/// For series cut finer than the reporting region — a class of areas (urban/rural), a city — whose
/// sales are sparse (a county's few merchants of one category): a day the region reported on but
/// the cell sold nothing is a zero, not a missing day. Left out, it would leave the day out of the
/// baseline too and pull the uplift towards zero. A day the group has no row at all stays missing.
/// `group` must be one of `cell`.
///
/// # Errors
/// When a needed column is missing.
pub fn with_zero_days(
    rows: LazyFrame,
    days: LazyFrame,
    group: &str,
    cell: &[&str],
) -> Result<DataFrame> {
    let mut key: Vec<&str> = cell.to_vec();
    key.push("date");
    // Summed in integer fen, as in [`daily_series`]: the same bits whatever order the rows come in.
    let mut out: Vec<Expr> = key.iter().map(|c| col(*c)).collect();
    out.push((col(NET_FEN).cast(DataType::Float64) / lit(100.0)).alias("net_amount_yuan"));
    Ok(with_zero_days_fen(fen_cells(rows, &key), days, group, cell)
        .select(out)
        .collect()?)
}

/// [`with_zero_days`] on sums already taken in fen: `sums` holds the `cell` columns, `date` and
/// [`NET_FEN`], one row per cell × date (a [`fen_cells`] frame); the result has the same columns
/// with a zero ([`NET_FEN`] `0`) for each day of the cell's `group` in `days` without a row.
pub fn with_zero_days_fen(
    sums: LazyFrame,
    days: LazyFrame,
    group: &str,
    cell: &[&str],
) -> LazyFrame {
    let cell_cols: Vec<Expr> = cell.iter().map(|c| col(*c)).collect();
    let mut key = cell_cols.clone();
    key.push(col("date"));
    let days = days
        .select([col(group), col("date")])
        .unique_stable(None, UniqueKeepStrategy::First);
    let cells = sums
        .clone()
        .select(cell_cols)
        .unique_stable(None, UniqueKeepStrategy::First);
    cells
        .join(
            days,
            [col(group)],
            [col(group)],
            JoinArgs::new(JoinType::Inner),
        )
        .join(sums, key.clone(), key, JoinArgs::new(JoinType::Left))
        .with_column(col(NET_FEN).fill_null(lit(0i64)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct [`series_from_fen`] gives the polars expressions' frame, value for value, on
    /// cells with null codes, null dates and null amounts. (Cells that already hold national rows
    /// would give two rows of one key, which polars' sort leaves in no set order.)
    #[test]
    fn the_direct_series_equals_the_expressions() {
        let campaign = Campaign::default_2023();
        let regions = ["110000", "330000", "310000", "440300", "650000"];
        let categories = [
            "appliances",
            "furniture",
            "home_textiles",
            "decoration",
            "other",
        ];
        let (mut r, mut c, mut d, mut f) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut x: u64 = 7;
        let mut next = |n: u64| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 33) % n
        };
        for _ in 0..5_000 {
            let ri = next(6) as usize;
            r.push(regions.get(ri).copied());
            let ci = next(6) as usize;
            c.push(categories.get(ci).copied());
            d.push((next(50) > 0).then(|| 19_000 + next(40) as i32));
            f.push((next(30) > 0).then(|| next(2_000_000) as i64 - 500_000));
        }
        let cells = DataFrame::new_infer_height(vec![
            Column::new("region_code".into(), r),
            Column::new("category".into(), c),
            Column::new("date".into(), d)
                .cast(&DataType::Date)
                .expect("date"),
            Column::new(NET_FEN.into(), f),
        ])
        .expect("frame")
        // One row per key, as `fen_cells` gives.
        .lazy()
        .group_by([col("region_code"), col("category"), col("date")])
        .agg([col(NET_FEN).first()])
        .collect()
        .expect("unique keys");
        let direct = series_from_fen(cells.clone().lazy(), &campaign).expect("direct");
        let expressions =
            series_from_fen_lazy(cells.clone().lazy(), &campaign, Unit::Yuan).expect("expressions");
        assert!(direct.height() > 1_000);
        for i in 0..direct.height() {
            let a = direct.get_row(i).expect("row");
            let b = expressions.get_row(i).expect("row");
            assert_eq!(a, b, "row {i}");
        }
        assert!(
            direct.equals_missing(&expressions),
            "{direct}\n{expressions}"
        );
        // The direct group-by: the rows of `fen_cells`, in another order.
        let rows = DataFrame::new_infer_height(vec![
            cells.column("region_code").expect("r").clone(),
            cells.column("category").expect("c").clone(),
            cells.column("date").expect("d").clone(),
            Column::new(
                "net_amount_yuan".into(),
                cells
                    .column(NET_FEN)
                    .expect("f")
                    .i64()
                    .expect("i64")
                    .iter()
                    .map(|f| f.map(|f| f as f64 / 100.0))
                    .collect::<Vec<_>>(),
            ),
        ])
        .expect("rows");
        let rows = concat([rows.clone().lazy(), rows.lazy()], UnionArgs::default())
            .expect("twice")
            .collect()
            .expect("rows");
        let order = ["region_code", "category", "date"];
        let sorted = |f: DataFrame| {
            f.lazy()
                .sort(order, SortMultipleOptions::default())
                .collect()
                .expect("sorted")
        };
        let direct = sorted(fen_cells_of(&rows, &order).expect("direct"));
        let expressions = sorted(
            fen_cells(rows.lazy(), &order)
                .collect()
                .expect("expressions"),
        );
        assert!(
            direct.equals_missing(&expressions),
            "{direct}\n{expressions}"
        );
        let empty = series_from_fen(
            DataFrame::new_infer_height(vec![
                Column::new_empty("region_code".into(), &DataType::String),
                Column::new_empty("category".into(), &DataType::String),
                Column::new_empty("date".into(), &DataType::Date),
                Column::new_empty(NET_FEN.into(), &DataType::Int64),
            ])
            .expect("empty")
            .lazy(),
            &campaign,
        )
        .expect("empty series");
        assert_eq!(empty.height(), 0);
        assert_eq!(
            empty.schema(),
            series_from_fen_lazy(
                empty.clone().lazy().select([
                    col("region_code"),
                    col("category"),
                    col("date"),
                    lit(0i64).alias(NET_FEN),
                ]),
                &campaign,
                Unit::Yuan
            )
            .expect("empty")
            .schema()
        );
    }
}
