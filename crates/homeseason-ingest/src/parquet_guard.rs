//! A pre-check of Parquet page headers before the bytes reach the Parquet reader.
//!
//! polars-parquet 0.55 trusts a data page's `num_values`: a negative value (an `i32` in the Thrift
//! header) becomes a `usize` near 2⁶⁴ and the validity bitmap reserves ~2⁶¹ bytes, so one damaged
//! 3 KB file aborts the process ("memory allocation failed" is not a panic: nothing can catch it).
//! Found by fuzzing (`fuzz/artifacts/csv_ingest/oom-polars-parquet-huge-allocation.parquet`).
//!
//! This walks the footer (`FileMetaData` → row groups → column chunks) and every page header of every
//! column chunk with a small Thrift compact-protocol reader and refuses negative counts and sizes, and
//! page value counts above what the file could hold. Anything it cannot follow is left to the reader,
//! which reports it; it only ever refuses a file that is damaged.

/// A Thrift compact-protocol value, as far as the checks need it.
#[derive(Debug)]
enum Value {
    Int(i64),
    Struct(Vec<(i16, Value)>),
    List(Vec<Value>),
    Other,
}

impl Value {
    fn field(&self, id: i16) -> Option<&Value> {
        match self {
            Value::Struct(fields) => fields.iter().find(|(f, _)| *f == id).map(|(_, v)| v),
            _ => None,
        }
    }
    fn int(&self, id: i16) -> Option<i64> {
        match self.field(id)? {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
    /// Values read so far: a bound on work for hostile input.
    budget: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let v = *self.b.get(self.at)?;
        self.at += 1;
        Some(v)
    }
    fn varint(&mut self) -> Option<u64> {
        let mut v: u64 = 0;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            if shift < 64 {
                v |= u64::from(b & 0x7F) << shift;
            }
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    fn zigzag(&mut self) -> Option<i64> {
        let v = self.varint()?;
        Some(((v >> 1) as i64) ^ -((v & 1) as i64))
    }
    fn skip(&mut self, n: usize) -> Option<()> {
        self.at = self.at.checked_add(n).filter(|e| *e <= self.b.len())?;
        Some(())
    }
    fn value(&mut self, kind: u8, depth: u32) -> Option<Value> {
        self.budget = self.budget.checked_sub(1)?;
        if depth > 32 {
            return None;
        }
        Some(match kind {
            1 | 2 => Value::Other,
            3 => {
                self.skip(1)?;
                Value::Other
            }
            4..=6 => Value::Int(self.zigzag()?),
            7 => {
                self.skip(8)?;
                Value::Other
            }
            8 => {
                let n = usize::try_from(self.varint()?).ok()?;
                self.skip(n)?;
                Value::Other
            }
            9 | 10 => {
                let h = self.byte()?;
                let mut n = usize::from(h >> 4);
                if n == 15 {
                    n = usize::try_from(self.varint()?).ok()?;
                }
                let elem = h & 0x0F;
                let mut items = Vec::new();
                for _ in 0..n {
                    // Booleans in lists are one byte each.
                    if elem == 1 || elem == 2 {
                        self.skip(1)?;
                        continue;
                    }
                    items.push(self.value(elem, depth + 1)?);
                }
                Value::List(items)
            }
            11 => {
                let n = usize::try_from(self.varint()?).ok()?;
                if n > 0 {
                    let kv = self.byte()?;
                    for _ in 0..n {
                        self.value(kv >> 4, depth + 1)?;
                        self.value(kv & 0x0F, depth + 1)?;
                    }
                }
                Value::Other
            }
            12 => self.structure(depth + 1)?,
            _ => return None,
        })
    }
    fn structure(&mut self, depth: u32) -> Option<Value> {
        let mut fields = Vec::new();
        let mut last: i16 = 0;
        loop {
            let h = self.byte()?;
            let kind = h & 0x0F;
            // As the reader's Thrift decoder: a field header of type 0 ends the struct, whatever its
            // delta (a damaged 0x80 there must not hide the pages after it from this check).
            if kind == 0 {
                return Some(Value::Struct(fields));
            }
            let delta = h >> 4;
            let id = if delta == 0 {
                i16::try_from(self.zigzag()?).ok()?
            } else {
                last.checked_add(i16::from(delta))?
            };
            last = id;
            let v = self.value(kind, depth)?;
            fields.push((id, v));
        }
    }
}

fn reader(b: &[u8]) -> Reader<'_> {
    Reader {
        b,
        at: 0,
        budget: 1_000_000,
    }
}

/// Why a Parquet file is refused before it is read, or `None` when the pre-check finds nothing wrong
/// (or cannot follow the file: the reader then reports it).
#[must_use]
pub(crate) fn damaged(bytes: &[u8]) -> Option<String> {
    let n = bytes.len();
    if n < 12 || !bytes.ends_with(b"PAR1") {
        return None;
    }
    let footer_len = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().ok()?) as usize;
    let footer_start = (n - 8).checked_sub(footer_len)?;
    let Some(meta) = reader(&bytes[footer_start..n - 8]).structure(0) else {
        // Not Thrift as the format specifies: damaged (the reader may still go on and trust it).
        return Some("its footer (file metadata) is not readable".into());
    };
    // The most values a page could hold: every value one bit, the whole file (generous on purpose).
    let max_values = (n as i64).saturating_mul(8 * 64).max(1 << 20);
    let Some(Value::List(groups)) = meta.field(4) else {
        return None;
    };
    for group in groups {
        let rows = group.int(3).unwrap_or(0);
        if rows < 0 {
            return Some(format!("a row group declares {rows} rows"));
        }
        let Some(Value::List(columns)) = group.field(1) else {
            continue;
        };
        for column in columns {
            let Some(cm) = column.field(3) else {
                continue;
            };
            let start = match (cm.int(11), cm.int(9)) {
                (Some(d), Some(p)) if d > 0 => d.min(p),
                (_, Some(p)) => p,
                _ => continue,
            };
            let total = cm.int(7).unwrap_or(0);
            if start < 0 || total < 0 {
                return Some(format!(
                    "a column chunk declares offset {start} and size {total}"
                ));
            }
            let (Ok(start), Ok(total)) = (usize::try_from(start), usize::try_from(total)) else {
                continue;
            };
            let end = start.saturating_add(total).min(n);
            let mut at = start;
            while at < end {
                let mut r = reader(&bytes[at..end]);
                let Some(page) = r.structure(0) else {
                    break;
                };
                let compressed = page.int(3).unwrap_or(0);
                let uncompressed = page.int(2).unwrap_or(0);
                if compressed < 0
                    || uncompressed < 0
                    || uncompressed.unsigned_abs() > crate::MAX_UNPACKED_BYTES
                {
                    return Some(format!(
                        "a page declares sizes {compressed} / {uncompressed} bytes"
                    ));
                }
                // Data page (5), dictionary page (7), data page v2 (8): field 1 is num_values;
                // v2 also has num_nulls (2) and num_rows (3).
                for (header, fields) in [(5, &[1][..]), (7, &[1][..]), (8, &[1, 2, 3][..])] {
                    if let Some(h) = page.field(header) {
                        for f in fields {
                            let v = h.int(*f).unwrap_or(0);
                            if !(0..=max_values).contains(&v) {
                                return Some(format!("a page declares {v} values"));
                            }
                        }
                    }
                }
                let Ok(compressed) = usize::try_from(compressed) else {
                    break;
                };
                at = at.saturating_add(r.at).saturating_add(compressed);
            }
        }
    }
    None
}

