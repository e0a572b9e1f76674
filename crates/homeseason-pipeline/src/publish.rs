//! The generic publishing rule for tables whose cells sum to published margins (cities within a
//! region, urban/rural classes within a region × category): [`suppress_cells`] decides which cells
//! to blank — every cell resting on fewer merchants than the threshold, and its complements, so
//! that no published margin less the visible cells gives a blanked one back. Used by
//! [`crate::city::published_cities`] and [`crate::dimensions`] (channel and urban/rural tables).

/// Cells to publish, the linear constraints an attacker knows, and a threshold: which cells to blank.
///
/// Each cell has a lower bound on its distinct merchants and a size (which complement costs least).
/// Each margin is a set of cells whose sum the attacker knows (a published total, or a published cell
/// minus its parts: list the published sum cell itself among them). Primary: every cell below
/// `threshold`. Complementary, until nothing changes: a margin with exactly one blanked cell would
/// give it back by difference, so its smallest visible cell is blanked too. A margin of one cell
/// cannot be protected by blanking cells (its total is published elsewhere): such a cell is listed in
/// [`Suppression::exposed`].
///
/// Generic over what the cells are (cities, urban/rural parts); this is the pairwise rule, not a
/// full linear-programming audit: two blanked cells of one margin can still be recovered when
/// another margin holds exactly one of them, which the loop handles by blanking there as well.
#[must_use]
pub fn suppress_cells(
    merchants: &[u64],
    sizes: &[f64],
    margins: &[Vec<usize>],
    threshold: u64,
) -> Suppression {
    let mut hidden: Vec<bool> = merchants.iter().map(|&m| m < threshold).collect();
    let mut exposed = Vec::new();
    loop {
        let mut changed = false;
        for margin in margins {
            let blanked: Vec<usize> = margin.iter().copied().filter(|&c| hidden[c]).collect();
            if blanked.len() != 1 {
                continue;
            }
            let other = margin
                .iter()
                .copied()
                .filter(|&c| !hidden[c])
                .min_by(|&a, &b| sizes[a].abs().total_cmp(&sizes[b].abs()).then(a.cmp(&b)));
            match other {
                Some(c) => {
                    hidden[c] = true;
                    changed = true;
                }
                None => {
                    if !exposed.contains(&blanked[0]) {
                        exposed.push(blanked[0]);
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
    exposed.sort_unstable();
    Suppression { hidden, exposed }
}

/// What [`suppress_cells`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    /// Per cell: blank it.
    pub hidden: Vec<bool>,
    /// Blanked cells alone in a margin (its total, published elsewhere, is the cell).
    pub exposed: Vec<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generic rule: one blanked cell in a margin draws the smallest other; a margin already
    /// holding two is left alone; a cell alone in its margin is reported as exposed.
    #[test]
    fn the_generic_rule_pairs_every_blanked_cell() {
        let merchants = [2, 50, 40, 60, 1];
        let sizes = [10.0, 500.0, 300.0, 900.0, 7.0];
        let margins = vec![vec![0, 1, 2, 3], vec![4]];
        let s = suppress_cells(&merchants, &sizes, &margins, 5);
        assert_eq!(s.hidden, [true, false, true, false, true]);
        assert_eq!(s.exposed, [4]);
        // Chained margins: hiding 2 for the first margin leaves 2 alone in the second.
        let margins = vec![vec![0, 1, 2], vec![2, 3]];
        let s = suppress_cells(&[2, 50, 40, 60], &[1.0, 500.0, 300.0, 900.0], &margins, 5);
        assert_eq!(s.hidden, [true, false, true, true]);
        let untouched = suppress_cells(&[9, 9], &[1.0, 1.0], &[vec![0, 1]], 5);
        assert_eq!(untouched.hidden, [false, false]);
    }
}
