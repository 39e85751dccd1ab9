import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Consumer, Producer, ProducerConsumer } from "../mod.ts";

function endless(): { producer: Producer<number>; made: () => number } {
  let next = 0;
  const producer = new Producer<number>({
    handleDemand(demand) {
      const events = new Array<number>(demand);
      for (let i = 0; i < demand; i++) events[i] = next++;
      return events;
    },
  });
  return { producer, made: () => next };
}

describe("fairness to the event loop", () => {
  it("an endless synchronous producer → consumer still lets timers run", async () => {
    const { producer, made } = endless();
    let handled = 0;
    const consumer = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 10 }]],
      handleEvents: (events) => void (handled += events.length),
    });
    // Without yielding, this timer would never fire and the test would hang.
    await new Promise((resolve) => setTimeout(resolve, 5));
    await producer.stop();
    await consumer.closed;
    assert.ok(handled > 0 && handled <= made());
  });

  it("an endless synchronous chain through a producer-consumer lets an AbortSignal timer stop it", async () => {
    const { producer } = endless();
    const controller = new AbortController();
    const doubled = new ProducerConsumer<number, number>({
      subscribeTo: [[producer, { maxDemand: 100 }]],
      handleEvents: (events) => events.map((n) => n * 2),
    });
    let last = -2;
    const consumer = new Consumer<number>({
      subscribeTo: [doubled],
      signal: controller.signal,
      handleEvents(events) {
        for (const n of events) {
          assert.equal(n, last + 2);
          last = n;
        }
      },
    });
    setTimeout(() => controller.abort(new Error("enough")), 5);
    await assert.rejects(consumer.closed, { message: "enough" });
    // With its consumer gone, the producer-consumer may hold upstream events
    // behind which the producer's end would wait (GenStage's G16 order), so
    // stop both directly.
    await doubled.stop();
    await producer.stop();
    assert.ok(last > 0);
  });
});
