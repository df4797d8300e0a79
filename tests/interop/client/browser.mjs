// Loads the Rust client's page (crates/sio-client/examples/browser_page.rs, built for
// wasm32 and bound by wasm-bindgen into `pageDir`, which the Socket.IO server serves under
// /sio-page/) in headless Chromium, and reports what the page says as JSON lines:
// {"step": "..."} for each step the page logs, then {"result": {...}}.
//
//   node client/browser.mjs <pageDir> <serverUrl>
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { launchChromium } from "../common.mjs";

const [pageDir, server] = process.argv.slice(2);
const say = (line) => process.stdout.write(JSON.stringify(line) + "\n");

const index = `<!doctype html><meta charset=utf-8><title>sio-client in Chromium</title>
<script type=module>
import init, { run } from "./browser_page.js";
await init();
const server = new URLSearchParams(location.search).get("server");
try {
  window.__result = JSON.parse(await run(server));
} catch (error) {
  window.__result = { error: String(error) };
}
</script>`;

await writeFile(join(pageDir, "index.html"), index);
const { browser, timer } = await launchChromium(90000);
const page = await browser.newPage();
page.on("console", (message) => {
  const text = message.text();
  if (text.startsWith("sio-page: ")) say({ step: text.slice("sio-page: ".length) });
  else console.error(`console: ${text}`);
});
page.on("pageerror", (error) => say({ error: String(error) }));
await page.goto(`${server}/sio-page/index.html?server=${encodeURIComponent(server)}`);
await page.waitForFunction(() => window.__result !== undefined, null, { timeout: 80000 });
say({ result: await page.evaluate(() => window.__result) });
clearTimeout(timer);
await browser.close();
process.exit(0);
