//! Small-cell suppression for the dashboard copies, with complementary and secondary suppression
//! so that no suppressed cell can be recovered by adding and subtracting published figures.
//!
//! A `payment_daily` cell (day × region × MCC, per institution and channel) of fewer than `k`
//! distinct merchants is suppressed (*primary*). Every other figure homeseason publishes sums whole
//! *units* — a unit is the cells of one day × region × category: `baseline_daily.actual` is the unit
//! (region × category × day) and its sums over regions (the nation), over categories
//! (`all_targeted`) and over days (weeks, the window, placebo windows); `weekly_tracking` and
//! `uplift` sum weeks and windows of them. So:
//!
//! 1. *Complementary* (cells): until no margin of [`PUBLISHED_MARGINS`] holds exactly one suppressed
//!    cell, the visible cell with the fewest merchants (then the smallest amount) of such a group is
//!    suppressed as well. A unit then holds no suppressed cell, two or more (each safe: any figure
//!    holds both or neither, so one can be raised and the other lowered without changing anything
//!    published), or — when the unit is one cell — exactly one: its figure *is* the small cell.
//! 2. *Secondary* (units): such a unit is hidden together with seven others in a box of two days ×
//!    two regions × two categories (d, d′ in the same segment of days — the same Monday–Sunday week,
//!    the same month, the same side of every window boundary [`Published::cuts`] — so every
//!    published span of days holds both or neither). Adding +1 at the corners (d, r, c), (d′, r′, c),
//!    (d, r′, c′), (d′, r, c′) and −1 at the others changes no sum over two days, two regions or two
//!    categories, so no published figure but the corners' own moves: with the corners' figures
//!    blanked (and, where a corner has no suppressed cell, its smallest cell suppressed), none of
//!    them can be derived. Where the small unit's region is the only one with that category that
//!    day, the box is two days × two categories in its region and the national figures of those
//!    days and categories are blanked too; where the two categories lie on either side of the
//!    targeted set, the `all_targeted` figures of the box's days are blanked. The box chosen is the
//!    one that blanks the fewest national and `all_targeted` figures, then whose two days are of
//!    the same kind (workday, weekend, holiday …: an earlier year's baselines weigh days of one
//!    kind alike, so such a box more often leaves their sums published, step 3), then the fewest
//!    unit figures, then suppresses the fewest merchants and the smallest amount (deterministic: ties go to the
//!    earliest day, region and category). Failing such a box (no other day in its segment with the
//!    corners' units), the box is one day × two regions × two categories: it moves each corner's
//!    series on that day alone. On a *free* day ([`Published::free`]) no published sum over days
//!    holds it; elsewhere the sums over days of the corners' series that hold the day are not
//!    published (step 3). A small unit with still no box (no other region and category that day)
//!    is listed in [`Suppression::unprotected`].
//! 3. *Sums over days* ([`SumCheck`]): a box raises its corners' series on one day and lowers them
//!    on the other (a box within a day: raises or lowers them on that day). A published sum over
//!    days of one series — a week, the window to date, a window or placebo window, a local event's
//!    days, or a baseline over such a span, which weights the earlier year's reference days
//!    unequally ([`DayWeights`]) — is published only when it weights both days of every box that
//!    moves the series equally (a box within a day: does not hold the day). Then every published
//!    figure, and so every combination of them, is unchanged by every box, and no suppressed cell
//!    can be derived. Sums over all categories, and national sums of a box with two regions, never
//!    move: the headline totals (national, `all_targeted`) stay published unless a box had to
//!    blank their daily figures (one region holding the category, or categories on either side of
//!    the targeted set — the boxes chosen avoid both where they can).
//!
//! [`Suppression::blanked_margins`] names every daily figure not published;
//! [`blank_exposed_margins`] blanks them in the dashboard copy of `baseline_daily`, and the report and
//! the notebook blank the same.

use std::collections::HashMap;

use polars::prelude::*;

/// The margins homeseason publishes over `payment_daily` cells, as the columns each groups by.
/// `baseline_daily.actual` is region × category × day, its `all_targeted` rows region × (targeted
/// categories) × day, its `000000` rows the national category × day and targeted × day; region × day
/// and the national day are the report's series. `__targeted` marks the campaign's targeted
/// categories ([`suppress_small_cells`] adds it).
pub const PUBLISHED_MARGINS: [&[&str]; 6] = [
    &["date", "region_code", "category"],
    &["date", "region_code", TARGETED],
    &["date", "region_code"],
    &["date", "category"],
    &["date", TARGETED],
    &["date"],
];

/// The helper column marking targeted categories.
const TARGETED: &str = "__targeted";

/// What suppression did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Suppression {
    /// Cells of fewer than `k` merchants.
    pub primary: usize,
    /// Cells suppressed so that no margin group holds exactly one suppressed cell.
    pub complementary: usize,
    /// Margin groups that are one suppressed cell alone: the groups' key values,
    /// `margin columns = values`.
    pub exposed_margins: Vec<String>,
    /// Cells suppressed by secondary suppression: the smallest cell of a box corner that had none.
    pub secondary: usize,
    /// Boxes of secondary suppression (one per small unit not already in a box).
    pub boxes: usize,
    /// Every daily figure not published (the exposed margins and the box corners' figures, with
    /// the national and `all_targeted` figures a box needs blanked), sorted, in the form of
    /// [`Suppression::exposed_margins`]: blanked in the dashboard copy of `baseline_daily`, the
    /// report and the notebook.
    pub blanked_margins: Vec<String>,
    /// Units (`date=…,region_code=…,category=…`) that are one suppressed cell and for which no box
    /// exists: their own figure is blanked, but a sum over days, regions or categories that holds
    /// them may still give them away (a unit alone in its week segment on a summed day is its own
    /// weekly figure). Empty on every season tested.
    pub unprotected: Vec<String>,
    /// What each box (and each unprotected unit) moves, as a sum over days must see it
    /// ([`SumCheck`]). Not written to `_suppression.json`: [`Suppression::blanked_margins`] names
    /// the same figures.
    #[serde(skip)]
    pub moves: Vec<BoxMove>,
}

/// One box of secondary suppression as a sum over days sees it: the box raises the daily figure of
/// each series of [`BoxMove::series`] on `days[0]` and lowers it by as much on `days[1]` (or the
/// other way round); a box within one day (`days` of one) raises or lowers it on that day only.
/// Every daily figure it moves is blanked; a published sum over days of one of these series gives
/// nothing away exactly when its weights on the box's days are equal (a box within a day: when the
/// sum does not hold the day) — [`SumCheck::safe`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoxMove {
    /// The box's days (one or two).
    pub days: Vec<chrono::NaiveDate>,
    /// The daily series the box moves, as `(region, category)` of `baseline_daily`
    /// (`000000`: national; `all_targeted`: the targeted categories' sum).
    pub series: Vec<(String, String)>,
}

