/**
 * Web-stream interop: producers built from iterables and streams, and stages
 * read as a `ReadableStream` of single events.
 *
 * @module
 */

import type { SubscribeOptions } from "./subscription.ts";
import type { FromOptions, Producer } from "./producer.ts";
import type { Source, SubscribeTo } from "./consumer.ts";
import { sourceCore } from "./producer.ts";
import type { StageCore } from "./_stage.ts";
import type { Link } from "./_link.ts";
import { type NormalSubscribeOptions, subscribeOptions } from "./_options.ts";
import { ignore, streams } from "./_streams.ts";
import * as v from "./_validate.ts";

type ProducerClass = new <T>(options: ConstructorParameters<typeof Producer<T>>[0]) => Producer<T>;

/** @internal The body of `Producer.from`. */
export function producerFrom<T>(
  ProducerClass: ProducerClass,
  source: Iterable<T> | AsyncIterable<T> | ReadableStream<T>,
  options?: FromOptions<T>,
): Producer<T> {
  const action = "create a Producer from a source";
  const o = v.options<FromOptions<T>>(action, "options", options);
  const onCancel = v.oneOf(
    action,
    "onCancel",
    o.onCancel ?? "continue",
    ["continue", "stop"] as const,
  );
  // The source is checked now and opened (a stream locked, an iterator made)
  // only once the producer's options have been accepted.
  const open = puller<T>(action, source);
  let exhausted = false;
  const producer: Producer<T> = new ProducerClass<T>({
    dispatcher: o.dispatcher,
    demand: o.demand,
    signal: o.signal,
    handleDemand: (demand) => {
      if (exhausted) return;
      return then(pull.take(demand), ({ events, done }) => {
        if (done) {
          exhausted = true;
          // close() stops once the events returned now have been delivered.
          producer.close();
        }
        return events;
      });
    },
    handleCancel: onCancel === "stop"
      ? () => {
        if (sourceCore(action, producer).downstreamCount === 0) producer.stop("normal");
      }
      : undefined,
  });
  const pull = open();
  const core = sourceCore(action, producer);
  producer.closed.then(
    () => exhausted || pull.release(core.reason),
    (reason) => exhausted || pull.release(reason),
  );
  return producer;
}

interface Puller<T> {
  take(n: number): { events: T[]; done: boolean } | Promise<{ events: T[]; done: boolean }>;
  release(reason: unknown): void;
}

function then<A, B>(value: A | Promise<A>, next: (a: A) => B): B | Promise<B> {
  // Sources are ours: a Puller returns a real Promise or a plain value.
  return value instanceof Promise ? value.then(next) : next(value as A);
}

function puller<T>(action: string, source: unknown): () => Puller<T> {
  if (
    source !== null && typeof source === "object" &&
    typeof (source as ReadableStream<T>).getReader === "function"
  ) {
    return () => {
      const reader = (source as ReadableStream<T>).getReader();
      return {
        async take(n) {
          const events: T[] = [];
          while (events.length < n) {
            const { done, value } = await reader.read();
            if (done) return { events, done: true };
            events.push(value);
          }
          return { events, done: false };
        },
        release: (reason) => void reader.cancel(reason).then(ignore, ignore),
      };
    };
  }
  if (source !== null && typeof source === "object" && Symbol.asyncIterator in source) {
    return () => {
      const iterator = (source as AsyncIterable<T>)[Symbol.asyncIterator]();
      return {
        async take(n) {
          const events: T[] = [];
          while (events.length < n) {
            const { done, value } = await iterator.next();
            if (done) return { events, done: true };
            events.push(value);
          }
          return { events, done: false };
        },
        release: () => void iterator.return?.()?.then(ignore, ignore),
      };
    };
  }
  if (
    source !== null && source !== undefined &&
    typeof (source as Iterable<T>)[Symbol.iterator] === "function"
  ) {
    return () => {
      const iterator = (source as Iterable<T>)[Symbol.iterator]();
      return {
        take(n) {
          const events: T[] = [];
          while (events.length < n) {
            const { done, value } = iterator.next();
            if (done) return { events, done: true };
            events.push(value);
          }
          return { events, done: false };
        },
        release: () => void iterator.return?.(),
      };
    };
  }
  throw new TypeError(
    v.message(action, "source", "an Iterable, an AsyncIterable or a ReadableStream", source),
  );
}

/** Options of {@linkcode toReadableStream}. */
export interface ToReadableStreamOptions {
  /**
   * Once subscribed, set every subscribed `Producer` (or those in
   * `producers`) to this demand mode, as GenStage's `stream/2` does.
   * Useful to start producers created with `demand: "accumulate"`.
   */
  readonly demand?: "forward" | "accumulate";
  /** The producers whose demand mode to set, instead of the subscribed ones. */
  // deno-lint-ignore no-explicit-any
  readonly producers?: readonly Producer<any>[];
}

