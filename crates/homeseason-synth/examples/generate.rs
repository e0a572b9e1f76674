//! Generate the sample data: `cargo run --release -p homeseason-synth --example generate -- OUT_DIR [SEED] [SCALE]`.
#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line program prints its results"
)]

use std::path::PathBuf;
use std::time::Instant;

use homeseason_synth::{SynthConfig, generate};

fn main() {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().unwrap_or_else(|| "sample-data".to_owned()));
    let mut config = SynthConfig::default();
    if let Some(seed) = args.next() {
        config.seed = seed.parse().expect("SEED is an integer");
    }
    if let Some(scale) = args.next() {
        config.scale = scale.parse().expect("SCALE is a number");
    }
    let started = Instant::now();
    let verbose = std::env::var_os("SYNTH_VERBOSE").is_some();
    let progress = |m: &str| {
        if verbose {
            eprintln!("{m}");
        }
    };
    match generate(&config, &out, &progress) {
        Ok(summary) => {
            println!(
                "{} files, {} rows, {:.1} MB in {:.2?} → {}",
                summary.files.len(),
                summary.total_rows,
                summary.total_bytes as f64 / 1e6,
                started.elapsed(),
                out.display()
            );
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
