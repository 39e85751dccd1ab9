import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  Consumer,
  DemandDispatcher,
  type Dispatcher,
  type DispatcherHost,
  Producer,
  type Subscription,
  toReadableStream,
} from "../mod.ts";
import { deferred, range, readAll, settle } from "./_helpers.ts";
import { counter, forwarder } from "./_stages.ts";

/** Reads `count` single events from `reader`. */
async function take<T>(reader: ReadableStreamDefaultReader<T>, count: number): Promise<T[]> {
  const out: T[] = [];
  while (out.length < count) {
    const { done, value } = await reader.read();
    if (done) break;
    out.push(value);
  }
  return out;
}

/** A manual consumer of `producer`; `ask(n)` waits for the next batch. */
function manual<T>(producer: Producer<T>) {
  const batches: T[][] = [];
  let wake: (() => void) | undefined;
  let subscription: Subscription<T> | undefined;
  const ready = deferred();
  const consumer = new Consumer<T>({
    subscribeTo: [[producer, { cancel: "temporary" }]],
    handleSubscribe: (s) => {
      subscription = s;
      ready.resolve();
      return "manual";
    },
    handleEvents: (events) => {
      batches.push(events);
      wake?.();
    },
  });
  return {
    consumer,
    batches,
    async ask(count: number): Promise<T[]> {
      await ready.promise;
      const before = batches.length;
      subscription!.ask(count);
      while (batches.length === before) await new Promise<void>((r) => (wake = r));
      return batches[batches.length - 1];
    },
  };
}

/** A dispatcher that refuses every subscription. */
function refusing(): Dispatcher<number> {
  const inner = new DemandDispatcher<number>();
  return {
    init: (host: DispatcherHost<number>) => inner.init(host),
    subscribe: () => {
      throw new Error("no_thanks");
    },
    cancel: (s) => inner.cancel(s),
    ask: (n, s) => inner.ask(n, s),
    dispatch: (events) => inner.dispatch(events),
    info: (m) => inner.info(m),
  };
}

