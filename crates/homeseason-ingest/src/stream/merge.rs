//! The merger: chunks in order → dedupe, cross-file check, aggregation.

use super::*;

#[derive(Default, Clone, Copy)]
pub(super) struct Acc {
    /// Rows of every kind (sales, refunds, reversals).
    pub(super) rows: i64,
    pub(super) txn_count: i64,
    /// Sums in fen as `i128`: every row is at most the contract's maximum (an `i64` of fen), so no
    /// count of rows a machine can hold overflows them (100 sales of 999,999,999,999,999.99 yuan
    /// overflowed an `i64` sum to a negative gross before the maximum existed).
    pub(super) sale_fen: i128,
    pub(super) refund_fen: i128,
    pub(super) merchants: i64,
}

/// A month's new rows rolled up: one map keyed once per row, by area cell; the daily cells are
/// folded from it at the end ([`Aggregate::daily`]).
#[derive(Default)]
pub(super) struct Aggregate {
    /// The rows by area cell ([`pack_area`]).
    pub(super) areas: AccMap,
    /// Distinct merchants of each daily cell ([`pack_group`]): the one figure of a daily cell that
    /// is not the sum of its area cells' (a merchant selling in two areas of a region counts once
    /// there). Touched only when a (cell, merchant) pair is counted for the first time.
    pub(super) cell_merchants: U64Map<i64>,
    pub(super) rows: usize,
}

/// An area cell's sums in one cache line, with its key ([`AccMap`]).
#[derive(Default, Clone, Copy)]
#[repr(C, align(64))]
pub(super) struct AccSlot {
    key: u64,
    rows: i64,
    txn_count: i64,
    merchants: i64,
    sale_fen: i128,
    refund_fen: i128,
}

impl AccSlot {
    fn acc(&self) -> Acc {
        Acc {
            rows: self.rows,
            txn_count: self.txn_count,
            sale_fen: self.sale_fen,
            refund_fen: self.refund_fen,
            merchants: self.merchants,
        }
    }
}

/// The area cells' sums by key: open addressing over [`AccSlot`]s, a cache line each, so that the
/// merger can prefetch a row's cell before it adds the row ([`AccMap::touch`]) — a month holds
/// about a million cells, far more than the cache.
pub(super) struct AccMap {
    /// Key `0` marks an empty slot; the cell keyed `0` (never a real cell: its day's high bits are
    /// offset) lives in `zero`.
    slots: Vec<AccSlot>,
    len: usize,
    zero: Option<AccSlot>,
}

impl Default for AccMap {
    fn default() -> Self {
        AccMap {
            slots: vec![AccSlot::default(); 1024],
            len: 0,
            zero: None,
        }
    }
}

impl AccMap {
    #[inline]
    fn home(&self, key: u64) -> usize {
        (mix64(key) as usize) & (self.slots.len() - 1)
    }

    /// The cell of `key`, added (zero) when new.
    #[inline]
    fn cell(&mut self, key: u64) -> &mut AccSlot {
        if key == 0 {
            return self.zero.get_or_insert_with(AccSlot::default);
        }
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        loop {
            let k = self.slots[i].key;
            if k == key {
                return &mut self.slots[i];
            }
            if k == 0 {
                self.len += 1;
                self.slots[i].key = key;
                return &mut self.slots[i];
            }
            i = (i + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let doubled = vec![AccSlot::default(); self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, doubled);
        let mask = self.slots.len() - 1;
        for s in old.into_iter().filter(|s| s.key != 0) {
            let mut i = self.home(s.key);
            while self.slots[i].key != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = s;
        }
    }

    /// Ask the cache for the slot `key` is probed at first ([`prefetch`]).
    #[inline]
    pub(super) fn touch(&self, key: u64) {
        prefetch(&self.slots[self.home(key)]);
    }

    /// The cells and their sums, in no particular order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u64, Acc)> + '_ {
        self.zero
            .iter()
            .chain(self.slots.iter().filter(|s| s.key != 0))
            .map(|s| (s.key, s.acc()))
    }
}

/// The distinct merchants counted so far: (cell, merchant) and (area cell, merchant) pairs.
pub(super) struct Merchants {
    pub(super) cells: FpSet,
    pub(super) areas: FpSet,
}

/// The area cell of a row ([`pack_area`]).
#[inline]
pub(super) fn area_key(row: &Row) -> u64 {
    let (day, _, mcc, channel) = unpack_group(row.group);
    pack_area(day, row.area, mcc, channel)
}

impl Aggregate {
    /// Add a row; returns the merchant pair and the area merchant pair, each when it is counted
    /// for the first time.
    pub(super) fn add(
        &mut self,
        row: &Row,
        merchants: &mut Merchants,
    ) -> (Option<u64>, Option<u64>) {
        self.rows += 1;
        let area = self.areas.cell(area_key(row));
        area.rows += 1;
        if row.kind == SALE {
            area.txn_count += 1;
            area.sale_fen += i128::from(row.fen);
            // The (cell, merchant) pairs, hashed in the worker ([`merchant_pair`],
            // [`area_merchant_pair`]).
            let area_pair = merchants
                .areas
                .insert(row.area_merchant)
                .then_some(row.area_merchant);
            if area_pair.is_some() {
                area.merchants += 1;
            }
            let pair = merchants.cells.insert(row.merchant).then_some(row.merchant);
            if pair.is_some() {
                *self.cell_merchants.entry(row.group).or_default() += 1;
            }
            (pair, area_pair)
        } else {
            area.refund_fen += i128::from(row.fen);
            (None, None)
        }
    }

    /// The daily cells ([`pack_group`]): the sums of their area cells (every area lies in one
    /// reporting region, `region_of_area`: [`Areas`] index → [`Regions`] index), with the daily
    /// cells' own distinct merchants.
    pub(super) fn daily(&self, region_of_area: &[Option<u8>]) -> U64Map<Acc> {
        let mut cells: U64Map<Acc> = U64Map::default();
        for (key, a) in self.areas.iter() {
            let (day, area, mcc, channel) = unpack_area(key);
            let Some(region) = region_of_area.get(usize::from(area)).copied().flatten() else {
                continue;
            };
            let group = pack_group(day, region, mcc, channel);
            let acc = cells.entry(group).or_default();
            acc.rows += a.rows;
            acc.txn_count += a.txn_count;
            acc.sale_fen += a.sale_fen;
            acc.refund_fen += a.refund_fen;
            if acc.merchants == 0 {
                acc.merchants = self.cell_merchants.get(&group).copied().unwrap_or(0);
            }
        }
        cells
    }
}

pub(super) struct MonthState {
    pub(super) key: MonthKey,
    /// The files already holding rows of the month, when any.
    pub(super) owner: Option<String>,
    /// Rows new to the lake (only these are added).
    pub(super) main: Aggregate,
    pub(super) spill: Vec<(u128, i32, u64)>,
    pub(super) spill_pairs: Vec<(u64, i32)>,
    pub(super) spill_area_pairs: Vec<(u64, i32)>,
}

/// Decisions carried from the first pass into the second.
#[derive(Clone, Default)]
pub(super) struct Plan {
    /// Within-file fingerprints that repeat (verify with the txn_id text).
    pub(super) verify: Option<FpSet>,
}

pub(super) struct Merged {
    pub(super) months: BTreeMap<MonthKey, MonthState>,
    pub(super) merchants: Merchants,
    pub(super) candidates: FpSet,
    pub(super) candidate_count: usize,
    /// First pass: fingerprints whose first row the lake holds with other values (the verification
    /// pass rejects that row as a `conflict`, with its text).
    pub(super) lake_conflicts: FpSet,
    /// First pass: the lines of the rows dropped as repeats (their fingerprint may have been seen:
    /// [`DupFilter`]), in file order; the verification pass judges each exactly.
    pub(super) dropped: Vec<u64>,
    /// Every transaction id the institution already has in the lake (all months), once a month
    /// that the lake holds is met.
    pub(super) known: Option<Arc<KnownIds>>,
    /// First pass, ids spilled: the rows whose id the filter may hold, judged when the pass is
    /// over ([`resolve_deferred`]).
    pub(super) deferred: Option<Deferred>,
    /// The lines of deferred rows the lake does not hold (the filter's false hits), in file
    /// order: the verification pass takes them.
    pub(super) late: Vec<u64>,
    pub(super) duplicates_in_file: usize,
    pub(super) duplicates_across: BTreeMap<MonthKey, usize>,
    /// Rows rejected as `conflict`: a transaction id repeated with other values (in the file or
    /// against the lake's index).
    pub(super) conflicts: usize,
    pub(super) read: usize,
}

/// The first occurrence in the file of a transaction id whose fingerprint repeats (second pass):
/// where its `txn_id` text ends in its chunk's texts ([`FirstsChunk`]; compared exactly) and what
/// a conflict's message names.
struct FirstSeen {
    /// The end of its `txn_id` text in [`FirstsChunk::texts`]; the text starts where the
    /// previous row of the chunk's ends.
    txn_end: usize,
    values: u64,
    line: u64,
    group: u64,
    fen: i64,
    /// XXH64 of the merchant text: only which values differ is shown, and the merchant is part of
    /// the values' fingerprint that decides a conflict anyway.
    merchant: u64,
    sale: bool,
}

/// The merchant's hash kept by [`FirstSeen`].
fn merchant_hash(merchant: &str) -> u64 {
    xxh64::xxh64(merchant.as_bytes(), 42)
}

/// The [`FirstSeen`] rows by fingerprint: one inline (almost every fingerprint has one `txn_id`
/// text), the others of a fingerprint two ids share beside it.
///
/// The rows live in chunks of [`FIRSTS_CHUNK`] rows, each with its rows' texts in one buffer;
/// the maps hold only the rows' indices. A verification pass keeps ~2 M rows at 50 M rows, and a
/// map holding the rows themselves (72 B a bucket, a heap text each) rehashed near the end of the
/// pass with its old table (153 MB) and its new one (306 MB) alive together: the process's peak.
/// Chunks of a fixed size are never copied, and only filled ones are touched; one vector grown by
/// doubling, freed at the end of the pass, raised `malloc`'s mmap threshold and left a fresh
/// 10 M ingest's commit ~40 MiB higher.
#[derive(Default)]
struct Firsts {
    /// Fingerprint → index of the first text kept for it.
    one: U64Map<usize>,
    /// Fingerprint → indices of the other texts sharing it.
    more: U64Map<Vec<usize>>,
    chunks: Vec<FirstsChunk>,
}

/// Rows kept by [`Firsts`] per chunk (56 B each).
const FIRSTS_CHUNK: usize = 1 << 14;

/// [`FIRSTS_CHUNK`] rows of [`Firsts`] and their `txn_id` texts, one after another
/// ([`FirstSeen::txn_end`]).
struct FirstsChunk {
    rows: Vec<FirstSeen>,
    texts: Vec<u8>,
}

impl Firsts {
    /// Row `i` and its `txn_id` text.
    fn row(&self, i: usize) -> (&FirstSeen, &[u8]) {
        let c = &self.chunks[i / FIRSTS_CHUNK];
        let r = i % FIRSTS_CHUNK;
        let start = match r.checked_sub(1) {
            Some(p) => c.rows[p].txn_end,
            None => 0,
        };
        (&c.rows[r], &c.texts[start..c.rows[r].txn_end])
    }

