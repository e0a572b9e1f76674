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

impl Encoding {
    /// The encoding a streamed file was read in: UTF-8 with a byte-order mark when it began with
    /// one, else GB18030 when its text had to be decoded as such, else UTF-8.
    #[must_use]
    pub fn of_stream(bom: bool, gb18030: bool) -> Encoding {
        if bom {
            Encoding::Utf8Bom
        } else if gb18030 {
            Encoding::Gb18030
        } else {
            Encoding::Utf8
        }
    }
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

/// The URI schemes a cluster reads (Hadoop `FileSystem` schemes): an input named `scheme://…` with one
/// of these is a cluster URI, read only by the Spark engine and never opened as a local path.
pub const URI_SCHEMES: [&str; 10] = [
    "file", "hdfs", "s3a", "s3", "abfs", "abfss", "gs", "viewfs", "wasb", "wasbs",
];

/// The longest file name a URI may end in, in characters (as an upload's name).
const MAX_URI_NAME_CHARS: usize = 120;

/// The longest URI accepted, in bytes.
const MAX_URI_BYTES: usize = 4096;

/// Why an input that looks like a URI is refused: the whole message in Chinese and in English.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{en} / {zh}")]
pub struct UriError {
    /// The input as given.
    pub uri: String,
    /// Chinese.
    pub zh: String,
    /// English.
    pub en: String,
}

fn uri_err(uri: &str, en: &str, zh: &str) -> UriError {
    UriError {
        uri: uri.to_owned(),
        en: format!("{uri:?}: {en}"),
        zh: format!("{uri:?}：{zh}"),
    }
}

/// Whether an input is a cluster URI (`hdfs://nn/x.csv`, `s3a://bucket/x.csv`, `file:///x.csv`, …:
/// a scheme of [`URI_SCHEMES`], case-insensitive, then `://`). Anything else is a local path.
///
/// # Errors
/// [`UriError`] for an input with `://` after anything that is not an allowed scheme (`http://…`,
/// `ftp://…`, `../x://y`): it is neither a URI the cluster reads nor a path to open.
pub fn is_uri(input: &str) -> std::result::Result<bool, UriError> {
    let Some((scheme, _)) = input.split_once("://") else {
        return Ok(false);
    };
    if URI_SCHEMES.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
        return Ok(true);
    }
    Err(uri_err(
        input,
        &format!(
            "not a URI the Spark engine reads (schemes: {}) and not a local path",
            URI_SCHEMES.join(", ")
        ),
        &format!(
            "既不是 Spark 引擎可读取的 URI（支持的协议：{}），也不是本地路径",
            URI_SCHEMES.join("、")
        ),
    ))
}

