//! Feed 3: monthly sales of key enterprises, one file per region, in Chinese; in about half the
//! regions with the optional subcategory and theme columns (`crate::themes`).

use std::collections::BTreeSet;

use homeseason_schema::category::Category;
use homeseason_schema::uscc;

use crate::geo::{counties, geo};
use crate::latent::Latent;
use crate::model::{MCCS, cat_index};
use crate::output::{Out, csv_bytes_in, csv_writer, fixed};
use crate::rng::{Stream, stream};
use crate::{SynthConfig, SynthError};

/// Header of the enterprise files.
pub(crate) const HEADER: [&str; 9] = [
    "统一社会信用代码",
    "企业名称",
    "地区",
    "品类",
    "统计期",
    "销售额",
    "单位",
    "线上/线下",
    "品牌",
];

/// Enterprises per region at least (one per targeted category), and extra ones over 37 regions.
const EXTRA_PER_37: f64 = 52.0;

const SYLLABLES: [&str; 32] = [
    "美", "华", "鑫", "达", "恒", "盛", "泰", "安", "康", "瑞", "丰", "宏", "嘉", "信", "润", "源",
    "德", "佳", "优", "诚", "新", "立", "远", "联", "和", "欣", "锦", "顺", "尚", "雅", "正", "晟",
];
const SUFFIXES: [&str; 4] = ["有限公司", "股份有限公司", "商贸有限公司", "销售有限公司"];

fn category_words(c: Category) -> &'static [&'static str] {
    match c {
        Category::HomeAppliances => &["电器", "家电", "电子"],
        Category::Furniture => &["家具", "家居", "木业"],
        Category::HomeTextiles => &["家纺", "纺织品", "床上用品"],
        Category::BuildingMaterials => &["建材", "装饰材料", "陶瓷", "门窗", "家装"],
        _ => &["商贸"],
    }
}

/// Relative frequency of extra enterprises by category.
fn category_weight(c: Category) -> f64 {
    match c {
        Category::HomeAppliances => 0.35,
        Category::Furniture => 0.25,
        Category::HomeTextiles => 0.10,
        Category::BuildingMaterials => 0.30,
        _ => 0.1,
    }
}

/// A generated enterprise.
pub(crate) struct Enterprise {
    pub(crate) uscc: String,
    pub(crate) name: String,
    pub(crate) brand: String,
    pub(crate) category: Category,
    share: f64,
    channel_mode: ChannelMode,
    online_tilt: f64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ChannelMode {
    All,
    Split,
}

/// A valid USCC with the given six-digit division code.
pub(crate) fn make_uscc(s: &mut Stream, division: &str) -> String {
    let mut first17 = String::with_capacity(17);
    first17.push_str("91");
    first17.push_str(division);
    first17.push_str("MA");
    for _ in 0..7 {
        first17.push(char::from(uscc::ALPHABET[s.below(uscc::ALPHABET.len())]));
    }
    let check = uscc::check_char(&first17).unwrap_or('0');
    first17.push(check);
    first17
}

/// How many enterprises each region gets: one per targeted category plus extras by weight (largest
/// remainder), about 200 over the 37 regions.
fn allocation(lat: &Latent, ncat: usize) -> Vec<usize> {
    let n = lat.regions.len();
    let extra_total = (EXTRA_PER_37 * n as f64 / 37.0).round() as usize;
    let weights: Vec<f64> = lat.regions.iter().map(|r| geo(&r.code).weight).collect();
    let total: f64 = weights.iter().sum();
    let quotas: Vec<f64> = weights
        .iter()
        .map(|w| extra_total as f64 * w / total.max(1e-9))
        .collect();
    let mut counts: Vec<usize> = quotas.iter().map(|q| q.floor() as usize).collect();
    let mut left = extra_total - counts.iter().sum::<usize>();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        (quotas[b] - quotas[b].floor())
            .total_cmp(&(quotas[a] - quotas[a].floor()))
            .then(a.cmp(&b))
    });
    for &i in &order {
        if left == 0 {
            break;
        }
        counts[i] += 1;
        left -= 1;
    }
    counts.iter().map(|c| c + ncat).collect()
}

