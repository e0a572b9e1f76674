//! Town and country (城乡) end to end: the demo season's `urban_rural_uplift` (from
//! `payment_area_daily`, wallet_b's county-level transactions) against the urban and rural effects
//! the generator injected (`truth_urban_rural.csv`), and the sign of the 下乡 link.
//!
//! Registered in `main.rs` once the `payment_area_daily` writer is in (the table is empty without
//! it, and so is `urban_rural_uplift`).

use polars::prelude::*;

use crate::util::{demo_dir, f64s, read_csv, read_parquet, region_category_method, texts};

/// One estimated class cell with its truth.
#[derive(Debug)]
struct Cell {
    region: String,
    category: String,
    class: String,
    estimate: f64,
    lower: f64,
    upper: f64,
    truth: f64,
}

/// The demo's `urban_rural_uplift` cells of one method with the injected truth beside each class.
fn class_cells(table: &DataFrame, truth: &DataFrame, method: &str) -> Vec<Cell> {
    let (t_region, t_cat, t_class, t_pct) = (
        texts(truth, "region_code"),
        texts(truth, "category"),
        texts(truth, "urban_rural"),
        f64s(truth, "true_uplift_pct"),
    );
    let (region, cat, m) = (
        texts(table, "region_code"),
        texts(table, "category"),
        texts(table, "method"),
    );
    let mut cells = Vec::new();
    for class in ["rural", "urban"] {
        let (p, lo, hi) = (
            f64s(table, &format!("{class}_uplift_pct")),
            f64s(table, &format!("{class}_lower_pct")),
            f64s(table, &format!("{class}_upper_pct")),
        );
        for i in 0..table.height() {
            if m[i] != method {
                continue;
            }
            let (Some(p), Some(lo), Some(hi)) = (p[i], lo[i], hi[i]) else {
                continue;
            };
            let Some(t) = (0..truth.height())
                .find(|&j| t_region[j] == region[i] && t_cat[j] == cat[i] && t_class[j] == class)
            else {
                continue;
            };
            cells.push(Cell {
                region: region[i].clone(),
                category: cat[i].clone(),
                class: class.to_owned(),
                estimate: p,
                lower: lo,
                upper: hi,
                truth: t_pct[t].expect("truth"),
            });
        }
    }
    cells
}

/// The demo season's urban/rural table recovers the injected effects within its intervals. The
/// area table is wallet_b's thinned transaction sample alone, so a region's class series is sparse
/// and its figures noisy (measured on the demo with a stand-in of the area writer: 117 / 113
/// region × category × class cells, coverage 0.73 for each method, MAE 50–70 points); the national
/// cells, summing every region, are what the check holds tight: at least 7 of the 8 national cells
/// of each method hold their truth (measured: all 16), the pooled coverage over every cell is at
/// least 0.6, and the national rural share's change (all targeted categories) holds the true
/// change computed from the truth's sums.
#[test]
fn the_demo_urban_rural_table_recovers_the_injected_effects() {
    let out = demo_dir();
    let table = read_parquet(&out.join("lake/urban_rural_uplift/data.parquet"));
    let truth = read_csv(&out.join("sample/truth_urban_rural.csv"));
    assert!(table.height() > 0, "urban_rural_uplift is empty");
    for method in ["prior_year", "two_year"] {
        let cells = class_cells(&table, &truth, method);
        let covered = cells
            .iter()
            .filter(|c| c.lower <= c.truth && c.truth <= c.upper)
            .count();
        let coverage = covered as f64 / cells.len() as f64;
        let mae = cells
            .iter()
            .map(|c| (c.estimate - c.truth).abs())
            .sum::<f64>()
            / cells.len() as f64;
        eprintln!(
            "{method}: {} urban/rural cells, coverage {coverage:.3}, MAE {mae:.2} pp",
            cells.len()
        );
        assert!(cells.len() >= 90, "{method}: {} cells", cells.len());
        assert!(coverage >= 0.6, "{method}: coverage {coverage}");
        let national: Vec<&Cell> = cells.iter().filter(|c| c.region == "000000").collect();
        let held = national
            .iter()
            .filter(|c| c.lower <= c.truth && c.truth <= c.upper)
            .count();
        for c in &national {
            eprintln!(
                "{method}: national {} {}: {:+.2} [{:+.2}, {:+.2}], truth {:+.2}",
                c.category, c.class, c.estimate, c.lower, c.upper, c.truth
            );
        }
        assert_eq!(national.len(), 8, "{method}: {national:?}");
        assert!(
            held >= 7,
            "{method}: {held} of 8 national cells: {national:?}"
        );
        // The rural share's change, nationally, against the truth's sums (the truth has no
        // all_targeted rows: its categories are summed).
        let (t_region, t_class) = (texts(&truth, "region_code"), texts(&truth, "urban_rural"));
        let (with, without) = (f64s(&truth, "with_yuan"), f64s(&truth, "without_yuan"));
        let sum = |class: &str| {
            (0..truth.height())
                .filter(|&j| t_region[j] == "000000" && t_class[j] == class)
                .fold((0.0, 0.0), |(a, b), j| {
                    (a + with[j].unwrap(), b + without[j].unwrap())
                })
        };
        let ((rw, r0), (uw, u0)) = (sum("rural"), sum("urban"));
        let true_change = 100.0 * (rw / (rw + uw) - r0 / (r0 + u0));
        let (region, cat, m) = region_category_method(&table);
        let (lo, hi) = (
            f64s(&table, "rural_share_change_lower_pp"),
            f64s(&table, "rural_share_change_upper_pp"),
        );
        let i = (0..table.height())
            .find(|&i| region[i] == "000000" && cat[i] == "all_targeted" && m[i] == method)
            .expect("national all_targeted row");
        eprintln!(
            "{method}: national rural share change, truth {true_change:.2} pp, interval [{:?}, {:?}]",
            lo[i], hi[i]
        );
        assert!(
            lo[i].unwrap() <= true_change && true_change <= hi[i].unwrap(),
            "{method}: {true_change} outside [{:?}, {:?}]",
            lo[i],
            hi[i]
        );
    }
}

