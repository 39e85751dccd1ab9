// At-least-once delivery with `redeliver` through restart strategies and
// double faults, counted event by event (issue 10, points 1 and 2).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  Consumer,
  ConsumerSupervisor,
  Producer,
  ProducerConsumer,
  type Source,
  Supervisor,
  type SupervisorChildren,
  type SupervisorStrategy,
} from "../mod.ts";
import { deferred, range, settle } from "./_helpers.ts";
import { Tally } from "./_tally.ts";

const LINK = { maxDemand: 50, minDemand: 25, redeliver: true } as const;

/**
 * A finite producer outside the supervisor, and `consumers` supervised
 * consumers of it (behind a supervised producer-consumer when `chain`);
 * consumer 2 throws once, on its third batch. Returns the tally
 * once the supervisor has stopped (every child transient: the end of the
 * source ends them all normally).
 */
async function crashOneSibling(options: {
  readonly strategy: SupervisorStrategy;
  readonly chain: boolean;
  readonly total: number;
}): Promise<{ tally: Tally; crashed: boolean }> {
  const tally = new Tally(options.total);
  const producer = Producer.from(range(0, options.total));
  let crashed = false;
  let batches = 0;
  const consumer = (index: number) => ({
    id: `consumer ${index}`,
    restart: "transient" as const,
    start: (children: SupervisorChildren) => {
      const source: Source<number> = options.chain
        ? children.get<ProducerConsumer<number, number>>("stage")!
        : producer;
      return new Consumer<number>({
        subscribeTo: [[source, LINK]],
        handleEvents: async (events) => {
          if (index === 2 && !crashed && ++batches === 3) {
            crashed = true;
            throw new Error("consumer 2 crashed");
          }
          // Work that takes a turn of the event loop: every consumer holds events when one crashes.
          await settle();
          tally.add(events);
        },
      });
    },
  });
  const supervisor = new Supervisor({
    strategy: options.strategy,
    maxRestarts: 100,
    children: [
      ...(options.chain
        ? [{
          id: "stage",
          restart: "transient" as const,
          start: () =>
            new ProducerConsumer<number, number>({
              subscribeTo: [[producer, LINK]],
              handleEvents: (events) => events,
            }),
        }]
        : []),
      ...[0, 1, 2, 3].map(consumer),
    ],
  });
  await supervisor.closed;
  await producer.closed;
  return { tally, crashed };
}

// Point 1: rest_for_one and one_for_all stop healthy siblings with
// "shutdown"; what their subscriptions held must still come back.
describe("redeliver through restart strategies", () => {
  for (const strategy of ["one_for_one", "rest_for_one", "one_for_all"] as const) {
    it(`${strategy}: the siblings a crash makes the supervisor stop give back what they held, so every event is handled`, async () => {
      const { tally, crashed } = await crashOneSibling({ strategy, chain: false, total: 1000 });
      assert.ok(crashed);
      assert.deepEqual(tally.missing(), [], tally.describeLoss());
    });

    it(`${strategy}: the same behind a supervised producer-consumer`, async () => {
      const { tally, crashed } = await crashOneSibling({ strategy, chain: true, total: 1000 });
      assert.ok(crashed);
      assert.deepEqual(tally.missing(), [], tally.describeLoss());
    });
  }
});

