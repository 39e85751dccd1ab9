// Names, stats(), monitor() and onError: a pipeline you can watch, and
// failures that are not silent.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Consumer, monitor, Producer, ProducerConsumer, type Snapshot } from "../mod.ts";
import { deferred, range, readAll, settle } from "./_helpers.ts";

describe("names", () => {
  it("default to the kind and a number, and can be set", () => {
    const a = new Producer<number>();
    const b = new Producer<number>({ name: "numbers" });
    assert.match(a.stats().name, /^Producer#\d+$/);
    assert.equal(b.stats().name, "numbers");
    const c = new Consumer<number>({ handleEvents() {} });
    assert.match(c.stats().name, /^Consumer#\d+$/);
    void a.stop();
    void b.stop();
    void c.stop();
  });

  it("reject what is not a non-empty string", () => {
    assert.throws(() => new Producer({ name: "" }), {
      name: "TypeError",
      message: 'Cannot construct Producer as name must be a non-empty string: current value is ""',
    });
    assert.throws(() => new Consumer({ name: 3 as never, handleEvents() {} }), {
      name: "TypeError",
      message: "Cannot construct Consumer as name must be a non-empty string: current value is 3",
    });
  });

  it("appear in the buffer's discard warning", async () => {
    const warnings: string[] = [];
    const original = console.warn;
    console.warn = (message: string) => void warnings.push(message);
    try {
      const producer = new Producer<number>({ name: "ticks", bufferSize: 2 });
      producer.emit([1, 2, 3]);
      await settle();
      assert.deepEqual(warnings, ["ticks has discarded 1 events from its buffer"]);
      assert.equal(producer.stats().discarded, 1);
      await producer.stop();
    } finally {
      console.warn = original;
    }
  });
});

describe("stats()", () => {
  it("counts what flows through a pipeline, per stage", async () => {
    const producer = Producer.from(range(0, 100), { name: "source" });
    const pc = new ProducerConsumer<number, number>({
      name: "double",
      subscribeTo: [[producer, { maxDemand: 10 }]],
      handleEvents: (events) => events.flatMap((n) => [n, n]),
    });
    const consumer = new Consumer<number>({
      name: "sink",
      subscribeTo: [[pc, { maxDemand: 20 }]],
      handleEvents() {},
    });
    await consumer.closed;
    await pc.closed;
    assert.deepEqual(
      [producer.stats(), pc.stats(), consumer.stats()].map((s) => [
        s.name,
        s.kind,
        s.state,
        s.received,
        s.emitted,
      ]),
      [
        ["source", "Producer", "stopped", 0, 100],
        ["double", "ProducerConsumer", "stopped", 100, 200],
        ["sink", "Consumer", "stopped", 200, 0],
      ],
    );
  });

  it("shows demand asked upstream, what each subscription holds, and unmet downstream demand", async () => {
    const gate = deferred();
    const producer = new Producer<number>({ name: "slow" }); // emits nothing on demand
    const consumer = new Consumer<number>({
      name: "waiting",
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 5 }]],
      handleEvents: () => gate.promise,
    });
    await settle();
    assert.equal(consumer.stats().demand, 10);
    assert.deepEqual(consumer.stats().upstream, [{
      producer: "slow",
      maxDemand: 10,
      minDemand: 5,
      asked: 10,
      queued: 0,
      handling: 0,
    }]);
    assert.equal(producer.stats().unmetDemand, 10, "asked for and not met");
    producer.emit(range(0, 4));
    await settle();
    assert.equal(producer.stats().unmetDemand, 6);
    const held = consumer.stats().upstream[0];
    assert.deepEqual([held.asked, held.queued, held.handling], [6, 0, 4]);
    assert.deepEqual(consumer.stats().subscriptions, { upstream: 1, downstream: 0 });
    assert.deepEqual(producer.stats().subscriptions, { upstream: 0, downstream: 1 });
    gate.resolve();
    await producer.stop();
    await consumer.closed;
  });

  it("shows what a producer buffers and what a producer-consumer holds for lack of demand", async () => {
    const producer = new Producer<number>({ name: "p" });
    producer.emit(range(0, 7));
    await settle();
    assert.equal(producer.stats().buffered, 7);
    const pc = new ProducerConsumer<number, number>({
      subscribeTo: [producer],
      handleEvents: (events) => events,
    });
    await settle();
    // No consumer downstream: the producer-consumer holds its input, unhandled.
    assert.equal(pc.stats().buffered, 7);
    assert.equal(producer.stats().buffered, 0);
    await producer.stop();
    await pc.stop();
  });

  it("reports a failure in words", async () => {
    const consumer = new Consumer<number>({
      subscribeTo: [Producer.from([1])],
      handleEvents() {
        throw new TypeError("bad event");
      },
    });
    await assert.rejects(consumer.closed);
    assert.equal(consumer.stats().state, "failed");
    assert.equal(consumer.stats().failure, "TypeError: bad event");
  });

  it("is running, then closing, then stopped", async () => {
    const gate = deferred();
    const consumer = new Consumer<number>({
      subscribeTo: [Producer.from([1])],
      handleEvents: () => gate.promise,
    });
    await settle();
    assert.equal(consumer.stats().state, "running");
    void consumer.close();
    assert.equal(consumer.stats().state, "closing");
    gate.resolve();
    await consumer.closed;
    assert.equal(consumer.stats().state, "stopped");
  });
});

