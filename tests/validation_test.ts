import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  Consumer,
  DemandDispatcher,
  Producer,
  ProducerConsumer,
  type Subscription,
  toReadableStream,
} from "../mod.ts";
import { settle } from "./_helpers.ts";

type ErrorClass = typeof TypeError | typeof RangeError;

function rejects(fn: () => unknown, type: ErrorClass, message: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
    assert.equal((error as Error).message, message);
    return true;
  });
}

const noop = () => {};

describe("validation: Producer", () => {
  const cases: Array<[string, unknown, ErrorClass, string]> = [
    ["options", 5, TypeError, "options must be an object: current value is 5"],
    ["options", null, TypeError, "options must be an object: current value is null"],
    [
      "handleDemand",
      { handleDemand: 1 },
      TypeError,
      "handleDemand must be a function: current value is 1",
    ],
    [
      "handleSubscribe",
      { handleSubscribe: "x" },
      TypeError,
      'handleSubscribe must be a function: current value is "x"',
    ],
    [
      "handleCancel",
      { handleCancel: {} },
      TypeError,
      "handleCancel must be a function: current value is an object",
    ],
    [
      "handleInfo",
      { handleInfo: [] },
      TypeError,
      "handleInfo must be a function: current value is array of length 0",
    ],
    [
      "onDiscard",
      { onDiscard: true },
      TypeError,
      "onDiscard must be a function: current value is true",
    ],
    [
      "dispatcher",
      { dispatcher: 0 },
      TypeError,
      "dispatcher must be a Dispatcher: current value is 0",
    ],
    [
      "dispatcher",
      { dispatcher: { init: noop } },
      TypeError,
      "dispatcher must be a Dispatcher: current value is an object",
    ],
    [
      "bufferSize",
      { bufferSize: 0 },
      RangeError,
      "bufferSize must be an integer >= 1 or Infinity: current value is 0",
    ],
    [
      "bufferSize",
      { bufferSize: -1 },
      RangeError,
      "bufferSize must be an integer >= 1 or Infinity: current value is -1",
    ],
    [
      "bufferSize",
      { bufferSize: 1.5 },
      RangeError,
      "bufferSize must be an integer >= 1 or Infinity: current value is 1.5",
    ],
    [
      "bufferSize",
      { bufferSize: NaN },
      RangeError,
      "bufferSize must be an integer >= 1 or Infinity: current value is NaN",
    ],
    [
      "bufferSize",
      { bufferSize: "10" },
      TypeError,
      'bufferSize must be a number: current value is "10"',
    ],
    [
      "bufferKeep",
      { bufferKeep: "middle" },
      TypeError,
      'bufferKeep must be "first" or "last": current value is "middle"',
    ],
    [
      "demand",
      { demand: "other" },
      TypeError,
      'demand must be "forward" or "accumulate": current value is "other"',
    ],
    [
      "signal",
      { signal: {} },
      TypeError,
      "signal must be an AbortSignal: current value is an object",
    ],
  ];
  for (const [name, options, type, message] of cases) {
    it(`G54: rejects a bad ${name} with a ${type.name}`, () => {
      rejects(
        () => new Producer(options as never),
        type,
        `Cannot construct Producer as ${message}`,
      );
    });
  }

  it("emit rejects a non-iterable", async () => {
    const producer = new Producer<number>();
    rejects(
      () => producer.emit(5 as never),
      TypeError,
      "Cannot emit as events must be an iterable: current value is 5",
    );
    rejects(
      () => producer.emit(null as never),
      TypeError,
      "Cannot emit as events must be an iterable: current value is null",
    );
    assert.equal(producer.bufferedCount, 0);
    await producer.stop();
  });

  it("setDemandMode rejects an unknown mode", async () => {
    const producer = new Producer<number>();
    rejects(
      () => producer.setDemandMode("later" as never),
      TypeError,
      'Cannot set demand mode as mode must be "forward" or "accumulate": current value is "later"',
    );
    assert.equal(producer.demandMode, "forward");
    await producer.stop();
  });

  it("Producer.from rejects a bad source or option", () => {
    const action = "Cannot create a Producer from a source as";
    rejects(
      () => Producer.from(5 as never),
      TypeError,
      `${action} source must be an Iterable, an AsyncIterable or a ReadableStream: current value is 5`,
    );
    rejects(
      () => Producer.from(null as never),
      TypeError,
      `${action} source must be an Iterable, an AsyncIterable or a ReadableStream: current value is null`,
    );
    rejects(
      () => Producer.from([1], { onCancel: "pause" as never }),
      TypeError,
      `${action} onCancel must be "continue" or "stop": current value is "pause"`,
    );
    rejects(
      () => Producer.from([1], 1 as never),
      TypeError,
      `${action} options must be an object: current value is 1`,
    );
    rejects(
      () => Producer.from([1], { demand: "x" as never }),
      TypeError,
      'Cannot construct Producer as demand must be "forward" or "accumulate": current value is "x"',
    );
  });

  it("a rejected Producer.from does not touch its source", () => {
    let pulled = 0;
    const source = {
      [Symbol.iterator]: () => ({ next: () => ({ done: false, value: pulled++ }) }),
    };
    assert.throws(() => Producer.from(source, { onCancel: "no" as never }));
    assert.equal(pulled, 0);
    assert.throws(() => Producer.from(source, { demand: "no" as never }));
    assert.equal(pulled, 0);
    const stream = new ReadableStream<number>();
    assert.throws(() => Producer.from(stream, { onCancel: "no" as never }));
    assert.throws(() => Producer.from(stream, { signal: 1 as never }));
    assert.equal(stream.locked, false, "the stream is not locked by a rejected call");
    let made = 0;
    const counted = { [Symbol.iterator]: () => (made++, [][Symbol.iterator]()) };
    assert.throws(() => Producer.from(counted, { dispatcher: 1 as never }));
    assert.equal(made, 0, "no iterator is made by a rejected call");
  });
});

