import type { Dispatcher, DispatcherHost } from "../dispatcher.ts";
import type { PartitionKey, SubscribeOptions, Subscription } from "../subscription.ts";
import { Queue } from "../_queue.ts";
import * as v from "../_validate.ts";

/** Options of a {@linkcode PartitionDispatcher}. */
export interface PartitionDispatcherOptions<T, K extends PartitionKey = PartitionKey> {
  /**
   * The partitions: a count `n` names them `0` to `n - 1`; an array names
   * them by its (distinct) elements.
   */
  readonly partitions: number | readonly K[];
  /**
   * Returns the partition of `event`, or `null` to discard it. A `hash` that
   * throws, returns `undefined` or returns a key that is not a partition
   * stops the producer with an error (a programming error).
   */
  readonly hash: (event: T) => K | null;
  /**
   * The most events a partition keeps while its subscription has no demand
   * (or while it has no subscription). Once one partition's backlog is full,
   * the producer is asked for nothing more until it drains; events already
   * asked for when it filled still join it, so a backlog exceeds
   * `maxBacklog` by at most that demand. An integer ≥ 1 or `Infinity`.
   *
   * @default {the producer's bufferSize, or 10 000 when that is Infinity}
   */
  readonly maxBacklog?: number;
  /**
   * How long, in milliseconds, a closing producer keeps the backlog of a
   * partition that has no subscriber, for a late or replacement subscriber;
   * then it drops it, reporting it through the producer's `onDiscard` (and
   * its warning). An integer ≥ 0 or `Infinity` (keep it until a subscriber
   * comes or the producer is stopped).
   *
   * @default {5000}
   */
  readonly keepBacklogMs?: number;
}

/** The most partitions a PartitionDispatcher has. */
const MAX_PARTITIONS = 65_536;

/** An info message waiting behind the events queued before it. */
class Marker {
  readonly message: unknown;
  /** Partitions whose backlog has not passed it yet. */
  remaining: number;
  constructor(message: unknown, remaining: number) {
    this.message = message;
    this.remaining = remaining;
  }
}

/** Events a partition keeps, as they came in one dispatch (or one redelivery). */
class Segment<T> {
  readonly events: T[];
  /** The output position of `events[0]`: a lower bound of the positions of those left. */
  readonly position: number;
  /** Events of `events` already sent. */
  offset = 0;
  constructor(events: T[], position: number) {
    this.events = events;
    this.position = position;
  }
}

interface Partition<T, K> {
  readonly key: K;
  subscription: Subscription<T> | null;
  /** Outstanding demand of the subscription; positive only while the backlog holds no events. */
  demand: number;
  /** Events waiting for demand, in segments, FIFO, with info markers between them. */
  readonly backlog: Queue<Segment<T> | Marker>;
  /** Events in `backlog` (markers not counted). */
  size: number;
  /** The events this partition keeps from the dispatch in progress. */
  kept: T[] | null;
  /** The events this partition's subscription gets from the dispatch in progress. */
  out: T[] | null;
}

const EMPTY: never[] = [];

/** The action named by the constructor's errors (see `createPartitionDispatcher`). */
let constructing = "construct PartitionDispatcher";

/**
 * @internal Constructs a PartitionDispatcher whose option errors name
 * `action` (for `partition()`), e.g. `Cannot partition a stream as hash must be…`.
 */
export function createPartitionDispatcher<T, K extends PartitionKey>(
  action: string,
  options: PartitionDispatcherOptions<T, K>,
): PartitionDispatcher<T, K> {
  constructing = action;
  try {
    return new PartitionDispatcher(options);
  } finally {
    constructing = "construct PartitionDispatcher";
  }
}

