import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type CancelMode,
  Consumer,
  Producer,
  ProducerConsumer,
  type Subscription,
} from "../mod.ts";
import { deferred, range, settle } from "./_helpers.ts";
import { counter, forwarder } from "./_stages.ts";

const doubled = (from: number, to: number): number[] => range(from, to).flatMap((e) => [e, e]);

/** Counter → Doubler (upstream 100/min) → Forwarder (100/50), subscribed early or late. */
async function doublerPipeline(
  min: number,
  late: boolean,
  pcBatches: number,
  consumerEvents: number,
) {
  const { producer } = counter();
  const pcSeen: number[][] = [];
  const doubler = new ProducerConsumer<number, number>({
    subscribeTo: late ? [] : [[producer, { maxDemand: 100, minDemand: min }]],
    handleEvents: (events) => {
      pcSeen.push(events);
      return events.flatMap((e) => [e, e]);
    },
  });
  const batches: number[][] = [];
  const enough = deferred();
  const consumer = new Consumer<number>({
    subscribeTo: [[doubler, { maxDemand: 100, minDemand: 50 }]],
    handleEvents: (events) => {
      batches.push(events);
      if (pcSeen.length >= pcBatches && batches.flat().length >= consumerEvents) enough.resolve();
    },
  });
  if (late) doubler.subscribeTo(producer, { maxDemand: 100, minDemand: min });
  await enough.promise;
  await producer.stop();
  await consumer.closed;
  await doubler.closed;
  return { pcSeen, batches };
}