/// The enterprises of every region, in region order.
pub(crate) fn enterprises(cfg: &SynthConfig, lat: &Latent) -> Vec<Vec<Enterprise>> {
    let targeted = &cfg.campaign.categories.targeted;
    let counts = allocation(lat, targeted.len());
    let mut cum = Vec::new();
    let mut acc = 0.0;
    for &c in targeted {
        acc += category_weight(c);
        cum.push(acc);
    }
    lat.regions
        .iter()
        .zip(counts)
        .map(|(region, count)| {
            let code: &'static str = region.code.as_str();
            let g = geo(code);
            let division = if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
                code
            } else {
                counties(code)[0]
            };
            let mut s = stream(cfg.seed, &["enterprise", code]);
            let mut names = BTreeSet::new();
            let mut brands = BTreeSet::new();
            (0..count)
                .map(|i| {
                    let category = if i < targeted.len() {
                        targeted[i]
                    } else {
                        targeted[s.pick_cumulative(&cum)]
                    };
                    let words = category_words(category);
                    let name = loop {
                        let name = format!(
                            "{}{}{}{}{}",
                            g.city,
                            SYLLABLES[s.below(SYLLABLES.len())],
                            SYLLABLES[s.below(SYLLABLES.len())],
                            words[s.below(words.len())],
                            SUFFIXES[s.below(SUFFIXES.len())]
                        );
                        if names.insert(name.clone()) {
                            break name;
                        }
                    };
                    let brand = loop {
                        let b = format!(
                            "{}{}",
                            SYLLABLES[s.below(SYLLABLES.len())],
                            SYLLABLES[s.below(SYLLABLES.len())]
                        );
                        if brands.insert(b.clone()) {
                            break b;
                        }
                    };
                    let uscc = make_uscc(&mut s, division);
                    let share = s.uniform(0.01, 0.08);
                    let channel_mode = if s.chance(0.3) {
                        ChannelMode::Split
                    } else {
                        ChannelMode::All
                    };
                    let online_tilt = s.uniform(0.6, 1.4);
                    Enterprise {
                        uscc,
                        name,
                        brand,
                        category,
                        share,
                        channel_mode,
                        online_tilt,
                    }
                })
                .collect()
        })
        .collect()
}

/// Write `enterprise_sales/enterprise_sales_<region_code>.csv`.
pub(crate) fn write(
    cfg: &SynthConfig,
    lat: &Latent,
    all: &[Vec<Enterprise>],
    yuan_regions: &[String],
    gb18030_regions: &[String],
    out: &mut Out<'_>,
) -> Result<(), SynthError> {
    let months: Vec<_> = lat.months().into_iter().filter(|m| m.full).collect();
    let mut truth = crate::themes::Truth::default();
    for (r, (region, list)) in lat.regions.iter().zip(all).enumerate() {
        let mut s = stream(cfg.seed, &["enterprise-sales", &region.code]);
        let yuan = yuan_regions.contains(&region.code);
        // About half the regions report subcategory and themes (crate::themes).
        let tagged = crate::themes::region_has_tags(cfg.seed, &region.code);
        let mut w = csv_writer();
        let mut header: Vec<&str> = HEADER.to_vec();
        if tagged {
            header.extend(crate::themes::HEADERS);
        }
        w.write_record(&header)
            .map_err(|e| SynthError::Csv(e.to_string()))?;
        let mut rows = 0;
        for e in list {
            let c = cat_index(e.category);
            let tags = tagged.then(|| crate::themes::tags_of(cfg.seed, e));
            let (sub_cell, theme_cell) = tags
                .as_ref()
                .map(crate::themes::Tags::cells)
                .unwrap_or_default();
            for month in &months {
                let in_window = lat.days[month.first].date >= cfg.campaign.window.start
                    && lat.days[month.end - 1].date <= cfg.campaign.window.end;
                let mut total = 0.0;
                let mut online = 0.0;
                for d in month.first..month.end {
                    for (mi, m) in MCCS.iter().enumerate() {
                        if cat_index(m.category) == c {
                            let x = lat.x(r, mi, d);
                            total += x;
                            online += x * lat.online_share(mi, d);
                        }
                    }
                }
                let sales = e.share * total * s.lognormal_mean(1.0, 0.05);
                let on_share = ((online / total.max(1.0)).max(0.05) * e.online_tilt).min(0.9);
                let parts: Vec<(&str, f64)> = match e.channel_mode {
                    ChannelMode::All => vec![("全部", sales)],
                    ChannelMode::Split => vec![
                        ("线上", sales * on_share),
                        ("线下", sales * (1.0 - on_share)),
                    ],
                };
                for (channel, v) in parts {
                    let (value, unit) = if yuan {
                        (v, "元")
                    } else {
                        (v / 10_000.0, "万元")
                    };
                    let (written, label) = (fixed(value, 2), month.label());
                    let mut record = vec![
                        e.uscc.as_str(),
                        e.name.as_str(),
                        region.name_zh.as_str(),
                        e.category.name_zh(),
                        &label,
                        &written,
                        unit,
                        channel,
                        e.brand.as_str(),
                    ];
                    if let Some(tags) = &tags {
                        record.push(&sub_cell);
                        record.push(&theme_cell);
                        if in_window {
                            let factor = if yuan { 1.0 } else { 10_000.0 };
                            let amount = written.parse::<f64>().unwrap_or(0.0) * factor;
                            truth.add(&region.code, e, tags, amount);
                        }
                    }
                    w.write_record(&record)
                        .map_err(|e| SynthError::Csv(e.to_string()))?;
                    rows += 1;
                }
            }
        }
        let bytes = csv_bytes_in(w, gb18030_regions.contains(&region.code))?;
        out.write(
            &format!("enterprise_sales/enterprise_sales_{}.csv", region.code),
            &bytes,
            rows,
        )?;
    }
    truth.write(out)
}
