import { afterEach, beforeEach, describe, it, mock } from "node:test";
import assert from "node:assert/strict";
import {
  BroadcastDispatcher,
  Consumer,
  DemandDispatcher,
  type Dispatcher,
  Producer,
  ProducerConsumer,
  type Subscription,
} from "../../mod.ts";
import { deferred, range, settle } from "../_helpers.ts";
import { RecordingHost, subscription } from "./_host.ts";

function setup<T = unknown>() {
  const dispatcher = new BroadcastDispatcher<T>();
  const host = new RecordingHost<T>();
  dispatcher.init(host);
  return { dispatcher, host };
}

/**
 * A producer emitting start, start + 1, … on demand. A broadcasting one
 * starts in "accumulate" mode: call `setDemandMode("forward")` once every
 * consumer has subscribed, so the first one does not get the first batch alone.
 */
function counter(
  start: number,
  dispatcher: Dispatcher<number> = new BroadcastDispatcher(),
): Producer<number> {
  let next = start;
  return new Producer<number>({
    dispatcher,
    demand: dispatcher instanceof BroadcastDispatcher ? "accumulate" : "forward",
    handleDemand: (demand) => range(next, next += demand),
  });
}

describe("BroadcastDispatcher as a state machine", () => {
  const warn = console.warn;
  let warnings: ReturnType<typeof mock.fn>;
  beforeEach(() => {
    warnings = mock.fn();
    console.warn = warnings as unknown as typeof console.warn;
  });
  afterEach(() => {
    console.warn = warn;
  });

  it("B1: a subscription starts with no demand and leaves nothing behind when cancelled", () => {
    const { dispatcher, host } = setup<number>();
    const s = subscription<number>("s");
    assert.equal(dispatcher.subscribe(s), 0);
    assert.equal(dispatcher.demandOf(s), 0);
    assert.equal(dispatcher.waiting, 0);
    assert.equal(dispatcher.requested, 0);
    assert.equal(dispatcher.cancel(s), 0);
    assert.equal(dispatcher.ask(5, s), 0, "a cancelled subscription's ask is ignored");
    assert.deepEqual(dispatcher.dispatch([1]), [1]);
    assert.deepEqual(host.sent, []);
  });

  it("B2: an ask is forwarded once; after the last subscription leaves, events are leftovers and requested is kept", () => {
    const { dispatcher, host } = setup<number>();
    const s = subscription<number>("s");
    dispatcher.subscribe(s);
    assert.equal(dispatcher.ask(10, s), 10);
    assert.equal(dispatcher.waiting, 10);
    assert.equal(dispatcher.requested, 10);
    assert.equal(dispatcher.cancel(s), 0);
    assert.equal(dispatcher.waiting, 0);
    assert.equal(dispatcher.requested, 10);
    assert.deepEqual(dispatcher.dispatch([1, 2, 3]), [1, 2, 3]);
    assert.deepEqual(host.sent, []);
  });

  it("B3: demand already requested covers a later subscriber's ask", () => {
    const { dispatcher } = setup<number>();
    const c1 = subscription<number>("c1");
    const c2 = subscription<number>("c2");
    dispatcher.subscribe(c1);
    assert.equal(dispatcher.ask(10, c1), 10);
    dispatcher.subscribe(c2);
    assert.equal(dispatcher.demandOf(c1), 10);
    assert.equal(dispatcher.waiting, 0, "the newcomer resets what everyone can take");
    assert.equal(dispatcher.cancel(c1), 0);
    assert.equal(dispatcher.ask(10, c2), 0, "requested (10) covers it");
    assert.equal(dispatcher.waiting, 10);
  });

  it("B4: cancelling the slowest subscription releases the others' demand upstream", () => {
    const { dispatcher } = setup<number>();
    const c1 = subscription<number>("c1");
    const c2 = subscription<number>("c2");
    dispatcher.subscribe(c1);
    dispatcher.subscribe(c2);
    assert.equal(dispatcher.ask(10, c1), 0);
    assert.equal(dispatcher.cancel(c2), 10);
    assert.equal(dispatcher.ask(10, c1), 10);
    assert.equal(dispatcher.waiting, 20);
    assert.equal(dispatcher.requested, 20);
  });

  it("B5: events flow at the pace of the smallest demand, and a new subscriber holds everyone back until it asks", () => {
    const { dispatcher, host } = setup<string>();
    const [c1, c2, c3] = ["c1", "c2", "c3"].map((n) => subscription<string>(n));
    dispatcher.subscribe(c1);
    dispatcher.subscribe(c2);
    assert.equal(dispatcher.ask(3, c1), 0);
    assert.equal(dispatcher.ask(2, c2), 2);
    assert.deepEqual(dispatcher.dispatch(["a", "b"]), []);
    assert.deepEqual(host.take(), [["c1", ["a", "b"]], ["c2", ["a", "b"]]]);
    assert.equal(dispatcher.ask(2, c2), 1);
    assert.deepEqual(dispatcher.dispatch(["c", "d"]), ["d"]);
    assert.deepEqual(host.take(), [["c1", ["c"]], ["c2", ["c"]]]);
    assert.deepEqual(dispatcher.dispatch(["d"]), ["d"]);
    assert.deepEqual(host.take(), []);
    assert.equal(dispatcher.ask(1, c1), 1);
    dispatcher.subscribe(c3);
    assert.deepEqual(dispatcher.dispatch(["d", "e"]), ["d", "e"]);
    assert.deepEqual(host.take(), []);
    assert.equal(dispatcher.ask(2, c1), 0);
    assert.equal(dispatcher.ask(2, c2), 0);
    assert.equal(dispatcher.ask(3, c3), 2);
    assert.deepEqual(dispatcher.dispatch(["d", "e", "f"]), []);
    assert.deepEqual(host.take(), [
      ["c1", ["d", "e", "f"]],
      ["c2", ["d", "e", "f"]],
      ["c3", ["d", "e", "f"]],
    ]);
  });

  it("B6: a subscriber joining after a dispatch gets the events asked for after it joined", () => {
    const { dispatcher, host } = setup<number>();
    const c1 = subscription<number>("c1");
    const c2 = subscription<number>("c2");
    dispatcher.subscribe(c1);
    assert.equal(dispatcher.ask(10, c1), 10);
    assert.deepEqual(dispatcher.dispatch([1, 2, 3]), []);
    assert.equal(dispatcher.waiting, 7);
    assert.equal(dispatcher.requested, 7);
    dispatcher.subscribe(c2);
    assert.equal(dispatcher.demandOf(c1), 7);
    assert.equal(dispatcher.waiting, 0);
    assert.equal(dispatcher.ask(20, c2), 0);
    host.take();
    const seven = range(4, 11);
    assert.deepEqual(dispatcher.dispatch(seven), []);
    assert.deepEqual(host.take(), [["c1", seven], ["c2", seven]]);
    assert.equal(dispatcher.demandOf(c2), 13);
    assert.equal(dispatcher.demandOf(c1), 0);
  });

  it("B7: requested survives the last subscription and is matched before asking again", () => {
    const { dispatcher, host } = setup<number>();
    const c1 = subscription<number>("c1");
    const c2 = subscription<number>("c2");
    dispatcher.subscribe(c1);
    assert.equal(dispatcher.ask(10, c1), 10);
    dispatcher.cancel(c1);
    assert.equal(dispatcher.requested, 10);
    dispatcher.subscribe(c2);
    assert.equal(dispatcher.ask(5, c2), 0);
    assert.deepEqual(dispatcher.dispatch([1, 2, 3]), []);
    assert.deepEqual(host.take(), [["c2", [1, 2, 3]]]);
    assert.equal(dispatcher.waiting, 2);
    assert.equal(dispatcher.requested, 7);
  });

  it("B8: cancelling a subscriber that never asked releases what the others asked for", () => {
    const { dispatcher } = setup<number>();
    const c1 = subscription<number>("c1");
    const c2 = subscription<number>("c2");
    dispatcher.subscribe(c1);
    assert.equal(dispatcher.ask(10, c1), 10);
    dispatcher.subscribe(c2);
    assert.equal(dispatcher.ask(5, c1), 0);
    assert.equal(dispatcher.cancel(c2), 5);
    assert.equal(dispatcher.waiting, 15);
    assert.equal(dispatcher.requested, 15);
  });

  it("B9: a selector keeps its events in order and refunds the demand of the others", () => {
    const { dispatcher, host } = setup<{ key: string }>();
    const pre = subscription<{ key: string }>("pre", { selector: (e) => e.key.startsWith("pre") });
    const pref = subscription<{ key: string }>("pref", {
      selector: (e) => e.key.startsWith("pref"),
    });
    dispatcher.subscribe(pre);
    dispatcher.subscribe(pref);
    dispatcher.ask(4, pre);
    assert.equal(dispatcher.ask(4, pref), 4);
    const events = [{ key: "pref-1234" }, { key: "pref-5678" }, { key: "pre0000" }, {
      key: "foo0000",
    }];
    assert.deepEqual(dispatcher.dispatch(events), []);
    assert.deepEqual(host.take(), [
      ["pre", [events[0], events[1], events[2]]],
      ["pref", [events[0], events[1]]],
    ]);
    assert.deepEqual(host.asks, [["pre", 1], ["pref", 2]]);
  });

  it("B10: info is delivered at once", () => {
    const { dispatcher, host } = setup<number>();
    const s = subscription<number>("s");
    dispatcher.subscribe(s);
    dispatcher.info("hello");
    assert.deepEqual(host.infos, ["hello"]);
  });

  it('B11: the same consumer subscribing again gets the new subscription cancelled with "already_subscribed"', () => {
    const { dispatcher, host } = setup<number>();
    const consumer = {};
    const first = subscription<number>("first", {}, consumer);
    const second = subscription<number>("second", {}, consumer);
    dispatcher.subscribe(first);
    assert.equal(dispatcher.subscribe(second), 0);
    assert.deepEqual(host.cancels, [["second", "already_subscribed"]]);
    assert.equal(warnings.mock.callCount(), 1);
    assert.match(String(warnings.mock.calls[0].arguments[0]), /already subscribed/);
    assert.equal(dispatcher.ask(3, second), 0, "the rejected subscription is unknown");
    assert.equal(dispatcher.ask(3, first), 3);
    dispatcher.dispatch([1, 2, 3]);
    assert.deepEqual(host.take(), [["first", [1, 2, 3]]]);
  });

  it("raw subscriptions (no consumer) are never duplicates of each other", () => {
    const { dispatcher, host } = setup<number>();
    const a = subscription<number>("a", {}, null);
    const b = subscription<number>("b", {}, null);
    dispatcher.subscribe(a);
    dispatcher.subscribe(b);
    assert.deepEqual(host.cancels, []);
    dispatcher.ask(1, a);
    assert.equal(dispatcher.ask(1, b), 1);
  });

  it("gives each subscription its own copy of a batch", () => {
    const { dispatcher, host } = setup<number>();
    const a = subscription<number>("a");
    const b = subscription<number>("b");
    dispatcher.subscribe(a);
    dispatcher.subscribe(b);
    dispatcher.ask(2, a);
    dispatcher.ask(2, b);
    dispatcher.dispatch([1, 2]);
    const [[, first], [, second]] = host.take();
    assert.deepEqual(first, second);
    assert.notEqual(first, second);
  });

  it("drops redelivered events, which the other subscriptions already received", () => {
    const { dispatcher } = setup<number>();
    const a = subscription<number>("a");
    dispatcher.subscribe(a);
    assert.deepEqual(dispatcher.redeliver([1, 2], a), []);
  });

  it("cannot be used by two stages", () => {
    const { dispatcher } = setup<number>();
    assert.throws(() => dispatcher.init(new RecordingHost()), {
      name: "TypeError",
      message: "Cannot use a BroadcastDispatcher in two stages: create one per stage",
    });
  });
});

