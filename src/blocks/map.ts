import type { BlockOptions } from "./options.ts";
import type { ProducerConsumer } from "../producer_consumer.ts";
import { Queue } from "../_queue.ts";
import {
  blockStage,
  coalesced,
  commonOptions,
  DemandMeter,
  failure,
  type Track,
  Upstream,
} from "./_block.ts";
import * as v from "../_validate.ts";

/** What a {@linkcode map} function receives besides its event. */
export interface MapContext {
  /** Aborted (with the stop reason) when the stage stops, for whatever reason. */
  readonly signal: AbortSignal;
}

/** Options of {@linkcode map}. */
export interface MapOptions<I, O> extends BlockOptions<I, O> {
  /**
   * The most calls of the function in flight at once: an integer ≥ 1. A
   * call starts as soon as another finishes.
   *
   * @default {1}
   */
  readonly concurrency?: number;
  /**
   * `true`: results leave in input order (a finished call waits for the
   * ones started before it); `false`: in the order the calls finish.
   *
   * @default {true}
   */
  readonly ordered?: boolean;
}

/** Input events waiting for a call, as they arrived (a batch and how far it was taken). */
interface Waiting<I> {
  readonly events: I[];
  readonly track: Track | undefined;
  offset: number;
}

/** The message that makes the stage send the results that are ready. */
const FLUSH = Symbol("map flush");

/**
 * A stage that calls `fn` on each event and sends the results: a concurrent
 * map, like Node's `readable.map(fn, { concurrency })` or Effect's
 * `Stream.mapEffect`. At most `concurrency` calls run at once, and a new one
 * starts as soon as one finishes (no waiting for a whole batch). Results
 * leave in input order (`ordered: true`, the default) or as they finish
 * (`ordered: false`). `fn` may be async; it gets an `AbortSignal` that is
 * aborted when the stage stops. A call that throws or rejects stops the
 * stage with that error (`closed` rejects) and aborts the calls still
 * running. A graceful end waits for every call in progress and sends its
 * result first.
 *
 * It is demand-bounded: it asks upstream in manual mode by GenStage's rule,
 * counting the events waiting for a call, and starts a call only while the
 * results in progress or waiting to leave are fewer than the downstream
 * demand not yet met plus `concurrency`. So it holds at most each upstream
 * subscription's `maxDemand` events waiting, plus that.
 *
 * @param fn The function, called once per event; may return a promise.
 * @param options `concurrency`, `ordered`, and the stage options.
 * @returns A `ProducerConsumer` with `subscribeTo`, `readable` and `writable`.
 * @throws {TypeError} If `fn` is not a function, an option has the wrong type, or a `subscribeTo` entry is not a source.
 * @throws {RangeError} If `concurrency` is not an integer ≥ 1.
 *
 * @example Fetching 4 at a time, results in input order
 * ```ts
 * import { map } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * const ids = new ReadableStream<number>({
 *   start(controller) {
 *     for (let id = 1; id <= 6; id++) controller.enqueue(id);
 *     controller.close();
 *   },
 * });
 * let running = 0;
 * let most = 0;
 * const lookup = map(async (id: number, { signal }) => {
 *   most = Math.max(most, ++running);
 *   // e.g. `await fetch(url, { signal })`: aborted if the stage stops
 *   await new Promise((resolve) => setTimeout(resolve, 7 - id));
 *   running--;
 *   assert.equal(signal.aborted, false);
 *   return `user ${id}`;
 * }, { concurrency: 4 });
 * const users: string[] = [];
 * await ids.pipeThrough(lookup).pipeTo(new WritableStream({ write: (u) => void users.push(u) }));
 * assert.deepEqual(users, ["user 1", "user 2", "user 3", "user 4", "user 5", "user 6"]);
 * assert.equal(most, 4);
 * ```
 */
