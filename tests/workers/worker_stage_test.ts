import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  Consumer,
  Producer,
  serveStage,
  type Source,
  Supervisor,
  WorkerConsumer,
  WorkerError,
  WorkerStage,
} from "../../mod.ts";
import { range, settle } from "../_helpers.ts";
import { Census, fixture, Gate, isBun, noWorkers, terminateLeftovers } from "./_workers.ts";

afterEach(terminateLeftovers);

/** A consumer that collects everything `source` emits. */
function collector<T>(
  source: Source<T>,
  options: { cancel?: "permanent" | "transient" | "temporary" } = {},
): { consumer: Consumer<T>; seen: T[] } {
  const seen: T[] = [];
  const consumer = new Consumer<T>({
    subscribeTo: [[source, { maxDemand: 1000, ...options }]],
    handleEvents: (events) => void seen.push(...events),
  });
  return { consumer, seen };
}

describe("WorkerStage without a worker", () => {
  it("throws a clear TypeError where the runtime has no Worker (workerd; Node without NodeWorker)", () => {
    const scope = globalThis as { Worker?: unknown };
    const saved = Object.getOwnPropertyDescriptor(scope, "Worker");
    // Where there is a global Worker (Deno, Bun, Chromium), take it away for the test.
    if (saved !== undefined) delete scope.Worker;
    try {
      for (
        const [name, make] of [
          ["WorkerStage", () => new WorkerStage("./map.js")],
          ["WorkerConsumer", () => new WorkerConsumer("./map.js")],
        ] as const
      ) {
        assert.throws(make, {
          name: "TypeError",
          message:
            `Cannot construct ${name} as Worker must be a Worker constructor, and this runtime ` +
            'has no global Worker (on Node pass NodeWorker from "@webstage/webstage/node"; ' +
            "workerd has no workers): current value is undefined",
        });
      }
    } finally {
      if (saved !== undefined) Object.defineProperty(scope, "Worker", saved);
    }
  });

  it("rejects bad options with the class and message of the rule, before any worker starts", () => {
    const census = noWorkers ? undefined : new Census();
    const Worker = census?.Worker ?? (class {} as never);
    const cases: [() => unknown, string, string][] = [
      [
        () => new WorkerStage(42 as never, { Worker }),
        "TypeError",
        "Cannot construct WorkerStage as url must be a string or a URL: current value is 42",
      ],
      [
        () => new WorkerStage("./x.js", { Worker: "Worker" as never }),
        "TypeError",
        'Cannot construct WorkerStage as Worker must be a Worker constructor: current value is "Worker"',
      ],
      [
        () => new WorkerStage("./x.js", { Worker, workerOptions: { type: "classic" as never } }),
        "TypeError",
        'Cannot construct WorkerStage as workerOptions.type must be "module": current value is "classic"',
      ],
      [
        () => new WorkerConsumer("./x.js", { Worker, transfer: [] as never }),
        "TypeError",
        "Cannot construct WorkerConsumer as transfer must be a function: current value is array of length 0",
      ],
      [
        () => new WorkerStage("./x.js", { Worker, handleEvents: (e: number[]) => e } as never),
        "TypeError",
        "Cannot construct WorkerStage as handleEvents must be given to serveStage in the worker, " +
        "not here: current value is function handleEvents",
      ],
    ];
    for (const [make, name, message] of cases) assert.throws(make, { name, message });
    // The producer-consumer's own options are checked by it, before the worker starts.
    assert.throws(() => new WorkerStage("./x.js", { Worker, bufferSize: 0 }), {
      name: "RangeError",
      message: /^Cannot construct ProducerConsumer as bufferSize must be/,
    });
    if (census !== undefined) assert.equal(census.started, 0);
  });

  it("serveStage rejects bad options", () => {
    assert.throws(() => serveStage({} as never), {
      name: "TypeError",
      message:
        "Cannot serve a stage as handleEvents must be a function: current value is undefined",
    });
    assert.throws(() => serveStage({ handleEvents: (e: number[]) => e, init: 1 as never }), {
      name: "TypeError",
      message: "Cannot serve a stage as init must be a function: current value is 1",
    });
  });

  it("serveStage throws outside a worker", {
    skip: isBun && "Bun's main thread has a worker's globals (postMessage): it cannot tell",
  }, () => {
    assert.throws(() => serveStage({ handleEvents: (events: number[]) => events }), {
      name: "TypeError",
      message: "Cannot serve a stage as this is not a worker: call serveStage in the module that " +
        "a WorkerStage, WorkerConsumer or WorkerPool starts",
    });
  });
});