/**
 * Sends each event to the one subscription reading its partition:
 * GenStage's `PartitionDispatcher`. `hash(event)` names the partition (or
 * `null` to discard the event); each partition has at most one
 * subscription, chosen by its `partition` subscription option.
 *
 * - A partition whose subscription has no demand, or that has no
 *   subscription, keeps its events in a backlog, and its next subscription
 *   receives that backlog first. When a partition's subscription ends, its
 *   backlog is kept for the partition's next subscriber (nothing lost,
 *   nothing asked twice), unlike GenStage which drops it and asks again.
 * - Backlogs are bounded, unlike GenStage's: a backlog holds at most
 *   `maxBacklog` events (plus what was already asked for when it filled),
 *   and a full backlog stops the producer from being asked for more until
 *   it drains.
 * - Upstream demand covers what the subscriptions are owed: when events go
 *   to a backlog or are discarded, replacements are asked for (by a queued
 *   ask, like GenStage's selector refunds), so a partition is never left
 *   waiting with unmet demand while its events went elsewhere. GenStage
 *   instead forwards every ask in full, even one served from a backlog,
 *   and can stall with unmet demand.
 * - **Limit:** upstream demand is shared by the partitions, so a partition
 *   that is never read (or has no subscriber) fills its backlog and then
 *   stalls every other partition until it is read. The distribution is only
 *   as even as `hash` makes it.
 * - A missing, unknown or taken `partition` option makes `subscribeTo` throw.
 * - Info messages wait behind the backlogs of subscribed partitions, and a
 *   closing producer waits for them to be delivered.
 *
 * @example Odd and even numbers to two consumers
 * ```ts
 * import { Consumer, PartitionDispatcher, Producer } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * const producer = Producer.from([1, 2, 3, 4, 5, 6], {
 *   dispatcher: new PartitionDispatcher({
 *     partitions: ["odd", "even"],
 *     hash: (n: number) => (n % 2 === 0 ? "even" : "odd"),
 *   }),
 * });
 * const seen: Record<string, number[]> = { odd: [], even: [] };
 * const consumers = ["odd", "even"].map((partition) =>
 *   new Consumer<number>({
 *     subscribeTo: [[producer, { partition, maxDemand: 2 }]],
 *     handleEvents: (events) => void seen[partition].push(...events),
 *   })
 * );
 * await Promise.all(consumers.map((consumer) => consumer.closed));
 * assert.deepEqual(seen, { odd: [1, 3, 5], even: [2, 4, 6] });
 * ```
 */
