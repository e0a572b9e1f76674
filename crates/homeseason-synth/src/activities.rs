//! Feed 5: the key-activity list (重点活动表) each region reports.

use std::collections::BTreeSet;

use chrono::{Datelike, Duration, NaiveDate};
use homeseason_schema::region::RegionLevel;

use crate::geo::{geo, max_weight};
use crate::latent::Latent;
use crate::output::{Out, csv_bytes, csv_writer};
use crate::rng::{Stream, stream};
use crate::{SynthConfig, SynthError};

/// Header of the activity files.
pub(crate) const HEADER: [&str; 13] = [
    "活动编号",
    "地区",
    "活动名称",
    "活动类型",
    "开始日期",
    "结束日期",
    "举办地点",
    "主办单位",
    "参与企业数",
    "参与品牌数",
    "重点方向",
    "线上/线下",
    "地方站",
];

/// Activity types with (min days, max days, online probability, name templates; {c} = city, {s} = the
/// campaign's short name).
const TYPES: [(&str, i64, i64, f64, &[&str]); 8] = [
    (
        "购物节",
        7,
        30,
        0.15,
        &[
            "{c}{s}购物节",
            "{c}金秋家装购物节",
            "{c}“焕新家”消费节",
            "{c}家电家居惠民购物月",
        ],
    ),
    (
        "嘉年华",
        2,
        5,
        0.0,
        &["{c}{s}嘉年华", "{c}智能家电嘉年华", "{c}家装建材嘉年华"],
    ),
    (
        "家电下乡",
        30,
        60,
        0.0,
        &["{c}绿色智能家电下乡活动", "{c}家电下乡进万家"],
    ),
    (
        "家居下乡",
        30,
        60,
        0.0,
        &["{c}家居产品下乡惠民行动", "{c}{s}进乡村"],
    ),
    (
        "直播电商节",
        1,
        7,
        1.0,
        &[
            "{c}家居直播电商节",
            "{c}“焕新家”直播带货周",
            "{c}家电家居直播季",
        ],
    ),
    (
        "设计大赛",
        30,
        60,
        0.3,
        &[
            "{c}家居设计创新大赛",
            "{c}适老化家居设计大赛",
            "{c}智能家居设计挑战赛",
        ],
    ),
    (
        "技能大赛",
        1,
        3,
        0.0,
        &[
            "{c}家装职业技能大赛",
            "{c}家电维修技能竞赛",
            "{c}定制家居安装技能比武",
        ],
    ),
    (
        "展会",
        3,
        5,
        0.1,
        &["{c}国际家居博览会", "{c}建材家居展览会", "{c}智能家电展"],
    ),
];
const TYPE_WEIGHTS: [f64; 8] = [0.26, 0.12, 0.10, 0.08, 0.16, 0.08, 0.08, 0.12];
const VENUES: [&str; 7] = [
    "国际会展中心",
    "市民广场",
    "家居建材城",
    "购物中心",
    "步行街",
    "体育中心",
    "家居卖场",
];
const DIRECTIONS: [&str; 3] = ["绿色", "智能", "适老化"];

struct Activity {
    name: String,
    kind: &'static str,
    start: NaiveDate,
    end: NaiveDate,
    place: String,
    host: String,
    firms: i64,
    brands: i64,
    directions: String,
    online: bool,
    local_station: bool,
}

fn host(s: &mut Stream, region: &homeseason_schema::region::Region, city: &str) -> String {
    let provincial = match region.level {
        RegionLevel::Province if region.name_zh.ends_with('市') => {
            format!("{}商务局", region.name_zh)
        }
        RegionLevel::Province => format!("{}商务厅", region.name_zh),
        RegionLevel::PlanCity => format!("{}商务局", region.name_zh),
        RegionLevel::Corps => "新疆生产建设兵团商务局".to_owned(),
    };
    match s.below(4) {
        0 | 1 => provincial,
        2 => format!("{city}市人民政府"),
        _ => format!("{city}市商务局、{city}市家居行业协会"),
    }
}

fn directions(s: &mut Stream) -> String {
    loop {
        let picked: Vec<&str> = DIRECTIONS
            .iter()
            .filter(|_| s.chance(0.5))
            .copied()
            .collect();
        if !picked.is_empty() {
            return picked.join(";");
        }
    }
}

/// The activity types of countryside-sales events (下乡), which lift rural sales
/// ([`crate::urban_rural`]).
pub(crate) const COUNTRYSIDE_KINDS: [&str; 2] = ["家电下乡", "家居下乡"];

