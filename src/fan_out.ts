/**
 * Bounded fan-out and fan-in for plain web streams, built on stages and
 * dispatchers: `broadcast`, `balance`, `partition` and `merge`.
 *
 * Unlike `ReadableStream.prototype.tee()`, which reads its source at the pace
 * of the faster branch and queues without bound for the slower one, every
 * output here holds at most `maxDemand` events whatever its reader does; the
 * source is read only as the outputs ask.
 *
 * @module
 */

import type { PartitionKey } from "./subscription.ts";
import type { Dispatcher, DispatcherHost } from "./dispatcher.ts";
import { Producer } from "./producer.ts";
import { toReadableStream } from "./streams.ts";
import { BroadcastDispatcher, type LagPolicy } from "./dispatchers/broadcast_dispatcher.ts";
import { DemandDispatcher } from "./dispatchers/demand_dispatcher.ts";
import {
  createPartitionDispatcher,
  type PartitionDispatcher,
} from "./dispatchers/partition_dispatcher.ts";
import { sourceCore } from "./_config.ts";
import { subscribeOptions } from "./_options.ts";
import { eventStream } from "./_reader.ts";
import { ignore } from "./_streams.ts";
import * as v from "./_validate.ts";

/** Options of {@linkcode broadcast} and {@linkcode balance}. */
export interface FanOutOptions {
  /**
   * The most events an output holds (asked for from the source and not yet
   * read). An integer ≥ 1.
   *
   * @default {1000}
   */
  readonly maxDemand?: number;
}

/** Options of {@linkcode broadcast}. */
export interface BroadcastOptions extends FanOutOptions {
  /**
   * How many events an output may fall behind the fastest one: they are kept
   * for it while the others go on. An integer ≥ 0; 0 paces every output by
   * the slowest.
   *
   * @default {0}
   */
  readonly maxLag?: number;
  /**
   * What happens to an output whose lag would exceed `maxLag`: `"wait"` —
   * the others wait for it; `"cancel"` — it errors with reason
   * `"lagging"` (after the events it already holds) and the others go on;
   * `"drop"` — its oldest kept events are dropped, so it keeps the latest
   * `maxLag`.
   *
   * @default {"wait"}
   */
  readonly onLag?: LagPolicy;
  /**
   * Called with the number of events dropped for a lagging output
   * (`onLag: "drop"`); return `false` to silence the default `console.warn`.
   */
  readonly onDiscard?: (count: number) => boolean | void;
}

/** Options of {@linkcode partition}. */
export interface PartitionOptions<T, K extends PartitionKey = number> extends FanOutOptions {
  /** The partitions: a count `n` (outputs `0` to `n - 1`) or an array of keys. */
  readonly partitions: number | readonly K[];
  /** Returns the partition of `event`, or `null` to drop it. */
  readonly hash: (event: T) => K | null;
  /**
   * The most events kept for a partition whose output is not being read
   * (plus what was already asked for when it filled); once one is full, the
   * source is not read until it drains. An integer ≥ 1 or `Infinity`.
   *
   * @default {maxDemand}
   */
  readonly maxBacklog?: number;
}

/** Options of {@linkcode merge}. */
export interface MergeOptions {
  /**
   * The most events read ahead from each source. An integer ≥ 1.
   *
   * @default {1000}
   */
  readonly maxDemand?: number;
}

