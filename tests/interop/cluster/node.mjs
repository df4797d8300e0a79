// One Node server of a cluster on Redis, as shared/cluster/CONTRACT.md describes it, built
// with the official packages: the reference our examples/cluster_node is checked against.
import { createServer } from "node:http";
import { Server } from "socket.io";
import { createClient, createCluster } from "redis";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import { createAdapter as createStreamsAdapter } from "@socket.io/redis-streams-adapter";

const PORT = Number(process.env.PORT);
const NODE_NAME = process.env.NODE_NAME ?? "node";
const ADAPTER = process.env.ADAPTER ?? "classic";
const KEY = process.env.KEY ?? "";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

// Not in the contract: the nodes of a Redis Cluster, for the tests that run one.
const CLUSTER = process.env.REDIS_CLUSTER;
const pub = CLUSTER
  ? createCluster({ rootNodes: CLUSTER.split(",").map((url) => ({ url })) })
  : createClient({ url: REDIS_URL });
const sub = pub.duplicate();
pub.on("error", (e) => console.error("redis pub:", e.message));
sub.on("error", (e) => console.error("redis sub:", e.message));
await Promise.all([pub.connect(), sub.connect()]);

let adapter;
if (ADAPTER === "classic") {
  adapter = createAdapter(pub, sub, KEY ? { key: KEY } : {});
} else if (ADAPTER === "sharded") {
  adapter = createShardedAdapter(pub, sub, {
    ...(KEY ? { channelPrefix: KEY } : {}),
    subscriptionMode: "dynamic",
  });
} else if (ADAPTER === "streams") {
  adapter = createStreamsAdapter(pub, KEY ? {
    streamName: KEY,
    channelPrefix: KEY,
    sessionKeyPrefix: KEY + ":session:",
  } : {});
} else {
  console.error(`ADAPTER ${ADAPTER}: not supported here`);
  process.exit(2);
}

const http = createServer();
const io = new Server(http, {
  adapter,
  transports: ["websocket", "polling"],
  ...(ADAPTER === "streams"
    ? { connectionStateRecovery: { maxDisconnectionDuration: 120000, skipMiddlewares: true } }
    : {}),
});

io.on("hello", (_payload, cb) => cb(NODE_NAME));

io.on("connection", (socket) => {
  socket.data.node = NODE_NAME;
  socket.on("join", (room, ack) => { socket.join(room); ack(); });
  socket.on("leave", (room, ack) => { socket.leave(room); ack(); });
  socket.on("to_room", (room, payload, ack) => { io.to(room).emit("msg", payload); ack(); });
  socket.on("broadcast", (payload, ack) => { io.emit("msg", payload); ack(); });
  socket.on("to_room_with_acks", (room, payload, ack) => {
    io.to(room).timeout(2000).emit("ping_ack", payload, (error, responses) => {
      ack({ error: error ? error.message : null, responses });
    });
  });
  socket.on("fetch", async (room, ack) => {
    try {
      const sockets = await io.in(room).fetchSockets();
      ack({ error: null, sockets: sockets.map((s) => ({ id: s.id, node: s.data.node, rooms: [...s.rooms] })) });
    } catch (error) {
      ack({ error: error.message, sockets: [] });
    }
  });
  socket.on("server_side_emit", (payload, ack) => {
    let done = false;
    const guard = setTimeout(() => { if (!done) { done = true; ack({ error: "no answer within 8 s", responses: [] }); } }, 8000);
    io.serverSideEmit("hello", payload, (error, responses) => {
      if (done) return;
      done = true;
      clearTimeout(guard);
      ack({ error: error ? error.message : null, responses: responses ?? [] });
    });
  });
  socket.on("sockets_join", (room, target, ack) => { io.in(room).socketsJoin(target); ack(); });
  socket.on("disconnect_room", (room, ack) => { io.in(room).disconnectSockets(); ack(); });
});

http.listen(PORT, "127.0.0.1", () => console.error(`${NODE_NAME} listening on ${PORT}`));
// The sessions io.close() keeps (streams adapter) are written before the process exits.
const stop = async () => {
  io.close();
  await Promise.all([pub.quit(), sub.quit()]).catch(() => {});
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
