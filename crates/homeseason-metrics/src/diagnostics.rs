//! Diagnostics a reader sees, per cell of the methods that use controls (today the counterfactual
//! regression): how far the estimate moves when one control is left out, whether each control's
//! relation to the target held up to the campaign start, and how well the model fitted the
//! pre-period. They are columns of the `uplift` table (campaign rows of
//! `counterfactual_regression`; null elsewhere), and a flagged cell is marked in the report.
//!
//! **Leave-one-control-out range** (`loo_min_pct`, `loo_max_pct`). The regression's design (the
//! same columns as the estimate: log controls, trend, yearly terms, weekday, day type) is fitted by
//! least squares on the pre-period, once with every control and once without each control `k`; each
//! fit predicts the window's total `P = Σ_W exp(x_tᵀβ̂)`. Dropping `k` moves the cell's baseline
//! `B` to `B_k = B · P_{−k} / P_all`, so its uplift to `100 · (A / B_k − 1)`. The range is the
//! smallest and largest of these over the controls. (Least squares rather than the full Bayesian
//! fit keeps this to one small solve per control; only the ratio `P_{−k} / P_all` is used, applied
//! to the estimate's own baseline.)
//!
//! **Break test of each control against the target at the campaign start** (`break_shift_max_pct`,
//! `break_p_min`). On the ordinary days (no holiday, festival or make-up workday; `masked` days
//! left out) of the regression's fit period, the daily log ratio `r_t = ln y_t − ln c_t` of the
//! target to control `c` is regressed by least squares on an intercept, a linear trend, three yearly
//! Fourier pairs and weekday dummies over the *fit window* (every such day before the last
//! [`BREAK_WINDOW_DAYS`] days before the campaign start), and predicted over the *last pre-window*
//! (those last days): the relation as the regression models it, checked where it matters most —
//! just before the window it is projected through (a Chow-type forecast test). The shift is the mean
//! residual over the last pre-window, `s = mean_L(r − r̂)`, reported as `100 · (e^s − 1)` %. Its
//! standard error allows for serial correlation without counting slow changes in the relation as
//! noise: the residuals of the fit window are demeaned within consecutive blocks of
//! [`BREAK_WINDOW_DAYS`] days, their standard deviation `σ` and lag-1 autocorrelation `ρ` (clamped
//! to [0, 0.95]) give `se = σ · √((1 + ρ) / (1 − ρ) / n_L)`, and `p = 2 · (1 − Φ(|s| / se))`.
//! The columns carry the largest |shift| over the controls (with its sign) and the smallest p.
//!
//! **Pre-period fit** (`pre_fit_r2`, `pre_fit_mape_pct`): the regression's own diagnostics — R² of
//! the covariates on the log scale, and the mean absolute percentage error of that fit on the
//! pre-period.
//!
//! **Flag** (`diagnostic_flag`, `diagnostic_reason`): raised when a control broke (p below
//! [`BREAK_P`] and |shift| at least [`BREAK_MIN_PCT`] %), when the leave-one-control-out range is
//! not inside the cell's interval (the finding rests on one control), or when the pre-period MAPE
//! exceeds [`MAX_MAPE_PCT`] %. The reason names each, in Chinese and English.
//!
//! **Caveat beside the headline** ([`caveat`]): detected from the data, for the headline method
//! (any method), over its region × category cells (national and `all_targeted` rows left out).
//! (1) *Placebo excess*: of the placebo windows (before the campaign, where none ran), `k` of `n`
//! have a nominal interval (the method's own, not the backtest-calibrated one: the calibration is
//! fitted on windows of the same kind, and a narrowing factor alone would otherwise raise the
//! caveat on a clean season) that excludes zero; at level `L` about `n·(1 − L)` should. The caveat is raised when so many
//! would be rare by chance: the binomial tail `P(X ≥ k | n, 1 − L)` is below [`CAVEAT_P`]. (2)
//! *Flagged cells*: more than [`CAVEAT_FLAGGED_SHARE`] of the campaign cells carry a diagnostic
//! flag. Either means the controls or the trend moved in a way the method does not model (a
//! housing-cycle drift, a local event that started before the campaign, a control that broke), so
//! the quoted interval is likely too narrow; the report says so in one sentence.

use std::collections::HashMap;

use chrono::{Datelike, Duration, NaiveDate};
use homeseason_schema::campaign::DateRange;
use homeseason_stats::numeric::two_sided_normal_p;

use crate::regression::{Prepared, day_code};

/// Days in the last pre-window of the break test.
pub const BREAK_WINDOW_DAYS: i64 = 28;
/// Columns of the break test's regression: intercept, trend, three yearly harmonics (sine and
/// cosine), six weekday dummies.
const BREAK_COLUMNS: usize = 14;
/// p-value below which a control's shift counts as a break.
pub const BREAK_P: f64 = 0.01;
/// Smallest |shift| (%) that counts as a break.
pub const BREAK_MIN_PCT: f64 = 3.0;
/// Pre-period MAPE (%) above which the fit is flagged.
pub const MAX_MAPE_PCT: f64 = 15.0;
/// Binomial tail probability below which the placebo windows' exclusions of zero raise the caveat.
pub const CAVEAT_P: f64 = 0.05;
/// Share of flagged campaign cells above which the caveat is raised.
pub const CAVEAT_FLAGGED_SHARE: f64 = 0.5;

