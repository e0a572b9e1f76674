//! The covariate design: named columns over the whole time axis (pre-period, gap and post-period).

use nalgebra::DMatrix;

use super::ImpactError;

/// Covariates over the whole time axis, one named column each (T values per column).
///
/// Built with a consuming builder so a design reads as one expression:
///
/// ```
/// use homeseason_stats::impact::Design;
/// # fn main() -> Result<(), homeseason_stats::impact::ImpactError> {
/// let supermarket = vec![100.0, 104.0, 98.0, 101.0, 120.0, 130.0, 99.0];
/// let day_type = vec![0, 0, 0, 0, 0, 1, 1];
/// let design = Design::new(7)
///     .log_covariate("ln supermarket", &supermarket)?
///     .categorical("day_type", &day_type)?
///     .weekly_cycle(0)?;
/// assert_eq!(design.n_columns(), 1 + 1 + 6);
/// # Ok(()) }
/// ```
///
/// The intercept is not a column of the design: [`ImpactOptions::intercept`](super::ImpactOptions)
/// adds it when fitting (default on). Values are used as given — on a log-scale model, pass log
/// covariates ([`Design::log_covariate`]). `NaN` marks a missing value: a pre-period day with any
/// missing covariate is left out of the fit; a missing covariate in the post-period is an error.
#[derive(Debug, Clone, PartialEq)]
pub struct Design {
    len: usize,
    names: Vec<String>,
    columns: Vec<Vec<f64>>,
}

impl Design {
    /// An empty design over `len` time points (intercept-only model unless columns are added).
    pub fn new(len: usize) -> Design {
        Design {
            len,
            names: Vec::new(),
            columns: Vec::new(),
        }
    }

    /// A design from a T × k matrix; columns are named `x1`, `x2`, …
    pub fn from_matrix(x: &DMatrix<f64>) -> Design {
        Design {
            len: x.nrows(),
            names: (1..=x.ncols()).map(|j| format!("x{j}")).collect(),
            columns: x
                .column_iter()
                .map(|c| c.iter().copied().collect())
                .collect(),
        }
    }

    /// A design from T rows of k values each; columns are named `x1`, `x2`, …
    ///
    /// # Errors
    /// [`ImpactError::LengthMismatch`] if the rows are ragged.
    pub fn from_rows(rows: &[Vec<f64>]) -> Result<Design, ImpactError> {
        let k = rows.first().map_or(0, Vec::len);
        let mut columns = vec![Vec::with_capacity(rows.len()); k];
        for (t, row) in rows.iter().enumerate() {
            if row.len() != k {
                return Err(ImpactError::LengthMismatch {
                    what: format!("design row {t}"),
                    expected: k,
                    found: row.len(),
                });
            }
            for (c, v) in columns.iter_mut().zip(row) {
                c.push(*v);
            }
        }
        Ok(Design {
            len: rows.len(),
            names: (1..=k).map(|j| format!("x{j}")).collect(),
            columns,
        })
    }

    /// Number of time points T.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the design covers no time point.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of columns k (the intercept added by the fit is not counted).
    pub fn n_columns(&self) -> usize {
        self.columns.len()
    }

    /// Column names, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Column `j` (T values).
    ///
    /// # Panics
    /// If `j >= n_columns()`.
    pub fn column(&self, j: usize) -> &[f64] {
        &self.columns[j]
    }

    /// Append a covariate as given.
    ///
    /// # Errors
    /// [`ImpactError::LengthMismatch`] if `values` does not have T values;
    /// [`ImpactError::NonFinite`] on ±∞ (use `NaN` for missing).
    pub fn covariate(
        mut self,
        name: impl Into<String>,
        values: &[f64],
    ) -> Result<Design, ImpactError> {
        let name = name.into();
        self.check_len(&name, values.len())?;
        if let Some(index) = values.iter().position(|v| v.is_infinite()) {
            return Err(ImpactError::NonFinite {
                what: format!("covariate `{name}`"),
                index,
            });
        }
        self.names.push(name);
        self.columns.push(values.to_vec());
        Ok(self)
    }

