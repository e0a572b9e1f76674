//! Workers: a chunk of records → compact rows and rejects.

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Row {
    pub(super) fp: u64,
    /// The second half of the 128-bit id ([`txn_id128`]).
    pub(super) fp2: u64,
    /// The (cell, merchant) pair ([`merchant_pair`]) of a sale; `0` for a refund or reversal.
    pub(super) merchant: u64,
    /// The (area cell, merchant) pair ([`area_merchant_pair`]) of a sale; `0` otherwise.
    pub(super) area_merchant: u64,
    /// The area ([`Areas`] index).
    pub(super) area: u16,
    /// day (high 32 bits, offset by 2³¹) | region index << 24 | mcc << 8 | channel.
    pub(super) group: u64,
    pub(super) fen: i64,
    pub(super) month: MonthKey,
    pub(super) kind: u8,
    /// Index into the chunk's `texts` (second pass), or `u32::MAX`.
    pub(super) text: u32,
    /// The fingerprint of the transaction's values ([`txn_values_fingerprint`]).
    pub(super) values: u64,
    /// The record's line within its chunk (1-based, as [`RejectRec::line`]).
    pub(super) line: u32,
}

pub(super) struct RejectRec {
    pub(super) line: u32,
    pub(super) field: Option<usize>,
    pub(super) reason: Reason,
    pub(super) value: String,
    pub(super) detail: Option<String>,
    pub(super) raw: String,
}

pub(super) struct ChunkOut {
    pub(super) seq: u64,
    pub(super) lines: u32,
    pub(super) records: usize,
    pub(super) rows: Vec<Row>,
    pub(super) rejects: Vec<RejectRec>,
    /// (txn_id, raw, trimmed merchant_id) of rows the merger asked for.
    pub(super) texts: Vec<(String, String, String)>,
}

/// Per-worker caches of value lookups.
#[derive(Default)]
pub(super) struct Caches {
    /// Region value → (reporting region index, area index).
    pub(super) region: KeyCache<Option<(u8, u16)>>,
    /// Transaction type value → kind.
    pub(super) kind: KeyCache<Option<u8>>,
    /// Channel value → `0` offline, `1` online.
    pub(super) channel: KeyCache<Option<u8>>,
    pub(super) json_keys: HashMap<String, Option<usize>>,
    pub(super) last_day: Option<(i32, MonthKey)>,
    /// The merchant pair's canonical text, reused between rows.
    pub(super) pair_text: Vec<u8>,
    /// The last day's decimal digits ([`sale_pairs`]).
    pub(super) day_text: (i32, Vec<u8>),
}

pub(super) fn pack_group(day: i32, region: u8, mcc: u16, channel: u8) -> u64 {
    (u64::from((day as u32) ^ 0x8000_0000) << 32)
        | (u64::from(region) << 24)
        | (u64::from(mcc) << 8)
        | u64::from(channel)
}

/// The key of an area cell: day (high 32 bits, offset by 2³¹) | area << 18 | mcc << 1 | channel.
pub(super) fn pack_area(day: i32, area: u16, mcc: u16, channel: u8) -> u64 {
    (u64::from((day as u32) ^ 0x8000_0000) << 32)
        | (u64::from(area) << 18)
        | (u64::from(mcc) << 1)
        | u64::from(channel & 1)
}

/// (day, area, mcc, channel) of [`pack_area`].
pub(super) fn unpack_area(g: u64) -> (i32, u16, u16, u8) {
    (
        ((g >> 32) as u32 ^ 0x8000_0000) as i32,
        ((g >> 18) & 0x3fff) as u16,
        ((g >> 1) & 0x3fff) as u16,
        (g & 1) as u8,
    )
}

pub(super) fn unpack_group(g: u64) -> (i32, u8, u16, u8) {
    (
        ((g >> 32) as u32 ^ 0x8000_0000) as i32,
        ((g >> 24) & 0xff) as u8,
        ((g >> 8) & 0xffff) as u16,
        (g & 0xff) as u8,
    )
}

/// A per-worker cache of a cell value's meaning. A value of at most 15 bytes (codes, types,
/// channels) is its own key, packed with its length into a `u128` and hashed by one mix rather
/// than SipHash over a `Vec`; a longer one goes to a map of byte strings.
pub(super) struct KeyCache<V> {
    /// A direct-mapped front of `short`: one slot per hash, the last key met there (most rows
    /// answer here, without the map's hashing and probing).
    front: Vec<Option<(u128, V)>>,
    short: HashMap<u128, V, BuildHasherDefault<U64Hasher>>,
    long: HashMap<Vec<u8>, V>,
}

/// Slots of [`KeyCache`]'s front (a power of two).
const FRONT: usize = 1 << 10;