/**
 * Copies every event of `source` to `count` streams, at the pace of the
 * slowest reader (GenStage's `BroadcastDispatcher`), or of the fastest with a
 * lag policy.
 *
 * Every output is subscribed before the source is read, so each receives
 * every event. The source is read as the outputs ask, and no output is more
 * than `maxDemand` events ahead of the slowest: an output that is not read
 * holds the others back (read them concurrently). With `maxLag: n`, an
 * output may fall `n` events behind the fastest (they are kept for it), and
 * `onLag` says what happens beyond: `"wait"` holds the others back,
 * `"cancel"` errors that output with `"lagging"`, `"drop"` drops its oldest
 * events (counted through `onDiscard`). Cancelling an output releases the
 * others at once; cancelling all of them cancels the source with the last
 * reason; an error in the source errors every output after the events read
 * before it; the end of the source closes them.
 *
 * @param source The stream to copy; it is locked at once.
 * @param count How many outputs, an integer ≥ 1.
 * @param options `maxDemand`, the most events an output holds; `maxLag`, `onLag` and `onDiscard`, the lag policy.
 * @returns `count` streams of the same events.
 * @throws {TypeError} If `source` is not an unlocked ReadableStream, or an option has the wrong type.
 * @throws {RangeError} If `count` or `maxDemand` is not an integer ≥ 1, or `maxLag` not an integer ≥ 0.
 *
 * @example Two readers of one stream
 * ```ts
 * import { broadcast } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * const source = new ReadableStream<number>({
 *   start(controller) {
 *     for (const n of [1, 2, 3]) controller.enqueue(n);
 *     controller.close();
 *   },
 * });
 * const read = async (stream: ReadableStream<number>) => {
 *   const reader = stream.getReader();
 *   const out: number[] = [];
 *   for (let r = await reader.read(); !r.done; r = await reader.read()) out.push(r.value);
 *   return out;
 * };
 * const [a, b] = broadcast(source, 2);
 * assert.deepEqual(await Promise.all([read(a), read(b)]), [[1, 2, 3], [1, 2, 3]]);
 * ```
 *
 * @example A reader that does not keep up is cut off
 * ```ts
 * import { broadcast } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * const source = new ReadableStream<number>({
 *   start(controller) {
 *     for (let n = 0; n < 100; n++) controller.enqueue(n);
 *     controller.close();
 *   },
 * });
 * const [live, idle] = broadcast(source, 2, { maxDemand: 4, maxLag: 10, onLag: "cancel" });
 * const reader = live.getReader();
 * let count = 0;
 * while (!(await reader.read()).done) count++;
 * assert.equal(count, 100); // `idle` was not read: it did not hold `live` back
 * const late = idle.getReader();
 * const kept: number[] = [];
 * await assert.rejects(async () => {
 *   for (let r = await late.read(); !r.done; r = await late.read()) kept.push(r.value);
 * }, (reason) => reason === "lagging");
 * assert.deepEqual(kept, [0, 1, 2, 3]); // what it had asked for before it lagged
 * ```
 */
export function broadcast<T>(
  source: ReadableStream<T>,
  count: number,
  options?: BroadcastOptions,
): ReadableStream<T>[] {
  const action = "broadcast a stream";
  const maxDemand = checkFanOut(action, source, count, options);
  const o = v.options<BroadcastOptions>(action, "options", options);
  const onDiscard = v.callback<(count: number) => boolean | void>(
    action,
    "onDiscard",
    o.onDiscard,
  );
  const maxLag = v.capped(action, "maxLag", o.maxLag ?? 0, 0, v.MAX_DEMAND);
  const onLag = v.oneOf(action, "onLag", o.onLag ?? "wait", ["wait", "cancel", "drop"] as const);
  const lagging = new BroadcastDispatcher<T>({ maxLag, onLag });
  // The producer inside is not the caller's: events dropped for a lagging
  // output are reported here, through a host that can count them.
  const dispatcher: Dispatcher<T> = {
    init: (host) =>
      lagging.init({
        send: (subscription, events) => host.send(subscription, events),
        ask: (subscription, n) => host.ask(subscription, n),
        info: (message) => host.info(message),
        cancel: (subscription, reason) => host.cancel(subscription, reason),
        bufferSize: host.bufferSize,
        discard: (n: number) => {
          if (onDiscard === undefined || onDiscard(n) !== false) {
            console.warn(`broadcast has dropped ${n} events for an output lagging behind`);
          }
        },
      } as DispatcherHost<T>),
    validate: (subscribeOptions) => lagging.validate(subscribeOptions),
    subscribe: (subscription) => lagging.subscribe(subscription),
    cancel: (subscription) => lagging.cancel(subscription),
    ask: (n, subscription) => lagging.ask(n, subscription),
    dispatch: (events) => lagging.dispatch(events),
    info: (message) => lagging.info(message),
    idle: () => lagging.idle(),
    redeliver: (events, subscription) => lagging.redeliver(events, subscription),
  };
  return fanOut(action, source, dispatcher, range(count), maxDemand, undefined);
}