/// How a published sum over days weights the daily figures of one series: `weights` (absent: 0),
/// and `nonlinear`, ranges of days whose figures enter it other than linearly (the weekday levels
/// of a date-anchored reference day): no box may touch them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DayWeights {
    /// The weight of each day's figure in the sum.
    pub weights: std::collections::BTreeMap<chrono::NaiveDate, f64>,
    /// Days whose figures enter the sum non-linearly.
    pub nonlinear: Vec<homeseason_schema::campaign::DateRange>,
}

impl DayWeights {
    /// A plain sum of the figures of `days` (each once).
    pub fn days(days: impl IntoIterator<Item = chrono::NaiveDate>) -> DayWeights {
        DayWeights {
            weights: days.into_iter().map(|d| (d, 1.0)).collect(),
            nonlinear: Vec::new(),
        }
    }

    /// A plain sum of the figures of the days of `span`.
    #[must_use]
    pub fn span(span: homeseason_schema::campaign::DateRange) -> DayWeights {
        DayWeights::days(span.iter())
    }

    /// The weight of `day`.
    #[must_use]
    pub fn at(&self, day: chrono::NaiveDate) -> f64 {
        self.weights.get(&day).copied().unwrap_or(0.0)
    }

    /// Whether no box with days `days` moves the sum: equal weights on two days (a box within one
    /// day: weight 0), and neither day among the non-linear ones.
    #[must_use]
    pub fn cancels(&self, days: &[chrono::NaiveDate]) -> bool {
        if days
            .iter()
            .any(|d| self.nonlinear.iter().any(|r| r.contains(*d)))
        {
            return false;
        }
        match days {
            [d] => self.at(*d).abs() < 1e-12,
            [d, e] => {
                let (a, b) = (self.at(*d), self.at(*e));
                (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
            }
            _ => false,
        }
    }
}

/// The published sums over days checked against the boxes of a [`Suppression`]: a sum over days
/// of one series (a region's or the nation's, a category's or `all_targeted`) is safe when every
/// box that moves the series leaves the sum unchanged ([`DayWeights::cancels`]). Every published
/// figure then stays orthogonal to every box's move, and so does any combination of them: no
/// suppressed cell can be derived. Sums over all categories never move (a box raises and lowers
/// both its categories in each of its regions).
#[derive(Debug, Clone, Default)]
pub struct SumCheck {
    /// The boxes' days, by the series they move.
    by_series: HashMap<(String, String), Vec<Vec<chrono::NaiveDate>>>,
}

impl SumCheck {
    /// The check for what `s` did.
    #[must_use]
    pub fn new(s: &Suppression) -> SumCheck {
        let mut by_series: HashMap<(String, String), Vec<Vec<chrono::NaiveDate>>> = HashMap::new();
        for m in &s.moves {
            for key in &m.series {
                by_series
                    .entry(key.clone())
                    .or_default()
                    .push(m.days.clone());
            }
        }
        SumCheck { by_series }
    }

    /// Whether the series `(region, category)` (`000000`: national; `all_targeted`) moves at all.
    #[must_use]
    pub fn moved(&self, region: &str, category: &str) -> bool {
        self.by_series
            .contains_key(&(region.to_owned(), category.to_owned()))
    }

    /// Whether a sum over days of the series `(region, category)` weighted by `weights` can be
    /// published: no box moves it.
    #[must_use]
    pub fn safe(&self, region: &str, category: &str, weights: &DayWeights) -> bool {
        self.by_series
            .get(&(region.to_owned(), category.to_owned()))
            .is_none_or(|boxes| boxes.iter().all(|days| weights.cancels(days)))
    }
}

impl SumCheck {
    /// Whether a sum over days weighted by `weights` of the `category` series of any one region
    /// (or a weighted sum of several regions' series over the same days, as a synthetic control
    /// is) can be published: [`SumCheck::safe`] for every region's series of the category.
    #[must_use]
    pub fn safe_in_every_region(&self, category: &str, weights: &DayWeights) -> bool {
        self.by_series.iter().all(|((region, c), boxes)| {
            c != category
                || region == homeseason_schema::region::NATIONAL
                || boxes.iter().all(|days| weights.cancels(days))
        })
    }
}

/// `frame` with `columns` blanked (null, of each column's own type) in the rows where `rows` is
/// true; other rows and columns unchanged. A column `frame` lacks is skipped.
///
/// # Errors
/// When `rows` is not as long as `frame`.
pub fn blank_rows(frame: &DataFrame, rows: &[bool], columns: &[&str]) -> PolarsResult<DataFrame> {
    const FLAG: &str = "__blank_row";
    if !rows.contains(&true) {
        return Ok(frame.clone());
    }
    let mut out = frame.clone();
    out.with_column(Column::new(FLAG.into(), rows))?;
    let exprs: Vec<Expr> = columns
        .iter()
        .filter_map(|c| frame.column(c).ok().map(|s| (*c, s.dtype().clone())))
        .map(|(c, t)| {
            when(col(FLAG))
                .then(lit(NULL).cast(t))
                .otherwise(col(c))
                .alias(c)
        })
        .collect();
    out.lazy().with_columns(exprs).collect()?.drop(FLAG)
}

/// What homeseason publishes over `payment_daily`, as suppression needs to know it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Published {
    /// The campaign's targeted categories (the `all_targeted` figures).
    pub targeted: Vec<String>,
    /// First days of the published spans of days beyond weeks and months: the window, its day
    /// after, the pre-period and the placebo windows (see [`Published::of`]). Days of a box lie
    /// between the same cuts, in the same Monday–Sunday week and the same month.
    pub cuts: Vec<chrono::NaiveDate>,
    /// Every day any published figure sums over several days may hold (weeks, windows,
    /// pre-periods, and the prior-year and two-year days their baselines scale from), as ranges;
    /// `None`: any day may be in such a sum. A day outside them all is *free*: only its own daily
    /// figures hold it, so a box of one day (two regions × two categories) protects a small unit
    /// there.
    pub summed: Option<Vec<homeseason_schema::campaign::DateRange>>,
}

impl Published {
    /// What a campaign publishes: its targeted categories, and cuts at the window's first day and
    /// the day after it, the pre-period's first day and the day after it, and the first day of the
    /// earlier placebo window (as long as the pre-period, just before it:
    /// `homeseason_metrics::placebo_windows`). Summed days ([`Published::summed`]): from the
    /// placebo window's first day to the window's last, with the months it touches, and the same
    /// stretch one and two years (364 and 728 days) earlier widened by 70 days on each side (the
    /// reference days of the baselines: holiday blocks within 40 days, ordinary days within four
    /// weeks, weekday levels within three weeks of them).
    #[must_use]
    pub fn of(campaign: &homeseason_schema::campaign::Campaign) -> Published {
        use chrono::Datelike;
        let (w, pre) = (campaign.window, campaign.baseline.pre_period);
        let day = chrono::Duration::days(1);
        let first = (pre.start - chrono::Duration::days(pre.days())).min(w.start);
        let first = first.with_day(1).unwrap_or(first);
        let last = w.end.max(pre.end);
        let last = last
            .with_day(1)
            .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
            .map_or(last, |d| d - day);
        let mut summed = vec![homeseason_schema::campaign::DateRange {
            start: first,
            end: last,
        }];
        for years in [1, 2] {
            summed.push(homeseason_schema::campaign::DateRange {
                start: first - chrono::Duration::days(364 * years + 70),
                end: last - chrono::Duration::days(364 * years - 70),
            });
        }
        Published {
            targeted: campaign
                .categories
                .targeted_ids()
                .map(str::to_owned)
                .collect(),
            cuts: vec![
                w.start,
                w.end + day,
                pre.start,
                pre.end + day,
                pre.start - chrono::Duration::days(pre.days()),
            ],
            summed: Some(summed),
        }
    }

