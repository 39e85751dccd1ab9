/**
 * Web-stream interop: producers built from iterables and streams, and stages
 * read as a `ReadableStream` of single events.
 *
 * @module
 */

import type { Producer } from "./producer.ts";
import type { SubscribeTo } from "./subscription.ts";
import { entry } from "./_config.ts";
import { eventStream } from "./_reader.ts";
import * as v from "./_validate.ts";

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
  const entries = subscriptions.map((item, i) =>
    entry<T>(`${action} with subscriptions[${i}]`, item)
  );
  const producers = (o.producers ?? entries.map((e) => e.source)).filter(
    (p): p is Producer<T> => typeof (p as Producer<T>).setDemandMode === "function",
  );
  return eventStream<T>(
    () => entries.map(([core, normal]) => core.subscribe(normal, true)),
    {
      opened: () => {
        if (demand !== undefined) {
          for (const producer of producers) producer.setDemandMode(demand);
        }
      },
    },
  );
}
