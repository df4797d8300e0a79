// Checks a running cluster from outside with official clients, as a user sees it: every
// operation of shared/cluster/CONTRACT.md started on every node, binary included.
//   node check.mjs all    http://127.0.0.1:3001,http://127.0.0.1:3002,...
//   node check.mjs listen <urls> <prefix>  (prints {"ready":true}, then what an emitter sent)
//   node check.mjs recover <dying>,<url>,...  (streams adapter: prints {"ready":true} once
//     clients on <dying> receive; the harness then stops that node and they recover on the
//     others in turn, while the others keep broadcasting to them)
import { io } from "socket.io-client";
import { failAfter, step, sleep } from "../common.mjs";

const [scenario, list, prefix = "emitter"] = process.argv.slice(2);
const urls = list.split(",");
failAfter(scenario, 60000);

const assert = (cond, what) => { if (!cond) throw new Error(what); };
const same = (a, b) => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());

function client(url) {
  const socket = io(url, { transports: ["websocket"], forceNew: true, reconnection: false });
  socket.msgs = [];
  socket.disconnects = [];
  socket.on("msg", (...args) => socket.msgs.push(args));
  socket.on("ping_ack", (_payload, ack) => ack(socket.id));
  socket.on("disconnect", (reason) => socket.disconnects.push(reason));
  return socket;
}
const connected = (socket) => new Promise((resolve, reject) => {
  if (socket.connected) return resolve();
  socket.once("connect", resolve);
  socket.once("connect_error", reject);
});
const call = (socket, event, ...args) => socket.timeout(10000).emitWithAck(event, ...args);
async function until(what, predicate, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
const got = (socket, t) => socket.msgs.filter(([payload]) => payload && payload.t === t);

async function all() {
  const members = urls.map(client);   // each joins "r"
  const others = urls.map(client);    // in no room
  const everyone = [...members, ...others];
  await Promise.all(everyone.map(connected));
  step("connected");
  for (const socket of members) await call(socket, "join", "r");
  const names = [];
  for (const socket of members) {
    const { sockets } = await call(socket, "fetch", socket.id);
    names.push(sockets[0]?.node);
  }
  step(`nodes ${names}`);

  for (let i = 0; i < urls.length; i++) {
    const from = `from ${names[i]}`;
    await call(others[i], "broadcast", { t: `all-${i}` });
    await until(`broadcast ${from}`, () => everyone.every((s) => got(s, `all-${i}`).length === 1));
    await call(others[i], "to_room", "r", { t: `room-${i}` });
    await until(`to_room ${from}`, () => members.every((s) => got(s, `room-${i}`).length === 1));
    const bin = Buffer.from([1, 2, 3, i]);
    await call(others[i], "to_room", "r", { t: `bin-${i}`, bin, nested: { deep: [Buffer.from([i])] } });
    await until(`binary to_room ${from}`, () => members.every((s) => got(s, `bin-${i}`).length === 1));
    for (const socket of members) {
      const [payload] = got(socket, `bin-${i}`)[0];
      assert(Buffer.isBuffer(payload.bin) && payload.bin.equals(bin), `binary ${from} arrives as binary`);
      assert(Buffer.isBuffer(payload.nested.deep[0]), `nested binary ${from}`);
    }
    step(`broadcasts ${from}`);

    const acks = await call(others[i], "to_room_with_acks", "r", { t: `ack-${i}` });
    assert(acks.error === null, `broadcast with acks ${from}: ${acks.error}`);
    assert(same(acks.responses, members.map((s) => s.id)), `acks ${from}: ${JSON.stringify(acks.responses)}`);

    const fetched = await call(others[i], "fetch", "r");
    assert(fetched.error === null, `fetch ${from}: ${fetched.error}`);
    assert(same(fetched.sockets.map((s) => s.id), members.map((s) => s.id)), `fetch ids ${from}`);
    for (const socket of fetched.sockets) {
      const at = members.findIndex((m) => m.id === socket.id);
      assert(socket.node === names[at], `fetched data ${from}: ${JSON.stringify(socket)}`);
      assert(socket.rooms.includes("r") && socket.rooms.includes(socket.id), `fetched rooms ${from}`);
    }

    const answers = await call(others[i], "server_side_emit", { hi: i });
    assert(answers.error === null, `server_side_emit ${from}: ${answers.error}`);
    assert(same(answers.responses, names.filter((_, j) => j !== i)), `server_side_emit answers ${from}: ${answers.responses}`);
    step(`requests ${from}`);
  }
  // No duplicates anywhere.
  for (const socket of everyone) {
    const tokens = socket.msgs.map(([p]) => p.t);
    assert(tokens.length === new Set(tokens).size, `duplicate deliveries: ${tokens}`);
  }

  for (let i = 0; i < urls.length; i++) {
    const target = `joined-${i}`;
    await call(others[i], "sockets_join", "r", target);
    const last = others[(i + 1) % urls.length];
    let ids = [];
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      ids = (await call(last, "fetch", target)).sockets.map((s) => s.id);
      if (same(ids, members.map((s) => s.id))) break;
      await sleep(50);
    }
    assert(same(ids, members.map((s) => s.id)), `sockets_join from ${names[i]}: ${ids}`);
  }
  step("sockets_join");

  await call(others[urls.length - 1], "disconnect_room", "r");
  await until("disconnect_room", () => members.every((s) => s.disconnects.includes("io server disconnect")));
  assert(others.every((s) => s.connected), "disconnect_room leaves the others");
  step("disconnect_room");
  everyone.forEach((s) => s.close());
  return { nodes: names, clients: everyone.length };
}

