// Connection state recovery with the official socket.io-client, through the test's TCP
// proxy (tests/recovery.rs): the server breaks the connection on request, broadcasts
// while the client is away, and the client checks what it gets back.
//
//   node socketio/recovery.mjs <scenario> <url> [options as JSON]
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import msgpackParser from "socket.io-msgpack-parser";
import { failAfter, once, runScenario, sleep, step } from "../common.mjs";

const [scenario, url, rawOptions] = process.argv.slice(2);
const options = rawOptions ? JSON.parse(rawOptions) : {};

failAfter(scenario);

function connect() {
  const socket = io(url, {
    forceNew: true,
    reconnectionDelay: 50,
    reconnectionDelayMax: 100,
    randomizationFactor: 0,
    transports: options.transports ?? ["polling", "websocket"],
    parser: options.msgpack ? msgpackParser : undefined,
  });
  // Every tick, with the offset the server appended.
  socket.ticks = [];
  socket.on("tick", (n, offset) => {
    assert.equal(typeof offset, "string", "a replayable packet carries its offset");
    socket.ticks.push(n);
  });
  return socket;
}

function call(socket, event, ...args) {
  return new Promise((resolve) => socket.emit(event, ...args, (...answer) => resolve(answer)));
}

async function until(what, predicate) {
  while (!predicate()) {
    step(`waiting for ${what}`);
    await sleep(20);
  }
}

// Connects, receives ticks 1..5, loses its connection while the server sends `from..to`
// (`silent`: the server is not told), comes back. Returns what the client saw.
async function outage({ from = 6, to = 10, silent = false, before } = {}) {
  const socket = connect();
  await once(socket, "connect");
  const firstId = socket.id;
  await call(socket, "burst", { from: 1, to: 5 });
  await until("ticks 1..5", () => socket.ticks.length >= 5);
  if (before) await before(socket);
  step("outage");
  const disconnected = once(socket, "disconnect");
  socket.emit("outage", { from, to, silent });
  const [reason] = await disconnected;
  await once(socket, "connect");
  return { socket, firstId, reason };
}

const scenarios = {
  async recover() {
    const { socket, firstId, reason } = await outage();
    step("recovered?");
    assert.equal(socket.recovered, true);
    assert.equal(socket.id, firstId);
    await until("ticks 6..10", () => socket.ticks.length >= 10);
    await call(socket, "burst", { from: 11, to: 12 });
    await until("ticks 11..12", () => socket.ticks.length >= 12);
    const [whoami] = await call(socket, "whoami");
    const sameId = whoami.id === firstId;
    socket.disconnect();
    return { reason, ticks: socket.ticks, whoami, sameId };
  },

  async takeover() {
    const { socket, firstId } = await outage({ silent: true });
    assert.equal(socket.recovered, true);
    assert.equal(socket.id, firstId);
    await until("ticks 6..10", () => socket.ticks.length >= 10);
    await call(socket, "burst", { from: 11, to: 11 });
    await until("tick 11", () => socket.ticks.length >= 11);
    socket.disconnect();
    return { ticks: socket.ticks };
  },

  async "not-recovered"() {
    const before = options.bogusOffset
      ? async (socket) => {
          socket._lastOffset = "not-an-offset";
        }
      : undefined;
    const { socket, firstId } = await outage({ from: 6, to: options.to ?? 10, before });
    assert.equal(socket.recovered, false);
    assert.notEqual(socket.id, firstId);
    // A fresh session: nothing replayed, and live packets flow.
    await call(socket, "burst", { from: 1000, to: 1000 });
    await until("tick 1000", () => socket.ticks.includes(1000));
    socket.disconnect();
    return { ticks: socket.ticks };
  },

  async "long-lived"() {
    // Quiet for longer than the server keeps packets, while other rooms are busy.
    const before = async (socket) => {
      await sleep(options.quietMs);
      await call(socket, "burst", { from: 0, to: 0, room: "other" });
    };
    const { socket, firstId } = await outage({ before });
    assert.equal(socket.recovered, true);
    assert.equal(socket.id, firstId);
    await until("ticks 6..10", () => socket.ticks.length >= 10);
    socket.disconnect();
    return { ticks: socket.ticks };
  },
};

await runScenario(scenarios, scenario);