/// The 下乡 link: nationally, rural sales ran higher against their baseline in the weeks of the
/// regions' countryside-sales events than in their other window weeks (the generator raises the
/// rural tilt by 1.5 on those days), for both methods; and at least ten regions with such events
/// have a link (measured on the demo with a stand-in of the area writer: 18 regions; nationally,
/// all targeted categories, +11.8 % [−9.1, +37.6] prior_year and +39.8 % [+7.4, +82.0] two_year).
#[test]
fn the_demo_countryside_link_has_the_injected_sign() {
    let out = demo_dir();
    let table = read_parquet(&out.join("lake/urban_rural_uplift/data.parquet"));
    let (region, cat, m) = region_category_method(&table);
    let (lift, lo, hi) = (
        f64s(&table, "countryside_lift_pct"),
        f64s(&table, "countryside_lift_lower_pct"),
        f64s(&table, "countryside_lift_upper_pct"),
    );
    let regional = (0..table.height())
        .filter(|&i| region[i] != "000000" && cat[i] == "all_targeted" && lift[i].is_some())
        .count();
    assert!(regional >= 10, "{regional} regions with a 下乡 link");
    for method in ["prior_year", "two_year"] {
        let i = (0..table.height())
            .find(|&i| region[i] == "000000" && cat[i] == "all_targeted" && m[i] == method)
            .expect("national all_targeted row");
        eprintln!(
            "{method}: national 下乡 link {:?} [{:?}, {:?}] over {regional} regions",
            lift[i], lo[i], hi[i]
        );
        assert!(lift[i].unwrap() > 0.0, "{method}: {:?}", lift[i]);
        assert!(lo[i].unwrap() < lift[i].unwrap() && lift[i].unwrap() < hi[i].unwrap());
    }
}

