//! Realistic fake data shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use chrono::NaiveDate;
use homeseason_charts::{Bar, BarChart, Heatmap, ImpactChart, SeriesChart, TileMap};

/// (code, short name, full name)
pub const REGIONS: [(&str, &str, &str); 37] = [
    ("110000", "北京", "北京市"),
    ("120000", "天津", "天津市"),
    ("130000", "河北", "河北省"),
    ("140000", "山西", "山西省"),
    ("150000", "内蒙古", "内蒙古自治区"),
    ("210000", "辽宁", "辽宁省"),
    ("220000", "吉林", "吉林省"),
    ("230000", "黑龙江", "黑龙江省"),
    ("310000", "上海", "上海市"),
    ("320000", "江苏", "江苏省"),
    ("330000", "浙江", "浙江省"),
    ("340000", "安徽", "安徽省"),
    ("350000", "福建", "福建省"),
    ("360000", "江西", "江西省"),
    ("370000", "山东", "山东省"),
    ("410000", "河南", "河南省"),
    ("420000", "湖北", "湖北省"),
    ("430000", "湖南", "湖南省"),
    ("440000", "广东", "广东省"),
    ("450000", "广西", "广西壮族自治区"),
    ("460000", "海南", "海南省"),
    ("500000", "重庆", "重庆市"),
    ("510000", "四川", "四川省"),
    ("520000", "贵州", "贵州省"),
    ("530000", "云南", "云南省"),
    ("540000", "西藏", "西藏自治区"),
    ("610000", "陕西", "陕西省"),
    ("620000", "甘肃", "甘肃省"),
    ("630000", "青海", "青海省"),
    ("640000", "宁夏", "宁夏回族自治区"),
    ("650000", "新疆", "新疆维吾尔自治区"),
    ("210200", "大连", "大连市"),
    ("370200", "青岛", "青岛市"),
    ("330200", "宁波", "宁波市"),
    ("350200", "厦门", "厦门市"),
    ("440300", "深圳", "深圳市"),
    ("XPCC", "兵团", "新疆生产建设兵团"),
];

pub const CATEGORIES: [&str; 4] = [
    "家电 Home appliances",
    "家具 Furniture",
    "家纺 Home textiles",
    "建材家装 Building & decor",
];

/// Deterministic noise in [-1, 1).
pub fn noise(a: u64, b: u64) -> f64 {
    let mut x = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    (x >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

pub fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

pub fn uplift(region: usize, cat: usize) -> f64 {
    let base = [9.0, 6.0, 3.5, 5.0][cat];
    base + 8.0 * noise(region as u64, cat as u64 + 7)
}

pub fn series_chart() -> SeriesChart {
    let mut c = SeriesChart::new(
        "浙江省 · 家电  Zhejiang · Home appliances",
        "销售额 Sales (万元)",
    );
    let start = d(2023, 5, 1);
    for (i, date) in start.iter_days().take(214).enumerate() {
        let t = i as f64;
        let weekly = if date.format("%u").to_string().parse::<u32>().unwrap() >= 6 {
            1.07
        } else {
            1.0
        };
        let base = (12_500.0 + 9.0 * t) * weekly;
        let in_window = date >= d(2023, 7, 28) && date <= d(2023, 9, 30);
        let lift = if in_window {
            1.0 + 0.12 * (1.0 - ((t - 120.0) / 80.0).powi(2)).max(0.3)
        } else {
            1.0
        };
        let actual = base * lift * (1.0 + 0.025 * noise(i as u64, 1));
        c.actual.push((date, actual));
        c.baseline.push((date, base));
        let w = base * (0.035 + 0.0003 * (t - 88.0).max(0.0));
        c.band.push((date, base - w, base + w));
    }
    c.window = Some((d(2023, 7, 28), d(2023, 9, 30)));
    c
}

pub fn bar_chart() -> BarChart {
    let bars = REGIONS
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let v = uplift(i, 0) + 2.0 * noise(i as u64, 99);
            let w = 2.0 + 2.5 * (noise(i as u64, 5) + 1.0);
            Bar::with_interval(r.2, v, v - w, v + w * 1.1)
        })
        .collect();
    BarChart::new(
        "各地区家电消费提升（活动期 vs 基线） Home-appliance uplift by region",
        "提升 Uplift (%)",
        bars,
    )
}

pub fn heatmap() -> Heatmap {
    let rows = REGIONS.iter().map(|r| r.2.to_string()).collect();
    let cols = CATEGORIES
        .iter()
        .map(std::string::ToString::to_string)
        .collect();
    let values = (0..REGIONS.len())
        .map(|i| {
            (0..4)
                .map(|j| {
                    if (i == 25 && j == 3) || (i == 36 && j >= 2) {
                        None
                    } else {
                        Some(uplift(i, j))
                    }
                })
                .collect()
        })
        .collect();
    Heatmap::new(
        "地区 × 品类 提升  Uplift by region × category",
        rows,
        cols,
        values,
        "提升 Uplift (%)",
    )
}

pub fn impact_chart() -> ImpactChart {
    let start = d(2023, 5, 1);
    let post = d(2023, 7, 28);
    let mut dates = Vec::new();
    let (mut obs, mut pred, mut lo, mut hi) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, date) in start.iter_days().take(160).enumerate() {
        let t = i as f64;
        let p = 3_200.0 + 4.0 * t + 260.0 * (t * std::f64::consts::TAU / 7.0).sin();
        let eff = if date >= post { 0.09 * p } else { 0.0 };
        let o = p + eff + 90.0 * noise(i as u64, 3);
        let w = 160.0
            + if date >= post {
                3.0 * (date - post).num_days() as f64
            } else {
                0.0
            };
        dates.push(date);
        obs.push(o);
        pred.push(p);
        lo.push(p - w);
        hi.push(p + w);
    }
    ImpactChart::new(
        "江苏省 · 家具 活动效应  Jiangsu · Furniture campaign impact",
        "销售额 Sales (万元)",
        dates,
        obs,
        pred,
        lo,
        hi,
        post,
    )
}

pub fn tile_map() -> TileMap {
    let values = REGIONS
        .iter()
        .enumerate()
        .map(|(i, r)| {
            (
                r.0.to_string(),
                r.1.to_string(),
                if i == 25 { None } else { Some(uplift(i, 0)) },
            )
        })
        .collect();
    TileMap::new(
        "家电消费提升 地区分布  Home-appliance uplift by region",
        "提升 Uplift (%)",
        values,
    )
}
