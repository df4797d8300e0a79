// Helpers shared by the interop scripts.
import { chromium } from "playwright-core";

// Debian's chromium, headless, with nothing that talks to the network on its own; the
// script fails if it is not done within `limitMs`.
export async function launchChromium(limitMs = 60000) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const timer = setTimeout(async () => {
    console.error("FAIL: timed out");
    await browser.close().catch(() => {});
    process.exit(1);
  }, limitMs);
  return { browser, timer };
}

// Runs one named scenario, prints its result as JSON and exits 0, or reports and exits 1.
export async function runScenario(scenarios, scenario) {
  try {
    const result = await scenarios[scenario]();
    console.log(JSON.stringify(result ?? {}));
    process.exit(0);
  } catch (error) {
    console.error(`FAIL ${scenario}:`, error);
    process.exit(1);
  }
}

// Fails the script if it is not done within `limitMs`.
export function failAfter(scenario, limitMs = 30000) {
  setTimeout(() => {
    console.error(`FAIL ${scenario}: timed out`);
    process.exit(1);
  }, limitMs);
}

// Progress on stderr, shown when a scenario fails.
export const step = (what) => console.error(`step: ${what}`);
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// The arguments of the next `event` on `emitter`.
export const once = (emitter, event) =>
  new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