    /// Append `ln(values)` (`NaN` stays missing).
    ///
    /// # Errors
    /// As [`Design::covariate`], and [`ImpactError::NonPositive`] on a value ≤ 0.
    pub fn log_covariate(
        self,
        name: impl Into<String>,
        values: &[f64],
    ) -> Result<Design, ImpactError> {
        let name = name.into();
        if let Some((index, &value)) = values.iter().enumerate().find(|(_, v)| **v <= 0.0) {
            return Err(ImpactError::NonPositive {
                what: format!("covariate `{name}`"),
                index,
                value,
            });
        }
        let logged: Vec<f64> = values.iter().map(|v| v.ln()).collect();
        self.covariate(name, &logged)
    }

    /// One-hot encode category codes (e.g. day types: workday, weekend, holiday, make-up workday,
    /// shopping festival), dropping the smallest code present as the reference level. Columns are
    /// named `{prefix}={code}`.
    ///
    /// A level that never occurs in the pre-period makes the fit fail with
    /// [`ImpactError::ConstantCovariate`]: its effect cannot be learnt — merge it into another level.
    ///
    /// # Errors
    /// [`ImpactError::LengthMismatch`] if `codes` does not have T values.
    pub fn categorical(mut self, prefix: &str, codes: &[u32]) -> Result<Design, ImpactError> {
        self.check_len(prefix, codes.len())?;
        let mut levels: Vec<u32> = codes.to_vec();
        levels.sort_unstable();
        levels.dedup();
        for &level in levels.iter().skip(1) {
            self.names.push(format!("{prefix}={level}"));
            self.columns.push(
                codes
                    .iter()
                    .map(|&c| f64::from(u8::from(c == level)))
                    .collect(),
            );
        }
        Ok(self)
    }

    /// Weekday dummies from weekday numbers (0 = Monday … 6 = Sunday), Monday as the reference;
    /// columns are named `weekday=Tue` … `weekday=Sun`.
    ///
    /// # Errors
    /// [`ImpactError::LengthMismatch`] if `weekday` does not have T values;
    /// [`ImpactError::InvalidOption`] on a number above 6.
    pub fn weekday(mut self, weekday: &[u32]) -> Result<Design, ImpactError> {
        const NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        self.check_len("weekday", weekday.len())?;
        if let Some(bad) = weekday.iter().find(|&&w| w > 6) {
            return Err(ImpactError::InvalidOption(format!(
                "weekday {bad} is out of range (0 = Monday … 6 = Sunday)"
            )));
        }
        for (level, name) in NAMES.iter().enumerate().skip(1) {
            self.names.push(format!("weekday={name}"));
            self.columns.push(
                weekday
                    .iter()
                    .map(|&w| f64::from(u8::from(w as usize == level)))
                    .collect(),
            );
        }
        Ok(self)
    }

    /// Weekday dummies for consecutive days, given the weekday of time index 0
    /// (0 = Monday … 6 = Sunday).
    ///
    /// # Errors
    /// [`ImpactError::InvalidOption`] if `first_weekday` is above 6.
    pub fn weekly_cycle(self, first_weekday: u32) -> Result<Design, ImpactError> {
        if first_weekday > 6 {
            return Err(ImpactError::InvalidOption(format!(
                "weekday {first_weekday} is out of range (0 = Monday … 6 = Sunday)"
            )));
        }
        let weekday: Vec<u32> = (0..self.len)
            .map(|t| ((t % 7) as u32 + first_weekday) % 7)
            .collect();
        self.weekday(&weekday)
    }

