import type { Dispatcher, DispatcherHost } from "../dispatcher.ts";
import type { SubscribeOptions, Subscription } from "../subscription.ts";
import { Queue } from "../_queue.ts";
import * as v from "../_validate.ts";

/** What a {@linkcode BroadcastDispatcher} does with a subscription that lags more than `maxLag`. */
export type LagPolicy = "wait" | "cancel" | "drop";

/** Options of a {@linkcode BroadcastDispatcher}. */
export interface BroadcastDispatcherOptions {
  /**
   * How many events a subscription may fall behind the fastest one: the
   * dispatcher keeps that many for it and goes on serving the others. An
   * integer ≥ 0; 0 is GenStage's behaviour (everyone at the pace of the
   * slowest).
   *
   * @default {0}
   */
  readonly maxLag?: number;
  /**
   * What happens when a subscription's lag would exceed `maxLag`: `"wait"`
   * — everyone waits for it, as in GenStage; `"cancel"` — it is cancelled
   * with reason `"lagging"` (its consumer reacts by its `cancel` mode) and
   * the others go on; `"drop"` — its oldest kept events are dropped (it
   * keeps the latest `maxLag`) and counted through the producer's
   * `onDiscard`.
   *
   * @default {"wait"}
   */
  readonly onLag?: LagPolicy;
}

/** A DispatcherHost that can also report dropped events (optional: feature-detected). */
type DiscardingHost<T> = DispatcherHost<T> & { discard?(count: number): void };

interface Entry<T> {
  readonly subscription: Subscription<T>;
  /** The position (in the stream of events this dispatcher accepted) of the next event it gets. */
  position: number;
  /** Outstanding demand: how many more events it may be sent. */
  demand: number;
  readonly selector: ((event: T) => boolean) | undefined;
}

/** Events kept for lagging subscriptions: `events[0]` is at position `start`. */
interface Kept<T> {
  start: number;
  events: T[];
}

const EMPTY: never[] = [];
const POLICIES: readonly LagPolicy[] = ["wait", "cancel", "drop"];

/**
 * Sends every event to every subscription: GenStage's `BroadcastDispatcher`,
 * with an optional lag policy for slow subscribers.
 *
 * - By default (`maxLag: 0`), upstream demand is the smallest outstanding
 *   demand among the subscriptions, so the slowest consumer paces everyone,
 *   and no demand is ever asked for twice (what was asked and not yet
 *   received is counted).
 * - With `maxLag: n`, a subscription may fall up to `n` events behind the
 *   fastest: the dispatcher keeps those events for it (at most `n` per
 *   subscription) and serves them as it asks. When its lag would exceed `n`,
 *   `onLag` decides: `"wait"` paces everyone so that it does not;
 *   `"cancel"` cancels it with reason `"lagging"`; `"drop"` drops its oldest
 *   kept events (reported through the producer's `onDiscard`, one count per
 *   event and subscription). With `"cancel"` and `"drop"` upstream demand
 *   follows the fastest subscription.
 * - A subscription that has not asked yet is behind from its first event: it
 *   holds everyone back (`"wait"`, with `maxLag` 0), or lags. Subscribe
 *   every consumer before events flow (or start the producer with
 *   `demand: "accumulate"` and switch it to `"forward"` once all have
 *   subscribed). A new subscription starts with the next event.
 * - A subscription's `selector` option keeps only the events it returns true
 *   for; the demand of the filtered events is refunded, so a filtering
 *   consumer never slows the others.
 * - A subscription that leaves stops holding the others back at once.
 * - The same consumer subscribing a second time gets the new subscription
 *   cancelled with reason `"already_subscribed"` (and a warning); the
 *   consumer does not stop, whatever its `cancel` mode.
 *
 * Each subscription receives its own copy of a batch. A closing producer
 * waits until its lagging subscriptions have received the events kept for
 * them.
 *
 * @example Two consumers see every event
 * ```ts
 * import { BroadcastDispatcher, Consumer, Producer } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * const producer = new Producer<number>({
 *   dispatcher: new BroadcastDispatcher(),
 *   demand: "accumulate",
 * });
 * const seen: Record<string, number[]> = { all: [], even: [] };
 * const all = new Consumer<number>({
 *   subscribeTo: [producer],
 *   handleEvents: (events) => void seen.all.push(...events),
 * });
 * const even = new Consumer<number>({
 *   subscribeTo: [[producer, { selector: (n: number) => n % 2 === 0 }]],
 *   handleEvents: (events) => void seen.even.push(...events),
 * });
 * producer.emit([1, 2, 3, 4]);
 * producer.setDemandMode("forward");
 * await producer.close();
 * await Promise.all([all.closed, even.closed]);
 * assert.deepEqual(seen, { all: [1, 2, 3, 4], even: [2, 4] });
 * ```
 *
 * @example A slow subscriber is cancelled once it lags 2 events behind
 * ```ts
 * import { BroadcastDispatcher, type Subscription } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * const cancelled: unknown[] = [];
 * const dispatcher = new BroadcastDispatcher<number>({ maxLag: 2, onLag: "cancel" });
 * dispatcher.init({
 *   send() {},
 *   ask() {},
 *   info() {},
 *   cancel: (_, reason) => void cancelled.push(reason),
 *   bufferSize: 10,
 * });
 * const fast = { consumer: null, options: {} } as unknown as Subscription<number>;
 * const slow = { consumer: null, options: {} } as unknown as Subscription<number>;
 * dispatcher.subscribe(fast);
 * dispatcher.subscribe(slow);
 * assert.equal(dispatcher.ask(5, fast), 5); // the fastest paces upstream demand
 * dispatcher.dispatch([1, 2]);
 * assert.equal(dispatcher.lagOf(slow), 2); // kept for it
 * dispatcher.dispatch([3]);
 * assert.deepEqual(cancelled, ["lagging"]);
 * ```
 */