/**
 * Reads stages as one `ReadableStream` of single events (GenStage's
 * `stream/2`).
 *
 * The stream is lazy: it subscribes on the first read, asking each source
 * for `maxDemand` events, and asks again as its reader pulls. It closes when
 * every subscription has ended normally (a finite source ends the stream, it
 * does not fail it), errors when a `"permanent"` or `"transient"`
 * subscription ends abnormally (`"temporary"` ones just end), and cancelling
 * it cancels every subscription with `"normal"`. Options are validated now.
 *
 * @param subscriptions The sources, each alone or with its subscription options.
 * @param options What to do once subscribed.
 * @returns A stream of the events of every source, FIFO per source.
 * @throws {TypeError | RangeError} If an entry or an option is invalid.
 *
 * @example Taking the first events of an endless producer
 * ```ts
 * import { Producer, toReadableStream } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * let next = 0;
 * const producer = new Producer<number>({
 *   handleDemand: (demand) => Array.from({ length: demand }, () => next++),
 * });
 * const reader = toReadableStream([[producer, { maxDemand: 5 }]]).getReader();
 * const taken: number[] = [];
 * while (taken.length < 7) taken.push((await reader.read()).value!);
 * await reader.cancel();
 * assert.deepEqual(taken, [0, 1, 2, 3, 4, 5, 6]);
 * await producer.stop();
 * ```
 */
export function toReadableStream<T>(
  subscriptions: readonly SubscribeTo<T>[],
  options?: ToReadableStreamOptions,
): ReadableStream<T> {
  const action = "create a ReadableStream";
  if (!Array.isArray(subscriptions)) {
    throw new TypeError(v.message(action, "subscriptions", "an array", subscriptions));
  }
  const o = v.options<ToReadableStreamOptions>(action, "options", options);
  const demand = o.demand === undefined
    ? undefined
    : v.oneOf(action, "demand", o.demand, ["forward", "accumulate"]);
  if (o.producers !== undefined && !Array.isArray(o.producers)) {
    throw new TypeError(v.message(action, "producers", "an array", o.producers));
  }
  const entries = subscriptions.map(
    (entry, i): [StageCore, NormalSubscribeOptions<T>, Source<T>] => {
      const [source, opts] = Array.isArray(entry) ? entry : [entry, undefined];
      const where = `${action} with subscriptions[${i}]`;
      const core = sourceCore(where, source);
      const normal = subscribeOptions<T>(where, opts as SubscribeOptions<T> | undefined);
      core.checkSubscribable(where, normal as never);
      return [core, normal, source];
    },
  );
  const producers = (o.producers ?? entries.map((e) => e[2])).filter(
    (p): p is Producer<T> => typeof (p as Producer<T>).setDemandMode === "function",
  );
  return mergeBatches(() =>
    entries.map(([core, normal]) => {
      const link = core.subscribe(normal);
      link.trackRelease();
      return link;
    }), () => {
    if (demand !== undefined) { for (const producer of producers) producer.setDemandMode(demand); }
  });
}

/**
 * @internal A stream of the single events of several raw links. A link's
 * batches are handed to the reader in chunks of at most maxDemand - minDemand
 * events, and the link may ask again (GenStage's rule) only once the reader
 * has pulled past a chunk, so each link holds at most maxDemand events.
 */
function mergeBatches<T>(open: () => Link<T>[], opened: () => void): ReadableStream<T> {
  let links: Link<T>[] | undefined;
  let readers: ReadableStreamDefaultReader<T[]>[] = [];
  let live = 0;
  const reading = new Set<number>();
  const finished = new Set<number>();
  /** Read results not yet handed on; `offset` is how much of a batch was. */
  const ready: Array<{ index: number; result: ReadableStreamReadResult<T[]>; offset: number }> = [];
  /** The chunk handed to the reader by the last pull. */
  let handed: { index: number; count: number } | undefined;
  let wake: (() => void) | undefined;
  let failure: { reason: unknown } | undefined;
  const cancelAll = (reason: unknown) => {
    for (const reader of readers) reader.cancel(reason).then(ignore, ignore);
  };
  const read = (index: number) => {
    reading.add(index);
    readers[index].read().then((result) => {
      reading.delete(index);
      ready.push({ index, result, offset: 0 });
      wake?.();
    }, (reason) => {
      reading.delete(index);
      failure ??= { reason };
      wake?.();
    });
  };
  return new streams.ReadableStream<T>({
    async pull(controller) {
      if (links === undefined) {
        links = open();
        readers = links.map((link) => link.readable.getReader());
        opened();
        live = links.length;
        if (live === 0) return controller.close();
      }
      if (handed !== undefined) {
        // The reader has taken the whole chunk: its link may ask again.
        links[handed.index].release(handed.count);
        handed = undefined;
      }
      for (;;) {
        const next = ready[0];
        if (next !== undefined) {
          if (next.result.done) {
            ready.shift();
            finished.add(next.index);
            if (--live === 0) return controller.close();
            continue;
          }
          const batch = next.result.value;
          const { maxDemand, minDemand } = links[next.index].options;
          const start = next.offset;
          const end = Math.min(batch.length, start + maxDemand - minDemand);
          for (let i = start; i < end; i++) controller.enqueue(batch[i]);
          if (end === batch.length) ready.shift();
          else next.offset = end;
          if (end > start) {
            handed = { index: next.index, count: end - start };
            return;
          }
          continue;
        }
        if (failure !== undefined) {
          cancelAll("normal");
          return controller.error(failure.reason);
        }
        for (let i = 0; i < readers.length; i++) {
          if (!reading.has(i) && !finished.has(i)) read(i);
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    },
    cancel() {
      cancelAll("normal");
    },
  }, { highWaterMark: 0 });
}
