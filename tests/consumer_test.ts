import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type CancelMode,
  Consumer,
  Producer,
  ProducerConsumer,
  type Subscription,
} from "../mod.ts";
import { deferred, settle } from "./_helpers.ts";
import { forwarder } from "./_stages.ts";

/** A consumer subscribed to a fresh producer with `cancel`, recording handleCancel. */
function subscribed(cancel: CancelMode) {
  const producer = new Producer<number>();
  const cancels: Array<[Subscription<number>, unknown]> = [];
  const cancelled = deferred();
  const consumer = new Consumer<number>({
    handleEvents: () => {},
    handleCancel: (subscription, reason) => {
      cancels.push([subscription, reason]);
      cancelled.resolve();
    },
  });
  const subscription = consumer.subscribeTo(producer, { cancel });
  return { producer, consumer, subscription, cancels, cancelled: cancelled.promise };
}

/** Resolves to true if `consumer` still subscribes and asks for events. */
async function alive(consumer: Consumer<number>): Promise<boolean> {
  const producer = new Producer<number>();
  try {
    consumer.subscribeTo(producer, { cancel: "temporary" });
  } catch {
    return false;
  }
  producer.emit([42]);
  await settle();
  const taken = producer.bufferedCount === 0;
  await producer.stop();
  return taken;
}

