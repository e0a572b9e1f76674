//! The register of campaign activities (重点活动表) each region reports.
//!
//! Types, focus tags and yes/no flags are read by this feed's own keyword rules and by the
//! `enum_aliases`, `trueValues` and `falseValues` of `data-schemas/activities.json`. An activity id
//! repeated within a region with the same values is a duplicate, with other values a conflict the
//! lake settles (`docs/lake-write-model.md`); duplicates across re-submissions (the same activity in
//! two files) are removed when the register is summarised (`homeseason-metrics`' activity summary).

use homeseason_schema::contract::{self, Field, tables};
use homeseason_schema::region::Regions;
use polars::prelude::*;

use crate::Result;
use crate::frame_util::{Cells, perr};
use crate::parse;
use crate::reject::{Reason, RejectSink};
use crate::table::MappedTable;

/// Activity types (the `type` enum of the contract).
pub(crate) const TYPES: [&str; 8] = [
    "shopping_festival",
    "carnival",
    "countryside_sales",
    "ecommerce_live_festival",
    "design_contest",
    "skills_contest",
    "trade_show",
    "other",
];

fn field(name: &str) -> Option<&'static Field> {
    contract::get(tables::ACTIVITIES)?.field(name)
}

/// Map a type as written (id, Chinese or English wording) to the contract enum.
#[must_use]
pub(crate) fn activity_type(raw: &str) -> Option<&'static str> {
    let t = parse::fold_width(raw).to_lowercase();
    if let Some(id) = TYPES.iter().find(|id| **id == t) {
        return Some(id);
    }
    if let Some(id) = field("type").and_then(|f| f.resolve_enum(&t)) {
        return TYPES.iter().find(|x| **x == id).copied();
    }
    let rules: [(&[&str], &str); 8] = [
        (&["直播", "电商", "live"], "ecommerce_live_festival"),
        (&["下乡", "countryside"], "countryside_sales"),
        (&["嘉年华", "carnival"], "carnival"),
        (&["设计", "design"], "design_contest"),
        (&["技能", "skills"], "skills_contest"),
        (
            &[
                "展会",
                "博览会",
                "家博会",
                "展销",
                "展览",
                "trade show",
                "expo",
                "fair",
            ],
            "trade_show",
        ),
        (
            &["购物节", "消费节", "促销", "shopping"],
            "shopping_festival",
        ),
        (&["其他", "other"], "other"),
    ];
    rules
        .iter()
        .find(|(keys, _)| keys.iter().any(|k| t.contains(k)))
        .map(|(_, id)| *id)
}

