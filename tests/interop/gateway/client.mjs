// Drives the standalone server (tests/gateway.rs) with the official socket.io-client and
// its publish API, then prints one JSON line of what it saw; exits 1 on failure.
//
//   node gateway/client.mjs <scenario> <url> <api key> [options as JSON]
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { failAfter, once, runScenario, step } from "../common.mjs";

const [scenario, url, apiKey, rawOptions] = process.argv.slice(2);
const options = rawOptions ? JSON.parse(rawOptions) : {};
// The TLS test's certificate is self-signed.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";

failAfter(scenario);

function connect(nsp = "/", extra = {}) {
  return io(url + nsp, {
    forceNew: true,
    reconnection: false,
    transports: options.transports ?? ["polling", "websocket"],
    rejectUnauthorized: false,
    ...extra,
  });
}

/** Resolves with "connect" or the connect_error message. */
function outcome(socket) {
  return new Promise((resolve) => {
    socket.once("connect", () => resolve("connect"));
    socket.once("connect_error", (error) => resolve(error.message));
  });
}

async function api(method, path, body, key = apiKey) {
  const headers = { "content-type": "application/json" };
  if (key) headers.authorization = `Bearer ${key}`;
  const response = await fetch(url + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json().catch(() => null) };
}

const scenarios = {
  // Publish, list, disconnect through the API.
  async publish() {
    const socket = connect();
    assert.equal(await outcome(socket), "connect");
    const id = socket.id;
    const received = once(socket, "news");
    step("emit");
    const emitted = await api("POST", "/api/v1/emit", { event: "news", data: { n: 1 } });
    assert.equal(emitted.status, 200, JSON.stringify(emitted.body));
    const [news, offset] = await received;
    step("several arguments, to the socket's own room");
    const twice = once(socket, "pair");
    await api("POST", "/api/v1/emit", { rooms: [socket.id], event: "pair", args: ["a", 2] });
    const pair = (await twice).slice(0, 2);
    step("refusals");
    const unauthorized = await api("POST", "/api/v1/emit", { event: "news" }, "wrong-key");
    const reserved = await api("POST", "/api/v1/emit", { event: "connect" });
    const malformed = await api("POST", "/api/v1/emit", { evnt: "news" });
    step("list");
    const sockets = await api("GET", "/api/v1/sockets?namespace=/");
    const rooms = await api("GET", "/api/v1/rooms?namespace=/");
    step("disconnect");
    const gone = once(socket, "disconnect");
    const disconnected = await api("POST", "/api/v1/disconnect", { rooms: [id] });
    const [reason] = await gone;
    return {
      news,
      offsetIsString: typeof offset === "string",
      pair,
      emitted: emitted.body,
      unauthorized: unauthorized.status,
      reserved: reserved.status,
      malformed: malformed.status,
      listed: sockets.body.sockets.map((s) => s.id).includes(id),
      rooms: rooms.body.rooms,
      disconnected: disconnected.body,
      reason,
    };
  },

  // Authentication: `options.good` joins (its identity names room `vip`), `options.bad`
  // and no credentials are refused.
  async auth() {
    step("good credentials");
    const good = connect("/", { auth: { token: options.good } });
    assert.equal(await outcome(good), "connect");
    const vip = once(good, "vip-news");
    step("emit to the identity's room");
    const emitted = await api("POST", "/api/v1/emit", { rooms: ["vip"], event: "vip-news", data: "hi" });
    step(`emitted: ${JSON.stringify(emitted)}`);
    const [news] = await vip;
    const listed = await api("GET", "/api/v1/sockets?namespace=/&room=vip");
    step("bad credentials");
    const bad = connect("/", { auth: { token: options.bad } });
    const none = connect("/");
    const refusals = await Promise.all([outcome(bad), outcome(none)]);
    good.disconnect();
    return { news, data: listed.body.sockets[0]?.data, refusals };
  },

  // A namespace outside the allowed list is refused; a pattern admits its matches.
  async namespaces() {
    const results = {};
    for (const nsp of options.namespaces) {
      const socket = connect(nsp);
      results[nsp] = await outcome(socket);
      socket.disconnect();
    }
    return results;
  },

  // Connected until the server shuts down (the test sends SIGTERM to `options.pid`).
  async shutdown() {
    const socket = connect("/", { transports: ["websocket"] });
    assert.equal(await outcome(socket), "connect");
    const gone = once(socket, "disconnect");
    process.kill(options.pid, "SIGTERM");
    const [reason] = await gone;
    return { reason };
  },
};

await runScenario(scenarios, scenario);
