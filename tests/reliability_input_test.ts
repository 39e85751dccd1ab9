// Quieter bad input gets loud: strings returned as events, non-numbers
// returned as demand by a custom dispatcher, a locked source, demands and
// partition counts past their maximum, and a supervisor handing a factory a
// sibling that has stopped (issue 10, point 9).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  broadcast,
  Consumer,
  DemandDispatcher,
  type Dispatcher,
  type DispatcherHost,
  PartitionDispatcher,
  Producer,
  ProducerConsumer,
  type Subscription,
  type Supervisable,
  Supervisor,
  toReadableStream,
} from "../mod.ts";
import { settle } from "./_helpers.ts";
import { Starts } from "./_supervision.ts";

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return await promise.then(() => assert.fail("expected a rejection"), (reason) => reason);
}

describe("a string where events are expected is rejected, as emit rejects it", () => {
  it('emit("abc") throws', async () => {
    const producer = new Producer<string>();
    assert.throws(() => producer.emit("abc"), {
      name: "TypeError",
      message: 'Cannot emit as events must be an iterable: current value is "abc"',
    });
    await producer.stop();
  });

  it("a handleDemand returning a string stops the producer with a TypeError instead of sending its characters", async () => {
    const received: string[] = [];
    const producer = new Producer<string>({ handleDemand: () => "abc" as never });
    const consumer = new Consumer<string>({
      subscribeTo: [[producer, { cancel: "temporary" }]],
      handleEvents: (events) => void received.push(...events),
    });
    const error = await Promise.race([rejection(producer.closed), settle().then(settle)]);
    await Promise.all([producer.stop(), consumer.stop()]);
    assert.deepEqual(received, []);
    assert.ok(error instanceof TypeError, "the producer did not stop");
    assert.equal(
      error.message,
      'Cannot handle demand as the returned events must be an iterable or nothing: current value is "abc"',
    );
  });

  it("a producer-consumer's handleEvents returning a string stops it with a TypeError", async () => {
    const received: string[] = [];
    const producer = new Producer<number>();
    producer.emit([1]);
    const stage = new ProducerConsumer<number, string>({
      subscribeTo: [producer],
      handleEvents: () => "abc" as never,
    });
    const consumer = new Consumer<string>({
      subscribeTo: [[stage, { cancel: "temporary" }]],
      handleEvents: (events) => void received.push(...events),
    });
    const error = await Promise.race([rejection(stage.closed), settle().then(settle)]);
    await Promise.all([producer.stop(), stage.stop(), consumer.stop()]);
    assert.deepEqual(received, []);
    assert.ok(error instanceof TypeError, "the producer-consumer did not stop");
    assert.equal(
      error.message,
      'Cannot handle events as the returned events must be an iterable or nothing: current value is "abc"',
    );
  });

  it("a handleInfo returning a string stops the producer with a TypeError", async () => {
    const producer = new Producer<string>({ handleInfo: () => "abc" as never });
    producer.info("go");
    const error = await Promise.race([rejection(producer.closed), settle().then(settle)]);
    await producer.stop();
    assert.ok(error instanceof TypeError, "the producer did not stop");
    assert.equal(
      error.message,
      'Cannot handle info as the returned events must be an iterable or nothing: current value is "abc"',
    );
  });
});

/** A DemandDispatcher whose `ask` answers `answer` instead of the real upstream demand. */
class LyingDispatcher<T> implements Dispatcher<T> {
  readonly #inner = new DemandDispatcher<T>();
  readonly #answer: unknown;
  constructor(answer: unknown) {
    this.#answer = answer;
  }
  init(host: DispatcherHost<T>): void {
    this.#inner.init(host);
  }
  subscribe(subscription: Subscription<T>): number {
    return this.#inner.subscribe(subscription);
  }
  cancel(subscription: Subscription<T>): number {
    return this.#inner.cancel(subscription);
  }
  ask(count: number, subscription: Subscription<T>): number {
    this.#inner.ask(count, subscription);
    return this.#answer as number;
  }
  dispatch(events: T[]): T[] {
    return this.#inner.dispatch(events);
  }
  info(message: unknown): void {
    this.#inner.info(message);
  }
}

