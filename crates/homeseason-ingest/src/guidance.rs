//! What a liaison reads when a file's header does not fit: for each missing column the closest header
//! the file has and the spellings that are accepted; for a file whose feed cannot be told, the headers
//! each feed expects. Every message is whole in Chinese and whole in English.

use homeseason_schema::contract::{Field, TableContract, normalize_header};

use crate::{Feed, IngestError};

/// Spellings listed per field before `…`.
const SHOWN_SPELLINGS: usize = 8;

/// Bag of characters and character pairs of a header, for [`similarity`].
fn grams(key: &str) -> Vec<String> {
    let chars: Vec<char> = key.chars().collect();
    let mut out: Vec<String> = chars.iter().map(char::to_string).collect();
    out.extend(chars.windows(2).map(|w| w.iter().collect::<String>()));
    out
}

/// A header without its trailing bracketed unit, normalised: `零售额（万元）` → `零售额`.
fn bare_key(header: &str) -> String {
    let key = normalize_header(header);
    match key.rfind(['(', '[']) {
        Some(i) if i > 0 && (key.ends_with(')') || key.ends_with(']')) => key[..i].to_owned(),
        _ => key,
    }
}

/// Dice coefficient of the character and character-pair bags of two headers (0 … 1).
fn similarity(a: &str, b: &str) -> f64 {
    let (ga, mut gb) = (grams(&bare_key(a)), grams(&bare_key(b)));
    if ga.is_empty() || gb.is_empty() {
        return 0.0;
    }
    let total = (ga.len() + gb.len()) as f64;
    let mut common = 0usize;
    for g in &ga {
        if let Some(i) = gb.iter().position(|x| x == g) {
            gb.swap_remove(i);
            common += 1;
        }
    }
    2.0 * common as f64 / total
}

/// The header among `candidates` most like one of the field's spellings, if any is close enough.
fn closest<'a>(field: &Field, candidates: &'a [String]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| {
            let score = field
                .header_spellings()
                .map(|s| similarity(c, s))
                .fold(0.0, f64::max);
            (c, score)
        })
        .filter(|(_, s)| *s >= 0.4)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c.as_str())
}

/// The accepted spellings of a field: its Chinese title, its aliases (Chinese first), name and title.
fn spellings(field: &Field, sep: &str) -> String {
    let mut all: Vec<&str> = Vec::new();
    let is_cjk = |s: &&str| s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    let chinese = field.aliases.iter().map(String::as_str).filter(is_cjk);
    let other = field
        .aliases
        .iter()
        .map(String::as_str)
        .filter(|s| !is_cjk(s));
    for s in std::iter::once(field.title_zh.as_str())
        .chain(chinese)
        .chain([field.name.as_str(), field.title.as_str()])
        .chain(other)
    {
        if !s.is_empty() && !all.contains(&s) {
            all.push(s);
        }
    }
    let more = all.len() > SHOWN_SPELLINGS;
    let mut text = all[..all.len().min(SHOWN_SPELLINGS)].join(sep);
    if more {
        text.push_str(" …");
    }
    text
}

/// The required field named by an entry of `missing` (`"name (title_zh)"` or `"name"`).
fn field_of<'a>(contract: &'a TableContract, entry: &str) -> Option<&'a Field> {
    let name = entry.split_once(" (").map_or(entry, |(n, _)| n).trim();
    contract.field(name)
}

