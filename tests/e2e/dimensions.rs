//! The dimensions of issue 18 end to end: online and offline (the demo season's `channel_uplift`
//! against the channel effects the generator injected), and themes.

use crate::util::{demo_dir, f64s, read_csv, read_parquet, region_category_method, texts};

/// The demo's `channel_uplift` rows of one method with the injected truth beside each channel:
/// `(region, category, channel, estimate, lower, upper, truth)`.
fn channel_cells(method: &str) -> Vec<(String, String, String, f64, f64, f64, f64)> {
    let out = demo_dir();
    let table = read_parquet(&out.join("lake/channel_uplift/data.parquet"));
    let truth = read_csv(&out.join("sample/truth_channels.csv"));
    let (t_region, t_cat, t_channel, t_pct) = (
        texts(&truth, "region_code"),
        texts(&truth, "category"),
        texts(&truth, "channel"),
        f64s(&truth, "true_uplift_pct"),
    );
    let (region, cat, m) = region_category_method(&table);
    let mut cells = Vec::new();
    for channel in ["online", "offline"] {
        let (p, lo, hi) = (
            f64s(&table, &format!("{channel}_uplift_pct")),
            f64s(&table, &format!("{channel}_lower_pct")),
            f64s(&table, &format!("{channel}_upper_pct")),
        );
        for i in 0..table.height() {
            if m[i] != method {
                continue;
            }
            let (Some(p), Some(lo), Some(hi)) = (p[i], lo[i], hi[i]) else {
                continue;
            };
            let Some(t) = (0..truth.height()).find(|&j| {
                t_region[j] == region[i] && t_cat[j] == cat[i] && t_channel[j] == channel
            }) else {
                continue;
            };
            cells.push((
                region[i].clone(),
                cat[i].clone(),
                channel.to_owned(),
                p,
                lo,
                hi,
                t_pct[t].expect("truth"),
            ));
        }
    }
    cells
}

/// The demo season's channel table recovers the injected channel effects. With `two_year` (the
/// sample's late 2022 is distorted, so `prior_year` is biased in every table, the headline one
/// too) each channel's truth lies inside its interval about as often as the level says, errors
/// are small and every national cell is covered; with both methods the difference between the
/// online and the offline uplift — where the comparison year's distortion cancels — is recovered
/// within a point and a half, online above offline as injected (k_on > 1); the online share's
/// change holds the true change nationally.
#[test]
fn the_demo_channel_table_recovers_the_injected_channel_effects() {
    for method in ["prior_year", "two_year"] {
        let cells = channel_cells(method);
        // 37 regions and the nation × 4 targeted categories offline, 3 of them online.
        assert!(
            cells.len() >= 38 * 7 - 10,
            "{method}: {} cells",
            cells.len()
        );
        let covered = cells.iter().filter(|c| c.4 <= c.6 && c.6 <= c.5).count();
        let coverage = covered as f64 / cells.len() as f64;
        let mae = cells.iter().map(|c| (c.3 - c.6).abs()).sum::<f64>() / cells.len() as f64;
        // Online minus offline, per cell with both.
        let mut diffs = Vec::new();
        for on in cells.iter().filter(|c| c.2 == "online") {
            if let Some(off) = cells
                .iter()
                .find(|c| c.2 == "offline" && c.0 == on.0 && c.1 == on.1)
            {
                diffs.push(((on.3 - off.3) - (on.6 - off.6), on.3 > off.3, on.6 - off.6));
            }
        }
        let diff_mae = diffs.iter().map(|d| d.0.abs()).sum::<f64>() / diffs.len() as f64;
        let right_sign = diffs.iter().filter(|d| d.1).count();
        eprintln!(
            "{method}: {} channel cells, coverage {coverage:.3}, MAE {mae:.2} pp; online − offline: {} cells, MAE {diff_mae:.2} pp (true mean {:.2} pp), right sign {right_sign}",
            cells.len(),
            diffs.len(),
            diffs.iter().map(|d| d.2).sum::<f64>() / diffs.len() as f64
        );
        assert!(diffs.len() >= 38 * 3, "{method}: {} pairs", diffs.len());
        assert!(diff_mae < 1.5, "{method}: online − offline MAE {diff_mae}");
        assert!(
            right_sign as f64 >= 0.9 * diffs.len() as f64,
            "{method}: {right_sign} of {}",
            diffs.len()
        );
        if method == "two_year" {
            assert!(coverage >= 0.75, "{method}: coverage {coverage}");
            assert!(mae < 3.0, "{method}: MAE {mae}");
            for c in cells.iter().filter(|c| c.0 == "000000") {
                assert!(
                    c.4 <= c.6 && c.6 <= c.5,
                    "{method}: national {} {}: truth {} outside [{}, {}]",
                    c.1,
                    c.2,
                    c.6,
                    c.4,
                    c.5
                );
            }
        }
        let shares = share_cells(method);
        let held = shares.iter().filter(|s| s.2 <= s.1 && s.1 <= s.3).count();
        eprintln!(
            "{method}: online share change, {held} of {} cells hold the truth; national: {:?}",
            shares.len(),
            shares
                .iter()
                .filter(|s| s.0.starts_with("000000"))
                .collect::<Vec<_>>()
        );
        assert!(shares.len() >= 38 * 3, "{}", shares.len());
        // Nationally the campaign moved sales online (k_on > 1): the interval is above zero.
        for s in shares.iter().filter(|s| s.0.starts_with("000000")) {
            assert!(s.2 > 0.0 && s.2 <= s.1 && s.1 <= s.3, "{method}: {s:?}");
        }
        assert!(
            held as f64 >= 0.75 * shares.len() as f64,
            "{method}: share change covered in {held} of {}",
            shares.len()
        );
    }
}