describe("validation: subscription options", () => {
  const cases: Array<[string, unknown, ErrorClass, string]> = [
    [
      "G42 maxDemand 0",
      { maxDemand: 0 },
      RangeError,
      "maxDemand must be an integer >= 1: current value is 0",
    ],
    [
      "maxDemand 1.5",
      { maxDemand: 1.5 },
      RangeError,
      "maxDemand must be an integer >= 1: current value is 1.5",
    ],
    [
      "maxDemand Infinity",
      { maxDemand: Infinity },
      RangeError,
      "maxDemand must be an integer >= 1: current value is Infinity",
    ],
    [
      "maxDemand string",
      { maxDemand: "5" },
      TypeError,
      'maxDemand must be a number: current value is "5"',
    ],
    [
      "G42 minDemand 2000",
      { minDemand: 2000 },
      RangeError,
      "minDemand must be an integer in [0, 999]: current value is 2000",
    ],
    [
      "minDemand = maxDemand",
      { maxDemand: 10, minDemand: 10 },
      RangeError,
      "minDemand must be an integer in [0, 9]: current value is 10",
    ],
    [
      "minDemand -1",
      { minDemand: -1 },
      RangeError,
      "minDemand must be an integer in [0, 999]: current value is -1",
    ],
    [
      "cancel",
      { cancel: "sometimes" },
      TypeError,
      'cancel must be one of "permanent", "transient" or "temporary": current value is "sometimes"',
    ],
    [
      "redeliver",
      { redeliver: "yes" },
      TypeError,
      'redeliver must be a boolean: current value is "yes"',
    ],
    ["selector", { selector: 1 }, TypeError, "selector must be a function: current value is 1"],
    ["options", 7, TypeError, "options must be an object: current value is 7"],
  ];

  for (const [name, options, type, message] of cases) {
    it(`G50/G107: subscribeTo, subscribe and toReadableStream reject ${name} and leave nothing behind`, async () => {
      const subscribes: unknown[] = [];
      const producer = new Producer<number>({ handleSubscribe: (s) => void subscribes.push(s) });
      const consumerSubscribes: unknown[] = [];
      const consumer = new Consumer<number>({
        handleEvents: noop,
        handleSubscribe: (s) => void consumerSubscribes.push(s),
      });
      rejects(
        () => consumer.subscribeTo(producer, options as never),
        type,
        `Cannot subscribe as ${message}`,
      );
      rejects(() => producer.subscribe(options as never), type, `Cannot subscribe as ${message}`);
      rejects(
        () => toReadableStream([[producer, options as never]]),
        type,
        `Cannot create a ReadableStream with subscriptions[0] as ${message}`,
      );
      rejects(
        () =>
          new Consumer<number>({
            handleEvents: noop,
            subscribeTo: [producer, [producer, options as never]],
          }),
        type,
        `Cannot construct Consumer with subscribeTo[1] as ${message}`,
      );
      await settle();
      assert.deepEqual(subscribes, []);
      assert.deepEqual(consumerSubscribes, []);
      // Both stages are intact: a good subscription works.
      const sub = consumer.subscribeTo(producer, { cancel: "temporary" });
      await settle();
      assert.deepEqual(subscribes, [sub]);
      await producer.stop();
      await consumer.stop();
    });
  }

  it("accepts the bounds: maxDemand 1 with minDemand 0, minDemand maxDemand - 1", async () => {
    const producer = new Producer<number>();
    const consumer = new Consumer<number>({ handleEvents: noop });
    assert.equal(
      consumer.subscribeTo(producer, { maxDemand: 1, minDemand: 0 }).options.minDemand,
      0,
    );
    assert.equal(
      consumer.subscribeTo(producer, { maxDemand: 10, minDemand: 9 }).options.minDemand,
      9,
    );
    const defaults = consumer.subscribeTo(producer, { maxDemand: 3 }).options;
    assert.deepEqual(
      [defaults.maxDemand, defaults.minDemand, defaults.cancel, defaults.redeliver],
      [
        3,
        1,
        "permanent",
        false,
      ],
    );
    await producer.stop();
  });
});

