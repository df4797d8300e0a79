// Runs one scenario with the official socket.io-client against the Rust fixture server
// (tests/support/sio.rs), checks what the client sees, prints a JSON line for the Rust
// side and exits 0; exits 1 on failure.
//
//   node socketio/client.mjs <scenario> <url> [options as JSON]
import assert from "node:assert/strict";
import { io, Manager } from "socket.io-client";
import { Socket as EngineSocket } from "engine.io-client";
import msgpackParser from "socket.io-msgpack-parser";
import { failAfter, once, runScenario, sleep, step } from "../common.mjs";

const [scenario, url, rawOptions] = process.argv.slice(2);
const options = rawOptions ? JSON.parse(rawOptions) : {};
const clientOptions = { reconnection: false, forceNew: true };
if (options.transports) clientOptions.transports = options.transports;
if (options.msgpack) clientOptions.parser = msgpackParser;

failAfter(scenario);

function connect(nsp = "/", extra = {}) {
  return io(url + nsp, { ...clientOptions, ...extra });
}

async function hello(socket) {
  const [info] = await once(socket, "hello");
  return info;
}

// Calls `event` with `args` and resolves with every argument of the acknowledgement.
function call(socket, event, ...args) {
  return new Promise((resolve) => socket.emit(event, ...args, (...answer) => resolve(answer)));
}

const bytes = (buffer) => [...new Uint8Array(buffer)];

