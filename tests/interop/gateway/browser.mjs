// End-to-end run of the demo chat page (assets/demo) in headless Chromium (Debian's package,
// driven by playwright-core): two users in one room, receipts, a binary image, a dropped
// connection that is recovered with the missed message replayed once, and an announcement
// published through the HTTP API. Prints one JSON line with what it saw.
//
//   node gateway/browser.mjs <baseUrl> <apiKey> <screenshot.png>
import { launchChromium, step } from "../common.mjs";

const [baseUrl, apiKey, screenshotPath] = process.argv.slice(2);
if (!baseUrl || !apiKey || !screenshotPath) {
  console.error("usage: node gateway/browser.mjs <baseUrl> <apiKey> <screenshotPath>");
  process.exit(2);
}

const STEP_MS = 15000;
// A 1x1 red PNG.
const RED_PIXEL = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC",
  "base64",
);

/** Waits for a condition evaluated in the page, naming it when it times out. */
async function until(page, what, predicate, arg) {
  try {
    await page.waitForFunction(predicate, arg, { timeout: STEP_MS, polling: 50 });
  } catch (error) {
    throw new Error(`${page.label}: timed out waiting until ${what}`, { cause: error });
  }
}

// Page-side functions: serialized into the browser, so each must be self-contained. They use
// only the page's data-testid hooks.
const memberCountIs = (n) =>
  document.querySelectorAll('[data-testid="presence"] [data-testid="member"]').length === n;
const countMessages = ({ text, from }) =>
  [...document.querySelectorAll('[data-testid="message"]')].filter(
    (m) => m.textContent.includes(text) && m.dataset.from === from,
  ).length;
const showsMessage = ({ text, from }) =>
  [...document.querySelectorAll('[data-testid="message"]')].some(
    (m) => m.textContent.includes(text) && m.dataset.from === from,
  );

async function open(browser, label, errors) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.label = label;
  page.on("pageerror", (error) => {
    errors.push(`${label}: ${error}`);
    console.error(`${label} page error: ${error}`);
  });
  page.on("console", (message) => {
    if (message.type() === "error") console.error(`${label} console error: ${message.text()}`);
  });
  await page.goto(baseUrl + "/");
  return page;
}

async function join(page, nickname, room) {
  await page.fill('[data-testid="nickname"]', nickname);
  await page.fill('[data-testid="room"]', room);
  await page.click('[data-testid="join"]');
}

async function say(page, text) {
  await page.fill('[data-testid="message-input"]', text);
  await page.press('[data-testid="message-input"]', "Enter");
}

const { browser, timer } = await launchChromium();

const pageErrors = []; // any of these fails the run; console errors are only reported
try {
  step("open two pages");
  const a = await open(browser, "A", pageErrors);
  const b = await open(browser, "B", pageErrors);

  step("ann and bob join lobby");
  await join(a, "ann", "lobby");
  await join(b, "bob", "lobby");
  await until(a, "A sees 2 members", memberCountIs, 2);
  await until(b, "B sees 2 members", memberCountIs, 2);

  step("ann says hello; bob displays it; ann's ticks turn delivered");
  await say(a, "hello bob");
  await until(b, "B shows hello bob from ann", showsMessage, { text: "hello bob", from: "ann" });
  const hello = a.locator('[data-testid="message"][data-mine="true"]', { hasText: "hello bob" });
  const helloId = await hello.getAttribute("data-msg-id", { timeout: STEP_MS });
  await until(a, "A's hello bob is delivered", (id) => {
    const ticks = document.querySelector(`[data-msg-id="${CSS.escape(id)}"] [data-testid="ticks"]`);
    return ticks?.dataset.state === "delivered" && ticks.dataset.count === "1";
  }, helloId);
  const delivered = Number(await hello.locator('[data-testid="ticks"]').getAttribute("data-count"));

  step("bob sends an image; ann's page loads it");
  await b.setInputFiles('[data-testid="image-input"]', { name: "red.png", mimeType: "image/png", buffer: RED_PIXEL });
  await until(a, "A shows a loaded image from bob", () =>
    [...document.querySelectorAll('[data-testid="message"][data-from="bob"] img')].some(
      (img) => img.complete && img.naturalWidth > 0,
    ));

  step("bob's websocket drops; the server keeps his session");
  await until(b, "B is on websocket", () =>
    document.querySelector('[data-testid="status"]').dataset.transport === "websocket");
  await b.evaluate(() => {
    const manager = window.chat.socket.io;
    manager.reconnectionDelay(1500);
    manager.reconnectionDelayMax(1500);
    manager.randomizationFactor(0); // a fixed 1.5 s window to send a message bob misses
    manager.engine.transport.ws?.close();
  });
  await until(b, "B is reconnecting", () =>
    document.querySelector('[data-testid="status"]').dataset.state === "reconnecting");
  await until(a, "A sees 1 member", memberCountIs, 1);

  step("ann writes while bob is away; bob comes back recovered");
  await say(a, "while you were away");
  await until(b, "B is connected again, recovered", () => {
    const status = document.querySelector('[data-testid="status"]').dataset;
    return status.state === "connected" && status.recovered === "true";
  });
  const away = { text: "while you were away", from: "ann" };
  await until(b, "B shows the missed message", showsMessage, away);
  await until(a, "A sees 2 members again", memberCountIs, 2);
  await until(b, "B sees 2 members again", memberCountIs, 2);
  await b.waitForTimeout(300); // a duplicate replay would have arrived by now
  const replayed = await b.evaluate(countMessages, away);
  if (replayed !== 1) throw new Error(`B shows "while you were away" ${replayed} times`);

  step("a backend publishes an announcement through the HTTP API");
  const response = await fetch(baseUrl + "/api/v1/emit", {
    method: "POST",
    headers: { authorization: "Bearer " + apiKey, "content-type": "application/json" },
    body: JSON.stringify({ namespace: "/chat", rooms: ["lobby"], event: "announcement", data: { text: "Deploy at 5pm" } }),
  });
  if (!response.ok) throw new Error(`POST /api/v1/emit: ${response.status} ${await response.text()}`);
  const announced = () =>
    [...document.querySelectorAll('[data-testid="system"]')].some((line) => line.textContent.includes("Deploy at 5pm"));
  await until(a, "A shows the announcement", announced);
  await until(b, "B shows the announcement", announced);

  step("screenshot");
  await a.setViewportSize({ width: 1280, height: 800 });
  await a.screenshot({ path: screenshotPath, fullPage: true });

  if (pageErrors.length) throw new Error(`page errors: ${pageErrors.join("; ")}`);
  clearTimeout(timer);
  await browser.close();
  console.log(JSON.stringify({
    presence: 2,
    delivered,
    image: true,
    recovered: true,
    replayedOnce: true,
    announcement: true,
    screenshot: screenshotPath,
  }));
  process.exit(0);
} catch (error) {
  console.error("FAIL:", error);
  await browser.close().catch(() => {});
  process.exit(1);
}