    /// The kept row of `fp` with `txn_id` text `txn`.
    fn find(&self, fp: u64, txn: &str) -> Option<&FirstSeen> {
        let is = |i: usize| self.row(i).1 == txn.as_bytes();
        let i = match self.one.get(&fp) {
            Some(&i) if is(i) => i,
            Some(_) => self.more.get(&fp)?.iter().copied().find(|&i| is(i))?,
            None => return None,
        };
        Some(self.row(i).0)
    }

    /// Keep `row`, the first occurrence of its txn_id text `txn_id` (merchant `merchant`) on line
    /// `line`, for fingerprint `fp`.
    fn push(&mut self, fp: u64, row: &Row, txn_id: &str, merchant: &str, line: u64) {
        if self
            .chunks
            .last()
            .is_none_or(|c| c.rows.len() == FIRSTS_CHUNK)
        {
            self.chunks.push(FirstsChunk {
                rows: Vec::with_capacity(FIRSTS_CHUNK),
                texts: Vec::with_capacity(FIRSTS_CHUNK * 20),
            });
        }
        let i = (self.chunks.len() - 1) * FIRSTS_CHUNK;
        let Some(c) = self.chunks.last_mut() else {
            return;
        };
        let i = i + c.rows.len();
        c.texts.extend_from_slice(txn_id.as_bytes());
        c.rows.push(FirstSeen {
            txn_end: c.texts.len(),
            values: row.values,
            line,
            group: row.group,
            sale: row.kind == SALE,
            fen: row.fen,
            merchant: merchant_hash(merchant),
        });
        match self.one.entry(fp) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(i);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.more.entry(fp).or_default().push(i);
            }
        }
    }
}

impl FirstSeen {
    /// Which of [`TXN_VALUE_FIELDS`] differ between this occurrence and `row` (merchant
    /// `merchant`): bit `i` for field `i`.
    fn differs(&self, row: &Row, merchant: &str) -> u8 {
        let (a, b) = (unpack_group(self.group), unpack_group(row.group));
        [
            a.0 != b.0,
            a.1 != b.1,
            a.2 != b.2,
            a.3 != b.3,
            self.sale != (row.kind == SALE),
            self.fen != row.fen,
            self.merchant != merchant_hash(merchant),
        ]
        .into_iter()
        .enumerate()
        .fold(0, |bits, (i, d)| bits | (u8::from(d) << i))
    }

    /// Rejects `row` on line `line` — its txn_id, raw line and merchant in `texts` — as a
    /// `conflict` with this first occurrence: the same id with other values; the first is kept.
    fn reject_conflict(
        &self,
        sink: &mut RejectSink,
        spec: &Spec<'_>,
        row: &Row,
        (txn_id, raw, merchant): (&str, &str, &str),
        line: u64,
    ) {
        let differs = self.differs(row, merchant);
        push_conflict(sink, spec, line, (txn_id, raw), Some(self.line), differs);
    }
}

/// Rejects the row on line `line` (txn_id `txn_id`, raw text `raw`) as a `conflict` with the row
/// the lake already holds for that id with other values; the lake's row is kept.
fn reject_lake_conflict(
    sink: &mut RejectSink,
    spec: &Spec<'_>,
    line: u64,
    txn_id: &str,
    raw: &str,
) {
    push_conflict(sink, spec, line, (txn_id, raw), None, 0);
}

/// Pushes the `conflict` reject of the row on line `line` (its txn_id and raw text): the first
/// occurrence is on line `first_line` of this file (`None`: held by the lake) and `differs` names
/// the values that differ (bit `i`: [`TXN_VALUE_FIELDS`]`[i]`; [`txn_conflict_detail`]). The detail
/// is kept compact; its text is written once, into the `rejects` frame.
fn push_conflict(
    sink: &mut RejectSink,
    spec: &Spec<'_>,
    line: u64,
    (txn_id, raw): (&str, &str),
    first_line: Option<u64>,
    differs: u8,
) {
    sink.push_compact(
        line,
        Some(spec.headers[F_TXN].clone()),
        Reason::Conflict,
        txn_id,
        Detail::TxnConflict {
            institution: spec.institution.clone(),
            first_line,
            differs,
        },
        raw,
    );
}

/// A transaction file and what reading it needs: the same for every pass over it.
pub(super) struct Input<'a, 'o> {
    pub(super) file: &'a str,
    pub(super) open: &'a Opener<'o>,
    /// The file's size in bytes, when known (sizes the duplicate table).
    pub(super) size_hint: Option<u64>,
    pub(super) format: Format,
    pub(super) profile: &'a Profile,
    pub(super) campaign: &'a Campaign,
}

/// How a file whose fingerprints repeat is checked after the first pass.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Second {
    /// Judge only the rows whose fingerprint repeats, against what the first pass decided
    /// ([`verify`]); the full pass only when two different txn_ids share a fingerprint.
    Verify,
    /// Read, judge and merge every row again (what [`Second::Verify`] falls back to; the tests
    /// compare the two).
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "compared with Verify in the tests")
    )]
    Full,
}

/// Ingest a transaction file: a first pass that decides every row, and — when a `txn_id`
/// fingerprint repeats or the lake holds a row's id with other values — a verification pass that
/// judges only those rows again (see [`verify`]).
pub(super) fn run_all(
    input: &Input<'_, '_>,
    sha_override: Option<String>,
    ctx: &mut dyn TxnContext,
) -> Result<TxnOutcome> {
    run_all_with(input, sha_override, ctx, Second::Verify)
}