/// The demo's online share change per cell with an online part: `(region/category, true change,
/// lower, upper)` in points, the truth from `truth_channels.csv`'s sums with and without the
/// campaign.
fn share_cells(method: &str) -> Vec<(String, f64, f64, f64)> {
    let out = demo_dir();
    let table = read_parquet(&out.join("lake/channel_uplift/data.parquet"));
    let truth = read_csv(&out.join("sample/truth_channels.csv"));
    let (t_region, t_cat, t_channel, with, without) = (
        texts(&truth, "region_code"),
        texts(&truth, "category"),
        texts(&truth, "channel"),
        f64s(&truth, "with_yuan"),
        f64s(&truth, "without_yuan"),
    );
    let find = |r: &str, c: &str, ch: &str| {
        (0..truth.height())
            .find(|&j| t_region[j] == r && t_cat[j] == c && t_channel[j] == ch)
            .map(|j| (with[j].unwrap(), without[j].unwrap()))
    };
    let (region, cat, m) = region_category_method(&table);
    let (lo, hi) = (
        f64s(&table, "online_share_change_lower_pp"),
        f64s(&table, "online_share_change_upper_pp"),
    );
    let mut out = Vec::new();
    for i in 0..table.height() {
        let (Some(lo), Some(hi)) = (lo[i], hi[i]) else {
            continue;
        };
        if m[i] != method {
            continue;
        }
        let (Some(on), Some(off)) = (
            find(&region[i], &cat[i], "online"),
            find(&region[i], &cat[i], "offline"),
        ) else {
            continue;
        };
        let change = 100.0 * (on.0 / (on.0 + off.0) - on.1 / (on.1 + off.1));
        out.push((format!("{}/{}", region[i], cat[i]), change, lo, hi));
    }
    out
}

/// The report and the workbook carry the online and offline section and sheet.
#[test]
fn the_demo_report_and_workbook_show_online_and_offline() {
    let out = demo_dir();
    let html = std::fs::read_to_string(out.join("report/report.html")).unwrap();
    let md = std::fs::read_to_string(out.join("report/report.md")).unwrap();
    for text in [&html, &md] {
        assert!(text.contains("6.1 线上线下 Online and offline"));
        assert!(text.contains("线上提升 Online uplift"));
    }
    use calamine::Reader as _;
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook(out.join("report/workbook.xlsx")).expect("workbook opens");
    let names = book.sheet_names();
    assert!(
        names
            .iter()
            .any(|n| n == homeseason_report::workbook::CHANNEL_SHEET),
        "{names:?}"
    );
    let range = book
        .worksheet_range(homeseason_report::workbook::CHANNEL_SHEET)
        .expect("channel sheet");
    // Title, note, header, then one row per region and nation × category and all_targeted × method.
    assert!(range.height() >= 3 + 38 * 5 * 2 - 10, "{}", range.height());
}

/// A valid USCC from its first 17 characters.
fn code(first17: &str) -> String {
    format!(
        "{first17}{}",
        homeseason_schema::uscc::check_char(first17).unwrap()
    )
}

/// One `theme_summary` row's figures: activities, activity enterprises, enterprises, brands, sales.
type ThemeFigures = (i64, i64, i64, i64, f64);

