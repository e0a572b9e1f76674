// The liaison's round trip in headless Chromium: log in with a token, see the feed start at
// 自动识别, choose a feed, check the template link follows it and survives a language switch, upload a file with one bad row and see that row reported, switch to English, fix
// the file and drop it in again, and see it accepted and replacing the first one; then choose the
// conflict policy keep-last (the choice starts at keep-first, labelled in both languages) and drop
// in a file that changes one activity: the conflict is reported.
// Usage: node upload.mjs URL TOKEN BAD_FILE FIXED_FILE CONFLICT_FILE [SCREENSHOT.png]
// Chromium: $CHROMIUM or /usr/bin/chromium (Debian's), driven by playwright-core (no browser download).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

const [url, token, badFile, fixedFile, conflictFile, screenshot] = process.argv.slice(2);
if (!url || !token || !badFile || !fixedFile || !conflictFile) {
  console.error("usage: node upload.mjs URL TOKEN BAD_FILE FIXED_FILE CONFLICT_FILE [SCREENSHOT]");
  process.exit(2);
}
const check = (cond, what) => { if (!cond) throw new Error("check failed: " + what); };
// Drag the file `file` onto the drop zone under the name `name`, upload it and wait for its report.
const dropAndUpload = async (page, file, name) => {
  const text = fs.readFileSync(file, "utf8");
  await page.evaluate(([text, name]) => {
    const dt = new DataTransfer();
    dt.items.add(new File([text], name, { type: "text/csv" }));
    document.getElementById("drop").dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, [text, name]);
  await page.waitForFunction(() => !document.getElementById("upload").disabled);
  await page.click("#upload");
  await page.waitForFunction((name) => {
    const tds = document.querySelectorAll("#report tbody td");
    return tds.length && tds[0].textContent === name;
  }, name);
};
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "homeseason-chromium-"));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  timeout: 60000,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const result = {};
try {
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(30000);
  const consoleErrors = [];
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  await page.goto(url);
  check((await page.title()).includes("家居焕新消费季"), "Chinese title first");
  await page.fill("#token", "hs_00000000_wrong");
  await page.click("#login");
  await page.waitForSelector("#login-error:not(.hidden)");
  result.badTokenMessage = await page.textContent("#login-error");
  await page.fill("#token", token);
  await page.click("#login");
  await page.waitForSelector("#app:not(.hidden)");
  result.who = await page.textContent("#who");
  check(result.who.includes("浙江"), "region shown: " + result.who);

  // The feed starts at 自动识别 (recognised from the file), and with no feed chosen there is no
  // template to offer.
  result.defaultFeedZh = await page.$eval("#feed", (s) => [s.value, s.options[s.selectedIndex].textContent]);
  check(result.defaultFeedZh[0] === "" && result.defaultFeedZh[1] === "自动识别", "default feed (zh) " + result.defaultFeedZh);
  check((await page.getAttribute("#template", "href")) === null, "no template link while 自动识别");
  await page.selectOption("#feed", "activities");
  const template = await page.getAttribute("#template", "href");
  check(template.endsWith("/api/templates/activities.csv"), "template link " + template);
  check((await page.textContent("#template")) === "下载模板", "template link text");
  // Switching the language keeps the chosen feed and the template that follows it.
  await page.click("#lang");
  await page.waitForFunction(() => document.querySelector("header h1").textContent.startsWith("Home Renewal"));
  result.feedAfterSwitch = await page.$eval("#feed", (s) => s.value);
  check(result.feedAfterSwitch === "activities", "feed kept after switching to English: " + result.feedAfterSwitch);
  const templateEn = await page.getAttribute("#template", "href");
  check(templateEn && templateEn.endsWith("/api/templates/activities.csv"), "template link after switch " + templateEn);
  await page.selectOption("#feed", "");
  check((await page.getAttribute("#template", "href")) === null, "no template link while recognising automatically");
  await page.selectOption("#feed", "activities");
  await page.click("#lang");
  await page.waitForFunction(() => document.querySelector("header h1").textContent.startsWith("家居焕新"));
  check((await page.$eval("#feed", (s) => s.value)) === "activities", "feed kept after switching back to Chinese");
  // The conflict policy starts at keep-first, labelled in Chinese.
  result.policyZh = await page.$eval("#on-conflict", (s) => [s.value, s.options[s.selectedIndex].textContent, s.options[1].textContent]);
  check(result.policyZh[0] === "keep-first" && result.policyZh[1].includes("保留先收到的行") && result.policyZh[2].includes("keep-last"), "conflict policy (zh) " + result.policyZh);
  const tpl = await page.request.get(new URL(template, url).toString());
  check(tpl.ok() && (await tpl.text()).includes("活动编号"), "template downloads");

  await page.setInputFiles("#file", badFile);
  await page.click("#upload");
  await page.waitForSelector("#rejects tbody tr");
  const rejects = await page.$$eval("#rejects tbody tr", (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  result.rejects = rejects;
  check(rejects.length === 1, "one rejected row, got " + rejects.length);
  check(rejects[0][0] === "3", "line 3, got " + rejects[0][0]);
  check(rejects[0][1] === "开始日期", "column 开始日期 (the file's own header), got " + rejects[0][1]);
  check(rejects[0][3].includes("2023-13-45"), "raw text shown");
  const report = await page.$$eval("#report tbody td", (tds) => tds.map((td) => td.textContent));
  result.report = report;
  check(report[2] === "已接收" && report[4] === "3" && report[5] === "1", "report row " + report.join("|"));
  result.rejectZh = rejects[0][2];

  await page.click("#lang");
  await page.waitForFunction(() => document.querySelector("header h1").textContent.startsWith("Home Renewal"));
  const en = await page.$$eval("#rejects tbody tr td", (tds) => tds.map((td) => td.textContent));
  result.rejectEn = en[2];
  check(en[2] !== result.rejectZh, "reject message switches to English");

  // Fix the file and drag it in again.
  await dropAndUpload(page, fixedFile, "activities_fixed.csv");
  const report2 = await page.$$eval("#report tbody td", (tds) => tds.map((td) => td.textContent));
  result.report2 = report2;
  check(report2[2] === "accepted" && report2[4] === "4" && report2[5] === "0", "fixed report " + report2.join("|"));
  // Files are increments: the corrected file adds the row the first one lacked and replaces nothing.
  check(report2[7] === "none", "nothing replaced: " + report2[7]);
  check(await page.isHidden("#rejects-block"), "no rejected rows");

  // The conflict policy in English; choose keep-last and send a file changing one activity.
  result.policyEn = await page.$eval("#on-conflict", (s) => [s.value, s.options[s.selectedIndex].textContent]);
  check(result.policyEn[0] === "keep-first" && result.policyEn[1].startsWith("keep the row received first"), "conflict policy (en) " + result.policyEn);
  await page.selectOption("#on-conflict", "keep-last");
  await dropAndUpload(page, conflictFile, "activities_conflict.csv");
  result.report3 = await page.$$eval("#report tbody td", (tds) => tds.map((td) => td.textContent));
  check(result.report3[2] === "accepted", "conflict file accepted " + result.report3.join("|"));
  await page.waitForSelector("#rejects tbody tr");
  result.conflictRejects = await page.$$eval("#rejects tbody tr", (trs) => trs.map((tr) => tr.cells[2].textContent));
  check(result.conflictRejects.length === 2 && result.conflictRejects.every((m) => m.includes("keep-last")), "both rows of the conflict shown " + result.conflictRejects);

  await page.waitForFunction(() => document.querySelectorAll("#history tbody tr").length >= 2);
  result.history = await page.$$eval("#history tbody tr", (trs) => trs.map((tr) => tr.cells[1].textContent));
  check(result.history.includes(path.basename(badFile)) && result.history.includes("activities_fixed.csv"), "history");
  // Log out and in again, now in English: the feed starts at automatic recognition again.
  await page.click("#logout");
  await page.fill("#token", token);
  await page.click("#login");
  await page.waitForSelector("#app:not(.hidden)");
  result.defaultFeedEn = await page.$eval("#feed", (s) => [s.value, s.options[s.selectedIndex].textContent]);
  check(result.defaultFeedEn[0] === "" && result.defaultFeedEn[1] === "Recognise automatically", "default feed (en) " + result.defaultFeedEn);
  check((await page.getAttribute("#template", "href")) === null, "no template link while recognising automatically (en)");
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  check(consoleErrors.length === 0, "no page errors: " + consoleErrors.join("; "));
  console.log(JSON.stringify({ ok: true, ...result }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e), ...result }));
  process.exitCode = 1;
} finally {
  await context.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