/// [`run_all`], choosing how repeated fingerprints are checked.
pub(super) fn run_all_with(
    input: &Input<'_, '_>,
    sha_override: Option<String>,
    ctx: &mut dyn TxnContext,
    second: Second,
) -> Result<TxnOutcome> {
    let file = input.file;
    let ((mut merged, mut sink), mut summary, mut header) =
        run_pass(input, None, false, |out0, rx, est_rows, spec| {
            let mut sink = RejectSink::new(Feed::PaymentTransactions.id(), file, "");
            let m = merge(file, out0, rx, est_rows, spec, None, &mut *ctx, &mut sink)?;
            Ok((m, sink))
        })?;
    let mut passes = 1;
    if merged.candidate_count > 0 {
        let candidates = std::mem::replace(&mut merged.candidates, FpSet::with_capacity(0));
        let verified = if second == Second::Verify {
            passes += 1;
            let want = Some(candidates.clone());
            run_pass(input, want, true, |out0, rx, _, spec| {
                verify(&mut merged, &mut sink, out0, rx, spec, &mut *ctx, file)
            })?
            .0
        } else {
            false
        };
        if !verified {
            // Start again from the first pass's reading, verifying every repeated fingerprint's
            // rows as they come (the old second pass).
            ctx.reset_spill().map_err(|e| IngestError::Csv {
                file: file.to_owned(),
                reason: format!("txn index spill: {e}"),
            })?;
            drop(merged);
            drop(sink);
            let plan = Plan {
                verify: Some(candidates.clone()),
            };
            let full;
            (full, summary, header) = run_pass(
                input,
                Some(candidates),
                false,
                |out0, rx, est_rows, spec| {
                    let mut sink = RejectSink::new(Feed::PaymentTransactions.id(), file, "");
                    let m = merge(
                        file,
                        out0,
                        rx,
                        est_rows,
                        spec,
                        Some(&plan),
                        &mut *ctx,
                        &mut sink,
                    )?;
                    Ok((m, sink))
                },
            )?;
            (merged, sink) = full;
            passes += 1;
        }
    }
    let home = home_month(&merged, file);
    // A file is an increment: it adds its new transactions to every month it carries.
    let write: Vec<MonthKey> = merged.months.keys().copied().collect();
    finish(
        file,
        merged,
        sink,
        summary,
        header,
        sha_override,
        home,
        &write,
        passes,
        input.campaign,
    )
}

/// The month holding most of the file's rows. Ties (an export overlapping the end of the previous
/// month as much as it covers its own) go to the month with more rows no other file holds, then to the
/// month the file's name carries (`…_2023-10.csv`), then to the later month.
pub(super) fn home_month(m: &Merged, file: &str) -> Option<MonthKey> {
    let named = name_month(file);
    m.months
        .values()
        .map(|s| (s.main.rows, s.main.rows, Some(s.key) == named, s.key))
        .max()
        .map(|(_, _, _, k)| k)
}

/// The month a file's name carries: the last `YYYY-MM`, `YYYY_MM` or `YYYYMM` (year 1900–2099) in it.
/// Both engines use it to break ties between a file's months.
#[must_use]
pub fn name_month(file: &str) -> Option<MonthKey> {
    let b = slot(file).as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let mut found = None;
    for i in 0..b.len() {
        if i > 0 && digit(i - 1) {
            continue;
        }
        if !(0..4).all(|k| digit(i + k)) {
            continue;
        }
        let year = digits(&b[i..i + 4])?;
        if !(1900..=2099).contains(&year) {
            continue;
        }
        let j = if matches!(b.get(i + 4), Some(b'-' | b'_')) {
            i + 5
        } else {
            i + 4
        };
        if !(digit(j) && digit(j + 1)) {
            continue;
        }
        let month = digits(&b[j..j + 2])?;
        if (1..=12).contains(&month) {
            found = Some(month_key(year as i32, month));
        }
    }
    found
}

/// A file's name without folders and extensions: `x/abc.csv.gz` → `abc`.
pub(super) fn slot(name: &str) -> &str {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    base.split('.').next().unwrap_or(base)
}

pub(super) struct Header {
    pub(super) ignored: Vec<String>,
    pub(super) headers: [String; 9],
    pub(super) institution: String,
    /// The amounts' unit when it is not yuan (the file report's `source_unit`): the amount header's,
    /// else the profile's.
    pub(super) source_unit: Option<String>,
}

