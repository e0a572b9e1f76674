//! Fuzz target bodies, shared by the cargo-fuzz project (`fuzz/`) and the stable smoke test
//! (`tests/fuzz_smoke.rs`), so both run exactly the same code. Each function takes arbitrary bytes and
//! panics only when an invariant that must hold on *any* input is broken:
//!
//! - nothing panics (a panic anywhere below is the bug);
//! - every ingested file balances: `read = accepted + rejected + duplicates`, with one reject row per
//!   rejected row and one lake row at most per accepted row;
//! - parsers return sane values (finite amounts, periods with `start <= end` that read back the same).
//!
//! Not part of the API: hidden from the docs, may change with the fuzz targets.

use homeseason_schema::campaign::Campaign;
use homeseason_schema::region::Regions;

use crate::profile::{AmountUnit, TimeFormat};
use crate::{Feed, FileOutcome, parse, stream, xlsx};

fn campaign() -> &'static Campaign {
    static CAMPAIGN: std::sync::OnceLock<Campaign> = std::sync::OnceLock::new();
    CAMPAIGN.get_or_init(Campaign::default_2023)
}

/// The invariants of one ingested file.
fn check_outcome(feed: Feed, out: &FileOutcome) {
    let r = &out.report;
    assert!(r.balanced(), "{feed:?}: unbalanced report {r:?}");
    assert_eq!(
        out.rejects.len(),
        r.rejected,
        "{feed:?}: reject rows differ from the rejected count {r:?}"
    );
    assert_eq!(r.feed, feed, "{feed:?}: report names another feed {r:?}");
}

/// The file name a fuzz input is ingested under: its format follows from the content, as a liaison's
/// file name would say (`.parquet` for Parquet magic, `.jsonl` for a JSON object, else `.csv`).
#[must_use]
pub fn file_name(data: &[u8]) -> &'static str {
    let first = data.iter().find(|b| !b.is_ascii_whitespace());
    if data.starts_with(b"PAR1") {
        "fuzz.parquet"
    } else if xlsx::is_workbook(data) {
        "fuzz.xlsx"
    } else if first == Some(&b'{') {
        "fuzz.jsonl"
    } else {
        "fuzz.csv"
    }
}

/// CSV (and JSONL/Parquet/gzip, by content) through header mapping and every feed's rules:
/// [`crate::detect_feed`], then [`crate::ingest_bytes`] as each of the five feeds.
pub fn csv_ingest(data: &[u8]) {
    let name = file_name(data);
    let _ = crate::detect_feed(name, data);
    for feed in Feed::ALL {
        if let Ok(out) = crate::ingest_bytes(feed, name, data, campaign()) {
            check_outcome(feed, &out);
        }
    }
}

/// Bytes as an Excel workbook: [`xlsx::detect`] and [`xlsx::read`] for every feed's contract
/// (whatever the magic), and [`crate::ingest_bytes`] for every feed when the bytes look like one.
pub fn xlsx_ingest(data: &[u8]) {
    let _ = xlsx::detect("fuzz.xlsx", data);
    for feed in Feed::ALL {
        if let Ok(t) = xlsx::read("fuzz.xlsx", data, feed.contract(), feed.column_defaults()) {
            assert_eq!(
                t.frame
                    .column(crate::table::LINE)
                    .map(polars::prelude::Column::len)
                    .ok(),
                Some(t.frame.height()),
                "{feed:?}: a workbook table without its line column"
            );
        }
    }
    if xlsx::is_workbook(data) {
        for feed in Feed::ALL {
            if let Ok(out) = crate::ingest_bytes(feed, "fuzz.xlsx", data, campaign()) {
                check_outcome(feed, &out);
            }
        }
    }
}

/// The value parsers on every line of the input (as UTF-8, lossy) and on the raw bytes: region
/// resolution and roll-up, money units and amounts, dates, periods, yes/no, and the streaming
/// engine's amount and timestamp parsers.
pub fn parsers(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let regions = Regions::embedded();
    for s in std::iter::once(text.as_ref()).chain(text.lines()) {
        for r in [regions.resolve(s), regions.roll_up(s)]
            .into_iter()
            .flatten()
        {
            assert!(
                regions.by_code(&r.code).is_some(),
                "{s:?} resolved to an unknown region {}",
                r.code
            );
        }
        let _ = parse::fold_width(s);
        let _ = parse::Unit::parse(s);
        let _ = parse::Unit::in_header(s);
        let _ = parse::yes_no(s);
        if let Some((v, _)) = parse::amount(s) {
            assert!(v.is_finite(), "{s:?} parsed to {v}");
        }
        let _ = parse::date(s);
        if let Some(p) = parse::period(s) {
            assert!(p.start <= p.end, "{s:?} parsed to {p:?}");
            let canonical = p.canonical();
            if (0..=9999).contains(&chrono::Datelike::year(&p.start))
                && (0..=9999).contains(&chrono::Datelike::year(&p.end))
            {
                assert_eq!(
                    parse::period(&canonical),
                    Some(p),
                    "{s:?} → {canonical:?} does not read back"
                );
            }
        }
    }
    let formats = [
        TimeFormat::Pattern(crate::profile::DEFAULT_TIME_FORMAT.to_owned()),
        TimeFormat::Pattern("%Y/%m/%d %H:%M".to_owned()),
        TimeFormat::UnixSeconds,
        TimeFormat::UnixMillis,
        TimeFormat::Rfc3339,
    ];
    for cell in std::iter::once(data).chain(data.split(|b| *b == b'\n')) {
        for unit in [AmountUnit::Yuan, AmountUnit::Fen] {
            let _ = stream::parse_fen(cell, unit);
        }
        for format in &formats {
            for offset in [0, 8 * 3600, -12 * 3600] {
                let _ = stream::beijing_day(cell, format, offset);
            }
        }
    }
}