/// `P(X ≥ k)` for `X ~ Binomial(n, p)` (summed in log space, so large `n` does not underflow).
#[must_use]
pub fn binomial_upper_tail(k: usize, n: usize, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    let (lp, lq) = (p.ln(), (1.0 - p).ln());
    let mut log_pmf = n as f64 * lq; // j = 0
    let mut tail = 0.0;
    for j in 0..n {
        if j >= k {
            tail += log_pmf.exp();
        }
        log_pmf += ((n - j) as f64 / (j + 1) as f64).ln() + lp - lq;
    }
    (tail + log_pmf.exp()).min(1.0) // j = n
}

/// What [`caveat`] found for the headline method.
#[derive(Debug, Clone, PartialEq)]
pub struct Caveat {
    /// Placebo windows whose quoted interval excludes zero, and placebo windows.
    pub placebo: (usize, usize),
    /// `P(X ≥ k)` of that count under the level.
    pub placebo_p: f64,
    /// Flagged campaign cells, and campaign cells with diagnostics.
    pub flagged: (usize, usize),
    /// The sentence beside the headline, Chinese then English.
    pub sentence: String,
}

/// The caveat of the module docs for `method` in an `uplift` table (with or without the backtest's
/// `calibrated_*` columns and the diagnostics' `diagnostic_flag`): `None` when neither test fires.
///
/// # Errors
/// When `uplift` lacks `window_kind`, `method`, `region_code`, `category`, `lower_pct` or
/// `upper_pct`.
pub fn caveat(
    uplift: &polars::prelude::DataFrame,
    method: &str,
    level: f64,
) -> crate::Result<Option<Caveat>> {
    use homeseason_schema::region::NATIONAL;
    let text = |name: &str| -> crate::Result<Vec<String>> {
        Ok(uplift
            .column(name)?
            .str()?
            .iter()
            .map(|v| v.unwrap_or_default().to_owned())
            .collect())
    };
    let num = |name: &str| -> crate::Result<Vec<Option<f64>>> {
        Ok(match uplift.column(name) {
            Ok(c) => c
                .cast(&polars::prelude::DataType::Float64)?
                .f64()?
                .iter()
                .collect(),
            Err(_) => vec![None; uplift.height()],
        })
    };
    let (kind, m, region, category) = (
        text("window_kind")?,
        text("method")?,
        text("region_code")?,
        text("category")?,
    );
    uplift.column("lower_pct")?;
    uplift.column("upper_pct")?;
    let (lo, hi) = (num("lower_pct")?, num("upper_pct")?);
    let flags: Vec<Option<bool>> = match uplift.column("diagnostic_flag") {
        Ok(c) => c.bool()?.iter().collect(),
        Err(_) => vec![None; uplift.height()],
    };
    let (mut placebo, mut excluded, mut cells, mut flagged) = (0usize, 0usize, 0usize, 0usize);
    for i in 0..uplift.height() {
        if m[i] != method || region[i] == NATIONAL || category[i] == crate::ALL_TARGETED {
            continue;
        }
        if kind[i] == "placebo" {
            if let (Some(l), Some(u)) = (lo[i], hi[i]) {
                placebo += 1;
                if l > 0.0 || u < 0.0 {
                    excluded += 1;
                }
            }
        } else if kind[i] == "campaign"
            && let Some(f) = flags[i]
        {
            cells += 1;
            if f {
                flagged += 1;
            }
        }
    }
    let expected = 1.0 - level;
    let placebo_p = binomial_upper_tail(excluded, placebo, expected);
    let placebo_fires = placebo > 0 && placebo_p < CAVEAT_P;
    let flag_fires = cells > 0 && flagged as f64 > CAVEAT_FLAGGED_SHARE * cells as f64;
    if !(placebo_fires || flag_fires) {
        return Ok(None);
    }
    let (mut zh, mut en) = (Vec::new(), Vec::new());
    if placebo_fires {
        zh.push(format!(
            "活动前的安慰剂窗口（并无活动）中，{excluded}/{placebo} 个单元的区间不含零（{:.0}% 区间下应约为 {:.0}%）",
            100.0 * level,
            100.0 * expected
        ));
        en.push(format!(
            "in the placebo windows before the campaign, where none ran, {excluded} of {placebo} cells' intervals exclude zero (about {:.0}% expected at the {:.0}% level)",
            100.0 * expected,
            100.0 * level
        ));
    }
    if flag_fires {
        zh.push(format!("诊断对 {flagged}/{cells} 个单元发出警示"));
        en.push(format!("the diagnostics flag {flagged} of {cells} cells"));
    }
    let sentence = format!(
        "注意：{method} 方法下，{}；对照品类或趋势可能发生了该方法未建模的变化，上述区间可能偏窄，结论需谨慎。 Caveat: with {method}, {}: the controls or the trend may have moved in a way the method does not model, so the interval above is likely too narrow and the finding needs care.",
        zh.join("，且"),
        en.join(", and ")
    );
    Ok(Some(Caveat {
        placebo: (excluded, placebo),
        placebo_p,
        flagged: (flagged, cells),
        sentence,
    }))
}