/// `theme_summary` of `lake`: `(region, tag) → (activities, activity enterprises, enterprises,
/// brands, sales)` (activities and activity enterprises −1 when empty).
fn theme_cells(
    lake: &std::path::Path,
) -> std::collections::BTreeMap<(String, String), ThemeFigures> {
    let t = read_parquet(&lake.join("theme_summary/data.parquet"));
    let s = |c: &str| texts(&t, c);
    let n = |c: &str| f64s(&t, c);
    let (region, tag) = (s("region_code"), s("tag"));
    let (act, act_e, ent, br, sales) = (
        n("activities"),
        n("activity_enterprises"),
        n("enterprises"),
        n("brands"),
        n("sales_yuan"),
    );
    (0..t.height())
        .map(|i| {
            let int = |v: Option<f64>| v.map_or(-1, |x| x as i64);
            (
                (region[i].clone(), tag[i].clone()),
                (
                    int(act[i]),
                    int(act_e[i]),
                    int(ent[i]),
                    int(br[i]),
                    sales[i].unwrap_or(f64::NAN),
                ),
            )
        })
        .collect()
}

/// A hand-made register and two enterprise files — one with the new optional columns (Chinese
/// spellings and aliases), one in the old layout — ingest, and `theme_summary` counts them
/// exactly; a bad subcategory or theme is a row-level reject naming the column.
#[test]
fn a_themes_table_counts_hand_made_files_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let (u1, u2, u3) = (
        code("91330000MAGA0121G"),
        code("91330100MA27XYW12"),
        code("91110000MA01ABC12"),
    );
    let activities = "活动编号,地区,活动名称,活动类型,开始日期,结束日期,举办地点,主办单位,参与企业数,参与品牌数,重点方向,线上/线下,地方站\n\
        ZJ-1,浙江,绿色智能家电节,购物节,2023-09-11,2023-09-24,杭州,浙江省商务厅,10,12,绿色、智能,线下,否\n\
        ZJ-2,浙江,适老家居周,购物节,2023-10-08,2023-10-14,宁波,浙江省商务厅,4,5,适老,线下,否\n\
        ZJ-3,浙江,家纺展,展销会,2023-11-01,2023-11-03,杭州,浙江省商务厅,3,3,,线下,否\n\
        BJ-1,北京,智慧家居节,购物节,2023-09-15,2023-09-20,北京,北京市商务局,7,9,智慧,线上,否\n";
    let new_layout = format!(
        "统一社会信用代码,企业名称,地区,品类,统计期,销售额,单位,线上/线下,品牌,细分品类,主题标签\n\
         {u1},甲建材,浙江,建材家装,2023-09,100,万元,全部,甲牌,瓷砖,绿色\n\
         {u1},甲建材,浙江,建材家装,2023-09,20,万元,全部,甲牌,灯具,绿色；智能\n\
         {u1},甲建材,浙江,建材家装,2023-08,999,万元,全部,甲牌,陶瓷,绿色\n\
         {u2},乙电器,浙江,家电,2023-10,50,万元,全部,乙牌,,智能\n\
         {u2},乙电器,浙江,家电,2023-10,5,万元,全部,乙牌,卫浴,智能\n\
         {u2},乙电器,浙江,家电,2023-11,5,万元,全部,乙牌,,低碳\n"
    );
    let old_layout = format!(
        "统一社会信用代码,企业名称,地区,品类,统计期,销售额,单位,线上/线下,品牌\n\
         {u3},丙家具,北京,家具,2023-09,30,万元,全部,丙牌\n"
    );
    let files = [
        crate::util::write_in(tmp.path(), "activities_330000.csv", activities),
        crate::util::write_in(tmp.path(), "enterprise_sales_new.csv", new_layout),
        crate::util::write_in(tmp.path(), "enterprise_sales_old.csv", old_layout),
    ];
    let lake = tmp.path().join("lake");
    let refs: Vec<&std::path::Path> = files.iter().map(std::path::PathBuf::as_path).collect();
    let out = crate::util::ingest_json(&lake, &refs);
    let report = |name: &str| {
        out.as_array()
            .unwrap()
            .iter()
            .find(|r| r["path"].as_str().is_some_and(|f| f.ends_with(name)))
            .unwrap_or_else(|| panic!("no report for {name}: {out}"))["report"]
            .clone()
    };
    let new = report("enterprise_sales_new.csv");
    // 4 accepted; the subcategory of a home-appliances row and the unknown theme 低碳 rejected.
    assert_eq!(new["accepted"], 4, "{new}");
    assert_eq!(new["rejected"], 2, "{new}");
    assert_eq!(report("enterprise_sales_old.csv")["accepted"], 1);
    let rejects = crate::util::reject_rows(&lake, &["column", "reason", "message_en"]);
    let themed: Vec<_> = rejects
        .iter()
        .filter(|(_, v)| v[0] == "细分品类" || v[0] == "主题标签")
        .collect();
    assert_eq!(themed.len(), 2, "{rejects:?}");
    assert!(
        themed
            .iter()
            .any(|(line, v)| *line == 6 && v[0] == "细分品类")
    );
    assert!(
        themed
            .iter()
            .any(|(line, v)| *line == 7 && v[0] == "主题标签" && v[2].contains("低碳")),
        "{themed:?}"
    );
    let cells = theme_cells(&lake);
    let get = |r: &str, t: &str| cells[&(r.to_owned(), t.to_owned())];
    // Activities: ZJ-1 green and smart, ZJ-2 age-friendly, BJ-1 smart (智慧), ZJ-3 untagged.
    assert_eq!(get("330000", "green").0, 1);
    assert_eq!(get("330000", "smart").0, 1);
    assert_eq!(get("000000", "smart").0, 2);
    assert_eq!(get("000000", "smart").1, 17);
    assert_eq!(get("000000", "age_friendly").0, 1);
    // Enterprises: u1 green (ceramics 100 + lighting 20 万元 in the window; August left out),
    // u1 smart (lighting 20), u2 smart (50); the old-layout file adds nothing.
    let green = get("000000", "green");
    assert_eq!((green.2, green.3), (1, 1));
    assert!((green.4 - 1_200_000.0).abs() < 1e-6, "{green:?}");
    let smart = get("330000", "smart");
    assert_eq!((smart.2, smart.3), (2, 2));
    assert!((smart.4 - 700_000.0).abs() < 1e-6, "{smart:?}");
    let ceramics = get("000000", "ceramics");
    assert_eq!((ceramics.0, ceramics.2), (-1, 1));
    assert!((ceramics.4 - 1_000_000.0).abs() < 1e-6);
    assert!((get("000000", "lighting").4 - 200_000.0).abs() < 1e-6);
    assert_eq!(get("000000", "pipes").2, 0);
    assert!(!cells.contains_key(&("110000".to_owned(), "green".to_owned())));
}

