//! Feed 2: QR wallet wallet_b's transaction rows.
//!
//! wallet_b's book is the 15 % of each cell's value that acq_a does not carry; the file holds a thinned sample of its
//! transactions with realistic ticket sizes, so that scale 1 gives about 220 000 rows over three years
//! and `scale` multiplies the counts. Each sale's expected amount is proportional to the cell's value
//! with the campaign, so the wallet's window ratio matches the truth in expectation. Merchants sit in
//! county-level areas; in the campaign the sale's merchant is drawn with the urban/rural class
//! weights of [`crate::urban_rural`].

use std::fmt::Write as _;

use chrono::Datelike;

use crate::geo::{counties, dense_cities, geo, total_weight};
use crate::latent::Latent;
use crate::model::{CATEGORY_BASE, MCCS, MccSpec, NMCC, cat_index};
use crate::output::{Out, push_cents};
use crate::rng::{Stream, stream};
use crate::urban_rural::{Classes, class_of};
use crate::{Progress, SynthConfig, SynthError};

/// Header of wallet_b's files.
pub(crate) const HEADER: &str =
    "txn_id,institution,txn_time,merchant_id,mcc,region_code,amount,txn_type,channel";

/// Probability that a sale is later refunded.
pub(crate) const REFUND_P: f64 = 0.03;
/// Probability that a sale is reversed minutes later.
pub(crate) const REVERSAL_P: f64 = 0.005;
/// Days the calibration of the row counts assumes (three years).
const REFERENCE_DAYS: f64 = 1095.0;

/// Expected wallet_b sale rows per yuan of cell value at scale 1, for an MCC.
pub(crate) fn rows_per_yuan(m: &MccSpec) -> f64 {
    let reference =
        m.share * CATEGORY_BASE[cat_index(m.category)] * total_weight() * REFERENCE_DAYS;
    m.wallet_rows / reference
}

/// Expected wallet_b amount as a share of the cell's value, at a scale.
pub(crate) fn value_share(m: &MccSpec, scale: f64) -> f64 {
    scale * rows_per_yuan(m) * m.wallet_ticket.0
}

#[derive(Clone, Copy)]
enum Kind {
    Sale,
    Refund,
    Reversal,
}

#[derive(Clone, Copy)]
struct Txn {
    day: usize,
    secs: u32,
    seq_no: u64,
    region: u16,
    mcc: u8,
    merchant: u16,
    cents: i64,
    kind: Kind,
    online: bool,
}

struct Merchants {
    ids: Vec<String>,
    county: Vec<&'static str>,
    cumulative: Vec<f64>,
    /// Per class of [`crate::urban_rural::CLASSES`]: the merchants of the class and their
    /// cumulative weights (for the campaign days' class-weighted pick).
    by_class: [(Vec<usize>, Vec<f64>); 3],
}

impl Merchants {
    /// A merchant drawn with one uniform: from the book's own weights, or, with class weights `p`
    /// (summing to one), first the class and then a merchant of it by the book's weights.
    fn pick(&self, st: &mut Stream, p: Option<[f64; 3]>) -> usize {
        let Some(p) = p else {
            return st.pick_cumulative(&self.cumulative);
        };
        let mut x = st.u01();
        let last = (0..3)
            .rev()
            .find(|k| !self.by_class[*k].0.is_empty() && p[*k] > 0.0);
        for (k, (members, cumulative)) in self.by_class.iter().enumerate() {
            if members.is_empty() || p[k] <= 0.0 {
                continue;
            }
            if x < p[k] || Some(k) == last {
                let target = (x / p[k]).min(1.0) * cumulative.last().copied().unwrap_or(0.0);
                let i = cumulative
                    .partition_point(|&c| c <= target)
                    .min(cumulative.len() - 1);
                return members[i];
            }
            x -= p[k];
        }
        0
    }
}

/// The counties of the wallet_b merchant book of region `code` and MCC `m`, with each merchant's
/// pick weight ([`crate::urban_rural`] takes the class shares from them).
pub(crate) fn book_weights(
    cfg: &SynthConfig,
    code: &'static str,
    m: &MccSpec,
) -> (Vec<&'static str>, Vec<f64>) {
    let book = merchants(cfg, code, m);
    let weights = book
        .cumulative
        .iter()
        .scan(0.0, |prev, c| {
            let w = c - *prev;
            *prev = *c;
            Some(w)
        })
        .collect();
    (book.county, weights)
}

