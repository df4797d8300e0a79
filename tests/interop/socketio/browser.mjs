// Runs scenarios of socketio/browser/page.js in headless Chromium (Debian's package, driven
// by playwright-core) on a page served by the Rust fixture, and prints their results.
//
//   node socketio/browser.mjs <url> '[["events", {}], …]' [screenshot.png]
import { launchChromium } from "../common.mjs";

const [url, rawScenarios, screenshot] = process.argv.slice(2);
const scenarios = JSON.parse(rawScenarios);

const { browser, timer } = await launchChromium();
try {
  const page = await browser.newPage();
  page.on("console", (message) => console.error(`page: ${message.text()}`));
  page.on("pageerror", (error) => console.error(`page error: ${error}`));
  await page.goto(url);
  const results = [];
  for (const [name, options] of scenarios) {
    results.push(await page.evaluate(([n, o]) => window.runScenario(n, o), [name, options]));
  }
  if (screenshot) await page.screenshot({ path: screenshot });
  clearTimeout(timer);
  await browser.close();
  console.log(JSON.stringify(results));
  process.exit(0);
} catch (error) {
  console.error("FAIL:", error);
  await browser.close();
  process.exit(1);
}
