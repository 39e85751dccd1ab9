// Every stage is a web stream where it has that side (DESIGN §5.1): readable
// and writable faces, pipeThrough/pipeTo paced by demand, and the
// TransformStream-like pairing of close, abort, error and cancel.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Consumer, Producer, ProducerConsumer } from "../mod.ts";
import { currentStreams, deferred, inWorkerd, range, readAll, settle } from "./_helpers.ts";
import { countingSource } from "./_counting.ts";

// Streams of the classes webstage uses (the polyfill's on that lane): pipes need one kind.
const { ReadableStream, WritableStream } = currentStreams();

function fromArray<T>(items: readonly T[]): ReadableStream<T> {
  return new ReadableStream<T>({
    start(controller) {
      for (const item of items) controller.enqueue(item);
      controller.close();
    },
  });
}

/** A sink that counts and sums what it receives. */
function tally(): { sink: WritableStream<number>; count: number; sum: number } {
  const t = {
    count: 0,
    sum: 0,
    sink: undefined as unknown as WritableStream<number>,
  };
  t.sink = new WritableStream<number>({
    write(n) {
      t.count++;
      t.sum += n;
    },
  });
  return t;
}

describe("readable", () => {
  it("is the same stream on every access and subscribes only on the first read", async () => {
    const subscribed: unknown[] = [];
    const producer = Producer.from(range(0, 5));
    const pc = new ProducerConsumer<number, number>({
      subscribeTo: [producer],
      handleSubscribe: (s) => void subscribed.push(s.producer),
      handleEvents: (events) => events,
    });
    assert.equal(pc.readable, pc.readable);
    await settle();
    // Only the upstream subscription so far: nothing reads the readable yet.
    assert.deepEqual(subscribed, [producer]);
    assert.deepEqual(await readAll(pc.readable), range(0, 5));
    assert.deepEqual(subscribed, [producer, pc]);
    await pc.closed;
  });

  it("reads every event of a producer, in order, and closes when it ends normally", async () => {
    const events = await readAll(Producer.from(range(0, 3000)).readable);
    assert.equal(events.length, 3000);
    assert.deepEqual(events, range(0, 3000));
  });

  it("asks for readableStrategy.highWaterMark events, and more only as it is read", async () => {
    const demands: number[] = [];
    let next = 0;
    const producer = new Producer<number>({
      readableStrategy: { highWaterMark: 10 },
      handleDemand: (demand) => {
        demands.push(demand);
        return Array.from({ length: demand }, () => next++);
      },
    });
    const reader = producer.readable.getReader();
    assert.deepEqual(demands, []);
    assert.equal((await reader.read()).value, 0);
    assert.deepEqual(demands, [10]);
    for (let i = 1; i < 6; i++) assert.equal((await reader.read()).value, i);
    // Past the first chunk of maxDemand - minDemand = 5: it asks again by GenStage's rule.
    assert.deepEqual(demands, [10, 5]);
    await reader.cancel();
    await producer.closed;
  });

  it("is async-iterable where the runtime's streams are", async () => {
    const stream = Producer.from(["a", "b", "c"]).readable;
    const iterable = stream as unknown as Partial<AsyncIterable<string>>;
    const seen: string[] = [];
    if (typeof iterable[Symbol.asyncIterator] === "function") {
      for await (const event of iterable as AsyncIterable<string>) seen.push(event);
    } else seen.push(...await readAll<string>(stream));
    assert.deepEqual(seen, ["a", "b", "c"]);
  });

  it("errors with the reason of a stage that fails, after the events sent before", async () => {
    const pc = new ProducerConsumer<number, number>({
      subscribeTo: [Producer.from(range(0, 10))],
      handleEvents: (events) => {
        if (events.includes(7)) throw new Error("seven");
        return events;
      },
    });
    const reader = pc.readable.getReader();
    const seen: number[] = [];
    await assert.rejects(async () => {
      for (let r = await reader.read(); !r.done; r = await reader.read()) seen.push(r.value);
    }, { message: "seven" });
    assert.ok(seen.every((n) => n < 7));
    await assert.rejects(pc.closed, { message: "seven" });
  });

  it("cancelled as the stage's only subscriber, stops the stage normally and errors its writable", async () => {
    const pc = new ProducerConsumer<number, number>({ handleEvents: (events) => events });
    const writer = pc.writable.getWriter();
    const reader = pc.readable.getReader();
    await writer.write(1);
    assert.deepEqual(await reader.read(), { done: false, value: 1 });
    await reader.cancel("enough");
    await pc.closed;
    await assert.rejects(writer.closed, (reason) => reason === "enough");
  });

  it("cancelled beside other subscribers, ends only its own subscription", async () => {
    let next = 0;
    const producer = new Producer<number>({
      handleDemand: (demand) => Array.from({ length: demand }, () => next++),
    });
    const reader = producer.readable.getReader();
    await reader.read();
    const seen: number[] = [];
    const other = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 5 }]],
      handleEvents: (events) => void seen.push(...events),
    });
    await reader.cancel("bye");
    while (seen.length < 20) await settle();
    assert.equal(seen.length >= 20, true, "the producer goes on for its other consumer");
    await producer.stop();
    await other.closed;
  });

  it("rejects a bad readableStrategy at construction", () => {
    assert.throws(() => new Producer({ readableStrategy: { highWaterMark: 0 } }), {
      name: "RangeError",
      message:
        "Cannot construct Producer as readableStrategy.highWaterMark must be an integer >= 1: current value is 0",
    });
    assert.throws(
      () =>
        new ProducerConsumer({
          handleEvents: (e: number[]) => e,
          readableStrategy: { highWaterMark: 10, size: () => 1 } as never,
        }),
      {
        name: "TypeError",
        message:
          "Cannot construct ProducerConsumer as readableStrategy.size must be undefined (every chunk is one event): current value is function size",
      },
    );
  });
});

