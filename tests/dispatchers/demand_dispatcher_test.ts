import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DemandDispatcher, type DispatcherHost, type Subscription } from "../../mod.ts";

type Sent = Array<[string, unknown[]]>;

/** A subscription stand-in: dispatchers only use it as a key. */
function sub(name: string): Subscription<unknown> {
  return { name } as unknown as Subscription<unknown>;
}

function nameOf(subscription: Subscription<unknown>): string {
  return (subscription as unknown as { name: string }).name;
}

/** A DemandDispatcher with a host that records what it is told. */
function setup(options?: ConstructorParameters<typeof DemandDispatcher>[0]) {
  const sent: Sent = [];
  const infos: unknown[] = [];
  const host: DispatcherHost<unknown> = {
    send: (subscription, events) => void sent.push([nameOf(subscription), events]),
    ask: () => assert.fail("DemandDispatcher never asks on behalf of a subscription"),
    info: (message) => void infos.push(message),
    cancel: () => assert.fail("DemandDispatcher never cancels"),
    bufferSize: 10_000,
  };
  const dispatcher = new DemandDispatcher<unknown>(options);
  dispatcher.init(host);
  return { dispatcher, sent, infos };
}

/** Replaces console.warn while `body` runs, returning what it was given. */
function warnings(body: () => void): string[] {
  const seen: string[] = [];
  const original = console.warn;
  console.warn = (...args: unknown[]) => void seen.push(args.join(" "));
  try {
    body();
  } finally {
    console.warn = original;
  }
  return seen;
}

