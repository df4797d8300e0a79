// The bench contract server (shared/bench/CONTRACT.md) on the reference Node socket.io server.
// Env: PORT (default 3000). WORKERS does not apply (Node runs one event loop).
// 127.0.0.1, /socket.io/, websocket + polling, pingInterval 25 s, pingTimeout 20 s,
// maxHttpBufferSize 1e6, no compression, TCP_NODELAY, no logging, exits on SIGTERM.
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.env.PORT ?? 3000);

const httpServer = createServer();
httpServer.on("connection", (tcp) => tcp.setNoDelay(true));

const io = new Server(httpServer, {
  pingInterval: 25000,
  pingTimeout: 20000,
  maxHttpBufferSize: 1e6,
  transports: ["websocket", "polling"],
  perMessageDeflate: false,
  httpCompression: false,
});

io.on("connection", (socket) => {
  // The ack callback is the last argument when the client asked for one.
  const split = (args) =>
    typeof args[args.length - 1] === "function"
      ? [args.slice(0, -1), args[args.length - 1]]
      : [args, () => {}];

  socket.on("echo", (...all) => {
    const [args, ack] = split(all);
    ack(...args);
  });
  socket.on("broadcast", (...all) => {
    const [[payload], ack] = split(all);
    io.emit("msg", payload);
    ack();
  });
  socket.on("join", (...all) => {
    const [[room], ack] = split(all);
    socket.join(room);
    ack();
  });
  socket.on("to_room", (...all) => {
    const [[room, payload], ack] = split(all);
    io.to(room).emit("msg", payload);
    ack();
  });
});

process.on("SIGTERM", () => {
  io.close();
  process.exit(0);
});

httpServer.listen(port, "127.0.0.1");