    /// Whether no published sum over days may hold `day` ([`Published::summed`]).
    #[must_use]
    pub fn free(&self, day: chrono::NaiveDate) -> bool {
        self.summed
            .as_ref()
            .is_some_and(|spans| !spans.iter().any(|s| s.contains(day)))
    }
}

/// One text key per row for the columns `cols` (`\u{1f}`-separated; nulls as `\u{0}`).
fn keys(frame: &DataFrame, cols: &[&str]) -> PolarsResult<Vec<String>> {
    let mut out = vec![String::new(); frame.height()];
    for (i, c) in cols.iter().enumerate() {
        let text = frame.column(c)?.cast(&DataType::String)?;
        for (row, v) in text.str()?.iter().enumerate() {
            if i > 0 {
                out[row].push('\u{1f}');
            }
            out[row].push_str(v.unwrap_or("\u{0}"));
        }
    }
    Ok(out)
}

/// Each cell's merchants and absolute net amount (0 where empty): what "smallest" compares.
fn cell_sizes(daily: &DataFrame) -> PolarsResult<(Vec<i64>, Vec<f64>)> {
    let merchants: Vec<i64> = daily
        .column("merchant_count")?
        .cast(&DataType::Int64)?
        .i64()?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect();
    let amounts: Vec<f64> = daily
        .column("net_amount_yuan")?
        .cast(&DataType::Float64)?
        .f64()?
        .iter()
        .map(|v| v.unwrap_or(0.0).abs())
        .collect();
    Ok((merchants, amounts))
}

/// The smallest of `rows`: the fewest merchants, then the smallest amount, then the first row.
fn smallest(
    rows: impl IntoIterator<Item = usize>,
    merchants: &[i64],
    amounts: &[f64],
) -> Option<usize> {
    rows.into_iter().min_by(|&a, &b| {
        merchants[a]
            .cmp(&merchants[b])
            .then(amounts[a].total_cmp(&amounts[b]))
            .then(a.cmp(&b))
    })
}