#[cfg(test)]
#[expect(clippy::disallowed_methods, reason = "the tests read fuzz reproducers")]
mod tests {
    use super::damaged;

    fn fuzz_file(path: &str) -> Vec<u8> {
        std::fs::read(format!("{}/../../fuzz/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn passes_a_good_file_and_refuses_a_negative_value_count() {
        assert_eq!(
            damaged(&fuzz_file(
                "corpus/csv_ingest/seed-payment_transactions.parquet"
            )),
            None
        );
        for artifact in ["", "-2"] {
            let why = damaged(&fuzz_file(&format!(
                "artifacts/csv_ingest/oom-polars-parquet-huge-allocation{artifact}.parquet"
            )));
            assert!(
                why.as_ref().is_some_and(|w| w.contains("values")),
                "{why:?}"
            );
        }
        // Every Parquet seed (pyarrow: v1 and v2 pages, dictionary or not, snappy/zstd/gzip), and any
        // file named in HOMESEASON_PARQUET_GUARD_FILES (`:`-separated), passes.
        let dir = format!(
            "{}/../../fuzz/corpus/csv_ingest",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut paths: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(".parquet"))
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("seed-"))
            })
            .collect();
        if let Ok(extra) = std::env::var("HOMESEASON_PARQUET_GUARD_FILES") {
            paths.extend(extra.split(':').map(std::path::PathBuf::from));
        }
        assert!(paths.len() >= 3, "{paths:?}");
        for p in paths {
            assert_eq!(
                damaged(&std::fs::read(&p).unwrap()),
                None,
                "{}",
                p.display()
            );
        }
        assert_eq!(damaged(b"PAR1"), None);
        assert_eq!(damaged(b"PAR1\xff\xff\xff\xffPAR1"), None);
    }
}