export function map<I, O>(
  fn: (event: I, context: MapContext) => O | Promise<O>,
  options?: MapOptions<I, O>,
): ProducerConsumer<I, O> {
  const action = "construct map";
  v.callback(action, "fn", fn, false);
  const o = v.options<MapOptions<I, O>>(action, "options", options);
  const concurrency = v.capped(action, "concurrency", o.concurrency ?? 1, 1, v.MAX_DEMAND);
  const ordered = o.ordered ?? true;
  if (typeof ordered !== "boolean") {
    throw new TypeError(v.message(action, "ordered", "a boolean", ordered));
  }
  const common = commonOptions<I, O>(action, "map", o);

  const controller = new AbortController();
  const context: MapContext = { signal: controller.signal };
  const upstream = new Upstream();
  const waiting = new Queue<Waiting<I>>();
  let waitingCount = 0;
  let running = 0;
  /** Results that finished ahead of an earlier call (ordered), by sequence number. */
  const early = new Map<number, O>();
  let nextSeq = 0;
  let emitSeq = 0;
  /** Results ready to leave, in order. */
  let ready: O[] = [];
  let flushPosted = false;
  let flushTimer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  /** Results handed to the stage to send. */
  let emitted = 0;

  const fail = (error: unknown) => {
    if (stopped) return;
    stopped = true;
    stage.stop(failure(common.name, "fn", error));
  };
  const finish = (seq: number, value: O) => {
    if (!ordered) ready.push(value);
    else if (seq !== emitSeq) early.set(seq, value);
    else {
      ready.push(value);
      emitSeq++;
      while (early.has(emitSeq)) {
        ready.push(early.get(emitSeq) as O);
        early.delete(emitSeq++);
      }
    }
  };
  /** Starts calls while there is room; returns false if a call threw. */
  const fill = (): boolean => {
    // Results not yet placed downstream (running, finished early, ready, or
    // sent and waiting) stay below the demand not met plus `concurrency`.
    let room = meter.owed + concurrency -
      (running + early.size + ready.length + emitted - meter.placed);
    while (room > 0 && waitingCount > 0 && running < concurrency && !stopped) {
      const head = waiting.peek()!;
      const events = head.events;
      const n = Math.min(events.length - head.offset, room);
      let started = 0;
      // Calls that return a plain value finish at once and do not count as running.
      while (started < n && running < concurrency && !stopped) {
        const event = events[head.offset + started++];
        const seq = nextSeq++;
        let result: O | Promise<O>;
        try {
          result = fn(event, context);
        } catch (error) {
          fail(error);
          return false;
        }
        if (
          result !== null && typeof result === "object" &&
          typeof (result as PromiseLike<O>).then === "function"
        ) {
          running++;
          Promise.resolve(result).then((value) => {
            if (stopped) return;
            running--;
            finish(seq, value);
            // The next call starts here; asking upstream needs no turn of its own.
            if (fill()) {
              flushSoon();
              upstream.askByRule();
            }
          }, fail);
        } else if (!ordered || (seq === emitSeq && early.size === 0)) {
          ready.push(result as O);
          emitSeq++;
        } else finish(seq, result as O);
      }
      head.offset += started;
      if (head.offset === events.length) waiting.shift();
      waitingCount -= started;
      room -= started;
      if (head.track !== undefined) head.track.held -= started;
    }
    return true;
  };
  const take = (): O[] => {
    const out = ready;
    ready = [];
    emitted += out.length;
    return out;
  };
  const flush = () => {
    if (flushTimer !== undefined) clearTimeout(flushTimer);
    flushTimer = undefined;
    if (flushPosted || stopped || ready.length === 0) return;
    flushPosted = true;
    stage.info(FLUSH);
  };
  /**
   * Results finished outside the stage's callbacks leave in batches: at once
   * if they meet the demand not yet met or no call is running, else
   * at the end of the task (fast calls finish many in one task).
   */
  const flushSoon = () => {
    if (flushPosted || ready.length === 0) return;
    if (ready.length >= meter.owed || running === 0) flush();
    else flushTimer ??= setTimeout(flush, 0);
  };
  const pump = coalesced(() => {
    if (stopped) return;
    if (fill()) flushSoon();
    upstream.askByRule();
  });
  const busy = () => waitingCount > 0 || running > 0 || early.size > 0 || ready.length > 0;
  const meter = new DemandMeter<O>(common.dispatcher, pump, busy);

  const stage: ProducerConsumer<I, O> = blockStage(common, meter, upstream, pump, {
    handleEvents: (events, subscription) => {
      const track = upstream.received(subscription, events.length);
      if (track !== undefined) track.held += events.length;
      waiting.push({ events, track, offset: 0 });
      waitingCount += events.length;
      fill();
      pump();
      return take();
    },
    handleInfo: (message) => {
      if (message !== FLUSH) return;
      flushPosted = false;
      return take();
    },
    terminate: (reason) => {
      stopped = true;
      if (flushTimer !== undefined) clearTimeout(flushTimer);
      controller.abort(reason);
      // A graceful end comes once nothing is in progress: this is empty then.
      return take();
    },
  });
  return stage;
}
