// BroadcastDispatcher's lag policy (DESIGN §5.3): as a state machine, in a
// producer, and through broadcast().

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  broadcast,
  BroadcastDispatcher,
  type BroadcastDispatcherOptions,
  Consumer,
  Producer,
  type Subscription,
} from "../../mod.ts";
import { deferred, range, settle } from "../_helpers.ts";
import { countingSource, drain, readUntilStalled, take } from "../_counting.ts";
import { captureWarnings } from "../_stages.ts";
import { RecordingHost, subscription, type TestSubscription } from "./_host.ts";

function setup<T = number>(options: BroadcastDispatcherOptions) {
  const dispatcher = new BroadcastDispatcher<T>(options);
  const host = new RecordingHost<T>();
  dispatcher.init(host);
  return { dispatcher, host };
}

/** Every event each subscription received, by name. */
function received<T>(host: RecordingHost<T>): Record<string, T[]> {
  const out: Record<string, T[]> = {};
  for (const [name, events] of host.take()) (out[name] ??= []).push(...events);
  return out;
}

describe("BroadcastDispatcher lag policy as a state machine", () => {
  it('"wait" with maxLag 3 lets the fastest go 3 events ahead, then asks nothing more', () => {
    const { dispatcher, host } = setup({ maxLag: 3, onLag: "wait" });
    const fast = subscription<number>("fast");
    const slow = subscription<number>("slow");
    dispatcher.subscribe(fast);
    dispatcher.subscribe(slow);
    assert.equal(dispatcher.ask(10, fast), 3, "slow asked nothing: 3 events of lag allowed");
    assert.deepEqual(dispatcher.dispatch([0, 1, 2, 3]), [3], "the fourth is a leftover");
    assert.deepEqual(received(host), { fast: [0, 1, 2] });
    assert.equal(dispatcher.lagOf(slow), 3);
    assert.equal(dispatcher.lagOf(fast), 0);
    assert.equal(dispatcher.idle(), false, "events are kept for slow");
    assert.equal(dispatcher.ask(2, slow), 2, "slow caught up 2: the window moves by 2");
    assert.deepEqual(received(host), { slow: [0, 1] });
    assert.deepEqual(dispatcher.dispatch([3, 4]), []);
    assert.deepEqual(received(host), { fast: [3, 4] });
    assert.equal(dispatcher.lagOf(slow), 3);
    assert.equal(dispatcher.ask(10, slow), 7, "slow now asks for the most: it leads, fast may lag");
    assert.deepEqual(received(host), { slow: [2, 3, 4] });
    assert.equal(dispatcher.idle(), true);
  });

  it('"wait" with maxLag 0 gives the same answers as GenStage\'s dispatcher (the default)', () => {
    const a = setup({});
    const b = setup({ maxLag: 0, onLag: "wait" });
    const subs = ["x", "y"].map((name) => subscription<number>(name));
    const answers = (d: BroadcastDispatcher<number>, host: RecordingHost<number>) => [
      d.subscribe(subs[0]),
      d.subscribe(subs[1]),
      d.ask(5, subs[0]),
      d.ask(3, subs[1]),
      d.dispatch([1, 2, 3, 4]),
      d.ask(4, subs[1]),
      d.dispatch([4, 5, 6]),
      d.cancel(subs[1]),
      d.waiting,
      d.requested,
      host.take(),
    ];
    assert.deepEqual(answers(b.dispatcher, b.host), answers(a.dispatcher, a.host));
  });

  it('"cancel" cancels a subscription lagging more than maxLag with "lagging" and stops waiting for it', () => {
    const { dispatcher, host } = setup({ maxLag: 2, onLag: "cancel" });
    const fast = subscription<number>("fast");
    const slow = subscription<number>("slow");
    dispatcher.subscribe(fast);
    dispatcher.subscribe(slow);
    assert.equal(dispatcher.ask(5, fast), 5);
    assert.equal(dispatcher.ask(1, slow), 0, "the fastest paces upstream demand");
    assert.deepEqual(dispatcher.dispatch([0, 1, 2]), []);
    assert.deepEqual(received(host), { fast: [0, 1, 2], slow: [0] });
    assert.deepEqual(host.cancels, [], "a lag of 2 is allowed");
    assert.deepEqual(dispatcher.dispatch([3, 4]), []);
    assert.deepEqual(received(host), { fast: [3, 4] });
    assert.deepEqual(host.cancels, [["slow", "lagging"]]);
    assert.equal(dispatcher.lagOf(slow), 0, "it is gone");
    assert.equal(dispatcher.idle(), true, "nothing is kept for it any more");
    assert.equal(dispatcher.cancel(slow), 0, "the core's cancel that follows is a no-op");
    assert.equal(dispatcher.ask(3, fast), 3);
  });

  it('"drop" keeps the latest maxLag events for a lagging subscription and reports the rest', () => {
    const { dispatcher, host } = setup({ maxLag: 3, onLag: "drop" });
    const fast = subscription<number>("fast");
    const slow = subscription<number>("slow");
    dispatcher.subscribe(fast);
    dispatcher.subscribe(slow);
    assert.equal(dispatcher.ask(10, fast), 10);
    assert.deepEqual(dispatcher.dispatch(range(0, 10)), []);
    assert.deepEqual(received(host), { fast: range(0, 10) });
    assert.deepEqual(host.discards, [7]);
    assert.equal(dispatcher.lagOf(slow), 3);
    assert.equal(dispatcher.ask(2, slow), 0);
    assert.deepEqual(received(host), { slow: [7, 8] });
    assert.equal(dispatcher.ask(10, slow), 9, "slow now asks for the most: upstream follows it");
    assert.deepEqual(received(host), { slow: [9] });
    assert.equal(dispatcher.ask(2, fast), 0);
    assert.deepEqual(dispatcher.dispatch([10, 11]), []);
    assert.deepEqual(received(host), { fast: [10, 11], slow: [10, 11] });
    assert.deepEqual(host.discards, [7]);
    assert.deepEqual(host.cancels, []);
  });

  it("a lagging subscription with a selector gets its kept events filtered, refunding the rest", () => {
    const { dispatcher, host } = setup({ maxLag: 10, onLag: "cancel" });
    const all = subscription<number>("all");
    const even = subscription<number>("even", { selector: (n: number) => n % 2 === 0 });
    dispatcher.subscribe(all);
    dispatcher.subscribe(even);
    dispatcher.ask(6, all);
    dispatcher.dispatch(range(0, 6));
    assert.deepEqual(received(host), { all: range(0, 6) });
    dispatcher.ask(4, even);
    assert.deepEqual(received(host), { even: [0, 2] });
    assert.deepEqual(host.asks, [["even", 2]], "the two odd events are refunded");
    dispatcher.ask(2, even);
    assert.deepEqual(received(host), { even: [4] });
  });

  it("a new subscription starts with the next event, not with what is kept for others", () => {
    const { dispatcher, host } = setup({ maxLag: 5, onLag: "wait" });
    const a = subscription<number>("a");
    const b = subscription<number>("b");
    dispatcher.subscribe(a);
    dispatcher.subscribe(b);
    dispatcher.ask(5, a);
    dispatcher.dispatch(range(0, 5));
    const c = subscription<number>("c");
    dispatcher.subscribe(c);
    const asked = dispatcher.ask(5, c) + dispatcher.ask(5, b) + dispatcher.ask(5, a);
    assert.equal(asked, 5, "b, 5 behind, lets the others go 5 further");
    dispatcher.dispatch(range(5, 10));
    assert.deepEqual(received(host), {
      a: range(0, 10),
      b: range(0, 5),
      c: range(5, 10),
    });
    assert.equal(dispatcher.lagOf(b), 5);
  });

  it("rejects bad options at construction", () => {
    assert.throws(() => new BroadcastDispatcher({ maxLag: -1 }), {
      name: "RangeError",
      message:
        "Cannot construct BroadcastDispatcher as maxLag must be an integer >= 0: current value is -1",
    });
    assert.throws(() => new BroadcastDispatcher({ maxLag: 1.5 }), { name: "RangeError" });
    assert.throws(() => new BroadcastDispatcher({ onLag: "skip" as never }), {
      name: "TypeError",
      message:
        'Cannot construct BroadcastDispatcher as onLag must be one of "wait", "cancel" or "drop": current value is "skip"',
    });
    assert.throws(() => new BroadcastDispatcher(3 as never), {
      name: "TypeError",
      message:
        "Cannot construct BroadcastDispatcher as options must be an object: current value is 3",
    });
  });

  for (const onLag of ["wait", "cancel", "drop"] as const) {
    it(`"${onLag}" never keeps more than maxLag events for anyone, and every event reaches each subscription once, in order (random operations)`, () => {
      const maxLag = 7;
      const { dispatcher, host } = setup({ maxLag, onLag });
      let seed = 7;
      const next = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
      const subs: TestSubscription<number>[] = [];
      const joinedAt = new Map<string, number>();
      let produced = 0;
      let buffer: number[] = [];
      const serve = (demand: number) => {
        while (demand > 0 && buffer.length > 0) {
          const taken = buffer.splice(0, demand);
          const leftover = dispatcher.dispatch(taken);
          demand -= taken.length - leftover.length;
          buffer = [...leftover, ...buffer];
          if (leftover.length > 0) return;
        }
        const fresh = range(produced, produced + demand);
        produced += demand;
        if (fresh.length > 0) buffer.push(...dispatcher.dispatch(fresh));
      };
      const flush = () => {
        for (const [name, count] of host.asks.splice(0)) {
          const s = subs.find((x) => x.name === name);
          if (s !== undefined) serve(dispatcher.ask(count, s));
        }
        for (const [name] of host.cancels.splice(0)) {
          const at = subs.findIndex((x) => x.name === name);
          if (at !== -1) serve(dispatcher.cancel(subs.splice(at, 1)[0]));
        }
      };
      const got = new Map<string, number[]>();
      for (let step = 0; step < 2000; step++) {
        const roll = next();
        if (subs.length < 3 && (roll < 0.05 || subs.length === 0)) {
          const s = subscription<number>(`s${step}`);
          subs.push(s);
          joinedAt.set(s.name, produced - buffer.length);
          serve(dispatcher.subscribe(s));
        } else if (roll < 0.07) {
          serve(dispatcher.cancel(subs.splice(Math.floor(next() * subs.length), 1)[0]));
        } else if (roll < 0.1) {
          const fresh = range(produced, produced + 3);
          produced += 3;
          buffer.push(...dispatcher.dispatch(fresh));
        } else {
          // The first subscription is slow: it asks rarely.
          const s = subs[Math.floor(next() * subs.length)];
          if (s !== subs[0] || next() < 0.2) serve(dispatcher.ask(1 + Math.floor(next() * 8), s));
        }
        flush();
        for (const s of subs) assert.ok(dispatcher.lagOf(s) <= maxLag, `${s.name} lags too much`);
        for (const [name, events] of host.take()) {
          const list = got.get(name) ?? [];
          list.push(...events);
          got.set(name, list);
        }
      }
      let dropped = 0;
      for (const count of host.discards) dropped += count;
      assert.ok(got.size > 0);
      for (const [name, events] of got) {
        for (let i = 1; i < events.length; i++) {
          assert.ok(
            events[i] > events[i - 1],
            `${name} received ${events[i - 1]} then ${events[i]}`,
          );
        }
        if (onLag !== "drop") {
          // No gaps: it received every event from the one after it joined.
          const first = events[0];
          assert.deepEqual(events, range(first, first + events.length), `${name} has a gap`);
        }
      }
      if (onLag === "drop") assert.ok(dropped > 0, "the slow one had events dropped");
      else assert.deepEqual(host.discards, []);
      if (onLag !== "cancel") assert.deepEqual(host.cancels, []);
    });
  }
});

