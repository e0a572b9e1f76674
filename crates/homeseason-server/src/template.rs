//! Blank CSV templates for liaisons, built from the data contracts (Chinese headers, UTF-8 with a BOM
//! so Excel opens it correctly).

use homeseason_ingest::Feed;

/// The template of a feed: one header line of the Chinese titles of the fields a file supplies.
#[must_use]
pub fn csv_template(feed: Feed) -> Vec<u8> {
    let headers: Vec<&str> = feed
        .contract()
        .input_fields()
        .map(|f| f.title_zh.as_str())
        .collect();
    let mut out = b"\xEF\xBB\xBF".to_vec();
    out.extend_from_slice(headers.join(",").as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_resolve_to_their_feed() {
        for feed in Feed::ALL {
            let bytes = csv_template(feed);
            let text = std::str::from_utf8(&bytes[3..]).unwrap();
            let headers: Vec<&str> = text.trim_end().split(',').collect();
            assert_eq!(Feed::detect(&headers), Some(feed), "{text}");
        }
    }
}