    /// Fourier terms `sin(2πh·t/period)`, `cos(2πh·t/period)` for h = 1…`harmonics` at times `time`
    /// (e.g. day numbers with `period` 365.25 for a yearly cycle); columns `{name}_sin{h}`,
    /// `{name}_cos{h}`.
    ///
    /// # Errors
    /// [`ImpactError::LengthMismatch`] if `time` does not have T values;
    /// [`ImpactError::InvalidOption`] if `period` is not positive and finite.
    pub fn fourier(
        mut self,
        name: &str,
        time: &[f64],
        period: f64,
        harmonics: usize,
    ) -> Result<Design, ImpactError> {
        self.check_len(name, time.len())?;
        if !(period.is_finite() && period > 0.0) {
            return Err(ImpactError::InvalidOption(format!(
                "Fourier period {period} must be positive"
            )));
        }
        for h in 1..=harmonics {
            self.names.push(format!("{name}_sin{h}"));
            self.names.push(format!("{name}_cos{h}"));
        }
        self.columns
            .extend(fourier_columns(time, period, harmonics));
        Ok(self)
    }

    /// The row of time `t` (k values).
    pub(crate) fn row(&self, t: usize) -> impl Iterator<Item = f64> + '_ {
        self.columns.iter().map(move |c| c[t])
    }

    fn check_len(&self, name: &str, found: usize) -> Result<(), ImpactError> {
        if found == self.len {
            Ok(())
        } else {
            Err(ImpactError::LengthMismatch {
                what: format!("column `{name}`"),
                expected: self.len,
                found,
            })
        }
    }
}

/// Moving mean over the window `[t − before, t + after]` (clipped at the ends), skipping `NaN`;
/// `NaN` where the window holds no value.
///
/// A smoother for noisy control series: what a control shares with the target over a 122-day window
/// is slow (the regional economy), while its own day-to-day noise only dilutes the regression. A
/// centred window (`before = after = 14`) follows the slow part without lag; windows of 7·m days
/// average out the weekday pattern; set holiday days to `NaN` first so their spikes do not leak into
/// the neighbouring days. Using post-period control values is fine: the controls are untouched.
pub fn moving_mean(values: &[f64], before: usize, after: usize) -> Vec<f64> {
    let n = values.len();
    let mut prefix_sum = Vec::with_capacity(n + 1);
    let mut prefix_count = Vec::with_capacity(n + 1);
    let (mut s, mut c) = (0.0, 0usize);
    prefix_sum.push(0.0);
    prefix_count.push(0);
    for v in values {
        if v.is_finite() {
            s += v;
            c += 1;
        }
        prefix_sum.push(s);
        prefix_count.push(c);
    }
    (0..n)
        .map(|t| {
            let lo = t.saturating_sub(before);
            let hi = (t + after + 1).min(n);
            let count = prefix_count[hi] - prefix_count[lo];
            if count == 0 {
                f64::NAN
            } else {
                (prefix_sum[hi] - prefix_sum[lo]) / count as f64
            }
        })
        .collect()
}