/// The demo season's `theme_summary` counts exactly the enterprises, brands and sales the generator
/// put in the optional columns (`truth_themes.csv`), and the report and workbook show them.
#[test]
fn the_demo_theme_table_matches_the_injected_participation() {
    let out = demo_dir();
    let cells = theme_cells(&out.join("lake"));
    let truth = read_csv(&out.join("sample/truth_themes.csv"));
    let s = |c: &str| texts(&truth, c);
    let (region, tag, ents, brands, sales) = (
        s("region_code"),
        s("tag"),
        s("enterprises"),
        s("brands"),
        s("sales_yuan"),
    );
    assert!(truth.height() > 20, "{truth}");
    for i in 0..truth.height() {
        let got = cells[&(region[i].clone(), tag[i].clone())];
        assert_eq!(
            got.2.to_string(),
            ents[i],
            "{} {} enterprises",
            region[i],
            tag[i]
        );
        assert_eq!(
            got.3.to_string(),
            brands[i],
            "{} {} brands",
            region[i],
            tag[i]
        );
        let want: f64 = sales[i].parse().unwrap();
        assert!(
            (got.4 - want).abs() <= 1e-6 * want.max(1.0),
            "{} {} sales {} vs {want}",
            region[i],
            tag[i],
            got.4
        );
    }
    let html = std::fs::read_to_string(out.join("report/report.html")).unwrap();
    assert!(html.contains("6.2 主题与细分品类 Themes and subcategories"));
    use calamine::Reader as _;
    let book: calamine::Xlsx<_> =
        calamine::open_workbook(out.join("report/workbook.xlsx")).expect("workbook opens");
    assert!(
        book.sheet_names()
            .iter()
            .any(|n| n == homeseason_report::workbook::THEME_SHEET)
    );
}

/// A region's own workbook (`report --region`) carries its online/offline and themes sheets, as the
/// national one does: the region's rows and the national ones for reference, no other region's.
#[test]
fn a_regions_workbook_has_its_channel_and_theme_sheets() {
    use calamine::Reader as _;
    let demo = demo_dir();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("zj");
    crate::util::ok(&[
        "report",
        "--lake",
        demo.join("lake").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--region",
        "浙江",
    ]);
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook(out.join("workbook.xlsx")).expect("workbook opens");
    for sheet in [
        homeseason_report::workbook::CHANNEL_SHEET,
        homeseason_report::workbook::THEME_SHEET,
    ] {
        let range = book
            .worksheet_range(sheet)
            .unwrap_or_else(|e| panic!("{sheet}: {e} in {:?}", book.sheet_names()));
        // Column A below the title, note and header rows: region codes.
        let codes: Vec<String> = (3..range.height() as u32)
            .map(|r| {
                range
                    .get_value((r, 0))
                    .map(ToString::to_string)
                    .unwrap_or_default()
            })
            .collect();
        assert!(codes.iter().any(|c| c == "330000"), "{sheet}: {codes:?}");
        assert!(codes.iter().any(|c| c == "000000"), "{sheet}: {codes:?}");
        assert!(
            codes.iter().all(|c| c == "330000" || c == "000000"),
            "{sheet}: {codes:?}"
        );
    }
}
