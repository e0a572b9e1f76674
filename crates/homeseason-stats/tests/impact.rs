//! Tests of the counterfactual regression (`homeseason_stats::impact`): calibration on synthetic
//! daily series shaped like the sample season, tfcausalimpact's reference data, determinism, missing
//! values and degenerate inputs.

use std::path::PathBuf;

use homeseason_stats::impact::{
    Design, ErrorModel, Impact, ImpactError, ImpactModel, ImpactOptions, causal_impact, moving_mean,
};
use homeseason_stats::numeric::box_muller;
use homeseason_test_support::assert_close;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

// ---------------------------------------------------------------------------------------------
// Synthetic daily series shaped like the sample season (homeseason-synth's latent model).
// ---------------------------------------------------------------------------------------------

/// Noise magnitudes of the generator.
#[derive(Debug, Clone, Copy)]
struct Noise {
    /// Shared regional economy factor: AR coefficient and innovation sd.
    econ: (f64, f64),
    /// iid lognormal noise sd per series.
    iid: f64,
    /// AR(1) noise per series: coefficient and innovation sd.
    ar: (f64, f64),
}

/// The sample season's magnitudes (homeseason-synth `latent.rs`).
const SAMPLE_NOISE: Noise = Noise {
    econ: (0.98, 0.004),
    iid: 0.04,
    ar: (0.8, 0.012),
};

const DAYS: usize = 1000;
const POST: std::ops::Range<usize> = 878..1000;
const PRE: std::ops::Range<usize> = 0..878;
/// A depressed month in the pre-period (like December 2022) with per-series sensitivity.
const SHOCK: std::ops::Range<usize> = 700..731;

struct Scenario {
    y: Vec<f64>,
    controls: Vec<Vec<f64>>,
    holiday: Vec<u32>,
    first_weekday: u32,
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-300);
    box_muller(u1, rng.random())
}

/// A stationary AR(1) process `x_t = φ x_{t−1} + sd ε_t`, started from its stationary
/// distribution.
struct Ar1 {
    phi: f64,
    sd: f64,
    x: f64,
}

impl Ar1 {
    /// The process with `(φ, sd)`, its first value drawn from `rng`.
    fn start((phi, sd): (f64, f64), rng: &mut ChaCha8Rng) -> Self {
        let x = normal(rng) * sd / (1.0 - phi * phi).sqrt();
        Self { phi, sd, x }
    }

    /// The value at day `t`: the start for `t = 0`, one more innovation from `rng` after that.
    fn at(&mut self, t: usize, rng: &mut ChaCha8Rng) -> f64 {
        if t > 0 {
            self.x = self.phi * self.x + self.sd * normal(rng);
        }
        self.x
    }
}

/// Target and three controls sharing growth, an AR(1) economy and a pre-period shock; each with its
/// own level, yearly season, weekday pattern, holiday response and lognormal + AR(1) noise. The
/// target is multiplied by `1 + effect` over the post-period.
fn scenario(seed: u64, noise: Noise, effect: f64) -> Scenario {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let first_weekday = (seed % 7) as u32;
    let holiday: Vec<u32> = (0..DAYS)
        .map(|t| {
            let doy = (t + 60) % 365; // index 0 is 1 March: day 213 of the cycle is 1 October
            u32::from((213..220).contains(&doy))
        })
        .collect();
    let growth = 0.02 + 0.06 * rng.random::<f64>();
    let mut e = Ar1::start(noise.econ, &mut rng);
    let econ: Vec<f64> = (0..DAYS).map(|t| e.at(t, &mut rng)).collect();
    // Target first, then supermarket-, restaurant-, fuel-like controls.
    let sensitivity = [1.0, 0.7, 1.6, 1.2];
    let holiday_lift = [0.55, 0.11, 0.30, 0.18];
    let mut series = Vec::new();
    for (s, (&sens, &lift)) in sensitivity.iter().zip(&holiday_lift).enumerate() {
        let level = 9.0 + rng.random::<f64>();
        let (a1, p1) = (0.03 + 0.07 * rng.random::<f64>(), 6.3 * rng.random::<f64>());
        let (a2, p2) = (0.03 * rng.random::<f64>(), 6.3 * rng.random::<f64>());
        let weekend = if s == 0 {
            0.35
        } else {
            0.05 + 0.15 * rng.random::<f64>()
        };
        let dow: Vec<f64> = (0..7)
            .map(|d| {
                if d >= 5 {
                    weekend
                } else {
                    0.03 * normal(&mut rng)
                }
            })
            .collect();
        let mut ar = Ar1::start(noise.ar, &mut rng);
        let values: Vec<f64> = (0..DAYS)
            .map(|t| {
                let a = ar.at(t, &mut rng);
                let tf = t as f64;
                let w = 2.0 * std::f64::consts::PI * tf / 365.25;
                let weekday = (t + first_weekday as usize) % 7;
                let shock = if SHOCK.contains(&t) {
                    (1.0 - sens * 0.22f64).ln()
                } else {
                    0.0
                };
                let log_v = level
                    + growth * tf / 365.25
                    + a1 * (w + p1).sin()
                    + a2 * (2.0 * w + p2).sin()
                    + dow[weekday]
                    + lift * f64::from(holiday[t])
                    + econ[t]
                    + shock
                    + a
                    + noise.iid * normal(&mut rng)
                    - 0.5 * noise.iid * noise.iid;
                log_v.exp()
            })
            .collect();
        series.push(values);
    }
    let mut y = series.remove(0);
    for v in &mut y[POST] {
        *v *= 1.0 + effect;
    }
    Scenario {
        y,
        controls: series,
        holiday,
        first_weekday,
    }
}

