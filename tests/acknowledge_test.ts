// The contract of the Producer `acknowledge` option, as the broker producers
// (nats.ts, redis.ts) rely on it: every event sent is reported exactly once,
// `true` once its handleEvents (or ConsumerSupervisor task) settled, `false`
// when its consumer will never handle it, and before the consumer asks again.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Consumer, ConsumerSupervisor, Producer } from "../mod.ts";
import { deferred, range, settle } from "./_helpers.ts";

/** A producer of 0..total-1 on demand that records every report of the hook. */
function reporting(total: number) {
  let next = 0;
  const reports: Array<{ events: number[]; handled: boolean }> = [];
  const log: string[] = [];
  const producer = new Producer<number>({
    handleDemand: (demand) => {
      log.push(`demand ${demand}`);
      const out: number[] = [];
      while (out.length < demand && next < total) out.push(next++);
      return out;
    },
    acknowledge: (events, handled) => {
      reports.push({ events, handled });
      log.push(`${handled ? "handled" : "unhandled"} ${events.length}`);
    },
  });
  const count = (handled: boolean) =>
    reports.filter((r) => r.handled === handled).flatMap((r) => r.events);
  return { producer, reports, log, handled: () => count(true), unhandled: () => count(false) };
}

function assertOnce(reported: number[], expected: number[]): void {
  assert.deepEqual([...reported].sort((a, b) => a - b), expected);
}

describe("Producer acknowledge", () => {
  it("reports every event handled by a consumer once, after its handleEvents and before the next ask", async () => {
    const { producer, handled, unhandled, log } = reporting(40);
    const seen: number[] = [];
    const consumer = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 5 }]],
      handleEvents: async (events) => {
        await settle();
        seen.push(...events);
        log.push(`handleEvents ${events.length}`);
        if (seen.length === 40) consumer.close();
      },
    });
    await consumer.closed;
    assert.deepEqual(handled(), range(0, 40));
    assert.deepEqual(unhandled(), []);
    // Each chunk: handleEvents, then its report, then the ask it frees.
    assert.deepEqual(log.slice(0, 6), [
      "demand 10",
      "handleEvents 5",
      "handled 5",
      "demand 5",
      "handleEvents 5",
      "handled 5",
    ]);
    await producer.stop();
  });

  it("reports the failing chunk and every event queued behind it as not handled", async () => {
    const { producer, handled, unhandled } = reporting(Infinity);
    let calls = 0;
    const consumer = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 5 }]],
      handleEvents: () => {
        if (++calls === 3) throw new Error("boom");
      },
    });
    await assert.rejects(consumer.closed, /boom/);
    await settle();
    // Sent: 10 + 5 + 5 = 20; handled the first two chunks of 5.
    assert.deepEqual(handled(), range(0, 10));
    assertOnce(unhandled(), range(10, 20));
    await producer.stop();
  });

  it("with redeliver, reports the events given back once another consumer has handled them", async () => {
    const { producer, handled, unhandled } = reporting(60);
    let calls = 0;
    const failing = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 5, redeliver: true }]],
      handleEvents: () => {
        if (++calls === 2) throw new Error("boom");
      },
    });
    const done = deferred();
    const seen: number[] = [];
    const good = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 5 }]],
      handleEvents: (events) => {
        seen.push(...events);
        if (handled().length + events.length >= 60) done.resolve();
      },
    });
    await assert.rejects(failing.closed, /boom/);
    await done.promise;
    await settle();
    assertOnce(handled(), range(0, 60));
    assert.deepEqual(unhandled(), []);
    await good.stop();
    await producer.stop();
  });

  it("reports a chunk whose handleEvents is running when its consumer is stopped once it settles", async () => {
    const { producer, handled, unhandled } = reporting(Infinity);
    const started = deferred();
    const release = deferred();
    const consumer = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 5 }]],
      handleEvents: async () => {
        started.resolve();
        await release.promise;
      },
    });
    await started.promise;
    await consumer.stop();
    assertOnce(unhandled(), range(5, 10));
    assert.deepEqual(handled(), []);
    release.resolve();
    await settle();
    assert.deepEqual(handled(), range(0, 5));
    await producer.stop();
  });

  it("reports a ConsumerSupervisor's events one by one as their tasks end", async () => {
    const { producer, handled, unhandled } = reporting(30);
    const supervisor = new ConsumerSupervisor<number>({
      subscribeTo: [[producer, { maxDemand: 4, minDemand: 1 }]],
      handleEvent: async (n) => {
        // Later events finish first.
        for (let i = 0; i < 5 - (n % 4); i++) await settle();
        if (n % 10 === 7) throw new Error(`task ${n} failed`);
      },
      onTaskError: () => {},
    });
    while (handled().length + unhandled().length < 30) await settle();
    assertOnce(handled(), range(0, 30).filter((n) => n % 10 !== 7));
    assertOnce(unhandled(), [7, 17, 27]);
    await supervisor.stop();
    await producer.stop();
  });

  it("reports the tasks still running when a ConsumerSupervisor stops as not handled", async () => {
    const { producer, handled, unhandled } = reporting(Infinity);
    const supervisor = new ConsumerSupervisor<number>({
      subscribeTo: [[producer, { maxDemand: 3, minDemand: 1 }]],
      handleEvent: () => new Promise<void>(() => {}),
    });
    await settle();
    await supervisor.stop();
    assert.deepEqual(handled(), []);
    assertOnce(unhandled(), [0, 1, 2]);
    await producer.stop();
  });
});
