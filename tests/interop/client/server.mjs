// The official Socket.IO 4.8 server as the other end of the Rust client's interop tests.
//
//   node client/server.mjs '<options JSON>'
//
// Options: "port" (0 for any), "path", "pageDir" (files served under /sio-page/), "recovery" (connection state recovery, ms), "pingInterval",
// "pingTimeout", "maxHttpBufferSize", "parser" ("msgpack"), "transports". Prints
// `{"port": N}` once listening, then one JSON line per thing it saw. Reads JSON lines on
// stdin: {"op":"emit","nsp":"/","event":"e","args":[...]} emits to every socket of a
// namespace; {"op":"close"} stops.
//
// What sockets can ask for (the same behaviours as the Rust fixture of
// tests/support/client_fixture.rs): see `behaviours` below. Binary travels as Buffers;
// `{"$binary": "<base64>"}` in an op's args becomes one.
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Server } from "socket.io";
import msgpackParser from "socket.io-msgpack-parser";

const options = JSON.parse(process.argv[2] || "{}");
const say = (line) => process.stdout.write(JSON.stringify(line) + "\n");

const fromJson = (value) => {
  if (Array.isArray(value)) return value.map(fromJson);
  if (value && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "$binary") return Buffer.from(value.$binary, "base64");
    return Object.fromEntries(keys.map((k) => [k, fromJson(value[k])]));
  }
  return value;
};

const types = { ".js": "text/javascript", ".wasm": "application/wasm", ".html": "text/html" };
// Pages for the browser test, at the server's origin; the rest is Socket.IO's.
const httpServer = createServer(async (req, res) => {
  const name = new URL(req.url, "http://x").pathname.replace(/^\/sio-page\//, "");
  if (!options.pageDir || name.includes("/") || name.includes("..")) {
    res.writeHead(404).end();
    return;
  }
  try {
    const body = await readFile(join(options.pageDir, name));
    const type = types[name.slice(name.lastIndexOf("."))] ?? "application/octet-stream";
    res.writeHead(200, { "Content-Type": type }).end(body);
  } catch {
    res.writeHead(404).end();
  }
});
const io = new Server(httpServer, {
  path: options.path ?? "/socket.io/",
  pingInterval: options.pingInterval ?? 25000,
  pingTimeout: options.pingTimeout ?? 20000,
  maxHttpBufferSize: options.maxHttpBufferSize ?? 1e6,
  transports: options.transports ?? ["polling", "websocket"],
  parser: options.parser === "msgpack" ? msgpackParser : undefined,
  connectionStateRecovery: options.recovery
    ? { maxDisconnectionDuration: options.recovery, skipMiddlewares: true }
    : undefined,
});

const counts = new Map();
const logs = new Map();

function behaviours(socket) {
  const nsp = socket.nsp;
  say({ seen: "connection", nsp: nsp.name, id: socket.id, recovered: socket.recovered });
  socket.on("disconnect", (reason) => say({ seen: "disconnect", nsp: nsp.name, reason }));
  socket.onAny((event, ...args) => {
    counts.set(event, (counts.get(event) ?? 0) + 1);
    if (event !== "count") say({ seen: "event", nsp: nsp.name, event });
  });
  // Answers with the arguments it got.
  socket.on("echo", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (ack) ack(...args);
    else socket.emit("echo", ...args);
  });
  // Emits `event` with `args` to every socket of the namespace.
  socket.on("broadcast", (event, ...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    nsp.emit(event, ...args);
    if (ack) ack("ok");
  });
  // Asks the client for an acknowledgement and answers with what the client said.
  socket.on("ask", async (event, ...args) => {
    const ack = args.pop();
    try {
      ack({ answer: await socket.timeout(5000).emitWithAck(event, ...args) });
    } catch (error) {
      ack({ error: error.message });
    }
  });
  socket.on("binary", (ack) =>
    ack(Buffer.from([1, 2, 3]), { nested: [Buffer.from([4, 5])], text: "mixed" }),
  );
  socket.on("handshake", (ack) =>
    ack({
      auth: socket.handshake.auth,
      query: socket.handshake.query,
      header: socket.handshake.headers["x-test"] ?? null,
    }),
  );
  socket.on("count", (event, ack) => ack(counts.get(event) ?? 0));
  // Keeps `value` in the list `name`, in the order it came; `logged` answers with the list.
  socket.on("log", (name, value, ack) => {
    logs.set(name, [...(logs.get(name) ?? []), value]);
    if (typeof ack === "function") ack();
  });
  socket.on("logged", (name, ack) => ack(logs.get(name) ?? []));
  // Answers after `ms`.
  socket.on("slow", (ms, ack) => setTimeout(() => ack("late"), ms));
  // Never answers.
  socket.on("never", () => {});
  socket.on("disconnect-me", () => socket.disconnect());
}

const refuse = (socket, next) => {
  if (socket.handshake.auth && socket.handshake.auth.token === "bad") {
    const error = new Error("not authorized");
    error.data = { code: 42, reason: "bad token" };
    return next(error);
  }
  next();
};

const dynamic = io.of(/^\/.*/);
dynamic.use(refuse);
dynamic.on("connection", behaviours);
io.use(refuse);
io.on("connection", behaviours);

httpServer.listen(options.port ?? 0, "127.0.0.1", () => {
  say({ port: httpServer.address().port });
});

createInterface({ input: process.stdin }).on("line", (line) => {
  const command = JSON.parse(line);
  if (command.op === "emit") {
    io.of(command.nsp ?? "/").emit(command.event, ...fromJson(command.args ?? []));
  } else if (command.op === "close") {
    io.close();
    process.exit(0);
  }
});
process.stdin.on("end", () => process.exit(0));
