import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { BroadcastDispatcher, Consumer, Producer, type Subscription } from "../mod.ts";
import { deferred, range, settle } from "./_helpers.ts";
import { counter, forwarder } from "./_stages.ts";

describe("the demand protocol", () => {
  it("G1: with the defaults, the consumer asks 1000 and handles [0..499], asks 500, handles [500..999], asks 500", async () => {
    const { producer, demands } = counter();
    const { consumer, batches, until } = forwarder<number>([producer]);
    await until(2);
    await producer.stop();
    await consumer.closed;
    assert.deepEqual(batches.slice(0, 2), [range(0, 500), range(500, 1000)]);
    assert.deepEqual(demands.slice(0, 3), [1000, 500, 500]);
  });

  it("G2: maxDemand 100 / minDemand 80 gives batches of 20 and asks of 20", async () => {
    const { producer, demands } = counter();
    const { consumer, batches, until } = forwarder<number>([[producer, {
      maxDemand: 100,
      minDemand: 80,
    }]]);
    await until(51);
    await producer.stop();
    await consumer.closed;
    assert.deepEqual(batches.slice(0, 51), range(0, 51).map((i) => range(20 * i, 20 * i + 20)));
    assert.deepEqual(demands.slice(0, 4), [100, 20, 20, 20]);
  });

  it("G3: maxDemand 100 / minDemand 20 hands chunks of at most 80 and re-asks after each by the rule", async () => {
    const { producer, demands } = counter();
    const { consumer, batches, until } = forwarder<number>([[producer, {
      maxDemand: 100,
      minDemand: 20,
    }]]);
    await until(5);
    await producer.stop();
    await consumer.closed;
    assert.deepEqual(batches.slice(0, 5), [
      range(0, 80),
      range(80, 100),
      range(100, 180),
      range(180, 260),
      range(260, 280),
    ]);
    assert.deepEqual(demands.slice(0, 4), [100, 80, 100, 80]);
  });

  it("G4: maxDemand 1 / minDemand 0 hands one event per batch and asks one at a time", async () => {
    const { producer, demands } = counter();
    const { consumer, batches, until } = forwarder<number>([[producer, {
      maxDemand: 1,
      minDemand: 0,
    }]]);
    await until(3);
    await producer.stop();
    await consumer.closed;
    assert.deepEqual(batches.slice(0, 3), [[0], [1], [2]]);
    assert.deepEqual(demands.slice(0, 3), [1, 1, 1]);
  });

  it("G52: a manual subscription asks nothing until subscription.ask, then gets what it asked", async () => {
    const { producer, demands } = counter();
    const subscribed = deferred<Subscription<number>>();
    const batches: number[][] = [];
    const got = [deferred(), deferred()];
    const consumer = new Consumer<number>({
      handleSubscribe: (subscription) => {
        subscribed.resolve(subscription);
        return "manual";
      },
      handleEvents: (events) => {
        batches.push(events);
        got[batches.length - 1]?.resolve();
      },
    });
    consumer.subscribeTo(producer);
    const subscription = await subscribed.promise;
    await settle();
    assert.deepEqual(demands, []);
    assert.deepEqual(batches, []);
    subscription.ask(50);
    await got[0].promise;
    subscription.ask(50);
    await got[1].promise;
    assert.deepEqual(batches, [range(0, 50), range(50, 100)]);
    assert.deepEqual(demands, [50, 50]);
    await producer.stop();
    await consumer.closed;
  });

  it("G53: manual mode also works for subscribeTo given to the constructor", async () => {
    const { producer, demands } = counter();
    const batches: number[][] = [];
    const got = deferred();
    let subscription: Subscription<number> | undefined;
    const consumer = new Consumer<number>({
      subscribeTo: [producer],
      handleSubscribe: (s) => {
        subscription = s;
        return "manual";
      },
      handleEvents: (events) => {
        batches.push(events);
        got.resolve();
      },
    });
    await settle();
    assert.deepEqual(demands, []);
    subscription!.ask(50);
    await got.promise;
    assert.deepEqual(batches, [range(0, 50)]);
    await producer.stop();
    await consumer.closed;
  });

  it("hands a manual subscription each delivered batch whole, whatever minDemand", async () => {
    const producer = new Producer<number>();
    producer.emit(range(0, 10));
    const batch = deferred<number[]>();
    let subscription: Subscription<number> | undefined;
    const consumer = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 8 }]],
      handleSubscribe: (s) => {
        subscription = s;
        return "manual";
      },
      handleEvents: (events) => batch.resolve(events),
    });
    await settle();
    subscription!.ask(10);
    assert.deepEqual(await batch.promise, range(0, 10));
    await producer.stop();
    await consumer.closed;
  });

  it('G52: handleSubscribe may ask before it answers "manual"; the ask is sent once it has', async () => {
    const { producer, demands } = counter();
    const got = deferred<number[]>();
    const consumer = new Consumer<number>({
      subscribeTo: [producer],
      handleSubscribe: (subscription) => {
        subscription.ask(3);
        assert.deepEqual(demands, [], "nothing is asked before the answer");
        return "manual";
      },
      handleEvents: (events) => got.resolve(events),
    });
    assert.deepEqual(await got.promise, [0, 1, 2]);
    assert.deepEqual(demands, [3]);
    await producer.stop();
    await consumer.closed;
  });

  it("an ask inside handleSubscribe that then answers automatic stops the consumer with a TypeError", async () => {
    const { producer, demands } = counter();
    const consumer = new Consumer<number>({
      subscribeTo: [producer],
      handleSubscribe: (subscription) => void subscription.ask(3),
      handleEvents: () => {},
    });
    await assert.rejects(consumer.closed, {
      name: "TypeError",
      message:
        'Cannot ask as the subscription is automatic: only a subscription whose handleSubscribe returned "manual" can ask',
    });
    assert.deepEqual(demands, []);
    await producer.stop();
  });

  it("ask(0) on a manual subscription does nothing", async () => {
    const { producer, demands } = counter();
    let subscription: Subscription<number> | undefined;
    const consumer = new Consumer<number>({
      subscribeTo: [producer],
      handleSubscribe: (s) => {
        subscription = s;
        return "manual";
      },
      handleEvents: () => {},
    });
    await settle();
    subscription!.ask(0);
    await settle();
    assert.deepEqual(demands, []);
    await producer.stop();
    await consumer.closed;
  });

  it("G94: ask on a subscription that has ended does nothing", async () => {
    const { producer, demands } = counter();
    let subscription: Subscription<number> | undefined;
    const cancelled = deferred();
    const consumer = new Consumer<number>({
      subscribeTo: [[producer, { cancel: "temporary" }]],
      handleSubscribe: (s) => {
        subscription = s;
        return "manual";
      },
      handleEvents: () => assert.fail("nothing was asked while subscribed"),
      handleCancel: () => cancelled.resolve(),
    });
    await settle();
    subscription!.cancel();
    await cancelled.promise;
    subscription!.ask(5);
    await settle();
    assert.deepEqual(demands, []);
    assert.equal(producer.bufferedCount, 0);
    await producer.stop();
    await consumer.stop();
  });

  it("G23: buffered events are served first and handleDemand is asked only for the rest, once per ask", async () => {
    const { producer, demands } = counter();
    producer.emit(["a", "b", "c"] as never);
    producer.emit(["d", "e"] as never);
    assert.equal(producer.bufferedCount, 5);
    const { consumer, batches, until } = forwarder<number | string>([[
      producer as Producer<number | string>,
      { maxDemand: 4, minDemand: 0 },
    ]]);
    await until(4);
    await producer.stop();
    await consumer.closed;
    assert.deepEqual(batches.slice(0, 4), [["a", "b", "c", "d"], ["e"], [0, 1, 2], [3, 4, 5, 6]]);
    assert.deepEqual(demands.slice(0, 2), [3, 4]);
  });

  it("handleDemand returning fewer events is fine: the producer emits the rest later", async () => {
    const demands: number[] = [];
    const producer = new Producer<number>({
      handleDemand: (demand) => void demands.push(demand),
    });
    const { consumer, batches, until } = forwarder<number>([[producer, {
      maxDemand: 4,
      minDemand: 0,
    }]]);
    await settle();
    assert.deepEqual(demands, [4]);
    producer.emit([1, 2]);
    producer.emit([3, 4, 5]);
    await until(3);
    // The re-ask of 4 after [3, 4] takes [5] from the buffer and asks handleDemand for 3.
    assert.deepEqual(batches, [[1, 2], [3, 4], [5]]);
    assert.deepEqual(demands, [4, 3]);
    await producer.stop();
    await consumer.closed;
  });

  it("handleDemand returning more events than asked buffers the excess", async () => {
    const demands: number[] = [];
    const producer = new Producer<number>({
      handleDemand: (demand) => {
        demands.push(demand);
        return range(0, 10);
      },
    });
    const batch = deferred<number[]>();
    let subscription: Subscription<number> | undefined;
    const consumer = new Consumer<number>({
      subscribeTo: [producer],
      handleSubscribe: (s) => {
        subscription = s;
        return "manual";
      },
      handleEvents: (events) => batch.resolve(events),
    });
    await settle();
    subscription!.ask(3);
    assert.deepEqual(await batch.promise, [0, 1, 2]);
    assert.equal(producer.bufferedCount, 7);
    assert.deepEqual(demands, [3]);
    await producer.stop();
    await consumer.closed;
  });

  it("awaits an async handleDemand before handling the next ask", async () => {
    const demands: number[] = [];
    const gate = deferred();
    let next = 0;
    const producer = new Producer<number>({
      handleDemand: async (demand) => {
        demands.push(demand);
        if (demands.length === 1) await gate.promise;
        return Array.from({ length: demand }, () => next++);
      },
    });
    const { consumer, batches, until } = forwarder<number>([[producer, {
      maxDemand: 2,
      minDemand: 0,
    }]]);
    const second = forwarder<number>([[producer, { maxDemand: 2, minDemand: 0 }]]);
    await settle();
    assert.deepEqual(demands, [2], "the second ask waits for the first handleDemand");
    gate.resolve();
    await until(1);
    await second.until(1);
    assert.deepEqual(batches[0], [0, 1]);
    assert.deepEqual(second.batches[0], [2, 3]);
    await producer.stop();
    await consumer.closed;
    await second.consumer.closed;
  });
});