/// A series whose controls measure the shared economy well (larger factor, quieter series): the
/// economy transfers to the target through the regression and the uplift is recoverable to a few
/// tenths of a point.
const INSTRUMENTED_NOISE: Noise = Noise {
    econ: (0.98, 0.01),
    iid: 0.01,
    ar: (0.8, 0.002),
};

/// How the analysis is set up on a scenario.
#[derive(Debug, Clone, Copy)]
struct Setup {
    /// Smooth the log controls with a centred moving mean of this half-width (0 = raw).
    smooth: usize,
    /// Replace the controls by one index: their mean log, smoothed (half-width `smooth`).
    index: bool,
    /// Skip the shock month in the fit.
    mask_shock: bool,
    /// Include a linear trend.
    trend: bool,
    errors: ErrorModel,
}

const SETUP: Setup = Setup {
    smooth: 0,
    index: false,
    mask_shock: true,
    trend: true,
    errors: ErrorModel::TwoAr1PlusNoise,
};

fn design_for(sc: &Scenario, setup: Setup) -> Design {
    let time: Vec<f64> = (0..DAYS).map(|t| t as f64).collect();
    let mut d = Design::new(DAYS);
    if setup.trend {
        d = d
            .covariate(
                "trend",
                &time.iter().map(|t| t / 365.25).collect::<Vec<_>>(),
            )
            .unwrap();
    }
    let mut d = d
        .weekly_cycle(sc.first_weekday)
        .unwrap()
        .categorical("holiday", &sc.holiday)
        .unwrap()
        .fourier("year", &time, 365.25, 2)
        .unwrap();
    if setup.index {
        let mean_log: Vec<f64> = (0..DAYS)
            .map(|t| {
                if sc.holiday[t] == 1 {
                    f64::NAN
                } else {
                    sc.controls.iter().map(|c| c[t].ln()).sum::<f64>() / sc.controls.len() as f64
                }
            })
            .collect();
        return d
            .covariate(
                "economy index",
                &moving_mean(&mean_log, setup.smooth, setup.smooth),
            )
            .unwrap();
    }
    for (j, c) in sc.controls.iter().enumerate() {
        let logged: Vec<f64> = c.iter().map(|v| v.ln()).collect();
        d = if setup.smooth > 0 {
            // Smooth without the holiday days, so their spikes do not leak into the neighbours.
            let masked: Vec<f64> = logged
                .iter()
                .zip(&sc.holiday)
                .map(|(v, h)| if *h == 1 { f64::NAN } else { *v })
                .collect();
            d.covariate(
                format!("ln control {j} (smoothed)"),
                &moving_mean(&masked, setup.smooth, setup.smooth),
            )
            .unwrap()
        } else {
            d.covariate(format!("ln control {j}"), &logged).unwrap()
        };
    }
    d
}

fn run(seed: u64, noise: Noise, effect: f64, setup: Setup, draws: usize) -> Impact {
    let sc = scenario(seed, noise, effect);
    let design = design_for(&sc, setup);
    let mut y = sc.y.clone();
    if setup.mask_shock {
        for v in &mut y[SHOCK] {
            *v = f64::NAN;
        }
    }
    let options = ImpactOptions {
        draws,
        seed,
        errors: setup.errors,
        ..ImpactOptions::default()
    };
    causal_impact(&y, &design, PRE, POST, &options).unwrap()
}

/// Run `f` over `seeds` on two threads (the tests' budget is a two-core machine), in seed order.
fn over_seeds<T: Send>(seeds: std::ops::Range<u64>, f: impl Fn(u64) -> T + Sync) -> Vec<T> {
    let seeds: Vec<u64> = seeds.collect();
    let half = seeds.len() / 2;
    let (a, b) = seeds.split_at(half);
    std::thread::scope(|s| {
        let first = s.spawn(|| a.iter().map(|&x| f(x)).collect::<Vec<T>>());
        let mut out: Vec<T> = b.iter().map(|&x| f(x)).collect();
        let mut head = first.join().unwrap();
        head.append(&mut out);
        head
    })
}

#[derive(Debug)]
struct Calibration {
    seeds: usize,
    mae_pp: f64,
    bias_pp: f64,
    coverage: f64,
    mean_width_pp: f64,
}

/// Relative-effect error and coverage with a known uplift `effect` on the given seeds.
fn calibrate(
    seeds: std::ops::Range<u64>,
    noise: Noise,
    effect: f64,
    setup: Setup,
    draws: usize,
) -> Calibration {
    let rel: Vec<_> = over_seeds(seeds, |seed| {
        run(seed, noise, effect, setup, draws).cumulative.relative
    });
    let n = rel.len() as f64;
    Calibration {
        seeds: rel.len(),
        mae_pp: 100.0 * rel.iter().map(|r| (r.value - effect).abs()).sum::<f64>() / n,
        bias_pp: 100.0 * rel.iter().map(|r| r.value - effect).sum::<f64>() / n,
        coverage: rel.iter().filter(|r| r.covers(effect)).count() as f64 / n,
        mean_width_pp: 100.0 * rel.iter().map(|r| r.upper - r.lower).sum::<f64>() / n,
    }
}

/// Share of seeds where the two-sided p-value falls below α = 0.1 with no effect.
fn false_positive_rate(
    seeds: std::ops::Range<u64>,
    noise: Noise,
    setup: Setup,
    draws: usize,
) -> f64 {
    let p: Vec<f64> = over_seeds(seeds, |seed| run(seed, noise, 0.0, setup, draws).p_value);
    p.iter().filter(|&&p| p < 0.1).count() as f64 / p.len() as f64
}