/// Which rows of `daily` to suppress: the primary cells and their complements, and the margin groups
/// that are one suppressed cell alone.
///
/// # Errors
/// When `daily` lacks `merchant_count`, `net_amount_yuan` or a margin column.
pub fn suppression_mask(
    daily: &DataFrame,
    k: u32,
    margins: &[&[&str]],
) -> PolarsResult<(Vec<bool>, Suppression)> {
    let (merchants, amounts) = cell_sizes(daily)?;
    let mut suppressed: Vec<bool> = merchants.iter().map(|&m| m < i64::from(k)).collect();
    let primary = suppressed.iter().filter(|s| **s).count();
    // Each margin's groups, as lists of rows (in row order, so the result is deterministic).
    let mut groups: Vec<(usize, Vec<Vec<usize>>)> = Vec::new();
    for (m, cols) in margins.iter().enumerate() {
        groups.push((m, margin_groups(daily, cols)?));
    }
    let mut complementary = 0;
    loop {
        let mut changed = false;
        for (_, rows) in &groups {
            for group in rows {
                let hidden = group.iter().filter(|&&r| suppressed[r]).count();
                if hidden != 1 {
                    continue;
                }
                let pick = smallest(
                    group.iter().copied().filter(|&r| !suppressed[r]),
                    &merchants,
                    &amounts,
                );
                if let Some(r) = pick {
                    suppressed[r] = true;
                    complementary += 1;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let mut exposed_margins = Vec::new();
    for (m, rows) in &groups {
        for group in rows {
            if group.len() == 1 && suppressed[group[0]] {
                let cols = margins[*m];
                let key = keys(&daily.slice(i64::try_from(group[0]).unwrap_or(0), 1), cols)?;
                let values = key.first().cloned().unwrap_or_default();
                exposed_margins.push(margin_key(cols, values.split('\u{1f}')));
            }
        }
    }
    Ok((
        suppressed,
        Suppression {
            primary,
            complementary,
            exposed_margins,
            ..Suppression::default()
        },
    ))
}

/// Which cells of `daily` (the lake's `payment_daily`) are suppressed at `k` merchants — primary,
/// complementary ([`PUBLISHED_MARGINS`]) and secondary (boxes, see the module docs) — and which
/// daily figures are blanked: what [`suppress_small_cells`] blanks, without making the copy.
///
/// # Errors
/// When `daily` lacks the `payment_daily` columns.
pub fn suppression_of(
    daily: &DataFrame,
    k: u32,
    published: &Published,
) -> PolarsResult<(Vec<bool>, Suppression)> {
    let targeted: Vec<&str> = published.targeted.iter().map(String::as_str).collect();
    let marked = with_targeted(daily, &targeted)?;
    let (mut mask, mut summary) = suppression_mask(&marked, k, &PUBLISHED_MARGINS)?;
    secondary(&marked, &mut mask, &mut summary, published)?;
    Ok((mask, summary))
}

/// The groups of rows of `frame` that share the values of `cols` (each group's rows in row order,
/// groups in the order of their first row): the cells each figure of a margin sums.
///
/// # Errors
/// When `frame` lacks a column of `cols`.
pub fn margin_groups(frame: &DataFrame, cols: &[&str]) -> PolarsResult<Vec<Vec<usize>>> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut rows: Vec<Vec<usize>> = Vec::new();
    for (row, key) in keys(frame, cols)?.into_iter().enumerate() {
        let g = *index.entry(key).or_insert_with(|| {
            rows.push(Vec::new());
            rows.len() - 1
        });
        rows[g].push(row);
    }
    Ok(rows)
}

/// A unit: day (days since 1970-01-01), region and category (indices into sorted lists).
type Unit = (i32, usize, usize);

/// Secondary suppression (module docs, step 2): a box around every unit that is one suppressed
/// cell, chosen deterministically; records the blanked figures in `summary`.
fn secondary(
    daily: &DataFrame,
    mask: &mut [bool],
    summary: &mut Suppression,
    published: &Published,
) -> PolarsResult<()> {
    use std::collections::{BTreeMap, BTreeSet};

    use chrono::Datelike;
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let days: Vec<i32> = daily
        .column("date")?
        .cast(&DataType::Date)?
        .cast(&DataType::Int32)?
        .i32()?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect();
    let text = |c: &str| -> PolarsResult<Vec<String>> { keys(daily, &[c]) };
    let (region_of, category_of) = (text("region_code")?, text("category")?);
    let sorted = |v: &[String]| -> Vec<String> {
        let set: BTreeSet<&String> = v.iter().collect();
        set.into_iter().cloned().collect()
    };
    let (regions, categories) = (sorted(&region_of), sorted(&category_of));
    let position =
        |list: &[String], v: &str| list.binary_search_by(|x| x.as_str().cmp(v)).unwrap_or(0);
    let targeted: Vec<bool> = categories
        .iter()
        .map(|c| published.targeted.iter().any(|t| t == c))
        .collect();
    let (merchants, amounts) = cell_sizes(daily)?;
    let mut units: BTreeMap<Unit, Vec<usize>> = BTreeMap::new();
    for row in 0..days.len() {
        let unit = (
            days[row],
            position(&regions, &region_of[row]),
            position(&categories, &category_of[row]),
        );
        units.entry(unit).or_default().push(row);
    }
    // The segment of a day: its Monday–Sunday week, its month and how many cuts lie at or before it.
    let date = |d: i32| epoch + chrono::Duration::days(i64::from(d));
    let segment = |d: i32| {
        let day = date(d);
        let monday = d - i32::try_from(day.weekday().num_days_from_monday()).unwrap_or(0);
        let cuts = published.cuts.iter().filter(|c| **c <= day).count();
        (
            monday,
            day.year() * 12 + i32::try_from(day.month()).unwrap_or(0),
            cuts,
        )
    };
    let mut by_segment: BTreeMap<(i32, i32, usize), BTreeSet<i32>> = BTreeMap::new();
    for &(d, _, _) in units.keys() {
        by_segment.entry(segment(d)).or_default().insert(d);
    }
    let hidden_in = |mask: &[bool], rows: &[usize]| rows.iter().filter(|&&r| mask[r]).count();
    let atomic = |(d, r, c): Unit| {
        margin_key(
            &["date", "region_code", "category"],
            [date(d).to_string().as_str(), &regions[r], &categories[c]],
        )
    };
    let mut blanked: BTreeSet<String> = summary.exposed_margins.iter().cloned().collect();
    // The units whose own figure is blanked (kept beside `blanked` so candidates need no keys).
    let mut blanked_units: BTreeSet<Unit> = units
        .keys()
        .filter(|u| blanked.contains(&atomic(**u)))
        .copied()
        .collect();
    let small: Vec<Unit> = units
        .iter()
        .filter(|(_, rows)| hidden_in(mask, rows) == 1)
        .map(|(u, _)| *u)
        .collect();
    let mut boxed: BTreeSet<Unit> = BTreeSet::new();
    for u in small {
        if boxed.contains(&u) {
            continue;
        }
        let (d, r, c) = u;
        // (cost, corners, national and all_targeted figures, cells to suppress)
        type Candidate = (
            (bool, usize, bool, usize, i64, f64),
            Vec<Unit>,
            Vec<String>,
            Vec<usize>,
        );
        let mut best: Option<Candidate> = None;
        let others_r = (0..regions.len())
            .filter(|&x| x != r)
            .map(Some)
            .chain([None]);
        let others_r: Vec<Option<usize>> = others_r.collect();
        // The second days to try: the other days of its segment; failing those, the day itself —
        // a box of one day (two regions × two categories), which moves each corner's series on
        // that day alone: on a free day no published sum holds it; elsewhere the sums over days of
        // the corners' series that hold the day are not published ([`SumCheck`]).
        let same_segment: Vec<i32> = by_segment
            .get(&segment(d))
            .into_iter()
            .flatten()
            .copied()
            .filter(|&x| x != d)
            .collect();
        for d2 in same_segment.iter().chain(&[d]).copied() {
            if d2 == d && best.is_some() {
                break;
            }
            let box_days: Vec<i32> = if d2 == d { vec![d] } else { vec![d, d2] };
            for c2 in (0..categories.len()).filter(|&x| x != c) {
                for &r2 in &others_r {
                    let mut corners: Vec<Unit> = Vec::new();
                    for &dd in &box_days {
                        for rr in [Some(r), r2].into_iter().flatten() {
                            for cc in [c, c2] {
                                corners.push((dd, rr, cc));
                            }
                        }
                    }
                    if corners.iter().any(|x| !units.contains_key(x)) {
                        continue;
                    }
                    let mut figures: Vec<String> = Vec::new();
                    let split = targeted[c] != targeted[c2];
                    for &dd in &box_days {
                        let day = date(dd).to_string();
                        if split {
                            for rr in [Some(r), r2].into_iter().flatten() {
                                figures.push(margin_key(
                                    &["date", "region_code", TARGETED],
                                    [day.as_str(), &regions[rr], "true"],
                                ));
                            }
                        }
                        if r2.is_none() {
                            for cc in [c, c2] {
                                figures.push(margin_key(
                                    &["date", "category"],
                                    [day.as_str(), &categories[cc]],
                                ));
                            }
                            if split {
                                figures
                                    .push(margin_key(&["date", TARGETED], [day.as_str(), "true"]));
                            }
                        }
                    }
                    figures.retain(|f| !blanked.contains(f));
                    let new_units = corners
                        .iter()
                        .filter(|x| !blanked_units.contains(*x))
                        .count();
                    let cells: Vec<usize> = corners
                        .iter()
                        .filter(|x| hidden_in(mask, &units[*x]) == 0)
                        .filter_map(|x| smallest(units[x].iter().copied(), &merchants, &amounts))
                        .collect();
                    let cost = (
                        r2.is_none(),
                        figures.len(),
                        homeseason_schema::calendar::day_type(date(d))
                            != homeseason_schema::calendar::day_type(date(d2)),
                        new_units,
                        cells.iter().map(|&i| merchants[i]).sum::<i64>(),
                        cells.iter().map(|&i| amounts[i]).sum::<f64>(),
                    );
                    let better = best.as_ref().is_none_or(|b| {
                        let o = &b.0;
                        (cost.0, cost.1, cost.2, cost.3, cost.4)
                            .cmp(&(o.0, o.1, o.2, o.3, o.4))
                            .then(cost.5.total_cmp(&o.5))
                            .is_lt()
                    });
                    if better {
                        best = Some((cost, corners, figures, cells));
                    }
                }
            }
        }
        let Some((_, corners, figures, cells)) = best else {
            summary.unprotected.push(atomic(u));
            summary.moves.push(BoxMove {
                days: vec![date(d)],
                series: vec![(regions[r].clone(), categories[c].clone())],
            });
            blanked.insert(atomic(u));
            blanked_units.insert(u);
            continue;
        };
        for cell in cells {
            mask[cell] = true;
            summary.secondary += 1;
        }
        summary
            .moves
            .push(box_move(&corners, &figures, &regions, &categories, date));
        for x in corners {
            blanked.insert(atomic(x));
            blanked_units.insert(x);
            boxed.insert(x);
        }
        blanked.extend(figures);
        summary.boxes += 1;
    }
    summary.blanked_margins = blanked.into_iter().collect();
    Ok(())
}

/// What a box with `corners` that blanks the national and `all_targeted` figures `figures` moves
/// ([`BoxMove`]): its days, the corners' series, and the series of those figures.
fn box_move(
    corners: &[Unit],
    figures: &[String],
    regions: &[String],
    categories: &[String],
    date: impl Fn(i32) -> chrono::NaiveDate,
) -> BoxMove {
    let mut days: Vec<chrono::NaiveDate> = corners.iter().map(|u| date(u.0)).collect();
    days.dedup();
    days.sort_unstable();
    days.dedup();
    let mut series: Vec<(String, String)> = corners
        .iter()
        .map(|&(_, r, c)| (regions[r].clone(), categories[c].clone()))
        .collect();
    for f in figures {
        let mut region = homeseason_schema::region::NATIONAL.to_owned();
        let mut category = String::new();
        for pair in f.split(',') {
            match pair.split_once('=') {
                Some(("region_code", v)) => v.clone_into(&mut region),
                Some(("category", v)) => v.clone_into(&mut category),
                Some((TARGETED, _)) => "all_targeted".clone_into(&mut category),
                _ => {}
            }
        }
        series.push((region, category));
    }
    series.sort();
    series.dedup();
    BoxMove { days, series }
}

/// The dashboard copy of `payment_daily`: every cell of fewer than `k` distinct merchants, and the
/// complementary and secondary cells that keep it from being derived from published figures
/// ([`suppression_of`]), is flagged `suppressed = true` with its counts and money blanked (null).
/// Other rows are unchanged.
///
/// # Errors
/// When `daily` lacks the `payment_daily` columns.
pub fn suppress_small_cells(
    daily: &DataFrame,
    k: u32,
    published: &Published,
) -> PolarsResult<(DataFrame, Suppression)> {
    let (mask, summary) = suppression_of(daily, k, published)?;
    let mut order = crate::payments::daily_select();
    order.push(col("suppressed"));
    let mut frame = daily
        .clone()
        .lazy()
        .with_columns([
            col("txn_count").cast(DataType::Int64),
            col("amount_yuan").cast(DataType::Float64),
            col("refund_amount_yuan").cast(DataType::Float64),
            col("net_amount_yuan").cast(DataType::Float64),
            col("merchant_count").cast(DataType::Int64),
        ])
        .collect()?;
    frame = blank_rows(
        &frame,
        &mask,
        &[
            "txn_count",
            "amount_yuan",
            "refund_amount_yuan",
            "net_amount_yuan",
            "merchant_count",
        ],
    )?;
    frame.with_column(Column::new("suppressed".into(), mask))?;
    let out = frame.lazy().select(order).collect()?;
    Ok((out, summary))
}

/// `daily` with the [`TARGETED`] column (`category` is one of `targeted`).
fn with_targeted(daily: &DataFrame, targeted: &[&str]) -> PolarsResult<DataFrame> {
    let list = Series::new("targeted".into(), targeted);
    daily
        .clone()
        .lazy()
        .with_column(
            col("category")
                .is_in(lit(list).implode(false), false)
                .alias(TARGETED),
        )
        .collect()
}

/// How a margin group is named in [`Suppression::exposed_margins`]: `column=value` pairs joined by
/// commas, in the margin's column order (`date=2023-09-01,region_code=330000,category=furniture`).
fn margin_key<'a>(columns: &[&str], values: impl IntoIterator<Item = &'a str>) -> String {
    columns
        .iter()
        .zip(values)
        .map(|(c, v)| format!("{c}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The key in [`Suppression::blanked_margins`] of the daily figure of a `baseline_daily` row: the
/// day `date` (`YYYY-MM-DD`), `region` (`000000`: national) and `category` (`all_targeted`: the
/// sum of the targeted categories).
#[must_use]
pub fn figure_key(date: &str, region: &str, category: &str) -> String {
    let national = region == homeseason_schema::region::NATIONAL;
    match (national, category) {
        (false, "all_targeted") => {
            margin_key(&["date", "region_code", TARGETED], [date, region, "true"])
        }
        (false, _) => margin_key(
            &["date", "region_code", "category"],
            [date, region, category],
        ),
        (true, "all_targeted") => margin_key(&["date", TARGETED], [date, "true"]),
        (true, _) => margin_key(&["date", "category"], [date, category]),
    }
}

/// The dashboard copy of a margin table (`baseline_daily`: region × category × day, with
/// `all_targeted` rows and national `000000` rows): `actual_yuan` blanked, and the row flagged
/// `suppressed`, where the figure is not published ([`Suppression::blanked_margins`]: a margin that
/// is one suppressed cell alone, or a figure secondary suppression hides).
///
/// # Errors
/// When `margin` lacks `date`, `region_code`, `category` or `actual_yuan`.
pub fn blank_exposed_margins(margin: &DataFrame, s: &Suppression) -> PolarsResult<DataFrame> {
    let exposed: std::collections::HashSet<&str> =
        s.blanked_margins.iter().map(String::as_str).collect();
    let (dates, regions, categories) = (
        keys(margin, &["date"])?,
        keys(margin, &["region_code"])?,
        keys(margin, &["category"])?,
    );
    let flags: Vec<bool> = (0..margin.height())
        .map(|i| exposed.contains(figure_key(&dates[i], &regions[i], &categories[i]).as_str()))
        .collect();
    let mut frame = margin
        .clone()
        .lazy()
        .with_column(col("actual_yuan").cast(DataType::Float64))
        .collect()?;
    frame = blank_rows(&frame, &flags, &["actual_yuan"])?;
    frame.with_column(Column::new("suppressed".into(), flags))?;
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    /// Cells of one day: (region, category, mcc, institution, merchants, net amount).
    fn day(cells: &[(&str, &str, &str, &str, i64, f64)]) -> DataFrame {
        let date = NaiveDate::from_ymd_opt(2023, 9, 1).unwrap_or_default();
        let n = cells.len();
        df!(
            "date" => vec![date; n],
            "institution" => cells.iter().map(|c| c.3).collect::<Vec<_>>(),
            "region_code" => cells.iter().map(|c| c.0).collect::<Vec<_>>(),
            "mcc" => cells.iter().map(|c| c.2).collect::<Vec<_>>(),
            "category" => cells.iter().map(|c| c.1).collect::<Vec<_>>(),
            "channel" => vec!["offline"; n],
            "txn_count" => cells.iter().map(|c| c.4 * 3).collect::<Vec<_>>(),
            "amount_yuan" => cells.iter().map(|c| c.5).collect::<Vec<_>>(),
            "refund_amount_yuan" => vec![0.0; n],
            "net_amount_yuan" => cells.iter().map(|c| c.5).collect::<Vec<_>>(),
            "merchant_count" => cells.iter().map(|c| c.4).collect::<Vec<_>>(),
        )
        .unwrap_or_default()
    }

    #[test]
    fn a_lone_small_cell_gets_a_complement_in_every_margin() {
        let d = day(&[
            ("110000", "furniture", "5712", "bank_a", 1, 500.0),
            ("110000", "furniture", "5712", "bank_b", 9, 9000.0),
            ("110000", "furniture", "5713", "bank_a", 4, 4000.0),
            ("110000", "appliances", "5722", "bank_a", 30, 30000.0),
            ("120000", "furniture", "5712", "bank_a", 12, 12000.0),
        ]);
        let d = with_targeted(&d, &["furniture", "appliances"]).unwrap();
        let (mask, s) = suppression_mask(&d, 3, &PUBLISHED_MARGINS).unwrap();
        // The small cell, and the smallest visible cell of its region × category × day.
        assert_eq!(mask, vec![true, false, true, false, false]);
        assert_eq!((s.primary, s.complementary), (1, 1));
        assert!(s.exposed_margins.is_empty());
    }

    /// No season: the cuts of a window from 2023-09-04 to 2023-09-17; days from the Monday a week
    /// before it to its end may be in published sums over days.
    fn published() -> Published {
        let d = |m, day| NaiveDate::from_ymd_opt(2023, m, day).unwrap_or_default();
        Published {
            targeted: ["furniture", "home_appliances", "home_textiles", "textiles"]
                .map(str::to_owned)
                .to_vec(),
            cuts: vec![d(9, 4), d(9, 18)],
            summed: Some(vec![homeseason_schema::campaign::DateRange {
                start: d(8, 28),
                end: d(9, 17),
            }]),
        }
    }

    #[test]
    fn a_unit_that_is_one_small_cell_is_boxed_and_every_corner_blanked() {
        let d2 = NaiveDate::from_ymd_opt(2023, 9, 2).unwrap_or_default();
        let mut d = day(&[
            ("110000", "textiles", "5714", "bank_a", 1, 80.0),
            ("110000", "furniture", "5712", "bank_b", 9, 9000.0),
            ("110000", "furniture", "5713", "bank_a", 4, 4000.0),
            ("120000", "textiles", "5714", "bank_a", 7, 700.0),
            ("120000", "furniture", "5712", "bank_a", 12, 12000.0),
        ]);
        // The next day (the same week), the same cells with more merchants, and a second textiles cell in 110000.
        let mut next = day(&[
            ("110000", "textiles", "5714", "bank_a", 6, 600.0),
            ("110000", "textiles", "5714", "bank_b", 5, 500.0),
            ("110000", "furniture", "5712", "bank_b", 8, 8000.0),
            ("120000", "textiles", "5714", "bank_a", 5, 500.0),
            ("120000", "furniture", "5712", "bank_a", 11, 11000.0),
        ]);
        next.with_column(Column::new("date".into(), vec![d2; 5]))
            .unwrap();
        d.vstack_mut(&next).unwrap();
        let (mask, s) = suppression_of(&d, 3, &published()).unwrap();
        assert!(s.unprotected.is_empty(), "{s:?}");
        assert_eq!((s.primary, s.boxes), (1, 1), "{s:?}");
        // The box: both days × both regions × textiles and furniture; its four corners without a
        // suppressed cell get their smallest cell suppressed.
        for region in ["110000", "120000"] {
            for cat in ["textiles", "furniture"] {
                for date in ["2023-09-01", "2023-09-02"] {
                    let key = format!("date={date},region_code={region},category={cat}");
                    assert!(s.blanked_margins.contains(&key), "{key}: {s:?}");
                }
            }
        }
        // Both categories are targeted and both regions hold them: no national or all_targeted
        // figure is blanked.
        assert_eq!(s.blanked_margins.len(), 8, "{s:?}");
        assert_eq!(
            mask,
            vec![true, true, true, true, true, false, true, true, true, true],
            "{s:?}"
        );
        let margin = df!(
            "date" => [NaiveDate::from_ymd_opt(2023, 9, 1).unwrap_or_default(); 3],
            "region_code" => ["110000", "110000", "000000"],
            "category" => ["textiles", "all_targeted", "textiles"],
            "actual_yuan" => [80.0, 13080.0, 780.0],
        )
        .unwrap();
        let blanked = blank_exposed_margins(&margin, &s).unwrap();
        let actual = blanked
            .column("actual_yuan")
            .unwrap()
            .f64()
            .unwrap()
            .clone();
        assert_eq!(
            actual.iter().collect::<Vec<_>>(),
            vec![None, Some(13080.0), Some(780.0)]
        );
    }

    #[test]
    fn a_small_unit_alone_in_its_category_blanks_the_national_figures_of_its_box() {
        // Only 110000 sells textiles, one small cell the first day.
        let d2 = NaiveDate::from_ymd_opt(2023, 9, 2).unwrap_or_default();
        let mut d = day(&[
            ("110000", "textiles", "5714", "bank_a", 1, 80.0),
            ("110000", "furniture", "5712", "bank_b", 9, 9000.0),
            ("120000", "furniture", "5712", "bank_a", 12, 12000.0),
            ("120000", "home_appliances", "5722", "bank_a", 20, 20000.0),
        ]);
        let mut next = d.clone();
        next.with_column(Column::new("date".into(), vec![d2; 4]))
            .unwrap();
        next.with_column(Column::new("merchant_count".into(), vec![6_i64, 9, 12, 20]))
            .unwrap();
        d.vstack_mut(&next).unwrap();
        let (_, s) = suppression_of(&d, 3, &published()).unwrap();
        assert!(s.unprotected.is_empty(), "{s:?}");
        for key in [
            "date=2023-09-01,category=textiles",
            "date=2023-09-02,category=textiles",
            "date=2023-09-01,category=furniture",
            "date=2023-09-02,category=furniture",
            "date=2023-09-02,region_code=110000,category=textiles",
        ] {
            assert!(s.blanked_margins.iter().any(|m| m == key), "{key}: {s:?}");
        }
    }

    /// A small unit with no other day in its week, on a day no published sum over days holds
    /// (2023-09-01, before the window): boxed within its day (two regions × two categories), every
    /// corner blanked, nothing left unprotected, and the attack on every daily figure recovers
    /// nothing — where blanking the unit's own figure alone (what the module did before: it named
    /// the unit unprotected) let the region's and the category's figures give it away.
    #[test]
    fn a_small_unit_with_no_other_day_in_its_week_is_boxed_within_its_free_day() {
        let d = day(&[
            ("110000", "textiles", "5714", "bank_a", 1, 80.0),
            ("110000", "furniture", "5712", "bank_b", 9, 9000.0),
            ("120000", "textiles", "5714", "bank_a", 7, 700.0),
            ("120000", "furniture", "5712", "bank_a", 12, 12000.0),
        ]);
        let targeted = ["furniture", "home_appliances", "home_textiles", "textiles"];
        let window = homeseason_schema::campaign::DateRange {
            start: NaiveDate::from_ymd_opt(2023, 9, 4).unwrap_or_default(),
            end: NaiveDate::from_ymd_opt(2023, 9, 17).unwrap_or_default(),
        };
        let free = Published {
            summed: Some(vec![window]),
            ..published()
        };
        assert!(free.free(NaiveDate::from_ymd_opt(2023, 9, 1).unwrap_or_default()));
        let (mask, s) = suppression_of(&d, 3, &free).unwrap();
        assert!(s.unprotected.is_empty(), "{s:?}");
        assert_eq!(s.boxes, 1, "{s:?}");
        for region in ["110000", "120000"] {
            for cat in ["textiles", "furniture"] {
                let key = format!("date=2023-09-01,region_code={region},category={cat}");
                assert!(s.blanked_margins.contains(&key), "{key}: {s:?}");
            }
        }
        assert_eq!(mask, vec![true, true, true, true], "{s:?}");
        let secret: Vec<usize> = (0..mask.len()).filter(|&i| mask[i]).collect();
        let figures = published_figures(&d, &targeted, &s.blanked_margins, &["date"]);
        assert!(!figures.is_empty());
        assert_eq!(
            homeseason_test_support::recoverable(&secret, &figures),
            Vec::<usize>::new(),
            "{s:?}"
        );
        // Blanking the unit's own figure alone gives it away: 110000's day total minus furniture.
        let alone = vec!["date=2023-09-01,region_code=110000,category=textiles".to_owned()];
        let figures = published_figures(&d, &targeted, &alone, &["date"]);
        assert_eq!(
            homeseason_test_support::recoverable(&[0], &figures),
            vec![0]
        );
        // Where a published sum over days may hold the day and no other day is in its week, the
        // box is one day still; the sums over days of its corners' series that hold the day are
        // not published ([`SumCheck`]), the nation's are.
        let (_, s) = suppression_of(&d, 3, &published()).unwrap();
        assert!(s.unprotected.is_empty(), "{s:?}");
        assert_eq!(s.boxes, 1);
        let check = SumCheck::new(&s);
        let first = DayWeights::days([NaiveDate::from_ymd_opt(2023, 9, 1).unwrap_or_default()]);
        assert!(!check.safe("110000", "textiles", &first), "{s:?}");
        assert!(check.safe("000000", "textiles", &first), "{s:?}");
        assert!(check.safe("110000", "all_targeted", &first), "{s:?}");
    }

    /// Every figure published over `d`'s cells — each day, each Monday–Sunday week and each
    /// month; by region and nationally; by category, over the targeted categories and over all —
    /// but the daily figures `s` blanks and, with `check`, the sums over days [`SumCheck`] does
    /// not publish.
    fn figures_with_sums(
        d: &DataFrame,
        targeted: &[&str],
        s: &Suppression,
        check: bool,
    ) -> Vec<Vec<usize>> {
        use chrono::Datelike;
        let dates: Vec<NaiveDate> = keys(d, &["date"])
            .unwrap()
            .iter()
            .map(|x| NaiveDate::parse_from_str(x, "%Y-%m-%d").unwrap())
            .collect();
        let mut d = with_targeted(d, targeted).unwrap();
        let monday = |x: &NaiveDate| {
            (*x - chrono::Duration::days(i64::from(x.weekday().num_days_from_monday()))).to_string()
        };
        d.with_column(Column::new(
            "__week".into(),
            dates.iter().map(monday).collect::<Vec<_>>(),
        ))
        .unwrap();
        d.with_column(Column::new(
            "__month".into(),
            dates
                .iter()
                .map(|x| x.format("%Y-%m").to_string())
                .collect::<Vec<_>>(),
        ))
        .unwrap();
        let sums = SumCheck::new(s);
        let (regions, cats) = (
            keys(&d, &["region_code"]).unwrap(),
            keys(&d, &["category"]).unwrap(),
        );
        let mut out = Vec::new();
        for time in ["date", "__week", "__month"] {
            for region in [Some("region_code"), None] {
                for cat in [Some("category"), Some(TARGETED), None] {
                    let cols: Vec<&str> = [Some(time), region, cat].into_iter().flatten().collect();
                    for group in margin_groups(&d, &cols).unwrap() {
                        let i = group[0];
                        let key = &keys(&d.slice(i64::try_from(i).unwrap(), 1), &cols).unwrap()[0];
                        if cat == Some(TARGETED) && !key.ends_with("true") {
                            continue;
                        }
                        if time == "date" {
                            if s.blanked_margins
                                .contains(&margin_key(&cols, key.split('\u{1f}')))
                            {
                                continue;
                            }
                        } else if check && cat.is_some() {
                            let series_region = region.map_or("000000", |_| regions[i].as_str());
                            let series_cat = if cat == Some(TARGETED) {
                                "all_targeted"
                            } else {
                                cats[i].as_str()
                            };
                            let w = DayWeights::days(group.iter().map(|&r| dates[r]));
                            if !sums.safe(series_region, series_cat, &w) {
                                continue;
                            }
                        }
                        out.push(group);
                    }
                }
            }
        }
        out
    }

    /// Issue 13, a unit alone in its segment: Sunday 1 October 2023 has no other day in its
    /// segment (its week starts in September), and any published sum over days may hold it.
    /// Beijing's textiles that day are one cell of one merchant. The box is one day (two regions
    /// × two categories); the weekly and monthly sums of its four corners' series that hold the
    /// day are not published, every other figure is (the national and `all_targeted` sums
    /// included), and the attack on all of them recovers nothing — with those four corners'
    /// sums published too it recovers the cell (where the module listed the unit unprotected).
    #[test]
    fn a_unit_alone_in_its_segment_is_boxed_within_its_day_and_no_sum_over_days_gives_it_away() {
        let regions = ["110000", "120000", "130000"];
        let cats = [
            ("textiles", "5714"),
            ("furniture", "5712"),
            ("supermarket", "5411"),
        ];
        let mut frames = Vec::new();
        for (k, date) in [(2023, 9, 29), (2023, 9, 30), (2023, 10, 1), (2023, 10, 2)]
            .into_iter()
            .enumerate()
        {
            let date = NaiveDate::from_ymd_opt(date.0, date.1, date.2).unwrap();
            let mut cells = Vec::new();
            for (r, region) in regions.into_iter().enumerate() {
                for (c, (cat, mcc)) in cats.into_iter().enumerate() {
                    let base = i64::try_from(5 + (k * 7 + r * 3 + c) % 8).unwrap();
                    if k == 2 && r == 0 && c == 0 {
                        cells.push((region, cat, mcc, "bank_a", 1, 321.09));
                        continue;
                    }
                    for (j, inst) in ["bank_a", "bank_b"].into_iter().enumerate() {
                        let m = base + i64::try_from(j).unwrap();
                        cells.push((
                            region,
                            cat,
                            mcc,
                            inst,
                            m,
                            100.0 * m as f64 + 0.37 * k as f64,
                        ));
                    }
                }
            }
            let mut f = day(&cells);
            f.with_column(Column::new("date".into(), vec![date; f.height()]))
                .unwrap();
            frames.push(f);
        }
        let mut d = frames[0].clone();
        for f in &frames[1..] {
            d.vstack_mut(f).unwrap();
        }
        let targeted = ["textiles", "furniture"];
        let published = Published {
            targeted: targeted.map(str::to_owned).to_vec(),
            cuts: vec![],
            summed: None,
        };
        let (mask, s) = suppression_of(&d, 3, &published).unwrap();
        let sunday = NaiveDate::from_ymd_opt(2023, 10, 1).unwrap();
        assert!(s.unprotected.is_empty(), "{s:?}");
        assert_eq!(s.boxes, 1, "{s:?}");
        assert_eq!(s.moves[0].days, vec![sunday], "{s:?}");
        let small = (0..d.height())
            .find(|&i| d.column("net_amount_yuan").unwrap().f64().unwrap().get(i) == Some(321.09))
            .unwrap();
        assert!(mask[small]);
        let secret: Vec<usize> = (0..mask.len()).filter(|&i| mask[i]).collect();
        let all = figures_with_sums(&d, &targeted, &s, false);
        let kept = figures_with_sums(&d, &targeted, &s, true);
        assert_eq!(
            homeseason_test_support::recoverable(&secret, &kept),
            Vec::<usize>::new(),
            "{s:?}"
        );
        assert!(
            homeseason_test_support::recoverable(&secret, &all).contains(&small),
            "the sums over days of the corners give the cell away"
        );
        // Only the corners' series' sums that hold the Sunday are held back: the week of 25
        // September and October, for each of the four corners.
        assert_eq!(all.len() - kept.len(), 8, "{s:?}");
    }

    /// Cells of `days` days from Monday 2023-09-04: 6 regions × 4 categories × 3 MCCs × 2
    /// institutions, each present with probability 1/2, merchants 1–12, from a fixed LCG (`seed`).
    fn random_season(seed: u64, days: i64) -> DataFrame {
        let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let mut next = move |n: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % n
        };
        let start = NaiveDate::from_ymd_opt(2023, 9, 4).unwrap_or_default();
        let cats = [
            "home_appliances",
            "furniture",
            "home_textiles",
            "supermarket",
        ];
        let (mut date, mut inst, mut region, mut mcc, mut cat, mut merchants, mut amount) =
            (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        for d in 0..days {
            for r in 0..6 {
                for (c, name) in cats.iter().enumerate() {
                    for m in 0..3 {
                        for i in ["bank_a", "wallet_b"] {
                            if next(2) == 0 {
                                continue;
                            }
                            date.push(start + chrono::Duration::days(d));
                            inst.push(i);
                            region.push(format!("{}0000", 11 + r));
                            mcc.push(format!("57{c}{m}"));
                            cat.push(*name);
                            let n = 1 + i64::try_from(next(12)).unwrap_or(0);
                            merchants.push(n);
                            amount.push(
                                f64::from(u32::try_from(next(100_000)).unwrap_or(0)) / 100.0
                                    * n as f64,
                            );
                        }
                    }
                }
            }
        }
        let n = date.len();
        df!(
            "date" => date,
            "institution" => inst,
            "region_code" => region,
            "mcc" => mcc,
            "category" => cat,
            "channel" => vec!["offline"; n],
            "txn_count" => merchants.clone(),
            "amount_yuan" => amount.clone(),
            "refund_amount_yuan" => vec![0.0; n],
            "net_amount_yuan" => amount,
            "merchant_count" => merchants,
        )
        .unwrap_or_default()
    }

    /// Every figure published over `d`'s cells, as the cells each sums: each day, week (the days of
    /// the season are one week) and the season, by region and nationally, by category, over the
    /// targeted categories and over all — except the daily figures `blanked` names.
    fn published_figures(
        d: &DataFrame,
        targeted: &[&str],
        blanked: &[String],
        times: &[&str],
    ) -> Vec<Vec<usize>> {
        let d = with_targeted(d, targeted)
            .unwrap()
            .lazy()
            .with_column(lit(1).alias("__season"))
            .collect()
            .unwrap();
        let mut out = Vec::new();
        for &time in times {
            for region in [Some("region_code"), None] {
                for cat in [Some("category"), Some(TARGETED), None] {
                    let cols: Vec<&str> = [Some(time), region, cat].into_iter().flatten().collect();
                    for group in margin_groups(&d, &cols).unwrap() {
                        let key =
                            &keys(&d.slice(i64::try_from(group[0]).unwrap(), 1), &cols).unwrap()[0];
                        if cat == Some(TARGETED) && !key.ends_with("true") {
                            continue; // the untargeted categories' sum is not published
                        }
                        if time == "date"
                            && blanked.contains(&margin_key(&cols, key.split('\u{1f}')))
                        {
                            continue;
                        }
                        out.push(group);
                    }
                }
            }
        }
        out
    }

    #[test]
    #[expect(
        clippy::print_stderr,
        reason = "the figures of the attack, for the record"
    )]
    fn the_differencing_attack_on_every_published_figure_recovers_nothing() {
        let targeted = ["home_appliances", "furniture", "home_textiles"];
        let published = Published {
            targeted: targeted.map(str::to_owned).to_vec(),
            cuts: vec![],
            summed: None,
        };
        let (mut attacked, mut cells, mut hidden, mut boxes) = (0, 0, 0, 0);
        for seed in 0..12 {
            let d = random_season(seed, 4);
            let (mask, s) = suppression_of(&d, 4, &published).unwrap();
            assert!(s.unprotected.is_empty(), "seed {seed}: {s:?}");
            let secret: Vec<usize> = (0..mask.len()).filter(|&i| mask[i]).collect();
            let figures =
                published_figures(&d, &targeted, &s.blanked_margins, &["date", "__season"]);
            assert_eq!(
                homeseason_test_support::recoverable(&secret, &figures),
                Vec::<usize>::new(),
                "seed {seed}: {s:?}"
            );
            // The attack is real: without secondary suppression (the small cells and their
            // complements hidden, only the margins that are one cell blanked) it recovers some.
            let (first, s1) = suppression_mask(
                &with_targeted(&d, &targeted).unwrap(),
                4,
                &PUBLISHED_MARGINS,
            )
            .unwrap();
            let secret: Vec<usize> = (0..first.len()).filter(|&i| first[i]).collect();
            let figures =
                published_figures(&d, &targeted, &s1.exposed_margins, &["date", "__season"]);
            attacked += homeseason_test_support::recoverable(&secret, &figures).len();
            cells += d.height();
            hidden += mask.iter().filter(|m| **m).count();
            boxes += s.boxes;
        }
        eprintln!(
            "12 seasons, {cells} cells, {hidden} suppressed in {boxes} boxes; without the boxes \
             the attack recovered {attacked}"
        );
        assert!(
            attacked > 0 && boxes > 0 && hidden < cells / 2,
            "12 seasons, {cells} cells, {hidden} suppressed in {boxes} boxes; without the boxes \
             the attack recovered {attacked}"
        );
    }
}
