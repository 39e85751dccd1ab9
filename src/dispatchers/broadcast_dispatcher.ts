import type { Dispatcher, DispatcherHost } from "../dispatcher.ts";
import type { SubscribeOptions, Subscription } from "../subscription.ts";
import * as v from "../_validate.ts";

interface Entry<T> {
  readonly subscription: Subscription<T>;
  /** Outstanding demand minus `waiting` (GenStage's counter). */
  counter: number;
  readonly selector: ((event: T) => boolean) | undefined;
}

const EMPTY: never[] = [];

/**
 * Sends every event to every subscription, at the pace of the subscription
 * with the least demand: GenStage's `BroadcastDispatcher`.
 *
 * - Upstream demand is the smallest outstanding demand among the
 *   subscriptions, so the slowest consumer paces everyone, and no demand is
 *   ever asked for twice (what was asked and not yet received is counted).
 * - A subscription that has not asked yet holds everyone back: subscribe
 *   every consumer before events flow (or start the producer with
 *   `demand: "accumulate"` and switch it to `"forward"` once all have
 *   subscribed).
 * - A subscription's `selector` option keeps only the events it returns true
 *   for; the demand of the filtered events is refunded, so a filtering
 *   consumer never slows the others.
 * - A subscription that leaves stops holding the others back at once.
 * - The same consumer subscribing a second time gets the new subscription
 *   cancelled with reason `"already_subscribed"` (and a warning); the
 *   consumer does not stop, whatever its `cancel` mode.
 *
 * Each subscription receives its own copy of a batch.
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
 */
export class BroadcastDispatcher<T = unknown> implements Dispatcher<T> {
  #host: DispatcherHost<T> | undefined;
  #entries = new Map<Subscription<T>, Entry<T>>();
  #consumers = new Set<object>();
  #waiting = 0;
  #requested = 0;

  /** Events every subscription can take now (already removed from each one's counter). */
  get waiting(): number {
    return this.#waiting;
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
    const entry = this.#entries.get(subscription);
    return entry === undefined ? 0 : entry.counter + this.#waiting;
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

  /** Adds a subscription with no demand: nothing flows until it asks. */
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
    // The newcomer can take nothing yet: what everyone could take goes back to each counter.
    const waiting = this.#waiting;
    if (waiting > 0) {
      for (const entry of this.#entries.values()) entry.counter += waiting;
      this.#waiting = 0;
    }
    this.#entries.set(subscription, {
      subscription,
      counter: 0,
      selector: subscription.options.selector,
    });
    return 0;
  }

  /** Removes a subscription; the others may now take more, which can create upstream demand. */
  cancel(subscription: Subscription<T>): number {
    const entry = this.#entries.get(subscription);
    if (entry === undefined) return 0;
    this.#entries.delete(subscription);
    const consumer = subscription.consumer;
    if (consumer !== null) this.#consumers.delete(consumer);
    if (this.#entries.size === 0) {
      // `requested` is kept: what was asked upstream will still arrive.
      this.#waiting = 0;
      return 0;
    }
    return this.#sync();
  }

  /** Adds `count` to the subscription's demand; returns what the slowest subscription now allows. */
  ask(count: number, subscription: Subscription<T>): number {
    const entry = this.#entries.get(subscription);
    if (entry === undefined) return 0;
    entry.counter += count;
    return this.#sync();
  }

  /**
   * Sends the first `waiting` events to every subscription (filtered by its
   * selector, with the filtered demand refunded) and returns the rest.
   */
  dispatch(events: T[]): T[] {
    const waiting = this.#waiting;
    if (waiting === 0) return events;
    const length = events.length;
    const now = length <= waiting ? events : events.slice(0, waiting);
    this.#waiting -= now.length;
    this.#requested -= now.length;
    const host = this.#host!;
    let first = true;
    for (const entry of this.#entries.values()) {
      const selector = entry.selector;
      let selected: T[];
      if (selector === undefined) {
        selected = first ? now : now.slice();
      } else {
        selected = now.filter(selector);
        const refund = now.length - selected.length;
        if (refund > 0) host.ask(entry.subscription, refund);
      }
      first = false;
      if (selected.length > 0) host.send(entry.subscription, selected);
    }
    return now.length === length ? EMPTY : events.slice(now.length);
  }

  /** Delivers `message` at once: the dispatcher holds no events. */
  info(message: unknown): void {
    this.#host!.info(message);
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

  /** GenStage's `sync_demands`: moves the common minimum into `waiting` and asks for what is new. */
  #sync(): number {
    let min = Infinity;
    for (const entry of this.#entries.values()) if (entry.counter < min) min = entry.counter;
    if (min > 0 && min !== Infinity) {
      for (const entry of this.#entries.values()) entry.counter -= min;
      this.#waiting += min;
    }
    const request = Math.max(0, this.#waiting - this.#requested);
    this.#requested += request;
    return request;
  }
}
