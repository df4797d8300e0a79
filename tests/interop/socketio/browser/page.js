// Scenarios run inside Chromium with the official browser bundle of socket.io-client,
// against the Rust fixture (tests/support/sio.rs). Each resolves with what it saw and
// throws on anything unexpected.
const once = (emitter, event) => new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
const call = (socket, event, ...args) =>
  new Promise((resolve) => socket.emit(event, ...args, (...answer) => resolve(answer)));
const bytes = (buffer) => Array.from(new Uint8Array(buffer));

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

function same(actual, expected, what) {
  check(JSON.stringify(actual) === JSON.stringify(expected), `${what}: ${JSON.stringify(actual)} != ${JSON.stringify(expected)}`);
}

function connect(nsp = "/", options = {}) {
  return io(nsp, { forceNew: true, reconnection: false, ...options });
}

async function hello(socket) {
  const [info] = await once(socket, "hello");
  return info;
}

const scenarios = {
  async events(options) {
    // The msgpack bundle's encoder knows ArrayBuffer only (a typed array or a Blob would
    // be sent as a plain object), so that variant sends ArrayBuffers.
    const binary = (values) => (options.msgpack ? new Uint8Array(values).buffer : new Uint8Array(values));
    const socket = connect("/", options);
    await hello(socket);
    same(await call(socket, "echo", 1, "two", { three: [true] }, null), [1, "two", { three: [true] }, null], "echo");

    // Binary from the browser: ArrayBuffer, Uint8Array and Blob, nested or not.
    const [nested, typed] = await call(socket, "echo", { deep: [new Uint8Array([9, 8]).buffer] }, binary([7, 6, 5]));
    check(nested.deep[0] instanceof ArrayBuffer, "binary comes back as an ArrayBuffer");
    same(bytes(nested.deep[0]), [9, 8], "nested binary");
    same(bytes(typed), [7, 6, 5], "typed array");
    if (!options.msgpack) {
      const [blob] = await call(socket, "echo", new Blob([new Uint8Array([4, 3])]));
      same(bytes(blob), [4, 3], "blob");
    }

    const [name, reversed, sizes] = await call(socket, "upload", {
      name: "cat.png",
      file: binary([1, 2, 3]),
      parts: [new Uint8Array([4]).buffer, binary([]), binary([5, 6])],
    });
    same([name, bytes(reversed), sizes], ["cat.png", [3, 2, 1], [1, 0, 2]], "typed upload");

    socket.on("question", (x, callback) => callback(x * 2));
    socket.emit("ask");
    same(await once(socket, "answer"), [42], "server-side ack");

    const transport = socket.io.engine.transport.name;
    socket.disconnect();
    return { transport };
  },

  async rooms() {
    const a = connect();
    const b = connect();
    await Promise.all([hello(a), hello(b)]);
    await a.emitWithAck("join", "room:1");
    await b.emitWithAck("join", "room:1");
    const toFrom = once(b, "to-from");
    await a.emitWithAck("to-from", "room:1");
    const [from] = await toFrom;
    const broadcasted = once(b, "broadcasted");
    await a.emitWithAck("broadcast");
    await broadcasted;
    const id = a.id;
    a.disconnect();
    b.disconnect();
    return { from, a: id };
  },

  async namespaces() {
    const manager = new io.Manager(location.origin, { reconnection: false });
    const main = manager.socket("/");
    const admin = manager.socket("/admin");
    const [mainHello, adminHello] = await Promise.all([hello(main), hello(admin)]);
    same([mainHello.namespace, adminHello.namespace], ["/", "/admin"], "namespaces");
    const dynamic = manager.socket("/room-7");
    same(await once(dynamic, "welcome"), ["/room-7"], "dynamic namespace");
    const [error] = await once(manager.socket("/nope"), "connect_error");
    same(error.message, "Invalid namespace", "unknown namespace");
    manager.engine.close();
    return { multiplexed: main.io === admin.io };
  },

  async disconnects() {
    const socket = connect();
    await hello(socket);
    socket.emit("disconnect-me");
    const [reason] = await once(socket, "disconnect");
    return { reason };
  },
};

window.runScenario = (name, options) => scenarios[name](options ?? {});
