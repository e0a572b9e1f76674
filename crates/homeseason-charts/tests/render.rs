//! Every chart renders to a valid PNG and SVG; font coverage; determinism; input validation.

mod common;

use common::*;
use homeseason_charts::{
    Bar, BarChart, Chart, ChartError, Format, Heatmap, Rendered, TileMap, font_covers,
    missing_glyphs, render, render_svg,
};

const COVERAGE: &str = "北京市 天津市 河北省 山西省 内蒙古自治区 辽宁省 吉林省 黑龙江省 上海市 江苏省 浙江省 安徽省 福建省 \
江西省 山东省 河南省 湖北省 湖南省 广东省 广西壮族自治区 海南省 重庆市 四川省 贵州省 云南省 西藏自治区 陕西省 甘肃省 \
青海省 宁夏回族自治区 新疆维吾尔自治区 大连市 青岛市 宁波市 厦门市 深圳市 新疆生产建设兵团 家电 家具 家纺 建材家装 家用电器 \
超市 餐饮 加油 其他 实际 基线 区间 活动窗口 提升 元 万元 亿元 % 家居焕新消费季 地区 品类 周 活动 企业 品牌 反事实 累计 \
逐点 效应 预测 观测";

#[test]
fn font_covers_every_required_string() {
    for word in COVERAGE.split_whitespace() {
        assert!(
            font_covers(word),
            "font lacks {:?} in {word:?}",
            missing_glyphs(word)
        );
    }
    // Punctuation and labels the charts draw themselves.
    for s in [
        "·（）：，。、—–−％‰ ①②③ ±×÷ 0123456789 ABCxyz -+.,()%",
        "无数据 No data",
        "方块位置为示意，非地图",
        "虚线框：计划单列市 / 兵团",
    ] {
        assert!(font_covers(s), "font lacks {:?}", missing_glyphs(s));
    }
    assert!(!font_covers("😀"));
    assert_eq!(missing_glyphs("北京😀市😀"), vec!['😀']);
}

#[test]
fn font_covers_all_6763_gb2312_hanzi() {
    // GB2312 rows 16-87 (lead bytes 0xB0-0xF7) hold the hanzi; GBK is a superset encoding.
    let mut hanzi = String::new();
    for lead in 0xB0u8..=0xF7 {
        for trail in 0xA1u8..=0xFE {
            let bytes = [lead, trail];
            let (s, _, bad) = encoding_rs::GBK.decode(&bytes);
            let c = s.chars().next().unwrap();
            if !bad && ('\u{4E00}'..='\u{9FFF}').contains(&c) {
                hanzi.push(c);
            }
        }
    }
    assert_eq!(hanzi.chars().count(), 6763);
    assert!(font_covers(&hanzi), "missing: {:?}", missing_glyphs(&hanzi));
}

#[test]
fn bundled_font_is_a_small_single_face() {
    let n = homeseason_charts::FONT_BYTES.len();
    assert!(n > 1_000_000 && n < 5 * 1024 * 1024, "font is {n} bytes");
    assert_eq!(
        &homeseason_charts::FONT_BYTES[..4],
        b"OTTO",
        "expected a single-face CFF OpenType font"
    );
}

fn check_png(bytes: &[u8], w: u32, h: u32) {
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let img =
        image::load_from_memory_with_format(bytes, image::ImageFormat::Png).expect("PNG decodes");
    assert_eq!((img.width(), img.height()), (w, h));
    // Not blank: some pixels are dark (text/lines) and the corner is white background.
    let rgb = img.to_rgb8();
    assert_eq!(rgb.get_pixel(0, 0).0, [255, 255, 255]);
    let dark = rgb
        .pixels()
        .filter(|p| p.0.iter().all(|c| *c < 100))
        .count();
    assert!(dark > 500, "only {dark} dark pixels");
}

fn check_svg(bytes: &[u8], title_fragment: &str) {
    let s = std::str::from_utf8(bytes).expect("SVG is UTF-8");
    assert!(s.contains("<svg"), "no <svg");
    assert!(
        s.contains(title_fragment),
        "SVG lacks the title text {title_fragment:?}"
    );
    assert!(
        s.contains("Noto Sans SC"),
        "SVG should name the CJK font stack"
    );
    assert!(
        !s.contains("homeseason-cjk"),
        "internal family name leaked into SVG"
    );
}

fn check_chart<C: Chart>(chart: &C, title_fragment: &str) {
    for (w, h) in [(1200, 700), chart.default_size(), (800, 500)] {
        check_png(&render(chart, Format::Png, w, h).unwrap(), w, h);
    }
    check_svg(
        &render(chart, Format::Svg, 1200, 700).unwrap(),
        title_fragment,
    );
    assert!(font_covers(chart.title()));
}

#[test]
fn series_chart_renders() {
    check_chart(&series_chart(), "浙江省 · 家电");
}

#[test]
fn bar_chart_renders() {
    let c = bar_chart();
    assert!(c.default_size().1 > 700, "37 bars need more than 700 px");
    check_chart(&c, "各地区家电消费提升");
    let ranked = c.ranked();
    assert!(ranked.windows(2).all(|w| w[0].value >= w[1].value));
}

#[test]
fn heatmap_renders() {
    check_chart(&heatmap(), "地区 × 品类");
}

