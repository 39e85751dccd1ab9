import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  Consumer,
  PartitionDispatcher,
  type PartitionDispatcherOptions,
  type PartitionKey,
  Producer,
  type SubscribeOptions,
  type Subscription,
  toReadableStream,
} from "../../mod.ts";
import { deferred, range, settle } from "../_helpers.ts";
import { RecordingHost, subscription } from "./_host.ts";

function setup<T, K extends PartitionKey = number>(
  options: PartitionDispatcherOptions<T, K>,
  bufferSize = 10_000,
) {
  const dispatcher = new PartitionDispatcher<T, K>(options);
  const host = new RecordingHost<T>(bufferSize);
  dispatcher.init(host);
  return { dispatcher, host };
}

const parity = (n: number) => n % 2;

describe("PartitionDispatcher as a state machine", () => {
  it("P1: demand of ended subscriptions is pending, and events for unsubscribed partitions wait in their backlogs", () => {
    const { dispatcher, host } = setup({ partitions: 2, hash: parity });
    const p0 = subscription<number>("p0", { partition: 0 });
    const p1 = subscription<number>("p1", { partition: 1 });
    assert.equal(dispatcher.subscribe(p0), 0);
    assert.equal(dispatcher.ask(10, p0), 10);
    assert.deepEqual([dispatcher.waiting, dispatcher.pending], [10, 0]);
    assert.equal(dispatcher.cancel(p0), 0);
    assert.deepEqual([dispatcher.waiting, dispatcher.pending], [10, 10]);
    dispatcher.subscribe(p1);
    assert.equal(dispatcher.ask(5, p1), 0);
    assert.deepEqual([dispatcher.waiting, dispatcher.pending], [10, 5]);
    assert.equal(dispatcher.cancel(p1), 0);
    assert.deepEqual([dispatcher.waiting, dispatcher.pending], [10, 10]);
    assert.deepEqual(dispatcher.dispatch([0, 1, 2, 3]), []);
    // GenStage keeps pending at 10; here pending is what is forwarded beyond what is owed.
    assert.deepEqual([dispatcher.waiting, dispatcher.pending], [6, 6]);
    assert.deepEqual(host.sent, []);
    assert.deepEqual(dispatcher.backlogSizes(), new Map([[0, 2], [1, 2]]));
  });

  it("P2: one partition sends what was asked and returns the rest", () => {
    const { dispatcher, host } = setup<number>({ partitions: 1, hash: () => 0 });
    const s = subscription<number>("s", { partition: 0 });
    dispatcher.subscribe(s);
    assert.equal(dispatcher.ask(3, s), 3);
    assert.deepEqual(dispatcher.dispatch([1]), []);
    assert.deepEqual(host.take(), [["s", [1]]]);
    assert.deepEqual([dispatcher.waiting, dispatcher.pending], [2, 0]);
    assert.equal(dispatcher.ask(3, s), 3);
    assert.equal(dispatcher.waiting, 5);
    assert.deepEqual(dispatcher.dispatch([2, 5, 6, 7, 8, 9, 11]), [9, 11]);
    assert.deepEqual(host.take(), [["s", [2, 5, 6, 7, 8]]]);
    assert.deepEqual([dispatcher.waiting, dispatcher.pending], [0, 0]);
  });

  it("P3: partitions named by a list of keys", () => {
    const { dispatcher, host } = setup<number, string>({
      partitions: ["odd", "even"],
      hash: (n) => (n % 2 === 0 ? "even" : "odd"),
    });
    const odd = subscription<number>("odd", { partition: "odd" });
    dispatcher.subscribe(odd);
    dispatcher.ask(3, odd);
    assert.deepEqual(dispatcher.dispatch([1]), []);
    assert.deepEqual(host.take(), [["odd", [1]]]);
    dispatcher.ask(3, odd);
    assert.deepEqual(dispatcher.dispatch([5, 7, 9, 11, 13, 15, 17]), [15, 17]);
    assert.deepEqual(host.take(), [["odd", [5, 7, 9, 11, 13]]]);
    assert.deepEqual(dispatcher.partitions, ["odd", "even"]);
  });

  it("P4 (webstage): a null hash discards the event, which still answers upstream demand, and the owed demand is asked again", () => {
    const { dispatcher, host } = setup<number, string>({
      partitions: ["odd", "even"],
      hash: (n) => (n % 3 === 0 ? null : n % 2 === 0 ? "even" : "odd"),
    });
    const odd = subscription<number>("odd", { partition: "odd" });
    const even = subscription<number>("even", { partition: "even" });
    dispatcher.subscribe(odd);
    dispatcher.subscribe(even);
    dispatcher.ask(4, odd);
    dispatcher.ask(4, even);
    // GenStage does not count 3 and 6 and sends [1, 5, 7, 11] and [2, 4, 8, 10], leftover [12].
    assert.deepEqual(dispatcher.dispatch(range(1, 13)), [9, 10, 11, 12]);
    assert.deepEqual(new Map(host.take()), new Map([["odd", [1, 5, 7]], ["even", [2, 4, 8]]]));
    assert.deepEqual([dispatcher.waiting, dispatcher.pending], [0, 0]);
    assert.deepEqual(host.asks, [["odd", 1]], "2 are owed: one queued ask forwards them");
    assert.equal(dispatcher.ask(1, odd), 2);
    assert.deepEqual(dispatcher.dispatch([9, 10, 11, 12]), [11, 12]);
    assert.deepEqual(host.take(), [["even", [10]]]);
  });

  it("P5: a late subscriber receives its partition's backlog first", () => {
    const { dispatcher, host } = setup<number>({ partitions: 2, hash: () => 0 });
    const p1 = subscription<number>("p1", { partition: 1 });
    dispatcher.subscribe(p1);
    dispatcher.ask(5, p1);
    assert.deepEqual(dispatcher.dispatch([1, 2, 5, 6, 7]), []);
    assert.deepEqual(host.take(), []);
    assert.deepEqual([dispatcher.waiting, dispatcher.pending], [0, 0]);
    assert.deepEqual(dispatcher.dispatch([8, 9]), [8, 9]);
    const p0 = subscription<number>("p0", { partition: 0 });
    dispatcher.subscribe(p0);
    assert.equal(dispatcher.ask(5, p0), 5, "the full ask is forwarded, as in GenStage");
    assert.deepEqual(host.take(), [["p0", [1, 2, 5, 6, 7]]]);
    assert.deepEqual([dispatcher.waiting, dispatcher.pending], [5, 0]);
    assert.deepEqual(dispatcher.dispatch([1, 2]), []);
    assert.deepEqual([dispatcher.waiting, dispatcher.pending], [3, 0]);
    assert.equal(dispatcher.backlogSize(0), 2);
  });

  it("P6: events beyond a partition's demand wait for its next ask", () => {
    const { dispatcher, host } = setup<number>({ partitions: 2, hash: () => 0 });
    const p0 = subscription<number>("p0", { partition: 0 });
    const p1 = subscription<number>("p1", { partition: 1 });
    dispatcher.subscribe(p0);
    dispatcher.subscribe(p1);
    dispatcher.ask(5, p0);
    dispatcher.ask(5, p1);
    assert.deepEqual(dispatcher.dispatch([1, 2]), []);
    assert.deepEqual(dispatcher.dispatch([5, 6, 7, 1, 2, 5, 6, 7]), []);
    assert.deepEqual(host.take(), [["p0", [1, 2]], ["p0", [5, 6, 7]]]);
    assert.equal(dispatcher.backlogSize(0), 5);
    assert.deepEqual([dispatcher.waiting, dispatcher.pending], [0, 0]);
    assert.equal(dispatcher.ask(5, p0), 5);
    assert.deepEqual(host.take(), [["p0", [1, 2, 5, 6, 7]]]);
  });

  it("P7 (webstage): an ended subscription's backlog is kept for the next one, nothing is asked again, and infos waiting behind it are released", () => {
    const { dispatcher, host } = setup<number>({ partitions: 2, hash: () => 0 });
    const p0 = subscription<number>("p0", { partition: 0 });
    const p1 = subscription<number>("p1", { partition: 1 });
    dispatcher.subscribe(p1);
    dispatcher.ask(5, p1);
    dispatcher.subscribe(p0);
    assert.deepEqual(dispatcher.dispatch(range(0, 5)), []);
    dispatcher.info("hello");
    assert.deepEqual(host.infos, []);
    assert.equal(dispatcher.cancel(p0), 0, "GenStage drops the backlog and asks for 5 more");
    assert.deepEqual([dispatcher.waiting, dispatcher.pending], [0, 0]);
    assert.deepEqual(host.infos, ["hello"]);
    const next = subscription<number>("next", { partition: 0 });
    dispatcher.subscribe(next);
    dispatcher.ask(5, next);
    assert.deepEqual(host.take(), [["next", range(0, 5)]]);
  });

  it("P8: info with no backlog is delivered at once", () => {
    const { dispatcher, host } = setup({ partitions: 2, hash: parity });
    const p0 = subscription<number>("p0", { partition: 0 });
    dispatcher.subscribe(p0);
    dispatcher.info("hello");
    assert.deepEqual(host.infos, ["hello"]);
  });

  it("P9: info with no subscriptions is delivered at once, even with backlogs", () => {
    const { dispatcher, host } = setup({ partitions: 2, hash: parity });
    const p0 = subscription<number>("p0", { partition: 0 });
    dispatcher.subscribe(p0);
    dispatcher.ask(4, p0);
    dispatcher.cancel(p0);
    dispatcher.dispatch([1, 3]);
    assert.equal(dispatcher.backlogSize(1), 2);
    dispatcher.info("hello");
    assert.deepEqual(host.infos, ["hello"]);
  });

  it("P10: info waits until the events queued before it have been sent", () => {
    const { dispatcher, host } = setup<number>({ partitions: 2, hash: () => 0 });
    const p0 = subscription<number>("p0", { partition: 0 });
    const p1 = subscription<number>("p1", { partition: 1 });
    dispatcher.subscribe(p0);
    dispatcher.subscribe(p1);
    dispatcher.ask(5, p1);
    dispatcher.dispatch(range(0, 5));
    dispatcher.info("hello");
    dispatcher.info("world");
    assert.deepEqual(host.infos, []);
    dispatcher.ask(2, p0);
    assert.deepEqual(host.infos, []);
    dispatcher.ask(3, p0);
    assert.deepEqual(host.take(), [["p0", [0, 1]], ["p0", [2, 3, 4]]]);
    assert.deepEqual(host.infos, ["hello", "world"]);
  });

  it("P11: a hash returning an unknown partition throws an error naming the event and the key", () => {
    const { dispatcher } = setup<number, number>({ partitions: 2, hash: () => 7 });
    const p0 = subscription<number>("p0", { partition: 0 });
    dispatcher.subscribe(p0);
    dispatcher.ask(1, p0);
    assert.throws(() => dispatcher.dispatch([42]), {
      name: "TypeError",
      message:
        "Cannot dispatch 42 as the key returned by hash must be an integer in [0, 1] or null: current value is 7",
    });
  });

  it("P12: a hash returning undefined, or throwing, is an error", () => {
    const named = setup<string, string>({
      partitions: ["a", "b"],
      hash: () => undefined as unknown as string,
    });
    const a = subscription<string>("a", { partition: "a" });
    named.dispatcher.subscribe(a);
    named.dispatcher.ask(1, a);
    assert.throws(() => named.dispatcher.dispatch(["x"]), {
      name: "TypeError",
      message:
        'Cannot dispatch "x" as the key returned by hash must be one of "a", "b" or null: current value is undefined',
    });
    const oops = new Error("oops");
    const throwing = setup<number>({
      partitions: 1,
      hash: () => {
        throw oops;
      },
    });
    const s = subscription<number>("s", { partition: 0 });
    throwing.dispatcher.subscribe(s);
    throwing.dispatcher.ask(1, s);
    assert.throws(() => throwing.dispatcher.dispatch([1]), (error) => error === oops);
  });

  it("P13: the constructor rejects missing or bad partitions and hash", () => {
    const action = "Cannot construct PartitionDispatcher as";
    const cases: Array<[unknown, string, string]> = [
      [undefined, "TypeError", `${action} options must be an object: current value is undefined`],
      [
        { hash: parity },
        "TypeError",
        `${action} partitions must be an integer or an array of keys: current value is undefined`,
      ],
      [
        { partitions: 2 },
        "TypeError",
        `${action} hash must be a function: current value is undefined`,
      ],
      [
        { partitions: ["even", "odd"] },
        "TypeError",
        `${action} hash must be a function: current value is undefined`,
      ],
      [
        { partitions: 0, hash: parity },
        "RangeError",
        `${action} partitions must be an integer >= 1: current value is 0`,
      ],
      [
        { partitions: 1.5, hash: parity },
        "RangeError",
        `${action} partitions must be an integer >= 1: current value is 1.5`,
      ],
      [
        { partitions: [], hash: parity },
        "RangeError",
        `${action} partitions must be a non-empty array: current value is array of length 0`,
      ],
      [
        { partitions: ["a", "a"], hash: parity },
        "TypeError",
        `${action} every partition must be distinct: current value is "a"`,
      ],
      [
        { partitions: ["a", null], hash: parity },
        "TypeError",
        `${action} every partition must be a key other than null or undefined: current value is null`,
      ],
      [
        { partitions: 2, hash: parity, maxBacklog: 0 },
        "RangeError",
        `${action} maxBacklog must be an integer >= 1 or Infinity: current value is 0`,
      ],
    ];
    for (const [options, name, message] of cases) {
      assert.throws(() => new PartitionDispatcher(options as never), { name, message });
    }
  });

  it("P14: the partition option must be present, known and free", () => {
    const { dispatcher } = setup({ partitions: 2, hash: parity });
    const taken = subscription<number>("taken", { partition: 0 });
    dispatcher.subscribe(taken);
    const check = (options: SubscribeOptions<number>, name: string, message: string) => {
      assert.throws(() => dispatcher.validate(options), { name, message }, "validate");
      assert.throws(
        () => dispatcher.subscribe(subscription<number>("s", options)),
        { name, message },
        "subscribe",
      );
    };
    check(
      {},
      "TypeError",
      "Cannot subscribe as partition must be an integer in [0, 1]: current value is undefined",
    );
    check(
      { partition: 0 },
      "TypeError",
      "Cannot subscribe as partition 0 is taken: each partition has at most one subscription",
    );
    check(
      { partition: -1 },
      "RangeError",
      "Cannot subscribe as partition must be an integer in [0, 1]: current value is -1",
    );
    check(
      { partition: 2 },
      "RangeError",
      "Cannot subscribe as partition must be an integer in [0, 1]: current value is 2",
    );
    check(
      { partition: "oops" },
      "TypeError",
      'Cannot subscribe as partition must be an integer in [0, 1]: current value is "oops"',
    );
    dispatcher.cancel(taken);
    dispatcher.validate({ partition: 0 });
  });

  it("a full backlog stops asking upstream until it drains, and the demand owed is forwarded then", () => {
    const { dispatcher, host } = setup({ partitions: 2, hash: parity, maxBacklog: 3 });
    const p0 = subscription<number>("p0", { partition: 0 });
    dispatcher.subscribe(p0);
    assert.equal(dispatcher.ask(10, p0), 10);
    assert.deepEqual(dispatcher.dispatch(range(0, 10)), []);
    assert.deepEqual(host.take(), [["p0", [0, 2, 4, 6, 8]]]);
    assert.equal(
      dispatcher.backlogSize(1),
      5,
      "what was already asked for still joins the backlog",
    );
    assert.deepEqual(host.asks, [], "full: no replacement is asked for");
    assert.equal(dispatcher.ask(5, p0), 0, "full: nothing more is asked");
    const p1 = subscription<number>("p1", { partition: 1 });
    dispatcher.subscribe(p1);
    assert.equal(dispatcher.ask(2, p1), 0, "still full (3 of 3)");
    assert.deepEqual(host.take(), [["p1", [1, 3]]]);
    assert.equal(
      dispatcher.ask(1, p1),
      10,
      "drained below the bound: what p0 is owed goes upstream",
    );
    assert.deepEqual(host.take(), [["p1", [5]]]);
    assert.equal(dispatcher.waiting, 10);
  });

  it("(webstage) events that went to a backlog or were discarded are asked for again, by one queued ask", () => {
    const { dispatcher, host } = setup<number, number>({
      partitions: 2,
      hash: (n) => (n < 0 ? null : n % 2),
    });
    const p0 = subscription<number>("p0", { partition: 0 });
    dispatcher.subscribe(p0);
    assert.equal(dispatcher.ask(4, p0), 4);
    assert.deepEqual(dispatcher.dispatch([0, 1, -1, 2]), []);
    assert.deepEqual(host.take(), [["p0", [0, 2]]]);
    assert.deepEqual(host.asks, [["p0", 1]], "p0 is owed 2 and nothing is on its way");
    // The stage feeds the queued ask back: it forwards demand and adds none to p0.
    assert.equal(dispatcher.ask(1, p0), 2);
    assert.deepEqual(dispatcher.dispatch([4, 6, 8]), [8], "p0 was owed 2, not 3");
    assert.deepEqual(host.take(), [["p0", [4, 6]]]);
    assert.deepEqual(host.asks, [["p0", 1]], "nothing more is owed");
  });

  it("maxBacklog defaults to the stage's bufferSize", () => {
    const { dispatcher } = setup({ partitions: 2, hash: parity }, 3);
    assert.equal(dispatcher.maxBacklog, 3);
    assert.equal(
      new PartitionDispatcher({ partitions: 1, hash: () => 0, maxBacklog: Infinity }).maxBacklog,
      Infinity,
    );
  });

  it("redeliver puts events back at the front of the partition's backlog", () => {
    const { dispatcher, host } = setup({ partitions: 2, hash: parity });
    const first = subscription<number>("first", { partition: 0 });
    const odd = subscription<number>("odd", { partition: 1 });
    dispatcher.subscribe(first);
    dispatcher.subscribe(odd);
    dispatcher.ask(2, first);
    dispatcher.ask(2, odd);
    dispatcher.dispatch([0, 2, 4, 6]);
    assert.deepEqual(host.take(), [["first", [0, 2]]]);
    dispatcher.cancel(first);
    assert.deepEqual(dispatcher.redeliver([0, 2], first), []);
    assert.equal(dispatcher.backlogSize(0), 4);
    const second = subscription<number>("second", { partition: 0 });
    dispatcher.subscribe(second);
    dispatcher.ask(10, second);
    assert.deepEqual(host.take(), [["second", [0, 2, 4, 6]]]);
    // With demand waiting, redelivered events go out at once.
    assert.deepEqual(dispatcher.redeliver([8], second), []);
    assert.deepEqual(host.take(), [["second", [8]]]);
    assert.deepEqual(dispatcher.redeliver([1], subscription("stranger", { partition: 1 })), [1]);
  });

  it("idle is false while a backlog holds events, with or without a subscriber; discard drops those without", () => {
    const { dispatcher } = setup({ partitions: 3, hash: (n: number) => n % 3 });
    const p0 = subscription<number>("p0", { partition: 0 });
    dispatcher.subscribe(p0);
    dispatcher.ask(3, p0);
    dispatcher.dispatch([1, 2, 4]);
    assert.equal(
      dispatcher.idle(),
      false,
      "partitions 1 and 2 keep events for a subscriber to come",
    );
    const p1 = subscription<number>("p1", { partition: 1 });
    dispatcher.subscribe(p1);
    assert.equal(dispatcher.discard(), 1, "only partition 2's event: partition 1 has a subscriber");
    assert.equal(dispatcher.idle(), false);
    dispatcher.ask(2, p1);
    assert.equal(dispatcher.idle(), true);
    assert.equal(dispatcher.discard(), 0);
  });

  it("backlogSize rejects an unknown partition", () => {
    const { dispatcher } = setup({ partitions: 2, hash: parity });
    assert.throws(() => dispatcher.backlogSize(5), {
      name: "RangeError",
      message:
        "Cannot read a backlog size as partition must be an integer in [0, 1]: current value is 5",
    });
  });
});

