import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Consumer, Producer, ProducerConsumer } from "../mod.ts";
import { readAll } from "./_helpers.ts";

describe("closing with nobody left to drain to", () => {
  it("a closing producer-consumer whose consumers have all left stops and reports what it held as discarded", async () => {
    const source = new Producer<number>({});
    const discarded: number[] = [];
    const pc = new ProducerConsumer<number, number>({
      subscribeTo: [source],
      handleEvents: (events) => events,
      onDiscard: (count) => {
        discarded.push(count);
        return false;
      },
    });
    // A manual consumer that asks for one event only: the producer-consumer
    // handles the batch of five and holds four in its buffer.
    const received: number[] = [];
    const consumer = new Consumer<number>({
      subscribeTo: [pc],
      handleSubscribe(subscription) {
        subscription.ask(1);
        return "manual";
      },
      handleEvents: (events) => void received.push(...events),
    });
    source.emit([1, 2, 3, 4, 5]);
    await source.close();
    let pcStopped = false;
    pc.closed.then(() => (pcStopped = true));
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.deepEqual(received, [1]);
    assert.equal(pc.bufferedCount, 4);
    assert.equal(pcStopped, false, "it still drains while a consumer is subscribed");
    await consumer.stop();
    await pc.closed;
    assert.deepEqual(discarded, [4]);
  });

  it("a closed producer that never had a subscriber keeps its buffer for the first one", async () => {
    const producer = new Producer<number>({});
    producer.emit([1, 2, 3]);
    const closing = producer.close();
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.equal(producer.bufferedCount, 3);
    const stream = producer.subscribe();
    assert.deepEqual((await readAll(stream)).flat(), [1, 2, 3]);
    await closing;
  });
});
