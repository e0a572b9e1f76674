//! Feed 5: subsidies and consumption vouchers (补贴/消费券) paid out, one file per region, with the
//! leverage they were generated from.
//!
//! Part of each targeted cell's base uplift is driven by subsidies: a share σ ~ U(35 %, 60 %) of it
//! (per region × category), on the days the region pays subsidies. Every region pays from the
//! window's start, but a few ("late" regions, about a quarter, at most nine) start on the first
//! Monday at least five weeks in; before that their uplift lacks the subsidy's part — so a
//! time-based comparison of a late region with the regions already paying has something to find.
//! The subsidy paid out is the subsidy-driven sales divided by a known leverage ratio
//! L ~ U(2.5, 6) per region × category (incremental sales per yuan of subsidy), split over
//! instruments and funding sources by fixed shares, written per ISO week (a week cut by the
//! window's edge as a date range), in 元 — or 万元 for a few regions, and with two prefecture-level
//! cities in one region's file.
//!
//! `truth_subsidies.csv` holds, per region × targeted category, per region over the targeted
//! categories (`all_targeted`) and nationally (`000000`): the subsidy paid out, the subsidy-driven
//! and total injected sales, the leverage ratio (subsidy-driven sales per yuan) and the injected
//! uplift per yuan of subsidy (拉动比's estimand), each also as the payment data carry them (the
//! institutions' net share of each cell: acq_a's 85 % and wallet_b's expected share, net of
//! refunds) — the estimands of the pipeline's leverage table, which reads payments.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use homeseason_schema::campaign::Instrument;
use homeseason_schema::category::Category;
use homeseason_schema::region::Region;

use crate::geo::counties;
use crate::latent::Latent;
use crate::model::{ACQ_A_SHARE, MCCS, MccSpec, cat_index, mccs_of};
use crate::output::{Out, csv_bytes_in, csv_writer, fixed};
use crate::{SynthConfig, SynthError};

/// Share of the base uplift driven by subsidies, uniform range.
pub(crate) const SUBSIDY_SHARE: (f64, f64) = (0.35, 0.60);
/// Incremental sales per yuan of subsidy, uniform range.
pub(crate) const LEVERAGE: (f64, f64) = (2.5, 6.0);
/// A late region starts paying on the first Monday at least this many days after the window's start.
pub(crate) const LATE_AFTER_DAYS: i64 = 35;

/// Header of the subsidy files.
pub(crate) const HEADER: [&str; 9] = [
    "地区",
    "地市代码",
    "品类",
    "统计期",
    "补贴方式",
    "资金来源",
    "发放金额（元）",
    "核销数量",
    "备注",
];

/// Header of `truth_subsidies.csv`.
pub(crate) const TRUTH_HEADER: &str = "region_code,category,subsidy_start,late,subsidy_paid_yuan,subsidy_uplift_yuan,uplift_yuan,true_leverage,uplift_per_subsidy,observed_leverage,observed_uplift_per_subsidy";

/// The regions that start paying late: about a quarter of them (one at least, nine at most; none
/// when there is a single region, which would leave no region to compare with).
pub(crate) fn late_regions(seed: u64, codes: &[String]) -> Vec<String> {
    if codes.len() < 2 {
        return Vec::new();
    }
    crate::choose_regions(seed, "subsidy-late", codes, (codes.len() / 4).clamp(1, 9))
}

/// The day a late region starts paying: the first Monday at least [`LATE_AFTER_DAYS`] after the
/// window's start.
pub(crate) fn late_start(window_start: NaiveDate) -> NaiveDate {
    let mut d = window_start + Duration::days(LATE_AFTER_DAYS);
    while d.weekday() != Weekday::Mon {
        d += Duration::days(1);
    }
    d
}

/// How a category's subsidy splits over instruments (id, share).
fn instrument_shares(c: Category) -> &'static [(&'static str, f64)] {
    match c {
        Category::HomeAppliances => &[
            ("trade_in", 0.55),
            ("voucher", 0.35),
            ("instalment_interest", 0.10),
        ],
        Category::Furniture => &[("voucher", 0.7), ("trade_in", 0.3)],
        Category::BuildingMaterials => &[("voucher", 0.6), ("trade_in", 0.4)],
        _ => &[("voucher", 1.0)],
    }
}