/// One control's break test.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlBreak {
    /// Control category id.
    pub control: String,
    /// Mean residual of the log ratio over the last pre-window, as a percentage.
    pub shift_pct: f64,
    /// Two-sided p-value of no shift.
    pub p_value: f64,
}

impl ControlBreak {
    /// Whether the shift counts as a break ([`BREAK_P`], [`BREAK_MIN_PCT`]).
    #[must_use]
    pub fn broke(&self) -> bool {
        self.p_value < BREAK_P && self.shift_pct.abs() >= BREAK_MIN_PCT
    }
}

/// A cell's diagnostics.
#[derive(Debug, Clone, PartialEq)]
pub struct CellDiagnostics {
    /// Pre-period R² (log scale).
    pub r_squared: f64,
    /// Pre-period MAPE, percent.
    pub mape_pct: f64,
    /// Leave-one-control-out range of the uplift, percent (`None` with fewer than two controls).
    pub loo: Option<(f64, f64)>,
    /// Break test per control.
    pub breaks: Vec<ControlBreak>,
    /// Whether anything is flagged.
    pub flag: bool,
    /// Why, Chinese then English (empty when not flagged).
    pub reason: String,
}

/// Least squares `β̂` of `y` on the rows `x` (a tiny ridge keeps collinear dummies solvable).
fn ols<R: AsRef<[f64]>>(x: &[R], y: &[f64]) -> Option<Vec<f64>> {
    let k = x.first()?.as_ref().len();
    let mut a = vec![0.0; k * k];
    let mut b = vec![0.0; k];
    for (row, &v) in x.iter().zip(y) {
        add_products(&mut a, &mut b, row.as_ref(), v);
    }
    solve(a, &b)
}

/// Add one row's cross products to the lower triangle of `a` (`k × k`, row-major, `k` = the
/// row's length) and to `b` (`row · v`). Each sum gains one product a row, in row order, as in a
/// loop over `(i, j ≤ i)`; a row of the triangle is one slice, so the compiler adds it in vector
/// lanes (an inclusive range of `j` kept it to one scalar product at a time, bounds-checked).
fn add_products(a: &mut [f64], b: &mut [f64], row: &[f64], v: f64) {
    let k = row.len();
    for (i, (&ri, bi)) in row.iter().zip(b.iter_mut()).enumerate() {
        *bi += ri * v;
        for (aij, &rj) in a[i * k..=i * k + i].iter_mut().zip(&row[..=i]) {
            *aij += ri * rj;
        }
    }
}

/// [`ols`] from its cross products: `a` holds `XᵀX` in its lower triangle (`k × k`, row-major),
/// `b` is `Xᵀy`.
fn solve(mut a: Vec<f64>, b: &[f64]) -> Option<Vec<f64>> {
    let k = b.len();
    let trace: f64 = (0..k).map(|i| a[i * k + i]).sum();
    let ridge = 1e-9 * trace.max(1.0) / k as f64;
    for i in 0..k {
        a[i * k + i] += ridge;
        for j in 0..i {
            a[j * k + i] = a[i * k + j];
        }
    }
    // Cholesky: a = L Lᵀ.
    let mut l = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..=i {
            let s: f64 = a[i * k + j] - (0..j).map(|m| l[i * k + m] * l[j * k + m]).sum::<f64>();
            if i == j {
                if s <= 0.0 {
                    return None;
                }
                l[i * k + i] = s.sqrt();
            } else {
                l[i * k + j] = s / l[j * k + j];
            }
        }
    }
    let mut z = vec![0.0; k];
    for i in 0..k {
        z[i] = (b[i] - (0..i).map(|m| l[i * k + m] * z[m]).sum::<f64>()) / l[i * k + i];
    }
    let mut beta = vec![0.0; k];
    for i in (0..k).rev() {
        beta[i] = (z[i] - (i + 1..k).map(|m| l[m * k + i] * beta[m]).sum::<f64>()) / l[i * k + i];
    }
    beta.iter().all(|v| v.is_finite()).then_some(beta)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The cross products of the least-squares fit with every column of `prep`'s design (the
/// intercept first), shared by the fits that leave one column out: leaving a column out leaves
/// every other sum as it was — the same products of the same rows, added in the same order —
/// unless a pre-period row lacked that column only (it then joins that fit's rows).
struct Products {
    /// `XᵀX`, lower triangle, `k × k` with `k` = columns + 1.
    a: Vec<f64>,
    /// `Xᵀy`.
    b: Vec<f64>,
    /// Rows used.
    rows: usize,
    /// Per design column: a usable pre-period row lacks that column alone.
    lone_gap: Vec<bool>,
}

