//! Reader thread: bytes → decoded UTF-8 chunks at record boundaries.

use super::*;

pub(super) struct Chunk {
    pub(super) seq: u64,
    pub(super) data: Vec<u8>,
    /// The `\n`s in `data` (the reader counts them; a worker need not again).
    pub(super) lines: usize,
}

impl Chunk {
    /// A chunk of `data`, its lines counted.
    #[cfg(test)]
    pub(super) fn new(seq: u64, data: Vec<u8>) -> Chunk {
        let lines = memchr::memchr_iter(b'\n', &data).count();
        Chunk { seq, data, lines }
    }
}

/// Chunk buffers handed back by the workers for the reader to fill again: a pass reuses a few
/// buffers rather than mapping (and zeroing) fresh pages for each ~4 MB chunk.
#[derive(Default)]
pub(super) struct BufPool(Mutex<Vec<Vec<u8>>>);

/// The most buffers a [`BufPool`] keeps (the chunks in flight are bounded by the channels).
const POOL_MAX: usize = 24;

impl BufPool {
    /// A spare buffer, empty, or a new one.
    pub(super) fn take(&self) -> Vec<u8> {
        let mut b = self
            .0
            .lock()
            .ok()
            .and_then(|mut p| p.pop())
            .unwrap_or_else(|| Vec::with_capacity(CHUNK + (CHUNK >> 2)));
        b.clear();
        b
    }

    /// Hand a chunk's buffer back (dropped when the pool is full or the buffer small).
    pub(super) fn give(&self, b: Vec<u8>) {
        if b.capacity() < CHUNK {
            return;
        }
        if let Ok(mut p) = self.0.lock()
            && p.len() < POOL_MAX
        {
            p.push(b);
        }
    }
}

pub(super) struct ReadSummary {
    /// The file's SHA-256 (hex); empty when the pass was asked not to hash ([`read_chunks`]).
    pub(super) sha256: String,
    pub(super) encoding: Encoding,
    pub(super) gzip: bool,
}

/// A reader that hashes what passes through it, when it has a hasher.
pub(super) struct HashingReader<R> {
    pub(super) inner: R,
    /// `None`: pass the bytes through unhashed (a later pass over a file whose digest is known).
    pub(super) hasher: Option<Sha256>,
}
impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = self.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// Read until `buf` is full or the reader ends (retrying interrupted reads); the bytes read.
///
/// # Errors
/// The reader's error.
pub fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The longest a CSV record may grow while no record ends (64 MB): beyond it a quote is taken to be
/// unclosed and the file is refused, so memory stays bounded.
pub(super) const MAX_RECORD_BYTES: usize = 64 << 20;

/// Where the quote that leaves `buf` inside a quoted field was opened, if one does (`buf` starts
/// outside quotes, as every chunk does).
pub(super) fn open_quote(buf: &[u8]) -> Option<usize> {
    let mut open = None;
    for i in memchr::memchr_iter(b'"', buf) {
        open = if open.is_some() { None } else { Some(i) };
    }
    open
}

/// When CSV text ends inside a quoted field, the plain-words reason naming the line the quote opened
/// on (for the CSV readers' error messages).
pub(crate) fn unclosed_quote_reason(text: &[u8]) -> Option<String> {
    let at = open_quote(text)?;
    let line = memchr::memchr_iter(b'\n', &text[..at]).count() + 1;
    Some(format!(
        "a quote (\") opened on line {line} is never closed / 第 {line} 行的引号（\"）未闭合"
    ))
}

