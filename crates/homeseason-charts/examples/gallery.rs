//! Writes every chart type with realistic fake data as PNG (and SVG) files for a person to look at:
//!
//! `cargo run -p homeseason-charts --example gallery -- /tmp/charts-look`
#![expect(
    clippy::disallowed_methods,
    reason = "the gallery writes PNG and SVG files for a person to look at"
)]
#![expect(clippy::print_stdout, reason = "it says where the files went")]

#[path = "../tests/common/mod.rs"]
mod common;

use homeseason_charts::{Chart, Format, Rendered};

fn write<C: Chart>(dir: &std::path::Path, name: &str, chart: &C) {
    for format in [Format::Png, Format::Svg] {
        let r = Rendered::new(chart, format, chart.default_size()).unwrap();
        std::fs::write(dir.join(format!("{name}.{}", format.extension())), &r.bytes).unwrap();
    }
    let small = Rendered::new(chart, Format::Png, (1200, 700)).unwrap();
    std::fs::write(dir.join(format!("{name}-1200x700.png")), &small.bytes).unwrap();
}

fn main() {
    let dir = std::path::PathBuf::from(
        std::env::args_os()
            .nth(1)
            .unwrap_or_else(|| "charts-look".into()),
    );
    std::fs::create_dir_all(&dir).unwrap();
    write(&dir, "series", &common::series_chart());
    write(&dir, "bar", &common::bar_chart());
    write(&dir, "heatmap", &common::heatmap());
    write(&dir, "impact", &common::impact_chart());
    write(&dir, "tilemap", &common::tile_map());

    // Variants: weekly series without band/window, mixed-sign bars without whiskers, a
    // small heatmap rendered small, and a 2x PNG.
    let mut weekly = homeseason_charts::SeriesChart::new(
        "全国 · 家纺（周） National · Home textiles (weekly)",
        "销售额 Sales (亿元)",
    );
    for (i, d) in common::d(2023, 1, 2).iter_weeks().take(52).enumerate() {
        let b = 40.0 + 0.3 * i as f64;
        weekly
            .actual
            .push((d, b * (1.0 + 0.05 * common::noise(i as u64, 11))));
        weekly.baseline.push((d, b));
    }
    write(&dir, "series-weekly", &weekly);
    let bars = (0..12)
        .map(|i| {
            homeseason_charts::Bar::new(common::REGIONS[i].2, 6.0 * common::noise(i as u64, 4))
        })
        .collect();
    let mixed = homeseason_charts::BarChart::new(
        "品牌提升（部分地区） Brand uplift (some regions)",
        "提升 Uplift (%)",
        bars,
    );
    write(&dir, "bar-mixed", &mixed);
    let mut small = common::heatmap();
    small.row_labels.truncate(6);
    small.values.truncate(6);
    let small = Rendered::new(&small, Format::Png, (800, 500)).unwrap();
    std::fs::write(dir.join("heatmap-small-800x500.png"), &small.bytes).unwrap();
    let big = Rendered::new(&common::tile_map(), Format::Png, (2400, 1400)).unwrap();
    std::fs::write(dir.join("tilemap-2400x1400.png"), &big.bytes).unwrap();
    println!("charts written to {}", dir.display());
}