/// One pass over the file: the reader thread, the workers and `merger` (on this thread), which
/// takes the first chunk's output, the channel of the others (in any order), the estimated rows and
/// the spec. `want` (fingerprints whose rows need their texts) and `only_wanted` (judge and return
/// only those rows: the verification pass) go to the workers.
pub(super) fn run_pass<T>(
    input: &Input<'_, '_>,
    want: Option<FpSet>,
    only_wanted: bool,
    merger: impl FnOnce(ChunkOut, &Receiver<ChunkOut>, usize, &Spec<'_>) -> Result<T>,
) -> Result<(T, ReadSummary, Header)> {
    let Input {
        file,
        open,
        size_hint,
        format,
        profile,
        campaign,
    } = *input;
    let contract = Feed::PaymentTransactions.contract();
    let io_err = |e: std::io::Error| IngestError::Csv {
        file: file.to_owned(),
        reason: e.to_string(),
    };
    let raw = open().map_err(io_err)?;
    let csv = format != Format::Jsonl;
    let workers = std::thread::available_parallelism()
        .map_or(2, std::num::NonZero::get)
        .clamp(1, 8);
    let (tx_a, rx_a) = sync_channel::<Chunk>(workers * 2);
    let (tx_b, rx_b) = sync_channel::<ChunkOut>(workers * 2);
    let (category, _) = mcc_categories(campaign);
    let owned_name = file.to_owned();
    // The verification pass keeps the first pass's digest: it need not hash the file again.
    let hash = !only_wanted;
    let pool = Arc::new(BufPool::default());
    let reader_pool = Arc::clone(&pool);
    let reader =
        std::thread::spawn(move || read_chunks(&owned_name, raw, csv, hash, &tx_a, &reader_pool));
    let Ok(chunk0) = rx_a.recv() else {
        drop(rx_a);
        return match reader.join() {
            Ok(Err(e)) => Err(e),
            _ => Err(IngestError::Empty {
                file: file.to_owned(),
            }),
        };
    };
    // Header: CSV's first record, or the keys of the first JSON object.
    let header_cells: Vec<String> = if csv {
        csv_header(file, &chunk0.data, profile.delimiter)?
    } else {
        let line = chunk0
            .data
            .split(|&b| b == b'\n')
            .find(|l| !trim(l).is_empty())
            .unwrap_or_default();
        match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(line) {
            Ok(obj) => obj.keys().cloned().collect(),
            Err(e) => {
                return Err(IngestError::Csv {
                    file: file.to_owned(),
                    reason: format!("first line is not a JSON object: {e}"),
                });
            }
        }
    };
    let TxnColumns {
        columns,
        headers,
        ignored,
        unit,
    } = map_txn_header(file, profile, header_cells)?;
    // The amounts' unit: the amount header's (`交易金额（分）`), else the profile's.
    let effective = Profile {
        amount_unit: unit,
        ..profile.clone()
    };
    let profile = &effective;
    // The institution: the profile's, else the first row that names one.
    let institution = file_institution(&chunk0.data, csv, profile, columns[F_INST]);
    let spec = Spec {
        format: if csv { Format::Csv } else { Format::Jsonl },
        delimiter: profile.delimiter,
        columns,
        headers: headers.clone(),
        institution_ok: institution_ok(profile, &institution),
        institution: institution.clone(),
        profile,
        contract,
        regions: Regions::embedded(),
        category,
        want_fps: want.map(WantSet::new),
        only_wanted,
        want_months: Vec::new(),
        years: campaign_years(campaign),
        max_fen: max_fen(contract),
    };
    let avg_row =
        (chunk0.data.len() / memchr::memchr_iter(b'\n', &chunk0.data).count().max(1)).max(16);
    let est_rows = size_hint.map_or(1 << 16, |s| {
        (usize::try_from(s).unwrap_or(usize::MAX) / avg_row).max(1 << 10)
    });
    let mut caches = Caches::default();
    let out0 = process_chunk(&spec, &chunk0, &mut caches, csv);
    drop(chunk0);
    let merged = std::thread::scope(|scope| {
        let spec = &spec;
        let rx_a = Arc::new(Mutex::new(rx_a));
        for _ in 0..workers {
            let rx = Arc::clone(&rx_a);
            let tx = tx_b.clone();
            let pool = &pool;
            scope.spawn(move || {
                let mut caches = Caches::default();
                loop {
                    let next = rx.lock().ok().and_then(|r| r.recv().ok());
                    let Some(chunk) = next else { break };
                    let out = process_chunk(spec, &chunk, &mut caches, false);
                    pool.give(chunk.data);
                    if tx.send(out).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx_b);
        let merged = merger(out0, &rx_b, est_rows, spec);
        // On an early error, stop the workers and the reader by closing the channels.
        drop(rx_b);
        drop(rx_a);
        merged
    });
    let summary = reader.join().unwrap_or_else(|_| {
        Err(IngestError::Csv {
            file: file.to_owned(),
            reason: "reader thread failed".into(),
        })
    });
    let merged = merged?;
    let summary = summary?;
    let _ = spec.category.len();
    Ok((
        merged,
        summary,
        Header {
            ignored,
            headers,
            institution,
            source_unit: profile.amount_unit.source_unit(),
        },
    ))
}

pub(super) fn sniff_institution(
    data: &[u8],
    csv: bool,
    profile: &Profile,
    column: Option<usize>,
) -> Option<String> {
    if csv {
        let col = column?;
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .delimiter(profile.delimiter)
            .from_reader(data);
        let codes: Vec<String> = rdr
            .byte_records()
            .filter_map(std::result::Result::ok)
            .filter_map(|r| {
                r.get(col)
                    .map(|v| String::from_utf8_lossy(trim(v)).into_owned())
            })
            .filter(|v| crate::profile::is_institution_code(v))
            .collect();
        prefer_known(codes, profile)
    } else {
        let codes: Vec<String> = data
            .split(|&b| b == b'\n')
            .filter_map(|l| {
                serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(l).ok()
            })
            .filter_map(|obj| {
                obj.iter()
                    .find(|(k, _)| resolve_txn_field(profile, k) == Some(F_INST))
                    .map(|(_, v)| json_text(v).trim().to_owned())
                    .filter(|v| crate::profile::is_institution_code(v))
            })
            .collect();
        prefer_known(codes, profile)
    }
}

/// The first known institution among a chunk's well-formed codes, else the first of them (its rows
/// are then rejected as `unknown_institution`).
fn prefer_known(codes: Vec<String>, profile: &Profile) -> Option<String> {
    let known = codes.iter().position(|c| profile.knows_institution(c));
    codes.into_iter().nth(known.unwrap_or(0))
}

#[expect(
    clippy::too_many_arguments,
    reason = "the arguments are the step's inputs, named as in the formulas"
)]
pub(super) fn merge(
    file: &str,
    first: ChunkOut,
    rx: &Receiver<ChunkOut>,
    est_rows: usize,
    spec: &Spec<'_>,
    plan: Option<&Plan>,
    ctx: &mut dyn TxnContext,
    sink: &mut RejectSink,
) -> Result<Merged> {
    let institution = spec.institution.as_str();
    let mut m = Merged {
        months: BTreeMap::new(),
        merchants: Merchants {
            // Sized by what they hold (they grow), not by the file: a file of many rows may
            // have few merchants.
            cells: FpSet::with_capacity((est_rows / 64).min(1 << 20)),
            areas: FpSet::with_capacity((est_rows / 64).min(1 << 20)),
        },
        candidates: FpSet::with_capacity(0),
        candidate_count: 0,
        lake_conflicts: FpSet::with_capacity(0),
        dropped: Vec::new(),
        known: None,
        deferred: None,
        late: Vec::new(),
        duplicates_in_file: 0,
        duplicates_across: BTreeMap::new(),
        conflicts: 0,
        read: 0,
    };
    let verify_set = plan.and_then(|p| p.verify.as_ref());
    // The first pass's duplicate table (bounded); the full second pass knows from the first which
    // fingerprints repeat and needs none.
    let mut seen = DupFilter::with_capacity(if verify_set.is_none() { est_rows } else { 0 });
    // Second pass: the first occurrence of each txn_id text behind a repeated fingerprint.
    let mut texts_by_fp = Firsts::default();
    let no_text = (String::new(), String::new(), String::new());
    let mut chunks = InOrder::new(first);
    let mut base_line: u64 = 1; // the header is line 1; chunk 0 starts there
    while let Some(out) = chunks.next(rx) {
        m.read += out.records;
        for r in &out.rejects {
            let line = base_line + u64::from(r.line) - 1;
            let header = r.field.map(|f| spec.headers[f].clone());
            match (&r.detail, r.field) {
                (Some(d), _) => sink.push_detail(line, header, r.reason, &r.value, Some(d), &r.raw),
                (None, Some(f)) => {
                    sink.push(line, header, r.reason, &r.value, spec.field(f), &r.raw);
                }
                (None, None) => sink.push_detail(line, header, r.reason, &r.value, None, &r.raw),
            }
        }
        // The slots a row will probe in the duplicate filter, its area cells and the merchant
        // pairs are prefetched [`AHEAD`] rows before it is probed, so that their memory latency
        // overlaps the work on the rows between.
        let first_pass = verify_set.is_none();
        let rows = &out.rows;
        for r in rows.iter().take(AHEAD) {
            touch_row(r, first_pass.then_some(&seen), &m);
        }
        for (i, row) in rows.iter().enumerate() {
            if let Some(r) = rows.get(i + AHEAD) {
                touch_row(r, first_pass.then_some(&seen), &m);
            }
            // Within-file duplicates: the first pass drops every row the filter may have
            // seen (the verification pass judges them exactly); the full second pass judges
            // by text every row whose fingerprint the first pass saw repeat.
            let line = base_line + u64::from(row.line) - 1;
            let repeat = match verify_set {
                None => !seen.insert(row.fp),
                Some(v) => v.contains(row.fp),
            };
            if repeat {
                if verify_set.is_none() {
                    // First pass: note the repeat and verify in a second pass.
                    m.candidates.insert(row.fp);
                    m.candidate_count += 1;
                    m.duplicates_in_file += 1;
                    m.dropped.push(line);
                    continue;
                }
                let (txn_id, raw, merchant) = out.texts.get(row.text as usize).unwrap_or(&no_text);
                match texts_by_fp.find(row.fp, txn_id) {
                    Some(f) if f.values == row.values => {
                        m.duplicates_in_file += 1;
                        continue;
                    }
                    Some(f) => {
                        // The same id with other values: a conflict, the first is kept.
                        f.reject_conflict(sink, spec, row, (txn_id, raw, merchant), line);
                        m.conflicts += 1;
                        continue;
                    }
                    None => {
                        texts_by_fp.push(row.fp, row, txn_id, merchant, line);
                    }
                }
            }
            let check = if verify_set.is_none() {
                Check::Defer
            } else {
                Check::Exact
            };
            if take_row(&mut m, ctx, institution, file, (row, line), check)? == Taken::HeldOther {
                // The lake holds this id with other values: a conflict, the first is kept.
                // The first pass notes it, so that the second reads the row's text.
                if verify_set.is_none() {
                    m.candidates.insert(row.fp);
                    m.lake_conflicts.insert(row.fp);
                    m.candidate_count += 1;
                } else {
                    let (txn_id, raw, _) = out.texts.get(row.text as usize).unwrap_or(&no_text);
                    reject_lake_conflict(sink, spec, line, txn_id, raw);
                    m.conflicts += 1;
                }
            }
        }
        base_line += u64::from(out.lines);
    }
    resolve_deferred(&mut m, file)?;
    flush_spills(&mut m, ctx, file, true)?;
    Ok(m)
}

/// The first pass is over: judge the rows it deferred (ids spilled, the filter may hold them)
/// against the lake's buckets. Held with the same or unknown values: a duplicate across files, as
/// [`take_row`] counts it. Held with other values: a conflict the verification pass rejects with
/// its text, as when [`take_row`] finds it. Not held (the filter's false hit): a new row the
/// verification pass takes ([`Merged::late`]).
fn resolve_deferred(m: &mut Merged, file: &str) -> Result<()> {
    let Some(d) = m.deferred.take() else {
        return Ok(());
    };
    let Some(known) = m.known.clone() else {
        return Ok(());
    };
    let KnownIds::Spilled(spilled) = &*known else {
        return Ok(());
    };
    let mut late = Vec::new();
    spilled
        .resolve(d, |j| {
            let fp = (j.id >> 64) as u64;
            match j.held {
                Some(h) if h != 0 && h != j.values => {
                    m.candidates.insert(fp);
                    m.lake_conflicts.insert(fp);
                    m.candidate_count += 1;
                }
                Some(_) => *m.duplicates_across.entry(j.month).or_default() += 1,
                None => {
                    m.candidates.insert(fp);
                    m.candidate_count += 1;
                    late.push(j.line);
                }
            }
        })
        .map_err(|e| lake_err(file, e))?;
    late.sort_unstable();
    m.late = late;
    Ok(())
}

fn lake_err(file: &str, reason: impl std::fmt::Display) -> IngestError {
    IngestError::Csv {
        file: file.to_owned(),
        reason: format!("reading the lake's txn index: {reason}"),
    }
}

/// Hands every month's ids and merchant pairs not yet spilled to the lake. `every_month`: the
/// pairs of every month, even none (the lake keeps a pairs file, maybe empty, for every month the
/// file carries: the end of a pass), else only those there are.
fn flush_spills(
    m: &mut Merged,
    ctx: &mut dyn TxnContext,
    file: &str,
    every_month: bool,
) -> Result<()> {
    for ms in m.months.values_mut() {
        let (y, mo) = year_month(ms.key);
        if !ms.spill.is_empty() {
            ctx.spill(y, mo, &ms.spill).map_err(|e| lake_err(file, e))?;
        }
        if every_month || !ms.spill_pairs.is_empty() {
            ctx.spill_pairs(y, mo, &ms.spill_pairs)
                .map_err(|e| lake_err(file, e))?;
        }
        if every_month || !ms.spill_area_pairs.is_empty() {
            ctx.spill_area_pairs(y, mo, &ms.spill_area_pairs)
                .map_err(|e| lake_err(file, e))?;
        }
        ms.spill = Vec::new();
        ms.spill_pairs = Vec::new();
        ms.spill_area_pairs = Vec::new();
    }
    Ok(())
}

/// Ids or merchant pairs of a month kept before they are handed to the lake.
const SPILL_BATCH: usize = 1 << 16;

/// How [`take_row`] checks a row against the lake's ids when they are spilled and the filter may
/// hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Defer the row ([`Merged::deferred`]; the first pass).
    Defer,
    /// Read the id's bucket (the few rows judged outside the first pass).
    Exact,
    /// The row's id is known not to be in the lake ([`Merged::late`]).
    Absent,
}

/// What [`take_row`] did with a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Taken {
    /// New to the lake: aggregated, its id and merchant pairs spilled.
    Added,
    /// The lake holds its id with the same values (or unknown ones): a duplicate across files.
    HeldSame,
    /// The lake holds its id with other values: nothing done (the caller rejects it).
    HeldOther,
    /// The lake's ids are spilled and may hold it: deferred ([`resolve_deferred`]).
    Deferred,
}