describe("validation: subscribing", () => {
  it("rejects a source that is not a producing stage", async () => {
    const consumer = new Consumer<number>({ handleEvents: noop });
    rejects(
      () => consumer.subscribeTo({} as never),
      TypeError,
      "Cannot subscribe as the source must be a Producer or ProducerConsumer: current value is an object",
    );
    const other = new Consumer<number>({ handleEvents: noop });
    rejects(
      () => consumer.subscribeTo(other as never),
      TypeError,
      "Cannot subscribe as a Consumer produces no events: subscribe to a Producer or ProducerConsumer",
    );
    await consumer.stop();
    await other.stop();
  });

  it("rejects a stage subscribing to itself", async () => {
    const pc = new ProducerConsumer<number, number>({ handleEvents: (e) => e });
    rejects(
      () => pc.subscribeTo(pc),
      TypeError,
      "Cannot subscribe as a stage cannot subscribe to itself",
    );
    await pc.stop();
  });

  it("rejects subscribing to a stopped producer, or from a stopped consumer", async () => {
    const producer = new Producer<number>();
    const consumer = new Consumer<number>({ handleEvents: noop });
    await producer.stop();
    rejects(
      () => consumer.subscribeTo(producer),
      TypeError,
      "Cannot subscribe as the Producer has stopped",
    );
    rejects(() => producer.subscribe(), TypeError, "Cannot subscribe as the Producer has stopped");
    const live = new Producer<number>();
    await consumer.stop();
    rejects(
      () => consumer.subscribeTo(live),
      TypeError,
      "Cannot subscribe as the Consumer has stopped",
    );
    await live.stop();
  });

  it("subscription.ask rejects negative, fractional and non-number counts, and automatic subscriptions", async () => {
    const producer = new Producer<number>();
    let manual: Subscription<number> | undefined;
    const consumer = new Consumer<number>({
      handleEvents: noop,
      handleSubscribe: (s) => {
        if (s.options.manual) {
          manual = s;
          return "manual";
        }
      },
    });
    const automatic = consumer.subscribeTo(producer);
    consumer.subscribeTo(producer, { manual: true });
    await settle();
    rejects(
      () => manual!.ask(-1),
      RangeError,
      "Cannot ask as count must be an integer >= 0: current value is -1",
    );
    rejects(
      () => manual!.ask(1.5),
      RangeError,
      "Cannot ask as count must be an integer >= 0: current value is 1.5",
    );
    rejects(
      () => manual!.ask("1" as never),
      TypeError,
      'Cannot ask as count must be a number: current value is "1"',
    );
    rejects(
      () => automatic.ask(1),
      TypeError,
      'Cannot ask as the subscription is automatic: only a subscription whose handleSubscribe returned "manual" can ask',
    );
    await producer.stop();
  });
});

