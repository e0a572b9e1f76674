//! The balanced unit × time panel the estimators work on, and its construction from long rows.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;

use nalgebra::DMatrix;

use super::GeoError;

/// What [`Panel::from_long_filled`] does with a gap (a unit without a row for a time key other units
/// have).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fill {
    /// Refuse the panel ([`GeoError::MissingObservation`]); the default.
    #[default]
    Refuse,
    /// Treat a missing row as an outcome of zero (sales data where a unit without a row sold
    /// nothing).
    Zero,
    /// Drop every unit with a gap (it can then be neither treated nor a donor).
    Drop,
}

/// What [`Panel::from_long_filled`] changed to balance the panel.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FillReport {
    /// Unit × time cells set to zero ([`Fill::Zero`]).
    pub zero_filled: usize,
    /// Units dropped for gaps ([`Fill::Drop`]), sorted.
    pub dropped: Vec<String>,
}

/// A balanced panel: one outcome per unit (region) and time period.
///
/// Rows of `y` are units in the order of `units`, columns are time periods `0..times` in
/// chronological order. Every value is finite. Build it with [`Panel::new`] (checks the shape) or
/// [`Panel::from_long`] (from `(unit, time key, value)` rows).
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// Unit names, one per row of `y`; unique.
    pub units: Vec<String>,
    /// Number of time periods (columns of `y`).
    pub times: usize,
    /// Outcomes, units × times.
    pub y: DMatrix<f64>,
}

impl Panel {
    /// A panel from unit names and a units × times matrix.
    ///
    /// # Errors
    /// [`GeoError::Shape`] when the row count differs from the number of names or the panel is
    /// empty, [`GeoError::DuplicateUnit`] for a repeated name, [`GeoError::NonFinite`] for a NaN or
    /// infinite value.
    pub fn new(units: Vec<String>, y: DMatrix<f64>) -> Result<Self, GeoError> {
        if units.len() != y.nrows() || y.nrows() == 0 || y.ncols() == 0 {
            return Err(GeoError::Shape(format!(
                "{} unit names for a {} × {} matrix (need one name per row, at least one row and column)",
                units.len(),
                y.nrows(),
                y.ncols()
            )));
        }
        let mut seen = BTreeSet::new();
        for u in &units {
            if !seen.insert(u.as_str()) {
                return Err(GeoError::DuplicateUnit(u.clone()));
            }
        }
        for (i, u) in units.iter().enumerate() {
            for t in 0..y.ncols() {
                if !y[(i, t)].is_finite() {
                    return Err(GeoError::NonFinite {
                        unit: u.clone(),
                        time: format!("column {t}"),
                    });
                }
            }
        }
        let times = y.ncols();
        Ok(Panel { units, times, y })
    }

    /// A panel from long-format rows `(unit, time key, value)`, e.g. `("chicago", "2021-04-01", 2209.0)`.
    ///
    /// Units are sorted by name and time keys in ascending order (use keys that sort
    /// chronologically: ISO dates, day numbers, [`chrono::NaiveDate`]-like types). Returns the panel
    /// and the sorted time keys, so that column `t` of the panel is `keys[t]`. Row order does not
    /// matter.
    ///
    /// # Errors
    /// [`GeoError::DuplicateObservation`] when a unit has two rows for one time key,
    /// [`GeoError::MissingObservation`] when the panel has a gap (a unit without a value for a time
    /// key that other units have), [`GeoError::NonFinite`] for NaN or infinite values,
    /// [`GeoError::Shape`] when there are no rows.
    ///
    /// [`chrono::NaiveDate`]: https://docs.rs/chrono/latest/chrono/struct.NaiveDate.html
    pub fn from_long<U, K, I>(rows: I) -> Result<(Panel, Vec<K>), GeoError>
    where
        U: AsRef<str>,
        K: Ord + Clone + Display,
        I: IntoIterator<Item = (U, K, f64)>,
    {
        Self::from_long_filled(rows, Fill::Refuse).map(|(panel, keys, _)| (panel, keys))
    }

    /// As [`Panel::from_long`], with gaps handled by `fill` (zero, drop the unit, or refuse) and a
    /// report of what was filled or dropped.
    ///
    /// # Errors
    /// As [`Panel::from_long`] (a gap only with [`Fill::Refuse`]); [`GeoError::Shape`] when
    /// [`Fill::Drop`] drops every unit.
    pub fn from_long_filled<U, K, I>(
        rows: I,
        fill: Fill,
    ) -> Result<(Panel, Vec<K>, FillReport), GeoError>
    where
        U: AsRef<str>,
        K: Ord + Clone + Display,
        I: IntoIterator<Item = (U, K, f64)>,
    {
        let mut cells: BTreeMap<String, BTreeMap<K, f64>> = BTreeMap::new();
        let mut keys: BTreeSet<K> = BTreeSet::new();
        for (unit, key, value) in rows {
            let unit = unit.as_ref();
            let per_unit = cells.entry(unit.to_owned()).or_default();
            if per_unit.contains_key(&key) {
                return Err(GeoError::DuplicateObservation {
                    unit: unit.to_owned(),
                    time: key.to_string(),
                });
            }
            if !value.is_finite() {
                return Err(GeoError::NonFinite {
                    unit: unit.to_owned(),
                    time: key.to_string(),
                });
            }
            per_unit.insert(key.clone(), value);
            keys.insert(key);
        }
        if cells.is_empty() {
            return Err(GeoError::Shape("no rows".to_owned()));
        }
        let keys: Vec<K> = keys.into_iter().collect();
        let mut report = FillReport::default();
        let mut kept: Vec<(String, BTreeMap<K, f64>)> = Vec::with_capacity(cells.len());
        for (unit, per_unit) in cells {
            if per_unit.len() != keys.len() {
                match fill {
                    Fill::Refuse => {
                        let missing = keys
                            .iter()
                            .find(|k| !per_unit.contains_key(k))
                            .map(ToString::to_string)
                            .unwrap_or_default();
                        return Err(GeoError::MissingObservation {
                            unit,
                            time: missing,
                            have: per_unit.len(),
                            expected: keys.len(),
                        });
                    }
                    Fill::Drop => {
                        report.dropped.push(unit);
                        continue;
                    }
                    Fill::Zero => report.zero_filled += keys.len() - per_unit.len(),
                }
            }
            kept.push((unit, per_unit));
        }
        if kept.is_empty() {
            return Err(GeoError::Shape(format!(
                "every unit has a gap: {} units dropped",
                report.dropped.len()
            )));
        }
        let mut y = DMatrix::zeros(kept.len(), keys.len());
        let mut units = Vec::with_capacity(kept.len());
        for (i, (unit, per_unit)) in kept.into_iter().enumerate() {
            for (t, k) in keys.iter().enumerate() {
                y[(i, t)] = per_unit.get(k).copied().unwrap_or(0.0);
            }
            units.push(unit);
        }
        let panel = Panel::new(units, y)?;
        Ok((panel, keys, report))
    }

    /// Row index of a unit, by exact name.
    pub fn unit_index(&self, name: &str) -> Option<usize> {
        self.units.iter().position(|u| u == name)
    }

    /// Row indices of several units.
    ///
    /// # Errors
    /// [`GeoError::UnknownUnit`] naming the first unit that is not in the panel.
    pub fn unit_indices<S: AsRef<str>>(&self, names: &[S]) -> Result<Vec<usize>, GeoError> {
        names
            .iter()
            .map(|n| {
                self.unit_index(n.as_ref())
                    .ok_or_else(|| GeoError::UnknownUnit(n.as_ref().to_owned()))
            })
            .collect()
    }
}
