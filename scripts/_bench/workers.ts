// The worker scenarios (issue 13): a map whose callback costs about 20 µs per
// event (scripts/_bench/kernel.ts), in-process and through 1, 2 and `cores`
// workers, and a trivial map that shows what the boundary itself costs.
//
// Each run builds its pipeline, waits until every worker has said it is
// ready, and only then starts the clock and lets the producer go (its asks
// are held in "accumulate" mode until then): starting a worker (tens of ms on
// Node) is not counted, as a long-lived pipeline pays it once.

import * as webstage from "../../mod.ts";
import type { WorkerConstructor } from "../../mod.ts";
import { NodeWorker } from "../../node.ts";
import { cpu, KERNELS, ROUNDS } from "./kernel.ts";
import { formatRate, type Probe, type Tally } from "./measure.ts";
import { doubled, integers, label, type Scenario, sumInto } from "./scenario.ts";
import type { Row, Status } from "./targets.ts";
import { rangeProducer } from "./webstage.ts";

type Kernel = keyof typeof KERNELS;

const WORKER_MODULE = new URL("./worker_kernel.ts", import.meta.url);
const BARE_MODULE = new URL("./bare_worker.ts", import.meta.url);

/** The cores the runtime reports, or 0 where it does not. */
const CORES: number = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator
  ?.hardwareConcurrency ?? 0;

function skip(): string | undefined {
  // scripts/run_ts.mjs (Node 20) bundles the benchmark, leaving no module for the workers.
  if (!import.meta.url.endsWith(".ts")) {
    return "needs the TypeScript sources for its worker module: run it on Node 24, Deno or Bun";
  }
  return undefined;
}

/** The platform's Worker (Deno, Bun) or NodeWorker, counting the workers that said "ready". */
function readyWorkers(): { Worker: WorkerConstructor; ready(count: number): Promise<void> } {
  const Base = ((globalThis as { Worker?: WorkerConstructor }).Worker ??
    NodeWorker) as unknown as new (url: string | URL, options: WorkerOptions) => EventTarget;
  let ready = 0;
  const waiting: Array<{ count: number; resolve: () => void }> = [];
  class ReadyWorker extends Base {
    constructor(url: string | URL, options: WorkerOptions) {
      super(url, options);
      this.addEventListener("message", (event) => {
        if ((event as MessageEvent).data?.webstage !== "ready") return;
        ready++;
        for (const w of waiting.filter((w) => ready >= w.count)) {
          waiting.splice(waiting.indexOf(w), 1);
          w.resolve();
        }
      });
    }
  }
  return {
    Worker: ReadyWorker as unknown as WorkerConstructor,
    ready: (count) =>
      ready >= count
        ? Promise.resolve()
        : new Promise((resolve) => waiting.push({ count, resolve })),
  };
}

/** 0..n-1 on demand, held back until `setDemandMode("forward")`. */
function heldRange(n: number): webstage.Producer<number> {
  return rangeProducer(n, undefined, true);
}

/** How the map runs: in this thread, in one WorkerStage, or in a pool of `workers`. */
type Where =
  | { readonly kind: "in-process" }
  | { readonly kind: "stage" }
  | { readonly kind: "pool"; readonly workers: number; readonly batchSize: number };

const cpuSums = new Map<number, Tally>();

/** The count and sum of cpu(0..n-1), computed once per n. */
function cpuTally(n: number): Tally {
  let tally = cpuSums.get(n);
  if (tally === undefined) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += cpu(i);
    tally = { count: n, sum };
    cpuSums.set(n, tally);
  }
  return tally;
}

function name(kernel: Kernel, where: Where): string {
  const what = kernel === "cpu" ? "workers/cpu map" : "workers/trivial map";
  if (where.kind === "in-process") return `${what} in-process`;
  if (where.kind === "stage") return `${what} WorkerStage`;
  return `${what} WorkerPool x${where.workers} batch ${where.batchSize}`;
}

