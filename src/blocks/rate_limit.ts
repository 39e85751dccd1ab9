import type { BlockOptions, Clock } from "./options.ts";
import type { ProducerConsumer } from "../producer_consumer.ts";
import { Queue } from "../_queue.ts";
import {
  blockObject,
  blockStage,
  clockOption,
  coalesced,
  commonOptions,
  DemandMeter,
  duration,
  type Track,
  Upstream,
} from "./_block.ts";
import * as v from "../_validate.ts";

/** Options of {@linkcode rateLimit}. */
export interface RateLimitOptions<T> extends BlockOptions<T, T> {
  /** The most events that leave in any window of `intervalMs`: an integer ≥ 1. */
  readonly limit: number;
  /** The length of the window, in ms: an integer ≥ 1. */
  readonly intervalMs: number;
  /**
   * Where the time is read and timers are set.
   *
   * @default {the platform's setTimeout and performance.now}
   */
  readonly clock?: Clock;
}

/** Events that left together. */
interface Departure {
  readonly time: number;
  readonly count: number;
}

/**
 * A stage that lets events through unchanged and in order, at most `limit`
 * in any window of `intervalMs` ms (measured when they leave: at most
 * `limit` leave in any `[t, t + intervalMs)`), after GenStage's
 * RateLimiter example. It paces by demand, not by buffering: upstream is
 * asked (in manual mode) only for what the limit allows now and downstream
 * has asked for, and asked again when the oldest events leave the window, so
 * nothing piles up inside and a slow consumer slows the source.
 *
 * With several upstream subscriptions, each may have at most its share of
 * the limit (`limit / subscriptions`, and its `maxDemand`) asked for at a
 * time, so one that is asked and sends nothing cannot starve the others.
 *
 * @param options The `limit` and `intervalMs`, and the stage options.
 * @returns A `ProducerConsumer` with `subscribeTo`, `readable` and `writable`.
 * @throws {TypeError} If an option has the wrong type, or a `subscribeTo` entry is not a source.
 * @throws {RangeError} If `limit` or `intervalMs` is not an integer ≥ 1.
 *
 * @example At most 2 calls every 50 ms (on a clock that jumps to each timer)
 * ```ts
 * import { type Clock, Consumer, Producer, rateLimit } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * let now = 0;
 * const clock: Clock = {
 *   now: () => now,
 *   setTimeout: (callback, ms) => {
 *     const at = now + ms;
 *     return setTimeout(() => (now = Math.max(now, at), callback()), 0);
 *   },
 *   clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
 * };
 * const calls = Producer.from(["a", "b", "c", "d", "e"]);
 * const times: number[] = [];
 * const api = new Consumer<string>({
 *   subscribeTo: [rateLimit({ limit: 2, intervalMs: 50, clock, subscribeTo: [calls] })],
 *   handleEvents: (events) => void events.forEach(() => times.push(now)),
 * });
 * await api.closed;
 * assert.deepEqual(times, [0, 0, 50, 50, 100]);
 * ```
 */
export function rateLimit<T>(options: RateLimitOptions<T>): ProducerConsumer<T, T> {
  const action = "construct rateLimit";
  const o = blockObject<RateLimitOptions<T>>(action, options);
  const limit = v.capped(action, "limit", o.limit, 1, v.MAX_DEMAND);
  const intervalMs = duration(action, "intervalMs", o.intervalMs, 1, false);
  const clock = clockOption(action, o.clock);
  const common = commonOptions<T, T>(action, "rateLimit", o);

  const upstream = new Upstream();
  const departures = new Queue<Departure>();
  /** Events that left in the current window. */
  let recent = 0;
  let timer: unknown = undefined;
  let stopped = false;
  /** Events handed to the stage to send. */
  let emitted = 0;
  /** Where the next share of demand goes, with several upstream subscriptions. */
  let turn = 0;

  const wake = () => {
    timer = undefined;
    pump();
  };
  /** Asks upstream for what the window and downstream allow; sets a timer if the window is full. */
  const pump = coalesced(() => {
    if (stopped) return;
    const now = clock.now();
    for (let head = departures.peek(); head !== undefined; head = departures.peek()) {
      if (head.time + intervalMs > now) break;
      departures.shift();
      recent -= head.count;
    }
    const room = limit - recent - upstream.outstanding;
    const wanted = meter.owed - (emitted - meter.placed) - upstream.outstanding;
    if (room > 0 && wanted > 0) share(Math.min(room, wanted));
    else if (wanted > 0 && recent > 0 && timer === undefined) {
      timer = clock.setTimeout(wake, departures.peek()!.time + intervalMs - now);
    }
  });
  /** Spreads `count` over the upstream subscriptions, each up to its share. */
  const share = (count: number) => {
    const tracks: Track[] = [...upstream.values()];
    if (tracks.length === 0) return;
    const each = Math.ceil(limit / tracks.length);
    for (let i = 0; i < tracks.length && count > 0; i++) {
      const track = tracks[(turn + i) % tracks.length];
      const n = Math.min(count, Math.min(each, track.maxDemand) - track.outstanding);
      if (n > 0) {
        upstream.ask(track, n);
        count -= n;
      }
    }
    turn = (turn + 1) % tracks.length;
  };
  const meter = new DemandMeter<T>(common.dispatcher, pump, () => false);

  const stage: ProducerConsumer<T, T> = blockStage(common, meter, upstream, pump, {
    pumpOnCancel: true,
    handleEvents: (events, subscription) => {
      upstream.received(subscription, events.length);
      // They leave now: the stage dispatches what this returns, within the demand asked.
      departures.push({ time: clock.now(), count: events.length });
      recent += events.length;
      emitted += events.length;
      pump();
      return events;
    },
    terminate: () => {
      stopped = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
    },
  });
  return stage;
}