// Point 2: a producer-consumer must not count an upstream chunk as handled
// while its output can still come back to it or is still held downstream.
describe("redeliver through double faults in a chain", () => {
  const link = { maxDemand: 10, minDemand: 5, redeliver: true } as const;

  /** A fresh producer-consumer and consumer on `producer` that handle the rest. */
  async function finish(producer: Producer<number>, tally: Tally): Promise<void> {
    const stage = new ProducerConsumer<number, number>({
      subscribeTo: [[producer, link]],
      handleEvents: (events) => events,
    });
    const consumer = new Consumer<number>({
      subscribeTo: [[stage, link]],
      handleEvents: (events) => tally.add(events),
    });
    await consumer.closed;
    await producer.closed;
  }

  it("a consumer crash and then a crash of its producer-consumer lose no event", async () => {
    const tally = new Tally(100);
    const producer = Producer.from(range(0, 100));
    const stage = new ProducerConsumer<number, number>({
      subscribeTo: [[producer, link]],
      handleEvents: (events) => events,
    });
    const consumer = new Consumer<number>({
      subscribeTo: [[stage, link]],
      handleEvents: () => {
        throw new Error("consumer crashed");
      },
    });
    await assert.rejects(consumer.closed, { message: "consumer crashed" });
    // What the consumer gave back now waits in the producer-consumer.
    await stage.stop(new Error("producer-consumer crashed"));
    await finish(producer, tally);
    assert.deepEqual(tally.missing(), [], tally.describeLoss());
  });

  it("a producer-consumer crash while its consumer holds events, and then that consumer's crash, lose no event", async () => {
    const tally = new Tally(100);
    const producer = Producer.from(range(0, 100));
    const stage = new ProducerConsumer<number, number>({
      subscribeTo: [[producer, link]],
      handleEvents: (events) => events,
    });
    const busy = deferred();
    const gate = deferred();
    let calls = 0;
    const consumer = new Consumer<number>({
      subscribeTo: [[stage, link]],
      handleEvents: async (events) => {
        if (++calls === 1) return tally.add(events);
        busy.resolve();
        await gate.promise;
        throw new Error("consumer crashed");
      },
    });
    await busy.promise;
    await stage.stop(new Error("producer-consumer crashed"));
    gate.resolve();
    await assert.rejects(consumer.closed, { message: "consumer crashed" });
    await finish(producer, tally);
    assert.deepEqual(tally.missing(), [], tally.describeLoss());
  });

  it("without crashes, a chain with redeliver on every link handles every event exactly once", async () => {
    const tally = new Tally(1000);
    await finish(Producer.from(range(0, 1000)), tally);
    assert.deepEqual(tally.missing(), []);
    assert.equal(tally.handled, 1000);
  });
});

describe("redeliver when a chunk fails after its consumer stopped", () => {
  // Found by `npm run chaos -- --seeds 1000` (seeds 121, 193…, rest_for_one): a
  // consumer is shut down while its async handleEvents runs and its producer is
  // busy, so the producer takes the give-back later; the chunk then fails, and
  // reported its events as never handled before the give-back could resend them.
  for (const kind of ["Consumer", "ProducerConsumer"] as const) {
    it(`a ${kind} stopped with "shutdown" mid-chunk, whose chunk then fails, gives the chunk back`, async () => {
      const busy = deferred();
      const unhandled: number[] = [];
      const producer = new Producer<number>({
        handleInfo: () => busy.promise,
        acknowledge: (events, handled) => {
          if (!handled) unhandled.push(...(events as number[]));
        },
      });
      const chunk = deferred();
      const seen: number[][] = [];
      const options = { maxDemand: 10, minDemand: 5, redeliver: true } as const;
      const handleEvents = (events: number[]) => {
        seen.push(events);
        return chunk.promise;
      };
      const first = kind === "Consumer"
        ? new Consumer<number>({ subscribeTo: [[producer, options]], handleEvents })
        : new ProducerConsumer<number, number>({
          subscribeTo: [[producer, options]],
          handleEvents: (events) => handleEvents(events).then(() => []),
        });
      first.closed.catch(() => {});
      if (first instanceof ProducerConsumer) {
        // A producer-consumer handles events only while downstream asks for them.
        new Consumer<number>({ subscribeTo: [first], handleEvents() {} }).closed.catch(() => {});
      }
      await settle();
      producer.emit([1, 2, 3]);
      await settle();
      assert.deepEqual(seen, [[1, 2, 3]], "the chunk is in progress");
      producer.info("hold the producer");
      await settle();
      await first.stop("shutdown");
      chunk.reject(new Error("the chunk failed after the stop"));
      await settle();
      busy.resolve();
      await settle();
      const again: number[] = [];
      const second = new Consumer<number>({
        subscribeTo: [[producer, options]],
        handleEvents: (events) => void again.push(...events),
      });
      await settle();
      assert.deepEqual(again, [1, 2, 3], "the chunk came back to the next consumer");
      assert.deepEqual(unhandled, [], "nothing was reported as never handled");
      await second.stop();
      await producer.stop();
    });
  }
});