/// Per region (the latent's order), the days (start, end, inclusive) of its countryside-sales
/// events, from the same register [`write`] writes.
pub(crate) fn countryside_spans(
    cfg: &SynthConfig,
    lat: &Latent,
) -> Vec<Vec<(NaiveDate, NaiveDate)>> {
    register(cfg, lat)
        .iter()
        .map(|list| {
            list.iter()
                .filter(|a| COUNTRYSIDE_KINDS.contains(&a.kind))
                .map(|a| (a.start, a.end))
                .collect()
        })
        .collect()
}

/// Every region's activities (the latent's region order), sorted by start, end and name.
fn register(cfg: &SynthConfig, lat: &Latent) -> Vec<Vec<Activity>> {
    let mut all = Vec::with_capacity(lat.regions.len());
    let window = cfg.campaign.window;
    let wdays = window.days();
    let year = window.start.year();
    let mut type_cum = Vec::new();
    let mut acc = 0.0;
    for w in TYPE_WEIGHTS {
        acc += w;
        type_cum.push(acc);
    }
    for (r, region) in lat.regions.iter().enumerate() {
        let code = region.code.as_str();
        let g = geo(code);
        let city = g.city;
        let mut s = stream(cfg.seed, &["activities", code]);
        let n = (5.0 + 25.0 * g.weight / max_weight())
            .round()
            .clamp(5.0, 30.0) as i64;
        let mut list = Vec::new();
        let mut names = BTreeSet::new();
        if let Some(ev) = lat.local[r] {
            let name = format!("{year}{}·{}站", cfg.campaign.name_zh, region.short_zh);
            names.insert(name.clone());
            list.push(Activity {
                name,
                kind: "购物节",
                start: ev.start,
                end: ev.end,
                place: format!("{city}市{}", VENUES[0]),
                host: host(&mut s, region, city),
                firms: s.range_incl(120, 600),
                brands: 0,
                directions: "绿色;智能;适老化".to_owned(),
                online: false,
                local_station: true,
            });
        }
        while i64::try_from(list.len()).unwrap_or(0) < n {
            let (kind, min_d, max_d, p_online, templates) = TYPES[s.pick_cumulative(&type_cum)];
            let dur = s.range_incl(min_d, max_d).min(wdays);
            let start_off = s.range_incl(0, wdays - dur);
            let start = window.start + Duration::days(start_off);
            let end = start + Duration::days(dur - 1);
            let online = s.chance(p_online);
            let base = templates[s.below(templates.len())]
                .replace("{c}", city)
                .replace("{s}", cfg.campaign.short_name_zh());
            let mut name = format!("{year}{base}");
            let mut k = 2;
            while !names.insert(name.clone()) {
                name = format!("{year}{base}（第{k}期）");
                k += 1;
            }
            let place = if online {
                "线上平台".to_owned()
            } else {
                format!("{city}市{}", VENUES[s.below(VENUES.len())])
            };
            let firms = match kind {
                "技能大赛" | "设计大赛" => s.range_incl(10, 80),
                "展会" | "购物节" => s.range_incl(60, 500),
                _ => s.range_incl(20, 300),
            };
            list.push(Activity {
                name,
                kind,
                start,
                end,
                place,
                host: host(&mut s, region, city),
                firms,
                brands: 0,
                directions: directions(&mut s),
                online,
                local_station: false,
            });
        }
        for a in &mut list {
            let brands = (a.firms as f64 * s.uniform(1.0, 2.5)).round() as i64;
            a.brands = brands;
        }
        list.sort_by(|a, b| {
            a.start
                .cmp(&b.start)
                .then(a.end.cmp(&b.end))
                .then(a.name.cmp(&b.name))
        });
        all.push(list);
    }
    all
}

/// Write `activities/activities_<region_code>.csv`.
pub(crate) fn write(cfg: &SynthConfig, lat: &Latent, out: &mut Out<'_>) -> Result<(), SynthError> {
    let year = cfg.campaign.window.start.year();
    for (region, list) in lat.regions.iter().zip(register(cfg, lat)) {
        let code = region.code.as_str();
        let mut w = csv_writer();
        w.write_record(HEADER)
            .map_err(|e| SynthError::Csv(e.to_string()))?;
        for (i, a) in list.iter().enumerate() {
            w.write_record([
                format!("{code}-{year}-{:03}", i + 1).as_str(),
                region.name_zh.as_str(),
                &a.name,
                a.kind,
                &a.start.to_string(),
                &a.end.to_string(),
                &a.place,
                &a.host,
                &a.firms.to_string(),
                &a.brands.to_string(),
                &a.directions,
                if a.online { "线上" } else { "线下" },
                if a.local_station { "是" } else { "否" },
            ])
            .map_err(|e| SynthError::Csv(e.to_string()))?;
        }
        out.write(
            &format!("activities/activities_{code}.csv"),
            &csv_bytes(w)?,
            list.len(),
        )?;
    }
    Ok(())
}