impl<V: Copy> Default for KeyCache<V> {
    fn default() -> Self {
        KeyCache {
            front: vec![None; FRONT],
            short: HashMap::default(),
            long: HashMap::new(),
        }
    }
}

/// A short key's slot in [`KeyCache`]'s front.
#[inline]
fn front_slot(k: u128) -> usize {
    let x = (k as u64) ^ ((k >> 64) as u64).rotate_left(29);
    (x.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 54) as usize & (FRONT - 1)
}

/// `key` (at most 15 bytes) and its length as one `u128`: different keys, different numbers.
/// Built byte by byte (a copy of a slice this short would be a call to `memcpy`).
#[inline]
fn short_key(key: &[u8]) -> Option<u128> {
    if key.len() > 15 {
        return None;
    }
    let mut k = u128::from(key.len() as u8) << 120;
    for (i, &b) in key.iter().enumerate() {
        k |= u128::from(b) << (8 * i);
    }
    Some(k)
}

/// A per-worker lookup: the cached value for `key`, computing (and keeping) it on a miss.
pub(super) fn cached<V: Copy>(map: &mut KeyCache<V>, key: &[u8], f: impl FnOnce() -> V) -> V {
    if let Some(k) = short_key(key) {
        let slot = front_slot(k);
        if let Some((fk, v)) = map.front[slot]
            && fk == k
        {
            return v;
        }
        let v = match map.short.get(&k) {
            Some(v) => *v,
            None => *map.short.entry(k).or_insert_with(f),
        };
        map.front[slot] = Some((k, v));
        return v;
    }
    if let Some(v) = map.long.get(key) {
        return *v;
    }
    let v = f();
    map.long.insert(key.to_vec(), v);
    v
}

pub(super) enum Verdict {
    Row(Row),
    Reject(usize, Reason, Option<String>),
}

/// Whether `institution` passes [`judge`]'s institution checks: a well-formed code the profile
/// knows ([`Spec::institution_ok`]).
pub(super) fn institution_ok(profile: &Profile, institution: &str) -> bool {
    crate::profile::is_institution_code(institution) && profile.knows_institution(institution)
}