const offsetOf = (args) => args[args.length - 1];
const later = (a, b) => {
  const [am, as] = a.split("-").map(BigInt);
  const [bm, bs] = b.split("-").map(BigInt);
  return am > bm || (am === bm && as > bs);
};

async function recover() {
  const [dying, ...rest] = urls;
  const senders = rest.map(client);
  const victims = Array.from({ length: 2 * rest.length }, () => {
    const socket = io(dying, {
      transports: ["websocket"], forceNew: true,
      reconnectionDelay: 300, reconnectionDelayMax: 600, randomizationFactor: 0,
    });
    socket.msgs = [];
    socket.connects = 0;
    socket.on("msg", (...args) => socket.msgs.push(args));
    socket.on("connect", () => { socket.connects += 1; });
    return socket;
  });
  await Promise.all([...senders, ...victims].map(connected));
  for (const socket of victims) await call(socket, "join", "v");
  step("connected");
  const sent = [];
  let sending = true;
  const loop = (async () => {
    for (let seq = 0; sending; seq++) {
      const t = `v-${seq}`;
      await call(senders[seq % senders.length], "to_room", "v", { t });
      sent.push(t);
      await sleep(5);
    }
  })();
  await until("packets before the stop", () => victims.every((s) => s.msgs.length >= 5));
  victims.forEach((socket, i) => {
    // Behind a load balancer the next connection lands elsewhere: here, on purpose.
    socket.on("disconnect", () => { socket.io.uri = rest[i % rest.length]; });
  });
  console.log(JSON.stringify({ ready: true }));
  await until("every client recovered elsewhere", () =>
    victims.every((s) => s.connected && s.connects > 1), 20000);
  step(`recovered: ${victims.map((s) => s.recovered)}`);
  await sleep(1000);
  sending = false;
  await loop;
  await sleep(1000);
  const report = victims.map((socket, i) => {
    const tokens = socket.msgs.map(([payload]) => payload.t);
    const offsets = socket.msgs.map(offsetOf);
    return {
      on: rest[i % rest.length],
      recovered: socket.recovered,
      received: tokens.length,
      missing: sent.filter((t) => !tokens.includes(t)).length,
      duplicates: tokens.length - new Set(tokens).size,
      ordered: offsets.every((o, j) => j === 0 || later(o, offsets[j - 1])),
    };
  });
  [...senders, ...victims].forEach((s) => s.close());
  return { sent: sent.length, victims: report };
}

async function listen() {
  const sockets = urls.map(client);
  await Promise.all(sockets.map(connected));
  for (const socket of sockets) await call(socket, "join", "emitted");
  console.log(JSON.stringify({ ready: true }));
  await until("the emitter's events", () =>
    sockets.every((s) => got(s, `${prefix}-all`).length === 1 && got(s, `${prefix}-room`).length === 1), 20000);
  await sleep(200);
  for (const socket of sockets) {
    assert(socket.msgs.length === 2, `exactly the emitter's two events: ${JSON.stringify(socket.msgs)}`);
    const [payload] = got(socket, `${prefix}-all`)[0];
    assert(Buffer.isBuffer(payload.bin), "the emitter's binary arrives as binary");
  }
  sockets.forEach((s) => s.close());
  return { received: sockets.length };
}

try {
  const result = await { all, listen, recover }[scenario]();
  console.log(JSON.stringify(result));
  process.exit(0);
} catch (error) {
  console.error(`FAIL ${scenario}:`, error);
  process.exit(1);
}