/// The county-level areas of a region's merchants and the cumulative weights a merchant's area is
/// drawn with ([`crate::AreaSpread`]), and how many merchants the book holds for MCC `m`.
///
/// Sample: [`crate::geo::counties`], the first (the main city's core district) holding about a
/// third of the merchants. Dense: every city's areas ([`crate::geo::dense_cities`]), each city a
/// weight `U(0.5, 1.5)` (stream `wallet_b-dense/<region>`, the same for every MCC) and the city of
/// the region's main district ×4, split 70 / 30 between its urban and its rural area; four times
/// the sample's merchants and at least six per area.
fn areas(
    cfg: &SynthConfig,
    code: &'static str,
    m: &MccSpec,
) -> (Vec<&'static str>, Vec<f64>, usize) {
    let pool = geo(code).weight * m.wallet_pool;
    let mut acc = 0.0;
    if cfg.areas == crate::AreaSpread::Dense {
        let cities = dense_cities(code);
        if !cities.is_empty() {
            let mut s = stream(cfg.seed, &["wallet_b-dense", code]);
            let main = homeseason_schema::division::Divisions::embedded()
                .prefecture_of(counties(code)[0])
                .map_or(code, |p| p.code.as_str());
            let (mut cs, mut cum) = (Vec::new(), Vec::new());
            for city in cities {
                let mut w = s.uniform(0.5, 1.5);
                if city.code == main || cities.len() == 1 {
                    w *= 4.0;
                }
                for (i, a) in city.areas.iter().enumerate() {
                    acc += w * match (city.areas.len(), i) {
                        (1, _) => 1.0,
                        (_, 0) => 0.7,
                        _ => 0.3,
                    };
                    cs.push(*a);
                    cum.push(acc);
                }
            }
            let n = (4.0 * pool).round().max(6.0 * cs.len() as f64).min(9_999.0) as usize;
            return (cs, cum, n);
        }
    }
    let cs = counties(code);
    let mut cum = Vec::with_capacity(cs.len());
    let others = (cs.len() - 1) as f64;
    for i in 0..cs.len() {
        acc += if i == 0 && others > 0.0 {
            0.35 / 0.65 * others
        } else {
            1.0
        };
        cum.push(acc);
    }
    (cs, cum, pool.round().clamp(3.0, 999.0) as usize)
}

fn merchants(cfg: &SynthConfig, code: &'static str, m: &MccSpec) -> Merchants {
    let mut s = stream(cfg.seed, &["wallet_b-merchants", code, m.code]);
    let (cs, ccum, n) = areas(cfg, code, m);
    // Dense: the last merchants (the smallest) are one per area, so no area is left without.
    let forced = if cfg.areas == crate::AreaSpread::Dense {
        cs.len()
    } else {
        0
    };
    let mut ids = Vec::with_capacity(n);
    let mut county = Vec::with_capacity(n);
    let mut cumulative = Vec::with_capacity(n);
    let mut acc = 0.0;
    for i in 0..n {
        let c = if i + forced >= n {
            cs[i + forced - n]
        } else {
            cs[s.pick_cumulative(&ccum)]
        };
        ids.push(format!("M{c}{}{i:03}", m.code));
        county.push(c);
        let w = 1.0 / ((i + 1) as f64).powf(0.8);
        acc += w;
        cumulative.push(acc);
    }
    let mut by_class: [(Vec<usize>, Vec<f64>); 3] = Default::default();
    let mut prev = 0.0;
    for (i, c) in cumulative.iter().enumerate() {
        let (members, cum) = &mut by_class[class_of(county[i])];
        members.push(i);
        let next = cum.last().copied().unwrap_or(0.0) + (c - prev);
        cum.push(next);
        prev = *c;
    }
    Merchants {
        ids,
        county,
        cumulative,
        by_class,
    }
}

fn draw_secs(s: &mut Stream, hours: &[(u32, u32)], online: bool) -> u32 {
    let spans: &[(u32, u32)] = if online { &[(480, 1440)] } else { hours };
    let total: u32 = spans.iter().map(|(a, b)| b - a).sum();
    let mut x = (s.u01() * f64::from(total * 60)) as u32;
    for &(a, b) in spans {
        let len = (b - a) * 60;
        if x < len {
            return (a * 60 + x).min(86_399);
        }
        x -= len;
    }
    spans[0].0 * 60
}