describe("writable", () => {
  it("a consumer's writable hands every written event to handleEvents, in batches", async () => {
    const seen: number[] = [];
    const batches: number[][] = [];
    const consumer = new Consumer<number>({
      handleEvents: (events) => {
        batches.push(events);
        seen.push(...events);
      },
    });
    assert.equal(consumer.writable, consumer.writable);
    await fromArray(range(0, 5000)).pipeTo(consumer.writable);
    await consumer.closed;
    assert.deepEqual(seen, range(0, 5000));
    assert.ok(batches.length < 5000, `${batches.length} batches: events travel in batches`);
  });

  it("writer.close() resolves once every written event has been handled, then the stage ends normally", async () => {
    const handled: number[] = [];
    const consumer = new Consumer<number>({
      handleEvents: async (events) => {
        await settle();
        handled.push(...events);
      },
    });
    const writer = consumer.writable.getWriter();
    for (const n of range(0, 50)) void writer.write(n);
    await writer.close();
    assert.deepEqual(handled, range(0, 50));
    await consumer.closed;
  });

  it("a writer that awaits ready never makes the stage hold more than its demand", async () => {
    const gate = deferred();
    let handling = 0;
    const consumer = new Consumer<number>({
      writableStrategy: { highWaterMark: 8 },
      handleEvents: async (events) => {
        handling += events.length;
        await gate.promise;
      },
    });
    const writer = consumer.writable.getWriter();
    let accepted = 0;
    const writing = (async () => {
      for (let n = 0; n < 100; n++) {
        await writer.ready;
        void writer.write(n).then(() => accepted++);
      }
    })();
    for (let i = 0; i < 20; i++) await settle();
    // The inlet's demand (8) has been taken; the writable's queue (8) waits for more.
    assert.ok(accepted <= 8, `accepted ${accepted}`);
    assert.ok(handling <= 8, `handling ${handling}`);
    assert.equal(writer.desiredSize, 0);
    gate.resolve();
    await writing;
    await writer.close();
    await consumer.closed;
    assert.equal(accepted, 100);
  });

  it("aborting it stops the stage with the reason and errors its readable", async () => {
    const pc = new ProducerConsumer<number, number>({ handleEvents: (events) => events });
    const reader = pc.readable.getReader();
    const writer = pc.writable.getWriter();
    await writer.write(1);
    assert.deepEqual(await reader.read(), { done: false, value: 1 });
    const boom = new Error("abort!");
    await writer.abort(boom);
    await assert.rejects(pc.closed, (reason) => reason === boom);
    await assert.rejects(reader.read(), (reason) => reason === boom);
  });

  it("aborting it with no reason is still a failure", async () => {
    const consumer = new Consumer<number>({ handleEvents: () => {} });
    await consumer.writable.abort();
    await assert.rejects(consumer.closed, /was aborted/);
  });

  it("a stage that fails errors its writable, so the pipe cancels its source with the error", async () => {
    const source = countingSource();
    const consumer = new Consumer<number>({
      handleEvents: (events) => {
        if (events.some((n) => n >= 30)) throw new Error("full");
      },
    });
    const piping = source.stream.pipeTo(consumer.writable);
    if (inWorkerd) await piping; // workerd resolves a pipe whose destination errored
    else await assert.rejects(piping, { message: "full" });
    await assert.rejects(consumer.closed, { message: "full" });
    assert.equal(source.cancels.length, 1);
    assert.equal((source.cancels[0] as Error).message, "full");
  });

  it("refuses writes once the stage has stopped", async () => {
    const consumer = new Consumer<number>({ handleEvents: () => {} });
    const writer = consumer.writable.getWriter();
    await consumer.stop();
    await assert.rejects(writer.write(1), TypeError);
  });

  it("a producer's writable emits each chunk, paced by downstream demand", async () => {
    const producer = new Producer<number>();
    const gate = deferred();
    const seen: number[] = [];
    const consumer = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 4, minDemand: 2 }]],
      handleEvents: async (events) => {
        seen.push(...events);
        await gate.promise;
      },
    });
    const source = countingSource(1000);
    const piping = source.stream.pipeTo(producer.writable);
    for (let i = 0; i < 20; i++) await settle();
    // The consumer's demand (4), the events the writable may hold (its highWaterMark, 1000) and
    // nothing in the producer's buffer: the source is read only that far.
    assert.equal(producer.bufferedCount, 0);
    assert.ok(source.pulled <= 4 + 1000 + 2, `pulled ${source.pulled}`);
    gate.resolve();
    await piping;
    await consumer.closed;
    assert.deepEqual(seen, range(0, 1000));
  });

  it("a producer's writable closes the producer, which delivers everything first", async () => {
    const producer = new Producer<number>({ writableStrategy: { highWaterMark: 2 } });
    const seen: number[] = [];
    const consumer = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 3 }]],
      handleEvents: (events) => void seen.push(...events),
    });
    await fromArray(range(0, 20)).pipeTo(producer.writable);
    await producer.closed;
    await consumer.closed;
    assert.deepEqual(seen, range(0, 20));
  });
});

