import type { PartitionKey } from "../subscription.ts";
import type { BlockOptions, Clock } from "./options.ts";
import type { ProducerConsumer } from "../producer_consumer.ts";
import {
  blockObject,
  blockStage,
  clockOption,
  coalesced,
  commonOptions,
  DemandMeter,
  duration,
  Upstream,
} from "./_block.ts";
import * as v from "../_validate.ts";

/** Options of {@linkcode batch}. */
export interface BatchOptions<T> extends BlockOptions<T, T[]> {
  /** The most events in a batch: a batch leaves as soon as it has this many. An integer ≥ 1. */
  readonly size: number;
  /**
   * How long a batch stays open after its first event before it leaves
   * with fewer than `size` events, in ms: an integer ≥ 0, or `Infinity` to
   * wait for `size` (or the end of the stage).
   *
   * @default {1000}
   */
  readonly timeoutMs?: number;
  /**
   * Puts each event in the open batch of its key (Broadway's `batch_key`),
   * so a batch holds events of one key only. Keys are compared as `Map`
   * keys. By default every event goes to the same batch.
   */
  readonly key?: (event: T) => PartitionKey;
  /**
   * Where the time is read and timers are set.
   *
   * @default {the platform's setTimeout and performance.now}
   */
  readonly clock?: Clock;
}

/** A batch being filled. */
interface Open<T> {
  readonly events: T[];
  timer: unknown;
}

/** The message a timer sends the stage: batches closed by time are waiting to leave. */
const FLUSH = Symbol("batch flush");

/**
 * A stage that groups events into arrays of at most `size`, in input order:
 * a batch leaves as soon as it has `size` events, or `timeoutMs` after its
 * first event, whichever comes first (a database writer every 100 rows or
 * every second). With `key`, each key has its own open batch. A graceful end
 * (its sources end, `close()`, its writable closes) sends every open batch
 * before the stage ends; `stop()` and failures drop them.
 *
 * It is demand-bounded: it asks upstream in manual mode by GenStage's rule
 * (`maxDemand`/`minDemand` of each subscription), and only while every full
 * batch has left, so besides its open batches it never holds more than each
 * upstream subscription's `maxDemand` events. Downstream demand counts
 * batches, not events.
 *
 * @param options The batch `size`, `timeoutMs`, `key`, and the stage options.
 * @returns A `ProducerConsumer` of events in, arrays of events out, with `subscribeTo`, `readable` and `writable`.
 * @throws {TypeError} If an option has the wrong type, or a `subscribeTo` entry is not a source.
 * @throws {RangeError} If `size` or `timeoutMs` is out of range.
 *
 * @example Rows written 3 at a time; the last, partial batch at the end
 * ```ts
 * import { batch, Consumer, Producer } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * const rows = Producer.from([1, 2, 3, 4, 5, 6, 7]);
 * const writes: number[][] = [];
 * const writer = new Consumer<number[]>({
 *   subscribeTo: [batch({ size: 3, subscribeTo: [rows] })],
 *   handleEvents: (batches) => void writes.push(...batches),
 * });
 * await writer.closed;
 * assert.deepEqual(writes, [[1, 2, 3], [4, 5, 6], [7]]);
 * ```
 *
 * @example In a pipe chain, one batch per key
 * ```ts
 * import { batch } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * const words = new ReadableStream<string>({
 *   start(controller) {
 *     for (const word of ["ant", "bee", "asp", "bat", "auk"]) controller.enqueue(word);
 *     controller.close();
 *   },
 * });
 * const out: string[][] = [];
 * await words.pipeThrough(batch({ size: 2, key: (word: string) => word[0] }))
 *   .pipeTo(new WritableStream({ write: (group) => void out.push(group) }));
 * assert.deepEqual(out, [["ant", "asp"], ["bee", "bat"], ["auk"]]);
 * ```
 */
export function batch<T>(options: BatchOptions<T>): ProducerConsumer<T, T[]> {
  const action = "construct batch";
  const o = blockObject<BatchOptions<T>>(action, options);
  const size = v.capped(action, "size", o.size, 1, v.MAX_DEMAND);
  const timeoutMs = duration(action, "timeoutMs", o.timeoutMs ?? 1000, 0, true);
  const key = v.callback<(event: T) => PartitionKey>(action, "key", o.key);
  const clock = clockOption(action, o.clock);
  const common = commonOptions<T, T[]>(action, "batch", o);

  const open = new Map<unknown, Open<T>>();
  /** Batches closed by their timer, waiting to leave (in the order they closed). */
  let closed: T[][] = [];
  let flushPosted = false;
  let stopped = false;
  /** Batches handed to the stage to send. */
  let emitted = 0;
  const upstream = new Upstream();

  const takeClosed = (): T[][] => {
    const out = closed;
    closed = [];
    return out;
  };
  const timeout = (k: unknown, batch: Open<T>) => {
    if (stopped || open.get(k) !== batch) return;
    open.delete(k);
    closed.push(batch.events);
    if (!flushPosted) {
      flushPosted = true;
      stage.info(FLUSH);
    }
  };
  // Re-asks only once every full batch has left: what waits downstream counts.
  const pump = coalesced(() => {
    if (!stopped && emitted === meter.placed) upstream.askByRule();
  });
  const meter = new DemandMeter<T[]>(common.dispatcher, pump, () => false);
  const close = (k: unknown, batch: Open<T>, out: T[][]) => {
    open.delete(k);
    if (batch.timer !== undefined) clock.clearTimeout(batch.timer);
    out.push(batch.events);
  };
  const leave = (batches: T[][]): T[][] => {
    emitted += batches.length;
    return batches;
  };

  const stage: ProducerConsumer<T, T[]> = blockStage(common, meter, upstream, pump, {
    handleEvents: (events, subscription) => {
      upstream.received(subscription, events.length);
      const out = takeClosed();
      // Timers are set at the end, for the batches opened now that are still open.
      const opened: Array<[unknown, Open<T>]> = [];
      const length = events.length;
      if (key === undefined) {
        for (let i = 0; i < length;) {
          let current = open.get(undefined);
          if (current === undefined) {
            if (length - i >= size) {
              out.push(events.slice(i, i += size));
              continue;
            }
            current = { events: [], timer: undefined };
            open.set(undefined, current);
            opened.push([undefined, current]);
          }
          const end = Math.min(length, i + size - current.events.length);
          while (i < end) current.events.push(events[i++]);
          if (current.events.length === size) close(undefined, current, out);
        }
      } else {
        for (let i = 0; i < length; i++) {
          const event = events[i];
          const k = key(event);
          let current = open.get(k);
          if (current === undefined) {
            current = { events: [], timer: undefined };
            open.set(k, current);
            opened.push([k, current]);
          }
          current.events.push(event);
          if (current.events.length === size) close(k, current, out);
        }
      }
      if (timeoutMs !== Infinity) {
        for (const [k, batch] of opened) {
          if (open.get(k) === batch) {
            batch.timer = clock.setTimeout(() => timeout(k, batch), timeoutMs);
          }
        }
      }
      pump();
      return leave(out);
    },
    handleInfo: (message) => {
      if (message !== FLUSH) return;
      flushPosted = false;
      return leave(takeClosed());
    },
    terminate: () => {
      // On a graceful end these leave before the stage ends; otherwise they are dropped.
      stopped = true;
      const out = takeClosed();
      for (const batch of open.values()) {
        if (batch.timer !== undefined) clock.clearTimeout(batch.timer);
        out.push(batch.events);
      }
      open.clear();
      return leave(out);
    },
  });
  return stage;
}