describe("redeliver from a ConsumerSupervisor", () => {
  // Its tasks take their events out of the subscription's keeping (they end in
  // any order), so a stop must hand back those of the tasks it interrupts.
  for (const reason of ["shutdown", new Error("boom")]) {
    it(`stopped with ${reason === "shutdown" ? '"shutdown"' : "an error"}, it gives back the events of the tasks it interrupts`, async () => {
      const unhandled: number[] = [];
      const producer = new Producer<number>({
        acknowledge: (events, handled) => {
          if (!handled) unhandled.push(...(events as number[]));
        },
      });
      const started: number[] = [];
      const never = deferred();
      const supervisor = new ConsumerSupervisor<number>({
        subscribeTo: [[producer, { maxDemand: 3, minDemand: 1, redeliver: true }]],
        handleEvent: (event) => {
          started.push(event);
          return never.promise;
        },
      });
      supervisor.closed.catch(() => {});
      await settle();
      // Two chunks reach it (maxDemand − minDemand = 2): [1, 2] and [3].
      producer.emit([1, 2, 3, 4, 5]);
      await settle();
      assert.deepEqual(started, [1, 2, 3], "three tasks run, two events wait in the producer");
      await supervisor.stop(reason);
      const again: number[] = [];
      const next = new Consumer<number>({
        subscribeTo: [[producer, { maxDemand: 10, redeliver: true }]],
        handleEvents: (events) => void again.push(...events),
      });
      await settle();
      assert.deepEqual(again, [1, 2, 3, 4, 5], "the interrupted tasks' events come first");
      assert.deepEqual(unhandled, []);
      await next.stop();
      await producer.stop();
    });
  }

  it("stopped normally, it reports the interrupted tasks' events as never handled (no redelivery)", async () => {
    const unhandled: number[] = [];
    const producer = new Producer<number>({
      acknowledge: (events, handled) => {
        if (!handled) unhandled.push(...(events as number[]));
      },
    });
    const never = deferred();
    const supervisor = new ConsumerSupervisor<number>({
      subscribeTo: [[producer, { maxDemand: 3, minDemand: 1, redeliver: true }]],
      handleEvent: () => never.promise,
    });
    await settle();
    producer.emit([1, 2, 3]);
    await settle();
    await supervisor.stop();
    await settle();
    assert.deepEqual(unhandled, [1, 2, 3]);
    await producer.stop();
  });
});

describe("a producer-consumer upstream of a ConsumerSupervisor", () => {
  it("acknowledges its input only once the tasks made from it are done", async () => {
    const acknowledged: number[] = [];
    const producer = new Producer<number>({
      acknowledge: (events, handled) => {
        if (handled) acknowledged.push(...(events as number[]));
      },
    });
    const link = { maxDemand: 4, minDemand: 2, redeliver: true } as const;
    const doubler = new ProducerConsumer<number, number>({
      subscribeTo: [[producer, link]],
      handleEvents: (events) => events.map((n) => n * 2),
    });
    const tasks = new Map<number, () => void>();
    const supervisor = new ConsumerSupervisor<number>({
      subscribeTo: [[doubler, link]],
      handleEvent: (event) => new Promise<void>((resolve) => tasks.set(event, resolve)),
    });
    await settle();
    producer.emit([1, 2]);
    await settle();
    assert.deepEqual([...tasks.keys()], [2, 4], "two tasks run");
    assert.deepEqual(acknowledged, [], "nothing is acknowledged while they run");
    tasks.get(2)!();
    await settle();
    assert.deepEqual(acknowledged, [], "the chunk [1, 2] waits for its last task");
    tasks.get(4)!();
    await settle();
    assert.deepEqual(acknowledged, [1, 2]);
    await supervisor.stop();
    await doubler.stop();
    await producer.stop();
  });
});