pub(super) fn judge(spec: &Spec<'_>, cells: &[&[u8]; 9], caches: &mut Caches) -> Verdict {
    let p = spec.profile;
    let missing = |i: usize| Verdict::Reject(i, Reason::MissingValue, None);
    let txn = cells[F_TXN];
    if txn.is_empty() {
        return missing(F_TXN);
    }
    if spec.columns[F_INST].is_some()
        && !(spec.institution_ok && cells[F_INST] == spec.institution.as_bytes())
    {
        let inst = cells[F_INST];
        if inst.is_empty() {
            return missing(F_INST);
        }
        if !std::str::from_utf8(inst).is_ok_and(crate::profile::is_institution_code) {
            return Verdict::Reject(
                F_INST,
                Reason::BadPattern,
                Some(crate::profile::INSTITUTION_CODE_RULE.to_owned()),
            );
        }
        if !std::str::from_utf8(inst).is_ok_and(|i| p.knows_institution(i)) {
            return Verdict::Reject(
                F_INST,
                Reason::UnknownInstitution,
                Some(crate::profile::unknown_institution_detail(
                    &p.known_institutions,
                )),
            );
        }
        if inst != spec.institution.as_bytes() {
            return Verdict::Reject(
                F_INST,
                Reason::BadEnum,
                Some(other_institution_detail(&spec.institution)),
            );
        }
    }
    let time = cells[F_TIME];
    if time.is_empty() {
        return missing(F_TIME);
    }
    let Some(day) = beijing_day(time, &p.time_format, p.utc_offset_secs) else {
        return Verdict::Reject(F_TIME, Reason::BadDate, Some(p.time_format.describe()));
    };
    let merchant = cells[F_MERCHANT];
    if merchant.is_empty() {
        return missing(F_MERCHANT);
    }
    let mcc = cells[F_MCC];
    if mcc.is_empty() {
        return missing(F_MCC);
    }
    let Some(mcc) = (mcc.len() == 4).then(|| digits(mcc)).flatten() else {
        return Verdict::Reject(F_MCC, Reason::BadPattern, None);
    };
    let region = cells[F_REGION];
    if region.is_empty() {
        return missing(F_REGION);
    }
    let pattern_ok = region == b"XPCC" || (region.len() == 6 && digits(region).is_some());
    if !pattern_ok {
        return Verdict::Reject(F_REGION, Reason::BadPattern, None);
    }
    let amount = cells[F_AMOUNT];
    if amount.is_empty() {
        return missing(F_AMOUNT);
    }
    let Some(fen) = parse_fen(amount, p.amount_unit) else {
        return Verdict::Reject(F_AMOUNT, Reason::BadNumber, None);
    };
    if spec
        .max_fen
        .is_some_and(|max| fen.unsigned_abs() > max.unsigned_abs())
    {
        return Verdict::Reject(F_AMOUNT, Reason::AboveMaximum, None);
    }
    if fen < 0 && p.refund_sign == RefundSign::Type {
        return Verdict::Reject(F_AMOUNT, Reason::BelowMinimum, None);
    }
    let ty = cells[F_TYPE];
    let typed = if ty.is_empty() {
        if p.refund_sign == RefundSign::Type {
            return missing(F_TYPE);
        }
        None
    } else {
        let k = cached(&mut caches.kind, ty, || {
            let s = String::from_utf8_lossy(ty);
            let v = p
                .value_for("txn_type", &s)
                .or_else(|| spec.field(F_TYPE).and_then(|f| f.resolve_enum(&s)));
            match v {
                Some("sale") => Some(SALE),
                Some("refund") => Some(REFUND),
                Some("reversal") => Some(REVERSAL),
                _ => None,
            }
        });
        let Some(k) = k else {
            return Verdict::Reject(F_TYPE, Reason::BadEnum, None);
        };
        Some(k)
    };
    let kind = match p.refund_sign {
        RefundSign::Type => typed.unwrap_or(SALE),
        RefundSign::Negative if fen < 0 => {
            if typed == Some(REVERSAL) {
                REVERSAL
            } else {
                REFUND
            }
        }
        RefundSign::Negative => typed.unwrap_or(SALE),
    };
    let ch = cells[F_CHANNEL];
    if ch.is_empty() {
        return missing(F_CHANNEL);
    }
    let channel = cached(&mut caches.channel, ch, || {
        let s = String::from_utf8_lossy(ch);
        match p
            .value_for("channel", &s)
            .or_else(|| spec.field(F_CHANNEL).and_then(|f| f.resolve_enum(&s)))
        {
            Some("offline") => Some(0),
            Some("online") => Some(1),
            _ => None,
        }
    });
    let Some(channel) = channel else {
        return Verdict::Reject(F_CHANNEL, Reason::BadEnum, None);
    };
    let region_idx = cached(&mut caches.region, region, || {
        let s = String::from_utf8_lossy(region);
        let r = spec.regions.resolve(&s).ok()?;
        let idx = spec
            .regions
            .all()
            .iter()
            .position(|x| x.code == r.code)
            .and_then(|i| u8::try_from(i).ok())?;
        Some((idx, Areas::embedded().area_of(&s, &r.code)?))
    });
    let Some((region_idx, area)) = region_idx else {
        return Verdict::Reject(F_REGION, Reason::UnknownRegion, None);
    };
    let month = match caches.last_day {
        Some((d, m)) if d == day => m,
        _ => {
            let (y, m, _) = civil_from_days(day);
            let key = month_key(y, m);
            caches.last_day = Some((day, key));
            key
        }
    };
    let (year, _) = year_month(month);
    if year < spec.years.0 || year > spec.years.1 {
        let (from, to) = spec.years;
        return Verdict::Reject(
            F_TIME,
            Reason::BadPeriod,
            Some(outside_years_detail((from, to))),
        );
    }
    let region_code = spec
        .regions
        .all()
        .get(usize::from(region_idx))
        .map_or("", |r| r.code.as_str());
    // The merchant pairs count distinct merchants with a sale: a refund's are never looked at.
    let (merchant_fp, area_merchant) = if kind == SALE {
        let area_code = Areas::embedded().get(area).map_or("", |a| a.code.as_str());
        sale_pairs(
            &mut caches.pair_text,
            &mut caches.day_text,
            (day, region_code, area_code, mcc as u16, channel),
            merchant,
        )
    } else {
        (0, 0)
    };
    Verdict::Row(Row {
        fp: txn_fingerprint(txn),
        fp2: txn_fingerprint2(txn),
        merchant: merchant_fp,
        area_merchant,
        area,
        group: pack_group(day, region_idx, mcc as u16, channel),
        fen: fen.abs(),
        month,
        kind,
        text: u32::MAX,
        values: txn_values_fingerprint(
            day,
            region_code,
            mcc as u16,
            channel,
            kind == SALE,
            fen.abs(),
            merchant,
        ),
        line: 0,
    })
}

pub(super) fn handle_record(
    spec: &Spec<'_>,
    caches: &mut Caches,
    out: &mut ChunkOut,
    cells: &[&[u8]; 9],
    raw: &[u8],
    line: u32,
) {
    if spec.only_wanted && !is_wanted(spec, cells[F_TXN]) {
        return;
    }
    out.records += 1;
    match judge(spec, cells, caches) {
        Verdict::Reject(..) if spec.only_wanted => {}
        Verdict::Row(mut row) => {
            row.line = line;
            let wanted = spec.want_fps.as_ref().is_some_and(|w| w.contains(row.fp))
                || spec.want_months.contains(&row.month);
            if wanted {
                row.text = u32::try_from(out.texts.len()).unwrap_or(u32::MAX);
                out.texts.push((
                    String::from_utf8_lossy(cells[F_TXN]).into_owned(),
                    raw_text(raw),
                    String::from_utf8_lossy(trim(cells[F_MERCHANT])).into_owned(),
                ));
            }
            out.rows.push(row);
        }
        Verdict::Reject(field, reason, detail) => out.rejects.push(RejectRec {
            line,
            field: Some(field),
            reason,
            value: String::from_utf8_lossy(cells[field]).into_owned(),
            detail,
            raw: raw_text(raw),
        }),
    }
}