const scenarios = {
  async handshake() {
    const socket = connect("/", {
      auth: { token: "abc" },
      query: { x: "1" },
      extraHeaders: { "x-test": "yes" },
    });
    const info = await hello(socket);
    socket.disconnect();
    return info;
  },

  async events() {
    const socket = connect();
    await hello(socket);
    step("echo");
    const echoed = await call(socket, "echo", 1, "two", { three: [true] }, null);
    assert.deepEqual(echoed, [1, "two", { three: [true] }, null]);
    assert.deepEqual(await call(socket, "echo"), []);

    step("echo-event");
    socket.emit("echo-event", "x", { y: 2 });
    assert.deepEqual(await once(socket, "echo-event"), ["x", { y: 2 }]);

    step("binary");
    // Binary anywhere, both ways.
    const [name, reversed, sizes] = await call(socket, "upload", {
      name: "cat.png",
      file: Buffer.from([1, 2, 3]),
      parts: [Buffer.from([4]), Buffer.alloc(0), Buffer.from([5, 6])],
    });
    assert.equal(name, "cat.png");
    assert.deepEqual(bytes(reversed), [3, 2, 1]);
    assert.deepEqual(sizes, [1, 0, 2]);
    const [nested, flat] = await call(socket, "echo", { deep: [Buffer.from([9, 8])] }, Uint8Array.from([7]));
    assert.deepEqual(bytes(nested.deep[0]), [9, 8]);
    assert.deepEqual(bytes(flat), [7]);

    step("server acks");
    // The server asks, the client answers.
    socket.on("question", (x, callback) => callback(x * 2));
    socket.emit("ask");
    assert.deepEqual(await once(socket, "answer"), [42]);
    socket.on("ignored", () => {});
    socket.emit("ask-silent");
    assert.deepEqual(await once(socket, "ack-timeout"), [true]);

    step("order");
    // Two handlers of one event; a slow handler delays the socket's next events only.
    await socket.emitWithAck("twice");
    const order = [];
    const other = connect();
    await hello(other);
    const slow = socket.emitWithAck("slow").then(() => order.push("slow"));
    const fast = socket.emitWithAck("fast").then(() => order.push("fast"));
    const elsewhere = other.emitWithAck("fast").then(() => order.push("other"));
    await Promise.all([slow, fast, elsewhere]);
    assert.deepEqual(order, ["other", "slow", "fast"]);

    step("middleware");
    // A packet middleware refuses one event.
    const refused = await socket.timeout(300).emitWithAck("forbidden").then(() => "acked", () => "timed out");
    assert.equal(refused, "timed out");
    assert.equal(await socket.emitWithAck("allowed"), "ok");

    const transport = socket.io.engine.transport.name;
    socket.disconnect();
    other.disconnect();
    return { transport };
  },

  async rooms() {
    const names = ["a", "b", "c"];
    const sockets = names.map(() => connect());
    await Promise.all(sockets.map(hello));
    const [a, b, c] = sockets;
    const inbox = { a: [], b: [], c: [] };
    sockets.forEach((socket, i) => socket.onAny((event) => inbox[names[i]].push(event)));
    await a.emitWithAck("join", "room:1");
    await b.emitWithAck("join", "room:1");
    await c.emitWithAck("join", "room:2");
    await a.emitWithAck("to", { rooms: ["room:1"], event: "to-1" });
    await a.emitWithAck("to", { rooms: ["room:1", "room:2"], event: "to-both" });
    await a.emitWithAck("except", "room:2");
    await a.emitWithAck("to-from", "room:1");
    await a.emitWithAck("broadcast");
    await a.emitWithAck("all");
    assert.deepEqual(await a.emitWithAck("leave", "room:1"), []);
    await b.emitWithAck("to", { rooms: ["room:1"], event: "after-leave" });

    a.on("poll", (callback) => callback("a"));
    b.on("poll", (callback) => callback("b"));
    c.on("poll", () => {});
    const partial = await a.emitWithAck("gather", 300);
    c.off("poll");
    c.on("poll", (callback) => callback("c"));
    const complete = await a.emitWithAck("gather", 5000);

    // A round trip on each socket: everything sent to it before has arrived.
    await Promise.all(sockets.map((socket) => socket.emitWithAck("echo")));
    sockets.forEach((socket) => socket.disconnect());
    const filtered = Object.fromEntries(
      Object.entries(inbox).map(([k, v]) => [k, v.filter((e) => e !== "volatile")]),
    );
    return { inbox: filtered, partial, complete };
  },

  async namespaces() {
    const manager = new Manager(url, clientOptions);
    const main = manager.socket("/");
    const admin = manager.socket("/admin");
    const [mainHello, adminHello] = await Promise.all([hello(main), hello(admin)]);
    assert.equal(mainHello.namespace, "/");
    assert.equal(adminHello.namespace, "/admin");

    const unknown = manager.socket("/nope");
    const [error] = await once(unknown, "connect_error");
    assert.equal(error.message, "Invalid namespace");

    const dynamic = manager.socket("/room-42");
    assert.deepEqual(await once(dynamic, "welcome"), ["/room-42"]);
    const fromParent = once(dynamic, "from-parent");
    await dynamic.emitWithAck("parent-emit");
    assert.deepEqual(await fromParent, [1]);
    const [refused] = await once(manager.socket("/room-x"), "connect_error");
    assert.equal(refused.message, "Invalid namespace");

    main.disconnect();
    assert.deepEqual(await call(admin, "echo", "still here"), ["still here"]);
    manager.engine.close();
    return { multiplexed: main.io === admin.io };
  },

  async middleware() {
    const denied = connect("/private", { auth: { token: "wrong" } });
    const [error] = await once(denied, "connect_error");
    assert.equal(error.message, "unauthorized");
    assert.deepEqual(error.data, { code: 401 });
    const allowed = connect("/private", { auth: { token: "secret" } });
    assert.deepEqual(await once(allowed, "welcome"), ["private"]);
    allowed.disconnect();
    return {};
  },

  async disconnects() {
    const reasons = {};
    const kicked = connect();
    await hello(kicked);
    kicked.emit("disconnect-me");
    [reasons.serverDisconnect] = await once(kicked, "disconnect");

    const manager = new Manager(url, clientOptions);
    const x = manager.socket("/");
    const y = manager.socket("/admin");
    await Promise.all([hello(x), hello(y)]);
    const closed = Promise.all([once(x, "disconnect"), once(y, "disconnect")]);
    x.emit("close-me");
    reasons.closeConnection = (await closed).map(([reason]) => reason);

    const leaving = connect();
    await hello(leaving);
    await leaving.emitWithAck("join", "room:z");
    leaving.disconnect();

    const dropped = connect();
    await hello(dropped);
    dropped.io.engine.close();

    const member = connect();
    const kicker = connect();
    await Promise.all([hello(member), hello(kicker)]);
    await member.emitWithAck("join", "room:k");
    kicker.emit("kick-room", "room:k");
    [reasons.kickRoom] = await once(member, "disconnect");
    kicker.disconnect();
    await sleep(100);
    return reasons;
  },

  async "ping-timeout"() {
    const socket = connect();
    await hello(socket);
    const engine = socket.io.engine;
    const send = engine._sendPacket.bind(engine);
    engine._sendPacket = (type, ...rest) => {
      if (type !== "pong") send(type, ...rest);
    };
    const [reason] = await once(socket, "disconnect");
    return { reason };
  },

  async "server-ops"() {
    const a = connect();
    const b = connect();
    const [helloA, helloB] = await Promise.all([hello(a), hello(b)]);
    assert.deepEqual(await a.emitWithAck("set-data", { user: "ann" }), { user: "ann" });
    await b.emitWithAck("join", "room:f");
    const everyone = await a.emitWithAck("fetch");
    const inRoom = await a.emitWithAck("fetch", "room:f");
    await a.emitWithAck("sockets-join", "room:all");
    const joined = await a.emitWithAck("fetch", "room:all");
    await a.emitWithAck("sockets-leave", "room:all");
    const left = await a.emitWithAck("fetch", "room:all");
    const remote = once(b, "remote");
    await a.emitWithAck("remote-emit", helloB.id);
    assert.deepEqual(await remote, ["hi"]);
    const afterRemote = await a.emitWithAck("fetch", "remote-room");
    a.disconnect();
    b.disconnect();
    return { a: helloA.id, b: helloB.id, everyone, inRoom, joined: joined.length, left: left.length, afterRemote };
  },

  async "connect-timeout"() {
    const engine = new EngineSocket(url, { path: "/socket.io/", transports: ["websocket"] });
    await once(engine, "open");
    const started = Date.now();
    await once(engine, "close");
    return { closedAfterMs: Date.now() - started };
  },

  async shutdown() {
    const main = connect();
    const admin = connect("/admin");
    await Promise.all([hello(main), hello(admin)]);
    const reasons = Promise.all([once(main, "disconnect"), once(admin, "disconnect")]);
    main.emit("ready");
    return { reasons: (await reasons).map(([reason]) => reason) };
  },
};

await runScenario(scenarios, scenario);
