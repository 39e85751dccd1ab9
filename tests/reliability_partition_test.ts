// PartitionDispatcher backlogs: kept for a late or replacement subscriber by
// a closing producer, dropped only after `keepBacklogMs` and reported, and
// bounded by default on every stage (issue 10, points 3 and 4).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  Consumer,
  PartitionDispatcher,
  type PartitionDispatcherOptions,
  Producer,
  ProducerConsumer,
} from "../mod.ts";
import { range, settle } from "./_helpers.ts";
import { Tally } from "./_tally.ts";

const parity = (n: number) => n % 2;

/** A producer of 0..total-1 on demand that closes itself after the last one. */
function finite(
  total: number,
  dispatcher: PartitionDispatcher<number, number>,
  onDiscard?: (count: number) => boolean | void,
): Producer<number> {
  let next = 0;
  const producer: Producer<number> = new Producer<number>({
    dispatcher,
    onDiscard,
    handleDemand: (demand) => {
      const events = range(next, Math.min(total, next + demand));
      next += events.length;
      if (next === total) void producer.close();
      return events;
    },
  });
  return producer;
}

function reader(producer: Producer<number>, partition: number, tally: Tally): Consumer<number> {
  return new Consumer<number>({
    subscribeTo: [[producer, { partition, maxDemand: 10 }]],
    handleEvents: (events) => tally.add(events),
  });
}

async function turns(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await settle();
}

// Point 3: a closing producer must not drop, silently, the backlog of a
// partition that has no subscriber at that moment.
describe("a closing producer and a partition without a subscriber", () => {
  it("keeps the partition's backlog for a consumer that subscribes a few turns late", async () => {
    const tally = new Tally(100);
    const producer = finite(100, new PartitionDispatcher({ partitions: 2, hash: parity }));
    const early = reader(producer, 0, tally);
    await turns(3);
    const late = reader(producer, 1, tally); // throws if the producer has stopped
    await Promise.all([early.closed, late.closed, producer.closed]);
    assert.deepEqual(tally.missing(), [], tally.describeLoss());
  });

  it("keeps the partition's backlog for the replacement of its consumer", async () => {
    const tally = new Tally(100);
    const producer = finite(100, new PartitionDispatcher({ partitions: 2, hash: parity }));
    const even = reader(producer, 0, tally);
    let odd = 0;
    const first: Consumer<number> = new Consumer<number>({
      subscribeTo: [[producer, { partition: 1, maxDemand: 10, minDemand: 0 }]],
      handleEvents: (events) => {
        tally.add(events);
        if ((odd += events.length) >= 10) void first.stop();
      },
    });
    await first.closed;
    await turns(3);
    const replacement = reader(producer, 1, tally);
    await Promise.all([even.closed, replacement.closed, producer.closed]);
    assert.deepEqual(tally.missing(), [], tally.describeLoss());
  });

  it("drops the backlog once keepBacklogMs has passed with no subscriber, reporting it through onDiscard", async () => {
    const tally = new Tally(100);
    const discarded: number[] = [];
    const producer = finite(
      100,
      new PartitionDispatcher({
        partitions: 2,
        hash: parity,
        keepBacklogMs: 0,
      } as PartitionDispatcherOptions<number, number>),
      (count) => void discarded.push(count),
    );
    const even = reader(producer, 0, tally);
    await Promise.all([even.closed, producer.closed]);
    assert.equal(tally.missing().length, 50);
    assert.deepEqual(discarded, [50]);
  });

  it("rejects a keepBacklogMs that is not an integer >= 0 or Infinity", () => {
    for (const [value, type, shown] of [[-1, RangeError, "-1"], ["5", TypeError, '"5"']] as const) {
      assert.throws(
        () =>
          new PartitionDispatcher({
            partitions: 2,
            hash: parity,
            keepBacklogMs: value,
          } as unknown as PartitionDispatcherOptions<number, number>),
        {
          name: type.name,
          message: `Cannot construct PartitionDispatcher as keepBacklogMs must be ${
            type === TypeError ? "a number" : "an integer >= 0 or Infinity"
          }: current value is ${shown}`,
        },
      );
    }
  });
});

// Point 4: maxBacklog defaulted to the stage's bufferSize, Infinity for a
// producer-consumer, so an unread partition grew without bound.
describe("PartitionDispatcher backlogs have a finite default bound", () => {
  it("on a ProducerConsumer, whose bufferSize is Infinity, maxBacklog defaults to 10000", async () => {
    const dispatcher = new PartitionDispatcher({ partitions: 2, hash: parity });
    const stage = new ProducerConsumer<number, number>({
      dispatcher,
      handleEvents: (events) => events,
    });
    assert.equal(dispatcher.maxBacklog, 10_000);
    await stage.stop();
  });

  it("on a Producer, maxBacklog defaults to its finite bufferSize", async () => {
    const dispatcher = new PartitionDispatcher({ partitions: 2, hash: parity });
    const producer = new Producer<number>({ dispatcher, bufferSize: 500 });
    assert.equal(dispatcher.maxBacklog, 500);
    await producer.stop();
  });

  it("an unread partition of a ProducerConsumer stops growing at its bound while the other is read", async () => {
    let next = 0;
    const producer = new Producer<number>({
      handleDemand: (demand) => range(next, next += demand),
    });
    const dispatcher = new PartitionDispatcher({ partitions: 2, hash: parity });
    const stage = new ProducerConsumer<number, number>({
      dispatcher,
      subscribeTo: [[producer, { maxDemand: 1000 }]],
      handleEvents: (events) => events,
    });
    let read = 0;
    const consumer = new Consumer<number>({
      subscribeTo: [[stage, { partition: 0, maxDemand: 1000 }]],
      handleEvents: (events) => void (read += events.length),
    });
    // Read partition 0 until it stalls (the bound holds) or 40 000 events went by (it does not).
    for (let idle = 0, last = -1; idle < 5 && read < 40_000; last = read) {
      await settle();
      idle = read === last ? idle + 1 : 0;
    }
    const backlog = dispatcher.backlogSize(1);
    // Stopped before asserting: an unbounded pipeline left running fills the heap.
    await Promise.all([consumer.stop(), stage.stop(), producer.stop()]);
    // The bound, plus at most the upstream demand already asked for when it filled.
    assert.ok(backlog <= 10_000 + 1000, `partition 1 holds ${backlog} events`);
  });
});