/// A line's fields, split at the delimiter (found with `memchr`, many bytes at a time).
fn fields(text: &[u8], delimiter: u8) -> impl Iterator<Item = &[u8]> {
    let mut start = 0usize;
    memchr::memchr_iter(delimiter, text)
        .map(Some)
        .chain(std::iter::once(None))
        .map(move |at| {
            let end = at.unwrap_or(text.len());
            let f = &text[start..end];
            start = end + 1;
            f
        })
}

/// Whether the verification pass wants a record: its `txn_id` (trimmed) has a wanted fingerprint.
fn is_wanted(spec: &Spec<'_>, txn: &[u8]) -> bool {
    !txn.is_empty()
        && spec
            .want_fps
            .as_ref()
            .is_some_and(|w| w.contains(txn_fingerprint(txn)))
}

/// Columns a plain line's fields are gathered into without allocating; a header wider than this
/// takes a vector per wanted line.
const PLAIN_WIDTH: usize = 32;

/// A CSV chunk without quotes or carriage returns, where a record is a non-empty line and its
/// fields are split at the delimiter — exactly as the `csv` reader reads such a chunk, without its
/// state machine. A record's line and raw text are the reader's: from just past the previous
/// record (blank lines between are the reader's skipped lines, counted in its start); a record
/// whose cells are all blank is skipped, as in the reader's path. In the verification pass
/// (`only_wanted`) only the `txn_id` cell is looked at until the record is wanted.
///
/// `false` when the chunk holds a quote or a carriage return ([`Stops::spoiled`]): it is not
/// plain, and what was put in `out` is not its reading.
fn scan_plain(
    spec: &Spec<'_>,
    chunk: &Chunk,
    caches: &mut Caches,
    skip_header: bool,
    out: &mut ChunkOut,
) -> bool {
    let want = spec.want_fps.as_ref().filter(|_| spec.only_wanted);
    if want.is_none() && plain_width(spec) <= PLAIN_WIDTH {
        return split_plain(spec, chunk, caches, skip_header, out);
    }
    let data = &chunk.data[..];
    let txn_col = spec.columns[F_TXN];
    let mut stops = Stops::new(data, spec.delimiter);
    let mut lines = Lines::new(skip_header);
    let mut pos = 0usize;
    // The verification pass: records in batches, their `txn_id`s hashed and the wanted set's
    // slots prefetched for the whole batch before any is asked (most lines are not wanted).
    let mut batch: Vec<PlainRecord> = Vec::with_capacity(WANT_BATCH);
    while pos < data.len() {
        // The line's end and, in the verification pass, its `txn_id` cell: the field `c` of
        // the line's fields, as [`fields`] splits them.
        let mut txn = None;
        let end = match txn_col.filter(|_| want.is_some()) {
            None => stops.next_newline().unwrap_or(data.len()),
            Some(c) => {
                let (mut n, mut field) = (0usize, pos);
                loop {
                    if txn.is_some() {
                        break stops.next_newline().unwrap_or(data.len());
                    }
                    let (at, newline) = stops.next_stop().unwrap_or((data.len(), true));
                    if n == c {
                        txn = Some((field, at));
                    }
                    if newline {
                        break at;
                    }
                    n += 1;
                    field = at + 1;
                }
            }
        };
        let record = lines.record(pos, end, data.len());
        pos = end + 1;
        let Some(rec) = record else {
            continue;
        };
        let Some(want) = want else {
            plain_record(spec, caches, out, data, &rec);
            continue;
        };
        let txn = txn.map_or(&b""[..], |(a, b)| trim(&data[a..b]));
        if txn.is_empty() {
            continue;
        }
        let fp = txn_fingerprint(txn);
        want.touch(fp);
        batch.push(PlainRecord { fp, ..rec });
        if batch.len() == WANT_BATCH {
            wanted_records(spec, caches, out, data, want, &mut batch);
        }
    }
    if stops.spoiled() {
        return false;
    }
    if let Some(want) = want {
        wanted_records(spec, caches, out, data, want, &mut batch);
    }
    true
}

/// Records the verification pass hashes before it asks the wanted set about any of them.
const WANT_BATCH: usize = 16;