describe("Producer.from", () => {
  it("pulls exactly the demanded number of items from an iterable", async () => {
    let pulled = 0;
    function* numbers() {
      for (let i = 0;; i++) {
        pulled++;
        yield i;
      }
    }
    const producer = Producer.from(numbers());
    const m = manual(producer);
    assert.deepEqual(await m.ask(3), [0, 1, 2]);
    assert.equal(pulled, 3);
    assert.deepEqual(await m.ask(2), [3, 4]);
    assert.equal(pulled, 5);
    await producer.stop();
    await m.consumer.stop();
  });

  it("pulls exactly the demanded number of items from an async iterable", async () => {
    let pulled = 0;
    async function* numbers() {
      for (let i = 0;; i++) {
        pulled++;
        yield i;
      }
    }
    const producer = Producer.from(numbers());
    const m = manual(producer);
    assert.deepEqual(await m.ask(3), [0, 1, 2]);
    assert.equal(pulled, 3);
    assert.deepEqual(await m.ask(2), [3, 4]);
    assert.equal(pulled, 5);
    await producer.stop();
    await m.consumer.stop();
  });

  it("reads a ReadableStream until the demand is met, and no further", async () => {
    let pulls = 0;
    const source = new ReadableStream<number>({
      pull(controller) {
        controller.enqueue(pulls++);
      },
    }, { highWaterMark: 0 });
    const producer = Producer.from(source);
    const m = manual(producer);
    assert.deepEqual(await m.ask(3), [0, 1, 2]);
    await settle();
    assert.equal(pulls, 3);
    assert.deepEqual(await m.ask(2), [3, 4]);
    await settle();
    assert.equal(pulls, 5);
    await producer.stop();
    await m.consumer.stop();
  });

  it('stops "normal" once its last event is dispatched, and its permanent consumer after handling everything', async () => {
    const producer = Producer.from(range(0, 10));
    const { consumer, batches } = forwarder<number>([[producer, { maxDemand: 4, minDemand: 2 }]]);
    await producer.closed;
    await consumer.closed;
    assert.deepEqual(batches.flat(), range(0, 10));
    assert.ok(batches.every((b) => b.length <= 2));
  });

  it("reads an async iterable and a ReadableStream to their end", async () => {
    async function* letters() {
      yield "a";
      yield "b";
    }
    const stream = new ReadableStream<string>({
      start(c) {
        c.enqueue("c");
        c.close();
      },
    });
    const reader = toReadableStream([Producer.from(letters()), Producer.from(stream)]).getReader();
    assert.deepEqual((await take(reader, 10)).sort(), ["a", "b", "c"]);
  });

  it("releases its source when stopped before the end", async () => {
    let returned = false;
    function* numbers() {
      try {
        for (let i = 0;; i++) yield i;
      } finally {
        returned = true;
      }
    }
    const iterating = Producer.from(numbers());
    const m = manual(iterating);
    await m.ask(1);
    await iterating.stop();
    assert.equal(returned, true);
    await m.consumer.stop();

    const cancelled = deferred<unknown>();
    const stream = new ReadableStream<number>({
      pull: (c) => c.enqueue(1),
      cancel: (reason) => cancelled.resolve(reason),
    });
    const reading = Producer.from(stream);
    await reading.stop("shutdown");
    assert.equal(await cancelled.promise, "shutdown");
  });

  it("errors with the source's error when the source fails", async () => {
    const boom = new Error("boom");
    const stream = new ReadableStream<number>({ pull: (c) => c.error(boom) });
    const producer = Producer.from(stream);
    const consumer = new Consumer<number>({
      subscribeTo: [[producer, { cancel: "temporary" }]],
      handleEvents: () => {},
    });
    await assert.rejects(producer.closed, (e) => e === boom);
    await consumer.stop();
  });

  it('G110: with onCancel "continue" (the default) it outlives its readers; with "stop" it stops normally', async () => {
    function* cycle() {
      for (;;) yield* [1, 2, 3];
    }
    for (const onCancel of [undefined, "continue", "stop"] as const) {
      const producer = Producer.from(cycle(), onCancel === undefined ? undefined : { onCancel });
      const reader = toReadableStream([[producer, { cancel: "transient" }]]).getReader();
      assert.deepEqual(await take(reader, 5), [1, 2, 3, 1, 2]);
      await reader.cancel();
      if (onCancel === "stop") await producer.closed;
      else {
        await settle();
        const again = toReadableStream([producer]).getReader();
        assert.equal((await take(again, 1)).length, 1, String(onCancel));
        await again.cancel();
        await producer.stop();
      }
    }
  });
});