describe("ProducerConsumer demand", () => {
  for (const late of [false, true]) {
    it(`${late ? "G10" : "G8"}: upstream 100/80 gives the doubler chunks of 20 and the consumer their doubles in order${late ? ", subscribed consumer first" : ""}`, async () => {
      const { pcSeen, batches } = await doublerPipeline(80, late, 7, 280);
      assert.deepEqual(pcSeen.slice(0, 7), range(0, 7).map((i) => range(20 * i, 20 * i + 20)));
      assert.deepEqual(batches[0], doubled(0, 20));
      // Batch boundaries downstream depend on interleaving; the content does not.
      assert.deepEqual(batches.flat().slice(0, 280), doubled(0, 140));
      assert.ok(batches.every((b) => b.length > 0 && b.length <= 50));
    });

    it(`${late ? "G11" : "G9"}: upstream 100/20 gives the doubler chunks of 80 and 20, the consumer doubles 50 at a time${late ? ", subscribed consumer first" : ""}`, async () => {
      const { pcSeen, batches } = await doublerPipeline(20, late, 3, 150);
      assert.deepEqual(pcSeen.slice(0, 3), [range(0, 80), range(80, 100), range(100, 180)]);
      assert.deepEqual(batches.slice(0, 3), [doubled(0, 25), doubled(25, 50), doubled(50, 75)]);
      assert.deepEqual(batches.flat().slice(0, 300), doubled(0, 150));
    });
  }

  it("G12: a producer-consumer stops pulling once its consumer stops asking", async () => {
    const { producer, demands } = counter();
    const postponed: number[][] = [];
    const postponer: ProducerConsumer<number, number> = new ProducerConsumer<number, number>({
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 8 }]],
      handleEvents: (events) => {
        postponed.push(events);
        postponer.info(events);
      },
      handleInfo: (events) => events as number[],
    });
    const slept: number[][] = [];
    const asleep = deferred();
    const sleeper = new Consumer<number>({
      subscribeTo: [[postponer, { maxDemand: 10, minDemand: 5 }]],
      handleEvents: (events) => {
        slept.push(events);
        asleep.resolve();
        return new Promise<void>(() => {});
      },
    });
    await asleep.promise;
    for (let i = 0; i < 5; i++) await settle();
    assert.deepEqual(postponed, [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]);
    assert.deepEqual(slept, [[0, 1]]);
    // The re-asks after each chunk fetched [10..19], which stays queued, unhandled.
    assert.deepEqual(demands, [10, 2, 2, 2, 2, 2]);
    assert.equal(postponer.bufferedCount, 0);
    await producer.stop();
    await sleeper.stop();
  });

  it("G13: a producer-consumer that emits nothing never uses downstream demand and keeps pulling", async () => {
    const { producer } = counter();
    const seen: number[][] = [];
    const far = deferred();
    const discarder = new ProducerConsumer<number, number>({
      subscribeTo: [[producer, { maxDemand: 100, minDemand: 80 }]],
      handleEvents: (events) => {
        seen.push(events);
        if (events[0] === 1000) far.resolve();
      },
    });
    const { consumer, batches } = forwarder<number>([[discarder, {
      maxDemand: 100,
      minDemand: 50,
    }]]);
    await far.promise;
    assert.deepEqual(seen[0], range(0, 20));
    assert.deepEqual(seen[5], range(100, 120));
    assert.deepEqual(seen[50], range(1000, 1020));
    assert.deepEqual(batches, []);
    await producer.stop();
    await consumer.closed;
  });

  it("G16: with no consumer, queued events wait, and an upstream cancel waits behind them", async () => {
    const { producer } = counter();
    const log: string[] = [];
    const doubler = new ProducerConsumer<number, number>({
      handleEvents: (events) => {
        log.push(`events ${events[0]}..${events[events.length - 1]}`);
        return events.flatMap((e) => [e, e]);
      },
      handleCancel: (subscription, reason) => {
        if (subscription.producer === producer) log.push(`cancel ${String(reason)}`);
      },
    });
    const subscription = doubler.subscribeTo(producer, {
      cancel: "temporary",
      maxDemand: 100,
      minDemand: 50,
    });
    await settle();
    subscription.cancel("done");
    await settle();
    assert.deepEqual(log, []);
    const cancelled = deferred();
    const received: number[] = [];
    const consumer = new Consumer<number>({
      subscribeTo: [[doubler, { maxDemand: 100, minDemand: 50 }]],
      handleEvents: (events) => {
        received.push(...events);
        if (received.length === 200) cancelled.resolve();
      },
    });
    await cancelled.promise;
    await settle();
    assert.deepEqual(log, ["events 0..49", "events 50..99", "cancel done"]);
    assert.deepEqual(received, doubled(0, 100));
    await doubler.stop();
    await consumer.closed;
    await producer.stop();
  });

  it("defaults bufferSize to Infinity, bounded in practice by the gating", async () => {
    const producer = new Producer<number>({ bufferSize: Infinity });
    const tenfold = new ProducerConsumer<number, number>({
      subscribeTo: [[producer, { maxDemand: 4, minDemand: 0 }]],
      handleEvents: (events) => events.flatMap((e) => range(0, 10).map((i) => e * 10 + i)),
    });
    const m = deferred<Subscription<number>>();
    const consumer = new Consumer<number>({
      subscribeTo: [tenfold],
      handleSubscribe: (s) => {
        m.resolve(s);
        return "manual";
      },
      handleEvents: () => {},
    });
    producer.emit(range(0, 100));
    (await m.promise).ask(1);
    for (let i = 0; i < 5; i++) await settle();
    // One upstream batch of 4 was handled: 1 event sent, 39 kept; nothing more is pulled.
    assert.equal(tenfold.bufferedCount, 39);
    assert.equal(producer.bufferedCount, 92);
    await consumer.stop();
    await tenfold.stop();
    await producer.stop();
  });
  it("does not keep pulling into its buffer for the unmet demand of a consumer that left", async () => {
    const { producer, demands } = counter();
    const pc = new ProducerConsumer<number, number>({
      subscribeTo: [[producer, { maxDemand: 10 }]],
      handleEvents: (events) => events,
    });
    let handled = 0;
    const leaving: Consumer<number> = new Consumer<number>({
      subscribeTo: [[pc, { maxDemand: 100, minDemand: 50 }]],
      handleEvents: (events) => {
        handled += events.length;
        if (handled >= 20) leaving.stop();
      },
    });
    await leaving.closed;
    for (let i = 0; i < 10; i++) await settle();
    const asked = demands.reduce((a, b) => a + b, 0);
    // The 80 events it still owed the consumer wait in its buffer; then it stops asking.
    assert.ok(pc.bufferedCount <= 80, `buffered ${pc.bufferedCount}`);
    for (let i = 0; i < 10; i++) await settle();
    assert.equal(demands.reduce((a, b) => a + b, 0), asked);
    // The next consumer gets the buffered events first, without a second ask upstream for them.
    const next = forwarder<number>([[pc, { maxDemand: 100, minDemand: 50 }]]);
    await next.until(1);
    // Events already sent to the consumer that left (at most one chunk of 5) went with it.
    const first = next.batches[0][0];
    assert.ok(first >= handled && first <= handled + 5, `first event ${first}, handled ${handled}`);
    await producer.stop();
    await next.consumer.closed;
  });
});