describe("pipeThrough and pipeTo", () => {
  it("a web stream through a producer-consumer into a consumer delivers every event once", async () => {
    const double = new ProducerConsumer<number, number>({
      handleEvents: (events) => events.map((n) => n * 2),
    });
    let count = 0;
    let sum = 0;
    const consumer = new Consumer<number>({
      handleEvents: (events) => {
        count += events.length;
        for (const n of events) sum += n;
      },
    });
    await fromArray(range(0, 10_000)).pipeThrough(double).pipeTo(consumer.writable);
    await consumer.closed;
    await double.closed;
    assert.equal(count, 10_000);
    assert.equal(sum, 2 * (9999 * 10_000) / 2);
  });

  it("is paced by demand: a stalled consumer stops the source from being read", async () => {
    const source = countingSource();
    const gate = deferred();
    const pc = new ProducerConsumer<number, number>({
      writableStrategy: { highWaterMark: 10 },
      readableStrategy: { highWaterMark: 10 },
      handleEvents: (events) => events,
    });
    const consumer = new Consumer<number>({
      writableStrategy: { highWaterMark: 10 },
      handleEvents: () => gate.promise,
    });
    // pipeThrough, spelled out so that its inner pipe's failure is awaited too.
    const into = source.stream.pipeTo(pc.writable).catch((error) => error);
    const piping = pc.readable.pipeTo(consumer.writable);
    for (let i = 0; i < 30; i++) await settle();
    const pulled = source.pulled;
    for (let i = 0; i < 30; i++) await settle();
    assert.equal(source.pulled, pulled, "the source is no longer read");
    // Each link holds at most its maxDemand, each writable its highWaterMark, pipes one chunk each.
    assert.ok(pulled <= 6 * 10 + 4, `pulled ${pulled}`);
    await consumer.stop("shutdown");
    if (inWorkerd) {
      await piping; // workerd resolves a pipe whose destination errored
      await into;
    } else {
      await assert.rejects(piping, TypeError);
      assert.ok((await into) instanceof TypeError, "the stopped chain errors every pipe");
    }
    gate.resolve();
  });

  it("cancelling the last readable of a chain reaches the source", async () => {
    const source = countingSource();
    const pc = new ProducerConsumer<number, number>({ handleEvents: (events) => events });
    const reader = source.stream.pipeThrough(pc).getReader();
    assert.deepEqual((await reader.read()).value, 0);
    await reader.cancel("done reading");
    await pc.closed;
    while (source.cancels.length === 0) await settle();
    assert.deepEqual(source.cancels, ["done reading"]);
  });

  it("a failure downstream cancels the source of the chain", async () => {
    const source = countingSource();
    const pc = new ProducerConsumer<number, number>({ handleEvents: (events) => events });
    // The sink errors through its controller (a sink that throws makes workerd's own pipe
    // report an unhandled rejection).
    let controller!: WritableStreamDefaultController;
    const failing = new WritableStream<number>({
      start: (c) => void (controller = c),
      write(n) {
        if (n === 100) controller.error(new Error("sink failed"));
      },
    });
    const into = source.stream.pipeTo(pc.writable).catch((error) => error);
    const out = pc.readable.pipeTo(failing);
    if (inWorkerd) await out; // workerd resolves a pipe whose destination errored
    else {
      await assert.rejects(out, { message: "sink failed" });
      assert.equal((await into).message, "sink failed");
    }
    await pc.closed;
    while (source.cancels.length === 0) await settle();
    assert.equal((source.cancels[0] as Error).message, "sink failed");
  });

  it("writable and readable of one stage behave like a TransformStream for a normal end", async () => {
    const counts = tally();
    const pc = new ProducerConsumer<number, number>({
      handleEvents: (events) => events.filter((n) => n % 2 === 0),
    });
    const done = pc.readable.pipeTo(counts.sink);
    const writer = pc.writable.getWriter();
    for (const n of range(0, 100)) await writer.write(n);
    await writer.close();
    await done;
    await pc.closed;
    assert.equal(counts.count, 50);
    assert.equal(counts.sum, 2450);
  });
});
