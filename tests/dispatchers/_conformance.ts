// One suite every dispatcher must pass, run by conformance_test.ts against
// webstage's three dispatchers and a user-written one. A small simulated
// stage drives the dispatcher the way the core does: upstream demand is
// served from a buffer of leftovers first, then by producing new events
// (increasing integers), and the asks and cancels a dispatcher queues through
// its host are handled after the current operation, like self-sent messages.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Dispatcher, DispatcherHost, SubscribeOptions, Subscription } from "../../mod.ts";
import { subscription, type TestSubscription } from "./_host.ts";

/** A dispatcher under test. */
export interface ConformanceCase {
  readonly name: string;
  /** A fresh dispatcher (not yet initialised). */
  create(): Dispatcher<number>;
  /** How many subscriptions it can have at once. */
  readonly slots: number;
  /** The options of a subscription in `slot` (e.g. its partition). */
  options(slot: number): SubscribeOptions<number>;
}

/** A deterministic pseudo-random generator (mulberry32). */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Op =
  | { readonly k: "ask"; readonly s: TestSubscription<number>; readonly count: number }
  | { readonly k: "cancel"; readonly s: TestSubscription<number>; readonly reason: unknown };

/** A simulated stage around one dispatcher, checking every call. */
class Stage implements DispatcherHost<number> {
  readonly bufferSize = 10_000;
  readonly dispatcher: Dispatcher<number>;
  readonly live = new Map<TestSubscription<number>, number>(); // subscription → slot
  /** What each subscription asked for itself, and what it received. */
  readonly asked = new Map<TestSubscription<number>, number>();
  readonly received = new Map<TestSubscription<number>, number[]>();
  readonly cancelled = new Set<TestSubscription<number>>();
  readonly infos: unknown[] = [];
  buffer: number[] = [];
  next = 0;
  upstream = 0;
  #queue: Op[] = [];
  #names = 0;
  readonly #case: ConformanceCase;

  constructor(c: ConformanceCase) {
    this.#case = c;
    this.dispatcher = c.create();
    this.dispatcher.init(this);
  }

  // ---- DispatcherHost
  send(s: Subscription<number>, events: number[]): void {
    const sub = s as TestSubscription<number>;
    assert.ok(this.live.has(sub), `sent to ${sub.name}, which is not subscribed`);
    assert.ok(events.length > 0, "sent an empty batch");
    const got = this.received.get(sub)!;
    got.push(...events);
    assert.ok(
      got.length <= this.asked.get(sub)!,
      `${sub.name} received ${got.length} events but asked for ${this.asked.get(sub)}`,
    );
  }
  ask(s: Subscription<number>, count: number): void {
    this.#queue.push({ k: "ask", s: s as TestSubscription<number>, count });
  }
  info(message: unknown): void {
    this.infos.push(message);
  }
  cancel(s: Subscription<number>, reason: unknown): void {
    this.#queue.push({ k: "cancel", s: s as TestSubscription<number>, reason });
  }

  // ---- operations, as the core performs them
  freeSlot(): number | undefined {
    const used = new Set(this.live.values());
    for (let slot = 0; slot < this.#case.slots; slot++) if (!used.has(slot)) return slot;
    return undefined;
  }

  subscribe(slot: number): TestSubscription<number> {
    const s = subscription<number>(`s${this.#names++}`, this.#case.options(slot));
    this.live.set(s, slot);
    this.asked.set(s, 0);
    this.received.set(s, []);
    this.serve(this.dispatcher.subscribe(s));
    this.flush();
    return s;
  }

  askFor(s: TestSubscription<number>, count: number): void {
    this.asked.set(s, this.asked.get(s)! + count);
    this.serve(this.dispatcher.ask(count, s));
    this.flush();
  }

  cancelOf(s: TestSubscription<number>): void {
    this.live.delete(s);
    this.cancelled.add(s);
    this.serve(this.dispatcher.cancel(s));
    this.flush();
  }

  /** Events nobody asked for (producer.emit). */
  emit(count: number): void {
    const events = this.#produce(count);
    this.#store(this.#dispatch(events));
    this.flush();
  }

  /** Answers upstream demand: buffered events first, then new ones. */
  serve(demand: number): void {
    assert.ok(
      Number.isInteger(demand) && demand >= 0,
      `upstream demand ${demand} is not an integer >= 0`,
    );
    this.upstream += demand;
    while (demand > 0 && this.buffer.length > 0) {
      const events = this.buffer.splice(0, demand);
      const leftover = this.#dispatch(events);
      demand -= events.length - leftover.length;
      this.buffer.unshift(...leftover);
      if (leftover.length > 0) break;
    }
    if (demand > 0) this.#store(this.#dispatch(this.#produce(demand)));
  }

  flush(): void {
    for (let op = this.#queue.shift(); op !== undefined; op = this.#queue.shift()) {
      if (!this.live.has(op.s)) continue; // the core ignores messages of ended subscriptions
      if (op.k === "ask") this.serve(this.dispatcher.ask(op.count, op.s));
      else this.cancelOf(op.s);
    }
  }

  #produce(count: number): number[] {
    const events: number[] = [];
    for (let i = 0; i < count; i++) events.push(this.next++);
    return events;
  }

  #dispatch(events: number[]): number[] {
    const copy = events.slice();
    const leftover = this.dispatcher.dispatch(events);
    assert.ok(leftover.length <= copy.length, "more leftovers than events");
    assert.deepEqual(
      leftover,
      copy.slice(copy.length - leftover.length),
      "leftovers are not the tail, in order",
    );
    return leftover;
  }