describe("toReadableStream", () => {
  it('G98: taking 10 events then cancelling leaves the producer running, cancelled with "normal"', async () => {
    const cancels: unknown[] = [];
    const { producer, demands } = counter(0, {
      handleCancel: (_s, reason) => void cancels.push(reason),
    });
    const reader = toReadableStream([producer]).getReader();
    assert.deepEqual(await take(reader, 10), range(0, 10));
    await reader.cancel();
    await settle();
    assert.deepEqual(cancels, ["normal"]);
    assert.equal(demands[0], 1000);
    const again = toReadableStream([producer]).getReader();
    assert.equal((await take(again, 1)).length, 1);
    await again.cancel();
    await producer.stop();
  });

  it("G99: with maxDemand 100 it reads 300 events in order", async () => {
    const { producer } = counter();
    const reader = toReadableStream([[producer, { maxDemand: 100 }]]).getReader();
    assert.deepEqual(await take(reader, 300), range(0, 300));
    await reader.cancel();
    await producer.stop();
  });

  it("subscribes only on the first read, then asks maxDemand and re-asks as the reader pulls", async () => {
    const subscribed: unknown[] = [];
    const { producer, demands } = counter(0, { handleSubscribe: (s) => void subscribed.push(s) });
    const stream = toReadableStream([[producer, { maxDemand: 10, minDemand: 5 }]]);
    await settle();
    assert.deepEqual(subscribed, []);
    assert.deepEqual(demands, []);
    const reader = stream.getReader();
    assert.deepEqual(await take(reader, 1), [0]);
    assert.equal(subscribed.length, 1);
    assert.deepEqual(demands, [10]);
    // Chunks of 5: the reader pulling past each one re-asks 5.
    assert.deepEqual(await take(reader, 4), range(1, 5));
    assert.deepEqual(demands, [10]);
    assert.deepEqual(await take(reader, 1), [5]);
    assert.deepEqual(demands, [10, 5]);
    assert.deepEqual(await take(reader, 15), range(6, 21));
    assert.deepEqual(demands, [10, 5, 5, 5, 5]);
    await reader.cancel();
    await producer.stop();
  });

  it("holds no more than maxDemand events per subscription while the reader waits", async () => {
    const { producer, demands } = counter();
    const reader = toReadableStream([[producer, { maxDemand: 10, minDemand: 5 }]]).getReader();
    await take(reader, 1);
    for (let i = 0; i < 5; i++) await settle();
    assert.deepEqual(demands, [10], "one event read: nothing more asked");
    await reader.cancel();
    await producer.stop();
  });

  it("G106: closes after every event of a finite source, for transient and permanent subscriptions", async () => {
    for (const cancel of ["transient", "permanent"] as const) {
      const producer = Producer.from(range(0, 10));
      const events = await readAll(toReadableStream([[producer, { cancel }]]));
      assert.deepEqual(events, range(0, 10));
      await producer.closed;
    }
  });

  it("G105: an endless source read through a transient subscription stays alive after take", async () => {
    function* naturals() {
      for (let i = 0;; i++) yield i;
    }
    const producer = Producer.from(naturals());
    const reader = toReadableStream([[producer, { cancel: "transient" }]]).getReader();
    assert.deepEqual(await take(reader, 10), range(0, 10));
    await reader.cancel();
    await settle();
    producer.emit([-1]);
    assert.equal(producer.bufferedCount >= 1, true, "still running");
    await producer.stop();
  });

  it("merges several sources and closes when all have ended", async () => {
    const a = Producer.from(["a1", "a2"]);
    const b = Producer.from(["b1"]);
    const events = await readAll(toReadableStream([a, b]));
    assert.deepEqual(events.sort(), ["a1", "a2", "b1"]);
  });

  it("errors when a permanent or transient subscription ends abnormally", async () => {
    for (const cancel of ["permanent", "transient"] as const) {
      const producer = new Producer<number>();
      const reader = toReadableStream([[producer, { cancel }]]).getReader();
      const read = reader.read();
      await settle();
      const boom = new Error("boom");
      await producer.stop(boom);
      await assert.rejects(read, (e) => e === boom);
    }
  });

  it("delivers the events sent before an abnormal end, then errors", async () => {
    const producer = new Producer<number>();
    producer.emit([1, 2]);
    const reader = toReadableStream([producer]).getReader();
    assert.deepEqual(await take(reader, 1), [1]);
    const boom = new Error("boom");
    await producer.stop(boom);
    assert.deepEqual(await take(reader, 1), [2]);
    await assert.rejects(reader.read(), (e) => e === boom);
  });

  it("ends a temporary subscription quietly when its producer fails", async () => {
    const producer = new Producer<number>();
    const reading = readAll(toReadableStream([[producer, { cancel: "temporary" }]]));
    await settle();
    await producer.stop(new Error("boom"));
    assert.deepEqual(await reading, []);
  });

  it("G103/G104: a refused subscription errors a permanent stream and ends a temporary one", async () => {
    const producer = new Producer<number>({ dispatcher: refusing() });
    await assert.rejects(readAll(toReadableStream([producer])), { message: "no_thanks" });
    assert.deepEqual(await readAll(toReadableStream([[producer, { cancel: "temporary" }]])), []);
    await producer.stop();
  });

  it("G102: a stopped producer is refused when the stream is created", async () => {
    const producer = new Producer<number>();
    await producer.stop();
    assert.throws(() => toReadableStream([producer]), {
      name: "TypeError",
      message: "Cannot create a ReadableStream with subscriptions[0] as the Producer has stopped",
    });
  });

  it('cancelling the stream cancels every subscription with "normal"', async () => {
    const cancels: unknown[] = [];
    const a = new Producer<number>({ handleCancel: (_s, r) => void cancels.push(r) });
    const b = new Producer<number>({ handleCancel: (_s, r) => void cancels.push(r) });
    a.emit([1]);
    const reader = toReadableStream([a, b]).getReader();
    await take(reader, 1);
    await reader.cancel("bored");
    await settle();
    assert.deepEqual(cancels, ["normal", "normal"]);
    await a.stop();
    await b.stop();
  });

  it("option demand sets the subscribed producers' demand mode once subscribed", async () => {
    const { producer, demands } = counter(0, { demand: "accumulate" });
    const reader = toReadableStream([[producer, { maxDemand: 3 }]], { demand: "forward" })
      .getReader();
    assert.deepEqual(await take(reader, 3), [0, 1, 2]);
    assert.equal(producer.demandMode, "forward");
    assert.equal(demands[0], 3);
    await reader.cancel();
    await producer.stop();
  });

  it("option producers names the producers to set instead", async () => {
    const { producer } = counter(0, { demand: "accumulate" });
    const other = new Producer<number>({ demand: "accumulate" });
    const reader = toReadableStream([producer], { demand: "forward", producers: [other] })
      .getReader();
    const read = reader.read();
    await settle();
    assert.equal(other.demandMode, "forward");
    assert.equal(producer.demandMode, "accumulate");
    producer.setDemandMode("forward");
    assert.equal((await read).value, 0);
    await reader.cancel();
    await producer.stop();
    await other.stop();
  });

  it("an empty list gives a stream that closes at once", async () => {
    assert.deepEqual(await readAll(toReadableStream([])), []);
  });
});