/// The records of a plain chunk's lines, as the `csv` reader counts them ([`scan_plain`]): a
/// record is a non-empty line; its raw text starts just past the previous record (the blank lines
/// between are the reader's skipped lines) and its line is that start's; the header is skipped.
struct Lines {
    skip_header: bool,
    /// The line after the last one given.
    line: u32,
    /// Where the next record's raw text starts, and its line.
    start: (usize, u32),
}

impl Lines {
    fn new(skip_header: bool) -> Lines {
        Lines {
            skip_header,
            line: 1,
            start: (0, 1),
        }
    }

    /// The line `pos..end` of a chunk of `len` bytes (`end`: its `\n`, or `len`), given in order:
    /// its record, or `None` for a blank line or the header.
    #[inline]
    fn record(&mut self, pos: usize, end: usize, len: usize) -> Option<PlainRecord> {
        let next = (end + 1).min(len);
        self.line = self.line.saturating_add(1);
        if pos == end {
            return None;
        }
        let (start, at) = std::mem::replace(&mut self.start, (next, self.line));
        if std::mem::take(&mut self.skip_header) {
            return None;
        }
        Some(PlainRecord {
            text: (pos, end),
            raw: (start, next),
            at,
            fp: 0,
        })
    }
}

/// A record of a plain chunk: its text and raw bytes (ranges of the chunk), its line, and (the
/// verification pass) its `txn_id`'s fingerprint.
#[derive(Clone, Copy)]
struct PlainRecord {
    text: (usize, usize),
    raw: (usize, usize),
    at: u32,
    fp: u64,
}

/// The verification pass: judge the wanted records of `batch` (in order), then empty it.
fn wanted_records(
    spec: &Spec<'_>,
    caches: &mut Caches,
    out: &mut ChunkOut,
    data: &[u8],
    want: &WantSet,
    batch: &mut Vec<PlainRecord>,
) {
    for r in batch.iter() {
        want.touch_set(r.fp);
    }
    for r in batch.iter() {
        if want.contains(r.fp) {
            plain_record(spec, caches, out, data, r);
        }
    }
    batch.clear();
}

/// The fields to split a line into: up to the last column a field reads.
fn plain_width(spec: &Spec<'_>) -> usize {
    spec.columns.iter().flatten().max().map_or(0, |c| c + 1)
}

/// [`scan_plain`] when every record is judged (not the verification pass) and the fields read lie
/// within the first [`PLAIN_WIDTH`]: the lines and their fields from one pass of [`Stops`] over
/// the chunk, where [`fields`] asks `memchr` once a field. The records, their lines and raw texts
/// are [`scan_plain`]'s, and so is the `false` of a chunk that is not plain.
fn split_plain(
    spec: &Spec<'_>,
    chunk: &Chunk,
    caches: &mut Caches,
    skip_header: bool,
    out: &mut ChunkOut,
) -> bool {
    let data = &chunk.data[..];
    let width = plain_width(spec);
    let mut stops = Stops::new(data, spec.delimiter);
    let mut lines = Lines::new(skip_header);
    let mut pos = 0usize;
    let mut split: [&[u8]; PLAIN_WIDTH] = [&b""[..]; PLAIN_WIDTH];
    while pos < data.len() {
        // The line's first `width` fields (fewer when it has fewer), then its end.
        let mut n = 0usize;
        let mut field = pos;
        let end = loop {
            if n == width {
                break stops.next_newline().unwrap_or(data.len());
            }
            match stops.next_stop() {
                Some((at, false)) => {
                    split[n] = &data[field..at];
                    n += 1;
                    field = at + 1;
                }
                Some((at, true)) => break at,
                None => break data.len(),
            }
        };
        if n < width {
            split[n] = &data[field..end];
            n += 1;
        }
        let record = lines.record(pos, end, data.len());
        pos = end + 1;
        if let Some(rec) = record {
            judge_plain(spec, caches, out, data, &rec, &split[..n]);
        }
    }
    !stops.spoiled()
}

/// Split a plain record into its cells and judge it ([`handle_record`]).
fn plain_record(
    spec: &Spec<'_>,
    caches: &mut Caches,
    out: &mut ChunkOut,
    data: &[u8],
    rec: &PlainRecord,
) {
    let delimiter = spec.delimiter;
    let text = &data[rec.text.0..rec.text.1];
    let width = plain_width(spec);
    let mut split: [&[u8]; PLAIN_WIDTH] = [&b""[..]; PLAIN_WIDTH];
    let wide: Vec<&[u8]>;
    let got: &[&[u8]] = if width <= PLAIN_WIDTH {
        let n = split
            .iter_mut()
            .zip(fields(text, delimiter))
            .map(|(slot, f)| *slot = f)
            .count();
        &split[..n]
    } else {
        wide = fields(text, delimiter).collect();
        &wide
    };
    judge_plain(spec, caches, out, data, rec, got);
}

