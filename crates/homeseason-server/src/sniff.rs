//! Which files are allowed: by name *and* by content.
//!
//! Accepted: CSV text (UTF-8, UTF-8 with BOM, GB18030/GBK), optionally gzip-compressed, named
//! `*.csv`, `*.txt`, `*.csv.gz` or `*.gz`; and Excel workbooks named `*.xlsx` (a ZIP archive) or `*.xls`
//! (an OLE compound file), which ingest reads too. Name and content must agree: the first bytes are
//! checked, so other binary formats (PDF, images, executables, a ZIP that is not named `.xlsx`) and
//! anything with NUL bytes or undecodable text are refused whatever the name says, and a file named
//! `.xlsx` must be a workbook. A gzip file is also inflated with a ceiling, so a small upload cannot
//! expand into gigabytes.

use std::io::Read;

/// How much of the start of a file is checked.
pub const HEAD_BYTES: usize = 64 * 1024;

/// What a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Plain text.
    Text,
    /// Gzip-compressed.
    Gzip,
    /// An Excel workbook (XLSX or XLS).
    Workbook,
}

/// Why a file's type was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{en} / {zh}")]
pub struct TypeError {
    /// Chinese.
    pub zh: String,
    /// English.
    pub en: String,
}

fn refuse(zh: &str, en: &str) -> TypeError {
    TypeError {
        zh: zh.to_owned(),
        en: en.to_owned(),
    }
}

/// Whether the name has an allowed extension.
///
/// # Errors
/// [`TypeError`] naming the allowed extensions.
pub fn check_extension(name: &str) -> Result<(), TypeError> {
    let lower = name.to_lowercase();
    if [".csv", ".txt", ".csv.gz", ".gz", ".xlsx", ".xls"]
        .iter()
        .any(|e| lower.ends_with(e))
    {
        Ok(())
    } else {
        Err(refuse(
            "只接受 CSV 文件（.csv、.txt、.csv.gz）或 Excel 工作簿（.xlsx、.xls）",
            "only CSV files (.csv, .txt, .csv.gz) or Excel workbooks (.xlsx, .xls) are accepted",
        ))
    }
}

fn is_excel_name(name: &str) -> Option<&'static [u8]> {
    let lower = name.to_lowercase();
    if lower.ends_with(".xlsx") {
        Some(ZIP)
    } else if lower.ends_with(".xls") {
        Some(OLE)
    } else {
        None
    }
}

const ZIP: &[u8] = b"PK\x03\x04";
const OLE: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

const MAGIC: [(&[u8], &str); 9] = [
    (b"PK\x03\x04", "ZIP/XLSX"),
    (b"\xD0\xCF\x11\xE0", "XLS/OLE"),
    (b"%PDF", "PDF"),
    (b"\x89PNG", "PNG"),
    (b"\xFF\xD8\xFF", "JPEG"),
    (b"GIF8", "GIF"),
    (b"MZ", "EXE"),
    (b"\x7FELF", "ELF"),
    (b"Rar!", "RAR"),
];

/// Check the first bytes of a file named `name` (`complete` when `head` is the whole file).
///
/// # Errors
/// [`TypeError`] for a binary format other than a workbook named as one, a workbook name on other
/// content, NUL bytes or text that is neither UTF-8 nor GB18030.
pub fn sniff(name: &str, head: &[u8], complete: bool) -> Result<Kind, TypeError> {
    if let Some(magic) = is_excel_name(name) {
        return if head.starts_with(magic) {
            Ok(Kind::Workbook)
        } else {
            Err(refuse(
                "文件名是 Excel 工作簿，但内容不是有效的 .xlsx/.xls 文件",
                "the name says Excel workbook but the content is not an .xlsx/.xls file",
            ))
        };
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        return Ok(Kind::Gzip);
    }
    if let Some((_, what)) = MAGIC.iter().find(|(m, _)| head.starts_with(m)) {
        return Err(TypeError {
            zh: format!("文件内容是 {what}，与文件名不符，不是 CSV 文本"),
            en: format!("the content is {what}, which does not match the name: not CSV text"),
        });
    }
    check_text(head, complete)?;
    Ok(Kind::Text)
}

