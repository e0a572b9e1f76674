//! Text people type: one rule for full-width characters, shared by header matching, region names and
//! the value parsers.

/// Half-width of one character: full-width ASCII (U+FF01–U+FF5E: digits, letters, punctuation) to
/// ASCII, the ideographic space U+3000 to a space; every other character unchanged.
#[must_use]
pub fn half_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// Whether a value is an institution code: `[a-z0-9_]{1,32}`. The code names the lake's
/// `institution=` folders and txn-index folders, so anything else (`..`, `/`, `\`, NUL, `%2e`, a
/// full-width solidus …) is rejected before it could become a path.
#[must_use]
pub fn is_institution_code(value: &str) -> bool {
    (1..=32).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::half_width;

    #[test]
    fn folds_full_width_ascii_and_the_ideographic_space() {
        let folded: String = "１２，３４５．６７ＡＢｃ！\u{3000}元"
            .chars()
            .map(half_width)
            .collect();
        assert_eq!(folded, "12,345.67ABc! 元");
    }
}
