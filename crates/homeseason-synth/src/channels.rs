//! Channel effects (线上线下): the campaign lifts the online and the offline part of a targeted
//! category by different, known amounts, and `truth_channels.csv` says by how much.
//!
//! For region r and targeted category c a tilt `k_on(r, c) ~ U(1.2, 1.6)` is drawn (stream
//! `channel/<region>/<category>`). On day d with online share `s` (the MCC's, festivals included)
//! and campaign uplift `u(r, c, d)`, the online part is multiplied by `1 + k_on·u` and the offline
//! part by `1 + k_off·u`, `k_off = (1 − s·k_on) / (1 − s)`, so that `s·k_on + (1 − s)·k_off = 1`: the
//! cell's total, and so every other truth and feed total, is unchanged — the campaign only moves
//! sales towards online (offline grows less than the total; on festival days with a high online
//! share, `k_off` can be negative: some offline sales moved online). acq_a's daily rows and
//! wallet_b's transactions both split by channel this way.

use homeseason_schema::category::Category;
use homeseason_schema::region::Region;

use crate::latent::Latent;
use crate::model::{MCCS, NCAT, cat_index, mccs_of};
use crate::output::{Out, fixed, write_parts};
use crate::rng::stream;
use crate::{SynthConfig, SynthError};

/// Range of the online tilt `k_on`.
pub(crate) const ONLINE_TILT: (f64, f64) = (1.2, 1.6);

/// The file of the channel truth.
pub const TRUTH_CHANNELS_FILE: &str = "truth_channels.csv";

/// Header of [`TRUTH_CHANNELS_FILE`]: one row per region (and `000000`, the sum of the regions) ×
/// targeted category × channel with any sales; `true_uplift_pct` = 100 × (Σ window value of the
/// channel with uplift / Σ without − 1), `online_tilt` the drawn `k_on` (empty for the nation),
/// `with_yuan` and `without_yuan` the two sums (all institutions' value, so the online share with
/// and without the campaign follows from the two channels' rows).
pub(crate) const HEADER: &str =
    "campaign_id,region_code,category,channel,true_uplift_pct,online_tilt,with_yuan,without_yuan";

/// Draw `k_on` per region × category (1 for untargeted categories).
pub(crate) fn tilts(
    seed: u64,
    regions: &[&'static Region],
    targeted: &[bool; NCAT],
) -> Vec<[f64; NCAT]> {
    regions
        .iter()
        .map(|r| {
            let mut k = [1.0; NCAT];
            for c in Category::ALL {
                let ci = cat_index(c);
                if targeted[ci] {
                    k[ci] = stream(seed, &["channel", &r.code, c.id()])
                        .uniform(ONLINE_TILT.0, ONLINE_TILT.1);
                }
            }
            k
        })
        .collect()
}

/// The multiplier of a channel's uplift for online share `s` and tilt `k_on` (module docs).
pub(crate) fn channel_factor(s: f64, k_on: f64, online: bool) -> f64 {
    if online {
        if s > 0.0 { k_on } else { 1.0 }
    } else if s < 1.0 {
        (1.0 - s * k_on) / (1.0 - s)
    } else {
        1.0
    }
}

impl Latent {
    /// The value with uplift of one channel's part of region r, MCC m, day d: the channel's share of
    /// [`Latent::value`] times `1 + k·u` (module docs). The two channels add up to [`Latent::x`].
    pub(crate) fn x_channel(&self, r: usize, m: usize, d: usize, online: bool) -> f64 {
        let s = self.online_share(m, d);
        let part = if online { s } else { 1.0 - s };
        if part <= 0.0 {
            return 0.0;
        }
        let c = cat_index(MCCS[m].category);
        let k = channel_factor(s, self.online_tilt(r, c), online);
        self.value(r, m, d) * part * (1.0 + k * self.uplift(r, c, d))
    }
}

/// Write [`TRUTH_CHANNELS_FILE`].
pub(crate) fn write(cfg: &SynthConfig, lat: &Latent, out: &mut Out<'_>) -> Result<(), SynthError> {
    let (w0, w1) = lat.window_in_span();
    write_parts(
        cfg,
        lat,
        out,
        (TRUTH_CHANNELS_FILE, HEADER),
        ["online", "offline"],
        "",
        |r, ci| {
            let mut sums = [(0.0, 0.0); 2];
            for ((with, without), online) in sums.iter_mut().zip([true, false]) {
                for (mi, _) in mccs_of(ci) {
                    for d in w0..w1 {
                        let s = lat.online_share(mi, d);
                        *without += lat.value(r, mi, d) * if online { s } else { 1.0 - s };
                        *with += lat.x_channel(r, mi, d, online);
                    }
                }
            }
            (sums, fixed(lat.online_tilt(r, ci), 4))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_channels_add_up_to_the_cells_value() {
        let (_, lat) = crate::test_support::small_latent(7);
        let mut online_more = 0;
        for (r, m, mcc, d) in crate::test_support::window_cells(&lat, 9) {
            let (on, off) = (lat.x_channel(r, m, d, true), lat.x_channel(r, m, d, false));
            let x = lat.x(r, m, d);
            assert!(
                (on + off - x).abs() <= 1e-9 * x.max(1.0),
                "{on}+{off} vs {x}"
            );
            let s = lat.online_share(m, d);
            if s > 0.0 && lat.uplift(r, cat_index(mcc.category), d) > 0.0 {
                let v = lat.value(r, m, d);
                assert!(on / (v * s) > off / (v * (1.0 - s)), "online grows more");
                online_more += 1;
            }
        }
        assert!(online_more > 0, "some online cells in the window");
        assert!(
            (channel_factor(0.3, 1.5, true) * 0.3 + channel_factor(0.3, 1.5, false) * 0.7 - 1.0)
                .abs()
                < 1e-12
        );
        assert!((channel_factor(0.0, 1.5, false) - 1.0).abs() < 1e-12);
    }
}
