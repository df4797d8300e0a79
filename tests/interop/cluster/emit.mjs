// The official emitter, publishing to a classic cluster what check.mjs `listen` expects.
//   node emit.mjs <key> <prefix>
import { createClient } from "redis";
import { Emitter } from "@socket.io/redis-emitter";

const [key, prefix] = process.argv.slice(2);
const client = createClient({ url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379" });
await client.connect();
const emitter = new Emitter(client, { key });
emitter.emit("msg", { t: `${prefix}-all`, bin: Buffer.from([7, 7]) });
emitter.to("emitted").emit("msg", { t: `${prefix}-room` });
await client.quit();
console.log(JSON.stringify({ emitted: 2 }));
