// Runs one scenario with the official engine.io-client against a server at URL, then
// prints a JSON line describing what the client saw and exits 0; exits 1 on failure.
//
//   node engineio/client.mjs <scenario> <url> [transport]
import { Socket } from "engine.io-client";

const [scenario, url, transport] = process.argv.slice(2);

function fail(message) {
  console.error(`FAIL ${scenario}: ${message}`);
  process.exit(1);
}

function done(result = {}) {
  console.log(JSON.stringify(result));
  process.exit(0);
}

setTimeout(() => fail("timed out"), 20000);

// Closes the socket and exits once the close has reached the server: over long-polling
// the `close` packet travels in a POST that exiting at once would cut.
// (The client drops its listeners on the transport as it closes, so the write itself is
// watched.)
async function closeAndFinish(socket, result) {
  const transport = socket.transport;
  if (transport.name === "polling") {
    const write = transport.doWrite.bind(transport);
    const written = new Promise((resolve) => {
      transport.doWrite = (data, callback) => write(data, () => { callback(); resolve(); });
    });
    socket.close();
    await Promise.race([written, new Promise((resolve) => setTimeout(resolve, 5000))]);
  } else {
    socket.close();
  }
  done(result);
}

function connect(options = {}) {
  const socket = new Socket(url, options);
  socket.on("error", (error) => {
    // A refused handshake is an error; so is the 413 of a too-big POST, when it comes
    // back before the pending GET brings the server's close.
    if (scenario !== "refused" && scenario !== "too-big") {
      fail(`error event: ${error.message} ${error.description ?? ""}`);
    }
  });
  return socket;
}

function nextMessage(socket) {
  return new Promise((resolve) => socket.once("message", resolve));
}

function once(socket, event) {
  return new Promise((resolve) => socket.once(event, (...args) => resolve(args)));
}

function bytes(data) {
  if (typeof data === "string") fail(`expected binary, got text ${JSON.stringify(data)}`);
  return Array.from(new Uint8Array(data instanceof ArrayBuffer ? data : data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)));
}

switch (scenario) {
  // One transport, no upgrade: a text round trip.
  case "polling":
  case "websocket": {
    const socket = connect({ transports: [scenario] });
    await once(socket, "open");
    socket.send("hello €");
    const echo = await nextMessage(socket);
    if (echo !== "hello €") fail(`echo was ${JSON.stringify(echo)}`);
    if (socket.transport.name !== scenario) fail(`transport is ${socket.transport.name}`);
    await closeAndFinish(socket, { transport: socket.transport.name });
    break;
  }

  // Long-polling first, then the upgrade to WebSocket; messages on both sides of it.
  case "upgrade": {
    const socket = connect();
    await once(socket, "open");
    if (socket.transport.name !== "polling") fail(`started on ${socket.transport.name}`);
    socket.send("before");
    if ((await nextMessage(socket)) !== "before") fail("no echo before the upgrade");
    if (socket.transport.name !== "websocket") await once(socket, "upgrade");
    socket.send("after");
    if ((await nextMessage(socket)) !== "after") fail("no echo after the upgrade");
    await closeAndFinish(socket, { transport: socket.transport.name });
    break;
  }

  // Binary messages both ways: Buffer and ArrayBuffer out, binary back.
  case "binary": {
    const socket = connect({ transports: [transport] });
    await once(socket, "open");
    socket.send(Buffer.from([1, 2, 3, 4]));
    const first = bytes(await nextMessage(socket));
    socket.send(new Uint8Array([255, 0, 30, 128]).buffer);
    const second = bytes(await nextMessage(socket));
    await closeAndFinish(socket, { first, second, transport: socket.transport.name });
    break;
  }

  // A message over the server's maxPayload ends the session.
  case "too-big": {
    const socket = connect({ transports: [transport] });
    await once(socket, "open");
    socket.send("x".repeat(4000));
    const [reason] = await once(socket, "close");
    done({ reason });
    break;
  }

  // The client stops answering pings: the server closes the session.
  case "ping-timeout": {
    const socket = connect({ transports: [transport] });
    await once(socket, "open");
    const send = socket._sendPacket.bind(socket);
    socket._sendPacket = (type, ...rest) => {
      if (type !== "pong") send(type, ...rest);
    };
    const started = Date.now();
    const [reason] = await once(socket, "close");
    done({ reason, afterMs: Date.now() - started });
    break;
  }

  // The client closes: the server sees it.
  case "client-close": {
    const socket = connect({ transports: [transport] });
    await once(socket, "open");
    socket.send("last");
    await nextMessage(socket);
    await closeAndFinish(socket, {});
    break;
  }

  // The server's allow_request hook refuses the handshake.
  case "refused": {
    const socket = connect({ transports: [transport], extraHeaders: { "x-token": "wrong" } });
    socket.on("open", () => fail("opened"));
    const [error] = await once(socket, "error");
    done({ message: error.message, description: String(error.description?.message ?? error.description ?? "") });
    break;
  }

  default:
    fail(`unknown scenario ${scenario}`);
}