/** A producer emitting 0, 1, 2, … on demand, up to `limit`, then closing. */
function numbers(limit: number, options: BroadcastDispatcherOptions) {
  let next = 0;
  const demands: number[] = [];
  const discarded: number[] = [];
  const producer = new Producer<number>({
    dispatcher: new BroadcastDispatcher(options),
    demand: "accumulate",
    onDiscard: (count) => {
      discarded.push(count);
      return false;
    },
    handleDemand: (demand) => {
      demands.push(demand);
      const events = range(next, Math.min(limit, next + demand));
      next += events.length;
      if (next >= limit) producer.close();
      return events;
    },
  });
  return {
    producer,
    demands,
    discarded,
    get produced() {
      return next;
    },
  };
}

describe("BroadcastDispatcher lag policy in a producer", () => {
  it('"cancel": a stalled consumer is cancelled with "lagging" and the fast one gets every event', async () => {
    const { producer } = numbers(1000, { maxLag: 20, onLag: "cancel" });
    const fast: number[] = [];
    const fastConsumer = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 10 }]],
      handleEvents: (events) => void fast.push(...events),
    });
    const stalled: number[] = [];
    const reasons: unknown[] = [];
    const stuck = deferred();
    const stalledConsumer = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 5, cancel: "temporary" }]],
      handleEvents: (events) => {
        stalled.push(...events);
        return stuck.promise;
      },
      handleCancel: (_, reason) => void reasons.push(reason),
    });
    producer.setDemandMode("forward");
    await fastConsumer.closed;
    assert.deepEqual(fast, range(0, 1000));
    assert.deepEqual(reasons, [], "its handleEvents is still running");
    stuck.resolve();
    await settle();
    assert.deepEqual(reasons, ["lagging"]);
    // It got what it had asked for (5 events, one chunk of 3 handled before it stalled on the rest).
    assert.ok(stalled.length <= 5 && stalled.every((n, i) => n === i), `stalled got ${stalled}`);
    await stalledConsumer.stop();
    await producer.closed;
  });

  it('"cancel": a permanent subscriber stops with the reason "lagging"', async () => {
    const { producer } = numbers(Infinity, { maxLag: 3, onLag: "cancel" });
    const fast = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 10 }]],
      handleEvents: () => {},
    });
    const slow = new Consumer<number>({
      subscribeTo: [producer],
      handleSubscribe: () => "manual",
      handleEvents: () => {},
    });
    producer.setDemandMode("forward");
    await assert.rejects(slow.closed, (reason) => reason === "lagging");
    await producer.stop();
    await fast.closed;
  });

  it('"wait" with maxLag lets the fast consumer go exactly maxLag events ahead of the slow one', async () => {
    const { producer, demands } = numbers(Infinity, { maxLag: 7, onLag: "wait" });
    const fast: number[] = [];
    new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 5 }]],
      handleEvents: (events) => void fast.push(...events),
    });
    const slow: number[] = [];
    let subscription: Subscription<number> | undefined;
    new Consumer<number>({
      subscribeTo: [producer],
      handleSubscribe: (s) => {
        subscription = s;
        s.ask(2);
        return "manual";
      },
      handleEvents: (events) => void slow.push(...events),
    });
    producer.setDemandMode("forward");
    await settle();
    await settle();
    assert.deepEqual(slow, [0, 1]);
    assert.deepEqual(fast, range(0, 9), "2 asked by the slow one + 7 of lag");
    subscription!.ask(3);
    await settle();
    await settle();
    assert.deepEqual(slow, range(0, 5));
    assert.deepEqual(fast, range(0, 12));
    assert.equal(demands.reduce((a, b) => a + b, 0), 12, "upstream was asked for nothing more");
    await producer.stop();
  });

  it('"drop": a slow consumer receives the latest maxLag events when it asks again, and the fast one everything', async () => {
    const { producer, discarded } = numbers(100, { maxLag: 10, onLag: "drop" });
    const fast: number[] = [];
    const all = deferred();
    const fastConsumer = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 10 }]],
      handleEvents: (events) => {
        fast.push(...events);
        if (fast.length === 100) all.resolve();
      },
    });
    const slow: number[] = [];
    let subscription: Subscription<number> | undefined;
    const slowConsumer = new Consumer<number>({
      subscribeTo: [producer],
      handleSubscribe: (s) => {
        subscription = s;
        s.ask(3);
        return "manual";
      },
      handleEvents: (events) => void slow.push(...events),
    });
    producer.setDemandMode("forward");
    await all.promise;
    assert.deepEqual(fast, range(0, 100));
    assert.deepEqual(slow, [0, 1, 2]);
    await settle();
    assert.equal(producer.bufferedCount, 0);
    subscription!.ask(100);
    // The producer ended once the slow one had what was kept for it.
    await Promise.all([slowConsumer.closed, fastConsumer.closed, producer.closed]);
    assert.deepEqual(slow, [0, 1, 2, ...range(90, 100)], "the 87 in between were dropped");
    assert.equal(discarded.reduce((a, b) => a + b, 0), 87, "counted through onDiscard");
  });
});