/// Offset just past the last record terminator outside quotes.
pub(super) fn cut_point(buf: &[u8], csv: bool) -> Option<usize> {
    if !csv || memchr::memchr(b'"', buf).is_none() {
        return memchr::memrchr(b'\n', buf).map(|i| i + 1);
    }
    let mut in_quotes = false;
    let mut last = None;
    for i in memchr::memchr2_iter(b'"', b'\n', buf) {
        if buf[i] == b'"' {
            in_quotes = !in_quotes;
        } else if !in_quotes {
            last = Some(i + 1);
        }
    }
    last
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum EncState {
    Undecided,
    Utf8,
    Gb18030,
}

/// Read `raw` (gzip or not, any supported encoding) into UTF-8 chunks cut at record boundaries and
/// send them in order. `hash`: compute the file's SHA-256 (the first pass); a later pass over the
/// same file knows it already and leaves [`ReadSummary::sha256`] empty.
pub(super) fn read_chunks(
    file: &str,
    raw: Box<dyn Read + Send>,
    csv: bool,
    hash: bool,
    tx: &SyncSender<Chunk>,
    pool: &BufPool,
) -> Result<ReadSummary> {
    let mut finished = false;
    let enc_err = |reason: String| IngestError::Encoding {
        file: file.to_owned(),
        reason,
    };
    let io_err = |e: std::io::Error| IngestError::Csv {
        file: file.to_owned(),
        reason: e.to_string(),
    };
    let mut hashing = HashingReader {
        inner: raw,
        hasher: hash.then(Sha256::new),
    };
    let mut head = [0u8; 2];
    let n = read_full(&mut hashing, &mut head).map_err(io_err)?;
    let gzip = n == 2 && head == [0x1f, 0x8b];
    let mut seq = 0u64;
    let mut bom = false;
    let mut state = EncState::Undecided;
    let mut total = 0usize;
    let mut lines_sent = 0usize;
    {
        let chained = Cursor::new(head[..n].to_vec()).chain(&mut hashing);
        let mut source: Box<dyn Read> = if gzip {
            Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
                1 << 20,
                chained,
            )))
        } else {
            Box::new(chained)
        };
        let mut pending: Vec<u8> = pool.take();
        let mut first = true;
        loop {
            let start = pending.len();
            let want = CHUNK.max(start + (1 << 20));
            pending.resize(want, 0);
            let got = read_full(&mut *source, &mut pending[start..]).map_err(|e| {
                if gzip {
                    IngestError::Gzip {
                        file: file.to_owned(),
                        reason: e.to_string(),
                    }
                } else {
                    io_err(e)
                }
            })?;
            pending.truncate(start + got);
            if first {
                if pending.starts_with(b"\xEF\xBB\xBF") {
                    pending.drain(..3);
                    bom = true;
                    state = EncState::Utf8;
                }
                first = false;
            }
            let eof = got == 0 || start + got < want;
            // A quote (") that is never closed would swallow the rest of the file into one field:
            // refuse the file, naming the line, rather than read it as one giant row.
            let unclosed = |pending: &[u8]| {
                let at = open_quote(pending).unwrap_or(0);
                let line = lines_sent + memchr::memchr_iter(b'\n', &pending[..at]).count() + 1;
                IngestError::Csv {
                    file: file.to_owned(),
                    reason: format!(
                        "a quote (\") opened on line {line} is never closed / 第 {line} 行的引号（\"）未闭合"
                    ),
                }
            };
            let cut = if eof {
                if csv && open_quote(&pending).is_some() {
                    return Err(unclosed(&pending));
                }
                Some(pending.len())
            } else {
                cut_point(&pending, csv)
            };
            let Some(cut) = cut else {
                if pending.len() > MAX_RECORD_BYTES {
                    return Err(unclosed(&pending));
                }
                continue;
            };
            if cut == 0 {
                if eof {
                    finished = true;
                    break;
                }
                continue;
            }
            // The rest (a partial record) starts the next buffer, a spare one when the workers
            // have handed one back.
            let mut rest = pool.take();
            rest.extend_from_slice(&pending[cut..]);
            pending.truncate(cut);
            let mut data = std::mem::replace(&mut pending, rest);
            if !data.ends_with(b"\n") {
                data.push(b'\n');
            }
            total += data.len();
            let mut lines = memchr::memchr_iter(b'\n', &data).count();
            lines_sent += lines;
            if state == EncState::Undecided && !data.is_ascii() {
                state = if std::str::from_utf8(&data).is_ok() {
                    EncState::Utf8
                } else if bom {
                    return Err(enc_err("UTF-8 BOM but invalid UTF-8".into()));
                } else {
                    EncState::Gb18030
                };
            }
            let data = match state {
                EncState::Undecided => data,
                EncState::Utf8 => {
                    if let Err(e) = std::str::from_utf8(&data) {
                        return Err(enc_err(format!(
                            "invalid UTF-8 at byte {} of a chunk (mixed encodings?)",
                            e.valid_up_to()
                        )));
                    }
                    data
                }
                EncState::Gb18030 => {
                    match encoding_rs::GB18030
                        .decode_without_bom_handling_and_without_replacement(&data)
                    {
                        Some(Cow::Borrowed(_)) => data,
                        Some(Cow::Owned(s)) => {
                            // Decoding keeps every `\n` (no GB18030 sequence holds the byte);
                            // counted again all the same.
                            let s = s.into_bytes();
                            lines = memchr::memchr_iter(b'\n', &s).count();
                            s
                        }
                        None => return Err(enc_err("neither UTF-8 nor GB18030/GBK".into())),
                    }
                }
            };
            if tx.send(Chunk { seq, data, lines }).is_err() {
                break;
            }
            seq += 1;
            if eof && pending.is_empty() {
                finished = true;
                break;
            }
        }
        if finished {
            // Whatever a decoder left unread still belongs to the file's hash.
            let _ = std::io::copy(&mut source, &mut std::io::sink());
        }
    }
    if total == 0 {
        return Err(IngestError::Empty {
            file: file.to_owned(),
        });
    }
    Ok(ReadSummary {
        sha256: hashing
            .hasher
            .map(|h| hex::encode(h.finalize()))
            .unwrap_or_default(),
        encoding: Encoding::of_stream(bom, state == EncState::Gb18030),
        gzip,
    })
}
