//! Workers: a chunk of records → compact rows and rejects.

use super::*;

#[derive(Clone, Copy)]
pub(super) struct Row {
    pub(super) fp: u64,
    /// The second half of the 128-bit id ([`txn_id128`]).
    pub(super) fp2: u64,
    /// The (cell, merchant) pair ([`merchant_pair`]).
    pub(super) merchant: u64,
    /// The (area cell, merchant) pair ([`area_merchant_pair`]).
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
    pub(super) region: HashMap<Vec<u8>, Option<(u8, u16)>>,
    pub(super) kind: HashMap<Vec<u8>, Option<u8>>,
    pub(super) channel: HashMap<Vec<u8>, Option<u8>>,
    pub(super) json_keys: HashMap<String, Option<usize>>,
    pub(super) last_day: Option<(i32, MonthKey)>,
    /// The merchant pair's canonical text, reused between rows.
    pub(super) pair_text: Vec<u8>,
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

/// A per-worker lookup: the cached value for `key`, computing (and keeping) it on a miss.
pub(super) fn cached<V: Copy>(
    map: &mut HashMap<Vec<u8>, V>,
    key: &[u8],
    f: impl FnOnce() -> V,
) -> V {
    if let Some(v) = map.get(key) {
        return *v;
    }
    let v = f();
    map.insert(key.to_vec(), v);
    v
}

pub(super) enum Verdict {
    Row(Row),
    Reject(usize, Reason, Option<String>),
}

pub(super) fn judge(spec: &Spec<'_>, cells: &[&[u8]; 9], caches: &mut Caches) -> Verdict {
    let p = spec.profile;
    let missing = |i: usize| Verdict::Reject(i, Reason::MissingValue, None);
    let txn = cells[F_TXN];
    if txn.is_empty() {
        return missing(F_TXN);
    }
    if spec.columns[F_INST].is_some() {
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
    Verdict::Row(Row {
        fp: txn_fingerprint(txn),
        fp2: txn_fingerprint2(txn),
        merchant: merchant_pair_in(
            &mut caches.pair_text,
            day,
            region_code,
            mcc as u16,
            channel,
            merchant,
        ),
        area_merchant: area_merchant_pair_in(
            &mut caches.pair_text,
            day,
            region_code,
            Areas::embedded().get(area).map_or("", |a| a.code.as_str()),
            mcc as u16,
            channel,
            merchant,
        ),
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

/// A line's fields, split at the delimiter.
fn fields(text: &[u8], delimiter: u8) -> impl Iterator<Item = &[u8]> {
    text.split(move |&b| b == delimiter)
}

/// Whether the verification pass wants a record: its `txn_id` (trimmed) has a wanted fingerprint.
fn is_wanted(spec: &Spec<'_>, txn: &[u8]) -> bool {
    !txn.is_empty()
        && spec
            .want_fps
            .as_ref()
            .is_some_and(|w| w.contains(txn_fingerprint(txn)))
}

/// The verification pass over a CSV chunk without quotes or carriage returns, where a record is a
/// non-empty line and its fields are split at the delimiter, as the `csv` reader reads them: only
/// the `txn_id` cell is looked at until it is wanted. A record's line and raw text are the
/// reader's: from just past the previous record (blank lines between are the reader's skipped
/// lines, counted in its start).
fn scan_plain(
    spec: &Spec<'_>,
    chunk: &Chunk,
    caches: &mut Caches,
    skip_header: bool,
    out: &mut ChunkOut,
    txn_col: usize,
) {
    let data = &chunk.data[..];
    let delimiter = spec.delimiter;
    let mut first = skip_header;
    let (mut pos, mut line) = (0usize, 1u32);
    let (mut rec_start, mut rec_line) = (0usize, 1u32);
    while pos < data.len() {
        let end = memchr::memchr(b'\n', &data[pos..]).map_or(data.len(), |i| pos + i);
        let text = &data[pos..end];
        let next = (end + 1).min(data.len());
        pos = end + 1;
        line = line.saturating_add(1);
        if text.is_empty() {
            continue;
        }
        let (start, at) = (rec_start, rec_line);
        (rec_start, rec_line) = (next, line);
        if first {
            first = false;
            continue;
        }
        let txn = fields(text, delimiter).nth(txn_col).map_or(&b""[..], trim);
        if !is_wanted(spec, txn) {
            continue;
        }
        let cells_all: Vec<&[u8]> = fields(text, delimiter).collect();
        let cells: [&[u8]; 9] = std::array::from_fn(|i| {
            spec.columns[i]
                .and_then(|c| cells_all.get(c).copied())
                .map_or(&b""[..], trim)
        });
        handle_record(spec, caches, out, &cells, &data[start..next], at);
    }
}

pub(super) fn process_chunk(
    spec: &Spec<'_>,
    chunk: &Chunk,
    caches: &mut Caches,
    skip_header: bool,
) -> ChunkOut {
    let mut out = ChunkOut {
        seq: chunk.seq,
        lines: u32::try_from(memchr::memchr_iter(b'\n', &chunk.data).count()).unwrap_or(u32::MAX),
        records: 0,
        rows: Vec::with_capacity(chunk.data.len() / if spec.only_wanted { 1024 } else { 48 }),
        rejects: Vec::new(),
        texts: Vec::new(),
    };
    if spec.only_wanted
        && spec.format != Format::Jsonl
        && let Some(txn_col) = spec.columns[F_TXN]
        && memchr::memchr2(b'"', b'\r', &chunk.data).is_none()
    {
        scan_plain(spec, chunk, caches, skip_header, &mut out, txn_col);
        return out;
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