fn focus_tags(raw: Option<&str>) -> Option<String> {
    let Some(raw) = raw else {
        return Some(String::new());
    };
    let mut tags = Vec::new();
    for part in parse::fold_width(raw)
        .split([';', '；', ',', '，', '、', '/', ' '])
        .filter(|p| !p.is_empty())
    {
        let tag = match part.to_lowercase().as_str() {
            "绿色" | "green" => "green",
            "智能" | "smart" => "smart",
            "适老化" | "适老" | "age_friendly" | "age-friendly" => "age_friendly",
            other => match field("focus_tags").and_then(|f| f.resolve_enum(other))? {
                "green" => "green",
                "smart" => "smart",
                "age_friendly" => "age_friendly",
                _ => return None,
            },
        };
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    Some(tags.join(";"))
}

fn online(raw: Option<&str>) -> Option<bool> {
    match raw.map(|s| parse::fold_width(s).to_lowercase()).as_deref() {
        Some("线上" | "online" | "线上+线下" | "线上线下" | "线上线下结合") => {
            Some(true)
        }
        Some("线下" | "offline") | None => Some(false),
        Some(other) => flag("online", other),
    }
}

/// A yes/no cell: 是/否, Y/N, √/×, … (the contract's `trueValues`/`falseValues` too); blank is no.
fn flag(name: &str, raw: &str) -> Option<bool> {
    parse::yes_no(raw).or_else(|| field(name)?.parse_bool(raw))
}

fn count(cells: &Cells<'_>, sink: &mut RejectSink, row: usize, field: &'static str) -> Option<i64> {
    match cells.get(field, row) {
        None => Some(0),
        Some(v) => match parse::amount(v) {
            Some((n, None)) if n >= 0.0 && n.fract() == 0.0 => Some(n as i64),
            _ => {
                cells.reject(
                    sink,
                    row,
                    field,
                    Reason::BadNumber,
                    Some("非负整数 / a whole number ≥ 0"),
                );
                None
            }
        },
    }
}

/// Validate activity rows. Returns (frame, accepted, duplicates); an activity repeated with the same
/// values counts as a duplicate, one repeated with other values keeps both rows, for the lake to
/// settle as a conflict.
///
/// # Errors
/// Only on internal failures; bad rows are rejected.
pub(crate) fn register(
    table: &MappedTable,
    sink: &mut RejectSink,
) -> Result<(DataFrame, usize, usize)> {
    let cells = Cells::new(table)?;
    let regions = Regions::embedded();
    let mut ids: Vec<String> = Vec::new();
    let (mut region, mut name, mut kind, mut start, mut end) =
        (vec![], vec![], vec![], vec![], vec![]);
    let (mut venue, mut organizer, mut ents, mut brands, mut tags, mut on, mut local) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut lines, mut raws): (Vec<i64>, Vec<String>) = (vec![], vec![]);
    let mut duplicates = 0;
    let mut seen = std::collections::HashSet::new();
    for r in 0..cells.len() {
        if cells.skip_blank_or_total(sink, r, "activity_id") {
            continue;
        }
        let Some(id) = cells.required(sink, r, "activity_id") else {
            continue;
        };
        let Some(reg) = cells.region(sink, r, regions) else {
            continue;
        };
        let Some(n) = cells.required(sink, r, "name") else {
            continue;
        };
        let Some(t) = cells.parsed(
            sink,
            r,
            "type",
            activity_type,
            Reason::BadEnum,
            Some("购物节 | 嘉年华 | 下乡 | 直播电商节 | 设计大赛 | 技能大赛 | 展会 | 其他"),
        ) else {
            continue;
        };
        let date = |sink: &mut RejectSink, field| {
            cells.parsed(
                sink,
                r,
                field,
                parse::date,
                Reason::BadDate,
                Some("YYYY-MM-DD"),
            )
        };
        let Some(s) = date(sink, "start_date") else {
            continue;
        };
        let Some(e) = date(sink, "end_date") else {
            continue;
        };
        if s > e {
            cells.reject(sink, r, "end_date", Reason::BadDateRange, None);
            continue;
        }
        // One at a time: a row with both counts bad is one rejected row, not two (found by fuzzing).
        let Some(ec) = count(&cells, sink, r, "enterprise_count") else {
            continue;
        };
        let Some(bc) = count(&cells, sink, r, "brand_count") else {
            continue;
        };
        let Some(ft) = focus_tags(cells.get("focus_tags", r)) else {
            cells.reject(
                sink,
                r,
                "focus_tags",
                Reason::BadEnum,
                Some("绿色;智能;适老化"),
            );
            continue;
        };
        let Some(o) = online(cells.get("online", r)) else {
            cells.reject(sink, r, "online", Reason::BadBoolean, Some("线上 | 线下"));
            continue;
        };
        let Some(l) = flag(
            "local_station",
            cells.get("local_station", r).unwrap_or_default(),
        ) else {
            cells.reject(
                sink,
                r,
                "local_station",
                Reason::BadBoolean,
                Some("是 | 否"),
            );
            continue;
        };
        let id = parse::fold_width(id);
        // A repeat with the same values is a duplicate; with other values both rows go on, and
        // the lake settles the conflict by its policy (both rows in `rejects`).
        let values = format!(
            "{n:?}|{t:?}|{s:?}|{e:?}|{:?}|{:?}|{ec:?}|{bc:?}|{ft:?}|{o:?}|{l:?}",
            cells.get("venue", r),
            cells.get("organizer", r)
        );
        if !seen.insert((reg.code.clone(), id.clone(), values)) {
            duplicates += 1;
            continue;
        }
        ids.push(id);
        region.push(reg.code.clone());
        name.push(n.to_owned());
        kind.push(t);
        start.push(s);
        end.push(e);
        venue.push(cells.get("venue", r).map(str::to_owned));
        organizer.push(cells.get("organizer", r).map(str::to_owned));
        ents.push(ec);
        brands.push(bc);
        tags.push(ft);
        on.push(o);
        local.push(l);
        lines.push(i64::try_from(cells.line(r)).unwrap_or(i64::MAX));
        raws.push(cells.raw(r).to_owned());
    }
    let accepted = ids.len();
    let frame = df!(
        "activity_id" => ids,
        "region_code" => region,
        "name" => name,
        "type" => kind,
        "start_date" => start,
        "end_date" => end,
        "venue" => venue,
        "organizer" => organizer,
        "enterprise_count" => ents,
        "brand_count" => brands,
        "focus_tags" => tags,
        "online" => on,
        "local_station" => local,
        crate::ORIGIN_LINE => lines,
        crate::ORIGIN_RAW => raws,
    )
    .map_err(perr(sink.file()))?;
    Ok((frame, accepted, duplicates))
}