function scenario(
  kernel: Kernel,
  where: Where,
  maxDemand: number,
  scale: number,
  peer?: string,
): Scenario {
  const map = KERNELS[kernel];
  return {
    name: name(kernel, where),
    maxDemand,
    scale,
    peer,
    skip,
    expect: kernel === "cpu" ? cpuTally : doubled,
    run: async (n, probe) => (await prepare(n, probe))(),
    prepare,
  };

  async function prepare(n: number, probe: Probe): Promise<() => Promise<Tally>> {
    const producer = heldRange(n);
    const subscribe = [[producer, { maxDemand }]] as const;
    let stage: webstage.Source<number>;
    let workers = 0;
    const { Worker, ready } = readyWorkers();
    if (where.kind === "in-process") {
      stage = new webstage.ProducerConsumer<number, number>({
        subscribeTo: [...subscribe],
        handleEvents(events) {
          const out = new Array<number>(events.length);
          for (let i = 0; i < events.length; i++) out[i] = map(events[i]);
          return out;
        },
      });
    } else if (where.kind === "stage") {
      workers = 1;
      stage = new webstage.WorkerStage<number, number>(WORKER_MODULE, {
        Worker,
        data: kernel,
        subscribeTo: [...subscribe],
      });
    } else {
      workers = where.workers;
      stage = new webstage.WorkerPool<number, number>(WORKER_MODULE, {
        Worker,
        data: kernel,
        workers: where.workers,
        batchSize: where.batchSize,
        subscribeTo: [...subscribe],
      });
    }
    const tally: Tally = { count: 0, sum: 0 };
    const consumer = new webstage.Consumer<number>({
      subscribeTo: [[stage, { maxDemand }]],
      handleEvents(events) {
        sumInto(tally, events);
        probe();
      },
    });
    await ready(workers);
    return async () => {
      producer.setDemandMode("forward");
      await consumer.closed;
      return tally;
    };
  }
}

/**
 * The physical limit: the same kernel in `workers` workers fed by plain
 * postMessage (batches of `batchSize`, two in flight per worker, no stages).
 * Its x2 over its x1 is what the machine lets two threads do at that moment.
 */
function bare(
  kernel: Kernel,
  workers: number,
  batchSize: number,
  scale: number,
  peer?: string,
): Scenario {
  return {
    name: `${
      kernel === "cpu" ? "workers/cpu map" : "workers/trivial map"
    } bare postMessage x${workers} batch ${batchSize}`,
    maxDemand: null,
    scale,
    peer,
    skip,
    expect: kernel === "cpu" ? cpuTally : doubled,
    run: async (n, probe) => (await prepare(n, probe))(),
    prepare,
  };

  async function prepare(n: number, probe: Probe): Promise<() => Promise<Tally>> {
    const Base = ((globalThis as { Worker?: WorkerConstructor }).Worker ??
      NodeWorker) as unknown as new (url: URL, options: WorkerOptions) => Worker;
    const threads = Array.from(
      { length: workers },
      () => new Base(BARE_MODULE, { type: "module" }),
    );
    await Promise.all(threads.map((thread) =>
      new Promise<void>((resolve) => {
        thread.onmessage = () => resolve();
      })
    ));
    return () =>
      new Promise<Tally>((resolve) => {
        const tally: Tally = { count: 0, sum: 0 };
        let next = 0;
        const send = (thread: Worker) => {
          if (next >= n) return;
          const length = Math.min(batchSize, n - next);
          thread.postMessage({ kernel, events: integers(next, length) });
          next += length;
        };
        for (const thread of threads) {
          thread.onmessage = (event) => {
            sumInto(tally, event.data as number[]);
            probe();
            if (tally.count === n) {
              for (const t of threads) t.terminate();
              resolve(tally);
            } else send(thread);
          };
          send(thread);
          send(thread);
        }
      });
  }
}

const inProcess: Where = { kind: "in-process" };
const CPU_SCALE = 0.01; // 50 000 events at the default --n: about 1 s in-process
const TRIVIAL_SCALE = 0.2;

const cpuBare1 = bare("cpu", 1, 250, CPU_SCALE);
const cpuBare2 = bare("cpu", 2, 250, CPU_SCALE, label(cpuBare1));
const cpuInProcess = scenario("cpu", inProcess, 1000, CPU_SCALE);
const cpuPool1 = scenario(
  "cpu",
  { kind: "pool", workers: 1, batchSize: 250 },
  1000,
  CPU_SCALE,
  label(cpuBare1),
);
const cpuPool2 = scenario(
  "cpu",
  { kind: "pool", workers: 2, batchSize: 250 },
  1000,
  CPU_SCALE,
  label(cpuBare2),
);
const trivialBare1 = bare("trivial", 1, 1000, TRIVIAL_SCALE);
const trivialInProcess = scenario("trivial", inProcess, 2000, TRIVIAL_SCALE);
const trivialPool = (workers: number, batchSize: number, peer: Scenario = trivialInProcess) =>
  scenario("trivial", { kind: "pool", workers, batchSize }, 2000, TRIVIAL_SCALE, label(peer));

/**
 * The worker scenarios, in table order: each row after the row its ratio is
 * taken against (a bare-postMessage row is the physical limit of the pool
 * row of the same shape).
 */