/// Judge a plain record split into its fields `got`: its first [`plain_width`] (fewer when the line
/// has fewer), or more.
fn judge_plain(
    spec: &Spec<'_>,
    caches: &mut Caches,
    out: &mut ChunkOut,
    data: &[u8],
    rec: &PlainRecord,
    got: &[&[u8]],
) {
    let delimiter = spec.delimiter;
    let text = &data[rec.text.0..rec.text.1];
    let cells: [&[u8]; 9] = std::array::from_fn(|i| {
        spec.columns[i]
            .and_then(|c| got.get(c).copied())
            .map_or(&b""[..], trim)
    });
    // A record of blank cells only (the reader's path skips it too): its txn_id is blank.
    if cells[F_TXN].is_empty()
        && text
            .iter()
            .all(|&b| b == delimiter || b.is_ascii_whitespace())
    {
        return;
    }
    handle_record(
        spec,
        caches,
        out,
        &cells,
        &data[rec.raw.0..rec.raw.1],
        rec.at,
    );
}

/// A chunk's records judged: its rows (in order), rejects and counts. `skip_header`: the chunk
/// starts with the header record.
pub(super) fn process_chunk(
    spec: &Spec<'_>,
    chunk: &Chunk,
    caches: &mut Caches,
    skip_header: bool,
) -> ChunkOut {
    process_chunk_with(spec, chunk, caches, skip_header, true)
}

/// [`process_chunk`]; `plain_ok`: a CSV chunk without quotes or carriage returns may take the
/// plain line split ([`scan_plain`]) rather than the `csv` reader (the tests compare the two).
pub(super) fn process_chunk_with(
    spec: &Spec<'_>,
    chunk: &Chunk,
    caches: &mut Caches,
    skip_header: bool,
    plain_ok: bool,
) -> ChunkOut {
    let lines = u32::try_from(chunk.lines).unwrap_or(u32::MAX);
    let mut out = ChunkOut {
        seq: chunk.seq,
        lines,
        records: 0,
        rows: Vec::with_capacity(if spec.only_wanted {
            chunk.data.len() / 1024
        } else {
            // At most a row a line.
            lines as usize
        }),
        rejects: Vec::new(),
        texts: Vec::new(),
    };
    if plain_ok && spec.format != Format::Jsonl {
        if scan_plain(spec, chunk, caches, skip_header, &mut out) {
            return out;
        }
        // A quote or a carriage return: not a plain chunk. What the split judged is dropped (the
        // caches only remember lookups), and the `csv` reader reads the chunk.
        out.records = 0;
        out.rows.clear();
        out.rejects.clear();
        out.texts.clear();
    }
    if spec.format == Format::Jsonl {
        let mut line = 0u32;
        let mut owned: [String; 9] = Default::default();
        for raw in chunk.data.split(|&b| b == b'\n') {
            line += 1;
            if trim(raw).is_empty() {
                continue;
            }
            match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(raw) {
                Ok(obj) => {
                    for o in &mut owned {
                        o.clear();
                    }
                    for (k, v) in &obj {
                        let idx = if let Some(i) = caches.json_keys.get(k) {
                            *i
                        } else {
                            let i = resolve_txn_field(spec.profile, k);
                            caches.json_keys.insert(k.clone(), i);
                            i
                        };
                        if let Some(i) = idx {
                            owned[i] = json_text(v);
                        }
                    }
                    let cells: [&[u8]; 9] = std::array::from_fn(|i| trim(owned[i].as_bytes()));
                    handle_record(spec, caches, &mut out, &cells, raw, line);
                }
                Err(e) => {
                    out.records += 1;
                    out.rejects.push(RejectRec {
                        line,
                        field: None,
                        reason: Reason::BadPattern,
                        value: String::new(),
                        detail: Some(format!("not a JSON object / 不是 JSON 对象: {e}")),
                        raw: raw_text(raw),
                    });
                }
            }
        }
        return out;
    }
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(spec.delimiter)
        .from_reader(&chunk.data[..]);
    let mut rec = csv::ByteRecord::new();
    let mut first = skip_header;
    loop {
        let start = usize::try_from(rdr.position().byte()).unwrap_or(0);
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                out.records += 1;
                let line = u32::try_from(rdr.position().line()).unwrap_or(u32::MAX);
                out.rejects.push(RejectRec {
                    line,
                    field: None,
                    reason: Reason::BadPattern,
                    value: String::new(),
                    detail: Some(e.to_string()),
                    raw: String::new(),
                });
                continue;
            }
        }
        if first {
            first = false;
            continue;
        }
        let end = usize::try_from(rdr.position().byte()).unwrap_or(start);
        let line = rec
            .position()
            .map_or(0, |p| u32::try_from(p.line()).unwrap_or(u32::MAX));
        if rec.iter().all(|c| trim(c).is_empty()) {
            continue;
        }
        let cells: [&[u8]; 9] = std::array::from_fn(|i| {
            spec.columns[i]
                .and_then(|c| rec.get(c))
                .map_or(&b""[..], trim)
        });
        let raw = &chunk.data[start.min(end)..end];
        handle_record(spec, caches, &mut out, &cells, raw, line);
    }
    out
}

