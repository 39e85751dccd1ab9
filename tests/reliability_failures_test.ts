// Sources that fail part-way deliver what they had read before failing, and
// a callback that fails with a value that looks like a normal stop is still
// a failure (issue 10, points 5 and 6).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  balance,
  broadcast,
  Consumer,
  merge,
  partition,
  Producer,
  ProducerConsumer,
  toReadableStream,
} from "../mod.ts";
import { range } from "./_helpers.ts";
import { Tally } from "./_tally.ts";

/** How a promise settled: "resolved", or "rejected" with its reason. */
async function outcome(
  promise: Promise<unknown>,
): Promise<{ state: "resolved" } | { state: "rejected"; reason: unknown }> {
  return await promise.then(
    () => ({ state: "resolved" as const }),
    (reason) => ({ state: "rejected" as const, reason }),
  );
}

/** Reads a stream to its end: the values, and how it ended ("done" or the error). */
async function readOut<T>(stream: ReadableStream<T>): Promise<{ values: T[]; end: unknown }> {
  const reader = stream.getReader();
  const values: T[] = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { values, end: "done" };
      values.push(value);
    }
  } catch (error) {
    return { values, end: error };
  }
}

const READ = 7;

/** A stream of 0..READ-1 that errors when asked for the next one (highWaterMark 0). */
function failingStream(): ReadableStream<number> {
  let next = 0;
  return new ReadableStream<number>({
    pull(controller) {
      if (next === READ) controller.error(new Error("source failed"));
      else controller.enqueue(next++);
    },
  }, { highWaterMark: 0 });
}

function* failingIterable(): Generator<number> {
  yield* range(0, READ);
  throw new Error("source failed");
}

async function* failingAsyncIterable(): AsyncGenerator<number> {
  yield* range(0, READ);
  throw new Error("source failed");
}

// Point 5: events already read from a source that then fails were thrown
// away (7 read, 0 delivered).
describe("a source that fails part-way", () => {
  const sources = {
    "a ReadableStream": failingStream,
    "an AsyncIterable": failingAsyncIterable,
    "an Iterable": failingIterable,
  };
  for (const [kind, make] of Object.entries(sources)) {
    it(`Producer.from(${kind}) delivers the events read before the error, then fails with it`, async () => {
      const tally = new Tally(READ);
      const producer = Producer.from<number>(make());
      const consumer = new Consumer<number>({
        subscribeTo: [[producer, { maxDemand: 10 }]],
        handleEvents: (events) => tally.add(events),
      });
      const [consumed, produced] = await Promise.all([
        outcome(consumer.closed),
        outcome(producer.closed),
      ]);
      assert.equal(tally.handled, READ, tally.describeLoss());
      assert.deepEqual(tally.missing(), []);
      assert.equal(consumed.state, "rejected");
      assert.equal(produced.state, "rejected");
      assert.equal((consumed as { reason: Error }).reason.message, "source failed");
    });
  }

  it("broadcast gives every output the events read before the error, then errors them", async () => {
    const outputs = await Promise.all(
      broadcast(failingStream(), 2, { maxDemand: 10 }).map(readOut),
    );
    for (const { values, end } of outputs) {
      assert.deepEqual(values, range(0, READ));
      assert.equal((end as Error).message, "source failed");
    }
  });

  it("balance shares the events read before the error, then errors every output", async () => {
    const outputs = await Promise.all(balance(failingStream(), 2, { maxDemand: 10 }).map(readOut));
    assert.deepEqual(outputs.flatMap((o) => o.values).sort((a, b) => a - b), range(0, READ));
    for (const { end } of outputs) assert.equal((end as Error).message, "source failed");
  });

  it("partition splits the events read before the error, then errors every output", async () => {
    const outputs = await Promise.all(
      partition(failingStream(), { partitions: 2, hash: (n) => n % 2, maxDemand: 10 }).map(readOut),
    );
    assert.deepEqual(outputs.map((o) => o.values), [[0, 2, 4, 6], [1, 3, 5]]);
    for (const { end } of outputs) assert.equal((end as Error).message, "source failed");
  });

  it("merge passes on the events read before the error, then errors", async () => {
    const { values, end } = await readOut(merge([failingStream()], { maxDemand: 10 }));
    assert.deepEqual(values, range(0, READ));
    assert.equal((end as Error).message, "source failed");
  });
});

// Point 6: a callback that rejects with no reason, throws undefined, or
// throws "normal" or "shutdown" stopped its stage normally.
describe("a callback that fails with a value that reads as a normal reason", () => {
  const failures: Array<[string, (value: unknown) => never | Promise<never>]> = [
    ["throws", (value) => {
      throw value;
    }],
    ["rejects with", (value) => Promise.reject(value)],
  ];
  const values: unknown[] = [undefined, "normal", "shutdown"];

  for (const [how, fail] of failures) {
    for (const value of values) {
      const what = `${how} ${value === undefined ? "undefined" : JSON.stringify(value)}`;

      it(`a consumer whose handleEvents ${what} fails: closed rejects`, async () => {
        const consumer = new Consumer<number>({
          subscribeTo: [Producer.from(range(0, 10))],
          handleEvents: () => fail(value),
        });
        assert.equal((await outcome(consumer.closed)).state, "rejected");
      });

      it(`a producer whose handleDemand ${what} fails: its closed and its permanent consumer's reject`, async () => {
        const producer = new Producer<number>({ handleDemand: () => fail(value) });
        const consumer = new Consumer<number>({
          subscribeTo: [producer],
          handleEvents: () => {},
        });
        assert.equal((await outcome(producer.closed)).state, "rejected");
        assert.equal((await outcome(consumer.closed)).state, "rejected");
      });

      it(`a producer whose handleDemand ${what} fails: toReadableStream errors instead of reporting done`, async () => {
        const producer = new Producer<number>({ handleDemand: () => fail(value) });
        const read = await outcome(toReadableStream([producer]).getReader().read());
        assert.equal(read.state, "rejected", "the stream reported done");
      });

      it(`a producer-consumer whose handleEvents ${what} fails: its closed and its permanent consumer's reject`, async () => {
        const stage = new ProducerConsumer<number, number>({
          subscribeTo: [Producer.from(range(0, 10))],
          handleEvents: () => fail(value),
        });
        // Its downstream demand lets it handle upstream events.
        const consumer = new Consumer<number>({ subscribeTo: [stage], handleEvents: () => {} });
        assert.equal((await outcome(stage.closed)).state, "rejected");
        assert.equal((await outcome(consumer.closed)).state, "rejected");
      });
    }
  }

  it('a consumer with redeliver whose handleEvents throws "shutdown" gives its events back', async () => {
    const tally = new Tally(100);
    const producer = Producer.from(range(0, 100));
    const link = { maxDemand: 10, minDemand: 5, redeliver: true } as const;
    const failing = new Consumer<number>({
      subscribeTo: [[producer, link]],
      handleEvents: () => {
        throw "shutdown";
      },
    });
    await outcome(failing.closed);
    const survivor = new Consumer<number>({
      subscribeTo: [[producer, link]],
      handleEvents: (events) => tally.add(events),
    });
    await survivor.closed;
    assert.deepEqual(tally.missing(), [], tally.describeLoss());
  });
});
