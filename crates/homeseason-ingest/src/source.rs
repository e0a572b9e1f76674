//! Raw bytes in, UTF-8 text out: gzip, byte-order marks and GB18030/GBK are detected, not assumed.

use std::io::Read;

use sha2::{Digest, Sha256};

use crate::{IngestError, Result};

/// Text encodings homeseason recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    /// UTF-8 without a byte-order mark.
    Utf8,
    /// UTF-8 with a byte-order mark (as Excel writes "CSV UTF-8").
    Utf8Bom,
    /// GB18030, a superset of GBK and GB2312 (as Excel writes CSV on Chinese Windows).
    Gb18030,
}

/// A source file decoded to text.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// File name as given (no directories), used in every message.
    pub file: String,
    /// SHA-256 of the bytes as received (before decompression), lower-case hex.
    pub sha256: String,
    /// Detected encoding.
    pub encoding: Encoding,
    /// Whether the bytes were gzip-compressed.
    pub gzip: bool,
    /// The text, UTF-8, without BOM.
    pub text: String,
}

/// SHA-256 of bytes as lower-case hex.
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Decode the bytes of one file. `file` is the name used in messages.
///
/// # Errors
/// [`IngestError::Empty`] for a zero-byte file, [`IngestError::Gzip`] for a broken gzip stream,
/// [`IngestError::Encoding`] when the text is neither UTF-8 nor GB18030.
pub fn decode(file: &str, bytes: &[u8]) -> Result<Decoded> {
    let sha256 = sha256_hex(bytes);
    if bytes.is_empty() {
        return Err(IngestError::Empty {
            file: file.to_owned(),
        });
    }
    let gzip = bytes.starts_with(&[0x1f, 0x8b]);
    let inflated;
    let raw: &[u8] = if gzip {
        let gzip_err = |e: std::io::Error| IngestError::Gzip {
            file: file.to_owned(),
            reason: e.to_string(),
        };
        // First measure (nothing kept), so a bomb is refused without holding what it inflates to.
        let size = std::io::copy(
            &mut flate2::read::MultiGzDecoder::new(bytes).take(crate::MAX_UNPACKED_BYTES + 1),
            &mut std::io::sink(),
        )
        .map_err(gzip_err)?;
        if size > crate::MAX_UNPACKED_BYTES {
            return Err(IngestError::TooLarge {
                file: file.to_owned(),
                what: "the gzip stream".into(),
                detail: format!("{} bytes compressed", bytes.len()),
            });
        }
        let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        flate2::read::MultiGzDecoder::new(bytes)
            .read_to_end(&mut out)
            .map_err(gzip_err)?;
        inflated = out;
        &inflated
    } else {
        bytes
    };
    let (encoding, text) = if let Some(rest) = raw.strip_prefix(b"\xEF\xBB\xBF") {
        let text = std::str::from_utf8(rest).map_err(|e| IngestError::Encoding {
            file: file.to_owned(),
            reason: format!(
                "UTF-8 BOM but invalid UTF-8 at byte {}",
                e.valid_up_to() + 3
            ),
        })?;
        (Encoding::Utf8Bom, text.to_owned())
    } else if let Ok(text) = std::str::from_utf8(raw) {
        (Encoding::Utf8, text.to_owned())
    } else {
        let decoded = encoding_rs::GB18030
            .decode_without_bom_handling_and_without_replacement(raw)
            .ok_or_else(|| IngestError::Encoding {
                file: file.to_owned(),
                reason: "neither UTF-8 nor GB18030/GBK".into(),
            })?;
        (Encoding::Gb18030, decoded.into_owned())
    };
    if text.trim().is_empty() {
        return Err(IngestError::Empty {
            file: file.to_owned(),
        });
    }
    Ok(Decoded {
        file: file.to_owned(),
        sha256,
        encoding,
        gzip,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_encodings() {
        let text = "地区,销售额\n浙江省,1\n";
        assert_eq!(
            decode("a.csv", text.as_bytes()).unwrap().encoding,
            Encoding::Utf8
        );
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(text.as_bytes());
        let d = decode("a.csv", &bom).unwrap();
        assert_eq!(d.encoding, Encoding::Utf8Bom);
        assert_eq!(d.text, text);
        let (gbk, _, _) = encoding_rs::GB18030.encode(text);
        let d = decode("a.csv", &gbk).unwrap();
        assert_eq!(d.encoding, Encoding::Gb18030);
        assert_eq!(d.text, text);
        assert!(matches!(
            decode("a.csv", b""),
            Err(IngestError::Empty { .. })
        ));
    }

    #[test]
    fn gzip_round_trip_and_truncation() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b"a,b\n1,2\n").unwrap();
        let gz = enc.finish().unwrap();
        let d = decode("a.csv.gz", &gz).unwrap();
        assert!(d.gzip);
        assert_eq!(d.text, "a,b\n1,2\n");
        assert!(matches!(
            decode("a.csv.gz", &gz[..gz.len() / 2]),
            Err(IngestError::Gzip { .. })
        ));
    }
}