describe("WorkerStage in a real worker", { skip: noWorkers }, () => {
  it("maps every event through its worker, in order, never more than maxDemand in flight", async () => {
    const census = new Census();
    const total = 10_000;
    const stage = new WorkerStage<number, number>(fixture("map"), {
      Worker: census.Worker,
      data: { factor: 3 },
      subscribeTo: [[Producer.from(range(0, total)), { maxDemand: 300, minDemand: 100 }]],
    });
    const { consumer, seen } = collector(stage);
    await consumer.closed;
    await stage.closed;
    assert.deepEqual(seen, range(0, total).map((n) => n * 3));
    assert.equal(census.eventsSent, total);
    assert.equal(census.eventsAnswered, total);
    // One batch at a time, of at most maxDemand - minDemand events.
    assert.equal(census.maxBatch, 200);
    assert.equal(census.maxInFlight, 200);
    assert.ok(census.maxInFlight <= 300);
    assert.equal(census.live, 0, "the worker is terminated once the stage has stopped");
    assert.equal(census.listeners, 0);
  });

  it("hands a WorkerConsumer's batches to its worker and counts them handled once answered", async () => {
    const census = new Census();
    const total = 2_500;
    const consumer = new WorkerConsumer<number>(fixture("map"), {
      Worker: census.Worker,
      subscribeTo: [[Producer.from(range(0, total)), { maxDemand: 100 }]],
    });
    await consumer.closed;
    assert.equal(census.eventsSent, total);
    assert.equal(census.eventsAnswered, total);
    assert.equal(census.maxInFlight, 50);
    assert.equal(census.live, 0);
  });

  it("keeps manual demand: nothing reaches the worker before subscription.ask", async () => {
    const census = new Census();
    const producer = new Producer<number>();
    producer.emit(range(0, 30));
    let subscription: { ask(count: number): void } | undefined;
    const stage = new WorkerStage<number, number>(fixture("map"), {
      Worker: census.Worker,
      subscribeTo: [[producer, { maxDemand: 10 }]],
      handleSubscribe: (s) => {
        if (s.producer === producer) {
          subscription = s;
          return "manual";
        }
      },
    });
    const { consumer, seen } = collector(stage);
    await settle();
    await settle();
    assert.equal(census.eventsSent, 0);
    subscription!.ask(10);
    await census.until(() => census.eventsAnswered === 10);
    assert.deepEqual(await until(() => seen.length === 10, seen), range(0, 10));
    subscription!.ask(10);
    subscription!.ask(10);
    void producer.close();
    await consumer.closed;
    assert.deepEqual(seen, range(0, 30));
    assert.deepEqual(census.maxBatch, 10);
  });

  it("moves batches by transfer both ways when asked to", async () => {
    const census = new Census();
    const sent = [new Uint8Array([1, 2, 3]), new Uint8Array([200, 100])];
    const stage = new WorkerStage<Uint8Array, Uint8Array>(fixture("bytes"), {
      Worker: census.Worker,
      subscribeTo: [Producer.from(sent)],
      transfer: (events) => events.map((bytes) => bytes.buffer as ArrayBuffer),
    });
    const { consumer, seen } = collector(stage);
    await consumer.closed;
    assert.deepEqual(seen.map((bytes) => [...bytes]), [[6, 6, 6], [44, 44]]);
    // Transferred, not copied: this side's buffers are detached.
    assert.deepEqual(sent.map((bytes) => bytes.byteLength), [0, 0]);
  });

  it("gives init the data option before the first batch, and fails the stage when init throws", async () => {
    const census = new Census();
    const stage = new WorkerStage<number, number>(fixture("map"), {
      Worker: census.Worker,
      data: { failInit: true },
      subscribeTo: [Producer.from([1, 2, 3])],
    });
    await assert.rejects(stage.closed, { name: "TypeError", message: "init refused" });
    assert.equal(census.live, 0);
    assert.equal(census.eventsAnswered, 0);
  });
});