#[expect(
    clippy::print_stderr,
    reason = "calibration numbers are reported to the developer"
)]
fn report(label: &str, text: &str) {
    eprintln!("{label}: {text}");
}

// ---------------------------------------------------------------------------------------------
// Calibration.
// ---------------------------------------------------------------------------------------------

#[test]
fn recovers_a_known_uplift_when_the_controls_carry_the_economy() {
    let c = calibrate(0..20, INSTRUMENTED_NOISE, 0.08, SETUP, 300);
    report("instrumented series, +8 %", &format!("{c:?}"));
    assert!(c.mae_pp < 0.5, "{c:?}");
    assert!(c.bias_pp.abs() < 0.25, "{c:?}");
    assert!((0.75..=1.0).contains(&c.coverage), "{c:?}");
}

/// 160 series: on 40 the coverage's own binomial noise is ±5 points, and a calibrated 90 % interval
/// covers 39 or 40 of them 8 % of the time — beyond the bound below. (Both normal samplers were
/// measured on these 160: 87.5 % with the polar method, 88.75 % with the ziggurat.)
#[test]
fn intervals_cover_a_known_uplift_on_sample_like_series() {
    let c = calibrate(100..260, SAMPLE_NOISE, 0.08, SETUP, 300);
    report("sample-like series, +8 %", &format!("{c:?}"));
    assert!((0.8..=0.97).contains(&c.coverage), "{c:?}");
    assert!(c.bias_pp.abs() < 0.75, "{c:?}");
    assert!(c.mae_pp < 2.5, "{c:?}");
}

#[test]
fn false_positive_rate_without_an_effect_on_sample_like_series() {
    let fpr = false_positive_rate(1000..1040, SAMPLE_NOISE, SETUP, 300);
    report(
        "sample-like series, no effect",
        &format!("false-positive rate at alpha 0.1: {fpr:.3}"),
    );
    assert!((0.025..=0.2).contains(&fpr), "{fpr}");
}