fn check_text(head: &[u8], complete: bool) -> Result<(), TypeError> {
    if head.contains(&0) {
        return Err(refuse(
            "文件内容为二进制数据，不是 CSV 文本",
            "the content is binary (NUL bytes), not CSV text",
        ));
    }
    let body = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    match std::str::from_utf8(body) {
        Ok(_) => return Ok(()),
        // A multi-byte character cut by the end of the head is fine.
        Err(e) if e.error_len().is_none() && !complete => return Ok(()),
        Err(_) => {}
    }
    // GB18030: decode, allowing a cut character at the very end of an incomplete head.
    let trimmed = if complete {
        body
    } else {
        &body[..body.len().saturating_sub(3)]
    };
    let (_, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(trimmed);
    if had_errors {
        return Err(refuse(
            "无法识别文件编码：应为 UTF-8 或 GB18030/GBK 文本",
            "the text is neither UTF-8 nor GB18030/GBK",
        ));
    }
    Ok(())
}

/// Inflate a gzip file with a ceiling and check that what comes out is text.
///
/// # Errors
/// [`TypeError`] when it inflates past `max_inflated` bytes or is not text. A damaged stream is not
/// an error here: ingest reports it with its own message.
pub fn check_gzip(bytes: &[u8], max_inflated: u64) -> Result<(), TypeError> {
    let mut decoder = flate2::read::MultiGzDecoder::new(bytes).take(max_inflated + 1);
    let mut head = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total: u64 = 0;
    loop {
        match decoder.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                total += n as u64;
                if head.len() < HEAD_BYTES {
                    let take = n.min(HEAD_BYTES - head.len());
                    head.extend_from_slice(&buf[..take]);
                }
            }
        }
    }
    if total > max_inflated {
        return Err(TypeError {
            zh: format!("压缩文件解压后超过 {} MB 上限", max_inflated / 1_000_000),
            en: format!(
                "the gzip file inflates past the {} MB limit",
                max_inflated / 1_000_000
            ),
        });
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        return Err(refuse(
            "压缩文件内嵌套压缩文件",
            "a gzip file inside a gzip file",
        ));
    }
    if let Some((_, what)) = MAGIC.iter().find(|(m, _)| head.starts_with(m)) {
        return Err(TypeError {
            zh: format!("压缩包内是 {what}，不是 CSV 文本"),
            en: format!("the gzip file holds {what}, not CSV text"),
        });
    }
    check_text(&head, (total as usize) <= head.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn kinds() {
        assert_eq!(
            sniff("a.csv", "地区,金额\n浙江,1\n".as_bytes(), true),
            Ok(Kind::Text)
        );
        let (gbk, _, _) = encoding_rs::GB18030.encode("地区,金额\n浙江,1\n");
        assert_eq!(sniff("a.csv", &gbk, true), Ok(Kind::Text));
        assert!(sniff("a.csv", b"PK\x03\x04rest", true).is_err());
        assert_eq!(sniff("a.xlsx", b"PK\x03\x04rest", true), Ok(Kind::Workbook));
        assert!(sniff("a.xlsx", b"a,b\n1,2\n", true).is_err());
        assert_eq!(sniff("a.XLS", OLE, true), Ok(Kind::Workbook));
        assert!(sniff("a.csv", b"%PDF-1.7", true).is_err());
        assert!(sniff("a.csv", b"a,b\n\0\0\0", true).is_err());
        assert!(sniff("a.csv", &[0xff, 0xfe, 0xfd, 0x80, 0x81, 0x30], true).is_err());
        // A head cut inside a UTF-8 character is still text.
        let text = "地区".as_bytes();
        assert_eq!(sniff("a.csv", &text[..4], false), Ok(Kind::Text));
        for (name, accepted) in [
            ("a.CSV", true),
            ("a.csv.gz", true),
            ("a.xlsx", true),
            ("a.exe", false),
            ("a.pdf", false),
        ] {
            assert_eq!(check_extension(name).is_ok(), accepted, "{name}");
        }
    }

    #[test]
    fn gzip_ceiling() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![b'a'; 5_000_000]).unwrap();
        let gz = enc.finish().unwrap();
        assert!(gz.len() < 100_000);
        assert!(check_gzip(&gz, 1_000_000).is_err());
        assert!(check_gzip(&gz, 10_000_000).is_ok());
    }
}
