// Many official clients under connection churn (tests/recovery_churn.rs): the server
// broadcasts `tick` 1, 2, 3… (with the time it sent each) while the test's proxy keeps
// breaking connections; each client counts what it receives and how late, and when `done`
// arrives the script prints the totals and a histogram of delivery delays.
//
//   node socketio/churn.mjs <url> <clients> <timeout in seconds> [<cut every ms> <for s>]
//
// With the last two arguments (the benchmark, where a proxy would need more file
// descriptors than a process may have), each client breaks its own WebSocket's TCP
// connection about every <cut every ms>, for <for s> seconds after the first tick.
import { io } from "socket.io-client";

const [url, rawClients, rawTimeout, rawCutEvery, rawCutFor] = process.argv.slice(2);
const clients = Number(rawClients);
const cutEvery = Number(rawCutEvery ?? 0);
const cutFor = Number(rawCutFor ?? 0) * 1000;
let cutsEnd;

setTimeout(() => {
  console.error(`FAIL churn: timed out; ${JSON.stringify(summary())}`);
  process.exit(1);
}, Number(rawTimeout) * 1000);

const states = [];
// Delivery delays in milliseconds: exact below 100, then to 10 ms, then to 100 ms.
const delays = new Map();
const bucket = (ms) => (ms < 100 ? ms : ms < 1000 ? ms - (ms % 10) : ms - (ms % 100));

function summary() {
  const sum = (key) => states.reduce((total, state) => total + state[key], 0);
  return {
    clients: states.length,
    sent: states.reduce((max, state) => Math.max(max, state.total ?? 0), 0),
    delivered: sum("received"),
    duplicates: sum("duplicates"),
    missing: sum("missing"),
    reconnects: sum("reconnects"),
    selfCuts: sum("selfCuts"),
    recovered: sum("recovered"),
    notRecovered: sum("notRecovered"),
    finished: states.filter((state) => state.total !== undefined).length,
    minReceived: Math.min(...states.map((state) => state.received)),
    delays: Object.fromEntries(delays),
  };
}

function finishIfDone() {
  if (states.every((state) => state.total !== undefined)) {
    for (const state of states) state.socket.disconnect();
    console.log(JSON.stringify(summary()));
    process.exit(0);
  }
}

for (let i = 0; i < clients; i++) {
  // A quarter start with long-polling and upgrade, the rest use WebSocket only (all of
  // them when they cut their own connections).
  const transports = i % 4 === 0 && !cutEvery ? ["polling", "websocket"] : ["websocket"];
  const socket = io(url, {
    forceNew: true,
    transports,
    reconnectionDelay: 100,
    reconnectionDelayMax: 400,
  });
  const state = {
    socket,
    last: 0,
    received: 0,
    duplicates: 0,
    missing: 0,
    connects: 0,
    reconnects: 0,
    recovered: 0,
    notRecovered: 0,
    total: undefined,
    selfCuts: 0,
  };
  states.push(state);
  if (cutEvery) {
    const cutLater = () =>
      setTimeout(() => {
        if (Date.now() > cutsEnd) return;
        // The TCP connection under the WebSocket, closed without a WebSocket close.
        const tcp = socket.io.engine?.transport?.ws?._socket;
        if (tcp) {
          tcp.destroy();
          state.selfCuts += 1;
        }
        cutLater();
      }, cutEvery * (0.5 + Math.random()));
    socket.once("tick", () => {
      cutsEnd ??= Date.now() + cutFor;
      cutLater();
    });
  }
  socket.on("connect", () => {
    state.connects += 1;
    if (state.connects === 1) return;
    state.reconnects += 1;
    if (socket.recovered) state.recovered += 1;
    else state.notRecovered += 1;
  });
  socket.on("tick", (n, sentAt) => {
    const delay = bucket(Math.max(0, Date.now() - sentAt));
    if (n <= state.last) {
      state.duplicates += 1;
      return;
    }
    state.missing += n - state.last - 1;
    state.last = n;
    state.received += 1;
    delays.set(delay, (delays.get(delay) ?? 0) + 1);
  });
  socket.on("done", (total) => {
    state.missing += total - state.last;
    state.total = total;
    finishIfDone();
  });
}