describe("PartitionDispatcher in a producer", () => {
  it("sends each event to the consumer of its partition", async () => {
    const producer = Producer.from(range(0, 20), {
      dispatcher: new PartitionDispatcher({ partitions: 3, hash: (n: number) => n % 3 }),
    });
    const seen: number[][] = [[], [], []];
    const consumers = [0, 1, 2].map((partition) =>
      new Consumer<number>({
        subscribeTo: [[producer, { partition, maxDemand: 4 }]],
        handleEvents: (events) => void seen[partition].push(...events),
      })
    );
    await Promise.all(consumers.map((c) => c.closed));
    for (const p of [0, 1, 2]) assert.deepEqual(seen[p], range(0, 20).filter((n) => n % 3 === p));
  });

  it("events a failed consumer did not handle go back to its partition, for the next subscriber (redeliver)", async () => {
    const dispatcher = new PartitionDispatcher({ partitions: 2, hash: parity });
    const producer = new Producer<number>({ dispatcher });
    const handled: number[] = [];
    let calls = 0;
    const failing = new Consumer<number>({
      subscribeTo: [[producer, { partition: 0, maxDemand: 4, minDemand: 2, redeliver: true }]],
      handleEvents: (events) => {
        if (++calls === 2) throw new Error("boom");
        handled.push(...events);
      },
    });
    const odd: number[] = [];
    const other = new Consumer<number>({
      subscribeTo: [[producer, { partition: 1 }]],
      handleEvents: (events) => void odd.push(...events),
    });
    producer.emit(range(0, 20));
    await assert.rejects(failing.closed, { message: "boom" });
    assert.deepEqual(handled, [0, 2]);
    assert.ok(dispatcher.backlogSize(0) > 0, "the unhandled events wait in partition 0");
    const next: number[] = [];
    const successor = new Consumer<number>({
      subscribeTo: [[producer, { partition: 0 }]],
      handleEvents: (events) => void next.push(...events),
    });
    await producer.close();
    await Promise.all([successor.closed, other.closed]);
    assert.deepEqual(
      next,
      [4, 6, 8, 10, 12, 14, 16, 18],
      "the failed chunk first, then the rest, once each",
    );
    assert.deepEqual(odd, range(0, 20).filter((n) => n % 2 === 1));
  });

  it("a bad partition option makes subscribeTo throw and leaves nothing behind", async () => {
    const dispatcher = new PartitionDispatcher({ partitions: 2, hash: parity });
    const producer = new Producer<number>({ dispatcher });
    const consumer = new Consumer<number>({ handleEvents: () => {} });
    assert.throws(() => consumer.subscribeTo(producer, { partition: 2 }), {
      name: "RangeError",
      message: "Cannot subscribe as partition must be an integer in [0, 1]: current value is 2",
    });
    assert.throws(() => consumer.subscribeTo(producer), {
      name: "TypeError",
      message:
        "Cannot subscribe as partition must be an integer in [0, 1]: current value is undefined",
    });
    assert.throws(
      () =>
        new Consumer<number>({
          subscribeTo: [[producer, { partition: "x" }]],
          handleEvents: () => {},
        }),
      { name: "TypeError" },
    );
    consumer.subscribeTo(producer, { partition: 0 });
    assert.throws(() => producer.subscribe({ partition: 0 }), {
      name: "TypeError",
      message:
        "Cannot subscribe as partition 0 is taken: each partition has at most one subscription",
    });
    producer.emit([0, 2]);
    await producer.close();
    await consumer.closed;
  });

  it("a hash that returns an unknown key stops the producer with a TypeError", async () => {
    const producer = new Producer<number>({
      dispatcher: new PartitionDispatcher({ partitions: 2, hash: () => 9 }),
    });
    const reader = producer.subscribe({ partition: 0, maxDemand: 2 }).getReader();
    producer.emit([5]);
    await assert.rejects(producer.closed, {
      name: "TypeError",
      message:
        "Cannot dispatch 5 as the key returned by hash must be an integer in [0, 1] or null: current value is 9",
    });
    await assert.rejects(reader.read(), { name: "TypeError" });
  });

  it("a hash that throws stops the producer with that error", async () => {
    const oops = new Error("oops");
    const producer = Producer.from(range(0, 5), {
      dispatcher: new PartitionDispatcher({
        partitions: 1,
        hash: () => {
          throw oops;
        },
      }),
    });
    const consumer = new Consumer<number>({
      subscribeTo: [[producer, { partition: 0 }]],
      handleEvents: () => {},
    });
    await assert.rejects(producer.closed, (error) => error === oops);
    await assert.rejects(consumer.closed, (error) => error === oops);
  });

  it("a late subscriber gets its partition's backlog first, and a closing producer waits for it", async () => {
    const producer = Producer.from(range(0, 10), {
      dispatcher: new PartitionDispatcher({ partitions: 2, hash: parity }),
    });
    let late: Subscription<number> | undefined;
    const odd: number[][] = [];
    const lateConsumer = new Consumer<number>({
      subscribeTo: [[producer, { partition: 1, maxDemand: 10 }]],
      handleSubscribe: (s) => {
        late = s;
        return "manual";
      },
      handleEvents: (events) => void odd.push(events),
    });
    const even: number[] = [];
    const evenDone = deferred();
    const evenConsumer = new Consumer<number>({
      subscribeTo: [[producer, { partition: 0, maxDemand: 10 }]],
      handleEvents: (events) => {
        even.push(...events);
        if (even.length === 5) evenDone.resolve();
      },
    });
    await evenDone.promise;
    await settle();
    assert.deepEqual(even, [0, 2, 4, 6, 8]);
    assert.deepEqual(odd, []);
    let stopped = false;
    producer.closed.then(() => (stopped = true));
    await settle();
    assert.equal(stopped, false, "the producer waits for the partition 1 backlog");
    late!.ask(10);
    await producer.closed;
    await Promise.all([lateConsumer.closed, evenConsumer.closed]);
    assert.deepEqual(odd, [[1, 3, 5, 7, 9]]);
  });

  /** Reads `reader` until a read stays unanswered for two macrotasks (the flow is microtask-driven). */
  async function readUntilStalled(reader: ReadableStreamDefaultReader<number>): Promise<number[]> {
    const read: number[] = [];
    for (;;) {
      const result = await Promise.race([reader.read(), settle().then(settle).then(() => null)]);
      if (result === null || result.done) return read;
      read.push(result.value);
    }
  }

  it("limit: a partition that is never read stalls the others once its backlog is full", async () => {
    let produced = 0;
    const dispatcher = new PartitionDispatcher({ partitions: 2, hash: parity, maxBacklog: 8 });
    const producer = new Producer<number>({
      dispatcher,
      handleDemand: (demand) => range(produced, produced += demand),
    });
    producer.subscribe({ partition: 1, maxDemand: 4 }); // never read
    const reader = toReadableStream([[producer, { partition: 0, maxDemand: 4 }]]).getReader();
    const read = await readUntilStalled(reader);
    assert.ok(
      dispatcher.backlogSize(1) >= 8,
      "partition 0 went on until partition 1's backlog filled",
    );
    // Partition 1 holds 4 in its subscription and 8 (+ what was already asked) in its backlog.
    assert.ok(produced <= 2 * (4 + 8 + 4) + 4, `produced ${produced}`);
    assert.ok(read.length <= produced / 2 + 2, `partition 0 stalls (read ${read.length})`);
    await producer.stop();
  });

  it("a full backlog stops the producer from being asked for more", async () => {
    let produced = 0;
    const dispatcher = new PartitionDispatcher({
      partitions: 2,
      hash: (n: number) => (n % 4 === 3 ? 1 : 0),
      maxBacklog: 8,
    });
    const producer = new Producer<number>({
      dispatcher,
      handleDemand: (demand) => range(produced, produced += demand),
    });
    producer.subscribe({ partition: 1, maxDemand: 4 }); // never read
    const reader = toReadableStream([[producer, { partition: 0, maxDemand: 4 }]]).getReader();
    const read = await readUntilStalled(reader);
    assert.ok(
      read.length >= 24,
      `partition 0 went on until partition 1's backlog filled (read ${read.length})`,
    );
    assert.ok(dispatcher.backlogSize(1) >= 8);
    // Partition 1 holds 4 in its subscription and 8 (+ what was already asked) in its backlog: 1 event in 4.
    assert.ok(produced <= 4 * (4 + 8 + 4), `produced ${produced}`);
    await producer.stop();
  });
});
