import type { SubscribeTo } from "../subscription.ts";
import { Consumer } from "../consumer.ts";
import * as v from "../_validate.ts";
import { checkClient, type RedisClient } from "./_client.ts";

/** Field values a {@linkcode RedisStreamSink} writes. */
export type RedisFields = Readonly<Record<string, string | number>>;

/** Options of a {@linkcode RedisStreamSink}. */
export interface RedisStreamSinkOptions<T> {
  /** A Redis client (ioredis); the sink does not close it. */
  readonly redis: RedisClient;
  /** The stream's key, or a function that picks it per event. */
  readonly stream: string | ((event: T) => string);
  /**
   * Turns an event into the entry's fields.
   *
   * @default {`{ data: event }` for a string, `{ data: JSON.stringify(event) }` otherwise}
   */
  readonly fields?: (event: T) => RedisFields;
  /**
   * Caps the stream at about this many entries (`XADD … MAXLEN ~ n`); an
   * integer ≥ 1, or `Infinity` for no cap.
   *
   * @default {Infinity}
   */
  readonly maxLen?: number;
  /** Called with each chunk's new entry IDs, in event order. */
  readonly onPublished?: (ids: string[]) => void;
  /** Sources to subscribe to at once; their `maxDemand - minDemand` is the most writes in flight. */
  readonly subscribeTo?: readonly SubscribeTo<T>[];
  /** Aborting it stops the sink with `signal.reason`. */
  readonly signal?: AbortSignal;
}

function defaultFields(event: unknown): RedisFields {
  return { data: typeof event === "string" ? event : JSON.stringify(event) };
}

/**
 * A consumer that appends its events to a Redis stream (`XADD`), paced by
 * the replies: it sends each chunk it receives (at most `maxDemand -
 * minDemand` events) at once and asks for more only when Redis has answered
 * all of them, so no more than a chunk is in flight.
 *
 * A write that fails fails the chunk: the sink stops with that error, and
 * the chunk counts as not handled upstream (a JetStream or Redis producer
 * redelivers it, a subscription with `redeliver` gives it back), so some of
 * its events may be appended twice.
 *
 * @example Appending events to a capped stream
 * ```ts ignore
 * import { Redis } from "ioredis";
 * import { Producer } from "@webstage/webstage";
 * import { RedisStreamSink } from "@webstage/webstage/redis";
 *
 * const redis = new Redis("redis://127.0.0.1:6379");
 * const sink = new RedisStreamSink<{ user: string; action: string }>({
 *   redis,
 *   stream: "audit",
 *   fields: (event) => ({ user: event.user, action: event.action }),
 *   maxLen: 1_000_000,
 *   subscribeTo: [[Producer.from(events), { maxDemand: 500 }]],
 * });
 * await sink.closed;
 * ```
 *
 * @example Options are checked before anything is sent
 * ```ts
 * import { RedisStreamSink } from "@webstage/webstage/redis";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => new RedisStreamSink({ redis: null!, stream: "audit" }), TypeError);
 * ```
 */
export class RedisStreamSink<T> extends Consumer<T> {
  /**
   * Creates the sink and subscribes it to its `subscribeTo` sources.
   *
   * @param options The client, stream, fields and sources.
   * @throws {TypeError} If an option has the wrong type, or a `subscribeTo` entry is invalid.
   * @throws {RangeError} If `maxLen` is not an integer ≥ 1 or `Infinity`.
   */
  constructor(options: RedisStreamSinkOptions<T>) {
    const action = "construct RedisStreamSink";
    if (options === undefined) {
      throw new TypeError(v.message(action, "options", "an object", options));
    }
    const o = v.options<RedisStreamSinkOptions<T>>(action, "options", options);
    const redis = checkClient(action, o.redis);
    const stream = o.stream;
    if (typeof stream === "string" ? stream === "" : typeof stream !== "function") {
      throw new TypeError(v.message(action, "stream", "a non-empty string or a function", stream));
    }
    const streamOf: (event: T) => string = typeof stream === "string"
      ? () => stream
      : stream as (event: T) => string;
    const fieldsOf = v.callback<(event: T) => RedisFields>(action, "fields", o.fields) ??
      defaultFields;
    const maxLen = v.integer(action, "maxLen", o.maxLen ?? Infinity, 1, Infinity, true);
    const cap = maxLen === Infinity ? [] : ["MAXLEN", "~", maxLen];
    const onPublished = v.callback<(ids: string[]) => void>(action, "onPublished", o.onPublished);
    super({
      subscribeTo: o.subscribeTo,
      signal: o.signal,
      handleEvents: async (events) => {
        const ids = await Promise.all(events.map((event) => {
          const args: (string | number)[] = [streamOf(event), ...cap, "*"];
          for (const [name, value] of Object.entries(fieldsOf(event))) args.push(name, value);
          return redis.call("XADD", ...args) as Promise<string>;
        }));
        onPublished?.(ids);
      },
    });
  }
}
