// Loads the device's web page in headless Chromium with a fake microphone fed from a WAV,
// connects, speaks, and waits for the transcript, the bot's answer and a latency point.
// Usage: node web-check.mjs URL WAV SCREENSHOT.png   → one JSON line with what it saw.
import { chromium } from "playwright-core";

const [url, wav, shot] = process.argv.slice(2);
const result = { ok: false };
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
         `--use-file-for-fake-audio-capture=${wav}`, "--autoplay-policy=no-user-gesture-required"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 820 } });
  const logs = [];
  page.on("console", (m) => logs.push(`${m.type()}: ${m.text()}`.slice(0, 300)));
  page.on("pageerror", (e) => logs.push(`pageerror: ${e.message}`));
  await page.goto(url);
  await page.click("#connect");
  await page.waitForFunction(() => document.querySelector("#settings fieldset"), null, { timeout: 20000 });
  result.settings = await page.$$eval("#settings legend", (els) => els.map((e) => e.textContent));
  await page.waitForSelector(".line.user:not(.interim)", { timeout: 45000 });
  result.transcript = await page.$eval(".line.user:not(.interim)", (e) => e.textContent);
  await page.waitForSelector(".line.bot", { timeout: 30000 });
  await page.waitForSelector("#chart circle.point", { timeout: 30000 });
  result.answer = await page.$eval(".line.bot", (e) => e.textContent);
  result.latencyPoints = await page.$$eval("#chart circle.point", (els) => els.length);
  result.turnsTable = await page.$eval("#turns", (e) => e.innerText);
  await page.screenshot({ path: shot, fullPage: false });
  // a settings change with a validation error from the server, shown next to the form
  await page.evaluate(() => { document.querySelectorAll("details").forEach((d) => { d.open = true; }); });
  await page.$$eval("#settings fieldset label", (labels) => {
    for (const l of labels) if (l.textContent.startsWith("speed")) l.querySelector("input").value = "99";
  });
  await page.click("#settings > button");
  await page.waitForFunction(() => document.querySelector("#settings .status")?.textContent, null, { timeout: 10000 });
  result.settingsError = await page.$eval("#settings .status", (e) => e.textContent);
  result.ok = true;
} catch (e) {
  result.error = String(e?.message ?? e);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(result) + "\n");
process.exit(result.ok ? 0 : 1);
