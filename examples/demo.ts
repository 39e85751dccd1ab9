// Usage: npm run demo [-- --web [--port 8080]]   (or: deno run -A examples/demo.ts, bun examples/demo.ts)
//
// The main webstage example: a sensor producer, an enriching
// producer-consumer and three consumers of different speeds. The display
// shows, per stage, what flows and how demand paces it: the producer only
// makes what was asked for, so the events in flight (made but not yet
// handled) never exceed the sum of the subscriptions' maxDemand — however
// slow the consumers are. On a terminal the display refreshes in place;
// otherwise it prints plain lines.
//
// --web also serves the live topology page (webstage/topology) at the
// printed URL, fed by `monitor` over Server-Sent Events at /snapshots
// (?format=ndjson for NDJSON), on Deno, Bun or Node; the pipeline then runs
// slower (--pace 25: each sink's work takes 25 times longer; --events
// 100000) so there is something to watch, and the server stays up after
// the run, showing its end, until interrupted.
//
// Options: --events N, --pace N (multiplies the sinks' work time), --web,
// --port N (0 picks a free port; default 8080), --interval-ms N (between
// snapshots; default 250).

import { Consumer, monitor, Producer, ProducerConsumer } from "../mod.ts";
import { encodeSnapshots, topologyPage } from "../topology.ts";
import { serve } from "./_serve.ts";

interface Reading {
  readonly id: number;
  readonly sensor: number;
  readonly celsius: number;
}
interface Checked extends Reading {
  readonly alert: boolean;
}

const WEB = hasFlag("--web");
const TOTAL = Number(argument("--events") ?? (WEB ? 100_000 : 30_000));
const PACE = Number(argument("--pace") ?? (WEB ? 25 : 1));
const SENSORS = 16;

// ---------------------------------------------------------------- stages

let made = 0;
let handledAll = 0;
let maxInFlight = 0;
let asks = 0;
let asked = 0;
const sensors = new Producer<Reading>({
  name: "sensors",
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
  name: "checker",
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
    name: sink.name.split(" ")[0],
    subscribeTo: [[checker, { maxDemand: sink.maxDemand }]],
    async handleEvents(events) {
      // Simulated I/O: each batch costs the sink a fixed time.
      await new Promise((resolve) => setTimeout(resolve, sink.workMs * PACE));
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

function args(): string[] {
  return (globalThis as { Deno?: { args: string[] } }).Deno?.args ??
    (globalThis as { process?: { argv?: string[] } }).process?.argv ?? [];
}

function argument(name: string): string | undefined {
  const all = args();
  const index = all.indexOf(name);
  return index >= 0 ? all[index + 1] : undefined;
}

function hasFlag(name: string): boolean {
  return args().includes(name);
}

// ---------------------------------------------------------------- web

const stages = [sensors, checker, ...sinks.map((sink) => sink.stage!)];
if (WEB) {
  const intervalMs = Number(argument("--interval-ms") ?? 250);
  const server = await serve((request) => {
    const url = new URL(request.url);
    if (url.pathname === "/") {
      const html = topologyPage({ title: "webstage demo" });
      return new Response(html, { headers: { "content-type": "text/html; charset=utf-8" } });
    }
    if (url.pathname === "/snapshots") {
      const ndjson = url.searchParams.get("format") === "ndjson";
      const body = encodeSnapshots(monitor(stages, { intervalMs }), {
        format: ndjson ? "ndjson" : "sse",
      });
      return new Response(body, {
        headers: {
          "content-type": ndjson ? "application/x-ndjson" : "text/event-stream",
          "cache-control": "no-store",
        },
      });
    }
    return new Response("Not found\n", { status: 404 });
  }, { port: Number(argument("--port") ?? 8080) });
  console.log(`topology page: ${server.url}  (snapshots: ${server.url}snapshots)\n`);
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
if (WEB) console.log("The page shows the finished run; interrupt (Ctrl-C) to stop the server.");
