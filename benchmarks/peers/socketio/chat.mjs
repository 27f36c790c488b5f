// The chat workload's (W6) members for the Socket.IO peer, driven by benchmarks/chat.py over stdin and
// stdout (one JSON object a line: benchmarks/node.py). Every member is a socket.io-client socket that joins
// its room and publishes to it; every member counts what its room delivers, its own messages too.
//
// Run: node chat.mjs CONFIG, CONFIG a JSON object (benchmarks/chat.py's Plan):
//   urls: [url, ...] and topics: [topic, ...] (one socket each, room by room), members (per room),
//   senders (the first members of each room, who publish), messages (each sender publishes), mode ("burst" or "steady"), rate (messages/s per member, steady),
//   window (publishes a member leaves unacknowledged at most), concurrency (sockets connecting at once).
// Prints {"ready": t} once every socket is in its room; on "publish" (stdin), every member publishes,
// then {"publishedAll": t} once every publish is acknowledged; {"complete": t} once every member has every
// message of its room; on "report" prints the counts and every latency (ns) and exits.

import { io } from "socket.io-client";

import { Tally, inBatches, now, payload, say, sayLast, serve, windowOf } from "./common.mjs";

const config = JSON.parse(process.argv[2]);
const count = config.urls.length;
// Messages of one room: each sender's are numbered from its place in the room.
const perRoom = config.senders * config.messages;
const tally = Object.assign(new Tally(perRoom * count), {
  dropped: 0,
  published: 0,
  publishErrors: 0,
  firstSentNs: 0,
  lastAnsweredNs: 0,
});
const latencies = [];
let closing = false;

function member(index) {
  const topic = config.topics[index];
  const socket = io(config.urls[index], { transports: ["websocket"], forceNew: true, reconnection: false });
  const { listen } = tally.subscriber(topic, perRoom, (seq, at, data) => latencies.push(at - data.t));
  socket.on("event", listen);
  socket.on("disconnect", () => {
    if (!closing) tally.dropped += 1;
  });
  const ready = new Promise((resolve, reject) => {
    socket.once("connect", () => socket.timeout(15000).emitWithAck("subscribe", topic).then(resolve, reject));
    socket.once("connect_error", reject);
  });
  return { socket, topic, index, ready };
}

async function publishAll({ socket, topic, index }, start) {
  const window = windowOf(config.window);
  const acks = [];
  for (let message = 0; message < config.messages; message++) {
    if (config.mode === "steady") {
      const wait = (start + ((message + index / count) / config.rate) * 1e9 - now()) / 1e6;
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    await window.acquire();
    const t = now();
    if (!tally.firstSentNs) tally.firstSentNs = t;
    const seq = (index % config.members) * config.messages + message;
    const ack = socket
      .timeout(15000)
      .emitWithAck("publish", topic, payload(seq, t))
      .then(
        () => {
          tally.published += 1;
          tally.lastAnsweredNs = now();
        },
        () => (tally.publishErrors += 1),
      )
      .finally(() => window.release());
    acks.push(ack);
  }
  await Promise.all(acks);
}

const members = await inBatches([...config.urls.keys()], config.concurrency, member);
say({ ready: now() });

await serve({
  publish: async () => {
    const start = now();
    const senders = members.filter(({ index }) => index % config.members < config.senders);
    await Promise.all(senders.map((m) => publishAll(m, start)));
    say({ publishedAll: now() });
  },
  report: () => {
    closing = true;
    for (const { socket } of members) socket.disconnect();
    sayLast({ report: { ...tally, latencies } });
  },
});