export class BroadcastDispatcher<T = unknown> implements Dispatcher<T> {
  readonly #maxLag: number;
  readonly #onLag: LagPolicy;
  #host: DiscardingHost<T> | undefined;
  #entries = new Map<Subscription<T>, Entry<T>>();
  #consumers = new Set<object>();
  /** The position of the next event accepted: how many were accepted so far. */
  #head = 0;
  /** Events some subscription has not received yet, oldest first. */
  readonly #kept = new Queue<Kept<T>>();
  #requested = 0;

  /**
   * Creates a broadcast dispatcher for one producing stage.
   *
   * @param options The lag policy: `maxLag` and `onLag`.
   * @throws {TypeError} If `options` is not an object or `onLag` is not a policy.
   * @throws {RangeError} If `maxLag` is not an integer ≥ 0.
   */
  constructor(options?: BroadcastDispatcherOptions) {
    const action = "construct BroadcastDispatcher";
    const o = v.options<BroadcastDispatcherOptions>(action, "options", options);
    this.#maxLag = v.capped(action, "maxLag", o.maxLag ?? 0, 0, v.MAX_DEMAND);
    this.#onLag = v.oneOf(action, "onLag", o.onLag ?? "wait", POLICIES);
  }

  /** Events every subscription can take now. */
  get waiting(): number {
    if (this.#entries.size === 0) return 0;
    let min = Infinity;
    for (const entry of this.#entries.values()) {
      const reach = entry.position + entry.demand;
      if (reach < min) min = reach;
    }
    return Math.max(0, min - this.#head);
  }

  /** Demand asked upstream and not yet received. */
  get requested(): number {
    return this.#requested;
  }

  /**
   * The outstanding demand of `subscription`: how many more events it may be
   * sent. 0 for an unknown subscription.
   *
   * @param subscription A subscription of this dispatcher.
   * @returns Its demand.
   *
   * @example Demand before and after an ask
   * ```ts
   * import { BroadcastDispatcher, type Subscription } from "@webstage/webstage";
   * import assert from "node:assert/strict";
   *
   * const dispatcher = new BroadcastDispatcher<number>();
   * dispatcher.init({ send() {}, ask() {}, info() {}, cancel() {}, bufferSize: 10 });
   * const subscription = { consumer: null, options: {} } as unknown as Subscription<number>;
   * dispatcher.subscribe(subscription);
   * assert.equal(dispatcher.ask(5, subscription), 5);
   * assert.equal(dispatcher.demandOf(subscription), 5);
   * ```
   */
  demandOf(subscription: Subscription<T>): number {
    return this.#entries.get(subscription)?.demand ?? 0;
  }

  /**
   * How many events `subscription` is behind: the events the dispatcher
   * keeps for it (at most `maxLag`). 0 for an unknown subscription.
   *
   * @param subscription A subscription of this dispatcher.
   * @returns Its lag, in events.
   *
   * @example A subscription with no demand lags
   * ```ts
   * import { BroadcastDispatcher, type Subscription } from "@webstage/webstage";
   * import assert from "node:assert/strict";
   *
   * const dispatcher = new BroadcastDispatcher<number>({ maxLag: 10 });
   * dispatcher.init({ send() {}, ask() {}, info() {}, cancel() {}, bufferSize: 10 });
   * const [a, b] = [{}, {}].map(() =>
   *   ({ consumer: null, options: {} }) as unknown as Subscription<number>
   * );
   * dispatcher.subscribe(a);
   * dispatcher.subscribe(b);
   * assert.equal(dispatcher.ask(3, a), 3); // b may lag up to 10 events
   * dispatcher.dispatch([1, 2, 3]);
   * assert.equal(dispatcher.lagOf(b), 3);
   * dispatcher.ask(1, b);
   * assert.equal(dispatcher.lagOf(b), 2);
   * ```
   */
  lagOf(subscription: Subscription<T>): number {
    const entry = this.#entries.get(subscription);
    return entry === undefined ? 0 : this.#head - entry.position;
  }

  /** Adopts the dispatcher into a stage; a dispatcher belongs to one stage. */
  init(host: DispatcherHost<T>): void {
    if (this.#host !== undefined) {
      throw new TypeError("Cannot use a BroadcastDispatcher in two stages: create one per stage");
    }
    this.#host = host;
  }

  /**
   * Checks the `selector` subscription option.
   *
   * @throws {TypeError} If `selector` is given and is not a function.
   */
  validate(options: Readonly<SubscribeOptions<T>>): void {
    if (options.selector !== undefined) v.callback("subscribe", "selector", options.selector);
  }

  /** Adds a subscription with no demand, starting at the next event. */
  subscribe(subscription: Subscription<T>): number {
    const consumer = subscription.consumer;
    if (consumer !== null && this.#consumers.has(consumer)) {
      console.warn(
        "BroadcastDispatcher: the consumer is already subscribed to this producer: " +
          'the new subscription is cancelled with reason "already_subscribed"',
      );
      this.#host!.cancel(subscription, "already_subscribed");
      return 0;
    }
    this.validate(subscription.options);
    if (consumer !== null) this.#consumers.add(consumer);
    this.#entries.set(subscription, {
      subscription,
      position: this.#head,
      demand: 0,
      selector: subscription.options.selector,
    });
    return 0;
  }