/// Takes a row that is the first of its `txn_id` in the file: the month (and what the lake holds
/// of it), the check against the lake's ids, then the aggregate and the spilled index.
fn take_row(
    m: &mut Merged,
    ctx: &mut dyn TxnContext,
    institution: &str,
    file: &str,
    (row, line): (&Row, u64),
    check: Check,
) -> Result<Taken> {
    if !m.months.contains_key(&row.month) {
        let (y, mo) = year_month(row.month);
        let owner = ctx
            .month_owner(institution, y, mo)
            .map_err(|e| lake_err(file, e))?;
        let mut file_names = None;
        if let Some(o) = owner {
            for pair in &o.merchant_pairs {
                m.merchants.cells.insert(*pair);
            }
            for pair in &o.area_pairs {
                m.merchants.areas.insert(*pair);
            }
            if m.known.is_none() {
                m.known = Some(o.txn_ids);
            }
            if !o.file.is_empty() {
                file_names = Some(o.file);
            }
        }
        m.months.insert(
            row.month,
            MonthState {
                key: row.month,
                owner: file_names,
                main: Aggregate::default(),
                spill: Vec::new(),
                spill_pairs: Vec::new(),
                spill_area_pairs: Vec::new(),
            },
        );
    }
    let Some(ms) = m.months.get_mut(&row.month) else {
        return Ok(Taken::HeldSame);
    };
    let id = (u128::from(row.fp) << 64) | u128::from(row.fp2);
    let held = match (m.known.as_deref(), check) {
        (None, _) | (_, Check::Absent) => None,
        (Some(known), _) => match known.quick(id) {
            Lookup::Absent => None,
            Lookup::Held(v) => Some(v),
            Lookup::Maybe if check == Check::Exact => {
                known.exact(id).map_err(|e| lake_err(file, e))?
            }
            Lookup::Maybe => {
                let KnownIds::Spilled(spilled) = known else {
                    return Err(lake_err(file, "an id in memory answered maybe"));
                };
                let d = m.deferred.get_or_insert_with(|| spilled.deferred());
                spilled
                    .defer(d, id, row.values, line, row.month)
                    .map_err(|e| lake_err(file, e))?;
                return Ok(Taken::Deferred);
            }
        },
    };
    if let Some(held) = held {
        if held != 0 && held != row.values {
            return Ok(Taken::HeldOther);
        }
        // Already in the lake (sent before, in any month, values equal or unknown): counted once.
        *m.duplicates_across.entry(row.month).or_default() += 1;
        return Ok(Taken::HeldSame);
    }
    let day = unpack_group(row.group).0;
    let (pair, area_pair) = ms.main.add(row, &mut m.merchants);
    if let Some(pair) = pair {
        ms.spill_pairs.push((pair, day));
    }
    if let Some(pair) = area_pair {
        ms.spill_area_pairs.push((pair, day));
    }
    ms.spill.push((id, day, row.values));
    // Handed to the lake as they fill (the index files are the same bytes as one hand-over at the
    // end: each kind is appended in order).
    let (y, mo) = year_month(ms.key);
    if ms.spill.len() >= SPILL_BATCH {
        ctx.spill(y, mo, &ms.spill).map_err(|e| lake_err(file, e))?;
        ms.spill.clear();
    }
    if ms.spill_pairs.len() >= SPILL_BATCH {
        ctx.spill_pairs(y, mo, &ms.spill_pairs)
            .map_err(|e| lake_err(file, e))?;
        ms.spill_pairs.clear();
    }
    if ms.spill_area_pairs.len() >= SPILL_BATCH {
        ctx.spill_area_pairs(y, mo, &ms.spill_area_pairs)
            .map_err(|e| lake_err(file, e))?;
        ms.spill_area_pairs.clear();
    }
    Ok(Taken::Added)
}

/// How many rows ahead of its probes a row's table slots are prefetched ([`touch_row`]): far
/// enough for the memory latency, near enough that a few dozen lines are in flight at once (a
/// burst of more stalls the core).
const AHEAD: usize = 12;

/// Prefetch the slots `row` will probe: the duplicate filter's (`seen`, the first pass), its area
/// cell's (a month already met) and the merchant pairs' (a sale).
#[inline]
fn touch_row(row: &Row, seen: Option<&DupFilter>, m: &Merged) {
    if let Some(seen) = seen {
        seen.touch(row.fp);
    }
    if let Some(ms) = m.months.get(&row.month) {
        ms.main.areas.touch(area_key(row));
    }
    if row.kind == SALE {
        m.merchants.cells.touch(row.merchant);
        m.merchants.areas.touch(row.area_merchant);
    }
}

/// The workers' outputs back in file order.
struct InOrder {
    /// Outputs that came before their turn, by sequence number.
    pending: BTreeMap<u64, ChunkOut>,
    next_seq: u64,
    /// The first chunk's output (processed on the merging thread).
    first: Option<ChunkOut>,
}

impl InOrder {
    fn new(first: ChunkOut) -> InOrder {
        InOrder {
            pending: BTreeMap::new(),
            next_seq: 0,
            first: Some(first),
        }
    }

    /// The next chunk's output in file order; `None` when the workers are done (or stopped).
    fn next(&mut self, rx: &Receiver<ChunkOut>) -> Option<ChunkOut> {
        loop {
            let out = if let Some(o) = self.pending.remove(&self.next_seq) {
                o
            } else if let Some(o) = self.first.take() {
                o
            } else {
                rx.recv().ok()?
            };
            if out.seq == self.next_seq {
                self.next_seq += 1;
                return Some(out);
            }
            self.pending.insert(out.seq, out);
        }
    }
}

