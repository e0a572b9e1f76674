//! The demo's HTML report in headless Chromium on a machine without CJK fonts (a private fontconfig
//! that lists one Latin font folder): the Chinese text is drawn with the font embedded in the page
//! (no glyph from a system font, so no tofu), no text runs out of its box, and a full-page screenshot
//! is taken (kept at `$HOMESEASON_REPORT_SCREENSHOT` when set). As a control, the same page without
//! its `@font-face` rule draws its Chinese with system fonts, i.e. as boxes.
//!
//! Chromium and playwright-core come from `tests/browser/install.sh` (run by `tests/run.sh`, which
//! sets `HOMESEASON_BROWSER_TEST=require`); run alone without them, the test says so loudly and
//! passes.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use homeseason_test_support::{browser_dir, skip_browser_test};

use crate::util::demo_dir;

/// A fontconfig that knows one Latin font folder and nothing else (no CJK face anywhere).
fn latin_only_fontconfig(dir: &Path) -> PathBuf {
    let fonts = [
        "/usr/share/fonts/truetype/dejavu",
        "/usr/share/fonts/truetype/liberation",
        "/usr/share/fonts/dejavu",
    ]
    .into_iter()
    .find(|d| Path::new(d).is_dir())
    .unwrap_or("/nonexistent");
    let conf = dir.join("fonts.conf");
    std::fs::create_dir_all(dir.join("cache")).expect("cache dir");
    std::fs::write(
        &conf,
        format!(
            "<?xml version=\"1.0\"?>\n<!DOCTYPE fontconfig SYSTEM \"fonts.dtd\">\n<fontconfig>\n  <dir>{fonts}</dir>\n  <cachedir>{}</cachedir>\n</fontconfig>\n",
            dir.join("cache").display()
        ),
    )
    .expect("write fonts.conf");
    // The private configuration really has no CJK font (when fc-list is there to ask).
    if let Ok(out) = Command::new("fc-list")
        .arg(":lang=zh")
        .env("FONTCONFIG_FILE", &conf)
        .output()
    {
        assert!(
            out.stdout.is_empty(),
            "the private fontconfig lists CJK fonts: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    conf
}

fn render(html: &Path, png: &Path, fontconfig: &Path) -> Value {
    let out = Command::new("node")
        .current_dir(browser_dir())
        .arg("report.mjs")
        .arg(html)
        .arg(png)
        .env("FONTCONFIG_FILE", fontconfig)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "report.mjs failed\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).expect("one JSON line")
}

#[test]
fn report_renders_chinese_with_its_embedded_font_in_headless_chromium() {
    if skip_browser_test("report_renders_chinese_with_its_embedded_font_in_headless_chromium") {
        return;
    }
    let html = demo_dir().join("report/report.html");
    let tmp = tempfile::tempdir().expect("temp dir");
    let conf = latin_only_fontconfig(&tmp.path().join("fontconfig"));
    let shot = std::env::var("HOMESEASON_REPORT_SCREENSHOT")
        .map_or_else(|_| tmp.path().join("report.png"), PathBuf::from);
    let r = render(&html, &shot, &conf);
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["errors"].as_array().map(Vec::len), Some(0), "{r}");
    let faces = r["webFonts"].as_array().expect("font faces");
    assert!(
        faces
            .iter()
            .any(|f| f["family"] == "Homeseason Noto Sans SC" && f["status"] == "loaded"),
        "the embedded font loads: {r}"
    );
    // Every glyph of every heading, paragraph, table cell and caption comes from the embedded font.
    let custom = r["customGlyphs"].as_u64().expect("count");
    assert!(
        custom > 10_000,
        "the report's text is drawn with the embedded font: {r}"
    );
    assert_eq!(
        r["systemGlyphs"], 0,
        "glyphs drawn with system fonts (tofu for Chinese): {}",
        r["systemFonts"]
    );
    assert!(
        r["customFamilies"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x == "Noto Sans CJK SC")),
        "{r}"
    );
    assert_eq!(
        r["overflow"].as_array().map(Vec::len),
        Some(0),
        "text out of its box: {}",
        r["overflow"]
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    assert!(
        r["height"].as_u64().expect("height") > 5_000,
        "a full-page screenshot of the whole report"
    );

    // Control: without its @font-face rule the same page has no Chinese font on this machine.
    let text = std::fs::read_to_string(&html).expect("report.html");
    let start = text.find("@font-face{").expect("an @font-face rule");
    let end = start + text[start..].find('}').expect("end of the rule") + 1;
    let bare = tmp.path().join("without-font.html");
    std::fs::write(&bare, format!("{}{}", &text[..start], &text[end..])).expect("write");
    let control = render(&bare, &tmp.path().join("without-font.png"), &conf);
    assert_eq!(control["customGlyphs"], 0, "{control}");
    assert!(
        control["systemGlyphs"].as_u64().expect("count") > 10_000,
        "without the embedded font the text falls to system fonts: {control}"
    );
}