/// [`IngestError::MissingColumns`] with its guidance: for each missing field (entries
/// `"name (title_zh)"`) the closest header of `found` that names no field, and the accepted spellings.
pub fn missing_columns(
    file: &str,
    contract: &TableContract,
    missing: Vec<String>,
    found: Vec<String>,
) -> IngestError {
    let unmapped: Vec<String> = found
        .iter()
        .filter(|h| contract.resolve_header(h).is_none())
        .cloned()
        .collect();
    let mut zh = Vec::new();
    let mut en = Vec::new();
    for entry in &missing {
        let Some(field) = field_of(contract, entry) else {
            zh.push(format!("未找到 {entry}"));
            en.push(format!("no column for {entry}"));
            continue;
        };
        let near = closest(field, &unmapped);
        let (near_zh, near_en) = near.map_or_else(
            || {
                (
                    "文件中没有相近的表头".to_owned(),
                    "no header in the file is close".to_owned(),
                )
            },
            |h| {
                (
                    format!("最接近的表头是 {h}"),
                    format!("the closest header is {h}"),
                )
            },
        );
        zh.push(format!(
            "未找到 {}（{}）；{near_zh}，可接受：{}",
            field.title_zh,
            field.name,
            spellings(field, "、")
        ));
        en.push(format!(
            "no column for {} ({}); {near_en}; accepted: {}",
            field.title,
            field.name,
            spellings(field, ", ")
        ));
    }
    let (header_zh, header_en) = header_list(&found);
    let message_zh = format!(
        "文件 {file} 缺少必填列（{}）。{}。文件中的表头：{header_zh}",
        contract.title_zh,
        zh.join("。")
    );
    let message_en = format!(
        "file {file}: required columns of {} missing. {}. Header found: {header_en}",
        contract.title.to_lowercase(),
        en.join(". ")
    );
    IngestError::MissingColumns {
        file: file.to_owned(),
        missing,
        found,
        message_zh,
        message_en,
    }
}

/// Required input fields of a feed that `headers` do not name (defaults excluded).
fn missing_for(feed: Feed, headers: &[String]) -> Vec<&'static Field> {
    let contract = feed.contract();
    contract
        .required_fields()
        .filter(|f| !f.derived)
        .filter(|f| !feed.column_defaults().iter().any(|(d, _)| *d == f.name))
        .filter(|f| {
            !headers
                .iter()
                .any(|h| contract.resolve_header(h).is_some_and(|r| r.name == f.name))
        })
        .collect()
}

/// [`IngestError::UnknownFeed`] with the headers each feed expects and, for each, which this file lacks.
/// `headers` is the file's header as found (empty when it could not be read).
pub(crate) fn unknown_feed(file: &str, headers: &[String]) -> IngestError {
    let mut zh = Vec::new();
    let mut en = Vec::new();
    for feed in Feed::ALL {
        let contract = feed.contract();
        let option = feed.id().replace('_', "-");
        let required: Vec<&Field> = contract
            .required_fields()
            .filter(|f| !f.derived)
            .filter(|f| !feed.column_defaults().iter().any(|(d, _)| *d == f.name))
            .collect();
        let missing = missing_for(feed, headers);
        let names_zh: Vec<&str> = required.iter().map(|f| f.title_zh.as_str()).collect();
        let names_en: Vec<&str> = required.iter().map(|f| f.name.as_str()).collect();
        let lack_zh: Vec<&str> = missing.iter().map(|f| f.title_zh.as_str()).collect();
        let lack_en: Vec<&str> = missing.iter().map(|f| f.name.as_str()).collect();
        zh.push(format!(
            "{}（--feed {option}）需要：{}；本文件缺：{}",
            contract.title_zh,
            names_zh.join("、"),
            lack_zh.join("、")
        ));
        en.push(format!(
            "{} (--feed {option}) needs: {}; this file lacks: {}",
            contract.title.to_lowercase(),
            names_en.join(", "),
            lack_en.join(", ")
        ));
    }
    let (found_zh, found_en) = header_list(headers);
    IngestError::UnknownFeed {
        file: file.to_owned(),
        message_zh: format!(
            "文件 {file}：无法根据表头识别数据类型（表头：{found_zh}）。各数据类型需要的表头——{}。请按模板改表头，或用 --feed 指定数据类型",
            zh.join("；")
        ),
        message_en: format!(
            "file {file}: cannot tell which feed this file is from its header (header: {found_en}). Headers each feed expects — {}. Rename the headers as in the template, or name the feed with --feed",
            en.join("; ")
        ),
    }
}

/// A file's headers as the messages list them: (Chinese, English), `（空）` / `(none)` when it has
/// none.
fn header_list(headers: &[String]) -> (String, String) {
    if headers.is_empty() {
        return ("（空）".to_owned(), "(none)".to_owned());
    }
    (headers.join("、"), headers.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_header_and_spellings() {
        let contract = Feed::EnterpriseSales.contract();
        let field = contract.field("sales_amount_yuan").unwrap();
        let found = vec!["商品零售金额（万元）".to_owned(), "企业名称".to_owned()];
        assert_eq!(closest(field, &found), Some("商品零售金额（万元）"));
        assert_eq!(closest(field, &["备注".to_owned()]), None);
        assert!(spellings(field, "、").starts_with("销售额、"));
    }
}