describe("ProducerConsumer info", () => {
  it("G32: info with nothing queued reaches handleInfo at once", async () => {
    const infos: unknown[] = [];
    const pc = new ProducerConsumer<number, number>({
      handleEvents: (e) => e,
      handleInfo: (m) => void infos.push(m),
    });
    pc.info("now");
    await settle();
    assert.deepEqual(infos, ["now"]);
    await pc.stop();
  });

  it("G33: info waits behind queued upstream events until a consumer gives demand", async () => {
    const producer = new Producer<number>();
    producer.emit(range(0, 10));
    const log: string[] = [];
    const pc = new ProducerConsumer<number, number>({
      subscribeTo: [producer],
      handleEvents: (events) => {
        log.push(`events ${events.length}`);
        return events;
      },
      handleInfo: (m) => void log.push(String(m)),
    });
    await settle();
    pc.info("sync");
    pc.info("async");
    await settle();
    assert.deepEqual(log, []);
    const { consumer, until } = forwarder<number>([pc]);
    await until(1);
    await settle();
    assert.deepEqual(log, ["events 10", "sync", "async"]);
    await producer.stop();
    await consumer.closed;
  });
});

describe("ProducerConsumer subscriptions and cancels", () => {
  it("G80/G84: handleSubscribe runs for the downstream and the upstream subscriptions", async () => {
    const producer = new Producer<number>();
    const seen: Array<"up" | "down"> = [];
    const pc: ProducerConsumer<number, number> = new ProducerConsumer<number, number>({
      handleEvents: (e) => e,
      handleSubscribe: (s) => void seen.push(s.producer === pc ? "down" : "up"),
    });
    pc.subscribeTo(producer);
    const consumer = new Consumer<number>({ subscribeTo: [pc], handleEvents: () => {} });
    await settle();
    assert.deepEqual(seen.sort(), ["down", "up"]);
    await producer.stop();
    await consumer.closed;
  });

  it("G82/G83: a downstream cancel or stop runs handleCancel and the producer-consumer goes on", async () => {
    const cancels: unknown[] = [];
    const pc = new ProducerConsumer<number, number>({
      handleEvents: (e) => e,
      handleCancel: (_s, reason) => void cancels.push(reason),
    });
    const a = new Consumer<number>({ handleEvents: () => {} });
    a.subscribeTo(pc, { cancel: "temporary" }).cancel("oops");
    const b = new Consumer<number>({ subscribeTo: [pc], handleEvents: () => {} });
    await settle();
    const killed = new Error("killed");
    await b.stop(killed);
    await settle();
    assert.deepEqual(cancels, ["oops", killed]);
    const { consumer, until } = forwarder<number>([pc]);
    await settle();
    pc.emit([1]);
    await until(1);
    await pc.stop();
    await consumer.closed;
    await a.stop();
  });

  it("G85: an invalid upstream handleSubscribe answer stops the producer-consumer with a TypeError", async () => {
    const producer = new Producer<number>();
    const pc = new ProducerConsumer<number, number>({
      subscribeTo: [producer],
      handleEvents: (e) => e,
      handleSubscribe: () => "sometimes" as never,
    });
    await assert.rejects(pc.closed, { name: "TypeError" });
    await producer.stop();
  });

  it('G81: a handleSubscribe answering "manual" for a downstream subscription stops the producer-consumer', async () => {
    const producer = new Producer<number>();
    const pc = new ProducerConsumer<number, number>({
      subscribeTo: [[producer, { cancel: "temporary" }]],
      handleEvents: (e) => e,
      // Right for the upstream subscription, wrong for the downstream one.
      handleSubscribe: () => "manual",
    });
    await settle();
    assert.equal(producer.bufferedCount, 0);
    const consumer = new Consumer<number>({ subscribeTo: [pc], handleEvents: () => {} });
    await assert.rejects(pc.closed, {
      name: "TypeError",
      message:
        'Cannot subscribe as handleSubscribe\'s result for a downstream subscription must be "automatic" or nothing: current value is "manual"',
    });
    await assert.rejects(consumer.closed, { name: "TypeError" });
    producer.emit([1]);
    assert.equal(producer.bufferedCount, 1, "the upstream producer goes on");
    await producer.stop();
  });

  /** A producer-consumer subscribed upstream with `cancel`, recording handleCancel. */
  function upstream(cancel: CancelMode) {
    const producer = new Producer<number>();
    const cancels: unknown[] = [];
    const cancelled = deferred();
    const pc = new ProducerConsumer<number, number>({
      handleEvents: (e) => e,
      handleCancel: (s, reason) => {
        if (s.producer === producer) {
          cancels.push(reason);
          cancelled.resolve();
        }
      },
    });
    const subscription = pc.subscribeTo(producer, { cancel });
    return { producer, pc, subscription, cancels, cancelled: cancelled.promise };
  }

  it('G86: a temporary upstream cancelled with "oops" runs handleCancel and the stage goes on', async () => {
    const { producer, pc, subscription, cancels, cancelled } = upstream("temporary");
    subscription.cancel("oops");
    await cancelled;
    await settle();
    assert.deepEqual(cancels, ["oops"]);
    pc.emit([1]);
    assert.equal(pc.bufferedCount, 1, "still running");
    await pc.stop();
    await pc.closed;
    await producer.stop();
  });

  it("G87: a permanent upstream cancelled with a reason stops the stage with it", async () => {
    const { producer, pc, subscription, cancels } = upstream("permanent");
    subscription.cancel("oops");
    await assert.rejects(pc.closed, (e) => e === "oops");
    assert.deepEqual(cancels, ["oops"]);
    await producer.stop();
  });

  it("G88: a temporary upstream that fails leaves the stage running", async () => {
    const { producer, pc, cancels, cancelled } = upstream("temporary");
    const killed = new Error("killed");
    await producer.stop(killed);
    await cancelled;
    await settle();
    assert.deepEqual(cancels, [killed]);
    pc.emit([1]);
    assert.equal(pc.bufferedCount, 1, "still running");
    await pc.stop();
  });

  it("G89: a transient upstream that shuts down leaves the stage running", async () => {
    const { producer, pc, cancels, cancelled } = upstream("transient");
    await producer.stop("shutdown");
    await cancelled;
    await settle();
    assert.deepEqual(cancels, ["shutdown"]);
    pc.emit([1]);
    assert.equal(pc.bufferedCount, 1, "still running");
    await pc.stop();
  });

  for (const cancel of ["transient", "permanent"] as const) {
    it(`${cancel === "transient" ? "G90" : "G91"}: a ${cancel} upstream that fails stops the stage with its reason`, async () => {
      const { producer, pc, cancels } = upstream(cancel);
      const killed = new Error("killed");
      await producer.stop(killed);
      await assert.rejects(pc.closed, (e) => e === killed);
      assert.deepEqual(cancels, [killed]);
    });
  }
});