describe("a custom dispatcher's demand is checked before it reaches handleDemand", () => {
  const cases: Array<[unknown, ErrorConstructor, string]> = [
    ["lots", TypeError, 'must be a number: current value is "lots"'],
    [NaN, RangeError, "must be an integer >= 0: current value is NaN"],
    [-1, RangeError, "must be an integer >= 0: current value is -1"],
    [2.5, RangeError, "must be an integer >= 0: current value is 2.5"],
  ];
  for (const [answer, type, rule] of cases) {
    it(`an ask answered with ${typeof answer === "string" ? `"${answer}"` : answer} stops the producer with a ${type.name}`, async () => {
      const demands: unknown[] = [];
      const producer = new Producer<number>({
        dispatcher: new LyingDispatcher<number>(answer),
        handleDemand: (demand) => void demands.push(demand),
      });
      const consumer = new Consumer<number>({
        subscribeTo: [[producer, { cancel: "temporary" }]],
        handleEvents: () => {},
      });
      const error = await Promise.race([rejection(producer.closed), settle().then(settle)]);
      await Promise.all([producer.stop(), consumer.stop()]);
      assert.deepEqual(demands, [], "handleDemand was called with it");
      assert.ok(error instanceof type, "the producer did not stop");
      assert.equal(
        error.message,
        `Cannot ask as the demand returned by the dispatcher ${rule}`,
      );
    });
  }
});

describe("a locked source", () => {
  it("Producer.from rejects a locked ReadableStream in the library's format, leaving nothing behind", () => {
    const stream = new ReadableStream<number>();
    const reader = stream.getReader();
    assert.throws(() => Producer.from(stream), {
      name: "TypeError",
      message:
        "Cannot create a Producer from a source as source must be unlocked: current value is a locked ReadableStream",
    });
    reader.releaseLock();
    assert.equal(stream.locked, false);
  });
});

describe("numbers past their documented maximum", () => {
  const huge = 2 ** 60;
  const rule = `maxDemand must be an integer in [1, 4294967295]: current value is ${huge}`;

  it("maxDemand above 2 ** 32 - 1 is rejected by subscribeTo, toReadableStream and the fan-out helpers", async () => {
    const producer = new Producer<number>();
    const consumer = new Consumer<number>({ handleEvents: () => {} });
    assert.throws(() => consumer.subscribeTo(producer, { maxDemand: huge }), {
      name: "RangeError",
      message: `Cannot subscribe as ${rule}`,
    });
    assert.throws(() => toReadableStream([[producer, { maxDemand: huge }]]), {
      name: "RangeError",
      message: `Cannot create a ReadableStream with subscriptions[0] as ${rule}`,
    });
    assert.throws(() => broadcast(new ReadableStream<number>(), 2, { maxDemand: huge }), {
      name: "RangeError",
      message: `Cannot broadcast a stream as ${rule}`,
    });
    // The maximum itself is accepted.
    consumer.subscribeTo(producer, { maxDemand: 2 ** 32 - 1, minDemand: 0 });
    await Promise.all([consumer.stop(), producer.stop()]);
  });

  it("partitions above 65536 are rejected, as a count or as keys", () => {
    const hash = () => 0;
    assert.throws(() => new PartitionDispatcher({ partitions: 100_000, hash }), {
      name: "RangeError",
      message:
        "Cannot construct PartitionDispatcher as partitions must be an integer in [1, 65536]: current value is 100000",
    });
    const keys = Array.from({ length: 65_537 }, (_, i) => `k${i}`);
    assert.throws(() => new PartitionDispatcher({ partitions: keys, hash: () => "k0" }), {
      name: "RangeError",
      message:
        "Cannot construct PartitionDispatcher as partitions must be an array of at most 65536 keys: current value is array of length 65537",
    });
    assert.equal(new PartitionDispatcher({ partitions: 65_536, hash }).partitions.length, 65_536);
  });
});

describe("Supervisor.get() and siblings that have stopped", () => {
  it("never hands a starting child a sibling that has stopped, even before the supervisor has handled that stop", async () => {
    const starts = new Starts();
    const stopped = new Set<Supervisable>();
    /** What each start of the consumer got for "producer", and whether it had stopped by then. */
    const seen: Array<{ sibling: Supervisable | undefined; stoppedThen: boolean }> = [];
    const supervisor = new Supervisor({
      strategy: "rest_for_one",
      maxRestarts: 10,
      children: [
        { id: "producer", start: starts.start("producer") },
        { id: "middle", start: starts.start("middle") },
        {
          id: "consumer",
          start: starts.start("consumer", (children) => {
            const sibling = children.get("producer");
            seen.push({ sibling, stoppedThen: sibling !== undefined && stopped.has(sibling) });
          }),
        },
      ],
    });
    const restarted = starts.next("producer");
    // Two failures at once: the middle child's restart starts the consumer
    // while the producer's stop is still waiting in the supervisor's queue.
    const producer = starts.last("producer");
    starts.last("middle").crash(new Error("middle crashed"));
    producer.crash(new Error("producer crashed"));
    stopped.add(producer);
    await restarted;
    await settle();
    assert.ok(seen.length >= 3);
    assert.deepEqual(
      seen.map((s) => s.stoppedThen),
      seen.map(() => false),
      "a start got the stopped producer",
    );
    assert.equal(seen.at(-1)!.sibling, starts.last("producer"));
    await supervisor.stop();
  });
});