/// The long calibration run: 200 seeds per figure, several set-ups. In release:
/// `cargo test --release --workspace --locked --test impact -- --ignored --nocapture`.
#[test]
#[ignore = "slow: about 2,800 fits; run in release"]
fn calibration_exhaustive() {
    let n: u64 = std::env::var("IMPACT_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let smoothed = Setup {
        smooth: 14,
        ..SETUP
    };
    for (label, noise, setup) in [
        (
            "sample-like, raw controls (default set-up)",
            SAMPLE_NOISE,
            SETUP,
        ),
        (
            "sample-like, controls smoothed ±14 days",
            SAMPLE_NOISE,
            smoothed,
        ),
        (
            "sample-like, one smoothed index of the controls (±7)",
            SAMPLE_NOISE,
            Setup {
                index: true,
                smooth: 7,
                ..SETUP
            },
        ),
        (
            "sample-like, one AR(1) + noise",
            SAMPLE_NOISE,
            Setup {
                errors: ErrorModel::Ar1PlusNoise,
                ..SETUP
            },
        ),
        (
            "sample-like, independent errors",
            SAMPLE_NOISE,
            Setup {
                errors: ErrorModel::Independent,
                ..SETUP
            },
        ),
        (
            "sample-like, shock month not masked",
            SAMPLE_NOISE,
            Setup {
                mask_shock: false,
                ..SETUP
            },
        ),
        ("instrumented", INSTRUMENTED_NOISE, SETUP),
    ] {
        let t = std::time::Instant::now();
        let c = calibrate(0..n, noise, 0.08, setup, 1000);
        let fpr = false_positive_rate(10_000..10_000 + n, noise, setup, 1000);
        report(
            label,
            &format!(
                "{} seeds: MAE {:.2} pp, bias {:+.2} pp, 90% coverage {:.3}, mean width {:.2} pp, FPR(p<0.1) {fpr:.3} [{:.0} s]",
                c.seeds,
                c.mae_pp,
                c.bias_pp,
                c.coverage,
                c.mean_width_pp,
                t.elapsed().as_secs_f64()
            ),
        );
        if label.contains("default") || label.contains("smoothed") || label.contains("instrumented")
        {
            assert!((0.8..=0.96).contains(&c.coverage), "{label}: {c:?}");
            assert!((0.04..=0.16).contains(&fpr), "{label}: {fpr}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reference data.
// ---------------------------------------------------------------------------------------------

fn benchmarks() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/benchmarks/causalimpact");
    assert!(
        dir.is_dir(),
        "tfcausalimpact's example data is missing: expected {} (tests/fixtures/benchmarks/causalimpact/ in the repository)",
        dir.display()
    );
    dir
}

fn read_columns(file: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let path = benchmarks().join(file);
    let mut rdr =
        csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers: Vec<String> = rdr.headers().unwrap().iter().map(str::to_string).collect();
    let mut cols = vec![Vec::new(); headers.len()];
    for rec in rdr.records() {
        let rec = rec.unwrap();
        for (c, v) in cols.iter_mut().zip(rec.iter()) {
            c.push(v.to_string());
        }
    }
    (headers, cols)
}

fn numeric(cols: &(Vec<String>, Vec<Vec<String>>), name: &str) -> Vec<f64> {
    let j = cols
        .0
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}"));
    cols.1[j].iter().map(|v| v.parse().unwrap()).collect()
}

/// A design with the numeric columns `names` of `cols` as covariates, in that order.
fn covariates(cols: &(Vec<String>, Vec<Vec<String>>), names: &[&str]) -> Design {
    let mut design = Design::new(cols.1[0].len());
    for name in names {
        design = design.covariate(*name, &numeric(cols, name)).unwrap();
    }
    design
}

fn index_of(dates: &[String], date: &str) -> usize {
    dates
        .iter()
        .position(|d| d == date)
        .unwrap_or_else(|| panic!("no date {date}"))
}

/// Linear-scale options at CausalImpact's default 95 % level, for comparing with its published
/// summaries.
fn reference_options() -> ImpactOptions {
    ImpactOptions {
        level: 0.95,
        log: false,
        ..ImpactOptions::default()
    }
}

#[test]
fn arma_example_matches_causalimpact_r() {
    // The R notebook's arma data: y ≈ 1.2·X + noise, +1 added from index 70 (pre 0–69, post 70–99).
    // R CausalImpact's summary (tfcausalimpact notebooks/R/arma/summary.txt): actual 121 (3637),
    // prediction 120 (0.3) [120, 121], absolute effect 0.89 (0.3) [0.27, 1.5], relative 0.74 %
    // (0.25 %) [0.22 %, 1.2 %], tail-area p 0.003.
    let cols = read_columns("arma_data.csv");
    let (y, x) = (numeric(&cols, "y"), numeric(&cols, "X"));
    let design = Design::new(y.len()).covariate("X", &x).unwrap();
    let model = ImpactModel::fit(&y, &design, 0..70, &reference_options()).unwrap();
    let cf = model.counterfactual(&design, 70..100).unwrap();
    let imp = cf.impact(&y[70..100], 0.95).unwrap();
    report("arma (R notebook, +1)", &format!("\n{imp}"));
    assert_close(
        imp.cumulative.actual,
        3636.86,
        0.01,
        "imp.cumulative.actual",
    );
    let a = &imp.average;
    assert!((a.predicted.value - 120.34).abs() < 0.4, "{a:?}");
    assert!((0.6..1.2).contains(&a.absolute.value), "{a:?}");
    assert!((0.005..0.01).contains(&a.relative.value), "{a:?}");
    assert!(imp.tail_probability < 0.05, "{}", imp.tail_probability);
    // At the project's 90 % level the +1 is detected: the interval excludes zero.
    let at90 = cf.impact(&y[70..100], 0.9).unwrap();
    assert!(at90.average.absolute.lower > 0.0, "{:?}", at90.average);
    assert!(at90.p_value < 0.1);
}

#[test]
fn arma_example_matches_the_tfcausalimpact_readme() {
    // tfcausalimpact's README: the fixture with +5 added from index 70. Its summary: actual 125.23
    // (3756.86), prediction 120.34 (0.31) [119.76, 120.97], absolute effect 4.89 (0.31)
    // [4.26, 5.47], relative 4.06 % (0.26 %) [3.54 %, 4.55 %], p 0.0.
    let cols = read_columns("arma_data_fixture.csv");
    let (mut y, x) = (numeric(&cols, "y"), numeric(&cols, "X"));
    for v in &mut y[70..] {
        *v += 5.0;
    }
    let design = Design::new(y.len()).covariate("X", &x).unwrap();
    let imp = causal_impact(&y, &design, 0..70, 70..100, &reference_options()).unwrap();
    report("arma (tfcausalimpact README, +5)", &format!("\n{imp}"));
    let a = &imp.average;
    assert_close(a.actual, 125.23, 0.01, "a.actual");
    assert!((a.predicted.value - 120.34).abs() < 0.4, "{a:?}");
    assert!((4.5..5.3).contains(&a.absolute.value), "{a:?}");
    assert!(a.absolute.lower > 3.5 && a.absolute.upper < 6.0, "{a:?}");
    assert!((0.037..0.044).contains(&a.relative.value), "{a:?}");
    assert!(imp.tail_probability < 0.005);
    assert!(imp.prob_causal_effect > 0.995);
}

/// tfcausalimpact's `comparison_data`: `CHANGED` against the three `NOT_CHANGED_*` series, with the
/// README's pre-period end (exclusive) and post-period start and end (exclusive).
fn comparison() -> (Vec<f64>, Design, usize, usize, usize) {
    let cols = read_columns("comparison_data.csv");
    let dates = cols.1[0].clone();
    let y = numeric(&cols, "CHANGED");
    let design = covariates(&cols, &["NOT_CHANGED_1", "NOT_CHANGED_2", "NOT_CHANGED_3"]);
    let (pre_end, post_start, post_end) = (
        index_of(&dates, "2019-07-14") + 1,
        index_of(&dates, "2019-07-15"),
        index_of(&dates, "2019-08-01") + 1,
    );
    (y, design, pre_end, post_start, post_end)
}

#[test]
fn comparison_data_shows_no_significant_effect_like_causalimpact() {
    // The README's R-vs-Python comparison: pre 2019-04-16 – 2019-07-14, post 2019-07-15 – 2019-08-01.
    // R: relative effect −0.83 % (0.93 %) [−2.6 %, 1 %], p 0.2; Python (HMC): −0.89 % [−2.68 %, 0.91 %].
    let (y, design, pre_end, post_start, post_end) = comparison();
    let imp = causal_impact(
        &y,
        &design,
        0..pre_end,
        post_start..post_end,
        &reference_options(),
    )
    .unwrap();
    report("comparison_data", &format!("\n{imp}"));
    assert_eq!(imp.days_used, 18);
    let r = &imp.cumulative.relative;
    assert!((-0.03..0.015).contains(&r.value), "{r:?}");
    assert!(r.covers(0.0), "no significant effect: {r:?}");
    assert!(imp.p_value > 0.05);
}

/// The Volkswagen emissions scandal (tfcausalimpact's `volks_data`, weekly closing prices;
/// VolksWagen against BMW and Allianz; pre 2011-01-02 – 2015-09-13, post 2015-09-20 – 2017-03-19).
/// R CausalImpact (local level; tfcausalimpact notebooks/R/volks/summary.txt): actual 127 (10026),
/// prediction 171 (5.6) [159, 182], relative effect −26 % (3.2 %) [−32 %, −19 %], tail-area p
/// 0.00106 (two-sided 0.002).
fn volks() -> (
    Vec<f64>,
    Design,
    std::ops::Range<usize>,
    std::ops::Range<usize>,
) {
    let cols = read_columns("volks_data.csv");
    let dates = cols.1[0].clone();
    let y = numeric(&cols, "VolksWagen");
    let design = covariates(&cols, &["BMW", "Allianz"]);
    let pre = 0..index_of(&dates, "2015-09-13") + 1;
    let post = index_of(&dates, "2015-09-20")..index_of(&dates, "2017-03-19") + 1;
    (y, design, pre, post)
}

#[test]
fn volks_data_matches_causalimpact_with_either_error_model() {
    let (y, design, pre, post) = volks();
    assert_eq!(post.len(), 79);
    let auto = ImpactOptions {
        errors: ErrorModel::Auto,
        ..reference_options()
    };
    let imp = causal_impact(&y, &design, pre.clone(), post.clone(), &auto).unwrap();
    report("volks_data (auto)", &format!("\n{imp}"));
    // Stock prices drift, but under CausalImpact's prior on the level (s.d. near 0.01 s.d.(y),
    // 32 prior observations) the local level predicts the pre-period worse than a slow AR(1)
    // (φ ≈ 0.975; log Bayes factor ≈ 42), which `auto` therefore keeps.
    assert_eq!(imp.diagnostics.error_model, ErrorModel::TwoAr1PlusNoise);
    assert_eq!(imp.diagnostics.model_scores.len(), 2);
    let r = &imp.cumulative.relative;
    assert_close(imp.average.actual, 127.0, 0.5, "average actual");
    assert!((-0.32..-0.19).contains(&r.value), "{r:?}");
    assert!(r.upper < 0.0, "{r:?}");
    assert!(
        imp.p_value < 0.1 && imp.effect_sign() == -1,
        "{}",
        imp.p_value
    );
    // The AR errors alone, for the record.
    let ar = causal_impact(&y, &design, pre.clone(), post.clone(), &reference_options()).unwrap();
    report("volks_data (AR errors)", &format!("\n{ar}"));
    let ll = causal_impact(
        &y,
        &design,
        pre,
        post,
        &ImpactOptions {
            errors: ErrorModel::LocalLevel,
            ..reference_options()
        },
    )
    .unwrap();
    report("volks_data (local level)", &format!("\n{ll}"));
    // The local level with the same prior as R: the data still pull the random walk's share up
    // (≈ 0.8 of the variance), so the 79-week forecast is wider than R's (−21 % [−33 %, −5 %]
    // here), but it finds the drop and covers R's estimate.
    let r = &ll.cumulative.relative;
    assert!(r.covers(-0.26) && r.upper < 0.0, "{r:?}");
    assert!(ll.p_value < 0.05 && ll.effect_sign() == -1);
}

#[test]
fn comparison_data_with_the_model_chosen_by_predictive_score() {
    let (y, design, pre_end, post_start, post_end) = comparison();
    for errors in [ErrorModel::Auto, ErrorModel::LocalLevel] {
        let opts = ImpactOptions {
            errors,
            ..reference_options()
        };
        let imp = causal_impact(&y, &design, 0..pre_end, post_start..post_end, &opts).unwrap();
        report(
            &format!("comparison_data ({errors:?})"),
            &format!("\n{imp}"),
        );
        // R: −0.83 % [−2.6 %, 1 %], tail-area p 0.20 (two-sided 0.40).
        let r = &imp.cumulative.relative;
        assert!((-0.03..0.015).contains(&r.value), "{r:?}");
        if errors == ErrorModel::Auto {
            assert!(r.covers(0.0), "{r:?}");
            assert!(imp.p_value > 0.1, "{}", imp.p_value);
        } else {
            // The local level with CausalImpact's prior on the level is nearly a static
            // regression with white noise here, and the residuals' lag-1 autocorrelation (0.27)
            // goes unmodelled: its interval (−1.2 % [−2.4 %, −0.04 %]) is narrower than R's, which
            // its prior on the observation noise (IG(25, 5·s.d.(y)²), a prior R² of 0.8 where the
            // fit has 0.98) keeps wide. `auto` keeps the AR errors, which model the correlation.
            assert!(r.lower > -0.03 && r.upper < 0.015, "{r:?}");
        }
    }
}

/// A date absent from the data is a missing day: with a post-period day's response *and*
/// covariates missing, the fit runs through it and the summary skips it.
#[test]
fn a_missing_post_period_day_is_missing_not_an_error() {
    let (mut y, design) = small(4);
    let mut control: Vec<f64> = design.column(0).to_vec();
    y[260] = f64::NAN;
    control[260] = f64::NAN;
    let patched = Design::new(y.len())
        .covariate("control", &control)
        .unwrap()
        .weekly_cycle(0)
        .unwrap();
    let imp = causal_impact(&y, &patched, 0..240, 240..300, &small_options()).unwrap();
    assert_eq!(imp.days_used, 59);
    assert!(imp.points[20].predicted.value.is_nan() && imp.points[20].actual.is_nan());
    assert!(imp.points[21].predicted.value.is_finite());
}

#[test]
fn local_level_recovers_a_known_effect_on_a_drifting_series() {
    // A target that follows its control plus a random-walk drift the control does not carry;
    // +10 % from day 240.
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let n = 300;
    let mut drift = 0.0;
    let control: Vec<f64> = (0..n)
        .map(|t| 100.0 + 5.0 * (t as f64 / 9.0).sin())
        .collect();
    let y: Vec<f64> = control
        .iter()
        .enumerate()
        .map(|(t, c)| {
            drift += 0.004 * normal(&mut rng);
            let lift = if t >= 240 { 1.1 } else { 1.0 };
            2.0 * c * drift.exp() * lift * (0.01 * normal(&mut rng)).exp()
        })
        .collect();
    let design = Design::new(n).log_covariate("control", &control).unwrap();
    let opts = ImpactOptions {
        errors: ErrorModel::Auto,
        draws: 400,
        ..ImpactOptions::default()
    };
    let imp = causal_impact(&y, &design, 0..240, 240..300, &opts).unwrap();
    report("drifting series, +10 % (auto)", &format!("\n{imp}"));
    let ll = causal_impact(
        &y,
        &design,
        0..240,
        240..300,
        &ImpactOptions {
            errors: ErrorModel::LocalLevel,
            ..opts.clone()
        },
    )
    .unwrap();
    report("drifting series, +10 % (local level)", &format!("\n{ll}"));
    // The drift (0.4 %/day) is far above CausalImpact's prior guess for the level (0.01 s.d.(y),
    // here ≈ 0.06 %/day), so the evidence prefers the slow AR(1) (φ ≈ 0.99) to that local level;
    // both recover the effect.
    assert_eq!(imp.diagnostics.model_scores.len(), 2);
    for fit in [&imp, &ll] {
        let r = &fit.cumulative.relative;
        assert!(r.covers(0.10) && r.lower > 0.0, "{r:?}");
    }
}

#[test]
fn google_data_shows_the_documented_uplift() {
    // tfcausalimpact's test: pre 2020-01-01 – 2020-03-01, post 2020-03-02 – 2020-03-31.
    // R: actual 156, prediction 129 (4.5) [120, 138], relative effect 21 % (3.5 %) [14 %, 28 %], p 0.001.
    let cols = read_columns("google_data.csv");
    let dates = cols.1[3].clone();
    let y = numeric(&cols, "y");
    let design = covariates(&cols, &["x1", "x2"]);
    let (pre_end, post_end) = (
        index_of(&dates, "2020-03-01") + 1,
        index_of(&dates, "2020-03-31") + 1,
    );
    let imp = causal_impact(
        &y,
        &design,
        0..pre_end,
        pre_end..post_end,
        &reference_options(),
    )
    .unwrap();
    report("google_data", &format!("\n{imp}"));
    assert_eq!(imp.average.actual.floor(), 156.0);
    let r = &imp.cumulative.relative;
    assert!((0.12..0.30).contains(&r.value), "{r:?}");
    assert!(r.lower > 0.0, "{r:?}");
    assert!(imp.p_value < 0.05);
}

// ---------------------------------------------------------------------------------------------
// Determinism, missing values, the report, degenerate inputs.
// ---------------------------------------------------------------------------------------------

/// A small daily series: target = 1.5 × control × weekly pattern × noise, 300 days, +10 % from 240.
fn small(seed: u64) -> (Vec<f64>, Design) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = 300;
    let mut level = 0.0;
    let control: Vec<f64> = (0..n)
        .map(|_| {
            level = 0.9 * level + 0.02 * normal(&mut rng);
            (5.0 + level + 0.03 * normal(&mut rng)).exp()
        })
        .collect();
    let y: Vec<f64> = control
        .iter()
        .enumerate()
        .map(|(t, c)| {
            let week = if t % 7 >= 5 { 1.2 } else { 1.0 };
            let lift = if t >= 240 { 1.1 } else { 1.0 };
            1.5 * c * week * lift * (0.03 * normal(&mut rng)).exp()
        })
        .collect();
    let design = Design::new(n)
        .log_covariate("control", &control)
        .unwrap()
        .weekly_cycle(0)
        .unwrap();
    (y, design)
}

fn small_options() -> ImpactOptions {
    ImpactOptions {
        draws: 300,
        ..ImpactOptions::default()
    }
}

#[test]
fn the_same_seed_gives_identical_output() {
    let (y, design) = small(1);
    let a = causal_impact(&y, &design, 0..240, 240..300, &small_options()).unwrap();
    let b = causal_impact(&y, &design, 0..240, 240..300, &small_options()).unwrap();
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    assert_eq!(a.to_string(), b.to_string());
    let other = ImpactOptions {
        seed: 7,
        ..small_options()
    };
    let c = causal_impact(&y, &design, 0..240, 240..300, &other).unwrap();
    assert_ne!(a.cumulative.predicted.value, c.cumulative.predicted.value);
    // The fit does not depend on the seed of the draws.
    assert_eq!(a.diagnostics, c.diagnostics);
    assert!(
        (a.cumulative.relative.value - 0.1).abs() < 0.03,
        "{:?}",
        a.cumulative.relative
    );
}

#[test]
fn the_thread_count_changes_no_bit() {
    // One thread against two and four: the same fit, draws and summary, to the bit (the Debug text
    // of every figure), for each error model, a draw count that is not a whole number of batches
    // and an unobserved post-period day.
    let (mut y, design) = small(3);
    y[250] = f64::NAN;
    for errors in [
        ErrorModel::TwoAr1PlusNoise,
        ErrorModel::LocalLevel,
        ErrorModel::Auto,
    ] {
        for draws in [130, 1000] {
            let run = |threads: usize| {
                let options = ImpactOptions {
                    draws,
                    errors,
                    threads,
                    ..ImpactOptions::default()
                };
                format!(
                    "{:?}",
                    causal_impact(&y, &design, 0..240, 240..300, &options).unwrap()
                )
            };
            let one = run(1);
            for threads in [2, 4] {
                assert!(
                    run(threads) == one,
                    "{errors:?}, {draws} draws: {threads} threads differ from one"
                );
            }
        }
    }
}

#[test]
fn missing_values_are_skipped_in_the_fit_and_unobserved_in_the_post_period() {
    let (mut y, design) = small(2);
    let full = causal_impact(&y, &design, 0..240, 240..300, &small_options()).unwrap();
    // Missing responses in the pre-period, and a missing covariate on another pre-period day.
    for t in [3, 50, 51, 52, 120, 239] {
        y[t] = f64::NAN;
    }
    let mut control = design.column(0).to_vec();
    control[77] = f64::NAN;
    let mut patched = Design::new(y.len())
        .covariate("control", &control)
        .unwrap()
        .weekly_cycle(0)
        .unwrap();
    assert_eq!(patched.names()[0], "control");
    // Not observed in the post-period.
    y[250] = f64::NAN;
    y[299] = f64::NAN;
    let imp = causal_impact(&y, &patched, 0..240, 240..300, &small_options()).unwrap();
    assert_eq!(imp.diagnostics.pre_days, 240 - 7);
    assert_eq!(imp.days_used, 58);
    assert!(imp.points[10].effect.value.is_nan() && imp.points[10].actual.is_nan());
    assert!(!imp.points[10].predicted.value.is_nan());
    assert_eq!(
        imp.points[10].cumulative_effect.value,
        imp.points[9].cumulative_effect.value
    );
    let observed: f64 = y[240..300].iter().filter(|v| v.is_finite()).sum();
    assert_close(
        imp.cumulative.actual,
        observed,
        1e-6,
        "imp.cumulative.actual",
    );
    assert!(
        (imp.cumulative.relative.value - full.cumulative.relative.value).abs() < 0.01,
        "{:?} vs {:?}",
        imp.cumulative.relative,
        full.cumulative.relative
    );
    // A covariate missing in the post-period cannot be predicted from.
    control[260] = f64::NAN;
    patched = Design::new(y.len())
        .covariate("control", &control)
        .unwrap()
        .weekly_cycle(0)
        .unwrap();
    let err = causal_impact(&y, &patched, 0..240, 240..300, &small_options()).unwrap_err();
    assert_eq!(
        err,
        ImpactError::MissingCovariate {
            name: "control".into(),
            index: 260
        }
    );
    // Nothing observed after the start.
    let mut none = y.clone();
    none[240..].iter_mut().for_each(|v| *v = f64::NAN);
    let err = causal_impact(&none, &design, 0..240, 240..300, &small_options()).unwrap_err();
    assert_eq!(err, ImpactError::NoObservedPostDays);
}

#[test]
fn summary_figures_are_consistent_and_print_in_causalimpact_layout() {
    let (y, design) = small(3);
    let model = ImpactModel::fit(&y, &design, 0..240, &small_options()).unwrap();
    let cf = model.counterfactual(&design, 240..300).unwrap();
    assert_eq!(cf.n_draws(), 300);
    assert_eq!(cf.draw(0).len(), 60);
    let imp = cf.impact(&y[240..300], 0.9).unwrap();
    let (a, c) = (&imp.average, &imp.cumulative);
    let n = imp.days_used as f64;
    assert!((a.actual * n - c.actual).abs() < 1e-6 * c.actual);
    assert!((a.predicted.value * n - c.predicted.value).abs() < 1e-6 * c.actual);
    assert!((a.absolute.lower * n - c.absolute.lower).abs() < 1e-6 * c.actual);
    assert_eq!(a.relative, c.relative);
    assert!((c.absolute.value - (c.actual - c.predicted.value)).abs() < 1e-6 * c.actual);
    assert!((c.relative.value - c.absolute.value / c.predicted.value).abs() < 1e-12);
    assert!(c.predicted.lower < c.predicted.value && c.predicted.value < c.predicted.upper);
    assert_close(
        imp.tail_probability + imp.prob_causal_effect,
        1.0,
        1e-12,
        "imp.tail_probability + imp.prob_causal_effect",
    );
    assert_eq!(imp.p_value, (2.0 * imp.tail_probability).min(1.0));
    let last = imp.points.last().unwrap();
    assert!((last.cumulative_effect.value - c.absolute.value).abs() < 1e-6 * c.actual);
    assert!((last.cumulative_effect.lower - c.absolute.lower).abs() < 1e-6 * c.actual);
    let mean = cf.mean();
    assert!((mean[5] - imp.points[5].predicted.value).abs() < 1e-9 * mean[5]);
    // A wider level gives a wider interval from the same draws.
    let wide = cf.impact(&y[240..300], 0.99).unwrap();
    assert!(wide.cumulative.relative.lower < c.relative.lower);

    let text = imp.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "Posterior inference {CausalImpact}");
    assert!(lines[2].contains("Average") && lines[2].contains("Cumulative"));
    for (i, label) in [
        (3, "Actual"),
        (4, "Prediction (s.d.)"),
        (5, "90% CI"),
        (7, "Absolute effect (s.d.)"),
        (8, "90% CI"),
        (10, "Relative effect (s.d.)"),
        (11, "90% CI"),
        (13, "p-value (two-sided, no effect):"),
    ] {
        assert!(lines[i].starts_with(label), "line {i}: {}", lines[i]);
    }
    // One p-value: CausalImpact's one-sided tail-area probability is not printed.
    assert_eq!(text.matches("p-value").count(), 1, "{text}");
    assert!(!text.contains("tail-area"), "{text}");
    // Columns line up: the cumulative column starts at the same offset on every row.
    let offset = lines[2].find("Cumulative").unwrap();
    let cumulative_actual = lines[3][offset..].split_whitespace().next().unwrap();
    assert!(
        cumulative_actual.starts_with(|c: char| c.is_ascii_digit()),
        "{}",
        lines[3]
    );
    assert!(lines[10].contains('%'));
}