  #store(leftover: number[]): void {
    this.buffer.push(...leftover);
  }
}

/** Registers the conformance suite for one dispatcher. */
export function dispatcherConformance(c: ConformanceCase): void {
  describe(`${c.name} conformance`, () => {
    for (const seed of [1, 2, 3, 42]) {
      it(`never sends more than asked, only non-empty batches, in order, and never to an ended subscription (seed ${seed})`, () => {
        const next = random(seed);
        const stage = new Stage(c);
        for (let step = 0; step < 400; step++) {
          const roll = next();
          const subs = [...stage.live.keys()];
          const slot = stage.freeSlot();
          if ((roll < 0.15 || subs.length === 0) && slot !== undefined) stage.subscribe(slot);
          else if (roll < 0.25 && subs.length > 0) {
            stage.cancelOf(subs[Math.floor(next() * subs.length)]);
          } else if (roll < 0.3) stage.emit(1 + Math.floor(next() * 5));
          else if (subs.length > 0) {
            stage.askFor(subs[Math.floor(next() * subs.length)], 1 + Math.floor(next() * 10));
          }
        }
        for (const [s, events] of stage.received) {
          for (let i = 1; i < events.length; i++) {
            assert.ok(events[i] > events[i - 1], `${s.name} received events out of order`);
          }
        }
        assert.ok(
          [...stage.received.values()].some((e) => e.length > 0),
          "something was delivered",
        );
      });
    }

    it("with no demand, returns every event as leftover, in order", () => {
      const stage = new Stage(c);
      stage.subscribe(0);
      const dispatched = [7, 8, 9];
      assert.deepEqual(stage.dispatcher.dispatch(dispatched.slice()), dispatched);
      assert.deepEqual([...stage.received.values()].flat(), []);
    });

    it("never asks upstream twice for demand of a subscription that left", () => {
      const stage = new Stage(c);
      const first = stage.subscribe(0);
      const before = stage.upstream;
      // Hold the events back: nothing is produced while we count (serve is bypassed).
      const asked = stage.dispatcher.ask(10, first);
      const onCancel = stage.dispatcher.cancel(first);
      stage.live.delete(first);
      const second = subscription<number>("second", c.options(0));
      stage.live.set(second, 0);
      const onSubscribe = stage.dispatcher.subscribe(second);
      const again = stage.dispatcher.ask(10, second);
      assert.equal(before, 0);
      assert.equal(asked + onCancel + onSubscribe + again, 10);
    });

    it("demand is never negative and is an integer, in every answer", () => {
      const stage = new Stage(c);
      const subs = [stage.subscribe(0)];
      if (c.slots > 1) subs.push(stage.subscribe(1));
      for (const s of subs) stage.askFor(s, 3);
      stage.cancelOf(subs[0]);
      stage.emit(5);
      if (subs[1] !== undefined) stage.askFor(subs[1], 4);
      // Stage.serve asserts each answer.
      assert.ok(stage.upstream >= 0);
    });

    it("meets the demand of every subscription once all have asked", () => {
      const stage = new Stage(c);
      const subs: TestSubscription<number>[] = [];
      for (let slot = 0; slot < c.slots; slot++) subs.push(stage.subscribe(slot));
      for (const s of subs) stage.askFor(s, 10);
      for (const s of subs) {
        assert.equal(stage.received.get(s)!.length, 10, `${s.name} got its 10 events`);
      }
    });

    it("keeps what it cannot place for later: a late ask is served from the leftovers first", () => {
      const stage = new Stage(c);
      const s = stage.subscribe(0);
      stage.emit(3);
      stage.askFor(s, 2);
      const got = stage.received.get(s)!;
      assert.equal(got.length, 2);
      assert.ok(got[0] < 3, "buffered events come first");
    });

    it("info with nothing held is delivered at once, exactly once", () => {
      const stage = new Stage(c);
      stage.subscribe(0);
      stage.dispatcher.info("hello");
      assert.deepEqual(stage.infos, ["hello"]);
    });
  });
}