/// The verification pass: the workers return only the rows whose fingerprint the first pass saw
/// repeat (or found in the lake with other values), with their texts, in file order; every other
/// row the first pass decided for good, and its counts, aggregates and spilled index stay.
///
/// A row the first pass took (not in [`Merged::dropped`]) is the first of its fingerprint in the
/// file, so the first of its `txn_id` text: it is kept here as the row later ones are compared
/// with, and rejected as a `conflict` when the first pass found its id in the lake with other
/// values. A row the first pass dropped is judged by its text: the same `txn_id` as an earlier row
/// with equal values stays the duplicate the first pass counted; with other values it becomes a
/// `conflict` (the first kept); a `txn_id` no earlier row has (the duplicate table's false hit,
/// or two ids sharing a 64-bit fingerprint) is a new row the first pass wrongly dropped, and is
/// taken now ([`take_row`]). The outcome is the one a full second pass gives (`true`; `false` is
/// kept for the callers' fallback and not returned any more).
pub(super) fn verify(
    m: &mut Merged,
    sink: &mut RejectSink,
    first: ChunkOut,
    rx: &Receiver<ChunkOut>,
    spec: &Spec<'_>,
    ctx: &mut dyn TxnContext,
    file: &str,
) -> Result<bool> {
    let no_text = (String::new(), String::new(), String::new());
    // The first row of each txn_id text behind a repeated fingerprint, by fingerprint.
    let mut firsts = Firsts::default();
    let dropped = std::mem::take(&mut m.dropped);
    let late = std::mem::take(&mut m.late);
    let months_before = m.months.len();
    let mut next_dropped = dropped.iter().copied().peekable();
    let mut next_late = late.iter().copied().peekable();
    let mut chunks = InOrder::new(first);
    let mut base_line: u64 = 1;
    while let Some(out) = chunks.next(rx) {
        for row in &out.rows {
            let (txn_id, raw, merchant) = out.texts.get(row.text as usize).unwrap_or(&no_text);
            let line = base_line + u64::from(row.line) - 1;
            while next_dropped.next_if(|&d| d < line).is_some() {}
            let was_dropped = next_dropped.next_if_eq(&line).is_some();
            while next_late.next_if(|&d| d < line).is_some() {}
            if next_late.next_if_eq(&line).is_some() {
                // Deferred by the first pass and not in the lake: a new row, taken now.
                firsts.push(row.fp, row, txn_id, merchant, line);
                take_row(m, ctx, &spec.institution, file, (row, line), Check::Absent)?;
                continue;
            }
            if !was_dropped {
                firsts.push(row.fp, row, txn_id, merchant, line);
                if m.lake_conflicts.contains(row.fp) {
                    // The lake holds this id with other values: a conflict, the first is kept.
                    reject_lake_conflict(sink, spec, line, txn_id, raw);
                    m.conflicts += 1;
                }
                continue;
            }
            match firsts.find(row.fp, txn_id) {
                Some(f) if f.values == row.values => {}
                Some(f) => {
                    // The same id with other values: a conflict, the first is kept. The first
                    // pass counted the row as a duplicate.
                    f.reject_conflict(sink, spec, row, (txn_id, raw, merchant), line);
                    m.conflicts += 1;
                    m.duplicates_in_file -= 1;
                }
                None => {
                    // A new txn_id the first pass dropped: take it now.
                    firsts.push(row.fp, row, txn_id, merchant, line);
                    m.duplicates_in_file -= 1;
                    let taken =
                        take_row(m, ctx, &spec.institution, file, (row, line), Check::Exact)?;
                    if taken == Taken::HeldOther {
                        reject_lake_conflict(sink, spec, line, txn_id, raw);
                        m.conflicts += 1;
                    }
                }
            }
        }
        base_line += u64::from(out.lines);
    }
    // A month first met here (a false hit's) gets its pairs file too.
    let new_months = m.months.len() != months_before;
    flush_spills(m, ctx, file, new_months)?;
    Ok(true)
}