impl Products {
    fn of(prep: &Prepared) -> Products {
        let n = prep.design.n_columns();
        let k = n + 1;
        let mut p = Products {
            a: vec![0.0; k * k],
            b: vec![0.0; k],
            rows: 0,
            lone_gap: vec![false; n],
        };
        let mut row = Vec::with_capacity(k);
        for t in prep.pre.clone() {
            let v = prep.y[t];
            if !(v.is_finite() && v > 0.0) {
                continue;
            }
            row.clear();
            row.push(1.0);
            let mut gaps = (0, 0);
            for j in 0..n {
                let x = prep.design.column(j)[t];
                if !x.is_finite() {
                    gaps = (gaps.0 + 1, j);
                }
                row.push(x);
            }
            match gaps {
                (0, _) => {}
                (1, j) => {
                    p.lone_gap[j] = true;
                    continue;
                }
                _ => continue,
            }
            p.rows += 1;
            add_products(&mut p.a, &mut p.b, &row, v.ln());
        }
        p
    }

    /// The cross products without design column `drop` (all columns for `None`); `None` when
    /// the rows would differ ([`Products`]).
    fn without(&self, drop: Option<usize>) -> Option<(Vec<f64>, Vec<f64>)> {
        let k = self.b.len();
        let Some(d) = drop else {
            return Some((self.a.clone(), self.b.clone()));
        };
        if self.lone_gap.get(d).is_none_or(|&gap| gap) {
            return None;
        }
        let keep: Vec<usize> = (0..k).filter(|&i| i != d + 1).collect();
        let m = keep.len();
        let mut a = vec![0.0; m * m];
        for (i, &fi) in keep.iter().enumerate() {
            for (j, &fj) in keep[..=i].iter().enumerate() {
                a[i * m + j] = self.a[fi * k + fj];
            }
        }
        Some((a, keep.iter().map(|&i| self.b[i]).collect()))
    }
}

/// The window total the least-squares fit of `prep`'s design predicts, with the columns
/// `drop` left out (log scale: `Σ_post exp(xᵀβ̂)`); the fit's cross products are taken from
/// `products` (made with every column) when leaving `drop` out keeps its rows.
fn ols_total(prep: &Prepared, drop: Option<usize>, products: Option<&Products>) -> Option<f64> {
    let cols: Vec<usize> = (0..prep.design.n_columns())
        .filter(|j| Some(*j) != drop)
        .collect();
    let row = |t: usize| -> Option<Vec<f64>> {
        let mut r = Vec::with_capacity(cols.len() + 1);
        r.push(1.0);
        for &j in &cols {
            let v = prep.design.column(j)[t];
            if !v.is_finite() {
                return None;
            }
            r.push(v);
        }
        Some(r)
    };
    let shared = products.and_then(|p| Some((p.without(drop)?, p.rows)));
    let beta = if let Some(((a, b), rows)) = shared {
        if rows <= cols.len() + 1 {
            return None;
        }
        solve(a, &b)?
    } else {
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for t in prep.pre.clone() {
            let v = prep.y[t];
            if v.is_finite()
                && v > 0.0
                && let Some(r) = row(t)
            {
                x.push(r);
                y.push(v.ln());
            }
        }
        if x.len() <= cols.len() + 1 {
            return None;
        }
        ols(&x, &y)?
    };
    // Over the window's observed days, as the estimate's own baseline.
    let mut total = 0.0;
    for t in prep.post.clone() {
        if prep.y[t].is_finite() {
            total += dot(&row(t)?, &beta).exp();
        }
    }
    total.is_finite().then_some(total)
}

/// The leave-one-control-out range of the uplift (see the module docs): `actual` and `baseline`
/// are the estimate's window totals. `None` with fewer than two controls.
pub(crate) fn loo_range(
    prep: &Prepared,
    controls: usize,
    actual: f64,
    baseline: f64,
) -> Option<(f64, f64)> {
    if controls < 2 {
        return None;
    }
    let products = Products::of(prep);
    let all = ols_total(prep, None, Some(&products))?;
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for k in 0..controls {
        let j = prep
            .design
            .names()
            .iter()
            .position(|n| *n == format!("ln control {k}"))?;
        let b = baseline * ols_total(prep, Some(j), Some(&products))? / all;
        let pct = 100.0 * (actual / b - 1.0);
        lo = lo.min(pct);
        hi = hi.max(pct);
    }
    lo.is_finite().then_some((lo, hi))
}