describe("broadcast with a lag policy", () => {
  it('"cancel": an output that is not read errors with "lagging" after what it holds; the others read everything', async () => {
    const source = countingSource(500);
    const [a, b, idle] = broadcast(source.stream, 3, { maxDemand: 8, maxLag: 16, onLag: "cancel" });
    const [readA, readB] = await Promise.all([drain(a), drain(b)]);
    assert.deepEqual(readA, range(0, 500));
    assert.deepEqual(readB, range(0, 500));
    assert.equal(source.pulled, 500);
    const reader = idle.getReader();
    assert.deepEqual(await take(reader, 8), range(0, 8));
    await assert.rejects(reader.read(), (reason) => reason === "lagging");
  });

  it('"drop": an output read late gets what it held, then the latest maxLag events; drops are counted', async () => {
    const counts: number[] = [];
    const warnings = await captureWarnings(async () => {
      const [live, late] = broadcast(countingSource(100).stream, 2, {
        maxDemand: 4,
        maxLag: 10,
        onLag: "drop",
        onDiscard: (count) => {
          counts.push(count);
          return false;
        },
      });
      const reader = live.getReader();
      assert.deepEqual(await take(reader, 100), range(0, 100));
      // The end waits for the late output to take what is kept for it.
      assert.deepEqual(await drain(late), [...range(0, 4), ...range(90, 100)]);
      assert.equal((await reader.read()).done, true);
    });
    assert.equal(counts.reduce((a, b) => a + b, 0), 86, "100 − 4 held − 10 kept");
    assert.deepEqual(warnings, []);
  });

  it('"drop" without onDiscard warns about the events it drops', async () => {
    const warnings = await captureWarnings(async () => {
      const [live, late] = broadcast(countingSource(30).stream, 2, {
        maxDemand: 2,
        maxLag: 3,
        onLag: "drop",
      });
      await take(live.getReader(), 30);
      await late.cancel();
    });
    assert.ok(warnings.length > 0);
    assert.match(warnings[0], /^broadcast has dropped \d+ events for an output lagging behind$/);
  });

  it('"wait" with maxLag: the read output goes maxLag events past what the unread one asked for, then waits', async () => {
    const source = countingSource();
    const [a, b] = broadcast(source.stream, 2, { maxDemand: 4, maxLag: 6 });
    const readerA = a.getReader();
    const { values, pending } = await readUntilStalled(readerA);
    assert.deepEqual(values, range(0, 10), "4 asked by b + 6 of lag");
    assert.equal(source.pulled, 10);
    const readerB = b.getReader();
    assert.deepEqual(await take(readerB, 20), range(0, 20));
    assert.deepEqual(await pending, { done: false, value: 10 });
    await readerA.cancel();
    await readerB.cancel();
  });

  it("rejects bad lag options", () => {
    const stream = () => countingSource(1).stream;
    assert.throws(() => broadcast(stream(), 2, { maxLag: -1 }), {
      name: "RangeError",
      message: "Cannot broadcast a stream as maxLag must be an integer >= 0: current value is -1",
    });
    assert.throws(() => broadcast(stream(), 2, { onLag: "later" as never }), {
      name: "TypeError",
      message:
        'Cannot broadcast a stream as onLag must be one of "wait", "cancel" or "drop": current value is "later"',
    });
    assert.throws(() => broadcast(stream(), 2, { onDiscard: 1 as never }), {
      name: "TypeError",
      message: "Cannot broadcast a stream as onDiscard must be a function: current value is 1",
    });
  });
});