describe("Consumer", () => {
  it("G31: info reaches handleInfo at once", async () => {
    const infos: unknown[] = [];
    const consumer = new Consumer<number>({
      handleEvents: () => {},
      handleInfo: (m) => void infos.push(m),
    });
    consumer.info("sync");
    consumer.info("async");
    await settle();
    assert.deepEqual(infos, ["sync", "async"]);
    await consumer.stop();
  });

  it("G40/G66: subscribeTo returns the subscription handleSubscribe and handleEvents receive", async () => {
    const producer = new Producer<number>();
    const seen: Array<Subscription<number>> = [];
    const events = deferred<Subscription<number>>();
    const consumer = new Consumer<number>({
      handleSubscribe: (s) => void seen.push(s),
      handleEvents: (_events, s) => events.resolve(s),
    });
    const subscription = consumer.subscribeTo(producer, { maxDemand: 5, custom: 1 });
    assert.equal(subscription.producer, producer);
    assert.equal(subscription.consumer, consumer);
    assert.equal(subscription.options.maxDemand, 5);
    assert.equal(subscription.options.minDemand, 2);
    assert.equal(subscription.options.custom, 1);
    producer.emit([1]);
    assert.equal(await events.promise, subscription);
    assert.deepEqual(seen, [subscription]);
    await producer.stop();
    await consumer.closed;
  });

  it("G41: subscribeTo on a stopped consumer throws and subscribes nothing", async () => {
    const subscribes: unknown[] = [];
    const producer = new Producer<number>({ handleSubscribe: (s) => void subscribes.push(s) });
    const consumer = new Consumer<number>({ handleEvents: () => {} });
    await consumer.stop();
    assert.throws(() => consumer.subscribeTo(producer), {
      name: "TypeError",
      message: "Cannot subscribe as the Consumer has stopped",
    });
    await settle();
    assert.deepEqual(subscribes, []);
    await producer.stop();
  });

  it("G44/G46: subscribeTo a stopped producer throws, whatever the cancel mode", async () => {
    const producer = new Producer<number>();
    await producer.stop();
    const consumer = new Consumer<number>({ handleEvents: () => {} });
    for (const cancel of ["permanent", "temporary"] as const) {
      assert.throws(() => consumer.subscribeTo(producer, { cancel }), {
        name: "TypeError",
        message: "Cannot subscribe as the Producer has stopped",
      });
    }
    assert.ok(await alive(consumer));
    await consumer.stop();
  });

  it("G67: a handleSubscribe answer other than automatic, manual or nothing stops the consumer with a TypeError", async () => {
    const producer = new Producer<number>();
    const consumer = new Consumer<number>({
      subscribeTo: [producer],
      handleSubscribe: () => "unknown" as never,
      handleEvents: () => {},
    });
    await assert.rejects(consumer.closed, {
      name: "TypeError",
      message:
        'Cannot subscribe as handleSubscribe\'s result must be "automatic", "manual" or nothing: current value is "unknown"',
    });
    await producer.stop();
  });

  it("G68: a temporary subscription cancelled with any reason runs handleCancel and the consumer goes on", async () => {
    const { producer, consumer, subscription, cancels, cancelled } = subscribed("temporary");
    subscription.cancel("oops");
    await cancelled;
    assert.deepEqual(cancels, [[subscription, "oops"]]);
    assert.ok(await alive(consumer));
    await consumer.stop();
    await consumer.closed;
    await producer.stop();
  });

  it('G69: a transient subscription cancelled with "normal" runs handleCancel and the consumer goes on', async () => {
    const { producer, consumer, subscription, cancels, cancelled } = subscribed("transient");
    subscription.cancel();
    await cancelled;
    assert.deepEqual(cancels, [[subscription, "normal"]]);
    assert.ok(await alive(consumer));
    await consumer.stop();
    await producer.stop();
  });

  it("G70: a transient subscription cancelled with an abnormal reason stops the consumer with that reason", async () => {
    const { producer, consumer, subscription, cancels } = subscribed("transient");
    const reason = new Error("bad");
    subscription.cancel(reason);
    await assert.rejects(consumer.closed, (error) => error === reason);
    assert.deepEqual(cancels, [[subscription, reason]]);
    await producer.stop();
  });

  it("G71: a permanent subscription cancelled by its own consumer stops the consumer with that reason", async () => {
    const { producer, consumer, subscription, cancels } = subscribed("permanent");
    subscription.cancel("oops");
    await assert.rejects(consumer.closed, (error) => error === "oops");
    assert.deepEqual(cancels, [[subscription, "oops"]]);
    await producer.stop();
  });

  it('a permanent subscription cancelled with "normal" stops the consumer normally', async () => {
    const { producer, consumer, subscription, cancels } = subscribed("permanent");
    subscription.cancel();
    await consumer.closed;
    assert.deepEqual(cancels, [[subscription, "normal"]]);
    await producer.stop();
  });

  it("G72: a temporary consumer survives its producer failing", async () => {
    const { producer, consumer, subscription, cancels, cancelled } = subscribed("temporary");
    const killed = new Error("killed");
    await producer.stop(killed);
    await cancelled;
    assert.deepEqual(cancels, [[subscription, killed]]);
    assert.ok(await alive(consumer));
    await consumer.stop();
  });

  it("G73: a transient consumer stops with the reason its producer failed with", async () => {
    const { producer, consumer, subscription, cancels } = subscribed("transient");
    const killed = new Error("killed");
    await producer.stop(killed);
    await assert.rejects(consumer.closed, (error) => error === killed);
    assert.deepEqual(cancels, [[subscription, killed]]);
  });

  it('a transient consumer survives its producer stopping "normal" or "shutdown"', async () => {
    for (const reason of ["normal", "shutdown"]) {
      const { producer, consumer, cancels, cancelled } = subscribed("transient");
      await producer.stop(reason);
      await cancelled;
      assert.equal(cancels[0][1], reason);
      assert.ok(await alive(consumer));
      await consumer.stop();
    }
  });

  it("G74: a permanent consumer stops with the reason its producer failed with", async () => {
    const { producer, consumer, subscription, cancels } = subscribed("permanent");
    const killed = new Error("killed");
    await producer.stop(killed);
    await assert.rejects(consumer.closed, (error) => error === killed);
    assert.deepEqual(cancels, [[subscription, killed]]);
  });

  it("a permanent consumer stops normally when its producer stops normally, after handling what was sent", async () => {
    const producer = new Producer<number>({ bufferSize: Infinity });
    const { consumer, batches } = forwarder<number>([[producer, { maxDemand: 4, minDemand: 0 }]]);
    await settle();
    producer.emit([1, 2, 3, 4]);
    await producer.stop();
    await consumer.closed;
    assert.deepEqual(batches, [[1, 2, 3, 4]]);
  });

  it("G76: stop() resolves once stopped and closed resolves on a normal stop", async () => {
    const consumer = new Consumer<number>({ handleEvents: () => {} });
    await consumer.stop();
    await consumer.closed;
  });

  it("reads several producers, telling them apart by subscription", async () => {
    const a = new Producer<string>();
    const b = new Producer<string>();
    const seen: Array<[string, string[]]> = [];
    const done = deferred();
    const consumer = new Consumer<string>({
      subscribeTo: [a, b],
      handleEvents: (events, subscription) => {
        seen.push([subscription.producer === a ? "a" : "b", events]);
        if (seen.length === 2) done.resolve();
      },
    });
    await settle();
    a.emit(["x"]);
    b.emit(["y"]);
    await done.promise;
    assert.deepEqual(seen.sort(), [["a", ["x"]], ["b", ["y"]]]);
    await a.stop();
    await consumer.closed;
    await b.stop();
  });

  it("G94: asking on a subscription that has ended does nothing", async () => {
    const demands: number[] = [];
    const producer = new Producer<number>({ handleDemand: (d) => void demands.push(d) });
    let subscription: Subscription<number> | undefined;
    const cancelled = deferred();
    const consumer = new Consumer<number>({
      subscribeTo: [[producer, { cancel: "temporary" }]],
      handleSubscribe: (s) => {
        subscription = s;
        return "manual";
      },
      handleCancel: () => cancelled.resolve(),
      handleEvents: () => {},
    });
    await settle();
    subscription!.cancel();
    await cancelled.promise;
    subscription!.ask(5);
    await settle();
    assert.deepEqual(demands, []);
    await producer.stop();
    await consumer.stop();
  });

  it("handles info messages in order with the batches already queued", async () => {
    const producer = new Producer<number>();
    producer.emit([1]);
    const log: unknown[] = [];
    const gate = deferred();
    const consumer = new Consumer<number>({
      subscribeTo: [producer],
      handleEvents: async (events) => {
        await gate.promise;
        log.push(events);
      },
      handleInfo: (m) => void log.push(m),
    });
    await settle();
    consumer.info("after");
    gate.resolve();
    await settle();
    assert.deepEqual(log, [[1], "after"]);
    await producer.stop();
    await consumer.closed;
  });

  it("runs handleSubscribe for constructor subscriptions after the constructor returns, so it can use the stage", async () => {
    const producer = new Producer<number>();
    const seen: unknown[] = [];
    const consumer: Consumer<number> = new Consumer<number>({
      subscribeTo: [producer],
      handleSubscribe: () => void seen.push(consumer),
      handleEvents: () => {},
    });
    const pc: ProducerConsumer<number, number> = new ProducerConsumer<number, number>({
      subscribeTo: [producer],
      handleSubscribe: () => void seen.push(pc),
      handleEvents: (events) => events,
    });
    assert.deepEqual(seen, []);
    await settle();
    assert.equal(seen.length, 2);
    assert.equal(seen[0], consumer);
    assert.equal(seen[1], pc);
    await producer.stop();
    await consumer.closed;
  });
});