export class PartitionDispatcher<T = unknown, K extends PartitionKey = PartitionKey>
  implements Dispatcher<T> {
  #host: DispatcherHost<T> | undefined;
  readonly #hash: (event: T) => K | null;
  readonly #partitions = new Map<K, Partition<T, K>>();
  /** The partitions by index when the keys are 0..n-1: a faster lookup than the Map. */
  readonly #byIndex: Partition<T, K>[] = [];
  readonly #keys: readonly K[];
  readonly #count: number | undefined;
  #maxBacklog: number;
  /** Subscription → partition, kept after the subscription ends (for `redeliver`). */
  readonly #bySubscription = new WeakMap<Subscription<T>, Partition<T, K>>();
  /** Upstream demand forwarded and not yet matched by dispatched events. */
  #waiting = 0;
  /** Partitions whose backlog is full. */
  #full = 0;
  /** Asks this dispatcher queued through `host.ask` to forward demand, by subscription. */
  readonly #refunds = new Map<Subscription<T>, number>();
  /** How long a closing producer keeps the backlog of a partition with no subscriber (keepBacklogMs). */
  readonly keepMs: number;

  /**
   * Creates a dispatcher with every partition free and empty.
   *
   * @param options The partitions, the hash and the backlog bound.
   * @throws {TypeError} If `options`, `partitions` or `hash` has the wrong type, or `partitions` repeats a key.
   * @throws {RangeError} If `partitions` is not an integer ≥ 1 or an empty array, or `maxBacklog` is not an integer ≥ 1 or `Infinity`.
   */
  constructor(options: PartitionDispatcherOptions<T, K>) {
    const action = constructing;
    const o = v.options<PartitionDispatcherOptions<T, K>>(action, "options", options);
    if (options === undefined) {
      throw new TypeError(v.message(action, "options", "an object", options));
    }
    const partitions: unknown = o.partitions;
    let keys: K[];
    if (typeof partitions === "number") {
      const count = v.capped(action, "partitions", partitions, 1, MAX_PARTITIONS);
      this.#count = count;
      keys = Array.from({ length: count }, (_, i) => i as K);
    } else if (Array.isArray(partitions)) {
      if (partitions.length === 0) {
        throw new RangeError(v.message(action, "partitions", "a non-empty array", partitions));
      }
      if (partitions.length > MAX_PARTITIONS) {
        throw new RangeError(
          v.message(
            action,
            "partitions",
            `an array of at most ${MAX_PARTITIONS} keys`,
            partitions,
          ),
        );
      }
      keys = partitions.slice();
      const seen = new Set<K>();
      for (const key of keys) {
        if (key === null || key === undefined) {
          throw new TypeError(
            v.message(action, "every partition", "a key other than null or undefined", key),
          );
        }
        if (seen.has(key)) {
          throw new TypeError(v.message(action, "every partition", "distinct", key));
        }
        seen.add(key);
      }
    } else {
      throw new TypeError(
        v.message(action, "partitions", "an integer or an array of keys", partitions),
      );
    }
    this.#keys = Object.freeze(keys);
    this.#hash = v.callback<(event: T) => K | null>(action, "hash", o.hash, false)!;
    this.#maxBacklog = o.maxBacklog === undefined
      ? NaN
      : v.integer(action, "maxBacklog", o.maxBacklog, 1, Infinity, true);
    this.keepMs = v.integer(action, "keepBacklogMs", o.keepBacklogMs ?? 5000, 0, Infinity, true);
    const indexed = keys.every((key, index) => key === index);
    for (const key of keys) {
      const partition: Partition<T, K> = {
        key,
        subscription: null,
        demand: 0,
        backlog: new Queue(),
        size: 0,
        kept: null,
        out: null,
      };
      this.#partitions.set(key, partition);
      if (indexed) this.#byIndex.push(partition);
    }
  }

  /** The partition keys, in order. */
  get partitions(): readonly K[] {
    return this.#keys;
  }

  /** The most events a partition's backlog holds (the producer's `bufferSize` unless set). */
  get maxBacklog(): number {
    return this.#maxBacklog;
  }

  /** Upstream demand forwarded and not yet matched by events. */
  get waiting(): number {
    return this.#waiting;
  }

  /**
   * Demand forwarded upstream beyond what the subscriptions are owed (for
   * instance that of ended subscriptions): it is matched before asking again.
   */
  get pending(): number {
    return Math.max(0, this.#waiting - this.#owed());
  }

  /**
   * How many events wait in `partition`'s backlog for demand.
   *
   * @param partition A partition key.
   * @returns The number of events in its backlog.
   * @throws {TypeError | RangeError} If `partition` is not one of the partitions.
   *
   * @example A backlog fills while its partition has no subscriber
   * ```ts
   * import { PartitionDispatcher, Producer } from "@webstage/webstage";
   * import assert from "node:assert/strict";
   *
   * const dispatcher = new PartitionDispatcher({ partitions: 2, hash: (n: number) => n % 2 });
   * const producer = new Producer<number>({ dispatcher });
   * const reader = producer.subscribe({ partition: 0, maxDemand: 4 }).getReader();
   * producer.emit([0, 1, 2, 3]);
   * assert.deepEqual((await reader.read()).value, [0, 2]);
   * assert.equal(dispatcher.backlogSize(1), 2);
   * assert.deepEqual(dispatcher.backlogSizes(), new Map([[0, 0], [1, 2]]));
   * await producer.stop();
   * ```
   */
  backlogSize(partition: K): number {
    return this.#partition("read a backlog size", partition).size;
  }

  /** The size of every partition's backlog, by key. */
  backlogSizes(): Map<K, number> {
    const sizes = new Map<K, number>();
    for (const [key, partition] of this.#partitions) sizes.set(key, partition.size);
    return sizes;
  }

  /** Adopts the dispatcher into a stage; a dispatcher belongs to one stage. */
  init(host: DispatcherHost<T>): void {
    if (this.#host !== undefined) {
      throw new TypeError("Cannot use a PartitionDispatcher in two stages: create one per stage");
    }
    this.#host = host;
    if (Number.isNaN(this.#maxBacklog)) {
      // Every backlog is bounded by default, also on a producer-consumer (bufferSize Infinity).
      this.#maxBacklog = Number.isFinite(host.bufferSize) ? host.bufferSize : 10_000;
    }
  }

  /**
   * Checks the `partition` subscription option: present, one of the
   * partitions, and not taken by a live subscription.
   *
   * @throws {TypeError} If `partition` is missing, unknown or taken.
   * @throws {RangeError} If the partitions are a count and `partition` is a number out of range.
   */
  validate(options: Readonly<SubscribeOptions<T>>): void {
    const partition = this.#partition("subscribe", options.partition);
    if (partition.subscription !== null) {
      throw new TypeError(
        `Cannot subscribe as partition ${v.show(partition.key)} is taken: ` +
          "each partition has at most one subscription",
      );
    }
  }

  /** Gives the subscription its partition, with the partition's backlog. */
  subscribe(subscription: Subscription<T>): number {
    this.validate(subscription.options);
    const partition = this.#partitions.get(subscription.options.partition as K)!;
    partition.subscription = subscription;
    this.#bySubscription.set(subscription, partition);
    return 0;
  }

  /**
   * Frees the subscription's partition. Its backlog is kept for the next
   * subscriber; the demand already forwarded for it stays `pending`, so
   * nothing is asked twice.
   */
  cancel(subscription: Subscription<T>): number {
    const partition = this.#bySubscription.get(subscription);
    if (partition === undefined || partition.subscription !== subscription) return 0;
    partition.subscription = null;
    partition.demand = 0;
    const refunded = this.#refunds.delete(subscription);
    // Info messages wait only for subscribed partitions.
    const backlog = partition.backlog;
    let markers = false;
    for (const item of backlog) markers ||= item instanceof Marker;
    if (markers) {
      for (const item of backlog.drain()) {
        if (item instanceof Marker) this.#pass(item);
        else backlog.push(item);
      }
    }
    // A refund queued on its behalf will never come: forward it now.
    return refunded ? this.#forward() : 0;
  }

  /**
   * Serves the ask from the partition's backlog first, then returns the
   * upstream demand needed to cover what every subscription is still owed
   * (nothing while a backlog is full).
   */
  ask(count: number, subscription: Subscription<T>): number {
    const partition = this.#bySubscription.get(subscription);
    if (partition === undefined || partition.subscription !== subscription) return 0;
    const refund = this.#refunds.get(subscription);
    if (refund !== undefined) {
      // Part of this ask is the refund this dispatcher queued: it only forwards demand.
      const taken = Math.min(refund, count);
      if (taken === refund) this.#refunds.delete(subscription);
      else this.#refunds.set(subscription, refund - taken);
      count -= taken;
    }
    if (count > 0) partition.demand += this.#serve(partition, count);
    return this.#forward();
  }

  /**
   * Sends each event to its partition's subscription or backlog while
   * upstream demand lasts; returns the rest (events nobody asked for).
   *
   * @throws {TypeError} If `hash` returns `undefined` or a key that is not a partition (stopping the producer).
   */
  dispatch(events: T[]): T[] {
    const hash = this.#hash;
    const partitions = this.#partitions;
    const max = this.#maxBacklog;
    const length = events.length;
    const byIndex = this.#byIndex;
    const touched: Partition<T, K>[] = [];
    const keeping: Partition<T, K>[] = [];
    const position = this.#host!.position ?? 0;
    // Every event answers upstream demand, even a discarded one (unlike GenStage,
    // which does not count it and can then wait for events nobody will send).
    const end = Math.min(length, this.#waiting);
    this.#waiting -= end;
    let i = 0;
    for (; i < end; i++) {
      const event = events[i];
      const key = hash(event);
      if (key === null) continue;
      const partition = (typeof key === "number" ? byIndex[key] : undefined) ??
        partitions.get(key as K);
      if (partition === undefined) {
        this.#waiting += end - i - 1;
        for (const started of touched) started.out = null;
        for (const started of keeping) started.kept = null;
        throw new TypeError(
          v.message(
            `dispatch ${v.show(event)}`,
            "the key returned by hash",
            this.#describe(true),
            key,
          ),
        );
      }
      if (partition.demand > 0) {
        partition.demand--;
        const out = partition.out;
        if (out === null) {
          partition.out = [event];
          touched.push(partition);
        } else out.push(event);
      } else {
        const kept = partition.kept;
        if (kept === null) {
          partition.kept = [event];
          keeping.push(partition);
        } else kept.push(event);
      }
    }
    for (const partition of keeping) {
      // Past maxBacklog only by demand asked upstream before the backlog filled.
      const kept = partition.kept!;
      partition.kept = null;
      partition.backlog.push(new Segment(kept, position));
      const size = partition.size;
      partition.size = size + kept.length;
      if (size < max && partition.size >= max) this.#full++;
    }
    const host = this.#host!;
    for (const partition of touched) {
      const out = partition.out!;
      partition.out = null;
      host.send(partition.subscription!, out);
    }
    // Events that went to a backlog or were discarded used demand a subscription is
    // still owed: ask for replacements (a queued ask, as GenStage's selector refunds).
    if (this.#full === 0 && this.#refunds.size === 0 && this.#owed() > this.#waiting) {
      for (const partition of this.#partitions.values()) {
        if (partition.demand > 0) {
          this.#refunds.set(partition.subscription!, 1);
          host.ask(partition.subscription!, 1);
          break;
        }
      }
    }
    return i === length ? EMPTY : i === 0 ? events : events.slice(i);
  }

  /** Delivers `message` once every subscribed partition's backlog has passed the events queued now. */
  info(message: unknown): void {
    let behind = 0;
    for (const partition of this.#partitions.values()) {
      if (partition.subscription !== null && partition.backlog.length > 0) behind++;
    }
    if (behind === 0) return this.#host!.info(message);
    const marker = new Marker(message, behind);
    for (const partition of this.#partitions.values()) {
      if (partition.subscription !== null && partition.backlog.length > 0) {
        partition.backlog.push(marker);
      }
    }
  }

  /**
   * False while a backlog holds events, whether its partition has a
   * subscriber or not: a closing producer waits for them (for a partition
   * with no subscriber, up to `keepBacklogMs`).
   */
  idle(): boolean {
    for (const partition of this.#partitions.values()) if (partition.size > 0) return false;
    return true;
  }

  /**
   * The lowest output position among the events in the backlogs (each
   * backlog keeps them in order, given-back events first), or `Infinity`.
   */
  heldFrom(): number {
    let low = Infinity;
    for (const partition of this.#partitions.values()) {
      if (partition.size === 0) continue;
      for (const item of partition.backlog) {
        if (item instanceof Segment) {
          if (item.position < low) low = item.position;
          break;
        }
      }
    }
    return low;
  }

  /**
   * Drops the backlogs of the partitions that have no subscriber; a closing
   * producer calls it once `keepBacklogMs` has passed.
   *
   * @returns How many events were dropped.
   */
  discard(): number {
    let dropped = 0;
    for (const partition of this.#partitions.values()) {
      if (partition.subscription !== null || partition.size === 0) continue;
      const wasFull = partition.size >= this.#maxBacklog;
      for (const item of partition.backlog.drain()) {
        if (item instanceof Marker) this.#pass(item);
      }
      dropped += partition.size;
      partition.size = 0;
      if (wasFull) this.#full--;
    }
    return dropped;
  }

  /**
   * Puts `events` back at the front of the backlog of the partition
   * `subscription` read, for its next subscriber (or its current one, at
   * once, if it has demand).
   *
   * @returns The events it could not place: all of them if `subscription` never belonged to this dispatcher.
   */
  redeliver(events: T[], subscription: Subscription<T>): T[] {
    const partition = this.#bySubscription.get(subscription);
    if (partition === undefined) return events;
    if (events.length === 0) return EMPTY;
    // They go back before the others, with the lowest position the host knows for them.
    partition.backlog.unshift(new Segment(events.slice(), this.#host!.position ?? 0));
    const size = partition.size;
    partition.size = size + events.length;
    if (size < this.#maxBacklog && partition.size >= this.#maxBacklog) this.#full++;
    if (partition.demand > 0) {
      const demand = partition.demand;
      partition.demand = 0;
      partition.demand = this.#serve(partition, demand);
    }
    return EMPTY;
  }

  /** Sends up to `count` backlog events to the partition's subscription; returns the demand left. */
  #serve(partition: Partition<T, K>, count: number): number {
    const backlog = partition.backlog;
    if (backlog.length === 0) return count;
    const wasFull = partition.size >= this.#maxBacklog;
    let events: T[] | undefined;
    let taken = 0;
    let low = Infinity;
    while (backlog.length > 0) {
      const head = backlog.peek()!;
      if (head instanceof Marker) {
        backlog.shift();
        this.#pass(head);
        continue;
      }
      if (taken === count) break;
      const available = head.events.length - head.offset;
      const take = Math.min(available, count - taken);
      if (head.position < low) low = head.position;
      const part = head.offset === 0 && take === head.events.length
        ? head.events
        : head.events.slice(head.offset, head.offset + take);
      if (events === undefined) events = part;
      else for (let i = 0; i < part.length; i++) events.push(part[i]);
      taken += take;
      if (take === available) backlog.shift();
      else head.offset += take;
    }
    partition.size -= taken;
    if (wasFull && partition.size < this.#maxBacklog) this.#full--;
    if (events !== undefined && taken > 0) this.#host!.send(partition.subscription!, events, low);
    return count - taken;
  }

  /** The demand of every subscription (what they are owed). */
  #owed(): number {
    let owed = 0;
    for (const partition of this.#partitions.values()) owed += partition.demand;
    return owed;
  }

  /** Asks upstream for what the subscriptions are owed beyond `waiting`, unless a backlog is full. */
  #forward(): number {
    if (this.#full > 0) return 0;
    const need = this.#owed() - this.#waiting;
    if (need <= 0) return 0;
    this.#waiting += need;
    return need;
  }

  #pass(marker: Marker): void {
    if (--marker.remaining === 0) this.#host!.info(marker.message);
  }

  /** The rule a partition key breaks, e.g. `an integer in [0, 1]` or `one of "a" or "b"`. */
  #describe(orNull = false): string {
    if (this.#count !== undefined) {
      return `an integer in [0, ${this.#count - 1}]${orNull ? " or null" : ""}`;
    }
    const keys = this.#keys.map(v.show);
    if (orNull) keys.push("null");
    return keys.length === 1
      ? keys[0]
      : `one of ${keys.slice(0, -1).join(", ")} or ${keys[keys.length - 1]}`;
  }

  #partition(action: string, key: unknown): Partition<T, K> {
    const partition = this.#partitions.get(key as K);
    if (partition !== undefined) return partition;
    const name = "partition";
    if (this.#count !== undefined && typeof key === "number") {
      throw new RangeError(v.message(action, name, this.#describe(), key));
    }
    throw new TypeError(v.message(action, name, this.#describe(), key));
  }
}
