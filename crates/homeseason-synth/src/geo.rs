//! Per-region facts the generator invents: size weight, main city and a few county-level codes.

/// What the generator knows about one reporting region.
pub(crate) struct Geo {
    /// Region key (six digits or `XPCC`).
    pub(crate) code: &'static str,
    /// Size weight, roughly 2022 GDP in trillion yuan (provinces net of their plan cities).
    pub(crate) weight: f64,
    /// Main city, without 市 (used in company and activity names).
    pub(crate) city: &'static str,
    /// County-level (or, for cities without counties, prefecture-level) codes under the region, none
    /// under a plan city's prefix unless the region is that plan city.
    pub(crate) counties: &'static [&'static str],
}

macro_rules! g {
    ($code:literal, $w:literal, $city:literal, [$($c:literal),+]) => {
        Geo { code: $code, weight: $w, city: $city, counties: &[$($c),+] }
    };
}

const GEO: &[Geo] = &[
    g!(
        "110000",
        4.16,
        "北京",
        ["110101", "110102", "110105", "110106", "110108", "110114"]
    ),
    g!(
        "120000",
        1.63,
        "天津",
        ["120101", "120102", "120103", "120104", "120116"]
    ),
    g!(
        "130000",
        4.24,
        "石家庄",
        ["130102", "130104", "130105", "130203", "130602", "131003"]
    ),
    g!(
        "140000",
        2.56,
        "太原",
        ["140105", "140106", "140107", "140202", "140302"]
    ),
    g!(
        "150000",
        2.32,
        "呼和浩特",
        ["150102", "150105", "150203", "150602"]
    ),
    g!(
        "210000",
        2.05,
        "沈阳",
        ["210102", "210103", "210105", "210302", "210602"]
    ),
    g!(
        "220000",
        1.31,
        "长春",
        ["220102", "220104", "220202", "220302"]
    ),
    g!(
        "230000",
        1.59,
        "哈尔滨",
        ["230102", "230103", "230202", "230602"]
    ),
    g!(
        "310000",
        4.47,
        "上海",
        ["310101", "310104", "310105", "310112", "310115"]
    ),
    g!(
        "320000",
        12.29,
        "南京",
        ["320102", "320105", "320205", "320412", "320506", "320508"]
    ),
    g!(
        "330000",
        6.16,
        "杭州",
        [
            "330102", "330106", "330108", "330110", "330302", "330602", "330782"
        ]
    ),
    g!(
        "340000",
        4.50,
        "合肥",
        ["340102", "340104", "340202", "340302"]
    ),
    g!(
        "350000",
        4.52,
        "福州",
        ["350102", "350104", "350503", "350602"]
    ),
    g!(
        "360000",
        3.21,
        "南昌",
        ["360102", "360111", "360402", "360702"]
    ),
    g!(
        "370000",
        7.25,
        "济南",
        ["370102", "370103", "370302", "370602", "370705"]
    ),
    g!(
        "410000",
        6.13,
        "郑州",
        ["410102", "410105", "410302", "410702", "411102"]
    ),
    g!(
        "420000",
        5.37,
        "武汉",
        ["420102", "420106", "420111", "420502", "420602"]
    ),
    g!(
        "430000",
        4.87,
        "长沙",
        ["430102", "430104", "430202", "430302"]
    ),
    g!(
        "440000",
        9.66,
        "广州",
        ["440103", "440104", "440106", "440604", "441900", "442000"]
    ),
    g!(
        "450000",
        2.63,
        "南宁",
        ["450102", "450103", "450202", "450302"]
    ),
    g!(
        "460000",
        0.68,
        "海口",
        ["460105", "460106", "460108", "460202"]
    ),
    g!(
        "500000",
        2.91,
        "重庆",
        ["500101", "500103", "500105", "500106", "500112"]
    ),
    g!(
        "510000",
        5.67,
        "成都",
        ["510104", "510105", "510107", "510703", "511002"]
    ),
    g!("520000", 2.02, "贵阳", ["520102", "520103", "520302"]),
    g!(
        "530000",
        2.90,
        "昆明",
        ["530102", "530103", "530111", "530302"]
    ),
    g!("540000", 0.21, "拉萨", ["540102", "540103", "540202"]),
    g!(
        "610000",
        3.28,
        "西安",
        ["610102", "610103", "610113", "610302"]
    ),
    g!("620000", 1.12, "兰州", ["620102", "620103", "620502"]),
    g!("630000", 0.36, "西宁", ["630102", "630103", "630104"]),
    g!("640000", 0.51, "银川", ["640104", "640105", "640202"]),
    g!(
        "650000",
        1.43,
        "乌鲁木齐",
        ["650102", "650103", "650104", "650202"]
    ),
    g!(
        "210200",
        0.85,
        "大连",
        ["210202", "210203", "210204", "210211"]
    ),
    g!(
        "370200",
        1.49,
        "青岛",
        ["370202", "370203", "370211", "370212"]
    ),
    g!("330200", 1.57, "宁波", ["330203", "330205", "330212"]),
    g!(
        "350200",
        0.78,
        "厦门",
        ["350203", "350205", "350206", "350211"]
    ),
    g!(
        "440300",
        3.24,
        "深圳",
        ["440303", "440304", "440305", "440306"]
    ),
    g!(
        "XPCC",
        0.18,
        "石河子",
        ["659001", "659002", "659003", "659004"]
    ),
];

/// The facts for a region key. Unknown keys (a region added to the schema but not here) get a small
/// default so generation still works.
pub(crate) fn geo(code: &str) -> &'static Geo {
    static FALLBACK: Geo = Geo {
        code: "",
        weight: 1.0,
        city: "某",
        counties: &[],
    };
    GEO.iter().find(|g| g.code == code).unwrap_or(&FALLBACK)
}

/// Largest weight in the table.
pub(crate) fn max_weight() -> f64 {
    GEO.iter().map(|g| g.weight).fold(0.0, f64::max)
}

/// Sum of all weights in the table.
pub(crate) fn total_weight() -> f64 {
    GEO.iter().map(|g| g.weight).sum()
}

/// The county codes of a region; regions not in the table report under their own key.
pub(crate) fn counties(code: &'static str) -> Vec<&'static str> {
    let g = geo(code);
    if g.counties.is_empty() {
        vec![code]
    } else {
        g.counties.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use homeseason_schema::region::Regions;

    #[test]
    fn every_region_has_facts_and_counties_roll_up() {
        let regions = Regions::embedded();
        assert_eq!(GEO.len(), regions.all().len());
        for r in regions.all() {
            let g = geo(&r.code);
            assert_eq!(g.code, r.code);
            assert!(g.counties.len() >= 3);
            for c in g.counties {
                assert_eq!(regions.roll_up(c).unwrap().code, r.code, "{c}");
                assert_ne!(*c, r.code.as_str());
            }
        }
        let largest: Vec<&str> = {
            let mut v: Vec<&Geo> = GEO.iter().collect();
            v.sort_by(|a, b| b.weight.total_cmp(&a.weight));
            v.iter().take(4).map(|g| g.code).collect()
        };
        for c in ["440000", "320000", "370000", "330000"] {
            assert!(largest.contains(&c), "{largest:?}");
        }
        let smallest = GEO
            .iter()
            .min_by(|a, b| a.weight.total_cmp(&b.weight))
            .unwrap();
        assert_eq!(smallest.code, "XPCC");
    }
}
