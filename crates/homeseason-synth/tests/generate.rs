//! End-to-end tests: a small configuration run twice, and one full default run checked feed by feed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::NaiveDate;
use homeseason_schema::campaign::Campaign;
use homeseason_schema::region::{RegionLevel, Regions};
use homeseason_schema::{category::Category, uscc};
use homeseason_synth::{NoProgress, SynthConfig, SynthSummary, generate};

fn small(seed: u64) -> SynthConfig {
    let text = homeseason_schema::campaign::DEFAULT_TOML.replace(
        "include = \"all\"",
        "include = [\"330000\", \"330200\", \"XPCC\"]",
    );
    SynthConfig {
        seed,
        scale: 2.0,
        campaign: Campaign::from_toml(&text).unwrap(),
        start: NaiveDate::from_ymd_opt(2022, 9, 1).unwrap(),
        end: NaiveDate::from_ymd_opt(2023, 12, 31).unwrap(),
        scenario: homeseason_synth::Scenario::Clean,
        areas: homeseason_synth::AreaSpread::Sample,
    }
}

fn all_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let sa = generate(&small(42), a.path(), &NoProgress).unwrap();
    let messages = std::cell::RefCell::new(Vec::new());
    let record = |m: &str| messages.borrow_mut().push(m.to_owned());
    generate(&small(42), b.path(), &record).unwrap();
    assert!(messages.borrow().iter().any(|m| m == "done"));
    generate(&small(43), c.path(), &NoProgress).unwrap();
    let (fa, fb, fc) = (
        all_files(a.path()),
        all_files(b.path()),
        all_files(c.path()),
    );
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for (name, bytes) in &fa {
        assert!(
            fb[name] == *bytes,
            "{name} differs between two runs with the same seed"
        );
    }
    let differing = fa
        .iter()
        .filter(|(name, bytes)| fc.get(*name) != Some(*bytes))
        .count();
    assert!(
        differing > fa.len() / 2,
        "only {differing} of {} files change with the seed",
        fa.len()
    );
    assert_ne!(fa["truth.csv"], fc["truth.csv"]);
    // Every listed file is there with its row count and hash; synth.json is the summary.
    assert_eq!(sa.files.len() + 1, fa.len());
    let json: serde_json::Value = serde_json::from_slice(&fa["synth.json"]).unwrap();
    assert_eq!(json["seed"], 42);
    assert_eq!(json["files"].as_array().unwrap().len(), sa.files.len());
    for f in &sa.file_details {
        let bytes = &fa[f.path.to_str().unwrap()];
        assert_eq!(f.bytes, bytes.len() as u64);
        use sha2::Digest;
        assert_eq!(f.sha256, hex::encode(sha2::Sha256::digest(bytes)));
    }
    // Retail: only Zhejiang is a province here; 2022 starts in September so only 2023 is published.
    let retail = String::from_utf8(fa["retail_stats/retail_stats_provincial.csv"].clone()).unwrap();
    assert!(
        retail
            .lines()
            .skip(1)
            .all(|l| l.starts_with("2023-") && l.contains(",330000,"))
    );
    assert_eq!(retail.lines().count(), 1 + 11 * 4);
    // The scale multiplies wallet_b's rows only.
    let wallet_rows = |s: &SynthSummary| -> usize {
        s.files
            .iter()
            .filter(|(p, _)| p.starts_with("payments/wallet_b"))
            .map(|(_, n)| n)
            .sum()
    };
    let d = tempfile::tempdir().unwrap();
    let mut half = small(42);
    half.scale = 1.0;
    let sd = generate(&half, d.path(), &NoProgress).unwrap();
    let fd = all_files(d.path());
    let ratio = wallet_rows(&sa) as f64 / wallet_rows(&sd) as f64;
    assert!((1.8..2.2).contains(&ratio), "{ratio}");
    for (name, bytes) in &fa {
        // truth_subsidies.csv's observed columns carry the payment data's coverage, which holds
        // wallet_b's share.
        if !name.starts_with("payments/wallet_b")
            && name != "synth.json"
            && name != "truth_subsidies.csv"
        {
            assert!(fd[name] == *bytes, "{name} depends on the scale");
        }
    }
}