describe("DemandDispatcher", () => {
  it("D1: subscribe adds a subscription with no demand and cancel removes it, asking nothing", () => {
    const { dispatcher } = setup();
    const r1 = sub("r1");
    assert.equal(dispatcher.subscribe(r1), 0);
    assert.equal(dispatcher.demandOf(r1), 0);
    assert.equal(dispatcher.cancel(r1), 0);
    assert.equal(dispatcher.pending, 0);
    assert.equal(dispatcher.ask(3, r1), 0, "an unknown subscription asks nothing upstream");
  });

  it("D2: the demand of a cancelled subscription becomes pending and is not asked twice", () => {
    const { dispatcher, sent } = setup();
    const r1 = sub("r1");
    dispatcher.subscribe(r1);
    assert.equal(dispatcher.ask(10, r1), 10);
    assert.equal(dispatcher.cancel(r1), 0);
    assert.equal(dispatcher.pending, 10);
    const r2 = sub("r2");
    dispatcher.subscribe(r2);
    assert.equal(dispatcher.ask(5, r2), 0);
    assert.equal(dispatcher.pending, 5);
    assert.equal(dispatcher.cancel(r2), 0);
    assert.equal(dispatcher.pending, 10);
    assert.deepEqual(dispatcher.dispatch(["a", "b", "c"]), ["a", "b", "c"]);
    assert.equal(dispatcher.pending, 7);
    const ten = Array.from({ length: 10 }, (_, i) => i);
    assert.deepEqual(dispatcher.dispatch(ten), ten);
    assert.equal(dispatcher.pending, 0);
    assert.deepEqual(sent, []);
  });

  it("D3: the survivor takes what it asked for and the rest is leftover, lowering pending", () => {
    const { dispatcher, sent } = setup();
    const r1 = sub("r1"), r2 = sub("r2");
    dispatcher.subscribe(r1);
    dispatcher.subscribe(r2);
    assert.equal(dispatcher.ask(3, r1), 3);
    assert.equal(dispatcher.ask(3, r2), 3);
    assert.equal(dispatcher.cancel(r1), 0);
    assert.equal(dispatcher.pending, 3);
    assert.deepEqual(dispatcher.dispatch(["a", "b", "c", "d", "e"]), ["d", "e"]);
    assert.deepEqual(sent, [["r2", ["a", "b", "c"]]]);
    assert.equal(dispatcher.pending, 1);
  });

  it("D4: sends up to the demand and returns the rest, in order", () => {
    const { dispatcher, sent } = setup();
    const r1 = sub("r1");
    dispatcher.subscribe(r1);
    assert.equal(dispatcher.ask(3, r1), 3);
    assert.deepEqual(dispatcher.dispatch(["a"]), []);
    assert.deepEqual(sent, [["r1", ["a"]]]);
    assert.equal(dispatcher.demandOf(r1), 2);
    assert.equal(dispatcher.ask(3, r1), 3);
    assert.equal(dispatcher.demandOf(r1), 5);
    assert.deepEqual(dispatcher.dispatch(["b", "c", "d", "e", "f", "g", "h"]), ["g", "h"]);
    assert.deepEqual(sent[1], ["r1", ["b", "c", "d", "e", "f"]]);
    assert.equal(dispatcher.demandOf(r1), 0);
    assert.deepEqual(dispatcher.dispatch(["i", "j"]), ["i", "j"]);
    assert.equal(sent.length, 2);
  });

  it("D5: orders subscriptions by demand, largest first, ties in order of asking", () => {
    const order = (asks: Array<[string, number]>): string[] => {
      const { dispatcher, sent } = setup();
      const subs = new Map(["r1", "r2", "r3"].map((n) => [n, sub(n)]));
      for (const s of subs.values()) dispatcher.subscribe(s);
      let total = 0;
      for (const [name, count] of asks) {
        assert.equal(dispatcher.ask(count, subs.get(name)!), count);
        total += count;
      }
      dispatcher.dispatch(Array.from({ length: total }, (_, i) => i));
      return sent.map(([name, events]) => `${events.length}:${name}`);
    };
    assert.deepEqual(order([["r1", 4], ["r2", 2], ["r3", 3]]), ["4:r1", "3:r3", "2:r2"]);
    assert.deepEqual(order([["r1", 4], ["r2", 2], ["r3", 3], ["r3", 2]]), ["5:r3", "4:r1", "2:r2"]);
    assert.deepEqual(
      order([["r1", 4], ["r2", 2], ["r3", 3], ["r3", 2], ["r2", 4]]),
      ["6:r2", "5:r3", "4:r1"],
    );
  });

  it("D6: sends a batch whole to the largest demand and splits it only when it exceeds that demand", () => {
    const { dispatcher, sent } = setup();
    const r1 = sub("r1"), r2 = sub("r2");
    dispatcher.subscribe(r1);
    dispatcher.subscribe(r2);
    dispatcher.ask(3, r1);
    dispatcher.ask(2, r2);
    assert.deepEqual(dispatcher.dispatch(["a", "b", "c", "d", "e"]), []);
    assert.deepEqual(sent.splice(0), [["r1", ["a", "b", "c"]], ["r2", ["d", "e"]]]);
    assert.deepEqual(dispatcher.dispatch(["a", "b", "c"]), ["a", "b", "c"]);
    assert.deepEqual(sent, []);
    dispatcher.ask(3, r1);
    dispatcher.ask(3, r2);
    assert.deepEqual(dispatcher.dispatch(["a", "b"]), []);
    assert.deepEqual(sent.splice(0), [["r1", ["a", "b"]]]);
    assert.equal(dispatcher.demandOf(r1), 1);
    assert.equal(dispatcher.demandOf(r2), 3);
    assert.deepEqual(dispatcher.dispatch(["c", "d"]), []);
    assert.deepEqual(sent.splice(0), [["r2", ["c", "d"]]]);
    assert.deepEqual(dispatcher.dispatch(["e", "f", "g"]), ["g"]);
    assert.deepEqual(sent.splice(0), [["r1", ["e"]], ["r2", ["f"]]]);
  });

  it("D7: shuffleDemandsOnFirstDispatch shuffles the first dispatch only", () => {
    const outcomes = new Set<string>();
    for (let trial = 0; trial < 64; trial++) {
      const { dispatcher, sent } = setup({ shuffleDemandsOnFirstDispatch: true });
      const r1 = sub("r1"), r2 = sub("r2");
      dispatcher.subscribe(r1);
      dispatcher.subscribe(r2);
      dispatcher.ask(3, r1);
      dispatcher.ask(2, r2);
      assert.deepEqual(dispatcher.dispatch(["a", "b", "c", "d", "e"]), []);
      const first = JSON.stringify(sent.splice(0));
      assert.ok(
        first === JSON.stringify([["r1", ["a", "b", "c"]], ["r2", ["d", "e"]]]) ||
          first === JSON.stringify([["r2", ["a", "b"]], ["r1", ["c", "d", "e"]]]),
        first,
      );
      outcomes.add(first);
      // Later dispatches follow demand again.
      dispatcher.ask(1, r1);
      dispatcher.ask(2, r2);
      dispatcher.dispatch(["f", "g", "h"]);
      assert.deepEqual(sent, [["r2", ["f", "g"]], ["r1", ["h"]]]);
    }
    assert.equal(outcomes.size, 2, "both orders occur");
  });

  it("D7: the shuffled first dispatch skips a subscription with no demand instead of buffering everything", () => {
    // GenStage stops at the first zero demand after its shuffle; here a
    // subscription that asked would then wait for events its producer buffered.
    for (let trial = 0; trial < 64; trial++) {
      const { dispatcher, sent } = setup({ shuffleDemandsOnFirstDispatch: true });
      const idle = sub("idle"), r1 = sub("r1"), r2 = sub("r2");
      dispatcher.subscribe(idle);
      dispatcher.subscribe(r1);
      dispatcher.subscribe(r2);
      dispatcher.ask(2, r1);
      dispatcher.ask(2, r2);
      assert.deepEqual(dispatcher.dispatch(["a", "b", "c", "d", "e"]), ["e"]);
      assert.equal(sent.length, 2);
      assert.deepEqual(sent.map(([, events]) => events).flat(), ["a", "b", "c", "d"]);
      assert.equal(dispatcher.demandOf(idle), 0);
      // Sorted by demand again afterwards.
      dispatcher.ask(1, r1);
      dispatcher.ask(3, idle);
      sent.splice(0);
      dispatcher.dispatch(["f", "g", "h", "i"]);
      assert.deepEqual(sent, [["idle", ["f", "g", "h"]], ["r1", ["i"]]]);
    }
  });

  it("D8: info is delivered at once, changing nothing", () => {
    const { dispatcher, infos, sent } = setup();
    const r1 = sub("r1");
    dispatcher.subscribe(r1);
    dispatcher.ask(2, r1);
    dispatcher.info("hello");
    assert.deepEqual(infos, ["hello"]);
    assert.equal(dispatcher.demandOf(r1), 2);
    assert.deepEqual(sent, []);
  });

  it("D9: an ask above the expected maximum demand warns and is still honoured", () => {
    const { dispatcher } = setup({ maxDemand: 3 });
    const r1 = sub("r1");
    dispatcher.subscribe(r1);
    let result = 0;
    const seen = warnings(() => void (result = dispatcher.ask(4, r1)));
    assert.equal(result, 4);
    assert.deepEqual(seen, [
      "DemandDispatcher expects a maximum demand of 3: got a demand for 4 events. " +
      "Using different maximum demands overloads greedy consumers",
    ]);
    // Without the option, the first ask sets the maximum.
    const other = setup();
    const r2 = sub("r2");
    other.dispatcher.subscribe(r2);
    assert.deepEqual(warnings(() => void other.dispatcher.ask(5, r2)), []);
    assert.deepEqual(warnings(() => void other.dispatcher.ask(5, r2)), []);
    assert.equal(warnings(() => void other.dispatcher.ask(6, r2)).length, 1);
  });

  it("refuses to serve two stages", () => {
    const { dispatcher } = setup();
    assert.throws(() => dispatcher.init({} as DispatcherHost<unknown>), {
      name: "TypeError",
      message: "Cannot use a DemandDispatcher in two stages: create one per stage",
    });
  });

  it("over random subscribe/ask/cancel/dispatch sequences never oversends, never asks twice, loses nothing", () => {
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (let run = 0; run < 200; run++) {
      const { dispatcher, sent } = setup();
      const live: Subscription<unknown>[] = [];
      const asked = new Map<string, number>();
      const received = new Map<string, number>();
      let names = 0;
      let upstream = 0;
      let totalAsked = 0;
      let cancelled = 0;
      let next = 0;
      const out: number[] = [];
      const leftovers: number[] = [];
      const warn = console.warn;
      console.warn = () => {};
      try {
        for (let step = 0; step < 60; step++) {
          const r = random();
          if (r < 0.2 || live.length === 0) {
            const s = sub(`s${names++}`);
            assert.equal(dispatcher.subscribe(s), 0);
            live.push(s);
          } else if (r < 0.55) {
            const s = live[Math.floor(random() * live.length)];
            const count = 1 + Math.floor(random() * 10);
            asked.set(nameOf(s), (asked.get(nameOf(s)) ?? 0) + count);
            totalAsked += count;
            const demand = dispatcher.ask(count, s);
            assert.ok(demand >= 0 && demand <= count);
            upstream += demand;
          } else if (r < 0.65) {
            const [s] = live.splice(Math.floor(random() * live.length), 1);
            cancelled += dispatcher.demandOf(s);
            assert.equal(dispatcher.cancel(s), 0);
          } else {
            const events = Array.from({ length: 1 + Math.floor(random() * 12) }, () => next++);
            const leftover = dispatcher.dispatch(events) as number[];
            const placed = sent.splice(0);
            for (const [name, batch] of placed) {
              assert.ok(batch.length > 0);
              received.set(name, (received.get(name) ?? 0) + batch.length);
              out.push(...(batch as number[]));
            }
            out.push(...leftover);
            leftovers.push(...leftover);
            // Leftover is the tail of the batch, in order.
            assert.deepEqual(leftover, events.slice(events.length - leftover.length));
          }
          // Pending is demand already asked upstream for subscriptions that left: never more.
          assert.ok(dispatcher.pending <= cancelled);
        }
      } finally {
        console.warn = warn;
      }
      for (const [name, count] of received) assert.ok(count <= (asked.get(name) ?? 0), name);
      assert.ok(upstream <= totalAsked, "never asks upstream for more than was asked");
      assert.deepEqual([...out].sort((a, b) => a - b), Array.from({ length: next }, (_, i) => i));
    }
  });
});
