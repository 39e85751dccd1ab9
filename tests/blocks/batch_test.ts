import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { batch, Consumer, Producer, type Subscription } from "../../mod.ts";
import { currentStreams, range } from "../_helpers.ts";
import { counter } from "../_stages.ts";
import { FakeClock, settled } from "./_fake_clock.ts";

/** A consumer that records each batch with the (fake) time it arrived. */
function recorder<T>(clock: FakeClock | undefined, options: { manual?: boolean } = {}) {
  const seen: Array<{ at: number; batch: T[] }> = [];
  let subscription: Subscription<T[]> | undefined;
  const make = (source: ReturnType<typeof batch<T>>) =>
    new Consumer<T[]>({
      subscribeTo: [[source, { maxDemand: 10 }]],
      handleSubscribe: (s) => {
        subscription = s;
        return options.manual ? "manual" : "automatic";
      },
      handleEvents: (batches) => {
        for (const b of batches) seen.push({ at: clock?.now() ?? 0, batch: b });
      },
    });
  return {
    seen,
    make,
    get batches(): T[][] {
      return seen.map((s) => s.batch);
    },
    ask: (n: number) => subscription!.ask(n),
  };
}

describe("batch", () => {
  it("sends a batch as soon as it has size events, in input order, and the rest at the end", async () => {
    const clock = new FakeClock();
    const stage = batch<number>({ size: 4, clock, subscribeTo: [Producer.from(range(0, 10))] });
    const out = recorder<number>(clock);
    const consumer = out.make(stage);
    await consumer.closed;
    assert.deepEqual(out.batches, [range(0, 4), range(4, 8), [8, 9]]);
    assert.equal(out.batches.flat().length, 10, "10 events in, 10 out");
    assert.equal(clock.pending, 0, "the end cleared the timer of the last batch");
    await stage.closed;
  });

  it("sends a partial batch timeoutMs after its first event (fake time)", async () => {
    const clock = new FakeClock();
    const feed = new Producer<string>({});
    const stage = batch<string>({ size: 10, timeoutMs: 1000, clock, subscribeTo: [feed] });
    const out = recorder<string>(clock);
    out.make(stage);
    feed.emit(["a", "b"]);
    await clock.advance(600);
    feed.emit(["c"]);
    await clock.advance(399);
    assert.deepEqual(out.seen, [], "999 ms after the first event: still open");
    await clock.advance(1);
    assert.deepEqual(out.seen, [{ at: 1000, batch: ["a", "b", "c"] }]);
    await clock.advance(500);
    feed.emit(["d"]);
    await clock.advance(999);
    assert.equal(out.seen.length, 1, "a new batch has its own timer, from its first event");
    await clock.advance(1);
    assert.deepEqual(out.seen[1], { at: 2500, batch: ["d"] });
    await feed.stop();
    await stage.closed;
  });

  it("size or time, whichever comes first: a full batch cancels its timer", async () => {
    const clock = new FakeClock();
    const feed = new Producer<number>({});
    const stage = batch<number>({ size: 3, timeoutMs: 50, clock, subscribeTo: [feed] });
    const out = recorder<number>(clock);
    out.make(stage);
    feed.emit([1, 2]);
    await clock.advance(10);
    assert.equal(clock.pending, 1);
    feed.emit([3, 4]);
    await clock.advance(0);
    assert.deepEqual(out.seen, [{ at: 10, batch: [1, 2, 3] }]);
    assert.equal(clock.pending, 1, "the timer of [1, 2, 3] is gone; [4] has its own");
    await clock.advance(49);
    assert.deepEqual(out.seen[1], undefined);
    await clock.advance(1);
    assert.deepEqual(out.seen[1], { at: 60, batch: [4] });
    await feed.stop();
  });

  it("keeps one open batch per key, each with its own size and timer", async () => {
    const clock = new FakeClock();
    const feed = new Producer<string>({});
    const stage = batch<string>({
      size: 2,
      timeoutMs: 100,
      key: (word) => word[0],
      clock,
      subscribeTo: [feed],
    });
    const out = recorder<string>(clock);
    out.make(stage);
    feed.emit(["a1", "b1"]);
    await clock.advance(30);
    feed.emit(["c1", "a2", "b2"]);
    await clock.advance(0);
    assert.deepEqual(out.seen, [{ at: 30, batch: ["a1", "a2"] }, { at: 30, batch: ["b1", "b2"] }]);
    await clock.advance(100);
    assert.deepEqual(out.seen[2], { at: 130, batch: ["c1"] });
    assert.equal(out.batches.flat().length, 5);
    await feed.stop();
  });

  it("a graceful end sends every open batch, in the order they opened", async () => {
    const clock = new FakeClock();
    const source = Producer.from(["b1", "a1", "c1", "a2", "a3"]);
    const stage = batch<string>({ size: 3, key: (w) => w[0], clock, subscribeTo: [source] });
    const out = recorder<string>(clock);
    await out.make(stage).closed;
    assert.deepEqual(out.batches, [["a1", "a2", "a3"], ["b1"], ["c1"]]);
    assert.equal(clock.pending, 0);
  });

  it("close() sends the open batches before the stage ends, even with its source still live", async () => {
    const clock = new FakeClock();
    const feed = new Producer<number>({});
    const stage = batch<number>({
      size: 100,
      clock,
      subscribeTo: [[feed, { cancel: "temporary" }]],
    });
    const out = recorder<number>(clock);
    const consumer = out.make(stage);
    feed.emit(range(0, 150));
    await settled();
    assert.deepEqual(out.batches, [range(0, 100)]);
    await stage.close();
    await consumer.closed;
    assert.deepEqual(out.batches, [range(0, 100), range(100, 150)]);
    await feed.stop();
  });

  it("stop() drops the open batches: events in = events out + events dropped", async () => {
    const clock = new FakeClock();
    const feed = new Producer<number>({});
    const stage = batch<number>({ size: 4, clock, subscribeTo: [feed] });
    const out = recorder<number>(clock);
    const consumer = out.make(stage);
    feed.emit(range(0, 10));
    await settled();
    await stage.stop("shutdown");
    await consumer.closed;
    assert.deepEqual(out.batches, [range(0, 4), range(4, 8)], "[8, 9] were open: dropped");
    assert.equal(clock.pending, 0);
    await feed.stop();
  });

  it("works through its faces: a source piped through it, written events flushed at the end", async () => {
    const { ReadableStream, WritableStream } = currentStreams();
    const source = new ReadableStream<number>({
      start(controller) {
        for (let i = 0; i < 1050; i++) controller.enqueue(i);
        controller.close();
      },
    });
    const out: number[][] = [];
    await source.pipeThrough(batch<number>({ size: 100, timeoutMs: Infinity }))
      .pipeTo(new WritableStream({ write: (b) => void out.push(b) }));
    assert.deepEqual(out.map((b) => b.length), [...Array(10).fill(100), 50]);
    assert.deepEqual(out.flat(), range(0, 1050));
  });

  it("is demand-bounded: it holds at most its upstream maxDemand plus the open batch, whatever downstream does", async () => {
    const { producer, demands } = counter();
    const stage = batch<number>({
      size: 4,
      timeoutMs: Infinity,
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 5 }]],
    });
    const out = recorder<number>(undefined, { manual: true });
    out.make(stage);
    const produced = () => demands.reduce((a, b) => a + b, 0);
    await settled();
    assert.deepEqual(demands, [10], "the first ask is maxDemand");
    assert.deepEqual(out.batches, []);
    for (let round = 1; round <= 20; round++) {
      out.ask(1);
      await settled();
      const delivered: number = out.batches.flat().length;
      assert.equal(delivered, 4 * round);
      assert.ok(
        produced() - delivered <= 10 + 3,
        `round ${round}: ${produced()} produced, ${delivered} delivered`,
      );
    }
    assert.ok(demands.every((d) => d <= 10));
    await producer.stop();
  });

  it("reads from several sources, each asked by its own maxDemand", async () => {
    const a = counter(0);
    const b = counter(1000);
    const stage = batch<number>({
      size: 5,
      timeoutMs: Infinity,
      subscribeTo: [[a.producer, { maxDemand: 4 }], [b.producer, { maxDemand: 6 }]],
    });
    const out = recorder<number>(undefined);
    out.make(stage);
    await settled();
    const events = out.batches.flat();
    assert.ok(events.length >= 100);
    assert.ok(a.demands.every((d) => d <= 4) && b.demands.every((d) => d <= 6));
    assert.ok(events.some((n) => n < 1000) && events.some((n) => n >= 1000));
    await stage.stop();
    await Promise.all([a.producer.stop(), b.producer.stop()]);
  });

  it("a batch closed by its timer waits behind earlier batches when downstream has no demand", async () => {
    const clock = new FakeClock();
    const feed = new Producer<number>({});
    const stage = batch<number>({ size: 2, timeoutMs: 100, clock, subscribeTo: [feed] });
    const out = recorder<number>(clock, { manual: true });
    out.make(stage);
    await settled();
    out.ask(1);
    feed.emit([1, 2, 3, 4, 5]);
    await clock.advance(100);
    assert.deepEqual(out.batches, [[1, 2]], "[3, 4] waits for demand; [5] timed out behind it");
    out.ask(5);
    await settled();
    assert.deepEqual(out.batches, [[1, 2], [3, 4], [5]]);
    await feed.stop();
  });

  it("a key function that throws stops the stage with that error", async () => {
    const failure = new Error("no key");
    const stage = batch<number>({
      size: 2,
      key: (n) => {
        if (n === 3) throw failure;
        return n % 2;
      },
      subscribeTo: [Producer.from(range(0, 10))],
    });
    const out = recorder<number>(undefined);
    const consumer = out.make(stage);
    await assert.rejects(stage.closed, (reason) => reason === failure);
    await assert.rejects(consumer.closed, (reason) => reason === failure);
    assert.deepEqual(out.batches, [], "[0, 2] was full, but the batch of events failed");
  });

  it("a failing source stops it, dropping the open batch; a crashing consumer leaves it running", async () => {
    const feed = new Producer<number>({});
    const stage = batch<number>({ size: 3, timeoutMs: Infinity, subscribeTo: [feed] });
    const seen: number[][] = [];
    const crash = new Error("consumer crash");
    const first = new Consumer<number[]>({
      subscribeTo: [[stage, { maxDemand: 1 }]],
      handleEvents: (batches) => {
        seen.push(...batches);
        if (seen.length === 2) throw crash;
      },
    });
    feed.emit(range(0, 8));
    await assert.rejects(first.closed, (reason) => reason === crash);
    const rest: number[][] = [];
    const second = new Consumer<number[]>({
      subscribeTo: [stage],
      handleEvents: (batches) => void rest.push(...batches),
    });
    await settled();
    assert.deepEqual([...seen, ...rest].flat(), range(0, 6), "[6, 7] are open");
    const boom = new Error("source failed");
    await feed.stop(boom);
    await assert.rejects(stage.closed, (reason) => reason === boom);
    await assert.rejects(second.closed, (reason) => reason === boom);
    assert.deepEqual([...seen, ...rest].flat(), range(0, 6), "the open batch was dropped");
  });

  it("rejects bad options, subscribing to nothing", async () => {
    let subscribed = 0;
    const source = new Producer<number>({ handleSubscribe: () => void subscribed++ });
    const cases: Array<[unknown, string, string]> = [
      [
        undefined,
        "TypeError",
        "Cannot construct batch as options must be an object: current value is undefined",
      ],
      [
        { size: 0 },
        "RangeError",
        "Cannot construct batch as size must be an integer >= 1: current value is 0",
      ],
      [
        {},
        "TypeError",
        "Cannot construct batch as size must be a number: current value is undefined",
      ],
      [
        { size: 2, timeoutMs: -1 },
        "RangeError",
        "Cannot construct batch as timeoutMs must be an integer in [0, 2147483647] or Infinity: current value is -1",
      ],
      [
        { size: 2, timeoutMs: "1s" },
        "TypeError",
        'Cannot construct batch as timeoutMs must be a number: current value is "1s"',
      ],
      [
        { size: 2, key: "id" },
        "TypeError",
        'Cannot construct batch as key must be a function: current value is "id"',
      ],
      [
        { size: 2, clock: {} },
        "TypeError",
        "Cannot construct batch as clock must be an object with now, setTimeout and clearTimeout: current value is an object",
      ],
      [
        { size: 2, subscribeTo: [source, 5] },
        "TypeError",
        "Cannot construct batch with subscribeTo[1] as the source must be a Producer or ProducerConsumer: current value is 5",
      ],
      [
        { size: 2, subscribeTo: [source], dispatcher: {} },
        "TypeError",
        "Cannot construct batch as dispatcher must be a Dispatcher: current value is an object",
      ],
      [
        { size: 2, subscribeTo: [source], readableStrategy: { highWaterMark: 0 } },
        "RangeError",
        "Cannot construct batch as readableStrategy.highWaterMark must be an integer >= 1: current value is 0",
      ],
    ];
    for (const [options, name, message] of cases) {
      assert.throws(() => batch(options as never), { name, message });
    }
    await settled();
    assert.equal(subscribed, 0);
    await source.stop();
  });

  it("is named batch#n by default, or by its name option, in failure reports", async () => {
    const fail = (name?: string) =>
      batch<number>({
        size: 1,
        name,
        key: () => {
          throw undefined;
        },
        subscribeTo: [Producer.from([1])],
      }).readable.getReader().read();
    await assert.rejects(fail(), {
      message: /^batch#\d+ failed: its handleEvents threw undefined$/,
    });
    await assert.rejects(fail("writer"), {
      message: "writer failed: its handleEvents threw undefined",
    });
  });
});