/// Write `payments/wallet_b/payment_transactions_wallet_b_YYYY-MM.csv`, one file per month.
pub(crate) fn write(
    cfg: &SynthConfig,
    lat: &Latent,
    classes: &Classes,
    out: &mut Out<'_>,
    progress: &dyn Progress,
) -> Result<(), SynthError> {
    let nd = lat.nd();
    let mut streams: Vec<Stream> = Vec::with_capacity(lat.regions.len() * NMCC);
    let mut books: Vec<Merchants> = Vec::with_capacity(lat.regions.len() * NMCC);
    for r in &lat.regions {
        let code: &'static str = r.code.as_str();
        for m in &MCCS {
            streams.push(stream(cfg.seed, &["wallet_b", code, m.code]));
            books.push(merchants(cfg, code, m));
        }
    }
    let per_yuan: Vec<f64> = MCCS.iter().map(rows_per_yuan).collect();
    let mut pending: Vec<Txn> = Vec::new();
    let mut seq_no: u64 = 0;
    for month in lat.months() {
        let label = month.label();
        progress.step(&format!("wallet_b {label}"));
        let mut txns: Vec<Txn> = Vec::new();
        for d in month.first..month.end {
            for r in 0..lat.regions.len() {
                if lat.missing(r, d) {
                    continue;
                }
                for (mi, m) in MCCS.iter().enumerate() {
                    let st = &mut streams[r * NMCC + mi];
                    let book = &books[r * NMCC + mi];
                    let s = lat.online_share(mi, d);
                    // Town and country: the campaign's class weights (crate::urban_rural).
                    let class_p = classes.pick_weights(r, mi, d, lat);
                    for (online, share) in [(false, 1.0 - s), (true, s)] {
                        if share <= 0.0 {
                            continue;
                        }
                        // The channel's part, with its own uplift (crate::channels).
                        let x = lat.x_channel(r, mi, d, online);
                        let n = st.poisson(cfg.scale * per_yuan[mi] * x);
                        for _ in 0..n {
                            let merchant = book.pick(st, class_p);
                            let secs = draw_secs(st, m.hours, online);
                            let (mean, sigma) = m.wallet_ticket;
                            let cents =
                                (st.lognormal_mean(mean, sigma) * 100.0).round().max(100.0) as i64;
                            let base = Txn {
                                day: d,
                                secs,
                                seq_no,
                                region: u16::try_from(r).unwrap_or(u16::MAX),
                                mcc: u8::try_from(mi).unwrap_or(u8::MAX),
                                merchant: u16::try_from(merchant).unwrap_or(u16::MAX),
                                cents,
                                kind: Kind::Sale,
                                online,
                            };
                            seq_no += 1;
                            txns.push(base);
                            if st.chance(REVERSAL_P) {
                                let later = (secs + st.range_incl(30, 1800) as u32).min(86_399);
                                txns.push(Txn {
                                    secs: later,
                                    seq_no,
                                    kind: Kind::Reversal,
                                    ..base
                                });
                                seq_no += 1;
                            } else if st.chance(REFUND_P) {
                                let refund_cents = if st.chance(0.7) {
                                    cents
                                } else {
                                    (cents as f64 * st.uniform(0.1, 0.9)).round().max(1.0) as i64
                                };
                                let (day, rsecs) = if secs < 86_399 - 600 && st.chance(0.3) {
                                    let later = st.range_incl(i64::from(secs) + 600, 86_399) as u32;
                                    (d, later)
                                } else {
                                    let delay = st.range_incl(1, 14) as usize;
                                    (d + delay, draw_secs(st, m.hours, online))
                                };
                                let refund = Txn {
                                    day,
                                    secs: rsecs,
                                    seq_no,
                                    cents: refund_cents,
                                    kind: Kind::Refund,
                                    ..base
                                };
                                seq_no += 1;
                                if day < nd {
                                    if day < month.end {
                                        txns.push(refund);
                                    } else {
                                        pending.push(refund);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let (now, later): (Vec<Txn>, Vec<Txn>) = pending.drain(..).partition(|t| t.day < month.end);
        pending = later;
        txns.extend(now);
        txns.sort_by_key(|t| (t.day, t.secs, t.seq_no));

        let mut buf = String::with_capacity(100 * txns.len() + 100);
        buf.push_str(HEADER);
        buf.push('\n');
        let mut seq = 0u32;
        let mut last_day = usize::MAX;
        for t in &txns {
            if t.day != last_day {
                last_day = t.day;
                seq = 0;
            }
            seq += 1;
            let date = lat.days[t.day].date;
            let book = &books[usize::from(t.region) * NMCC + usize::from(t.mcc)];
            let merchant = usize::from(t.merchant);
            let _ = write!(
                buf,
                "WB{:04}{:02}{:02}{seq:06},wallet_b,{date} {:02}:{:02}:{:02},{},{},{},",
                date.year(),
                date.month(),
                date.day(),
                t.secs / 3600,
                t.secs / 60 % 60,
                t.secs % 60,
                book.ids[merchant],
                MCCS[usize::from(t.mcc)].code,
                book.county[merchant],
            );
            push_cents(&mut buf, t.cents);
            let kind = match t.kind {
                Kind::Sale => "sale",
                Kind::Refund => "refund",
                Kind::Reversal => "reversal",
            };
            let _ = writeln!(
                buf,
                ",{kind},{}",
                if t.online { "online" } else { "offline" }
            );
        }
        out.write(
            &format!("payments/wallet_b/payment_transactions_wallet_b_{label}.csv"),
            buf.as_bytes(),
            txns.len(),
        )?;
    }
    Ok(())
}