/**
 * Shares the events of `source` among `count` streams: each event goes to
 * one output, the one whose reader has asked for the most (GenStage's
 * `DemandDispatcher`).
 *
 * Every output asks for `maxDemand` events at once and again as it is read,
 * so a slow or idle output holds at most `maxDemand` events and the others go
 * on. Cancelling an output drops the events it held; cancelling all of them
 * cancels the source with the last reason; an error in the source errors
 * every output; the end of the source closes them.
 *
 * @param source The stream to share; it is locked at once.
 * @param count How many outputs, an integer ≥ 1.
 * @param options `maxDemand`, the most events an output holds.
 * @returns `count` streams whose events together are the source's, each in source order.
 * @throws {TypeError} If `source` is not an unlocked ReadableStream, or an option has the wrong type.
 * @throws {RangeError} If `count` or `maxDemand` is not an integer ≥ 1.
 *
 * @example Two workers share the work
 * ```ts
 * import { balance } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * const source = new ReadableStream<number>({
 *   start(controller) {
 *     for (let n = 0; n < 100; n++) controller.enqueue(n);
 *     controller.close();
 *   },
 * });
 * const work = async (stream: ReadableStream<number>) => {
 *   const reader = stream.getReader();
 *   const done: number[] = [];
 *   for (let r = await reader.read(); !r.done; r = await reader.read()) done.push(r.value);
 *   return done;
 * };
 * const results = await Promise.all(balance(source, 2, { maxDemand: 10 }).map(work));
 * assert.equal(results[0].length + results[1].length, 100);
 * assert.deepEqual(results.flat().sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
 * ```
 */
export function balance<T>(
  source: ReadableStream<T>,
  count: number,
  options?: FanOutOptions,
): ReadableStream<T>[] {
  const action = "balance a stream";
  const maxDemand = checkFanOut(action, source, count, options);
  return fanOut(action, source, new DemandDispatcher<T>(), range(count), maxDemand, undefined);
}

/**
 * Splits `source` by key: `hash(event)` names the output that receives the
 * event, or `null` drops it (GenStage's `PartitionDispatcher`).
 *
 * With `partitions: n` the outputs are an array indexed `0` to `n - 1`; with
 * an array of keys they are a `Map` from each key. Each output holds at most
 * `maxDemand` events, and its partition keeps at most `maxBacklog` more (by
 * default `maxDemand`) while it is not read. **Limit:** once a backlog is full
 * the source is not read until that output is, so an output that is never
 * read eventually stalls the others: read them concurrently, or cancel the
 * ones you do not need (a cancelled output's events are then dropped).
 * Cancelling all of them cancels the source with the last reason; an error
 * in the source, or a `hash` that throws or returns an unknown key, errors
 * every output; the end of the source closes them.
 *
 * @param source The stream to split; it is locked at once.
 * @param options The partitions, `hash`, `maxDemand` and `maxBacklog`.
 * @returns One stream per partition, each in source order.
 * @throws {TypeError} If `source` is not an unlocked ReadableStream, or an option has the wrong type.
 * @throws {RangeError} If `partitions`, `maxDemand` or `maxBacklog` is out of range.
 *
 * @example Even and odd numbers
 * ```ts
 * import { partition } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * const source = new ReadableStream<number>({
 *   start(controller) {
 *     for (let n = 1; n <= 6; n++) controller.enqueue(n);
 *     controller.close();
 *   },
 * });
 * const read = async (stream: ReadableStream<number>) => {
 *   const reader = stream.getReader();
 *   const out: number[] = [];
 *   for (let r = await reader.read(); !r.done; r = await reader.read()) out.push(r.value);
 *   return out;
 * };
 * const [even, odd] = partition(source, { partitions: 2, hash: (n) => n % 2 });
 * assert.deepEqual(await Promise.all([read(even), read(odd)]), [[2, 4, 6], [1, 3, 5]]);
 * ```
 */