/// The file name a cluster URI ends in (its last path segment, query and fragment removed): a
/// label for messages and the manifest, never a path. It is checked as an uploaded file's name:
/// no `..`, `/`, `\`, NUL or control characters, no percent-encoded slash, backslash, dot or NUL, at
/// most 120 characters.
///
/// # Errors
/// [`UriError`] when `uri` is not a URI ([`is_uri`]), is too long, ends in `/`, or its name breaks
/// a rule above.
pub fn uri_file_name(uri: &str) -> std::result::Result<String, UriError> {
    if !is_uri(uri)? {
        return Err(uri_err(uri, "not a URI", "不是 URI"));
    }
    if uri.len() > MAX_URI_BYTES {
        return Err(uri_err(
            uri,
            &format!("longer than {MAX_URI_BYTES} bytes"),
            &format!("超过 {MAX_URI_BYTES} 字节"),
        ));
    }
    if uri.chars().any(char::is_control) {
        return Err(uri_err(uri, "contains control characters", "包含控制字符"));
    }
    let rest = uri.split_once("://").map_or("", |(_, r)| r);
    let bad = |en: &str, zh: &str| Err(uri_err(uri, en, zh));
    // The path starts after the authority (`hdfs://nn` names a file system, not a file).
    let path = rest.split(['?', '#']).next().unwrap_or_default();
    let Some((_, path)) = path.split_once('/') else {
        return bad("names no file", "未指明文件");
    };
    let name = path.rsplit('/').next().unwrap_or_default();
    let lower = name.to_ascii_lowercase();
    if name.is_empty() {
        return bad("names no file (it ends in /)", "未指明文件（以 / 结尾）");
    }
    if ["%2f", "%5c", "%2e", "%00"]
        .iter()
        .any(|p| lower.contains(p))
    {
        return bad(
            "its file name holds a percent-encoded slash, backslash, dot or NUL",
            "文件名包含百分号编码的斜杠、反斜杠、点或空字符",
        );
    }
    if name.contains('\\') || name.contains('\0') {
        return bad(
            "its file name must not contain a path",
            "文件名不得包含路径",
        );
    }
    if name.contains("..") || name.split('.').all(str::is_empty) {
        return bad("its file name is not usable", "文件名无效");
    }
    if name.chars().count() > MAX_URI_NAME_CHARS {
        return bad(
            &format!("its file name is longer than {MAX_URI_NAME_CHARS} characters"),
            &format!("文件名超过 {MAX_URI_NAME_CHARS} 个字符"),
        );
    }
    Ok(name.to_owned())
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

    #[test]
    fn uris_are_recognised_by_their_scheme() {
        for uri in [
            "file:///data/a.csv",
            "hdfs://nn:8020/season/wallet_b_2023-09.csv",
            "HDFS://nn/x.csv.gz",
            "s3a://bucket/p/x.csv",
            "abfss://c@acct.dfs.core.windows.net/x.csv",
            "gs://b/x.csv",
            "viewfs://cluster/x.csv",
        ] {
            assert_eq!(is_uri(uri), Ok(true), "{uri}");
        }
        for path in [
            "/data/a.csv",
            "a.csv",
            "C:\\x\\a.csv",
            "file:a.csv",
            "dir:/x",
        ] {
            assert_eq!(is_uri(path), Ok(false), "{path}");
        }
        for bad in [
            "http://host/a.csv",
            "ftp://h/a.csv",
            "../x://y",
            "://a.csv",
            "s3b://b/a",
        ] {
            let e = is_uri(bad).unwrap_err();
            assert!(e.to_string().contains("not a local path"), "{e}");
            assert!(e.to_string().contains("不是本地路径"), "{e}");
        }
    }

    #[test]
    fn a_uri_name_is_a_checked_label() {
        assert_eq!(
            uri_file_name("hdfs://nn:8020/season/wallet_b_2023-09.csv").unwrap(),
            "wallet_b_2023-09.csv"
        );
        assert_eq!(
            uri_file_name("s3a://bucket/p/x.csv.gz?versionId=3#f").unwrap(),
            "x.csv.gz"
        );
        assert_eq!(
            uri_file_name("file:///tmp/浙江 9月.csv").unwrap(),
            "浙江 9月.csv"
        );
        for bad in [
            "file:///tmp/..",
            "file:///tmp/.",
            "hdfs://nn/a/",
            "hdfs://nn",
            "s3a://b/%2e%2e",
            "s3a://b/..%2Fetc%2Fpasswd",
            "s3a://b/a%2fb.csv",
            "s3a://b/a%5Cb.csv",
            "s3a://b/a%00.csv",
            "s3a://b/a\\..\\b.csv",
            "s3a://b/a\0.csv",
            "s3a://b/a\n.csv",
            "s3a://b/x..csv",
            "/local/a.csv",
            "http://h/a.csv",
        ] {
            assert!(uri_file_name(bad).is_err(), "{bad:?}");
        }
        let long = format!("hdfs://nn/{}.csv", "长".repeat(200));
        assert!(uri_file_name(&long).is_err());
        let huge = format!("hdfs://nn/{}/a.csv", "d".repeat(5000));
        assert!(uri_file_name(&huge).is_err());
    }
}
