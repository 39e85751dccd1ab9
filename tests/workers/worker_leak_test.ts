// Workers come and go a thousand times; afterwards nothing of them is left:
// every worker started has been terminated, every listener the library put
// on a worker has been removed, and (where the runtime can read /proc) the
// process has no more threads than before.

import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Consumer, Producer, WorkerPool, WorkerStage } from "../../mod.ts";
import { settle } from "../_helpers.ts";
import { Census, fixture, noWorkers, terminateLeftovers, threadCount } from "./_workers.ts";

afterEach(terminateLeftovers);

const process = (globalThis as {
  process?: {
    versions?: { node?: string };
    execArgv?: string[];
    env?: Record<string, string | undefined>;
  };
}).process;

/**
 * A thousand, except on the Node 20 and polyfill lanes: they start their
 * workers through the same NodeWorker as the Node 24 lane, which runs the
 * thousand, and a Node worker costs tens of milliseconds of CPU to start.
 * WEBSTAGE_WORKER_CYCLES overrides it where the environment can be read.
 */
const CYCLES = Number(process?.env?.WEBSTAGE_WORKER_CYCLES ?? 0) ||
  (process !== undefined &&
      (process.versions?.node?.startsWith("20.") ||
        process.execArgv?.some((arg) => arg.includes("use_polyfill")))
    ? 200
    : 1000);

const POOLS = 20;

/** Cycles in progress at once: workers start faster side by side. */
const PARALLEL = Number(process?.env?.WEBSTAGE_WORKER_PARALLEL ?? 0) || 8;

/**
 * One start/stop cycle, of one of five kinds: a pipeline that ends normally,
 * a stop before the worker is ready, a stop with a batch in flight, a worker
 * whose callback throws, and a worker that dies.
 */
async function cycle(i: number): Promise<{ census: Census; out: number }> {
  const census = new Census();
  const kind = i % 5;
  const data = kind === 3 ? { failAt: i } : kind === 4 ? { crashAt: i } : { factor: 2 };
  const stage = new WorkerStage<number, number>(fixture("map"), {
    Worker: census.Worker,
    data,
    subscribeTo: [Producer.from([i, i + 1])],
  });
  let out = 0;
  const consumer = new Consumer<number>({
    subscribeTo: [stage],
    handleEvents: (events) => void (out += events.length),
  });
  if (kind === 1) await stage.stop("shutdown");
  if (kind === 2) {
    await census.until(() => census.eventsSent > 0);
    await stage.stop(new Error("stopped mid-batch"));
  }
  await stage.closed.catch(() => {});
  // Permanent: the consumer ends with the stage, after what reached it.
  await consumer.closed.catch(() => {});
  return { census, out };
}

/** Waits, one macrotask at a time and at most `turns` of them, until `condition()` holds. */
async function eventually(condition: () => boolean, turns: number): Promise<boolean> {
  for (let turn = 0; turn < turns; turn++) {
    if (condition()) return true;
    await settle();
  }
  return condition();
}

describe("workers coming and going", { skip: noWorkers }, () => {
  it(`leave no worker, listener or thread behind after ${CYCLES} start/stop cycles`, {
    timeout: 240_000,
  }, async () => {
    // Warm up (threads a runtime starts once, lazily, are not leaks), then count.
    for (let i = 0; i < PARALLEL; i++) await cycle(5 * i);
    const before = threadCount();
    let next = 0;
    let delivered = 0;
    let started = 0;
    let live = 0;
    let listeners = 0;
    const lane = async () => {
      while (next < CYCLES) {
        const { census, out } = await cycle(next++);
        delivered += out;
        started += census.started;
        live += census.live;
        listeners += census.listeners;
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, lane));
    assert.equal(started, CYCLES);
    assert.equal(live, 0, "every worker started has been terminated");
    assert.equal(listeners, 0, "every listener put on a worker has been removed");
    // Normal cycles deliver both events; the others at most both.
    assert.ok(delivered >= 2 * (CYCLES / 5), `delivered ${delivered}`);
    if (before !== undefined) {
      const settled = await eventually(() => threadCount()! <= before + 2, 5000);
      assert.ok(settled, `threads: ${before} before, ${threadCount()} after`);
    }
  });

  it(`leave nothing behind when pools of two workers start and stop ${POOLS} times`, {
    timeout: 120_000,
  }, async () => {
    const census = new Census();
    const before = threadCount();
    for (let i = 0; i < POOLS; i++) {
      const pool = new WorkerPool<number, number>(fixture("map"), {
        Worker: census.Worker,
        workers: 2,
        subscribeTo: [Producer.from([1, 2, 3])],
      });
      if (i % 2 === 0) await pool.stop();
      else {
        const consumer = new Consumer<number>({ subscribeTo: [pool], handleEvents: () => {} });
        await consumer.closed;
      }
      await pool.closed;
    }
    assert.equal(census.started, 2 * POOLS);
    assert.equal(census.live, 0);
    assert.equal(census.listeners, 0);
    if (before !== undefined) {
      const settled = await eventually(() => threadCount()! <= before + 2, 5000);
      assert.ok(settled, `threads: ${before} before, ${threadCount()} after`);
    }
  });
});