/// A CSV file as header + records, decoding GB18030 where asked.
fn read_csv(path: &Path, gb18030: bool) -> (Vec<String>, Vec<Vec<String>>) {
    let bytes = std::fs::read(path).unwrap();
    let text = if gb18030 {
        assert!(
            std::str::from_utf8(&bytes).is_err(),
            "{} should not be UTF-8",
            path.display()
        );
        let (text, _, errors) = encoding_rs::GB18030.decode(&bytes);
        assert!(!errors);
        text.into_owned()
    } else {
        String::from_utf8(bytes).unwrap()
    };
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

fn month_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[test]
fn full_default_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let config = SynthConfig::default();
    let summary = generate(&config, out, &NoProgress).unwrap();
    let regions = Regions::embedded();
    let all37: BTreeSet<String> = regions.all().iter().map(|r| r.code.clone()).collect();
    assert!(
        summary.total_bytes < 65_000_000,
        "{} bytes",
        summary.total_bytes
    );
    assert_eq!(summary.local_station_regions.len(), 10);
    assert_eq!(summary.gb18030_regions.len(), 3);
    assert!(out.join("synth.json").exists());

    // 1. acq_a
    let mut acq_regions = BTreeSet::new();
    // (year, month, category) → gross amount
    let mut monthly: BTreeMap<(i32, u32, Category), f64> = BTreeMap::new();
    let (mut online_1111, mut total_1111, mut online_1104, mut total_1104) = (0.0, 0.0, 0.0, 0.0);
    let campaign = &config.campaign;
    let files = month_files(&out.join("payments/acq_a"));
    assert_eq!(files.len(), 36);
    assert!(files[0].ends_with("payment_daily_acq_a_2021-01.csv"));
    for f in &files {
        let (header, rows) = read_csv(f, false);
        assert_eq!(
            header.join(","),
            "date,institution,region_code,mcc,channel,txn_count,amount,refund_amount,merchant_count"
        );
        for r in rows {
            assert_eq!(r[1], "acq_a");
            let amount: f64 = r[6].parse().unwrap();
            let refund: f64 = r[7].parse().unwrap();
            let count: u64 = r[5].parse().unwrap();
            let merchants: u64 = r[8].parse().unwrap();
            assert!(amount > 0.0 && count > 0 && merchants > 0 && merchants <= count);
            assert!(refund > 0.0 && refund < 0.2 * amount);
            assert!(r[4] == "online" || r[4] == "offline");
            acq_regions.insert(r[2].clone());
            let y: i32 = r[0][..4].parse().unwrap();
            let m: u32 = r[0][5..7].parse().unwrap();
            let cat = campaign.category_of(&r[3]);
            *monthly.entry((y, m, cat)).or_default() += amount;
            if cat == Category::HomeAppliances {
                let online = if r[4] == "online" { amount } else { 0.0 };
                if r[0] == "2023-11-11" {
                    online_1111 += online;
                    total_1111 += amount;
                } else if r[0] == "2023-11-04" {
                    online_1104 += online;
                    total_1104 += amount;
                }
            }
        }
    }
    assert_eq!(acq_regions, all37);
    assert!(
        online_1111 / total_1111 > online_1104 / total_1104 + 0.15,
        "11.11 online share"
    );
    let sum = |y: i32, months: &[u32], c: Category| {
        months.iter().map(|&m| monthly[&(y, m, c)]).sum::<f64>()
    };
    // Late 2022 is a distorted base for the controls: Dec 2022 / Dec 2021 well below the growth seen
    // in Sep–Oct.
    for c in [Category::Supermarket, Category::Restaurant, Category::Fuel] {
        let growth = sum(2022, &[9, 10], c) / sum(2021, &[9, 10], c);
        let dec = sum(2022, &[12], c) / sum(2021, &[12], c);
        assert!(
            dec < 0.93 * growth,
            "{c}: Dec {dec:.3} vs growth {growth:.3}"
        );
    }
    // The campaign shows: Sep–Dec 2023 / Sep–Dec 2021 is larger for every targeted category than for
    // supermarkets.
    let window = [9, 10, 11, 12];
    let control =
        sum(2023, &window, Category::Supermarket) / sum(2021, &window, Category::Supermarket);
    for c in Category::TARGETED {
        let ratio = sum(2023, &window, c) / sum(2021, &window, c);
        assert!(
            ratio > control + 0.03,
            "{c}: {ratio:.3} vs supermarket {control:.3}"
        );
    }
    // "other" includes the unmapped MCC 5999.
    assert!(!campaign.mcc_map().contains_key("5999"));
    assert!(monthly[&(2023, 1, Category::Other)] > 0.0);

    // 2. wallet_b
    let mut ids = BTreeSet::new();
    let (mut rolled, mut county_codes) = (BTreeSet::new(), BTreeSet::new());
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut wallet_rows = 0;
    for f in month_files(&out.join("payments/wallet_b")) {
        let month = f
            .file_stem()
            .unwrap()
            .to_str()
            .unwrap()
            .rsplit('_')
            .next()
            .unwrap()
            .to_owned();
        let (header, rows) = read_csv(&f, false);
        assert_eq!(
            header.join(","),
            "txn_id,institution,txn_time,merchant_id,mcc,region_code,amount,txn_type,channel"
        );
        for r in rows {
            wallet_rows += 1;
            assert!(ids.insert(r[0].clone()), "duplicate txn_id {}", r[0]);
            assert_eq!(r[1], "wallet_b");
            assert!(r[2].starts_with(&month));
            assert!(chrono::NaiveDateTime::parse_from_str(&r[2], "%Y-%m-%d %H:%M:%S").is_ok());
            let code = &r[5];
            let region = regions.roll_up(code).unwrap();
            rolled.insert(region.code.clone());
            assert_ne!(code, &region.code, "wallet_b reports county codes");
            county_codes.insert(code.clone());
            assert!(r[6].parse::<f64>().unwrap() > 0.0);
            *kinds.entry(r[7].clone()).or_default() += 1;
        }
    }
    assert_eq!(rolled, all37);
    assert!(county_codes.contains("330106") && county_codes.contains("659001"));
    assert!(county_codes.iter().any(|c| c.starts_with("3302")));
    assert!((180_000..320_000).contains(&wallet_rows), "{wallet_rows}");
    let share = |k: &str| kinds[k] as f64 / f64::from(wallet_rows);
    assert!(
        (0.02..0.04).contains(&share("refund")) && (0.002..0.01).contains(&share("reversal")),
        "{kinds:?}"
    );

    // 3. enterprise sales
    let mut firms = BTreeSet::new();
    let mut firm_regions = BTreeSet::new();
    let (mut tagged_files, mut untagged_files) = (0, 0);
    for region in regions.all() {
        let path = out.join(format!(
            "enterprise_sales/enterprise_sales_{}.csv",
            region.code
        ));
        let gb = summary.gb18030_regions.contains(&region.code);
        let (header, rows) = read_csv(&path, gb);
        // About half the regions' files carry the optional subcategory and theme columns (issue 18).
        let base = "统一社会信用代码,企业名称,地区,品类,统计期,销售额,单位,线上/线下,品牌";
        let header = header.join(",");
        if header == base {
            untagged_files += 1;
        } else {
            assert_eq!(header, format!("{base},细分品类,主题标签"));
            tagged_files += 1;
        }
        let mut periods = BTreeSet::new();
        for r in &rows {
            assert_eq!(uscc::validate(&r[0]), Ok(()), "{}", r[0]);
            if region.code != "XPCC" {
                assert_eq!(&r[0][2..8], region.code.as_str());
            }
            firms.insert(r[0].clone());
            assert_eq!(r[2], region.name_zh);
            firm_regions.insert(regions.resolve(&r[2]).unwrap().code.clone());
            assert!(Category::parse(&r[3]).unwrap().is_targeted());
            periods.insert(r[4].clone());
            assert!(r[5].parse::<f64>().unwrap() > 0.0);
            let unit = if summary.yuan_unit_regions.contains(&region.code) {
                "元"
            } else {
                "万元"
            };
            assert_eq!(r[6], unit);
            assert!(["线上", "线下", "全部"].contains(&r[7].as_str()));
            assert!(r[1].ends_with("公司") && !r[8].is_empty());
        }
        assert_eq!(periods.len(), 36);
        assert!(periods.contains("2023-09"));
    }
    assert_eq!(firm_regions, all37);
    assert!(
        tagged_files > 0 && untagged_files > 0,
        "{tagged_files} files with the theme columns, {untagged_files} without"
    );
    assert!(
        (180..=220).contains(&firms.len()),
        "{} enterprises",
        firms.len()
    );

    // 4. retail statistics
    let (header, rows) = read_csv(&out.join("retail_stats/retail_stats_provincial.csv"), false);
    assert_eq!(
        header.join(","),
        "period,months_covered,region_code,category,value_100m_yuan,yoy_pct,cum_value_100m_yuan,cum_yoy_pct,source"
    );
    let provinces: BTreeSet<String> = rows.iter().map(|r| r[2].clone()).collect();
    assert_eq!(provinces.len(), 31);
    assert!(
        provinces
            .iter()
            .all(|p| regions.by_code(p).unwrap().level == RegionLevel::Province)
    );
    assert!(
        rows.iter().all(|r| !r[0].ends_with("-01")),
        "January is never published alone"
    );
    let jan_feb: Vec<_> = rows.iter().filter(|r| r[0] == "2023-02").collect();
    assert_eq!(jan_feb.len(), 31 * 4);
    assert!(
        jan_feb
            .iter()
            .all(|r| r[1] == "1-2" && r[4] == r[6] && !r[5].is_empty())
    );
    assert!(
        rows.iter()
            .filter(|r| r[0].starts_with("2021"))
            .all(|r| r[5].is_empty())
    );
    let cats: BTreeSet<&str> = rows.iter().map(|r| r[3].as_str()).collect();
    assert_eq!(
        cats,
        BTreeSet::from([
            "building_materials",
            "furniture",
            "home_appliances",
            "total_retail"
        ])
    );
    assert!(rows.iter().all(|r| r[8] == "synthetic"));
    let dec = rows
        .iter()
        .find(|r| r[0] == "2023-12" && r[2] == "330000" && r[3] == "furniture")
        .unwrap();
    assert_eq!(dec[1], "12");
    assert!(dec[6].parse::<f64>().unwrap() > 10.0 * dec[4].parse::<f64>().unwrap());

    // 5. activities and 6. truth
    let truth_events = read_csv(&out.join("truth_local_events.csv"), false).1;
    // 10 events × (4 targeted categories + all_targeted).
    assert_eq!(truth_events.len(), 50);
    let events: BTreeMap<String, (String, String)> = truth_events
        .iter()
        .map(|r| (r[0].clone(), (r[1].clone(), r[2].clone())))
        .collect();
    for region in regions.all() {
        let (header, rows) = read_csv(
            &out.join(format!("activities/activities_{}.csv", region.code)),
            false,
        );
        assert_eq!(
            header.join(","),
            "活动编号,地区,活动名称,活动类型,开始日期,结束日期,举办地点,主办单位,参与企业数,参与品牌数,重点方向,线上/线下,地方站"
        );
        assert!(
            (5..=30).contains(&rows.len()),
            "{}: {}",
            region.code,
            rows.len()
        );
        for r in &rows {
            assert!(r[4].as_str() >= "2023-09-01" && r[5].as_str() <= "2023-12-31" && r[4] <= r[5]);
            assert!(
                r[10]
                    .split(';')
                    .all(|d| ["绿色", "智能", "适老化"].contains(&d))
            );
        }
        let stations: Vec<_> = rows.iter().filter(|r| r[12] == "是").collect();
        match events.get(&region.code) {
            Some((start, end)) => {
                assert_eq!(stations.len(), 1);
                assert_eq!((&stations[0][4], &stations[0][5]), (start, end));
            }
            None => assert!(stations.is_empty()),
        }
    }
    let (header, truth) = read_csv(&out.join("truth.csv"), false);
    assert_eq!(
        header.join(","),
        "campaign_id,region_code,category,true_uplift_pct,local_station,local_uplift_pct,oracle_uplift_pct,oracle_economy_uplift_pct"
    );
    assert_eq!(truth.len(), 148);
    for r in &truth {
        assert_eq!(r[0], "2023-home-renewal");
        let pct: f64 = r[3].parse().unwrap();
        let local: f64 = r[5].parse().unwrap();
        assert!(pct > 0.0 && pct < 40.0);
        assert_eq!(r[4] == "true", events.contains_key(&r[1]));
        assert_eq!(r[4] == "true", local > 0.0);
        for o in [&r[6], &r[7]] {
            let oracle: f64 = o.parse().unwrap();
            assert!((oracle - pct).abs() < 6.0, "oracle {oracle} truth {pct}");
        }
    }
}