/// The sine and cosine columns of [`Design::fourier`], harmonic by harmonic. A season's cells
/// share their days (every fit of a window starts on the same day), so each thread keeps the
/// columns of the last few `time`s it was given — matched bit for bit, the same values as
/// computing them again — instead of ~17,000 `sin`/`cos` a fit.
fn fourier_columns(time: &[f64], period: f64, harmonics: usize) -> Vec<Vec<f64>> {
    type Known = Vec<(Vec<u64>, u64, usize, std::rc::Rc<Vec<Vec<f64>>>)>;
    thread_local! {
        static KNOWN: std::cell::RefCell<Known> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let bits: Vec<u64> = time.iter().map(|t| t.to_bits()).collect();
    let key = (period.to_bits(), harmonics);
    let found = KNOWN.with(|k| {
        k.borrow()
            .iter()
            .find(|(b, p, h, _)| (*p, *h) == key && *b == bits)
            .map(|(_, _, _, c)| std::rc::Rc::clone(c))
    });
    if let Some(columns) = found {
        return columns.as_ref().clone();
    }
    let mut columns = Vec::with_capacity(2 * harmonics);
    for h in 1..=harmonics {
        let w = 2.0 * std::f64::consts::PI * h as f64 / period;
        columns.push(time.iter().map(|t| (w * t).sin()).collect());
        columns.push(time.iter().map(|t| (w * t).cos()).collect());
    }
    KNOWN.with(|k| {
        let mut k = k.borrow_mut();
        // A handful of windows' day counts at a time (campaign, placebo, backtests).
        if k.len() >= 8 {
            k.remove(0);
        }
        k.push((bits, key.0, key.1, std::rc::Rc::new(columns.clone())));
    });
    columns
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_fourier_columns_are_the_computed_ones() {
        let time: Vec<f64> = (0..1500).map(f64::from).collect();
        let direct = |t: &[f64]| -> Vec<Vec<f64>> {
            (1..=6)
                .flat_map(|h| {
                    let w = 2.0 * std::f64::consts::PI * f64::from(h) / 365.25;
                    [
                        t.iter().map(|x| (w * x).sin()).collect(),
                        t.iter().map(|x| (w * x).cos()).collect(),
                    ]
                })
                .collect()
        };
        let bits = |c: &[Vec<f64>]| -> Vec<Vec<u64>> {
            c.iter()
                .map(|v| v.iter().map(|x| x.to_bits()).collect())
                .collect()
        };
        let want = bits(&direct(&time));
        assert_eq!(bits(&fourier_columns(&time, 365.25, 6)), want);
        assert_eq!(
            bits(&fourier_columns(&time, 365.25, 6)),
            want,
            "from memory"
        );
        // Same length, other values (a signed zero included): not mistaken for the first.
        let mut other = time.clone();
        other[0] = -0.0;
        other[7] = 7.5;
        assert_eq!(
            bits(&fourier_columns(&other, 365.25, 6)),
            bits(&direct(&other))
        );
        assert_ne!(bits(&fourier_columns(&other, 365.25, 6)), want);
        assert_eq!(fourier_columns(&time, 365.25, 2).len(), 4);
    }

    #[test]
    fn builds_named_columns() {
        let d = Design::new(9)
            .covariate("a", &[1.0; 9])
            .unwrap()
            .categorical("dt", &[3, 1, 1, 2, 3, 1, 1, 1, 1])
            .unwrap()
            .weekly_cycle(5)
            .unwrap()
            .fourier(
                "year",
                &(0..9).map(f64::from).collect::<Vec<_>>(),
                365.25,
                1,
            )
            .unwrap();
        assert_eq!(d.names()[0..3], ["a", "dt=2", "dt=3"]);
        assert_eq!(d.column(1), [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        // Index 0 is a Saturday: weekday=Sat is column 3 + 4.
        assert_eq!(d.names()[3 + 4], "weekday=Sat");
        assert_eq!(d.column(3 + 4)[0], 1.0);
        assert_eq!(d.column(3 + 4)[7], 1.0);
        assert_eq!(d.n_columns(), 3 + 6 + 2);
        assert!(Design::new(3).covariate("x", &[1.0]).is_err());
        assert!(Design::new(2).log_covariate("x", &[1.0, 0.0]).is_err());
    }

    #[test]
    fn moving_mean_skips_missing() {
        let m = moving_mean(&[1.0, f64::NAN, 3.0, 5.0], 1, 0);
        assert_eq!(m, [1.0, 1.0, 3.0, 4.0]);
        let c = moving_mean(&[1.0, 2.0, 3.0, 4.0, f64::NAN], 1, 1);
        assert_eq!(c, [1.5, 2.0, 3.0, 3.5, 4.0]);
        assert!(moving_mean(&[f64::NAN, f64::NAN], 0, 0)[0].is_nan());
    }
}
