import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  Consumer,
  Producer,
  RestartIntensityError,
  type Source,
  type Subscription,
  WorkerPool,
} from "../../mod.ts";
import { currentStreams, range, settle } from "../_helpers.ts";
import { Census, fixture, Gate, noWorkers, terminateLeftovers } from "./_workers.ts";

afterEach(terminateLeftovers);

/** A consumer that collects everything `source` emits. */
function collector<T>(source: Source<T>): { consumer: Consumer<T>; seen: T[] } {
  const seen: T[] = [];
  const consumer = new Consumer<T>({
    subscribeTo: [source],
    handleEvents: (events) => void seen.push(...events),
  });
  return { consumer, seen };
}

/** Waits (one macrotask at a time) until `condition()` holds. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await settle();
}

function ascending(values: number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

describe("WorkerPool options", () => {
  it("rejects bad options with the class and message of the rule, before any worker starts", () => {
    const census = noWorkers ? undefined : new Census();
    const Worker = census?.Worker ?? (class {} as never);
    const cases: [Record<string, unknown>, string, string][] = [
      [{ workers: 0 }, "RangeError", "workers must be an integer >= 1: current value is 0"],
      [{ workers: "2" }, "TypeError", 'workers must be a number: current value is "2"'],
      [{ batchSize: 1.5 }, "RangeError", "batchSize must be an integer >= 1: current value is 1.5"],
      [{ ordered: "yes" }, "TypeError", 'ordered must be a boolean: current value is "yes"'],
      [
        { maxRestarts: -1 },
        "RangeError",
        "maxRestarts must be an integer >= 0: current value is -1",
      ],
      [{ subscribeTo: 7 }, "TypeError", "subscribeTo must be an array: current value is 7"],
      [
        { dispatcher: {} },
        "TypeError",
        "dispatcher must be a Dispatcher: current value is an object",
      ],
      [
        { subscribeTo: [{}] },
        "TypeError",
        "subscribeTo[0] as the source must be a Producer or ProducerConsumer: current value is an object",
      ],
    ];
    for (const [options, name, rule] of cases) {
      assert.throws(() => new WorkerPool("./map.js", { workers: 2, Worker, ...options }), {
        name,
        message: rule.startsWith("subscribeTo[")
          ? `Cannot construct WorkerPool with ${rule}`
          : `Cannot construct WorkerPool as ${rule}`,
      });
    }
    if (census !== undefined) assert.equal(census.started, 0);
  });
});

describe("WorkerPool in real workers", { skip: noWorkers }, () => {
  it("emits every result in input order, a slow batch holding back the ones after it", async () => {
    const census = new Census();
    const gate = new Gate();
    const total = 3000;
    const pool = new WorkerPool<number, number>(fixture("map"), {
      Worker: census.Worker,
      workers: 3,
      batchSize: 50,
      data: { factor: 2, gateAt: 0, gate: gate.name },
      subscribeTo: [Producer.from(range(0, total))],
    });
    const { consumer, seen } = collector(pool);
    // The first batch waits at its gate while the other workers answer.
    await gate.reached;
    await census.until(() => census.answers >= 4);
    assert.equal(seen.length, 0, "results after a pending batch wait for it");
    gate.open();
    await consumer.closed;
    await pool.closed;
    assert.deepEqual(seen, range(0, total).map((n) => n * 2));
    assert.equal(census.eventsSent, total);
    assert.equal(census.eventsAnswered, total);
    assert.equal(census.started, 3);
    assert.equal(census.live, 0);
    assert.equal(census.listeners, 0);
  });

  it("with ordered: false, emits each batch as it finishes, every event once", async () => {
    const census = new Census();
    const gate = new Gate();
    const total = 3000;
    const pool = new WorkerPool<number, number>(fixture("map"), {
      Worker: census.Worker,
      workers: 3,
      batchSize: 50,
      ordered: false,
      data: { gateAt: 0, gate: gate.name },
      subscribeTo: [Producer.from(range(0, total))],
    });
    const { consumer, seen } = collector(pool);
    await gate.reached;
    await until(() => seen.length >= 200);
    assert.ok(!seen.includes(0), "the gated batch is still out");
    gate.open();
    await consumer.closed;
    assert.deepEqual(ascending(seen), range(0, total));
    assert.notDeepEqual(seen, range(0, total));
    assert.equal(census.live, 0);
  });

  it("cuts upstream chunks into near-equal batches of at most batchSize, two per worker at most", async () => {
    const census = new Census();
    const total = 5000;
    const pool = new WorkerPool<number, number>(fixture("map"), {
      Worker: census.Worker,
      workers: 2,
      batchSize: 200,
      subscribeTo: [[Producer.from(range(0, total)), { maxDemand: 1000, minDemand: 500 }]],
    });
    const { consumer, seen } = collector(pool);
    await consumer.closed;
    assert.deepEqual(seen, range(0, total));
    // Chunks of 500 become 167 + 167 + 166.
    assert.equal(census.maxBatch, 167);
    assert.ok(census.maxInFlightPerWorker <= 2 * 167, `${census.maxInFlightPerWorker}`);
    assert.equal(census.batches, 30);
  });

  it("starts navigator.hardwareConcurrency workers by default, and asks for a count where it is missing", async () => {
    const census = new Census();
    const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator
      ?.hardwareConcurrency;
    if (cores === undefined) {
      assert.throws(() => new WorkerPool(fixture("map"), { Worker: census.Worker }), {
        name: "TypeError",
        message: "Cannot construct WorkerPool as workers must be given where " +
          "navigator.hardwareConcurrency is missing: current value is undefined",
      });
      assert.equal(census.started, 0);
      return;
    }
    const pool = new WorkerPool<number, number>(fixture("map"), { Worker: census.Worker });
    assert.equal(census.started, cores);
    await pool.close();
    assert.equal(census.live, 0);
  });

  it("stops feeding its workers while its results cannot leave, and catches up when asked", async () => {
    const census = new Census();
    const total = 2000;
    const pool = new WorkerPool<number, number>(fixture("map"), {
      Worker: census.Worker,
      workers: 2,
      batchSize: 100,
      subscribeTo: [Producer.from(range(0, total))],
    });
    let subscription: Subscription<number> | undefined;
    const seen: number[] = [];
    const consumer = new Consumer<number>({
      subscribeTo: [[pool, { maxDemand: 100 }]],
      handleSubscribe: (s) => {
        subscription = s;
        return "manual";
      },
      handleEvents: (events) => void seen.push(...events),
    });
    // Each worker's two slots take a batch, answer, and wait for room.
    await census.until(() => census.answers === 4);
    for (let i = 0; i < 20; i++) await settle();
    assert.equal(census.batches, 4);
    assert.equal(seen.length, 0);
    while (seen.length < total) {
      subscription!.ask(100);
      const want = Math.min(total, seen.length + 100);
      await until(() => seen.length >= want);
    }
    await consumer.closed;
    assert.deepEqual(seen, range(0, total));
  });

  it("closes gracefully: what it took is handled and emitted, then its workers are terminated", async () => {
    const census = new Census();
    const producer = new Producer<number>();
    const pool = new WorkerPool<number, number>(fixture("map"), {
      Worker: census.Worker,
      workers: 2,
      batchSize: 10,
      subscribeTo: [[producer, { cancel: "temporary" }]],
    });
    const { consumer, seen } = collector(pool);
    producer.emit(range(0, 500));
    await until(() => seen.length >= 100);
    await pool.close();
    await consumer.closed;
    assert.deepEqual(seen, range(0, seen.length));
    assert.equal(census.live, 0);
    assert.equal(census.listeners, 0);
    assert.throws(() => pool.subscribeTo(producer), {
      name: "TypeError",
      message: "Cannot subscribe as the WorkerPool has stopped",
    });
    await producer.stop();
  });

  it("terminates every worker when stopped, when its signal aborts, and when its source fails", async () => {
    const census = new Census();
    const stopped = new WorkerPool<number, number>(fixture("map"), {
      Worker: census.Worker,
      workers: 2,
    });
    await stopped.stop("shutdown");
    await stopped.closed;

    const controller = new AbortController();
    const aborted = new WorkerPool<number, number>(fixture("map"), {
      Worker: census.Worker,
      workers: 2,
      signal: controller.signal,
    });
    controller.abort(new Error("aborted"));
    await assert.rejects(aborted.closed, { message: "aborted" });

    const source = new Producer<number>();
    const failed = new WorkerPool<number, number>(fixture("map"), {
      Worker: census.Worker,
      workers: 2,
      subscribeTo: [source],
    });
    const { consumer } = collector(failed);
    const consumerClosed = assert.rejects(consumer.closed, { message: "source broke" });
    await source.stop(new Error("source broke"));
    await assert.rejects(failed.closed, { message: "source broke" });
    await consumerClosed;
    await census.until(() => census.live === 0);
    assert.equal(census.started, 6);
    assert.equal(census.listeners, 0);
  });
});

describe("WorkerPool faults", { skip: noWorkers }, () => {
  for (
    const [what, data] of [
      ["a worker dies", { crashAt: 1234, armed: true }],
      ["a worker's handleEvents throws", { failAt: 1234, armed: true }],
      ["a worker closes itself", { closeAt: 1234, armed: true }],
    ] as const
  ) {
    for (const ordered of [true, false]) {
      it(`replaces a worker when ${what} and loses nothing, emits nothing twice (ordered: ${ordered})`, async () => {
        const census = new Census([0]); // the first worker misbehaves, its replacement does not
        const total = 4000;
        const pool = new WorkerPool<number, number>(fixture("map"), {
          Worker: census.Worker,
          workers: 2,
          batchSize: 50,
          ordered,
          data: { ...data, factor: 3 },
          subscribeTo: [Producer.from(range(0, total))],
        });
        const { consumer, seen } = collector(pool);
        await consumer.closed;
        await pool.closed;
        const expected = range(0, total).map((n) => n * 3);
        if (ordered) assert.deepEqual(seen, expected);
        else assert.deepEqual(ascending(seen), expected);
        assert.equal(census.started, 3, "one replacement");
        assert.ok(census.eventsSent > total, "the failed worker's batches were sent again");
        assert.equal(census.live, 0);
        assert.equal(census.listeners, 0);
      });
    }
  }

  it("stops with a RestartIntensityError when workers keep failing, its cause the worker's error", async () => {
    const census = new Census();
    const pool = new WorkerPool<number, number>(fixture("map"), {
      Worker: census.Worker,
      workers: 2,
      batchSize: 10,
      maxRestarts: 1,
      now: () => 0, // every failure inside the window, however slow the machine
      data: { failAt: 7 }, // every worker throws on every batch from 7 on
      subscribeTo: [Producer.from(range(0, 100))],
    });
    const { consumer } = collector(pool);
    const error = await pool.closed.then(() => undefined, (e) => e);
    assert.ok(error instanceof RestartIntensityError, `not a RestartIntensityError: ${error}`);
    assert.equal(
      error.message,
      "WorkerPool reached its maximum restart intensity: more than 1 restart within 5 seconds",
    );
    assert.ok(error.cause instanceof RangeError);
    assert.match((error.cause as Error).message, /^bad event \d+$/);
    await assert.rejects(consumer.closed, RestartIntensityError);
    await census.until(() => census.live === 0);
    assert.equal(census.started, 3);
    assert.equal(census.listeners, 0);
  });
});

describe("WorkerPool as a web stream", () => {
  it("works in a pipe chain: a stream piped through the pool, every event once, in order", async () => {
    if (noWorkers) return; // workerd: no workers (the constructor's error is tested elsewhere)
    const census = new Census();
    const total = 2000;
    const pool = new WorkerPool<number, number>(fixture("map"), {
      Worker: census.Worker,
      workers: 2,
      batchSize: 100,
      data: { factor: 3 },
    });
    const { ReadableStream, WritableStream } = currentStreams();
    const source = new ReadableStream<number>({
      start(controller) {
        for (const n of range(0, total)) controller.enqueue(n);
        controller.close();
      },
    });
    const seen: number[] = [];
    await source.pipeThrough(pool).pipeTo(new WritableStream({ write: (n) => void seen.push(n) }));
    await pool.closed;
    assert.deepEqual(seen, range(0, total).map((n) => n * 3));
    assert.equal(census.eventsSent, total);
    assert.equal(census.live, 0);
  });
});