/// The break test of one control against the target (see the module docs) over `days` (the
/// regression's fit period: its first day up to the day before `start`, the campaign start).
#[must_use]
pub(crate) fn break_test(
    target: &HashMap<NaiveDate, f64>,
    control: &HashMap<NaiveDate, f64>,
    first: NaiveDate,
    start: NaiveDate,
    masked: &[DateRange],
) -> Option<(f64, f64)> {
    let cut = start - Duration::days(BREAK_WINDOW_DAYS);
    let mut fit: Vec<(i64, [f64; BREAK_COLUMNS], f64)> = Vec::new();
    let mut last: Vec<([f64; BREAK_COLUMNS], f64)> = Vec::new();
    for d in first.iter_days().take_while(|d| *d < start) {
        if day_code(d) != 0 || masked.iter().any(|m| m.contains(d)) {
            continue;
        }
        let (Some(&y), Some(&c)) = (target.get(&d), control.get(&d)) else {
            continue;
        };
        if y <= 0.0 || c <= 0.0 {
            continue;
        }
        let t = (d - first).num_days();
        let tf = t as f64;
        // Intercept, trend, three yearly harmonics, six weekday dummies (a row on the stack).
        let mut row = [0.0; BREAK_COLUMNS];
        row[0] = 1.0;
        row[1] = tf / 365.25;
        for h in 1..=3 {
            let a = std::f64::consts::TAU * f64::from(h) * tf / 365.25;
            row[2 * h as usize] = a.sin();
            row[2 * h as usize + 1] = a.cos();
        }
        let wd = d.weekday().num_days_from_monday();
        for w in 1..7 {
            row[7 + w as usize] = if wd == w { 1.0 } else { 0.0 };
        }
        let r = y.ln() - c.ln();
        if d < cut {
            fit.push((t, row, r));
        } else {
            last.push((row, r));
        }
    }
    if fit.len() < 180 || last.len() < 10 {
        return None;
    }
    let x: Vec<[f64; BREAK_COLUMNS]> = fit.iter().map(|f| f.1).collect();
    let y: Vec<f64> = fit.iter().map(|f| f.2).collect();
    let beta = ols(&x, &y)?;
    let resid: Vec<(i64, f64)> = fit
        .iter()
        .map(|(t, row, r)| (*t, r - dot(row, &beta)))
        .collect();
    // Demeaned within blocks of BREAK_WINDOW_DAYS days: slow changes are not noise.
    let mut blocks: HashMap<i64, (f64, usize)> = HashMap::new();
    for (t, e) in &resid {
        let b = blocks.entry(t / BREAK_WINDOW_DAYS).or_insert((0.0, 0));
        b.0 += e;
        b.1 += 1;
    }
    let within: Vec<f64> = resid
        .iter()
        .map(|(t, e)| {
            let b = blocks[&(t / BREAK_WINDOW_DAYS)];
            e - b.0 / b.1 as f64
        })
        .collect();
    let n = within.len() as f64;
    let var = within.iter().map(|e| e * e).sum::<f64>() / n;
    let sigma = var.sqrt();
    let rho = if var > 0.0 {
        (within.windows(2).map(|w| w[0] * w[1]).sum::<f64>() / (n - 1.0) / var).clamp(0.0, 0.95)
    } else {
        0.0
    };
    let nl = last.len() as f64;
    let shift = last.iter().map(|(row, r)| r - dot(row, &beta)).sum::<f64>() / nl;
    let se = sigma * ((1.0 + rho) / (1.0 - rho) / nl).sqrt();
    let p = if se > 0.0 {
        two_sided_normal_p(shift, se)
    } else {
        f64::NAN
    };
    Some((100.0 * shift.exp_m1(), p.clamp(0.0, 1.0)))
}

/// The diagnostics of one regression cell: `prep` its design, `controls` the named control series,
/// `estimate` = (actual, baseline, lower %, upper %, R², MAPE as a fraction).
pub(crate) fn of_cell(
    prep: &Prepared,
    target: &HashMap<NaiveDate, f64>,
    controls: &[(&str, &HashMap<NaiveDate, f64>)],
    window: &DateRange,
    masked: &[DateRange],
    estimate: (f64, f64, f64, f64, f64, f64),
) -> CellDiagnostics {
    let (actual, baseline, lower, upper, r_squared, mape) = estimate;
    let loo = loo_range(prep, controls.len(), actual, baseline);
    let first = prep.days.first().copied().unwrap_or(window.start);
    let breaks: Vec<ControlBreak> = controls
        .iter()
        .filter_map(|(name, c)| {
            let (shift_pct, p_value) = break_test(target, c, first, window.start, masked)?;
            Some(ControlBreak {
                control: (*name).to_owned(),
                shift_pct,
                p_value,
            })
        })
        .collect();
    let mut zh = Vec::new();
    let mut en = Vec::new();
    for b in breaks.iter().filter(|b| b.broke()) {
        zh.push(format!(
            "对照 {} 与目标的关系在活动开始前变化 {:+.1}%（p {:.3}）",
            b.control, b.shift_pct, b.p_value
        ));
        en.push(format!(
            "control {}'s relation to the target shifted {:+.1}% before the campaign start (p {:.3})",
            b.control, b.shift_pct, b.p_value
        ));
    }
    if let Some((lo, hi)) = loo
        && (lo < lower || hi > upper)
    {
        zh.push(format!(
            "去掉单个对照后提升在 {lo:+.1}% … {hi:+.1}% 之间，超出区间"
        ));
        en.push(format!(
            "leaving one control out moves the uplift to {lo:+.1}% … {hi:+.1}%, outside its interval"
        ));
    }
    let mape_pct = 100.0 * mape;
    if mape_pct > MAX_MAPE_PCT {
        zh.push(format!("前期拟合误差 MAPE {mape_pct:.1}%"));
        en.push(format!("pre-period fit MAPE {mape_pct:.1}%"));
    }
    let flag = !zh.is_empty();
    let reason = if flag {
        format!("{} · {}", zh.join("；"), en.join("; "))
    } else {
        String::new()
    };
    CellDiagnostics {
        r_squared,
        mape_pct,
        loo,
        breaks,
        flag,
        reason,
    }
}

