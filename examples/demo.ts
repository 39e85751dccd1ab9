// Usage: npm run demo   (or: deno run examples/demo.ts, bun examples/demo.ts)
//
// The main webstage example: a sensor producer, an enriching
// producer-consumer and three consumers of different speeds. The display
// shows, per stage, what flows and how demand paces it: the producer only
// makes what was asked for, so the events in flight (made but not yet
// handled) never exceed the sum of the subscriptions' maxDemand — however
// slow the consumers are. On a terminal the display refreshes in place;
// otherwise it prints plain lines.

import { Consumer, Producer, ProducerConsumer } from "../mod.ts";

interface Reading {
  readonly id: number;
  readonly sensor: number;
  readonly celsius: number;
}
interface Checked extends Reading {
  readonly alert: boolean;
}

const TOTAL = Number(argument("--events") ?? 30_000);
const SENSORS = 16;

// ---------------------------------------------------------------- stages

let made = 0;
let handledAll = 0;
let maxInFlight = 0;
let asks = 0;
let asked = 0;
const sensors = new Producer<Reading>({
  handleDemand(demand) {
    asks++;
    asked += demand;
    const count = Math.min(demand, TOTAL - made);
    const batch: Reading[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const id = made + i;
      batch[i] = { id, sensor: id % SENSORS, celsius: 20 + 15 * Math.sin(id / 500) + (id % 7) };
    }
    made += count;
    // In flight only grows here, so this sees its true maximum.
    maxInFlight = Math.max(maxInFlight, made - handledAll);
    if (made === TOTAL) queueMicrotask(() => void sensors.close());
    return batch;
  },
});

let checkedCount = 0;
const checker = new ProducerConsumer<Reading, Checked>({
  subscribeTo: [[sensors, { maxDemand: 400, minDemand: 200 }]],
  handleEvents(readings) {
    checkedCount += readings.length;
    return readings.map((reading) => ({ ...reading, alert: reading.celsius > 38 }));
  },
});

interface Sink {
  readonly name: string;
  readonly maxDemand: number;
  readonly workMs: number;
  handled: number;
  batches: number;
  alerts: number;
  sum: number;
  stage?: Consumer<Checked>;
}
const sinks: Sink[] = [
  { name: "dashboard (fast)", maxDemand: 200, workMs: 2 },
  { name: "archive (medium)", maxDemand: 100, workMs: 6 },
  { name: "alerting (slow)", maxDemand: 50, workMs: 12 },
].map((sink) => ({ ...sink, handled: 0, batches: 0, alerts: 0, sum: 0 }));
for (const sink of sinks) {
  sink.stage = new Consumer<Checked>({
    subscribeTo: [[checker, { maxDemand: sink.maxDemand }]],
    async handleEvents(events) {
      // Simulated I/O: each batch costs the sink a fixed time.
      await new Promise((resolve) => setTimeout(resolve, sink.workMs));
      sink.batches++;
      sink.handled += events.length;
      handledAll += events.length;
      for (const event of events) {
        sink.sum += event.id;
        if (event.alert) sink.alerts++;
      }
    },
  });
}

// ---------------------------------------------------------------- display

// Where events can be between "made" and "handled": asked by the checker
// (its maxDemand, 400), in the checker's buffer (at most one chunk it handled
// while downstream demand was short: maxDemand - minDemand = 200), and asked
// by the sinks (the sum of their maxDemand).
const bound = 400 + 200 + sinks.reduce((total, sink) => total + sink.maxDemand, 0);
const started = performance.now();
const isTTY = Boolean(
  (globalThis as { process?: { stdout?: { isTTY?: boolean } } }).process?.stdout?.isTTY,
);
let lastLines = 0;
let last = { at: started, made: 0, handled: sinks.map(() => 0) };

function handledTotal(): number {
  return sinks.reduce((total, sink) => total + sink.handled, 0);
}

function render(final = false): void {
  const now = performance.now();
  const seconds = (now - last.at) / 1000 || 1;
  const inFlight = made - handledTotal();
  const rate = (count: number) => `${Math.round(count / seconds).toLocaleString("en-US")}/s`;
  const lines = [
    `webstage demo — ${((now - started) / 1000).toFixed(1)} s${final ? " (done)" : ""}`,
    `  sensors   made ${pad(made)} of ${TOTAL}  ${pad(rate(made - last.made), 10)}  ` +
    `asks ${pad(asks, 5)}  avg ask ${pad(asks ? Math.round(asked / asks) : 0, 4)}  ` +
    `buffer ${sensors.bufferedCount}`,
    `  checker   passed ${pad(checkedCount)}  buffer ${checker.bufferedCount}`,
    ...sinks.map((sink, i) =>
      `  ${sink.name.padEnd(18)} handled ${pad(sink.handled)}  ` +
      `${pad(rate(sink.handled - last.handled[i]), 10)}  ` +
      `maxDemand ${pad(sink.maxDemand, 4)}  avg batch ${
        pad(sink.batches ? Math.round(sink.handled / sink.batches) : 0, 4)
      }  alerts ${sink.alerts}`
    ),
    `  in flight ${pad(inFlight)}  (made but not handled; demand bounds it by ${bound})` +
    `  max seen ${maxInFlight}`,
  ];
  last = { at: now, made, handled: sinks.map((sink) => sink.handled) };
  if (isTTY) {
    const up = lastLines ? `\x1b[${lastLines}A` : "";
    console.log(up + lines.map((line) => `\x1b[2K${line}`).join("\n"));
    lastLines = lines.length;
  } else {
    console.log(lines.join("\n") + "\n");
  }
}

function pad(value: number | string, width = 7): string {
  return String(value).padStart(width);
}

function argument(name: string): string | undefined {
  const args = (globalThis as { process?: { argv?: string[] } }).process?.argv ??
    (globalThis as { Deno?: { args: string[] } }).Deno?.args ?? [];
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : undefined;
}

render();
const timer = setInterval(() => render(), isTTY ? 200 : 500);
await Promise.all([sensors.closed, checker.closed, ...sinks.map((sink) => sink.stage!.closed)]);
clearInterval(timer);
render(true);

// Every event reached every kind of sink exactly once between them: the
// DemandDispatcher sends each event to one consumer.
const expectedSum = (TOTAL * (TOTAL - 1)) / 2;
const sum = sinks.reduce((total, sink) => total + sink.sum, 0);
console.log(
  `\n${handledTotal()} events handled once each (sum ${
    sum === expectedSum ? "checks" : "WRONG"
  }); ` +
    `at most ${maxInFlight} were in flight at once (the demand bound is ${bound}).`,
);
if (handledTotal() !== TOTAL || sum !== expectedSum) {
  throw new Error("events were lost or repeated");
}
