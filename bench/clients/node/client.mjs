// The client benchmark (bench/clients/README.md) on the official socket.io-client.
import { io } from "socket.io-client";

const [scenario, ...rest] = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = rest.indexOf(`--${name}`);
  return i >= 0 ? rest[i + 1] : fallback;
};
const url = opt("url", "http://127.0.0.1:3000");
const secs = Number(opt("secs", 5));
const warmup = Number(opt("warmup", 1));
const payload = "x".repeat(64);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fail = (why) => {
  console.error(why);
  process.exit(1);
};

function connect() {
  return new Promise((resolve, reject) => {
    const socket = io(url, { transports: ["websocket"], forceNew: true, reconnection: false });
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}

async function connectAll(n) {
  const sockets = [];
  for (let i = 0; i < n; i += 100) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 100); j++) batch.push(connect());
    sockets.push(...(await Promise.all(batch)));
  }
  return sockets;
}

const cpu = () => {
  const u = process.cpuUsage();
  return { user: u.user, sys: u.system };
};
const report = (ops, started, before) => {
  const after = cpu();
  const elapsed = (performance.now() - started) / 1000;
  console.log(
    JSON.stringify({ ops, secs: elapsed, user_us: after.user - before.user, sys_us: after.sys - before.sys }),
  );
};

async function ack() {
  const sockets = await connectAll(Number(opt("clients", 50)));
  let count = 0;
  let measuring = false;
  let running = true;
  const loops = sockets.map(async (socket) => {
    while (running) {
      const answer = await socket.emitWithAck("echo", payload);
      if (answer !== payload) fail(`bad echo ${answer}`);
      if (measuring) count++;
    }
  });
  await sleep(warmup * 1000);
  measuring = true;
  const before = cpu();
  const started = performance.now();
  await sleep(secs * 1000);
  measuring = false;
  report(count, started, before);
  running = false;
  await Promise.all(loops);
  process.exit(0);
}

async function receive() {
  const n = Number(opt("clients", 1000));
  const receivers = await connectAll(n);
  const sender = await connect();
  let received = 0;
  let waiting = null;
  for (const socket of receivers) {
    socket.on("msg", (data) => {
      if (data !== payload) fail(`bad msg ${data}`);
      received++;
      if (waiting && received >= waiting.target) {
        const w = waiting;
        waiting = null;
        w.resolve();
      }
    });
  }
  let measured = 0;
  let measuring = false;
  let before, started;
  const end = Date.now() + (warmup + secs) * 1000;
  const measureFrom = Date.now() + warmup * 1000;
  while (Date.now() < end) {
    if (!measuring && Date.now() >= measureFrom) {
      measuring = true;
      before = cpu();
      started = performance.now();
      measured = received;
    }
    const target = received + n;
    const all = new Promise((resolve) => (waiting = { target, resolve }));
    await sender.emitWithAck("broadcast", payload);
    await all;
  }
  report(received - measured, started, before);
  process.exit(0);
}

function rssKib() {
  return Math.round(process.memoryUsage().rss / 1024);
}

async function idle() {
  const n = Number(opt("clients", 10000));
  await sleep(200);
  const before = rssKib();
  const started = performance.now();
  const sockets = await connectAll(n);
  const connectSecs = (performance.now() - started) / 1000;
  await sleep(1000);
  const after = rssKib();
  console.log(JSON.stringify({ clients: sockets.length, connect_secs: connectSecs, rss_before_kib: before, rss_after_kib: after }));
  process.exit(0);
}

({ ack, receive, idle })[scenario]?.().catch((e) => fail(e)) ?? fail(`unknown scenario ${scenario}`);