describe("WorkerStage faults", { skip: noWorkers }, () => {
  it("fails with the error its worker's handleEvents threw, rebuilt with its class", async () => {
    const census = new Census();
    const stage = new WorkerStage<number, number>(fixture("map"), {
      Worker: census.Worker,
      data: { failAt: 42 },
      subscribeTo: [[Producer.from(range(0, 100)), { maxDemand: 10 }]],
    });
    const { consumer, seen } = collector(stage);
    await assert.rejects(stage.closed, { name: "RangeError", message: "bad event 42" });
    await assert.rejects(consumer.closed, { name: "RangeError", message: "bad event 42" });
    // Batches of 5: everything before the failing batch came out, nothing after.
    assert.deepEqual(seen, range(0, 40));
    assert.equal(census.live, 0);
    assert.equal(census.listeners, 0);
  });

  for (
    const [what, data, message] of [
      ["an error escapes its callbacks", { crashAt: 0 }, /^The worker .*map\.[jt]s failed: /],
      // Bun has no close() in workers: the fixture exits, which Bun reports as a close event.
      [
        "it closes itself",
        { closeAt: 0 },
        /^The worker .*map\.[jt]s (closed itself|exited with code 0)$/,
      ],
    ] as const
  ) {
    it(`fails with a WorkerError when ${what}, and redeliver gives its events to another stage`, async () => {
      const census = new Census();
      const total = 200;
      const producer = Producer.from(range(0, total));
      const subscribe = { maxDemand: 10, redeliver: true } as const;
      const dying = new WorkerStage<number, number>(fixture("map"), {
        Worker: census.Worker,
        data,
        subscribeTo: [[producer, subscribe]],
      });
      const healthy = new WorkerStage<number, number>(fixture("map"), {
        Worker: census.Worker,
        subscribeTo: [[producer, subscribe]],
      });
      const seen: number[] = [];
      const sink = new Consumer<number>({
        subscribeTo: [[dying, { cancel: "temporary" }], [healthy, { cancel: "temporary" }]],
        handleEvents: (events) => void seen.push(...events),
      });
      const error = await dying.closed.then(() => undefined, (e) => e);
      assert.ok(error instanceof WorkerError, `not a WorkerError: ${error}`);
      assert.match(error.message, message);
      await healthy.closed;
      await sink.stop();
      // At least once: every event came out, the failed batch (which never answered) once more at most.
      assert.deepEqual([...new Set(seen)].sort((a, b) => a - b), range(0, total));
      assert.equal(seen.length, total);
      assert.equal(census.live, 0);
      assert.equal(census.listeners, 0);
    });
  }

  it("fails at once when its worker dies with no batch in flight", async () => {
    const census = new Census();
    const stage = new WorkerStage<number, number>(fixture("map"), {
      Worker: census.Worker,
      data: { crashIdle: true },
    });
    const error = await stage.closed.then(() => undefined, (e) => e);
    assert.ok(error instanceof WorkerError);
    assert.match(error.message, /failed/);
    assert.equal(census.batches, 0);
    assert.equal(census.live, 0);
  });

  it("fails with a WorkerError when its module cannot load", async () => {
    const census = new Census();
    const stage = new WorkerStage<number, number>(fixture("broken"), {
      Worker: census.Worker,
      subscribeTo: [Producer.from([1, 2, 3])],
    });
    const error = await stage.closed.then(() => undefined, (e) => e);
    assert.ok(error instanceof WorkerError, `not a WorkerError: ${error}`);
    assert.match(error.url, /broken\.[jt]s$/);
    assert.equal(census.live, 0);
  });

  it("terminates its worker when stopped with a batch in flight, and when its signal aborts", async () => {
    const census = new Census();
    const gate = new Gate();
    const stage = new WorkerStage<number, number>(fixture("map"), {
      Worker: census.Worker,
      data: { gateAt: 5, gate: gate.name },
      subscribeTo: [Producer.from(range(0, 100))],
    });
    // A producer-consumer handles events only while downstream demand is positive.
    const { consumer } = collector(stage, { cancel: "temporary" });
    await census.until(() => census.inFlight > 0);
    await stage.stop("shutdown");
    await stage.closed;
    await census.until(() => census.live === 0);
    assert.equal(census.eventsAnswered, 0);
    await consumer.stop();
    gate.close();

    const controller = new AbortController();
    const aborted = new WorkerStage<number, number>(fixture("map"), {
      Worker: census.Worker,
      signal: controller.signal,
    });
    controller.abort(new Error("enough"));
    await assert.rejects(aborted.closed, { message: "enough" });
    await census.until(() => census.live === 0);
    assert.equal(census.listeners, 0);
  });

  it("follows cancel modes: temporary carries on, permanent stops and terminates its worker", async () => {
    const census = new Census();
    const failing = new Producer<number>();
    const steady = Producer.from(range(0, 50));
    const temporary = new WorkerStage<number, number>(fixture("map"), {
      Worker: census.Worker,
      subscribeTo: [[failing, { cancel: "temporary" }], steady],
    });
    const permanent = new WorkerStage<number, number>(fixture("map"), {
      Worker: census.Worker,
      subscribeTo: [[failing, { cancel: "permanent" }]],
    });
    const { consumer, seen } = collector(temporary);
    await failing.stop(new Error("upstream broke"));
    await assert.rejects(permanent.closed, { message: "upstream broke" });
    await consumer.closed;
    assert.deepEqual(seen, range(0, 50));
    await census.until(() => census.live === 0);
    assert.equal(census.started, 2);
  });

  it("is restarted by a Supervisor after its worker dies, and with redeliver every event comes out", async () => {
    const census = new Census([0]); // only the first worker misbehaves
    const total = 500;
    const seen: number[] = [];
    const sink = new Consumer<number>({ handleEvents: (events) => void seen.push(...events) });
    const supervisor = new Supervisor({
      children: [
        { id: "numbers", start: () => Producer.from(range(0, total)) },
        {
          id: "double",
          restart: "transient",
          start: (children) => {
            const stage = new WorkerStage<number, number>(fixture("map"), {
              Worker: census.Worker,
              data: { factor: 2, crashAt: 250, armed: true },
              subscribeTo: [[children.get<Producer<number>>("numbers")!, {
                maxDemand: 50,
                redeliver: true,
              }]],
            });
            sink.subscribeTo(stage, { cancel: "temporary" });
            return stage;
          },
        },
      ],
    });
    await until(() => new Set(seen).size === total, seen);
    // At least once: every event, and a batch sent before the crash may come twice.
    assert.deepEqual([...new Set(seen)].sort((a, b) => a - b), range(0, total).map((n) => n * 2));
    assert.equal(census.started, 2);
    await supervisor.stop();
    await sink.stop();
    await census.until(() => census.live === 0);
    assert.equal(census.listeners, 0);
  });
});

/** Waits (one macrotask at a time) until `condition()` holds, then returns `value`. */
async function until<V>(condition: () => boolean, value: V): Promise<V> {
  while (!condition()) await settle();
  return value;
}