/// The demo's 城乡 section and sheet as published: the section leads with the history method the
/// headline's backtest supports ([`homeseason_report::split_lead`] of the lake's
/// `uplift_backtest`) and says why; a region's class estimate below the data floor (support worked
/// out here from the lake's `payment_area_daily`) is blank in the workbook with its reason in the
/// last column while the national rows keep every figure; and the national section sets 社零's
/// rural share beside the payment data's.
#[test]
fn the_demo_town_and_country_section_leads_by_the_evidence_and_withholds_thin_classes() {
    use calamine::Reader as _;
    let out = demo_dir();
    let campaign = homeseason_schema::campaign::Campaign::default_2023();
    let backtest = read_parquet(&out.join("lake/uplift_backtest/data.parquet"));
    let lead = homeseason_report::split_lead(Some(&backtest));
    // The demo season's 2022 is distorted: the backtest shows it.
    assert_eq!(lead.method, "two_year", "{lead:?}");
    let md = std::fs::read_to_string(out.join("report/report.md")).unwrap();
    let start = md
        .find("## 6.3 城乡 Town and country")
        .expect("section 6.3");
    let section = &md[start..];
    let section = &section[..section[3..].find("\n#").map_or(section.len(), |e| e + 3)];
    assert!(
        section.contains(&lead.zh) && section.contains(&lead.en),
        "{section}"
    );
    assert!(
        section.contains("对照社零") && section.contains("Against 社零"),
        "{section}"
    );
    // Which region rows of the lead method fall below the floor.
    let table = read_parquet(&out.join("lake/urban_rural_uplift/data.parquet"));
    let area = homeseason_lake::Lake::open(out.join("lake"))
        .unwrap()
        .read_table(homeseason_schema::contract::tables::PAYMENT_AREA_DAILY)
        .unwrap();
    let support = homeseason_pipeline::dimensions::class_support(
        &area,
        "urban_rural",
        campaign.baseline.pre_period,
        &campaign,
    )
    .unwrap();
    let (region, cat, m) = region_category_method(&table);
    let rural = f64s(&table, "rural_uplift_pct");
    let thin: Vec<(String, String)> = (0..table.height())
        .filter(|&i| m[i] == lead.method && region[i] != "000000" && rural[i].is_some())
        .filter(|&i| {
            let s = support
                .get(&(region[i].clone(), cat[i].clone(), "rural".to_owned()))
                .copied()
                .unwrap_or_default();
            s.merchants < homeseason_metrics::urban_rural::FLOOR_MERCHANTS
                || s.days < homeseason_metrics::urban_rural::FLOOR_DAYS
        })
        .map(|i| (region[i].clone(), cat[i].clone()))
        .collect();
    eprintln!("{} region rows below the data floor (rural)", thin.len());
    assert!(
        !thin.is_empty(),
        "the demo's sparse area sample has thin rural rows"
    );
    assert!(
        section.contains("数据底线") && section.contains("Data floor"),
        "{section}"
    );
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook(out.join("report/workbook.xlsx")).expect("workbook opens");
    let range = book
        .worksheet_range(homeseason_report::workbook::URBAN_RURAL_SHEET)
        .expect("城乡 sheet");
    let columns = homeseason_report::workbook::URBAN_RURAL_COLUMNS;
    let col_of = |name: &str| columns.iter().position(|c| *c == name).unwrap() as u32;
    let (c_uplift, c_why) = (
        col_of("乡村提升率 Rural uplift (%)"),
        col_of("留空原因 Why blank"),
    );
    let text = |r: u32, c: u32| {
        range
            .get_value((r, c))
            .map(ToString::to_string)
            .unwrap_or_default()
    };
    let lead_label = format!("{}（主 lead）", lead.method);
    let c_urban = col_of("城镇提升率 Urban uplift (%)");
    let mut withheld: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut national = 0;
    for r in 3..range.height() as u32 {
        if text(r, 3) != lead_label {
            continue;
        }
        let (code, why) = (text(r, 0), text(r, c_why));
        if code == "000000" {
            national += 1;
            assert!(!why.contains("too little data"), "national row {r}: {why}");
            continue;
        }
        if why.contains("too little data") {
            assert!(
                text(r, c_uplift).is_empty() || text(r, c_urban).is_empty(),
                "row {r} ({code}) withheld but shows both classes: {why}"
            );
            *withheld.entry(code).or_default() += 1;
        }
    }
    assert!(national >= 5, "{national} national rows of {lead_label}");
    let mut checked = 0;
    for (code, _) in &thin {
        let expected = thin.iter().filter(|(c, _)| c == code).count();
        let found = withheld.get(code).copied().unwrap_or(0);
        assert!(
            found >= expected,
            "{code}: {found} withheld rows, {expected} thin rural rows"
        );
        checked += 1;
    }
    assert!(checked > 0, "no thin row found in the sheet");
}
