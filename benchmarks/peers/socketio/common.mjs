// What the Socket.IO peer's clients share (client.mjs: recovery; chat.mjs: W6): the clock, the messages to
// the Python side, the event data, and the stdin commands. Every clock reading is process.hrtime.bigint(),
// CLOCK_MONOTONIC on Linux: the same clock as Python's time.perf_counter_ns(), so the Python side can compare
// them with its own.

import { createInterface } from "node:readline";

export const now = () => Number(process.hrtime.bigint());

// One JSON object a line on stdout, read by benchmarks/node.py.
export const say = (message) => process.stdout.write(JSON.stringify(message) + "\n");

// Say a last message and exit once it is written: exiting at once cuts a large write to a pipe short.
export const sayLast = (message) => process.stdout.write(JSON.stringify(message) + "\n", () => process.exit(0));

// An event's data, as benchmarks/events.py makes it: ~100 bytes of JSON with its sequence number and send time.
const PAYLOAD_BYTES = 100;
const PAD = "x".repeat(PAYLOAD_BYTES - JSON.stringify({ seq: 100, t: 10 ** 15, pad: "" }).length);
export const payload = (seq, t) => ({ seq, t, pad: PAD });

// Deliveries across every subscriber, counted by each event's sequence number: nothing is filtered, a number
// seen before is a duplicate. Prints {"complete": t} once `expected` events were delivered for the first time.
export class Tally {
  constructor(expected) {
    this.expected = expected;
    this.delivered = 0;
    this.duplicates = 0;
    this.stray = 0;
    this.lastDeliveryNs = 0;
    this.completeSaid = false;
  }

  // One subscriber's: `seen` by sequence number, and `listen`, its "event" listener for events of `topic`
  // numbered from 0 below `count`. `first(seq, at, data, ...rest)` sees each event the first time it arrives.
  subscriber(topic, count, first) {
    const seen = new Uint8Array(count);
    const listen = (room, data, ...rest) => {
      const at = now();
      const seq = data?.seq;
      if (room !== topic || !Number.isInteger(seq) || seq < 0 || seq >= count) {
        this.stray += 1;
        return;
      }
      if (seen[seq]) {
        this.duplicates += 1;
        return;
      }
      seen[seq] = 1;
      first(seq, at, data, ...rest);
      this.delivered += 1;
      this.lastDeliveryNs = at;
      if (this.delivered === this.expected && !this.completeSaid) {
        this.completeSaid = true;
        say({ complete: at });
      }
    };
    return { seen, listen };
  }
}

// Make a client of every item, `size` at a time, each waiting for the previous ones' `ready` promises.
export async function inBatches(items, size, make) {
  const made = [];
  for (let i = 0; i < items.length; i += size) {
    const batch = items.slice(i, i + size).map(make);
    await Promise.all(batch.map((client) => client.ready));
    made.push(...batch);
  }
  return made;
}

// At most `size` publishes unacknowledged: await acquire() before one, release() once it is answered.
export function windowOf(size) {
  let inFlight = 0;
  const waiting = [];
  return {
    async acquire() {
      while (inFlight >= size) await new Promise((resolve) => waiting.push(resolve));
      inFlight += 1;
    },
    release() {
      inFlight -= 1;
      const next = waiting.shift();
      if (next) next();
    },
  };
}

// Run the handler named by each line on stdin ("publish", "report").
export async function serve(handlers) {
  for await (const line of createInterface({ input: process.stdin })) {
    const handler = handlers[line.trim()];
    if (handler) handler();
  }
}