  /** Removes a subscription; the others may now take more, which can create upstream demand. */
  cancel(subscription: Subscription<T>): number {
    if (!this.#remove(subscription)) return 0;
    this.#trim();
    return this.#sync();
  }

  /** Adds `count` to the subscription's demand, serving what is kept for it first. */
  ask(count: number, subscription: Subscription<T>): number {
    const entry = this.#entries.get(subscription);
    if (entry === undefined) return 0;
    entry.demand += count;
    if (entry.position < this.#head) {
      this.#serve(entry);
      this.#trim();
    }
    return this.#sync();
  }

  /**
   * Sends the events the subscriptions have room for (filtered by their
   * selectors, with the filtered demand refunded), keeps them for the ones
   * that lag, applies the lag policy, and returns the events nobody could
   * take yet.
   */
  dispatch(events: T[]): T[] {
    const room = this.#target() - this.#head;
    if (room <= 0) return events;
    const length = events.length;
    const now = length <= room ? events : events.slice(0, room);
    const count = now.length;
    const start = this.#head;
    this.#head += count;
    this.#requested = Math.max(0, this.#requested - count);
    let lagging = false;
    for (const entry of this.#entries.values()) {
      if (entry.position !== start || entry.demand < count) {
        lagging = true;
        break;
      }
    }
    if (!lagging) {
      // GenStage's case: everyone takes the whole batch now.
      let first = true;
      for (const entry of this.#entries.values()) {
        entry.position = this.#head;
        entry.demand -= count;
        this.#send(entry, now, first);
        first = false;
      }
    } else {
      this.#kept.push({ start, events: now });
      for (const entry of this.#entries.values()) this.#serve(entry);
      this.#applyPolicy();
      this.#trim();
    }
    return count === length ? EMPTY : events.slice(count);
  }

  /** Delivers `message` at once (events kept for lagging subscriptions were dispatched already). */
  info(message: unknown): void {
    this.#host!.info(message);
  }

  /** False while events are kept for a lagging subscription: a closing stage waits for them. */
  idle(): boolean {
    return this.#kept.length === 0;
  }

  /**
   * Drops `events` given back by a subscription that failed: the other
   * subscriptions already received them, so sending them again would
   * duplicate them.
   *
   * @returns An empty array.
   */
  redeliver(_events: T[], _subscription: Subscription<T>): T[] {
    return EMPTY;
  }

  // ---------------------------------------------------------------- internals

  /**
   * The position up to which events are wanted now: what the fastest
   * subscription asked for, but (with `"wait"`) no more than `maxLag` past
   * what the slowest asked for.
   */
  #target(): number {
    if (this.#entries.size === 0) return this.#head;
    let min = Infinity;
    let max = -Infinity;
    for (const entry of this.#entries.values()) {
      const reach = entry.position + entry.demand;
      if (reach < min) min = reach;
      if (reach > max) max = reach;
    }
    return this.#onLag === "wait" ? Math.min(max, min + this.#maxLag) : max;
  }

  /** Asks upstream for what the target needs beyond what was accepted and requested. */
  #sync(): number {
    const request = Math.max(0, this.#target() - this.#head - this.#requested);
    this.#requested += request;
    return request;
  }

  /** Sends `events` to one subscription, filtered by its selector (refunding the demand of the rest). */
  #send(entry: Entry<T>, events: T[], owned: boolean): void {
    const selector = entry.selector;
    const host = this.#host!;
    let selected: T[];
    if (selector === undefined) selected = owned ? events : events.slice();
    else {
      selected = events.filter(selector);
      const refund = events.length - selected.length;
      if (refund > 0) host.ask(entry.subscription, refund);
    }
    if (selected.length > 0) host.send(entry.subscription, selected);
  }

  /** Sends a subscription what is kept for it, up to its demand. */
  #serve(entry: Entry<T>): void {
    const from = entry.position;
    const to = Math.min(this.#head, from + entry.demand);
    if (to <= from) return;
    entry.position = to;
    entry.demand -= to - from;
    this.#send(entry, this.#slice(from, to), true);
  }

  /** A copy of the kept events at positions [from, to). */
  #slice(from: number, to: number): T[] {
    const parts: T[][] = [];
    for (const kept of this.#kept) {
      const end = kept.start + kept.events.length;
      if (end <= from) continue;
      if (kept.start >= to) break;
      parts.push(
        kept.events.slice(Math.max(from, kept.start) - kept.start, Math.min(to, end) - kept.start),
      );
    }
    return parts.length === 1 ? parts[0] : parts.flat() as T[];
  }

