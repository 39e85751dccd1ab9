import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Consumer, Producer, type Subscription } from "../mod.ts";
import { deferred, range, settle } from "./_helpers.ts";
import { captureWarnings, counter, forwarder } from "./_stages.ts";

const letters = (s: string): string[] => s.split("");

/** A consumer in manual mode, with its subscription and a way to wait for batches. */
function manual<T>(producer: Producer<T>) {
  const batches: T[][] = [];
  let wake: (() => void) | undefined;
  let subscription: Subscription<T> | undefined;
  const ready = deferred();
  const consumer = new Consumer<T>({
    subscribeTo: [[producer, { maxDemand: 10, minDemand: 0 }]],
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
    ready: ready.promise,
    /** Asks `count` and waits until `batchCount` batches have arrived in all. */
    async ask(count: number, batchCount: number): Promise<void> {
      subscription!.ask(count);
      while (batches.length < batchCount) await new Promise<void>((r) => (wake = r));
    },
  };
}

describe("Producer buffer", () => {
  it('G24/BF2: bufferKeep "first" drops the newest events over bufferSize and warns with the count', async () => {
    const producer = new Producer<string>({ bufferSize: 5, bufferKeep: "first" });
    const warnings = await captureWarnings(() => {
      producer.emit(letters("abcde"));
      producer.emit(letters("fgh"));
    });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /^Producer#\d+ has discarded 3 events from its buffer$/);
    const { consumer, batches, until } = forwarder<string>([[producer, {
      maxDemand: 4,
      minDemand: 0,
    }]]);
    await until(2);
    assert.deepEqual(batches, [letters("abcd"), ["e"]]);
    await producer.stop();
    await consumer.closed;
  });

  it('G25/BF4: bufferKeep "last" (the default) drops the oldest events', async () => {
    const producer = new Producer<string>({ bufferSize: 5 });
    const warnings = await captureWarnings(() => {
      producer.emit(letters("abcde"));
      producer.emit(letters("fgh"));
    });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /^Producer#\d+ has discarded 3 events from its buffer$/);
    const { consumer, batches, until } = forwarder<string>([[producer, {
      maxDemand: 4,
      minDemand: 0,
    }]]);
    await until(2);
    assert.deepEqual(batches, [letters("defg"), ["h"]]);
    await producer.stop();
    await consumer.closed;
  });

  it("G26/BF3: bufferSize Infinity keeps every event", async () => {
    const producer = new Producer<string>({ bufferSize: Infinity });
    const warnings = await captureWarnings(() => {
      producer.emit(letters("abcde"));
      producer.emit(letters("fgh"));
    });
    assert.deepEqual(warnings, []);
    const { consumer, batches, until } = forwarder<string>([[producer, {
      maxDemand: 4,
      minDemand: 0,
    }]]);
    await until(2);
    assert.deepEqual(batches, [letters("abcd"), letters("efgh")]);
    await producer.stop();
    await consumer.closed;
  });

  it("G27/G29: onDiscard returning false gets the count and silences the default warning", async () => {
    const counts: number[] = [];
    const producer = new Producer<string>({
      bufferSize: 5,
      bufferKeep: "first",
      onDiscard: (count) => {
        counts.push(count);
        return false;
      },
    });
    const warnings = await captureWarnings(() => producer.emit(letters("abcdefgh")));
    assert.deepEqual(warnings, []);
    assert.deepEqual(counts, [3]);
    const { consumer, batches, until } = forwarder<string>([[producer, {
      maxDemand: 4,
      minDemand: 0,
    }]]);
    await until(2);
    assert.deepEqual(batches, [letters("abcd"), ["e"]]);
    assert.deepEqual(counts, [3]);
    await producer.stop();
    await consumer.closed;
  });

  it("G28: onDiscard returning true or nothing keeps the default warning", async () => {
    for (const answer of [true, undefined]) {
      const counts: number[] = [];
      const producer = new Producer<string>({
        bufferSize: 5,
        bufferKeep: "first",
        onDiscard: (count) => {
          counts.push(count);
          return answer;
        },
      });
      const warnings = await captureWarnings(() => producer.emit(letters("abcdefgh")));
      assert.equal(warnings.length, 1);
      assert.match(warnings[0], /^Producer#\d+ has discarded 3 events from its buffer$/);
      assert.deepEqual(counts, [3]);
      const { consumer, batches, until } = forwarder<string>([[producer, {
        maxDemand: 5,
        minDemand: 0,
      }]]);
      await until(1);
      assert.deepEqual(batches, [letters("abcde")]);
      await producer.stop();
      await consumer.closed;
    }
  });

  it("keeps 10 000 events by default and warns about the rest", async () => {
    const producer = new Producer<number>();
    const warnings = await captureWarnings(() => producer.emit(range(1, 10_006)));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /^Producer#\d+ has discarded 5 events from its buffer$/);
    assert.equal(producer.bufferedCount, 10_000);
    const { consumer, batches, until } = forwarder<number>([[producer, {
      maxDemand: 3,
      minDemand: 0,
    }]]);
    await until(1);
    assert.deepEqual(batches[0], [6, 7, 8]);
    await producer.stop();
    await consumer.closed;
  });

  it("G30/BF1: bufferedCount counts buffered events, and drops to 0 once they are consumed", async () => {
    const producer = new Producer<string>({ bufferSize: Infinity });
    assert.equal(producer.bufferedCount, 0);
    producer.emit(letters("abcde"));
    assert.equal(producer.bufferedCount, 5);
    producer.emit(letters("fgh"));
    producer.info("marker");
    assert.equal(producer.bufferedCount, 8, "info markers are not counted");
    const { consumer, batches, until } = forwarder<string>([[producer, {
      maxDemand: 4,
      minDemand: 0,
    }]]);
    await until(2);
    assert.deepEqual(batches, [letters("abcd"), letters("efgh")]);
    assert.equal(producer.bufferedCount, 0);
    await producer.stop();
    await consumer.closed;
  });

  it("emit dispatches at once to a consumer with demand, buffering only what it cannot take", async () => {
    const producer = new Producer<number>({ bufferSize: Infinity });
    const { consumer, batches, until } = forwarder<number>([[producer, {
      maxDemand: 4,
      minDemand: 0,
    }]]);
    await settle();
    producer.emit([1, 2, 3, 4, 5, 6]);
    assert.equal(producer.bufferedCount, 2);
    await until(2);
    assert.deepEqual(batches, [[1, 2, 3, 4], [5, 6]]);
    await producer.stop();
    await consumer.closed;
  });

  it("emit takes any iterable", async () => {
    const producer = new Producer<number>({ bufferSize: Infinity });
    producer.emit(new Set([1, 2]));
    producer.emit((function* () {
      yield 3;
    })());
    assert.equal(producer.bufferedCount, 3);
    await producer.stop();
  });
});

describe("Producer info", () => {
  it("G34/BF6: info with an empty buffer reaches handleInfo at once", async () => {
    const infos: unknown[] = [];
    const producer = new Producer<number>({ handleInfo: (message) => void infos.push(message) });
    producer.info("now");
    await settle();
    assert.deepEqual(infos, ["now"]);
    await producer.stop();
  });

  it("G35: info waits for the events buffered before it to be sent", async () => {
    const infos: Array<[unknown, number]> = [];
    const producer = new Producer<string>({
      bufferSize: Infinity,
      handleInfo: (message) => void infos.push([message, producer.bufferedCount]),
    });
    producer.emit(letters("abc"));
    producer.info("sync");
    await settle();
    assert.deepEqual(infos, []);
    const { consumer, batches, until } = forwarder<string>([producer]);
    await until(1);
    assert.deepEqual(batches, [letters("abc")]);
    assert.deepEqual(infos, [["sync", 0]]);
    await producer.stop();
    await consumer.closed;
  });

  for (const held of [1, 2, 3]) {
    it(`G36: with bufferSize 3 holding ${held}, info comes only once those events have gone`, async () => {
      const infos: unknown[] = [];
      const producer = new Producer<number>({
        bufferSize: 3,
        handleInfo: (m) => void infos.push(m),
      });
      producer.emit(range(0, held));
      producer.info("sync");
      await settle();
      assert.deepEqual(infos, []);
      const m = manual(producer);
      await m.ready;
      await m.ask(held, 1);
      assert.deepEqual(m.batches, [range(0, held)]);
      assert.deepEqual(infos, ["sync"]);
      await producer.stop();
      await m.consumer.closed;
    });
  }

  it("G37: a marker splits batches and is released once the events before it are taken", async () => {
    const infos: unknown[] = [];
    const producer = new Producer<string>({ bufferSize: 3, handleInfo: (m) => void infos.push(m) });
    producer.emit(letters("abc"));
    producer.info("sync1");
    const m = manual(producer);
    await m.ready;
    await m.ask(2, 1);
    assert.deepEqual(m.batches, [["a", "b"]]);
    await settle();
    assert.deepEqual(infos, []);
    producer.emit(letters("de"));
    producer.info("sync2");
    await m.ask(1, 2);
    assert.deepEqual(m.batches[1], ["c"]);
    assert.deepEqual(infos, ["sync1"]);
    await m.ask(2, 3);
    assert.deepEqual(m.batches[2], ["d", "e"]);
    assert.deepEqual(infos, ["sync1", "sync2"]);
    await producer.stop();
    await m.consumer.closed;
  });

  it('G38/BF5: an info is delivered when the events before it are dropped by bufferKeep "last"', async () => {
    const infos: unknown[] = [];
    const producer = new Producer<string>({
      bufferSize: 3,
      handleInfo: (m) => void infos.push(m),
      onDiscard: () => false,
    });
    producer.emit(letters("ab"));
    producer.info("sync");
    const m = manual(producer);
    await m.ready;
    await settle();
    assert.deepEqual(infos, []);
    producer.emit(letters("cde"));
    await settle();
    assert.deepEqual(infos, ["sync"]);
    await m.ask(3, 1);
    assert.deepEqual(m.batches, [letters("cde")]);
    await producer.stop();
    await m.consumer.closed;
  });

  it("G39/BF8–BF10: infos between buffered events arrive in order, and each marker splits the batch", async () => {
    const infos: unknown[] = [];
    const producer = new Producer<string>({
      bufferSize: Infinity,
      handleInfo: (m) => void infos.push(m),
    });
    producer.emit(letters("abc"));
    producer.info("d");
    producer.info("e");
    producer.info("f");
    producer.emit(letters("gh"));
    producer.info("i");
    const m = manual(producer);
    await m.ready;
    await m.ask(5, 2);
    assert.deepEqual(m.batches, [letters("abc"), letters("gh")]);
    assert.deepEqual(infos, ["d", "e", "f", "i"]);
    await producer.stop();
    await m.consumer.closed;
  });

  it("dispatches the events handleInfo returns", async () => {
    const producer = new Producer<string>({ handleInfo: (m) => [String(m)] });
    const { consumer, batches, until } = forwarder<string>([producer]);
    await settle();
    producer.info("x");
    await until(1);
    assert.deepEqual(batches, [["x"]]);
    await producer.stop();
    await consumer.closed;
  });
});

describe("Producer subscriptions", () => {
  it("G55: handleSubscribe gets the subscription subscribeTo returned, with every option", async () => {
    const seen = deferred<Subscription<number>>();
    const { producer } = counter(0, {});
    const watched = new Producer<number>({ handleSubscribe: (s) => seen.resolve(s) });
    const consumer = new Consumer<number>({ handleEvents: () => {} });
    const subscription = consumer.subscribeTo(watched, { maxDemand: 7, custom: "yes" });
    const got = await seen.promise;
    assert.equal(got, subscription);
    assert.equal(got.producer, watched);
    assert.equal(got.consumer, consumer);
    assert.equal(got.options.maxDemand, 7);
    assert.equal(got.options.minDemand, 3);
    assert.equal(got.options.cancel, "permanent");
    assert.equal(got.options.custom, "yes");
    await watched.stop();
    await producer.stop();
    await consumer.closed;
  });

  it('G56: a handleSubscribe answering "manual" stops the producer with a TypeError; its consumer stops too', async () => {
    const producer = new Producer<number>({ handleSubscribe: () => "manual" as never });
    const consumer = new Consumer<number>({ subscribeTo: [producer], handleEvents: () => {} });
    const expected = {
      name: "TypeError",
      message:
        'Cannot subscribe as handleSubscribe\'s result for a downstream subscription must be "automatic" or nothing: current value is "manual"',
    };
    await assert.rejects(producer.closed, expected);
    await assert.rejects(consumer.closed, expected);
  });

  it("G57: handleCancel gets the consumer's cancel reason, and the producer goes on", async () => {
    const cancelled = deferred<[Subscription<number>, unknown]>();
    const { producer } = counter(0, {});
    const watched = new Producer<number>({
      handleCancel: (s, reason) => cancelled.resolve([s, reason]),
    });
    const consumer = new Consumer<number>({ handleEvents: () => {} });
    const subscription = consumer.subscribeTo(watched, { cancel: "temporary" });
    subscription.cancel("oops");
    const [got, reason] = await cancelled.promise;
    assert.equal(got, subscription);
    assert.equal(reason, "oops");
    await settle();
    const other = forwarder<number>([watched]);
    watched.emit([1]);
    await other.until(1);
    await watched.stop();
    await producer.stop();
    await consumer.stop();
  });

  it("G58: handleCancel gets the reason a consumer stopped with, and the producer goes on", async () => {
    const cancelled = deferred<unknown>();
    const producer = new Producer<number>({
      handleCancel: (_s, reason) => cancelled.resolve(reason),
    });
    const consumer = new Consumer<number>({ subscribeTo: [producer], handleEvents: () => {} });
    await settle();
    const killed = new Error("killed");
    await consumer.stop(killed);
    assert.equal(await cancelled.promise, killed);
    await settle();
    const other = forwarder<number>([producer]);
    producer.emit([1]);
    await other.until(1);
    assert.deepEqual(other.batches, [[1]]);
    await producer.stop();
    await other.consumer.closed;
  });

  it("dispatches the events handleCancel returns to the remaining subscriptions", async () => {
    const producer = new Producer<string>({ handleCancel: () => ["bye"] });
    const leaving = new Consumer<string>({ subscribeTo: [producer], handleEvents: () => {} });
    const { consumer, batches, until } = forwarder<string>([producer]);
    await settle();
    await leaving.stop();
    await until(1);
    assert.deepEqual(batches, [["bye"]]);
    await producer.stop();
    await consumer.closed;
  });

  it("G63: stop() resolves once stopped, and closed resolves on a normal stop", async () => {
    const producer = new Producer<number>();
    await producer.stop();
    await producer.closed;
    const other = new Producer<number>();
    await other.stop("shutdown");
    await other.closed;
  });

  it("a producer that runs out of work during a subscribeTo call stops only after the call returns", async () => {
    const producer = Producer.from([1, 2, 3]);
    const a = forwarder<number>([producer]);
    const b = forwarder<number>([producer]);
    await producer.closed;
    await a.consumer.closed;
    await b.consumer.closed;
    assert.deepEqual(a.batches, [[1, 2, 3]]);
    assert.deepEqual(b.batches, []);
  });
});