/// A small deterministic mutator (xorshift64*), for the stable smoke test: bit flips, interesting
/// bytes, inserted tokens, deleted and duplicated ranges, truncation and splices of two inputs.
#[derive(Debug, Clone)]
pub struct Mutator {
    state: u64,
}

/// Tokens worth inserting into the text formats.
const TOKENS: &[&[u8]] = &[
    b",",
    b"\n",
    b"\r\n",
    b"\"",
    b"\"\"",
    b"\t",
    b"\xEF\xBB\xBF",
    "万元".as_bytes(),
    "亿".as_bytes(),
    "元".as_bytes(),
    "年".as_bytes(),
    "月".as_bytes(),
    "第".as_bytes(),
    "周".as_bytes(),
    "至".as_bytes(),
    "～".as_bytes(),
    "１２".as_bytes(),
    b"2023-09",
    b"2023-W37",
    b"2023-09-01",
    b"2023-09-01 10:00:00",
    b"9223372036854775807",
    b"-9223372036854775808",
    b"1e308",
    b"NaN",
    b"inf",
    b"-",
    b"~",
    b"330000",
    b"659000",
    "浙江".as_bytes(),
    b"\xFF\xFE",
    b"\x81\x30",
    b"\x00",
    b"{\"a\":1}",
    b"PK\x03\x04",
    b"\x1f\x8b",
];

impl Mutator {
    /// A mutator from a seed (0 is replaced by a fixed odd constant).
    #[must_use]
    pub fn new(seed: u64) -> Mutator {
        Mutator {
            state: if seed == 0 {
                0x9E37_79B9_7F4A_7C15
            } else {
                seed
            },
        }
    }

    /// The next pseudo-random number.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// A mutant of `input` (1–4 mutations); `other` is used for splices.
    pub fn mutate(&mut self, input: &[u8], other: &[u8]) -> Vec<u8> {
        let mut out = input.to_vec();
        let n = 1 + self.below(4);
        for _ in 0..n {
            let len = out.len();
            match self.below(9) {
                0 if len > 0 => {
                    let i = self.below(len);
                    out[i] ^= 1 << self.below(8);
                }
                1 if len > 0 => {
                    let i = self.below(len);
                    out[i] = [0u8, 0xFF, 0x7F, 0x80, b'0', b'9', b',', b'\n', b'"'][self.below(9)];
                }
                2 => {
                    let i = self.below(len + 1);
                    let t = TOKENS[self.below(TOKENS.len())];
                    out.splice(i..i, t.iter().copied());
                }
                3 if len > 0 => {
                    let i = self.below(len);
                    let k = 1 + self.below((len - i).min(64));
                    out.drain(i..i + k);
                }
                4 if len > 0 => {
                    let i = self.below(len);
                    let k = 1 + self.below((len - i).min(256));
                    let copy = out[i..i + k].to_vec();
                    let at = self.below(len + 1);
                    out.splice(at..at, copy);
                }
                5 if len > 0 => {
                    out.truncate(self.below(len));
                }
                6 if !other.is_empty() => {
                    let cut = self.below(len + 1);
                    let from = self.below(other.len());
                    out.truncate(cut);
                    out.extend_from_slice(&other[from..]);
                }
                7 => {
                    let i = self.below(len + 1);
                    let b = (self.next_u64() & 0xFF) as u8;
                    out.insert(i, b);
                }
                _ if len > 1 => {
                    // Swap two bytes (moves separators and quotes around).
                    let (i, j) = (self.below(len), self.below(len));
                    out.swap(i, j);
                }
                _ => out.push((self.next_u64() & 0xFF) as u8),
            }
        }
        out
    }
}

/// The corpus and the crash reproducers of a target — every file of `<fuzz_dir>/corpus/<target>/` and
/// `<fuzz_dir>/artifacts/<target>/` — sorted by path (deterministic), for the stable smoke passes.
///
/// # Panics
/// When the corpus folder is missing or both folders are empty, or a file cannot be read.
#[must_use]
#[expect(
    clippy::disallowed_methods,
    reason = "reads the fuzz corpus for the smoke tests; no pipeline code calls it"
)]
pub fn corpus_inputs(
    fuzz_dir: &std::path::Path,
    target: &str,
) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for sub in ["corpus", "artifacts"] {
        let dir = fuzz_dir.join(sub).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            assert!(sub != "corpus", "no corpus at {}", dir.display());
            continue;
        };
        let mut paths: Vec<std::path::PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        paths.sort();
        for p in paths {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            out.push((p, bytes));
        }
    }
    assert!(!out.is_empty(), "the corpus of {target} is empty");
    out
}
