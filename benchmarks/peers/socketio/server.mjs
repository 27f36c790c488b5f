// Socket.IO 4 with the Redis Streams adapter and connection-state recovery:
// the recovery workload's optional peer (benchmarks/README.md).
//
// Speaks the benchmark's pub/sub in Socket.IO's own terms: "subscribe"
// (topic) joins the room of that name, "publish" (topic, data) emits
// "event" (topic, data) to that room, through the adapter, so that every
// server process delivers it; both are acknowledged. Connection-state
// recovery restores a reconnecting client's rooms and the events it missed
// from the adapter's stream, on whichever process it reconnects to, when
// the session was saved, which happens when its connection closes.
//
// Run: node server.mjs --host 127.0.0.1 --port 8765
// with REDIS_URL and BENCH_LAYER_PREFIX (the Redis keys: PREFIX:stream,
// PREFIX:session:*) in the environment.
//
// SIGTERM closes gracefully (Socket.IO saves every session, Redis is closed
// once its commands are written); SIGKILL is a crash.

import { createServer } from "node:http";
import { parseArgs } from "node:util";

import { createAdapter } from "@socket.io/redis-streams-adapter";
import { createClient } from "redis";
import { Server } from "socket.io";

const { values: args } = parseArgs({
  options: { host: { type: "string", default: "127.0.0.1" }, port: { type: "string", default: "8765" } },
});
const prefix = process.env.BENCH_LAYER_PREFIX || "wsrpc-bench-socketio";

const redis = createClient({ url: process.env.REDIS_URL || "redis://127.0.0.1:6379/0" });
redis.on("error", (error) => console.error("redis:", error.message));
await redis.connect();

const http = createServer();
const io = new Server(http, {
  // The benchmark's clients speak WebSocket only, as wsrpc's do: no polling, no upgrade, no sticky sessions.
  transports: ["websocket"],
  connectionStateRecovery: { maxDisconnectionDuration: 2 * 60 * 1000, skipMiddlewares: true },
  adapter: createAdapter(redis, { streamName: `${prefix}:stream`, sessionKeyPrefix: `${prefix}:session:` }),
});

io.on("connection", (socket) => {
  socket.on("subscribe", (topic, ack) => {
    socket.join(topic);
    if (typeof ack === "function") ack({ topic, subscribed: true });
  });
  socket.on("publish", (topic, data, ack) => {
    io.to(topic).emit("event", topic, data);
    if (typeof ack === "function") ack(true);
  });
});

process.on("SIGTERM", async () => {
  await io.close();
  await redis.close(); // after the sessions' SET commands
  process.exit(0);
});

http.listen(Number(args.port), args.host);