  /** Cancels or drops for each subscription more than `maxLag` behind. */
  #applyPolicy(): void {
    const maxLag = this.#maxLag;
    const head = this.#head;
    for (const entry of [...this.#entries.values()]) {
      const lag = head - entry.position;
      if (lag <= maxLag) continue;
      if (this.#onLag === "cancel") {
        this.#remove(entry.subscription);
        this.#host!.cancel(entry.subscription, "lagging");
      } else if (this.#onLag === "drop") {
        entry.position = head - maxLag;
        this.#host!.discard?.(lag - maxLag);
      }
    }
  }

  /** Forgets the kept events every subscription has passed. */
  #trim(): void {
    const kept = this.#kept;
    if (kept.length === 0) return;
    let min = this.#head;
    for (const entry of this.#entries.values()) if (entry.position < min) min = entry.position;
    for (let first = kept.peek(); first !== undefined; first = kept.peek()) {
      const end = first.start + first.events.length;
      if (end <= min) kept.shift();
      else {
        if (first.start < min) {
          first.events = first.events.slice(min - first.start);
          first.start = min;
        }
        break;
      }
    }
  }

  #remove(subscription: Subscription<T>): boolean {
    if (!this.#entries.delete(subscription)) return false;
    const consumer = subscription.consumer;
    if (consumer !== null) this.#consumers.delete(consumer);
    if (this.#entries.size === 0) this.#kept.drain();
    return true;
  }
}