/// How an instrument's money splits over funding sources (Chinese, share), and the mean subsidy per
/// redemption in yuan.
fn funding(instrument: &str) -> (&'static [(&'static str, f64)], f64) {
    match instrument {
        "trade_in" => (&[("省级", 0.4), ("市级", 0.2), ("企业", 0.4)], 1200.0),
        "instalment_interest" => (&[("市级", 0.5), ("企业", 0.5)], 300.0),
        _ => (&[("省级", 0.5), ("市级", 0.3), ("企业", 0.2)], 150.0),
    }
}

/// The institutions' net share of an MCC's value in the payment data: acq_a's share plus wallet_b's
/// expected one, net of refunds.
fn observed_share(m: &MccSpec, scale: f64) -> f64 {
    (ACQ_A_SHARE + crate::wallet_b::value_share(m, scale)) * (1.0 - m.refund_rate)
}

/// Subsidy paid out, yuan, by region r in category ci on day d.
fn paid(lat: &Latent, r: usize, ci: usize, d: usize) -> f64 {
    let driven: f64 = MCCS
        .iter()
        .enumerate()
        .filter(|(_, m)| cat_index(m.category) == ci)
        .map(|(mi, _)| lat.value(r, mi, d) * lat.subsidy_uplift(r, ci, d))
        .sum();
    driven / lat.leverage(r, ci)
}

/// The reporting periods of the window: ISO weeks, cut by the window's edges (day-index ranges,
/// end exclusive, with their labels).
fn periods(lat: &Latent) -> Vec<(usize, usize, String)> {
    let (w0, w1) = lat.window;
    let w1 = w1.min(lat.nd());
    let mut out: Vec<(usize, usize, String)> = Vec::new();
    let mut d = w0;
    while d < w1 {
        let start = lat.days[d].date;
        let mut e = d + 1;
        while e < w1 && lat.days[e].date.weekday() != Weekday::Mon {
            e += 1;
        }
        let end = lat.days[e - 1].date;
        let label = if start.weekday() == Weekday::Mon && end.weekday() == Weekday::Sun {
            let w = start.iso_week();
            format!("{}-W{:02}", w.year(), w.week())
        } else {
            format!("{start}~{end}")
        };
        out.push((d, e, label));
        d = e;
    }
    out
}

/// The instrument of `id` in the campaign's list, or its first instrument when the campaign does
/// not list it.
fn pick<'a>(instruments: &'a [Instrument], id: &str) -> Option<&'a Instrument> {
    instruments
        .iter()
        .find(|i| i.id == id)
        .or_else(|| instruments.first())
}

/// Two prefecture-level cities of a province (from its counties), if it has two.
fn two_cities(code: &'static str) -> Option<(String, String)> {
    // `counties` falls back to the key itself for a region it does not know.
    if code == "XPCC" || !code.ends_with("0000") {
        return None;
    }
    let mut cities: Vec<String> = counties(code)
        .iter()
        .filter(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()))
        .map(|c| format!("{}00", &c[..4]))
        .filter(|c| !c.ends_with("0000"))
        .filter(|c| {
            homeseason_schema::region::Regions::embedded()
                .roll_up(c)
                .is_ok_and(|r| r.code == code)
        })
        .collect();
    cities.sort();
    cities.dedup();
    (cities.len() >= 2).then(|| (cities[0].clone(), cities[1].clone()))
}