impl CellDiagnostics {
    /// The break with the largest |shift| (its shift) and the smallest p over the controls.
    #[must_use]
    pub fn worst_break(&self) -> (Option<f64>, Option<f64>) {
        let shift = self
            .breaks
            .iter()
            .map(|b| b.shift_pct)
            .max_by(|a, b| a.abs().total_cmp(&b.abs()));
        let p = self.breaks.iter().map(|b| b.p_value).min_by(f64::total_cmp);
        (shift, p)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::test_frames::d;

    #[test]
    fn ols_recovers_a_line() {
        let x: Vec<Vec<f64>> = (0..20).map(|t| vec![1.0, f64::from(t)]).collect();
        let y: Vec<f64> = (0..20).map(|t| 3.0 + 0.5 * f64::from(t)).collect();
        let b = ols(&x, &y).unwrap();
        assert!(
            (b[0] - 3.0).abs() < 1e-6 && (b[1] - 0.5).abs() < 1e-6,
            "{b:?}"
        );
    }

    /// Deterministic noise, uniform in (−0.5, 0.5): xorshift from `state`.
    fn xorshift_noise(mut state: u64) -> impl FnMut() -> f64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 10_000) as f64 / 10_000.0 - 0.5
        }
    }

    /// A target and a control sharing a seasonal economy; the control drops by `step` (a fraction)
    /// from `from` on.
    fn pair(step: f64, from: NaiveDate) -> (HashMap<NaiveDate, f64>, HashMap<NaiveDate, f64>) {
        let mut noise = xorshift_noise(7);
        let (mut y, mut c) = (HashMap::new(), HashMap::new());
        for day in d(2021, 1, 1)
            .iter_days()
            .take_while(|x| *x <= d(2023, 12, 31))
        {
            let t = f64::from(day.ordinal());
            let economy = 1e6 * (1.0 + 0.2 * (std::f64::consts::TAU * t / 365.25).sin());
            y.insert(day, 0.3 * economy * (1.0 + 0.06 * noise()));
            let broke = if day >= from { 1.0 - step } else { 1.0 };
            c.insert(day, economy * broke * (1.0 + 0.06 * noise()));
        }
        (y, c)
    }

    #[test]
    fn leave_one_out_fits_from_the_shared_products_are_the_fits_alone_to_the_bit() {
        let window = DateRange {
            start: d(2023, 10, 1),
            end: d(2023, 10, 8),
        };
        let (y, c0) = pair(0.0, window.start);
        let (_, c1) = pair(0.05, d(2022, 6, 1));
        let (_, mut c2) = pair(0.1, d(2022, 3, 1));
        // A fortnight without the third control: its covariate stays NaN on some pre-period days,
        // which the fit leaving it out uses (that fit cannot share the products); and a day
        // without the second and third (those rows no fit uses).
        for day in d(2022, 5, 1).iter_days().take(14) {
            c2.remove(&day);
        }
        let mut c1 = c1;
        for day in d(2022, 8, 1).iter_days().take(9) {
            c1.remove(&day);
            c2.remove(&day);
        }
        let prep = crate::regression::prepare(&y, &[&c0, &c1, &c2], &window, &[]).unwrap();
        let products = Products::of(&prep);
        let control = |k: usize| {
            let name = format!("ln control {k}");
            prep.design.names().iter().position(|n| *n == name).unwrap()
        };
        let mut shared = 0;
        for drop in [None, Some(control(0)), Some(control(1)), Some(control(2))] {
            let alone = ols_total(&prep, drop, None).expect("fit");
            let with = ols_total(&prep, drop, Some(&products)).expect("fit");
            assert_eq!(alone.to_bits(), with.to_bits(), "{drop:?}");
            shared += usize::from(products.without(drop).is_some());
        }
        assert_eq!(
            shared, 3,
            "the fit without the third control has its own rows"
        );
    }

    #[test]
    fn a_control_that_breaks_before_the_campaign_is_caught_and_a_clean_one_is_not() {
        let start = d(2023, 9, 1);
        let (y, c) = pair(0.0, start);
        let (shift, p) = break_test(&y, &c, d(2021, 1, 1), start, &[]).unwrap();
        let clean = ControlBreak {
            control: "supermarket".into(),
            shift_pct: shift,
            p_value: p,
        };
        assert!(!clean.broke(), "{clean:?}");
        // The control drops 12 % from mid-July 2023: the target/control ratio rises about 13.6 %.
        let (y, c) = pair(0.12, d(2023, 7, 15));
        let (shift, p) = break_test(&y, &c, d(2021, 1, 1), start, &[]).unwrap();
        let broken = ControlBreak {
            control: "supermarket".into(),
            shift_pct: shift,
            p_value: p,
        };
        assert!(broken.broke(), "{broken:?}");
        assert!(shift > 5.0, "{shift}");
    }

    /// A region's furniture (targeted, +8 % in the window) and three controls sharing a seasonal,
    /// drifting economy; `broken` makes the supermarket control drop 12 % from mid-July 2023.
    pub(crate) fn panel(broken: bool) -> polars::prelude::DataFrame {
        use polars::prelude::*;
        let mut noise = xorshift_noise(11);
        let window = homeseason_schema::campaign::Campaign::default_2023().window;
        let (mut r, mut c, mut dd, mut v) = (vec![], vec![], vec![], vec![]);
        let mut econ = 0.0_f64;
        for (i, day) in d(2021, 1, 1)
            .iter_days()
            .take_while(|x| *x <= d(2023, 12, 31))
            .enumerate()
        {
            econ = 0.98 * econ + 0.004 * 3.4 * noise();
            let t = f64::from(day.ordinal());
            let season = 1.0 + 0.15 * (std::f64::consts::TAU * t / 365.25).sin();
            let level = (0.05 * i as f64 / 365.25 + econ).exp() * season;
            let weekend = if day.weekday().num_days_from_monday() >= 5 {
                1.3
            } else {
                1.0
            };
            let lift = if window.contains(day) { 1.08 } else { 1.0 };
            for (cat, base) in [
                ("furniture", 6.0e5),
                ("supermarket", 4.0e6),
                ("restaurant", 3.5e6),
                ("fuel", 1.5e6),
            ] {
                let mut x = base * level * weekend * (1.0 + 0.04 * noise());
                if cat == "furniture" {
                    x *= lift;
                }
                if broken && cat == "supermarket" && day >= d(2023, 7, 15) {
                    x *= 0.88;
                }
                r.push("330000");
                c.push(cat);
                dd.push(day);
                v.push(x);
            }
        }
        df!("region_code" => r, "category" => c, "date" => dd, "net_amount_yuan" => v).unwrap()
    }

    /// The default campaign and its uplift options without placebo windows.
    fn campaign_without_placebo() -> (homeseason_schema::campaign::Campaign, crate::UpliftOptions) {
        let campaign = homeseason_schema::campaign::Campaign::default_2023();
        let opts = crate::UpliftOptions {
            placebo: None,
            ..crate::UpliftOptions::from_campaign(&campaign)
        };
        (campaign, opts)
    }

    #[test]
    fn the_uplift_table_flags_a_cell_whose_control_broke_and_not_a_clean_one() {
        use crate::{Method, uplift};
        use polars::prelude::{IntoLazy, col, lit};
        let (campaign, opts) = campaign_without_placebo();
        let run = |broken: bool| {
            let out = uplift(
                &panel(broken),
                &campaign,
                &[Method::CounterfactualRegression],
                &opts,
            )
            .unwrap()
            .uplift;
            let row = out
                .lazy()
                .filter(col("category").eq(lit("furniture")))
                .collect()
                .unwrap();
            assert_eq!(row.height(), 1);
            let flag = row
                .column("diagnostic_flag")
                .unwrap()
                .bool()
                .unwrap()
                .get(0);
            let reason = row
                .column("diagnostic_reason")
                .unwrap()
                .str()
                .unwrap()
                .get(0)
                .unwrap_or_default()
                .to_owned();
            let f = |n: &str| row.column(n).unwrap().f64().unwrap().get(0);
            (
                flag,
                reason,
                f("loo_min_pct"),
                f("loo_max_pct"),
                f("pre_fit_r2"),
                f("break_p_min"),
            )
        };
        let (flag, reason, lo, hi, r2, p) = run(false);
        assert_eq!(flag, Some(false), "clean panel: {reason}");
        assert!(reason.is_empty());
        let (lo, hi) = (lo.unwrap(), hi.unwrap());
        assert!(
            lo <= hi && (0.0..20.0).contains(&lo),
            "leave-one-out range {lo} … {hi}"
        );
        assert!(r2.unwrap() > 0.5, "pre-period R² {r2:?}");
        assert!(p.unwrap() > BREAK_P, "no break: p {p:?}");
        let (flag, reason, ..) = run(true);
        assert_eq!(flag, Some(true), "broken supermarket control");
        assert!(
            reason.contains("control supermarket's relation to the target shifted")
                && reason.contains("对照 supermarket"),
            "{reason}"
        );
    }

    /// Issue 14: a panel with holes — every 37th day missing in every category (no payment rows),
    /// the supermarket control missing on two ordinary days and in the middle of Golden Week, and
    /// the last 14 days of the window not arrived — still gets its regression cell; the missing
    /// days are missing (not summed), the estimate stays near the +8 % injected and near the full
    /// panel's, and the diagnostics are computed.
    #[test]
    fn a_panel_with_missing_days_keeps_its_regression_cell() {
        use crate::{Method, uplift};
        use polars::prelude::*;
        let (campaign, opts) = campaign_without_placebo();
        let first = d(2021, 1, 1);
        let late = d(2023, 12, 18);
        let every_37th = |day: NaiveDate| (day - first).num_days() % 37 == 0;
        let control_gap = [
            d(2023, 10, 3),
            d(2023, 10, 4),
            d(2023, 10, 18),
            d(2023, 11, 22),
        ];
        let holed = |df: DataFrame| -> DataFrame {
            let dates: Vec<NaiveDate> = df
                .column("date")
                .unwrap()
                .date()
                .unwrap()
                .physical()
                .iter()
                .map(|x| homeseason_schema::calendar::from_epoch_days(x.unwrap()).unwrap())
                .collect();
            let cats = df.column("category").unwrap().str().unwrap().clone();
            let keep: BooleanChunked = dates
                .iter()
                .zip(cats.iter())
                .map(|(day, c)| {
                    !(every_37th(*day)
                        || *day >= late
                        || (c == Some("supermarket") && control_gap.contains(day)))
                })
                .collect();
            df.filter(&keep).unwrap()
        };
        let run = |panel: DataFrame| {
            let out = uplift(
                &panel,
                &campaign,
                &[Method::CounterfactualRegression],
                &opts,
            )
            .unwrap()
            .uplift
            .lazy()
            .filter(col("category").eq(lit("furniture")))
            .collect()
            .unwrap();
            assert_eq!(out.height(), 1, "the furniture cell has its regression row");
            let f = |n: &str| out.column(n).unwrap().f64().unwrap().get(0).unwrap();
            let days = homeseason_test_support::i64_at(&out, "days_used", 0);
            (f("uplift_pct"), f("lower_pct"), f("upper_pct"), days, out)
        };
        let (full, ..) = run(panel(false));
        let (pct, lo, hi, days, out) = run(holed(panel(false)));
        // Not observed: every-37th and late days of the window, and the two Golden Week days whose
        // control has no ordinary day within ±3 to fill from (the ordinary-day gaps are filled).
        let window = campaign.window;
        let missing = window
            .iter()
            .filter(|day| {
                every_37th(*day) || *day >= late || [d(2023, 10, 3), d(2023, 10, 4)].contains(day)
            })
            .count();
        assert!(missing > 16, "{missing}");
        assert_eq!(days, window.days() - missing as i64);
        assert!(
            (lo..=hi).contains(&8.0),
            "{pct:.2} [{lo:.2}, {hi:.2}] holds +8 %"
        );
        assert!((pct - full).abs() < 1.5, "holed {pct:.2} vs full {full:.2}");
        let diag = out.column("loo_min_pct").unwrap().f64().unwrap().get(0);
        assert!(
            diag.is_some_and(f64::is_finite),
            "diagnostics computed: {diag:?}"
        );
    }

    #[test]
    fn the_caveat_fires_on_a_placebo_excess_or_many_flags_and_not_on_a_clean_table() {
        use polars::prelude::*;
        // Binomial tail: P(X ≥ 0) = 1; n = 2, p = 0.5: P(X ≥ 1) = 0.75, P(X ≥ 2) = 0.25.
        assert!((binomial_upper_tail(0, 10, 0.1) - 1.0).abs() < 1e-12);
        assert!((binomial_upper_tail(1, 2, 0.5) - 0.75).abs() < 1e-12);
        assert!((binomial_upper_tail(2, 2, 0.5) - 0.25).abs() < 1e-12);
        // 48 placebo cells at 90 %: 5 excluding zero is ordinary, 15 is not.
        assert!(binomial_upper_tail(5, 48, 0.1) > 0.3);
        assert!(binomial_upper_tail(15, 48, 0.1) < 1e-3);
        let table = |excluding: usize, flagged: usize| {
            let n = 48;
            let mut kind = Vec::new();
            let (mut lo, mut hi, mut flag) = (Vec::new(), Vec::new(), Vec::new());
            for i in 0..n {
                kind.push("placebo");
                let off = if i < excluding { 5.0 } else { 0.0 };
                lo.push(off - 2.0);
                hi.push(off + 2.0);
                flag.push(None);
            }
            for i in 0..n {
                kind.push("campaign");
                lo.push(3.0);
                hi.push(9.0);
                flag.push(Some(i < flagged));
            }
            let rows = kind.len();
            df!(
                "window_kind" => kind,
                "method" => vec!["counterfactual_regression"; rows],
                "region_code" => vec!["330000"; rows],
                "category" => vec!["furniture"; rows],
                "lower_pct" => lo,
                "upper_pct" => hi,
                "diagnostic_flag" => flag,
            )
            .unwrap()
        };
        let m = "counterfactual_regression";
        assert_eq!(caveat(&table(5, 6), m, 0.9).unwrap(), None, "clean");
        let c = caveat(&table(17, 6), m, 0.9)
            .unwrap()
            .expect("placebo excess");
        assert_eq!(c.placebo, (17, 48));
        assert!(
            c.sentence
                .contains("17 of 48 cells' intervals exclude zero")
                && c.sentence.contains("17/48")
                && !c.sentence.contains("flag"),
            "{}",
            c.sentence
        );
        let c = caveat(&table(5, 33), m, 0.9).unwrap().expect("many flags");
        assert_eq!(c.flagged, (33, 48));
        assert!(
            c.sentence.contains("the diagnostics flag 33 of 48 cells"),
            "{}",
            c.sentence
        );
        // Another method's rows are not this method's evidence.
        assert_eq!(caveat(&table(17, 33), "two_year", 0.9).unwrap(), None);
    }
}
