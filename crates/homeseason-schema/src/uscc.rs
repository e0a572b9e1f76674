//! The unified social credit code (统一社会信用代码, GB 32100-2015).
//!
//! 18 characters from the alphabet `0-9 A-H J-N P-R T U W-Y` (no I, O, S, V, Z): registration authority
//! (1), entity type (1), administrative division (6), organisation code (9), check character (1). The
//! check character is `31 - (Σ value(cᵢ)·wᵢ mod 31)`, with 31 written as `0`, and weights
//! `wᵢ = 3^(i-1) mod 31`.

/// The 31 characters a USCC may use, in value order.
pub const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Why a USCC is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsccError {
    /// Not 18 characters long.
    #[error("USCC must have 18 characters, found {0} / 统一社会信用代码应为18位，实际{0}位")]
    Length(usize),
    /// A character outside the alphabet.
    #[error(
        "character {ch:?} at position {position} is not allowed / 第{position}位字符“{ch}”不合法"
    )]
    Character {
        /// 1-based position.
        position: usize,
        /// The character.
        ch: char,
    },
    /// The check character does not match.
    #[error(
        "check character should be {expected:?}, found {found:?} / 校验码应为“{expected}”，实际为“{found}”"
    )]
    Check {
        /// The character the first 17 imply.
        expected: char,
        /// The character given.
        found: char,
    },
}

fn value(c: char) -> Option<u32> {
    ALPHABET
        .iter()
        .position(|&a| char::from(a) == c)
        .and_then(|p| u32::try_from(p).ok())
}

/// The check character implied by the first 17 characters, or `None` if one is not in the alphabet.
#[must_use]
pub fn check_char(first17: &str) -> Option<char> {
    let mut sum = 0u32;
    let mut n = 0;
    for (c, w) in first17.chars().zip(WEIGHTS) {
        sum += value(c)? * w;
        n += 1;
    }
    if n != 17 {
        return None;
    }
    let idx = (31 - sum % 31) % 31;
    Some(char::from(ALPHABET[idx as usize]))
}

/// Validate a USCC (upper-cased and trimmed by the caller, or as given).
///
/// # Errors
/// The first problem found, naming the expected check character when only that is wrong.
pub fn validate(code: &str) -> Result<(), UsccError> {
    let chars: Vec<char> = code.chars().collect();
    if chars.len() != 18 {
        return Err(UsccError::Length(chars.len()));
    }
    for (i, &c) in chars.iter().enumerate() {
        if value(c).is_none() {
            return Err(UsccError::Character {
                position: i + 1,
                ch: c,
            });
        }
    }
    let first17: String = chars[..17].iter().collect();
    let expected = check_char(&first17).ok_or(UsccError::Length(chars.len()))?;
    if expected == chars[17] {
        Ok(())
    } else {
        Err(UsccError::Check {
            expected,
            found: chars[17],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes() {
        // Published codes of well-known companies.
        for code in [
            "91350100M000100Y43",
            "91110000600037341L",
            "914403001922038216",
        ] {
            assert_eq!(validate(code), Ok(()), "{code}");
        }
        assert_eq!(
            validate("91350100M000100Y44"),
            Err(UsccError::Check {
                expected: '3',
                found: '4'
            })
        );
        assert!(matches!(
            validate("91350100M000100Y4"),
            Err(UsccError::Length(17))
        ));
        assert!(matches!(
            validate("91350100M000100YI3"),
            Err(UsccError::Character { position: 17, .. })
        ));
    }
}
