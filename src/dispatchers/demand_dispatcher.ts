import type { Dispatcher, DispatcherHost } from "../dispatcher.ts";
import type { Subscription } from "../subscription.ts";
import * as v from "../_validate.ts";

/** Options of a {@linkcode DemandDispatcher}. */
export interface DemandDispatcherOptions {
  /**
   * Shuffles the subscriptions once, before the first dispatch, so that the
   * first subscriber is not always the one that gets the first batch.
   *
   * @default {false}
   */
  readonly shuffleDemandsOnFirstDispatch?: boolean;
  /**
   * The maximum demand subscriptions are expected to ask for; a larger ask
   * logs a warning (it is still honoured). By default the first ask sets it.
   */
  readonly maxDemand?: number;
}

interface Entry<T> {
  readonly subscription: Subscription<T>;
  demand: number;
}

const EMPTY: never[] = [];

/**
 * Sends each event to one subscription: a batch goes whole to the
 * subscription with the largest outstanding demand (ties: the one waiting
 * longest), and is split only when it exceeds that demand. This is GenStage's
 * default dispatcher and webstage's.
 *
 * Demand of a subscription that leaves is kept as `pending`: events produced
 * for it are buffered for the next subscriber instead of being asked for
 * twice.
 *
 * @example Two consumers share one producer's events
 * ```ts
 * import { Consumer, DemandDispatcher, Producer } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * const producer = new Producer<number>({ dispatcher: new DemandDispatcher() });
 * const seen: number[] = [];
 * const consumers = [1, 2].map(() =>
 *   new Consumer<number>({
 *     subscribeTo: [[producer, { maxDemand: 2, minDemand: 0, cancel: "temporary" }]],
 *     handleEvents: (events) => void seen.push(...events),
 *   })
 * );
 * producer.emit([1, 2, 3, 4]);
 * await producer.close();
 * assert.deepEqual(seen.sort(), [1, 2, 3, 4]);
 * for (const consumer of consumers) await consumer.stop();
 * ```
 */
export class DemandDispatcher<T = unknown> implements Dispatcher<T> {
  #host: DispatcherHost<T> | undefined;
  /** Sorted by demand, descending; ties in order of (re)insertion. */
  #entries: Entry<T>[] = [];
  #bySubscription = new Map<Subscription<T>, Entry<T>>();
  #pending = 0;
  #maxDemand: number | undefined;
  #shuffle: boolean;

  /**
   * Creates a dispatcher for one producing stage (give each stage its own).
   *
   * @param options How to order subscriptions.
   * @throws {TypeError} If an option has the wrong type.
   * @throws {RangeError} If `maxDemand` is not an integer ≥ 1.
   */
  constructor(options?: DemandDispatcherOptions) {
    const action = "construct DemandDispatcher";
    const o = v.options<DemandDispatcherOptions>(action, "options", options);
    const shuffle = o.shuffleDemandsOnFirstDispatch ?? false;
    if (typeof shuffle !== "boolean") {
      throw new TypeError(v.message(action, "shuffleDemandsOnFirstDispatch", "a boolean", shuffle));
    }
    this.#shuffle = shuffle;
    if (o.maxDemand !== undefined) this.#maxDemand = v.integer(action, "maxDemand", o.maxDemand, 1);
  }

  /** Demand already forwarded upstream for subscriptions that have left. */
  get pending(): number {
    return this.#pending;
  }

  /** The outstanding demand of `subscription`, or 0 if unknown. */
  demandOf(subscription: Subscription<T>): number {
    return this.#bySubscription.get(subscription)?.demand ?? 0;
  }

  init(host: DispatcherHost<T>): void {
    if (this.#host !== undefined) {
      throw new TypeError("Cannot use a DemandDispatcher in two stages: create one per stage");
    }
    this.#host = host;
  }

  subscribe(subscription: Subscription<T>): number {
    const entry = { subscription, demand: 0 };
    this.#bySubscription.set(subscription, entry);
    this.#entries.push(entry);
    return 0;
  }

  cancel(subscription: Subscription<T>): number {
    const entry = this.#bySubscription.get(subscription);
    if (entry === undefined) return 0;
    this.#bySubscription.delete(subscription);
    this.#entries.splice(this.#entries.indexOf(entry), 1);
    this.#pending += entry.demand;
    return 0;
  }

  ask(count: number, subscription: Subscription<T>): number {
    const entry = this.#bySubscription.get(subscription);
    if (entry === undefined) return 0;
    if (this.#maxDemand === undefined) this.#maxDemand = count;
    else if (count > this.#maxDemand) {
      console.warn(
        `DemandDispatcher expects a maximum demand of ${this.#maxDemand}: got a demand for ${count} events. ` +
          "Using different maximum demands overloads greedy consumers",
      );
    }
    const entries = this.#entries;
    if (entries.length === 1) entry.demand += count;
    else {
      entries.splice(entries.indexOf(entry), 1);
      entry.demand += count;
      this.#insert(entry);
    }
    const already = Math.min(this.#pending, count);
    this.#pending -= already;
    return count - already;
  }

  dispatch(events: T[]): T[] {
    const entries = this.#entries;
    const host = this.#host!;
    const length = events.length;
    let start = 0;
    if (this.#shuffle) {
      // One pass in a random order, skipping subscriptions with no demand
      // (GenStage stops at the first one, which can leave a subscription that
      // asked waiting for events its producer buffered), then sorted again:
      // the sort is stable, so ties keep the random order.
      this.#shuffle = false;
      shuffle(entries);
      for (const entry of entries) {
        if (start === length) break;
        if (entry.demand === 0) continue;
        const n = Math.min(entry.demand, length - start);
        host.send(entry.subscription, n === length ? events : events.slice(start, start + n));
        start += n;
        entry.demand -= n;
      }
      entries.sort(byDemand);
    }
    while (start < length) {
      const head = entries[0];
      if (head === undefined || head.demand === 0) break;
      const n = Math.min(head.demand, length - start);
      host.send(head.subscription, n === length ? events : events.slice(start, start + n));
      start += n;
      head.demand -= n;
      if (entries.length > 1) {
        entries.shift();
        this.#insert(head);
      }
    }
    if (start === length) return EMPTY;
    const leftover = start === 0 ? events : events.slice(start);
    this.#pending = Math.max(this.#pending - leftover.length, 0);
    return leftover;
  }

  info(message: unknown): void {
    this.#host!.info(message);
  }

  /** Inserts after every entry with a demand ≥ the entry's: ties stay FIFO. */
  #insert(entry: Entry<T>): void {
    const entries = this.#entries;
    let i = entries.length;
    while (i > 0 && entries[i - 1].demand < entry.demand) i--;
    entries.splice(i, 0, entry);
  }
}

function byDemand<T>(a: Entry<T>, b: Entry<T>): number {
  return b.demand - a.demand;
}

function shuffle<E>(array: E[]): void {
  for (let i = array.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [array[i], array[j]] = [array[j], array[i]];
  }
}