export function partition<T>(
  source: ReadableStream<T>,
  options: PartitionOptions<T, number> & { readonly partitions: number },
): ReadableStream<T>[];
/**
 * Splits `source` into named partitions: `hash(event)` returns one of the
 * `partitions` keys (or `null` to drop the event), and the result maps each
 * key to its output. Otherwise as with a count of partitions.
 *
 * @param source The stream to split; it is locked at once.
 * @param options The partition keys, `hash`, `maxDemand` and `maxBacklog`.
 * @returns A Map from each key to its stream, each in source order.
 * @throws {TypeError} If `source` is not an unlocked ReadableStream, an option has the wrong type, or a key repeats.
 * @throws {RangeError} If `partitions` is empty, or `maxDemand` or `maxBacklog` is out of range.
 *
 * @example Odd and even numbers by name
 * ```ts
 * import { partition } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * const source = new ReadableStream<number>({
 *   start(controller) {
 *     for (let n = 1; n <= 6; n++) controller.enqueue(n);
 *     controller.close();
 *   },
 * });
 * const outputs = partition(source, {
 *   partitions: ["odd", "even"],
 *   hash: (n) => (n % 2 === 0 ? "even" : "odd"),
 * });
 * const read = async (stream: ReadableStream<number>) => {
 *   const reader = stream.getReader();
 *   const out: number[] = [];
 *   for (let r = await reader.read(); !r.done; r = await reader.read()) out.push(r.value);
 *   return out;
 * };
 * const [odd, even] = await Promise.all([read(outputs.get("odd")!), read(outputs.get("even")!)]);
 * assert.deepEqual(odd, [1, 3, 5]);
 * assert.deepEqual(even, [2, 4, 6]);
 * ```
 */
export function partition<T, K extends PartitionKey>(
  source: ReadableStream<T>,
  options: PartitionOptions<T, K> & { readonly partitions: readonly K[] },
): Map<K, ReadableStream<T>>;
export function partition<T, K extends PartitionKey>(
  source: ReadableStream<T>,
  options: PartitionOptions<T, K>,
): ReadableStream<T>[] | Map<K, ReadableStream<T>> {
  const action = "partition a stream";
  checkSource(action, source);
  const o = v.options<PartitionOptions<T, K>>(action, "options", options);
  if (options === undefined) {
    throw new TypeError(v.message(action, "options", "an object", options));
  }
  const maxDemand = checkMaxDemand(action, o.maxDemand);
  const hash = v.callback<(event: T) => K | null>(action, "hash", o.hash, false)!;
  const cancelled = new Set<K>();
  const dispatcher: PartitionDispatcher<T, K> = createPartitionDispatcher<T, K>(action, {
    partitions: o.partitions as number | readonly K[],
    hash: (event) => {
      const key = hash(event);
      return cancelled.size > 0 && key !== null && cancelled.has(key) ? null : key;
    },
    maxBacklog: o.maxBacklog ?? maxDemand,
  });
  const keys = dispatcher.partitions;
  const outputs = fanOut(action, source, dispatcher, keys, maxDemand, { dispatcher, cancelled });
  if (typeof o.partitions === "number") return outputs;
  return new Map(keys.map((key, i) => [key, outputs[i]]));
}