describe("BroadcastDispatcher in a producer", () => {
  it("G5: consumers with different demands receive the same batches", async () => {
    const producer = counter(0);
    const batches: number[][][] = [[], []];
    const done = [deferred(), deferred()];
    const consumers = [10, 20].map((maxDemand, i) =>
      new Consumer<number>({
        subscribeTo: [[producer, { maxDemand, minDemand: 0 }]],
        handleEvents: (events) => {
          batches[i].push(events);
          if (events.includes(1009)) done[i].resolve();
        },
      })
    );
    producer.setDemandMode("forward");
    await Promise.all(done.map((d) => d.promise));
    await producer.stop();
    await Promise.all(consumers.map((c) => c.closed));
    for (const seen of batches) {
      assert.deepEqual(seen.flat().slice(0, 1010), range(0, 1010));
      assert.ok(
        seen.some((batch) => batch.length === 10 && batch[0] === 1000),
        "the batch [1000..1009]",
      );
    }
  });

  it("G6: a subscriber that never asks holds everyone back until it is cancelled", async () => {
    const producer = counter(1000);
    let stale: Subscription<number> | undefined;
    const staleConsumer = new Consumer<number>({
      subscribeTo: [[producer, { cancel: "temporary" }]],
      handleSubscribe: (s) => {
        stale = s;
        return "manual";
      },
      handleEvents: () => assert.fail("the stale subscriber asked for nothing"),
    });
    const batches: number[][][] = [[], []];
    const got = [deferred(), deferred()];
    const consumers = [10, 20].map((maxDemand, i) =>
      new Consumer<number>({
        subscribeTo: [[producer, { maxDemand, minDemand: 0 }]],
        handleEvents: (events) => {
          batches[i].push(events);
          got[i].resolve();
          return new Promise(() => {}); // hold: one batch is enough
        },
      })
    );
    producer.setDemandMode("forward");
    await settle();
    assert.deepEqual(batches, [[], []]);
    stale!.cancel();
    await Promise.all(got.map((d) => d.promise));
    assert.deepEqual(batches, [[range(1000, 1010)], [range(1000, 1010)]]);
    await producer.stop();
    await Promise.all([staleConsumer, ...consumers].map((c) => c.stop()));
  });

  it("G7: handleDemand is called once with the smallest demand, never twice", async () => {
    const demands: number[] = [];
    const producer = new Producer<number>({
      dispatcher: new BroadcastDispatcher(),
      handleDemand: (demand) => void demands.push(demand),
    });
    const consumers = [10, 20].map((maxDemand) =>
      new Consumer<number>({
        subscribeTo: [[producer, { maxDemand, minDemand: 0 }]],
        handleEvents: () => {},
      })
    );
    await settle();
    assert.deepEqual(demands, [10]);
    await producer.stop();
    await Promise.all(consumers.map((c) => c.closed));
  });

  function doubler(upstream: Producer<number>): ProducerConsumer<number, number> {
    return new ProducerConsumer<number, number>({
      dispatcher: new BroadcastDispatcher(),
      subscribeTo: [[upstream, { maxDemand: 10 }]],
      handleEvents: (events) => events.flatMap((e) => [e, e]),
    });
  }

  const doubled = [200, 200, 201, 201, 202, 202, 203, 203, 204, 204];

  it("G14: a producer-consumer broadcasts its output to consumers with different demands", async () => {
    const stage = doubler(counter(200, new DemandDispatcher()));
    const batches: number[][][] = [[], []];
    const got = [deferred(), deferred()];
    const consumers = [10, 20].map((maxDemand, i) =>
      new Consumer<number>({
        subscribeTo: [[stage, { maxDemand, minDemand: 0 }]],
        handleEvents: (events) => {
          batches[i].push(events);
          got[i].resolve();
          return new Promise(() => {});
        },
      })
    );
    await Promise.all(got.map((d) => d.promise));
    assert.deepEqual(batches, [[doubled], [doubled]]);
    await stage.stop();
    await Promise.all(consumers.map((c) => c.stop()));
  });

  it("G15: a stale subscriber of a producer-consumer holds back until it is cancelled", async () => {
    const stage = doubler(counter(200, new DemandDispatcher()));
    let stale: Subscription<number> | undefined;
    const staleConsumer = new Consumer<number>({
      subscribeTo: [[stage, { cancel: "temporary" }]],
      handleSubscribe: (s) => {
        stale = s;
        return "manual";
      },
      handleEvents: () => assert.fail("the stale subscriber asked for nothing"),
    });
    const batches: number[][][] = [[], []];
    const got = [deferred(), deferred()];
    const consumers = [10, 20].map((maxDemand, i) =>
      new Consumer<number>({
        subscribeTo: [[stage, { maxDemand, minDemand: 0 }]],
        handleEvents: (events) => {
          batches[i].push(events);
          got[i].resolve();
          return new Promise(() => {});
        },
      })
    );
    await settle();
    assert.deepEqual(batches, [[], []]);
    stale!.cancel();
    await Promise.all(got.map((d) => d.promise));
    assert.deepEqual(batches, [[doubled], [doubled]]);
    await stage.stop();
    await Promise.all([staleConsumer, ...consumers].map((c) => c.stop()));
  });

  it('G47: a consumer subscribing twice keeps one subscription and does not stop on "already_subscribed"', async () => {
    const warn = console.warn;
    console.warn = () => {};
    try {
      const producer = new Producer<number>({ dispatcher: new BroadcastDispatcher() });
      const cancels: unknown[] = [];
      const seen: number[] = [];
      const consumer = new Consumer<number>({
        subscribeTo: [[producer, { maxDemand: 4 }]],
        handleCancel: (_, reason) => void cancels.push(reason),
        handleEvents: (events) => void seen.push(...events),
      });
      consumer.subscribeTo(producer, { maxDemand: 4 });
      await settle();
      assert.deepEqual(cancels, ["already_subscribed"]);
      producer.emit([1, 2, 3]);
      await producer.close();
      await consumer.closed; // the remaining permanent subscription ended normally
      assert.deepEqual(seen, [1, 2, 3], "each event once: one subscription left");
      assert.deepEqual(cancels, ["already_subscribed", "normal"]);
    } finally {
      console.warn = warn;
    }
  });

  it("a filtering consumer does not slow the others", async () => {
    const producer = counter(0);
    const all: number[] = [];
    const even: number[] = [];
    const done = deferred();
    const consumers = [
      new Consumer<number>({
        subscribeTo: [[producer, { maxDemand: 4, minDemand: 2 }]],
        handleEvents: (events) => {
          all.push(...events);
          if (all.length >= 40) done.resolve();
        },
      }),
      new Consumer<number>({
        subscribeTo: [[producer, {
          maxDemand: 4,
          minDemand: 2,
          selector: (n: number) => n % 2 === 0,
        }]],
        handleEvents: (events) => void even.push(...events),
      }),
    ];
    producer.setDemandMode("forward");
    await done.promise;
    await producer.stop();
    await Promise.all(consumers.map((c) => c.closed));
    assert.deepEqual(all.slice(0, 40), range(0, 40));
    assert.deepEqual(even.slice(0, 19), range(0, 38).filter((n) => n % 2 === 0));
  });

  it("a consumer that leaves stops holding the others back at once", async () => {
    const producer = counter(0);
    const slowGot = deferred();
    const slow = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 4, minDemand: 2, cancel: "temporary" }]],
      handleEvents: () => {
        slowGot.resolve();
        return new Promise(() => {}); // stalls
      },
    });
    const fast: number[] = [];
    const done = deferred();
    const consumer = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 4, minDemand: 2 }]],
      handleEvents: (events) => {
        fast.push(...events);
        if (fast.length >= 20) done.resolve();
      },
    });
    producer.setDemandMode("forward");
    await slowGot.promise;
    await settle();
    assert.ok(
      fast.length <= 6,
      `the stalled consumer holds the fast one back (got ${fast.length})`,
    );
    await slow.stop();
    await done.promise;
    assert.deepEqual(fast.slice(0, 20), range(0, 20));
    await producer.stop();
    await consumer.closed;
  });
});
