//! Feed 1: acquirer acq_a's pre-aggregated daily rows.

use std::fmt::Write as _;

use crate::geo::geo;
use crate::latent::Latent;
use crate::model::{ACQ_A_SHARE, MCCS, NMCC};
use crate::output::{Out, push_yuan};
use crate::rng::{Stream, stream};
use crate::{Progress, SynthConfig, SynthError};

/// Header of acq_a's files: the institution's own export, in yuan, with the names `payment_daily` had
/// before contract version 3 (`amount`, `refund_amount`), which stay accepted input headers of
/// `amount_yuan` and `refund_amount_yuan` — so every sample season exercises them.
pub(crate) const HEADER: &str =
    "date,institution,region_code,mcc,channel,txn_count,amount,refund_amount,merchant_count";

/// Online tickets relative to offline ones.
const ONLINE_TICKET: f64 = 0.8;
/// Online merchant book relative to the offline one.
const ONLINE_POOL: f64 = 0.08;

/// Write `payments/acq_a/payment_daily_acq_a_YYYY-MM.csv`, one file per month.
pub(crate) fn write(
    cfg: &SynthConfig,
    lat: &Latent,
    out: &mut Out<'_>,
    progress: &dyn Progress,
) -> Result<(), SynthError> {
    let mut streams: Vec<Stream> = lat
        .regions
        .iter()
        .flat_map(|r| MCCS.iter().map(move |m| (r, m)))
        .map(|(r, m)| stream(cfg.seed, &["acq_a", &r.code, m.code]))
        .collect();
    let weights: Vec<f64> = lat.regions.iter().map(|r| geo(&r.code).weight).collect();
    for month in lat.months() {
        let label = month.label();
        progress.step(&format!("acq_a {label}"));
        let mut buf =
            String::with_capacity(80 * lat.regions.len() * 20 * (month.end - month.first));
        buf.push_str(HEADER);
        buf.push('\n');
        let mut rows = 0;
        for d in month.first..month.end {
            let date = lat.days[d].date.to_string();
            for (r, region) in lat.regions.iter().enumerate() {
                if lat.missing(r, d) {
                    continue;
                }
                for (mi, m) in MCCS.iter().enumerate() {
                    let st = &mut streams[r * NMCC + mi];
                    let s = lat.online_share(mi, d);
                    for (channel, share) in [("offline", 1.0 - s), ("online", s)] {
                        let online = channel == "online";
                        // The channel's part, with its own uplift (crate::channels).
                        let amount = ACQ_A_SHARE * lat.x_channel(r, mi, d, online);
                        if share <= 0.0 || amount < 0.005 {
                            continue;
                        }
                        let ticket = m.acq_ticket * if online { ONLINE_TICKET } else { 1.0 };
                        let n = (amount / ticket * st.lognormal_mean(1.0, 0.08))
                            .round()
                            .max(1.0);
                        let refund = amount * m.refund_rate * st.lognormal_mean(1.0, 0.25);
                        let pool =
                            (weights[r] * m.acq_pool * if online { ONLINE_POOL } else { 1.0 })
                                .round()
                                .max(2.0);
                        let active = (pool * (1.0 - (-n / pool).exp()) * st.uniform(0.9, 1.0))
                            .round()
                            .clamp(1.0, n);
                        rows += 1;
                        let _ = write!(
                            buf,
                            "{date},acq_a,{},{},{channel},{n:.0},",
                            region.code, m.code
                        );
                        push_yuan(&mut buf, amount);
                        buf.push(',');
                        push_yuan(&mut buf, refund);
                        let _ = writeln!(buf, ",{active:.0}");
                    }
                }
            }
        }
        out.write(
            &format!("payments/acq_a/payment_daily_acq_a_{label}.csv"),
            buf.as_bytes(),
            rows,
        )?;
    }
    Ok(())
}