describe("monitor()", () => {
  it("streams snapshots with every stage, the subscriptions between them, and closes when they end", async () => {
    const producer = Producer.from(range(0, 50), { name: "numbers" });
    const gate = deferred();
    const consumer = new Consumer<number>({
      name: "sink",
      subscribeTo: [[producer, { maxDemand: 10 }]],
      handleEvents: () => gate.promise,
    });
    const reader = monitor([producer, consumer], { intervalMs: 1 }).getReader();
    const first = (await reader.read()).value!;
    assert.deepEqual(first.stages.map((s) => s.name), ["numbers", "sink"]);
    assert.deepEqual(first.edges.map((e) => [e.producer, e.consumer, e.maxDemand]), [[
      "numbers",
      "sink",
      10,
    ]]);
    assert.equal(first.stages[1].receivedPerSecond, 0, "no rate in the first snapshot");
    gate.resolve();
    const rest: Snapshot[] = [];
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest.push(r.value);
    const last = rest.at(-1)!;
    assert.deepEqual(last.stages.map((s) => s.state), ["stopped", "stopped"]);
    assert.equal(last.stages[1].received, 50);
    assert.ok(rest.some((s) => s.stages[1].receivedPerSecond > 0), "a rate once events flowed");
    assert.ok(
      rest.every((s, i) => i === 0 || s.time >= rest[i - 1].time),
      "snapshots in time order",
    );
  });

  it("never piles snapshots up for a slow reader, and stops its timer when cancelled", async () => {
    const producer = new Producer<number>();
    const stream = monitor([producer], { intervalMs: 1 });
    const reader = stream.getReader();
    await reader.read();
    for (let i = 0; i < 10; i++) await settle();
    // One snapshot per read: the next is taken when asked for.
    const next = await reader.read();
    assert.equal(next.done, false);
    await reader.cancel();
    await producer.stop();
  });

  it("rejects what it cannot watch", () => {
    assert.throws(() => monitor({} as never), {
      name: "TypeError",
      message: "Cannot monitor stages as stages must be an array: current value is an object",
    });
    assert.throws(() => monitor([{}] as never), {
      name: "TypeError",
      message:
        "Cannot monitor stages as stages[0] must be a stage with stats(): current value is an object",
    });
    assert.throws(() => monitor([], { intervalMs: 0 }), {
      name: "RangeError",
      message: "Cannot monitor stages as intervalMs must be an integer >= 1: current value is 0",
    });
  });

  it("closes at once when it watches nothing that runs", async () => {
    assert.equal((await readAll(monitor([]))).length, 1);
  });
});

describe("failures are not silent", () => {
  it("onError receives the failure of a callback", async () => {
    const errors: unknown[] = [];
    const boom = new Error("boom");
    const consumer = new Consumer<number>({
      subscribeTo: [Producer.from([1, 2])],
      handleEvents() {
        throw boom;
      },
      onError: (error) => void errors.push(error),
    });
    while (errors.length === 0) await settle();
    assert.deepEqual(errors, [boom]);
    assert.equal(consumer.stats().state, "failed");
  });

  it("onError receives the failure of an upstream a permanent subscription stops with", async () => {
    const errors: unknown[] = [];
    const producer = new Producer<number>({
      handleDemand() {
        throw new Error("source down");
      },
      onError: () => {}, // observed here too: it is the producer's own failure
    });
    const consumer = new Consumer<number>({
      subscribeTo: [producer],
      handleEvents() {},
      onError: (error) => void errors.push(error),
    });
    await assert.rejects(consumer.closed, { message: "source down" });
    assert.equal((errors[0] as Error).message, "source down");
  });

  it('a callback that throws undefined, "normal" or "shutdown" is a failure, not a normal end', async () => {
    for (const thrown of [undefined, "normal", "shutdown"]) {
      const consumer = new Consumer<number>({
        name: "thrower",
        subscribeTo: [Producer.from([1])],
        handleEvents() {
          throw thrown;
        },
      });
      await assert.rejects(consumer.closed, (error: Error) => {
        assert.equal(
          error.message,
          `thrower failed: its handleEvents threw ${
            thrown === undefined ? "undefined" : `"${thrown}"`
          }`,
        );
        assert.equal(error.cause, thrown);
        return true;
      });
    }
  });

  it("a callback that rejects with no reason is a failure too", async () => {
    const producer = new Producer<number>({
      name: "rejecter",
      handleDemand: () => Promise.reject(),
    });
    const reader = producer.readable.getReader();
    await assert.rejects(reader.read(), {
      message: "rejecter failed: its handleDemand threw undefined",
    });
    await assert.rejects(producer.closed);
  });
});