export const workerScenarios: readonly Scenario[] = [
  cpuBare1,
  cpuBare2,
  cpuInProcess,
  scenario("cpu", { kind: "stage" }, 1000, CPU_SCALE, label(cpuInProcess)),
  cpuPool1,
  cpuPool2,
  ...(CORES > 2
    ? [
      scenario(
        "cpu",
        { kind: "pool", workers: CORES, batchSize: 250 },
        1000,
        CPU_SCALE,
        label(cpuPool1),
      ),
    ]
    : []),
  trivialBare1,
  trivialInProcess,
  scenario("trivial", { kind: "stage" }, 2000, TRIVIAL_SCALE, label(trivialInProcess)),
  trivialPool(1, 100),
  trivialPool(1, 1000, trivialBare1),
  trivialPool(2, 1000),
];

function ratio(
  rows: ReadonlyMap<string, Row>,
  a: Scenario,
  b: Scenario,
): { median: number; fastest: number } | undefined {
  const x = rows.get(label(a)), y = rows.get(label(b));
  if (x === undefined || y === undefined) return undefined;
  return {
    median: y.medianSeconds / x.medianSeconds,
    fastest: (y.fastestSeconds ?? y.medianSeconds) / (x.fastestSeconds ?? x.medianSeconds),
  };
}

/** A line of the workers' verdicts: a target or a figure, and what this run measured. */
export interface WorkerVerdict {
  readonly status: Status | "SKIP";
  readonly target: string;
  readonly detail: string;
}

/**
 * The targets of issue 13 (2 workers ≥ 1.7 × one worker and ≥ 1.6 ×
 * in-process, on this 2-core machine; judged on the medians, with the ratio
 * of the fastest runs beside it, since other work on a shared machine takes
 * cores from the workers), and what the boundary costs: from the trivial map
 * through one worker at batches of 100 and 1000, seconds per event =
 * in-process + per event + per batch / batch size.
 */
export function workerVerdicts(rows: ReadonlyMap<string, Row>): WorkerVerdict[] {
  const out: WorkerVerdict[] = [];
  const two = cpuPool2;
  for (const [peer, factor] of [[cpuPool1, 1.7], [cpuInProcess, 1.6]] as const) {
    const target = `${label(two)} >= ${factor} x ${label(peer)}`;
    const r = ratio(rows, two, peer);
    out.push(
      r === undefined ? { status: "SKIP", target, detail: "not measured in this run" } : {
        status: CORES === 2 ? (r.median >= factor ? "PASS" : "MISS") : "INFO",
        target,
        detail: `${r.median.toFixed(2)} x (fastest runs: ${r.fastest.toFixed(2)} x)${
          CORES === 2 ? "" : ` (the target is for 2 cores; ${CORES} here)`
        }`,
      },
    );
  }
  for (
    const [target, a, b] of [
      ["what the machine allowed: bare postMessage x2 over x1 (no webstage)", cpuBare2, cpuBare1],
      [
        "what webstage costs at 2 workers: WorkerPool x2 over bare postMessage x2",
        cpuPool2,
        cpuBare2,
      ],
    ] as const
  ) {
    const r = ratio(rows, a, b);
    if (r !== undefined) {
      out.push({
        status: "INFO",
        target,
        detail: `${r.median.toFixed(2)} x (fastest runs: ${r.fastest.toFixed(2)} x)`,
      });
    }
  }
  const base = rows.get(label(cpuInProcess));
  if (base !== undefined) {
    out.push({
      status: "INFO",
      target: `CPU kernel (${ROUNDS} rounds) in-process`,
      detail: `${(1e6 / base.eventsPerSecond).toFixed(1)} µs per event, ${
        formatRate(base.eventsPerSecond)
      }`,
    });
  }
  const inproc = rows.get(label(trivialInProcess));
  const small = rows.get(label(trivialPool(1, 100)));
  const large = rows.get(label(trivialPool(1, 1000, trivialBare1)));
  if (inproc !== undefined && small !== undefined && large !== undefined) {
    const t0 = 1 / inproc.eventsPerSecond;
    const t100 = 1 / small.eventsPerSecond;
    const t1000 = 1 / large.eventsPerSecond;
    const perBatch = (t100 - t1000) / (1 / 100 - 1 / 1000);
    const perEvent = t1000 - perBatch / 1000 - t0;
    out.push({
      status: "INFO",
      target: "the boundary, from the trivial map through one worker at batches of 100 and 1000",
      detail: `${(perEvent * 1e9).toFixed(0)} ns per event + ${(perBatch * 1e6).toFixed(1)} µs ` +
        "per batch",
    });
  }
  return out;
}