/// The region whose file reports two prefecture-level cities: one province with two, chosen by a
/// named stream.
pub(crate) fn city_regions(seed: u64, regions: &[&'static Region]) -> Vec<String> {
    let with_cities: Vec<String> = regions
        .iter()
        .filter(|r| two_cities(r.code.as_str()).is_some())
        .map(|r| r.code.clone())
        .collect();
    crate::choose_regions(seed, "subsidy-cities", &with_cities, 1)
}

/// Write `subsidies/subsidies_<region_code>.csv`: amounts in 万元 for `wan_regions` (the header
/// says so), GB18030 for `gb18030_regions`, the rows of `city_regions` split between two
/// prefecture-level cities (60 % / 40 %).
pub(crate) fn write(
    cfg: &SynthConfig,
    lat: &Latent,
    wan_regions: &[String],
    gb18030_regions: &[String],
    city_regions: &[String],
    out: &mut Out<'_>,
) -> Result<(), SynthError> {
    let instruments = cfg.campaign.instruments();
    let periods = periods(lat);
    for (r, &region) in lat.regions.iter().enumerate() {
        let wan = wan_regions.contains(&region.code);
        let cities = if city_regions.contains(&region.code) {
            two_cities(region.code.as_str())
        } else {
            None
        };
        let splits: Vec<(String, f64)> = match &cities {
            Some((a, b)) => vec![(a.clone(), 0.6), (b.clone(), 0.4)],
            None => vec![(String::new(), 1.0)],
        };
        let mut w = csv_writer();
        let mut header = HEADER;
        if wan {
            header[6] = "发放金额（万元）";
        }
        w.write_record(header)
            .map_err(|e| SynthError::Csv(e.to_string()))?;
        let mut rows = 0;
        for &c in &cfg.campaign.categories.targeted {
            let ci = cat_index(c);
            for (d0, d1, label) in &periods {
                let total: f64 = (*d0..*d1).map(|d| paid(lat, r, ci, d)).sum();
                if total <= 0.0 {
                    continue;
                }
                for &(id, share) in instrument_shares(c) {
                    let Some(inst) = pick(&instruments, id) else {
                        continue;
                    };
                    let (sources, ticket) = funding(id);
                    for &(source, fshare) in sources {
                        for (city, cshare) in &splits {
                            let yuan = total * share * fshare * cshare;
                            let count = (yuan / ticket).round().max(1.0);
                            let amount = if wan {
                                fixed(yuan / 10_000.0, 6)
                            } else {
                                fixed(yuan, 2)
                            };
                            w.write_record([
                                region.name_zh.as_str(),
                                city.as_str(),
                                c.name_zh(),
                                label.as_str(),
                                inst.name_zh.as_str(),
                                source,
                                &amount,
                                &format!("{count:.0}"),
                                "",
                            ])
                            .map_err(|e| SynthError::Csv(e.to_string()))?;
                            rows += 1;
                        }
                    }
                }
            }
        }
        let bytes = csv_bytes_in(w, gb18030_regions.contains(&region.code))?;
        out.write(
            &format!("subsidies/subsidies_{}.csv", region.code),
            &bytes,
            rows,
        )?;
    }
    Ok(())
}

/// Sums of one truth cell.
#[derive(Default, Clone, Copy)]
struct Sums {
    paid: f64,
    driven: f64,
    uplift: f64,
    driven_seen: f64,
    uplift_seen: f64,
}

impl Sums {
    fn add(&mut self, o: Sums) {
        self.paid += o.paid;
        self.driven += o.driven;
        self.uplift += o.uplift;
        self.driven_seen += o.driven_seen;
        self.uplift_seen += o.uplift_seen;
    }
}

/// Write `truth_subsidies.csv` (see the module's documentation).
pub(crate) fn write_truth(
    cfg: &SynthConfig,
    lat: &Latent,
    out: &mut Out<'_>,
) -> Result<(), SynthError> {
    let (w0, w1) = lat.window;
    let w1 = w1.min(lat.nd());
    let targeted = &cfg.campaign.categories.targeted;
    let mut national = vec![Sums::default(); targeted.len()];
    let mut buf = String::from(TRUTH_HEADER);
    buf.push('\n');
    let mut rows = 0;
    let ratio = |a: f64, b: f64| {
        if b > 0.0 {
            fixed(a / b, 6)
        } else {
            String::new()
        }
    };
    let mut line = |buf: &mut String, code: &str, cat: &str, start: &str, late: bool, s: Sums| {
        buf.push_str(&format!(
            "{code},{cat},{start},{late},{},{},{},{},{},{},{}\n",
            fixed(s.paid, 2),
            fixed(s.driven, 2),
            fixed(s.uplift, 2),
            ratio(s.driven, s.paid),
            ratio(s.uplift, s.paid),
            ratio(s.driven_seen, s.paid),
            ratio(s.uplift_seen, s.paid),
        ));
        rows += 1;
    };
    for (r, region) in lat.regions.iter().enumerate() {
        let start = lat.subsidy_start(r);
        let late = start > lat.days[w0.min(lat.nd() - 1)].date;
        let mut all = Sums::default();
        for (k, &c) in targeted.iter().enumerate() {
            let ci = cat_index(c);
            let mut s = Sums::default();
            for (mi, m) in mccs_of(ci) {
                let seen = observed_share(m, cfg.scale);
                for d in w0..w1 {
                    let v = lat.value(r, mi, d);
                    let driven = v * lat.subsidy_uplift(r, ci, d);
                    let uplift = v * lat.uplift(r, ci, d);
                    s.driven += driven;
                    s.uplift += uplift;
                    s.driven_seen += driven * seen;
                    s.uplift_seen += uplift * seen;
                }
            }
            s.paid = (w0..w1).map(|d| paid(lat, r, ci, d)).sum();
            line(&mut buf, &region.code, c.id(), &start.to_string(), late, s);
            all.add(s);
            national[k].add(s);
        }
        line(
            &mut buf,
            &region.code,
            "all_targeted",
            &start.to_string(),
            late,
            all,
        );
    }
    let first = lat.days[w0.min(lat.nd() - 1)].date.to_string();
    let mut all = Sums::default();
    for (k, &c) in targeted.iter().enumerate() {
        line(&mut buf, "000000", c.id(), &first, false, national[k]);
        all.add(national[k]);
    }
    line(&mut buf, "000000", "all_targeted", &first, false, all);
    out.write("truth_subsidies.csv", buf.as_bytes(), rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_regions_start_on_a_monday_five_weeks_in() {
        let d = late_start(NaiveDate::from_ymd_opt(2023, 9, 1).unwrap());
        assert_eq!(d, NaiveDate::from_ymd_opt(2023, 10, 9).unwrap());
        let codes: Vec<String> = (0..37).map(|i| format!("{i:06}")).collect();
        assert_eq!(late_regions(1, &codes).len(), 9);
        assert_eq!(late_regions(1, &codes[..2]).len(), 1);
        assert!(late_regions(1, &codes[..1]).is_empty());
    }

    #[test]
    fn shares_sum_to_one() {
        for c in Category::ALL {
            let s: f64 = instrument_shares(c).iter().map(|(_, x)| x).sum();
            assert!((s - 1.0).abs() < 1e-12, "{c}");
        }
        for id in ["voucher", "trade_in", "instalment_interest"] {
            let s: f64 = funding(id).0.iter().map(|(_, x)| x).sum();
            assert!((s - 1.0).abs() < 1e-12, "{id}");
        }
    }

    #[test]
    fn subsidies_drive_part_of_the_uplift_with_the_known_leverage() {
        let (cfg, lat) = crate::test_support::small_latent(7);
        let (w0, w1) = lat.window;
        // Ningbo and Zhejiang: one starts late.
        let starts: Vec<NaiveDate> = (0..2).map(|r| lat.subsidy_start(r)).collect();
        assert!(starts.contains(&cfg.campaign.window.start));
        assert!(starts.contains(&late_start(cfg.campaign.window.start)));
        for (r, &start) in starts.iter().enumerate() {
            for &c in &cfg.campaign.categories.targeted {
                let ci = cat_index(c);
                let mut sub_days = 0;
                for d in w0..w1 {
                    let sub = lat.subsidy_uplift(r, ci, d);
                    assert!(sub <= lat.uplift(r, ci, d) + 1e-12);
                    if lat.days[d].date < start {
                        assert_eq!(sub, 0.0);
                    } else {
                        assert!(sub > 0.0);
                        sub_days += 1;
                        // Paid × leverage = subsidy-driven sales, day by day.
                        let driven: f64 = MCCS
                            .iter()
                            .enumerate()
                            .filter(|(_, m)| cat_index(m.category) == ci)
                            .map(|(mi, _)| lat.value(r, mi, d) * sub)
                            .sum();
                        let p = paid(&lat, r, ci, d);
                        assert!((p * lat.leverage(r, ci) - driven).abs() < 1e-6 * driven);
                    }
                }
                assert!(sub_days > 0);
                let l = lat.leverage(r, ci);
                assert!((LEVERAGE.0..LEVERAGE.1).contains(&l));
            }
        }
        let labels: Vec<String> = periods(&lat).into_iter().map(|p| p.2).collect();
        assert_eq!(
            labels.first().map(String::as_str),
            Some("2023-09-01~2023-09-03")
        );
        assert_eq!(labels.get(1).map(String::as_str), Some("2023-W36"));
        assert_eq!(labels.last().map(String::as_str), Some("2023-W52"));
    }
}