describe("demand accumulate", () => {
  it('G17: an accumulating producer sends nothing until setDemandMode("forward")', async () => {
    const { producer, demands } = counter(0, { demand: "accumulate" });
    assert.equal(producer.demandMode, "accumulate");
    const { consumer, batches, until } = forwarder<number>([[producer, {
      maxDemand: 4,
      minDemand: 0,
    }]]);
    await settle();
    assert.deepEqual(batches, []);
    assert.deepEqual(demands, []);
    producer.setDemandMode("forward");
    assert.equal(producer.demandMode, "forward");
    await until(1);
    assert.deepEqual(batches[0], [0, 1, 2, 3]);
    await producer.stop();
    await consumer.closed;
  });

  it("G18: with a BroadcastDispatcher, events emitted while accumulating reach every later consumer, batch by batch", async () => {
    const producer = new Producer<number>({ dispatcher: new BroadcastDispatcher() });
    const early = [forwarder<number>([producer]), forwarder<number>([producer])];
    await settle();
    producer.setDemandMode("accumulate");
    for (const { consumer } of early) await consumer.stop();
    for (const n of [1, 2, 3, 4]) producer.emit([n]);
    const late = [forwarder<number>([producer]), forwarder<number>([producer])];
    await settle();
    assert.deepEqual(late.map((c) => c.batches), [[], []]);
    producer.setDemandMode("forward");
    assert.equal(producer.bufferedCount, 0);
    for (const c of late) await c.until(4);
    for (const c of late) assert.deepEqual(c.batches, [[1], [2], [3], [4]]);
    assert.deepEqual(early.map((c) => c.batches), [[], []]);
    await producer.stop();
  });

  it('G19: setDemandMode("accumulate") before subscribing holds the asks until forward', async () => {
    const { producer, demands } = counter();
    producer.setDemandMode("accumulate");
    const { consumer, batches, until } = forwarder<number>([[producer, {
      maxDemand: 4,
      minDemand: 0,
    }]]);
    await settle();
    assert.deepEqual(batches, []);
    assert.deepEqual(demands, []);
    producer.setDemandMode("forward");
    await until(1);
    assert.deepEqual(batches[0], [0, 1, 2, 3]);
    await producer.stop();
    await consumer.closed;
  });

  it("G20: switching to forward before any subscription gives the normal flow", async () => {
    const { producer } = counter(0, { demand: "accumulate" });
    producer.setDemandMode("forward");
    const { consumer, batches, until } = forwarder<number>([[producer, {
      maxDemand: 4,
      minDemand: 0,
    }]]);
    await until(1);
    assert.deepEqual(batches[0], [0, 1, 2, 3]);
    await producer.stop();
    await consumer.closed;
  });

  it("G21: accumulate again while accumulating keeps the stored demand", async () => {
    const { producer } = counter(0, { demand: "accumulate" });
    const { consumer, batches, until } = forwarder<number>([[producer, {
      maxDemand: 4,
      minDemand: 0,
    }]]);
    await settle();
    producer.setDemandMode("accumulate");
    producer.setDemandMode("forward");
    await until(1);
    assert.deepEqual(batches[0], [0, 1, 2, 3]);
    await producer.stop();
    await consumer.closed;
  });

  it("G22: forward replays each stored ask as its own handleDemand call, in order", async () => {
    const demands: number[] = [];
    const producer = new Producer<number>({
      demand: "accumulate",
      handleDemand: (demand) => {
        demands.push(demand);
        return [demand];
      },
    });
    const c1 = forwarder<number>([[producer, { maxDemand: 2 }]]);
    const c2 = forwarder<number>([[producer, { maxDemand: 2 }]]);
    await settle();
    assert.deepEqual(demands, []);
    producer.setDemandMode("forward");
    await c1.until(2);
    await c2.until(1);
    assert.deepEqual(demands.slice(0, 2), [2, 2]);
    assert.deepEqual(c1.batches.slice(0, 2), [[2], [1]]);
    assert.deepEqual(c2.batches[0], [2]);
    await producer.stop();
    await c1.consumer.closed;
    await c2.consumer.closed;
  });

  it("replays emitted events and asks in the order they came", async () => {
    const { producer, demands } = counter(100, { demand: "accumulate" });
    producer.emit([1, 2]);
    const { consumer, batches, until } = forwarder<number>([[producer, {
      maxDemand: 4,
      minDemand: 0,
    }]]);
    await settle();
    producer.emit([3]);
    assert.equal(producer.bufferedCount, 0, "emitted events are stored, not buffered");
    producer.setDemandMode("forward");
    await until(3);
    // Replayed in order: [1, 2] takes half the ask of 4, handleDemand(4) fills
    // the rest and buffers two, then [3] is buffered behind them.
    assert.deepEqual(batches.slice(0, 3), [[1, 2], [100, 101], [102, 103, 3]]);
    assert.deepEqual(demands.slice(0, 2), [4, 1]);
    await producer.stop();
    await consumer.closed;
  });
});
