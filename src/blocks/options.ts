/**
 * The options every building block shares ({@linkcode batch},
 * {@linkcode rateLimit}, {@linkcode map}): the `ProducerConsumer` options that
 * make sense for a stage whose callbacks the block owns, and the clock of the
 * blocks that measure time.
 *
 * @module
 */

import type { Dispatcher } from "../dispatcher.ts";
import type { SubscribeTo } from "../subscription.ts";

/**
 * Where a block reads the time and sets its timers: the platform's by
 * default. Give your own to drive time by hand in tests (no sleeping).
 *
 * @example A clock that moves only when told to
 * ```ts
 * import type { Clock } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * let now = 0;
 * const timers = new Map<number, { at: number; callback: () => void }>();
 * let ids = 0;
 * const clock: Clock = {
 *   now: () => now,
 *   setTimeout: (callback, ms) => (timers.set(++ids, { at: now + ms, callback }), ids),
 *   clearTimeout: (id) => void timers.delete(id as number),
 * };
 * const fired: number[] = [];
 * clock.setTimeout(() => fired.push(now), 100);
 * now = 100;
 * for (const [id, timer] of timers) {
 *   if (timer.at <= now) (timers.delete(id), timer.callback());
 * }
 * assert.deepEqual(fired, [100]);
 * ```
 */
export interface Clock {
  /** The current time in milliseconds (only differences matter). */
  now(): number;
  /** Calls `callback` once, `ms` milliseconds from now; returns a handle for `clearTimeout`. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a timer `setTimeout` returned (a timer that already ran is ignored). */
  clearTimeout(handle: unknown): void;
}

/** The options of a building block that are a `ProducerConsumer`'s. */
export interface BlockOptions<I, O> {
  /** Sources to subscribe to at once, in order. */
  readonly subscribeTo?: readonly SubscribeTo<I>[];
  /**
   * The name in failure reports and `console` messages.
   *
   * @default {"<block>#" + a number, e.g. "batch#1"}
   */
  readonly name?: string;
  /** Aborting it stops the stage with `signal.reason`. */
  readonly signal?: AbortSignal;
  /**
   * Decides which downstream subscription receives which output events.
   *
   * @default {new DemandDispatcher()}
   */
  readonly dispatcher?: Dispatcher<O>;
  /**
   * Called with the number of output events the stage discarded (a
   * `BroadcastDispatcher` with `onLag: "drop"`, say); return `false` to
   * silence the warning.
   */
  readonly onDiscard?: (count: number) => boolean | void;
  /**
   * The strategy of `writable`: its `highWaterMark` is the `maxDemand` of
   * the inlet subscription written events go through (an integer ≥ 1).
   *
   * @default {{ highWaterMark: 1000 }}
   */
  readonly writableStrategy?: { readonly highWaterMark?: number };
  /**
   * The strategy of `readable`: its `highWaterMark` is the `maxDemand` of
   * the subscription `readable` reads through (an integer ≥ 1).
   *
   * @default {{ highWaterMark: 1000 }}
   */
  readonly readableStrategy?: { readonly highWaterMark?: number };
}
