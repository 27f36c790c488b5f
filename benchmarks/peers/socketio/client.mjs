// The recovery workload's subscribers and publisher for the Socket.IO peer, driven by
// benchmarks/failover.py over stdin and stdout (one JSON object a line: benchmarks/node.py).
//
// socket.io-client is the reference implementation of connection-state recovery
// (it sends the session id and the last offset it saw when it reconnects), so it
// is what a Socket.IO application would run. Every clock reading is
// process.hrtime.bigint(), CLOCK_MONOTONIC on Linux: the same clock as Python's
// time.perf_counter_ns(), so the Python side can compare them with its own.
//
// Run: node client.mjs CONFIG, CONFIG a JSON object:
//   subscribers: [url, ...] (one socket each), publisher: url,
//   victim: url (the server that will be killed), survivor: url (where the victim's sockets go),
//   topic, events, rate (events/s), window (publishes unacknowledged at most),
//   reconnectDelay, reconnectDelayMax (seconds), concurrency (sockets connecting at once).
// Prints {"ready": ...} once every socket is subscribed; on "publish" (stdin), publishes,
// printing {"published": n} after each; prints {"complete": t} once every subscriber has
// every event; on "report" prints the report (with a sample of the events some missed) and exits.

import { io } from "socket.io-client";

import { Tally, inBatches, now, payload, say, sayLast, serve, windowOf } from "./common.mjs";

const config = JSON.parse(process.argv[2]);

const tally = Object.assign(new Tally(config.events * config.subscribers.length), {
  reordered: 0,
  // The first few events out of order: [moved, seq, offset, the later offset before it].
  reorders: [],
  firstSentNs: 0,
  lastSentNs: 0,
  publishErrors: 0,
  // Sockets of the victim that came back, and how.
  recovered: 0,
  notRecovered: 0,
  resubscribedNs: [],
  // Reconnection attempts that failed, and why (the first few).
  failedAttempts: 0,
  attemptErrors: [],
  // Sockets that lost their connection although their server lived.
  dropped: 0,
  failedSubscriptions: 0,
});

function options() {
  return {
    transports: ["websocket"],
    forceNew: true,
    // socket.io-client reads 0 as "unset" (1 s): 1 ms stands for an immediate reconnection.
    reconnectionDelay: Math.max(1, config.reconnectDelay * 1000),
    reconnectionDelayMax: config.reconnectDelayMax * 1000,
    // The first attempt after a uniformly random delay in [0, 2 × reconnectDelay], as the Python side does.
    randomizationFactor: 1,
    timeout: 20000,
  };
}

function subscribe(socket) {
  return socket.timeout(15000).emitWithAck("subscribe", config.topic);
}

function subscriber(url) {
  const socket = io(url, options());
  // The stream id ("ms-n") of the last event delivered for the first time: the server's order.
  let last = null;
  let connects = 0;
  const { seen, listen } = tally.subscriber(config.topic, config.events, (seq, at, data, offset) => {
    const order = typeof offset === "string" ? offset.split("-").map(Number) : [seq, 0];
    if (last && (order[0] < last[0] || (order[0] === last[0] && order[1] < last[1]))) {
      tally.reordered += 1;
      if (tally.reorders.length < 5) tally.reorders.push([url === config.victim, seq, order.join("-"), last.join("-")]);
    } else {
      last = order;
    }
  });
  socket.on("event", listen);
  socket.io.on("reconnect_error", (error) => {
    tally.failedAttempts += 1;
    if (tally.attemptErrors.length < 3) tally.attemptErrors.push(String(error?.message ?? error));
  });
  socket.on("disconnect", () => {
    if (url === config.victim) {
      // Two servers and no sticky load balancer: the next attempt goes to the survivor.
      socket.io.uri = config.survivor;
    } else {
      tally.dropped += 1;
    }
  });
  const ready = new Promise((resolve, reject) => {
    socket.on("connect", () => {
      connects += 1;
      if (connects === 1) {
        subscribe(socket).then(resolve, reject);
      } else if (socket.recovered) {
        // The server restored the rooms and sent what was missed before this event.
        tally.recovered += 1;
        tally.resubscribedNs.push(now());
      } else {
        // What an application does when recovery fails: subscribe again (and refetch its state).
        tally.notRecovered += 1;
        subscribe(socket).then(
          () => tally.resubscribedNs.push(now()),
          () => (tally.failedSubscriptions += 1),
        );
      }
    });
  });
  const missing = () => [...seen.keys()].filter((seq) => !seen[seq]);
  return { socket, ready, missing, moved: url === config.victim };
}

// A few subscribers that miss events, and which: [moved, [seq, ...]].
function missingSample(subscribers, count = 5, seqs = 20) {
  const sample = [];
  for (const s of subscribers) {
    const missing = s.missing();
    if (missing.length) sample.push([s.moved, missing.slice(0, seqs)]);
    if (sample.length >= count) break;
  }
  return sample;
}

async function publishAll(publisher) {
  const start = now();
  const window = windowOf(config.window);
  const sent = [];
  for (let seq = 0; seq < config.events; seq++) {
    const due = start + (seq / config.rate) * 1e9;
    const wait = (due - now()) / 1e6;
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    await window.acquire();
    const t = now();
    if (!tally.firstSentNs) tally.firstSentNs = t;
    tally.lastSentNs = t;
    const ack = publisher
      .timeout(15000)
      .emitWithAck("publish", config.topic, payload(seq, t))
      .catch(() => (tally.publishErrors += 1))
      .finally(() => window.release());
    sent.push(ack);
    say({ published: seq + 1 });
  }
  await Promise.all(sent);
  say({ publishedAll: now() });
}

const subscribers = await inBatches(config.subscribers, config.concurrency, subscriber);
const publisher = io(config.publisher, { ...options(), reconnection: false });
await new Promise((resolve) => publisher.on("connect", resolve));
say({ ready: now() });

await serve({
  publish: () => publishAll(publisher),
  report: () => {
    for (const socket of [...subscribers.map((s) => s.socket), publisher]) socket.disconnect();
    sayLast({ report: { ...tally, missing: missingSample(subscribers) } });
  },
});