/**
 * Reads several streams as one, pulling each source only as the output is
 * read (up to `maxDemand` events ahead per source). Events keep their order
 * within each source; there is no order across sources.
 *
 * The output closes when every source has ended, errors (and cancels the
 * other sources) when one errors, and cancelling it cancels every source.
 *
 * @param sources The streams to merge; they are locked at once.
 * @param options `maxDemand`, the most events read ahead from a source.
 * @returns One stream of every source's events.
 * @throws {TypeError} If `sources` is not an array of unlocked ReadableStreams, or an option has the wrong type.
 * @throws {RangeError} If `maxDemand` is not an integer ≥ 1.
 *
 * @example Two streams into one
 * ```ts
 * import { merge } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * const of = (...items: string[]) =>
 *   new ReadableStream<string>({
 *     start(controller) {
 *       for (const item of items) controller.enqueue(item);
 *       controller.close();
 *     },
 *   });
 * const reader = merge([of("a", "b"), of("c")]).getReader();
 * const out: string[] = [];
 * for (let r = await reader.read(); !r.done; r = await reader.read()) out.push(r.value);
 * assert.deepEqual(out.sort(), ["a", "b", "c"]);
 * ```
 */
export function merge<T>(
  sources: readonly ReadableStream<T>[],
  options?: MergeOptions,
): ReadableStream<T> {
  const action = "merge streams";
  if (!Array.isArray(sources)) {
    throw new TypeError(v.message(action, "sources", "an array of ReadableStreams", sources));
  }
  sources.forEach((source, i) => checkSource(action, source, `sources[${i}]`));
  const o = v.options<MergeOptions>(action, "options", options);
  const maxDemand = checkMaxDemand(action, o.maxDemand);
  const producers = sources.map((source) => Producer.from<T>(source, { onCancel: "stop" }));
  return toReadableStream<T>(producers.map((producer) => [producer, { maxDemand }] as const));
}

// ---------------------------------------------------------------- internals

function checkSource(action: string, source: unknown, name = "source"): void {
  if (
    source === null || typeof source !== "object" ||
    typeof (source as ReadableStream).getReader !== "function"
  ) {
    throw new TypeError(v.message(action, name, "a ReadableStream", source));
  }
  if ((source as ReadableStream).locked) {
    throw new TypeError(
      `Cannot ${action} as ${name} must be unlocked: current value is a locked ReadableStream`,
    );
  }
}

function checkMaxDemand(action: string, maxDemand: unknown): number {
  return v.integer(action, "maxDemand", maxDemand ?? 1000, 1);
}

function checkFanOut(action: string, source: unknown, count: unknown, options: unknown): number {
  checkSource(action, source);
  v.integer(action, "count", count, 1);
  return checkMaxDemand(action, v.options<FanOutOptions>(action, "options", options).maxDemand);
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}

interface Partitioned<T, K extends PartitionKey> {
  readonly dispatcher: PartitionDispatcher<T, K>;
  /** Keys whose output was cancelled: `hash` drops their events. */
  readonly cancelled: Set<K>;
}

/**
 * One producer reading `source`, one output per key, each a raw
 * subscription read through the events bridge, subscribed (and asking for
 * `maxDemand`) before anything is read.
 */
function fanOut<T, K extends PartitionKey>(
  action: string,
  source: ReadableStream<T>,
  dispatcher: Dispatcher<T>,
  keys: readonly K[],
  maxDemand: number,
  partitioned: Partitioned<T, K> | undefined,
): ReadableStream<T>[] {
  const producer = Producer.from(source, { dispatcher });
  const core = sourceCore(action, producer);
  let live = keys.length;
  // Every output subscribes before any asks: a broadcast gives each the first events.
  const links = keys.map((key) => {
    const options = subscribeOptions<T>(
      action,
      partitioned === undefined ? { maxDemand } : { maxDemand, partition: key },
    );
    const link = core.subscribe<T>(options);
    link.bridged = true;
    return link;
  });
  for (const link of links) link.askByRule();
  return links.map((link, i) => {
    const key = keys[i];
    return eventStream<T>(() => [link], {
      cancel: (_, reason) => {
        if (--live === 0) producer.stop(reason).then(ignore, ignore);
        else if (partitioned === undefined) link.source.cancelled(link, "normal", false);
        else {
          // Its events are dropped from now on, and what its backlog holds
          // is drained, so that a full backlog cannot stall the others.
          partitioned.cancelled.add(key);
          return () => partitioned.dispatcher.backlogSize(key) === 0;
        }
      },
    });
  });
}
