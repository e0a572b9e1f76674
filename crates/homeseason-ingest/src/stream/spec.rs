//! The row spec: which column is which field, and everything a worker needs to judge a row.

use super::*;

/// The input fields of `payment_transactions`, in contract (and so reject-priority) order.
pub(super) const FIELDS: [&str; 9] = TXN_FIELDS;
pub(super) const F_TXN: usize = 0;
pub(super) const F_INST: usize = 1;
pub(super) const F_TIME: usize = 2;
pub(super) const F_MERCHANT: usize = 3;
pub(super) const F_MCC: usize = 4;
pub(super) const F_REGION: usize = 5;
pub(super) const F_AMOUNT: usize = 6;
pub(super) const F_TYPE: usize = 7;
pub(super) const F_CHANNEL: usize = 8;

pub(super) const SALE: u8 = 0;
pub(super) const REFUND: u8 = 1;
pub(super) const REVERSAL: u8 = 2;

pub(super) struct Spec<'a> {
    pub(super) format: Format,
    pub(super) delimiter: u8,
    /// CSV: column index of each field.
    pub(super) columns: [Option<usize>; 9],
    /// Header text of each field (for messages).
    pub(super) headers: [String; 9],
    pub(super) institution: String,
    /// `institution` is a well-formed code the profile knows: a row naming it passes the
    /// institution checks without running them again.
    pub(super) institution_ok: bool,
    pub(super) profile: &'a Profile,
    pub(super) contract: &'static TableContract,
    pub(super) regions: &'static Regions,
    /// MCC (0–9999) → category id.
    pub(super) category: Vec<&'static str>,
    /// Second pass: fingerprints whose txn_id text the merger needs.
    pub(super) want_fps: Option<WantSet>,
    /// The verification pass: only the rows whose fingerprint is in `want_fps` are judged and
    /// returned; the others, and every reject, the first pass has already handled.
    pub(super) only_wanted: bool,
    /// Second pass: months whose rows need their raw text (they may be rejected).
    pub(super) want_months: Vec<MonthKey>,
    /// The campaign's data years (first year of history to the window's last): a transaction
    /// outside them is rejected as `bad_period`.
    pub(super) years: (i32, i32),
    /// The contract's maximum amount in fen (`payment_transactions.amount`): a larger amount, sale
    /// or refund, is rejected as `above_maximum`.
    pub(super) max_fen: Option<i64>,
}

/// The contract's maximum of `amount` in fen.
pub(super) fn max_fen(contract: &TableContract) -> Option<i64> {
    let max = contract.field(FIELDS[F_AMOUNT])?.constraints.maximum?;
    // A contract maximum is a whole number of yuan far below i64::MAX / 100.
    Some((max * 100.0).round() as i64)
}

impl Spec<'_> {
    pub(super) fn field(&self, i: usize) -> Option<&'static Field> {
        self.contract.field(FIELDS[i])
    }
}