describe("producer.subscribe", () => {
  it("asks maxDemand at once and again, by the rule, as its reader reads", async () => {
    const { producer, demands } = counter();
    const reader = producer.subscribe({ maxDemand: 5, minDemand: 2 }).getReader();
    await settle();
    assert.deepEqual(demands, [5]);
    assert.deepEqual((await reader.read()).value, [0, 1, 2, 3, 4]);
    assert.deepEqual((await reader.read()).value, [5, 6, 7, 8, 9]);
    await settle();
    // Each ask tops the subscription up to maxDemand as the reader makes
    // room: 10 read, at most 5 more asked. (The stream pulls once the reader
    // has taken a batch; workerd pulls only when a read waits on an empty
    // queue, so it may not have asked the third time yet.)
    assert.ok(demands.every((d) => d === 5), `demands: ${demands}`);
    assert.ok(demands.length === 2 || demands.length === 3, `demands: ${demands}`);
    await reader.cancel();
    await producer.stop();
  });

  it("never holds more than maxDemand events unread", async () => {
    const producer = new Producer<number>({ bufferSize: Infinity });
    producer.emit(range(0, 100));
    const reader = producer.subscribe({ maxDemand: 10 }).getReader();
    await settle();
    assert.equal(producer.bufferedCount, 90);
    assert.deepEqual((await reader.read()).value, range(0, 10));
    assert.deepEqual((await reader.read()).value, range(10, 20));
    await settle();
    // 20 read, at most 10 more taken from the producer (workerd pulls only
    // when a read waits, so it may have taken none yet).
    const unread = 100 - 20 - producer.bufferedCount;
    assert.ok(unread >= 0 && unread <= 10, `unread: ${unread}`);
    await reader.cancel();
    await producer.stop();
  });

  it('cancelling the stream cancels the subscription with the reason, or "normal"', async () => {
    const cancels: unknown[] = [];
    const producer = new Producer<number>({ handleCancel: (_s, r) => void cancels.push(r) });
    await producer.subscribe().cancel();
    await producer.subscribe().cancel("bored");
    await settle();
    assert.deepEqual(cancels, ["normal", "bored"]);
    await producer.stop();
  });

  it("closes after the sent batches when the producer stops normally, errors when it fails", async () => {
    const producer = new Producer<number>();
    const stream = producer.subscribe();
    await settle();
    producer.emit([1, 2]);
    await producer.stop();
    assert.deepEqual(await readAll(stream), [[1, 2]]);

    const failing = new Producer<number>();
    const reader = failing.subscribe().getReader();
    await settle();
    failing.emit([3]);
    const boom = new Error("boom");
    await failing.stop(boom);
    assert.deepEqual((await reader.read()).value, [3]);
    await assert.rejects(reader.read(), (e) => e === boom);
  });

  it("a temporary raw subscription closes quietly when the producer fails", async () => {
    const producer = new Producer<number>();
    const stream = producer.subscribe({ cancel: "temporary" });
    await settle();
    await producer.stop(new Error("boom"));
    assert.deepEqual(await readAll(stream), []);
  });
});
