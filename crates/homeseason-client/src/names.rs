//! File names from clients: checked, cleaned, and used as labels only.
//!
//! No name a client sends ever becomes a path: raw files are stored as `raw/<sha256>`. The name is kept
//! for messages, the manifest and the upload history, so it is still checked: a name with a directory
//! part (`/`, `\`), `..`, control characters or nothing left after cleaning is refused.

/// The longest name kept, in characters.
pub const MAX_NAME_CHARS: usize = 120;

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{en} / {zh}")]
pub struct NameError {
    /// Chinese.
    pub zh: String,
    /// English.
    pub en: String,
}

/// Check and clean a client's file name.
///
/// # Errors
/// [`NameError`] when the name carries a path, is empty, or is only dots.
pub fn safe_file_name(raw: &str) -> Result<String, NameError> {
    let refuse = |en: &str, zh: &str| NameError {
        zh: format!("{zh}：{raw:?}"),
        en: format!("{en}: {raw:?}"),
    };
    if raw.contains('/') || raw.contains('\\') {
        return Err(refuse(
            "file names must not contain a path",
            "文件名不得包含路径",
        ));
    }
    if raw.chars().any(char::is_control) {
        return Err(refuse(
            "file names must not contain control characters",
            "文件名不得包含控制字符",
        ));
    }
    let cleaned: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '(' | ')' | '（' | '）' | ' ')
            {
                c
            } else {
                '_'
            }
        })
        .take(MAX_NAME_CHARS)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_owned();
    if cleaned.is_empty() || raw.split('.').all(str::is_empty) || raw.contains("..") {
        return Err(refuse("not a usable file name", "文件名无效"));
    }
    Ok(cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(safe_file_name("浙江 9月.csv").unwrap(), "浙江 9月.csv");
        assert_eq!(safe_file_name("a;b$c.csv").unwrap(), "a_b_c.csv");
        assert_eq!(safe_file_name(".hidden.csv").unwrap(), "hidden.csv");
        for bad in [
            "../../etc/passwd",
            "..",
            ".",
            "",
            "a/b.csv",
            "C:\\x\\y.csv",
            "a\0.csv",
            "x..csv",
            "\n",
        ] {
            assert!(safe_file_name(bad).is_err(), "{bad:?}");
        }
        let long = "长".repeat(500) + ".csv";
        assert_eq!(
            safe_file_name(&long).unwrap().chars().count(),
            MAX_NAME_CHARS
        );
    }
}