#[expect(
    clippy::too_many_arguments,
    reason = "the arguments are the step's inputs, named as in the formulas"
)]
pub(super) fn finish(
    file: &str,
    merged: Merged,
    sink: RejectSink,
    summary: ReadSummary,
    header: Header,
    sha_override: Option<String>,
    home: Option<MonthKey>,
    write: &[MonthKey],
    passes: usize,
    campaign: &Campaign,
) -> Result<TxnOutcome> {
    let err = crate::frame_util::perr(file);
    // The duplicate table and the merchant sets are not needed any more: free them before the
    // frames are built.
    let Merged {
        mut months,
        merchants,
        candidates,
        lake_conflicts,
        dropped: _,
        known: _,
        deferred: _,
        late: _,
        duplicates_in_file,
        duplicates_across,
        conflicts,
        read,
        candidate_count: _,
    } = merged;
    drop((merchants, candidates, lake_conflicts));
    let sha256 = sha_override.unwrap_or(summary.sha256);
    let _ = summary.gzip;
    let regions = Regions::embedded();
    let mut txn_months = Vec::new();
    let mut accepted = 0usize;
    let mut across = 0usize;
    let mut cells = DailyCells::new(campaign);
    let areas = Areas::embedded();
    // Each area's reporting region, as the index the daily cells' keys carry.
    let region_of_area: Vec<Option<u8>> = areas
        .all()
        .iter()
        .map(|a| {
            regions
                .all()
                .iter()
                .position(|r| r.code == a.region)
                .and_then(|i| u8::try_from(i).ok())
        })
        .collect();
    let mut area_cells = AreaCells::new(campaign);
    for ms in months.values_mut() {
        let (year, month) = year_month(ms.key);
        let written = write.contains(&ms.key);
        let dup_here = duplicates_across.get(&ms.key).copied().unwrap_or(0);
        across += dup_here;
        let mut n = 0;
        if written {
            n = ms.main.rows;
            accepted += n;
            for (g, acc) in &ms.main.daily(&region_of_area) {
                let (day, region, mcc, channel) = unpack_group(*g);
                let channel = if channel == 1 { "online" } else { "offline" };
                cells.push(DailyCell {
                    day,
                    region: regions
                        .all()
                        .get(usize::from(region))
                        .map_or("", |r| r.code.as_str()),
                    mcc,
                    channel,
                    rows: acc.rows,
                    txn_count: acc.txn_count,
                    sale_fen: acc.sale_fen,
                    refund_fen: acc.refund_fen,
                    merchants: acc.merchants,
                });
            }
            for (g, acc) in ms.main.areas.iter() {
                let (day, area, mcc, channel) = unpack_area(g);
                let Some(area) = areas.get(area) else {
                    continue;
                };
                let channel = if channel == 1 { "online" } else { "offline" };
                area_cells.push(AreaCell {
                    area,
                    figures: DailyCell {
                        day,
                        region: area.region.as_str(),
                        mcc,
                        channel,
                        rows: acc.rows,
                        txn_count: acc.txn_count,
                        sale_fen: acc.sale_fen,
                        refund_fen: acc.refund_fen,
                        merchants: acc.merchants,
                    },
                });
            }
        }
        txn_months.push(TxnMonth {
            year,
            month,
            written,
            accepted: n,
            duplicates_across_files: dup_here,
            previous_file: ms.owner.clone(),
        });
    }
    let institution = header.institution.clone();
    let (rows, unmapped_mcc) = cells.finish(&institution).map_err(&err)?;
    let area_rows = area_cells.finish(&institution).map_err(&err)?;
    let rejected = sink.len();
    let rejects = crate::Rejects::Compact(sink.into_compact(Some(&sha256)));
    let report = FileReport {
        file: file.to_owned(),
        sha256,
        feed: Feed::PaymentTransactions,
        encoding: summary.encoding,
        read,
        accepted,
        rejected,
        duplicates: duplicates_in_file + across,
        ignored_columns: header.ignored,
        source_unit: header.source_unit,
    };
    debug_assert!(report.balanced(), "{report:?}");
    let _ = header.headers;
    Ok(TxnOutcome {
        report,
        institution,
        rows,
        area_rows,
        rejects,
        months: txn_months,
        home_month: home.map(year_month),
        duplicates_in_file,
        duplicates_across_files: across,
        conflicts,
        passes,
        unmapped_mcc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Firsts` finds each kept text exactly, also among texts sharing a fingerprint, with the row
    /// it was kept with, across chunks; a text never kept is not found, not even under a kept
    /// fingerprint.
    #[test]
    fn firsts_find_each_text_exactly_under_shared_fingerprints() {
        let row = |values: u64, fen: i64| Row {
            fp: 0,
            fp2: 0,
            merchant: 0,
            area_merchant: 0,
            area: 0,
            group: values << 8,
            fen,
            month: 0,
            kind: SALE,
            text: 0,
            values,
            line: 0,
        };
        let mut firsts = Firsts::default();
        // Fill past a chunk so that the kept rows span two.
        let fill: Vec<String> = (0..FIRSTS_CHUNK + 2).map(|i| format!("F{i}")).collect();
        for (i, t) in fill.iter().enumerate() {
            firsts.push(1000 + i as u64, &row(0, 0), t, "f", 0);
        }
        let kept = [
            (7, "WB1", 1),
            (7, "WB22", 2),
            (9, "", 3),
            (7, "WB333", 4),
            (8, "WB1", 5),
        ];
        for (fp, txn, n) in kept {
            firsts.push(fp, &row(n, -n.cast_signed()), txn, "m", n + 10);
        }
        for (fp, txn, n) in kept {
            let f = firsts.find(fp, txn).expect(txn);
            assert_eq!((f.values, f.line, f.fen), (n, n + 10, -n.cast_signed()));
            assert_eq!(f.merchant, merchant_hash("m"));
        }
        assert!(firsts.find(7, "WB4").is_none());
        assert!(firsts.find(7, "WB2").is_none());
        assert!(firsts.find(9, "WB1").is_none());
        assert!(firsts.find(1, "WB1").is_none());
        assert!(firsts.find(1000, "F0").is_some() && firsts.find(1001, "F0").is_none());
    }

    /// `AccMap` sums as a `HashMap` does, through its growth, with the key `0` (kept aside) among
    /// the keys and keys that share a home slot.
    #[test]
    fn acc_map_sums_every_key_as_a_hash_map_does() {
        let mut map = AccMap::default();
        let mut reference: HashMap<u64, (i64, i128)> = HashMap::new();
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        for n in 0..200_000_u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // ~5,000 keys, the key 0 among them, each met ~40 times.
            let key = (x % 5_000) * 1_024;
            let fen = i128::from(n % 997);
            let slot = map.cell(key);
            slot.rows += 1;
            slot.sale_fen += fen;
            let r = reference.entry(key).or_default();
            r.0 += 1;
            r.1 += fen;
        }
        assert!(reference.contains_key(&0));
        let got: HashMap<u64, (i64, i128)> =
            map.iter().map(|(k, a)| (k, (a.rows, a.sale_fen))).collect();
        assert_eq!(map.iter().count(), reference.len());
        assert_eq!(got, reference);
        assert!(map.slots.len() >= 4 * reference.len() / 3);
    }

    /// What one spill call hands the lake: the year, the month and its entries.
    type Spilled<T> = Vec<(i32, u32, Vec<T>)>;

    /// A lake that holds some of the file's ids (some with other values) and keeps what is spilled.
    #[derive(Default)]
    struct HeldIds {
        ids: Arc<KnownIds>,
        spilled: Spilled<(u128, i32, u64)>,
        pairs: Spilled<(u64, i32)>,
        area_pairs: Spilled<(u64, i32)>,
    }

    impl TxnContext for HeldIds {
        fn month_owner(
            &mut self,
            _: &str,
            _: i32,
            _: u32,
        ) -> std::result::Result<Option<MonthOwner>, String> {
            Ok(Some(MonthOwner {
                txn_ids: Arc::clone(&self.ids),
                ..MonthOwner::default()
            }))
        }
        fn spill(
            &mut self,
            year: i32,
            month: u32,
            ids: &[(u128, i32, u64)],
        ) -> std::io::Result<()> {
            self.spilled.push((year, month, ids.to_vec()));
            Ok(())
        }
        fn spill_pairs(
            &mut self,
            year: i32,
            month: u32,
            pairs: &[(u64, i32)],
        ) -> std::io::Result<()> {
            self.pairs.push((year, month, pairs.to_vec()));
            Ok(())
        }
        fn spill_area_pairs(
            &mut self,
            year: i32,
            month: u32,
            pairs: &[(u64, i32)],
        ) -> std::io::Result<()> {
            self.area_pairs.push((year, month, pairs.to_vec()));
            Ok(())
        }
        fn reset_spill(&mut self) -> std::io::Result<()> {
            self.spilled.clear();
            self.pairs.clear();
            self.area_pairs.clear();
            Ok(())
        }
    }

    /// A file of `n` transactions in which ids repeat: the same line again, another time of the
    /// same day, another amount, another day; with blank and blank-looking lines, bad rows, and
    /// `line_end` between records.
    fn repeating_csv(n: usize, line_end: &str) -> String {
        let mut out = format!(
            "txn_id,institution,txn_time,merchant_id,mcc,region_code,amount,txn_type,channel{line_end}"
        );
        let mut x: u64 = 11;
        let mut lines: Vec<String> = Vec::new();
        for i in 0..n {
            x = mix64(x + i as u64);
            let line = format!(
                "T{i},w,2023-09-{:02} {:02}:{:02}:00,M{},5722,{},{}.{:02},{},{}",
                1 + x % 28,
                (x >> 8) % 24,
                (x >> 16) % 60,
                (x >> 20) % 40,
                ["330106", "440305", "110105"][((x >> 28) % 3) as usize],
                (x >> 32) % 500,
                (x >> 40) % 100,
                ["sale", "sale", "refund"][((x >> 44) % 3) as usize],
                if (x >> 48).is_multiple_of(3) {
                    "online"
                } else {
                    "offline"
                },
            );
            lines.push(line.clone());
            match x % 41 {
                0 => lines.push(line),
                1 => lines.push(line.replace(":00,M", ":07,M")),
                2 => lines.push(line.replace('.', "9.")),
                3 => lines.push(line.replace("2023-09-", "2023-10-")),
                4 => lines.push(String::new()),
                5 => lines.push("   ".into()),
                6 => lines.push(line.replace("2023-09-", "2023-9-")),
                _ => {}
            }
            if x.is_multiple_of(997) {
                // A re-sent tail: earlier lines again, some changed.
                let k = lines.len();
                for j in (0..k).step_by(13).take(20) {
                    let l = lines[j].clone();
                    lines.push(if j % 2 == 0 { l } else { l.replace(",M", ",N") });
                }
            }
        }
        out.push_str(&lines.join(line_end));
        out
    }

    fn ingest(text: &str, name: &str, held: &[u128], second: Second) -> (TxnOutcome, HeldIds) {
        ingest_with(text, name, held, second, false)
    }

    /// [`ingest`], the lake's ids spilled to bucket files when `spilled`.
    fn ingest_with(
        text: &str,
        name: &str,
        held: &[u128],
        second: Second,
        spilled: bool,
    ) -> (TxnOutcome, HeldIds) {
        let bytes: Arc<[u8]> = Arc::from(text.as_bytes());
        let open = move || -> std::io::Result<Box<dyn Read + Send>> {
            Ok(Box::new(Cursor::new(ArcBytes(bytes.clone()))))
        };
        let profile = Profile::default();
        let campaign = Campaign::default_2023();
        let input = Input {
            file: name,
            open: &open,
            size_hint: Some(text.len() as u64),
            format: profile.format.of_name(name),
            profile: &profile,
            campaign: &campaign,
        };
        // Every third held id with other values (a conflict), the others with unknown values.
        let held: Vec<(u128, u64)> = held
            .iter()
            .enumerate()
            .map(|(i, id)| (*id, if i % 3 == 0 { 7 } else { 0 }))
            .collect();
        let ids = known::tests::build(
            &held,
            if spilled { 0 } else { usize::MAX },
            &known::tests::MemFiles::default(),
        );
        assert_eq!(ids.is_spilled(), spilled);
        let mut ctx = HeldIds {
            ids: Arc::new(ids),
            ..HeldIds::default()
        };
        let out = run_all_with(&input, None, &mut ctx, second).unwrap();
        (out, ctx)
    }

    /// The verification pass gives what the full second pass gives: counts, daily rows, reject
    /// rows and messages, months, and the index spilled to the lake.
    fn same_as_full(text: &str, name: &str, held: &[u128]) -> TxnOutcome {
        let (a, lake_a) = ingest(text, name, held, Second::Verify);
        let (b, lake_b) = ingest(text, name, held, Second::Full);
        assert_eq!(a.report, b.report);
        assert!(a.rows.equals_missing(&b.rows), "{}\n{}", a.rows, b.rows);
        assert!(a.area_rows.equals_missing(&b.area_rows));
        let (ar, br) = (a.rejects.to_frame().unwrap(), b.rejects.to_frame().unwrap());
        assert!(ar.equals_missing(&br), "{ar}\n{br}");
        assert_eq!(a.months, b.months);
        assert_eq!(
            (a.duplicates_in_file, a.duplicates_across_files, a.conflicts),
            (b.duplicates_in_file, b.duplicates_across_files, b.conflicts)
        );
        assert_eq!(lake_a.spilled, lake_b.spilled);
        assert_eq!(lake_a.pairs, lake_b.pairs);
        assert_eq!(lake_a.area_pairs, lake_b.area_pairs);
        assert_eq!((a.passes, b.passes), (2, 2));
        a
    }

    /// Sorted, for comparing what was spilled whatever the order of the calls.
    fn sorted<T: Clone + Ord>(spilled: &Spilled<T>) -> Vec<(i32, u32, T)> {
        let mut all: Vec<(i32, u32, T)> = spilled
            .iter()
            .flat_map(|(y, m, v)| v.iter().map(move |x| (*y, *m, x.clone())))
            .collect();
        all.sort();
        all
    }

    /// Two ingests of one file gave the same outcome: counts, daily and area rows, rejects,
    /// months and the index spilled to the lake (as sets, whatever the order of the calls).
    fn assert_same_outcome(
        (a, lake_a): (&TxnOutcome, &HeldIds),
        (x, lake_x): (&TxnOutcome, &HeldIds),
    ) {
        assert_eq!(a.report, x.report);
        assert!(a.rows.equals_missing(&x.rows), "{}\n{}", a.rows, x.rows);
        assert!(a.area_rows.equals_missing(&x.area_rows));
        let (ar, xr) = (a.rejects.to_frame().unwrap(), x.rejects.to_frame().unwrap());
        assert!(ar.equals_missing(&xr), "{ar}\n{xr}");
        assert_eq!(a.months, x.months);
        assert_eq!(a.home_month, x.home_month);
        assert_eq!(
            (a.duplicates_in_file, a.duplicates_across_files, a.conflicts),
            (x.duplicates_in_file, x.duplicates_across_files, x.conflicts)
        );
        assert_eq!(sorted(&lake_a.spilled), sorted(&lake_x.spilled));
        assert_eq!(sorted(&lake_a.pairs), sorted(&lake_x.pairs));
        assert_eq!(sorted(&lake_a.area_pairs), sorted(&lake_x.area_pairs));
    }

    /// A duplicate table far too small (most rows are false hits: dropped by the first pass, found
    /// new by the verification pass and taken there) gives the same outcome as the normal one:
    /// counts, daily and area rows, rejects, months and the index spilled (as sets).
    #[test]
    fn false_hits_of_the_duplicate_table_are_taken_by_the_verification_pass() {
        let text = repeating_csv(30_000, "\n");
        let held: Vec<u128> = (0..30_000)
            .step_by(101)
            .map(|i| txn_id128(format!("T{i}").as_bytes()))
            .collect();
        let (a, lake_a) = ingest(&text, "t_2023-09.csv", &held, Second::Verify);
        DUP_TEST_BITS.with(|b| b.set(Some(512)));
        let (b, lake_b) = ingest(&text, "t_2023-09.csv", &held, Second::Verify);
        let (c, lake_c) = ingest(&text, "t_2023-09.csv", &held, Second::Full);
        DUP_TEST_BITS.with(|b| b.set(None));
        for x in [(&b, &lake_b), (&c, &lake_c)] {
            assert_same_outcome((&a, &lake_a), x);
        }
        assert!(
            a.duplicates_across_files > 100,
            "{}",
            a.duplicates_across_files
        );
        assert!(a.conflicts > 100, "{}", a.conflicts);
    }

    /// The lake's ids spilled to bucket files give the outcome of the ids in memory: with the
    /// normal filter (the held rows deferred and found in their buckets), with a tiny one (almost
    /// every row deferred, the new ones taken by the verification pass), with a tiny duplicate
    /// table as well (the dropped rows' ids read from their buckets one by one), and through the
    /// full second pass. Counts, daily and area rows, rejects, months and the index spilled (as
    /// sets) are equal.
    #[test]
    fn spilled_lake_ids_give_the_in_memory_outcome() {
        let text = repeating_csv(30_000, "\n");
        // Held: every 7th id of the file, and as many that it does not carry.
        let held: Vec<u128> = (0..60_000)
            .step_by(7)
            .map(|i| txn_id128(format!("T{i}").as_bytes()))
            .collect();
        let name = "t_2023-09.csv";
        let (a, lake_a) = ingest_with(&text, name, &held, Second::Verify, false);
        let mut others = vec![ingest_with(&text, name, &held, Second::Verify, true)];
        known::KNOWN_TEST_BITS.with(|b| b.set(Some(512)));
        others.push(ingest_with(&text, name, &held, Second::Verify, true));
        DUP_TEST_BITS.with(|b| b.set(Some(512)));
        others.push(ingest_with(&text, name, &held, Second::Verify, true));
        others.push(ingest_with(&text, name, &held, Second::Full, true));
        DUP_TEST_BITS.with(|b| b.set(None));
        known::KNOWN_TEST_BITS.with(|b| b.set(None));
        for (x, lake_x) in &others {
            assert_same_outcome((&a, &lake_a), (x, lake_x));
        }
        assert!(
            a.duplicates_across_files > 1000,
            "{}",
            a.duplicates_across_files
        );
        assert!(a.conflicts > 1000, "{}", a.conflicts);
    }

    /// The filter has no false negatives (a repeat is always a hit) and few false hits at its
    /// sizing, and stays within its bound whatever the rows.
    #[test]
    fn the_duplicate_filter_is_bounded_and_never_misses() {
        let mut f = DupFilter::with_capacity(100_000);
        let mut false_hits = 0;
        for i in 0..100_000u64 {
            if !f.insert(mix64(i + 1)) {
                false_hits += 1;
            }
        }
        assert!(false_hits < 20, "{false_hits}");
        for i in 0..100_000u64 {
            assert!(!f.insert(mix64(i + 1)));
        }
        assert_eq!(
            DupFilter::with_capacity(usize::MAX / 2).bytes(),
            DUP_MAX_BITS / 8
        );
    }

    #[test]
    fn the_verification_pass_gives_the_full_second_pass_outcome() {
        // 120,000 transactions: about 10 MB, so several chunks and workers.
        let lf = repeating_csv(120_000, "\n");
        let held: Vec<u128> = (0..120_000)
            .step_by(101)
            .map(|i| txn_id128(format!("T{i}").as_bytes()))
            .collect();
        let out = same_as_full(&lf, "t_2023-09.csv", &held);
        assert!(out.report.duplicates > 1000, "{:?}", out.report);
        assert!(
            out.duplicates_across_files > 500,
            "{}",
            out.duplicates_across_files
        );
        assert!(out.conflicts > 1000, "{}", out.conflicts);
        let rejects = out.rejects.to_frame().unwrap();
        let reasons = homeseason_test_support::str_values(&rejects, "reason");
        assert!(reasons.contains(&"bad_date"), "{reasons:?}");
        // The lake's conflicts (no line of a first occurrence) and the file's (naming it).
        let details = homeseason_test_support::str_values(&rejects, "message_en");
        assert!(details.iter().any(|d| d.contains("the lake already holds")));
        assert!(
            details
                .iter()
                .any(|d| d.contains("of this file with other values (amount)"))
        );
        // CRLF line ends and quoted fields take the csv reader's path; JSON Lines its own.
        let crlf = repeating_csv(3_000, "\r\n");
        same_as_full(&crlf, "t.csv", &held);
        let quoted = repeating_csv(3_000, "\n").replace(",M1,", ",\"M,1\",");
        same_as_full(&quoted, "t.csv", &held);
        let mut jsonl = String::new();
        for l in repeating_csv(3_000, "\n").lines().skip(1) {
            use std::fmt::Write as _;
            let c: Vec<&str> = l.split(',').collect();
            if c.len() < 9 {
                let _ = writeln!(jsonl, "{l}");
                continue;
            }
            let _ = writeln!(
                jsonl,
                "{{\"txn_id\":\"{}\",\"institution\":\"{}\",\"txn_time\":\"{}\",\"merchant_id\":\"{}\",\"mcc\":\"{}\",\"region_code\":\"{}\",\"amount\":\"{}\",\"txn_type\":\"{}\",\"channel\":\"{}\"}}",
                c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]
            );
        }
        same_as_full(&jsonl, "t.jsonl", &held);
    }
}