#[test]
fn impact_chart_renders_and_computes_effects() {
    let c = impact_chart();
    check_chart(&c, "江苏省 · 家具");
    let e = c.effects().unwrap();
    assert_eq!(e.pointwise.len(), c.dates.len());
    let post = c.dates.iter().filter(|d| **d >= c.post_start).count();
    assert_eq!(e.cumulative.len(), post);
    let first = e.cumulative[0];
    assert_eq!(first.date, c.post_start);
    let i = c.dates.iter().position(|d| *d == c.post_start).unwrap();
    assert!((first.effect - (c.observed[i] - c.predicted[i])).abs() < 1e-9);
    let last = e.cumulative.last().unwrap();
    let sum: f64 = e.pointwise[i..].iter().map(|p| p.effect).sum();
    assert!((last.effect - sum).abs() < 1e-6);
    assert!(last.lower <= last.effect && last.effect <= last.upper);
}

#[test]
fn impact_chart_labels_its_cumulative_panel_as_cumulative() {
    let mut c = impact_chart();
    c.y_label = "日销售额 Daily sales (万元)".into();
    let svg = String::from_utf8(render(&c, Format::Svg, 1200, 900).unwrap()).unwrap();
    // Panels ① and ② carry the daily label; ③ carries its own, never the daily one.
    assert_eq!(
        svg.matches("— 日销售额 Daily sales (万元)").count(),
        2,
        "daily label on the first two panels only"
    );
    assert!(
        svg.contains("— 累计值 Running sum"),
        "default cumulative label"
    );
    c.cumulative_label = "累计增量销售额 Cumulative incremental sales (万元)".into();
    let svg = String::from_utf8(render(&c, Format::Svg, 1200, 900).unwrap()).unwrap();
    assert!(svg.contains("— 累计增量销售额 Cumulative incremental sales (万元)"));
    assert_eq!(svg.matches("— 日销售额").count(), 2);
}

#[test]
fn tile_map_renders() {
    check_chart(&tile_map(), "家电消费提升");
}

#[test]
fn rendering_is_deterministic() {
    let a = render(&heatmap(), Format::Png, 900, 600).unwrap();
    let b = render(&heatmap(), Format::Png, 900, 600).unwrap();
    assert!(a == b, "PNG bytes differ between runs");
    let a = render_svg(&series_chart(), 1200, 700).unwrap();
    let b = render_svg(&series_chart(), 1200, 700).unwrap();
    assert_eq!(a, b);
    let a = render(&impact_chart(), Format::Png, 1200, 700).unwrap();
    let b = render(&impact_chart(), Format::Png, 1200, 700).unwrap();
    assert!(a == b, "PNG bytes differ between runs");
}

#[test]
fn rendered_carries_format() {
    let r = Rendered::new(&tile_map(), Format::Svg, (1200, 700)).unwrap();
    assert_eq!(r.format.mime_type(), "image/svg+xml");
    assert!(r.as_svg().unwrap().contains("兵团"));
    let r = Rendered::new(&tile_map(), Format::Png, (600, 350)).unwrap();
    assert_eq!(r.format.extension(), "png");
    assert!(r.as_svg().is_none());
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    assert!(matches!(
        render(&tile_map(), Format::Png, 0, 700),
        Err(ChartError::InvalidSize { .. })
    ));
    let empty = BarChart::new("空 Empty", "x", vec![]);
    assert!(matches!(
        render(&empty, Format::Png, 400, 300),
        Err(ChartError::InvalidData(_))
    ));
    let nan = BarChart::new("t", "x", vec![Bar::new("a", f64::NAN)]);
    assert!(matches!(
        render(&nan, Format::Svg, 400, 300),
        Err(ChartError::InvalidData(_))
    ));
    let ragged = Heatmap::new(
        "t",
        vec!["a".into()],
        vec!["x".into(), "y".into()],
        vec![vec![Some(1.0)]],
        "v",
    );
    assert!(matches!(
        render(&ragged, Format::Png, 400, 300),
        Err(ChartError::InvalidData(_))
    ));
    let unknown = TileMap::new("t", "v", vec![("999999".into(), "?".into(), Some(1.0))]);
    assert!(matches!(
        render(&unknown, Format::Png, 400, 300),
        Err(ChartError::InvalidData(_))
    ));
    let mut imp = impact_chart();
    imp.predicted.pop();
    assert!(matches!(imp.effects(), Err(ChartError::InvalidData(_))));
    let mut s = series_chart();
    s.actual.clear();
    s.baseline.clear();
    s.band.clear();
    assert!(matches!(
        render(&s, Format::Png, 400, 300),
        Err(ChartError::InvalidData(_))
    ));
}

#[test]
fn edge_cases_still_render() {
    // One bar, all-negative bars, single-row heatmap, empty tile map, one-point series.
    let one = BarChart::new("一 One", "提升 Uplift (%)", vec![Bar::new("北京市", 3.0)]);
    check_png(&render(&one, Format::Png, 600, 300).unwrap(), 600, 300);
    let neg = BarChart::new(
        "负 Negative",
        "提升 Uplift (%)",
        vec![
            Bar::new("甲", -3.0),
            Bar::with_interval("乙", -1.0, -2.0, 0.5),
        ],
    );
    check_png(&render(&neg, Format::Png, 600, 300).unwrap(), 600, 300);
    let row = Heatmap::new(
        "单行 One row",
        vec!["上海市".into()],
        vec!["家电".into()],
        vec![vec![None]],
        "提升 (%)",
    );
    check_png(&render(&row, Format::Png, 600, 300).unwrap(), 600, 300);
    let empty = TileMap::new("空 Empty", "提升 (%)", vec![]);
    check_png(&render(&empty, Format::Png, 1200, 700).unwrap(), 1200, 700);
    let mut s = homeseason_charts::SeriesChart::new("单点 One point", "元");
    s.actual.push((d(2023, 8, 1), 5.0));
    check_png(&render(&s, Format::Png, 600, 300).unwrap(), 600, 300);
}