describe("validation: Consumer and ProducerConsumer", () => {
  for (const kind of ["Consumer", "ProducerConsumer"] as const) {
    const make = (options: unknown) =>
      kind === "Consumer" ? new Consumer(options as never) : new ProducerConsumer(options as never);
    const cases: Array<[string, unknown, ErrorClass, string]> = [
      [
        "missing options",
        undefined,
        TypeError,
        "options must be an object: current value is undefined",
      ],
      ["options", 3, TypeError, "options must be an object: current value is 3"],
      [
        "handleEvents",
        {},
        TypeError,
        "handleEvents must be a function: current value is undefined",
      ],
      [
        "handleSubscribe",
        { handleEvents: noop, handleSubscribe: 1 },
        TypeError,
        "handleSubscribe must be a function: current value is 1",
      ],
      [
        "handleCancel",
        { handleEvents: noop, handleCancel: 1 },
        TypeError,
        "handleCancel must be a function: current value is 1",
      ],
      [
        "handleInfo",
        { handleEvents: noop, handleInfo: 1 },
        TypeError,
        "handleInfo must be a function: current value is 1",
      ],
      [
        "signal",
        { handleEvents: noop, signal: "no" },
        TypeError,
        'signal must be an AbortSignal: current value is "no"',
      ],
      [
        "subscribeTo",
        { handleEvents: noop, subscribeTo: {} },
        TypeError,
        "subscribeTo must be an array: current value is an object",
      ],
    ];
    for (const [name, options, type, message] of cases) {
      it(`G65/G79: ${kind} rejects ${name}`, () => {
        rejects(() => make(options), type, `Cannot construct ${kind} as ${message}`);
      });
    }

    it(`${kind} rejects a bad subscribeTo entry and subscribes to none of them`, async () => {
      const subscribes: unknown[] = [];
      const producer = new Producer<number>({ handleSubscribe: (s) => void subscribes.push(s) });
      const stopped = new Producer<number>();
      await stopped.stop();
      rejects(
        () => make({ handleEvents: noop, subscribeTo: [producer, 42] }),
        TypeError,
        `Cannot construct ${kind} with subscribeTo[1] as the source must be a Producer or ProducerConsumer: current value is 42`,
      );
      rejects(
        () => make({ handleEvents: noop, subscribeTo: [producer, stopped] }),
        TypeError,
        `Cannot construct ${kind} with subscribeTo[1] as the Producer has stopped`,
      );
      await settle();
      assert.deepEqual(subscribes, []);
      await producer.stop();
    });
  }

  it("G79: ProducerConsumer rejects its producer options", () => {
    const base = { handleEvents: (e: number[]) => e };
    rejects(
      () => new ProducerConsumer({ ...base, bufferSize: 0 }),
      RangeError,
      "Cannot construct ProducerConsumer as bufferSize must be an integer >= 1 or Infinity: current value is 0",
    );
    rejects(
      () => new ProducerConsumer({ ...base, bufferKeep: "x" as never }),
      TypeError,
      'Cannot construct ProducerConsumer as bufferKeep must be "first" or "last": current value is "x"',
    );
    rejects(
      () => new ProducerConsumer({ ...base, dispatcher: 0 as never }),
      TypeError,
      "Cannot construct ProducerConsumer as dispatcher must be a Dispatcher: current value is 0",
    );
    rejects(
      () => new ProducerConsumer({ ...base, onDiscard: 1 as never }),
      TypeError,
      "Cannot construct ProducerConsumer as onDiscard must be a function: current value is 1",
    );
    rejects(
      () => new ProducerConsumer({ ...base, demand: "accumulate" } as never),
      TypeError,
      "Cannot construct ProducerConsumer as demand is a Producer option: a ProducerConsumer forwards downstream demand",
    );
  });

  it("a rejected constructor leaves its dispatcher free for another stage", async () => {
    const dispatcher = new DemandDispatcher<number>();
    assert.throws(() =>
      new ProducerConsumer<number, number>({
        handleEvents: (e) => e,
        dispatcher,
        subscribeTo: 1 as never,
      })
    );
    const producer = new Producer<number>({ dispatcher });
    await producer.stop();
  });
});

describe("validation: toReadableStream and DemandDispatcher", () => {
  it("toReadableStream rejects bad arguments at the call", () => {
    const action = "Cannot create a ReadableStream as";
    rejects(
      () => toReadableStream(5 as never),
      TypeError,
      `${action} subscriptions must be an array: current value is 5`,
    );
    rejects(
      () => toReadableStream([], { demand: "x" as never }),
      TypeError,
      `${action} demand must be "forward" or "accumulate": current value is "x"`,
    );
    rejects(
      () => toReadableStream([], { producers: 1 as never }),
      TypeError,
      `${action} producers must be an array: current value is 1`,
    );
    rejects(
      () => toReadableStream([], 1 as never),
      TypeError,
      `${action} options must be an object: current value is 1`,
    );
    rejects(
      () => toReadableStream([{} as never]),
      TypeError,
      "Cannot create a ReadableStream with subscriptions[0] as the source must be a Producer or ProducerConsumer: current value is an object",
    );
  });

  it("DemandDispatcher rejects bad options", () => {
    rejects(
      () => new DemandDispatcher({ shuffleDemandsOnFirstDispatch: "yes" as never }),
      TypeError,
      'Cannot construct DemandDispatcher as shuffleDemandsOnFirstDispatch must be a boolean: current value is "yes"',
    );
    rejects(
      () => new DemandDispatcher({ maxDemand: 0 }),
      RangeError,
      "Cannot construct DemandDispatcher as maxDemand must be an integer >= 1: current value is 0",
    );
    rejects(
      () => new DemandDispatcher(3 as never),
      TypeError,
      "Cannot construct DemandDispatcher as options must be an object: current value is 3",
    );
  });
});