pub(super) fn raw_text(raw: &[u8]) -> String {
    let mut s = String::from_utf8_lossy(raw).into_owned();
    while s.ends_with('\n') || s.ends_with('\r') {
        s.pop();
    }
    s
}

pub(super) fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chunk's output with the plain line split and with the `csv` reader, as comparable values.
    fn both_paths(text: &str, skip_header: bool, want: Option<&[&str]>) {
        let profile = Profile::default();
        let campaign = Campaign::default_2023();
        let contract = Feed::PaymentTransactions.contract();
        let header = csv_header("t.csv", text.as_bytes(), b',').unwrap();
        let cols = map_txn_header("t.csv", &profile, header).unwrap();
        let want_fps = want.map(|ids| {
            let mut set = FpSet::with_capacity(ids.len());
            for id in ids {
                set.insert(txn_fingerprint(id.as_bytes()));
            }
            WantSet::new(set)
        });
        let spec = Spec {
            format: Format::Csv,
            delimiter: b',',
            columns: cols.columns,
            headers: cols.headers,
            institution: "w".into(),
            institution_ok: institution_ok(&profile, "w"),
            profile: &profile,
            contract,
            regions: Regions::embedded(),
            category: mcc_categories(&campaign).0,
            only_wanted: want_fps.is_some(),
            want_fps,
            want_months: Vec::new(),
            years: campaign_years(&campaign),
            max_fen: max_fen(contract),
        };
        let chunk = Chunk::new(0, text.as_bytes().to_vec());
        let run = |plain: bool| {
            let out = process_chunk_with(&spec, &chunk, &mut Caches::default(), skip_header, plain);
            let rejects: Vec<_> = out
                .rejects
                .iter()
                .map(|r| {
                    (
                        r.line,
                        r.field,
                        r.reason,
                        r.value.clone(),
                        r.detail.clone(),
                        r.raw.clone(),
                    )
                })
                .collect();
            (out.lines, out.records, out.rows, rejects, out.texts)
        };
        let (plain, reader) = (run(true), run(false));
        assert_eq!(plain, reader);
        assert!(!plain.2.is_empty(), "rows were judged");
        if want.is_none() {
            assert!(!plain.3.is_empty(), "rows were rejected");
        }
    }

    #[test]
    fn the_plain_split_reads_a_chunk_as_the_csv_reader_does() {
        let text = "txn_id,institution,txn_time,merchant_id,mcc,region_code,amount,txn_type,channel,extra\n\
            T1,w,2023-09-01 10:00:00,M1,5722,330106,15.00,sale,offline,x\n\
            \n\
            \n\
            T2 , w ,2023-09-01 11:00:00, M1 ,5722,330782,5.00,refund,online\n\
            ,,,,,,,,,\n\
            \x20\x20\n\
            T3,w,2023-09-01 12:00:00,M2,5722,330000\n\
            T4,w,2023-13-01 12:00:00,M2,5722,330000,1,sale,offline\n\
            \tT5\t,w,2023-09-02 12:00:00,M2,57x2,330212,10.00,sale,offline,,,,\n\
            T6,w,2023-09-02 12:00:00,M2,5722,330212,1e3,sale,offline\n\
            T1,w,2023-09-01 10:00:00,M1,5722,330106,15.00,sale,offline\n\
            T7,w,2023-09-03 09:00:00,M3,5411,110105,7.50,sale,offline\n\
            T8\t,w,2023-09-03 09:00:00,M3,5411,110105,7.50,sale,offline";
        both_paths(text, true, None);
        both_paths(&format!("{text}\n"), true, None);
        // A later chunk: no header to skip.
        both_paths(&format!("{text}\n\n\n"), false, None);
        // The verification pass: only the wanted ids.
        both_paths(text, true, Some(&["T1", "T5", "T8"]));
    }

    /// Lines of every length across the 64-byte blocks the plain split reads a chunk in: long
    /// merchant ids, fields past the last one read, short lines, blank lines, runs of delimiters.
    #[test]
    fn the_plain_split_reads_long_and_short_lines_across_blocks_as_the_csv_reader_does() {
        let mut text = String::from(
            "channel,txn_type,amount,region_code,mcc,merchant_id,txn_time,institution,txn_id,a,b\n",
        );
        for i in 0..400usize {
            let merchant = "M".repeat(1 + (i * 37) % 150);
            let amount = if i % 11 == 0 {
                "x".to_owned()
            } else {
                format!("{}.{:02}", i % 97, i % 100)
            };
            let day = 1 + i % 28;
            let line = match i % 9 {
                0 => String::new(),
                1 => format!("offline,sale,{amount},330106,5722,{merchant}"),
                2 => ",,,,,,,,,,".to_owned(),
                _ => format!(
                    "{},{},{amount},{},5722,{merchant},2023-09-{day:02} 10:00:00,w,T{i}{}",
                    if i % 2 == 0 { "offline" } else { "online" },
                    if i % 5 == 0 { "refund" } else { "sale" },
                    if i % 3 == 0 { "330782" } else { "330106" },
                    ",y".repeat(i % 4),
                ),
            };
            text.push_str(&line);
            text.push('\n');
        }
        both_paths(&text, true, None);
        both_paths(text.trim_end(), true, None);
        both_paths(&text, true, Some(&["T4", "T40", "T301"]));
        // A header wider than `PLAIN_WIDTH`: the fields read lie past it.
        let pad = (0..PLAIN_WIDTH).fold(String::new(), |mut pad, i| {
            pad.push_str(&format!("c{i},"));
            pad
        });
        let blank = ",".repeat(PLAIN_WIDTH);
        let wide: String = text
            .lines()
            .enumerate()
            .map(|(i, l)| match (i, l.is_empty()) {
                (0, _) => format!("{pad}{l}\n"),
                (_, true) => "\n".to_owned(),
                (_, false) => format!("{blank}{l}\n"),
            })
            .collect();
        both_paths(&wide, true, None);
        both_paths(&wide, true, Some(&["T4", "T40", "T301"]));
        // A quote late in the chunk, or carriage returns: not plain, whatever the split had read
        // before finding it is dropped and the `csv` reader reads the chunk.
        let late = text.len() * 3 / 4;
        let at = late + text[late..].find(",M").expect("a merchant") + 1;
        let quoted = format!("{}\"{}\"{}", &text[..at], "M,1", &text[at + 1..]);
        both_paths(&quoted, true, None);
        both_paths(&quoted, true, Some(&["T4", "T40", "T301"]));
        let crlf = text.replace('\n', "\r\n");
        both_paths(&crlf, true, None);
        both_paths(&crlf, true, Some(&["T4", "T40", "T301"]));
    }

    /// The institution checks are skipped only for the file's own institution when it is a
    /// well-formed code the profile knows: a file whose rows all name an unknown or malformed
    /// institution still has every row rejected, with the reason the checks give.
    #[test]
    fn the_files_own_institution_skips_its_checks_only_when_it_passes_them() {
        let profile = Profile {
            known_institutions: vec!["wallet_b".into()],
            ..Profile::default()
        };
        let campaign = Campaign::default_2023();
        let contract = Feed::PaymentTransactions.contract();
        let header =
            "txn_id,institution,txn_time,merchant_id,mcc,region_code,amount,txn_type,channel";
        let cols = map_txn_header(
            "t.csv",
            &profile,
            csv_header("t.csv", header.as_bytes(), b',').unwrap(),
        )
        .unwrap();
        let judge_as = |institution: &str, row: &str| {
            let spec = Spec {
                format: Format::Csv,
                delimiter: b',',
                columns: cols.columns,
                headers: cols.headers.clone(),
                institution: institution.into(),
                institution_ok: institution_ok(&profile, institution),
                profile: &profile,
                contract,
                regions: Regions::embedded(),
                category: mcc_categories(&campaign).0,
                only_wanted: false,
                want_fps: None,
                want_months: Vec::new(),
                years: campaign_years(&campaign),
                max_fen: max_fen(contract),
            };
            let cells: Vec<&[u8]> = row.split(',').map(str::as_bytes).collect();
            let cells: [&[u8]; 9] = std::array::from_fn(|i| cells[i]);
            match judge(&spec, &cells, &mut Caches::default()) {
                Verdict::Row(_) => None,
                Verdict::Reject(field, reason, _) => Some((field, reason)),
            }
        };
        let row =
            |inst: &str| format!("T1,{inst},2023-09-01 10:00:00,M1,5722,330106,15.00,sale,offline");
        assert!(institution_ok(&profile, "wallet_b"));
        assert_eq!(judge_as("wallet_b", &row("wallet_b")), None);
        assert_eq!(
            judge_as("wallet_b", &row("bank_c")),
            Some((F_INST, Reason::UnknownInstitution))
        );
        assert!(!institution_ok(&profile, "wallet_zz"));
        assert_eq!(
            judge_as("wallet_zz", &row("wallet_zz")),
            Some((F_INST, Reason::UnknownInstitution))
        );
        assert!(!institution_ok(&profile, "Wallet-B"));
        assert_eq!(
            judge_as("Wallet-B", &row("Wallet-B")),
            Some((F_INST, Reason::BadPattern))
        );
    }
}