#[test]
fn degenerate_inputs_give_clear_errors() {
    let (y, design) = small(4);
    let opts = small_options();
    let n = y.len();
    // A constant covariate is confounded with the intercept.
    let constant = design.clone().covariate("flat", &vec![3.0; n]).unwrap();
    let err = causal_impact(&y, &constant, 0..240, 240..300, &opts).unwrap_err();
    assert!(
        matches!(&err, ImpactError::ConstantCovariate { name, .. } if name == "flat"),
        "{err}"
    );
    assert!(err.to_string().contains("constant"), "{err}");
    // A day type that never occurs before the intervention.
    let codes: Vec<u32> = (0..n).map(|t| u32::from(t == 250)).collect();
    let unseen = design.clone().categorical("day_type", &codes).unwrap();
    let err = causal_impact(&y, &unseen, 0..240, 240..300, &opts).unwrap_err();
    assert!(
        matches!(&err, ImpactError::ConstantCovariate { name, .. } if name == "day_type=1"),
        "{err}"
    );
    // A copy of a column.
    let copy = design
        .clone()
        .covariate("control again", design.column(0))
        .unwrap();
    let err = causal_impact(&y, &copy, 0..240, 240..300, &opts).unwrap_err();
    assert_eq!(
        err,
        ImpactError::CollinearCovariate {
            name: "control again".into()
        }
    );
    // Too short a pre-period for 8 coefficients.
    let err = causal_impact(&y, &design, 0..10, 240..300, &opts).unwrap_err();
    assert!(
        matches!(
            err,
            ImpactError::PrePeriodTooShort {
                observed: 10,
                parameters: 8,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("pre-period too short"));
    // Periods.
    let err = causal_impact(&y, &design, 0..240, 200..300, &opts).unwrap_err();
    assert!(
        matches!(err, ImpactError::InvalidPeriod { which: "post", .. }),
        "{err}"
    );
    let err = causal_impact(&y, &design, 0..400, 240..300, &opts).unwrap_err();
    assert!(
        matches!(err, ImpactError::InvalidPeriod { which: "pre", .. }),
        "{err}"
    );
    let err = causal_impact(&y, &design, 0..0, 240..300, &opts).unwrap_err();
    assert!(
        matches!(err, ImpactError::InvalidPeriod { which: "pre", .. }),
        "{err}"
    );
    // Lengths, logs, options.
    let err = causal_impact(&y[..299], &design, 0..240, 240..299, &opts).unwrap_err();
    assert!(matches!(err, ImpactError::LengthMismatch { .. }), "{err}");
    let mut bad = y.clone();
    bad[17] = -1.0;
    let err = causal_impact(&bad, &design, 0..240, 240..300, &opts).unwrap_err();
    assert!(
        matches!(err, ImpactError::NonPositive { index: 17, .. }),
        "{err}"
    );
    let linear = ImpactOptions {
        log: false,
        ..small_options()
    };
    assert!(causal_impact(&bad, &design, 0..240, 240..300, &linear).is_ok());
    bad[17] = f64::INFINITY;
    let err = causal_impact(&bad, &design, 0..240, 240..300, &linear).unwrap_err();
    assert!(
        matches!(err, ImpactError::NonFinite { index: 17, .. }),
        "{err}"
    );
    let level = ImpactOptions {
        level: 1.5,
        ..small_options()
    };
    assert!(matches!(
        causal_impact(&y, &design, 0..240, 240..300, &level).unwrap_err(),
        ImpactError::InvalidOption(_)
    ));
    // A design other than the fitted one.
    let model = ImpactModel::fit(&y, &design, 0..240, &opts).unwrap();
    assert!(matches!(
        model.counterfactual(&constant, 240..300).unwrap_err(),
        ImpactError::LengthMismatch { .. }
    ));
}

#[test]
fn every_error_model_fits_and_independent_errors_are_narrowest() {
    let (y, design) = small(5);
    let width = |errors| {
        let o = ImpactOptions {
            errors,
            ..small_options()
        };
        let imp = causal_impact(&y, &design, 0..240, 240..300, &o).unwrap();
        assert!(
            (imp.cumulative.relative.value - 0.1).abs() < 0.04,
            "{errors}: {:?}",
            imp.cumulative.relative
        );
        imp.cumulative.relative.upper - imp.cumulative.relative.lower
    };
    let iid = width(ErrorModel::Independent);
    let ar1 = width(ErrorModel::Ar1);
    let ar1_noise = width(ErrorModel::Ar1PlusNoise);
    let full = width(ErrorModel::TwoAr1PlusNoise);
    assert!(
        iid < ar1_noise && iid < full && iid < ar1,
        "{iid} {ar1} {ar1_noise} {full}"
    );
}
