// The HTML report in headless Chromium, as a reader on a machine without CJK fonts sees it.
// Usage: node report.mjs REPORT.html SCREENSHOT.png
// Run with FONTCONFIG_FILE pointing at a private fontconfig that lists Latin fonts only (the caller,
// tests/e2e/report_browser.rs, writes one). Prints one JSON line:
//   customGlyphs / systemGlyphs: glyphs Chromium drew with the page's embedded web font and with
//     system fonts, summed over every text element (CDP CSS.getPlatformFontsForNode);
//   systemFonts: the system families that drew any glyph, with their glyph counts;
//   overflow: elements whose text runs out of their box (scrollWidth > clientWidth), tables wider
//     than the page body, and the page's horizontal overflow;
//   webFonts: the document's font faces and their status.
import { chromium } from "playwright-core";

const [html, screenshot] = process.argv.slice(2);
if (!html || !screenshot) {
  console.error("usage: node report.mjs REPORT.html SCREENSHOT.png");
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  timeout: 60000,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const result = {};
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(60000);
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto("file://" + html, { waitUntil: "load" });
  await page.evaluate(() => document.fonts.ready);
  result.webFonts = await page.evaluate(() => [...document.fonts].map((f) => ({ family: f.family, status: f.status })));

  const cdp = await page.context().newCDPSession(page);
  await cdp.send("DOM.enable");
  await cdp.send("CSS.enable");
  const { root } = await cdp.send("DOM.getDocument", { depth: -1 });
  const { nodeIds } = await cdp.send("DOM.querySelectorAll", {
    nodeId: root.nodeId,
    selector: "h1, h2, h3, p, th, td, figcaption",
  });
  let customGlyphs = 0, systemGlyphs = 0;
  const systemFonts = {};
  const customFamilies = new Set();
  for (const nodeId of nodeIds) {
    const { fonts } = await cdp.send("CSS.getPlatformFontsForNode", { nodeId });
    for (const f of fonts) {
      if (f.isCustomFont) {
        customGlyphs += f.glyphCount;
        customFamilies.add(f.familyName);
      } else {
        systemGlyphs += f.glyphCount;
        systemFonts[f.familyName] = (systemFonts[f.familyName] || 0) + f.glyphCount;
      }
    }
  }
  Object.assign(result, { elements: nodeIds.length, customGlyphs, systemGlyphs, systemFonts, customFamilies: [...customFamilies] });

  result.overflow = await page.evaluate(() => {
    const out = [];
    const body = document.body.getBoundingClientRect();
    for (const el of document.querySelectorAll("h1, h2, h3, p, th, td, figcaption")) {
      if (el.scrollWidth > el.clientWidth + 1) {
        out.push({ tag: el.tagName, text: el.textContent.slice(0, 80), scrollWidth: el.scrollWidth, clientWidth: el.clientWidth });
      }
    }
    for (const el of document.querySelectorAll("table, figure, img, p, h1, h2")) {
      const r = el.getBoundingClientRect();
      if (r.right > body.right + 1) {
        out.push({ tag: el.tagName, text: el.textContent.slice(0, 80), right: r.right, bodyRight: body.right });
      }
    }
    const page = document.documentElement;
    if (page.scrollWidth > window.innerWidth) {
      out.push({ tag: "page", scrollWidth: page.scrollWidth, innerWidth: window.innerWidth });
    }
    return out;
  });
  result.height = await page.evaluate(() => document.documentElement.scrollHeight);
  await page.screenshot({ path: screenshot, fullPage: true });
  result.errors = errors;
  console.log(JSON.stringify({ ok: true, ...result }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e), ...result }));
  process.exitCode = 1;
} finally {
  await browser.close();
}
