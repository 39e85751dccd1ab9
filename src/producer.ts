import type { Dispatcher } from "./dispatcher.ts";
import type { SubscribeOptions, Subscription } from "./subscription.ts";
import { DemandDispatcher } from "./dispatchers/demand_dispatcher.ts";
import { coreOf, StageCore } from "./_stage.ts";
import { producerOptions, subscribeOptions } from "./_options.ts";
import * as v from "./_validate.ts";
import { producerFrom } from "./streams.ts";

/** Events a callback may return: any iterable (an array is used as is), or nothing. */
export type Events<T> = Iterable<T> | void;

/** Options of a {@linkcode Producer}. */
export interface ProducerOptions<T> {
  /**
   * Called once per ask that the buffer could not cover, with the number of
   * events still wanted (never 0). Return up to that many events (fewer is
   * fine: remember the rest; more are buffered). May be async.
   */
  readonly handleDemand?: (demand: number) => Events<T> | Promise<Events<T>>;
  /** Called when a consumer subscribes, before its first ask. */
  readonly handleSubscribe?: (subscription: Subscription<T>) => void | Promise<void>;
  /**
   * Called when a subscription ends, with the consumer's reason (`"normal"`
   * when it cancelled, its stop reason when it stopped). May return events to
   * dispatch.
   */
  readonly handleCancel?: (
    subscription: Subscription<T>,
    reason: unknown,
  ) => Events<T> | Promise<Events<T>>;
  /** Called for each message given to `info()`, after every event buffered before it. May return events. */
  readonly handleInfo?: (message: unknown) => Events<T> | Promise<Events<T>>;
  /**
   * Decides which subscription receives which events.
   *
   * @default {new DemandDispatcher()}
   */
  readonly dispatcher?: Dispatcher<T>;
  /**
   * How many events nobody asked for are kept; an integer ≥ 1 or `Infinity`.
   *
   * @default {10000}
   */
  readonly bufferSize?: number;
  /**
   * On overflow, keep the `"last"` events (drop the oldest) or the `"first"`
   * (drop the newest).
   *
   * @default {"last"}
   */
  readonly bufferKeep?: "first" | "last";
  /**
   * `"accumulate"` stores asks and emitted events until
   * `setDemandMode("forward")`, so that every consumer can subscribe before
   * the first event flows.
   *
   * @default {"forward"}
   */
  readonly demand?: "forward" | "accumulate";
  /**
   * Called with the number of events the buffer discarded; return `false` to
   * silence the default `console.warn`.
   */
  readonly onDiscard?: (count: number) => boolean | void;
  /** Aborting it stops the producer with `signal.reason`. */
  readonly signal?: AbortSignal;
}

/**
 * A stage that produces events on demand: GenStage's `:producer`.
 *
 * Consumers ask for events; the producer answers each ask from its buffer
 * first, then by calling `handleDemand` once with what is still wanted. Events
 * can also be pushed with `emit`: what no consumer has asked for is buffered
 * (up to `bufferSize`). The dispatcher decides which consumer gets which
 * events. A producer never stops because a consumer left.
 *
 * @example A counter read by a consumer
 * ```ts
 * import { Consumer, Producer } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * let next = 0;
 * const producer = new Producer<number>({
 *   handleDemand: (demand) => Array.from({ length: demand }, () => next++),
 * });
 * const batches: number[][] = [];
 * const consumer: Consumer<number> = new Consumer<number>({
 *   subscribeTo: [[producer, { maxDemand: 10, minDemand: 5 }]],
 *   handleEvents: (events) => {
 *     batches.push(events);
 *     if (batches.length === 3) consumer.stop(); // leaving never stops the producer
 *   },
 * });
 * await consumer.closed;
 * // Chunks of maxDemand - minDemand = 5; handleDemand(10), then 5 after each chunk.
 * assert.deepEqual(batches, [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11, 12, 13, 14]]);
 * await producer.stop();
 * ```
 */
export class Producer<T> {
  readonly #core: StageCore;

  /**
   * Creates and starts a producer; it produces nothing until a consumer asks
   * (or `emit` is called).
   *
   * @param options The callbacks and settings of the producer.
   * @throws {TypeError} If an option has the wrong type or an unknown value.
   * @throws {RangeError} If `bufferSize` is not an integer ≥ 1 or `Infinity`.
   */
  constructor(options: ProducerOptions<T> = {}) {
    this.#core = new StageCore(producerConfig(this, "Producer", options, 10_000) as never);
  }

  /**
   * Creates a producer that pulls exactly the demanded number of items from
   * `source` (GenStage's `from_enumerable`): a sync or async iterable, or a
   * `ReadableStream` read until the demand is met. It stops `"normal"` after
   * its last event has been dispatched, and releases the source (iterator
   * `return()`, stream `cancel()`) if it stops before the end.
   *
   * @param source Where the events come from.
   * @param options `onCancel: "stop"` stops the producer when its last subscription ends.
   * @returns A started producer.
   * @throws {TypeError} If `source` is none of those, or an option is invalid.
   *
   * @example Reading a ReadableStream by demand
   * ```ts
   * import { Producer, toReadableStream } from "@webstage/webstage";
   * import assert from "node:assert/strict";
   *
   * const source = new ReadableStream<string>({
   *   start(controller) {
   *     for (const word of ["a", "b", "c"]) controller.enqueue(word);
   *     controller.close();
   *   },
   * });
   * const reader = toReadableStream([Producer.from(source)]).getReader();
   * const words: string[] = [];
   * for (let r = await reader.read(); !r.done; r = await reader.read()) words.push(r.value);
   * assert.deepEqual(words, ["a", "b", "c"]);
   * ```
   */
  static from<T>(
    source: Iterable<T> | AsyncIterable<T> | ReadableStream<T>,
    options?: FromOptions<T>,
  ): Producer<T> {
    return producerFrom(Producer, source, options);
  }

  /**
   * Dispatches `events` now; what demand cannot take is buffered.
   *
   * @throws {TypeError} If `events` is not iterable.
   */
  emit(events: Iterable<T>): void {
    this.#core.emit(iterable("emit", events));
  }

  /** Queues `message` for `handleInfo`, after every event buffered now. */
  info(message: unknown): void {
    this.#core.info(message);
  }

  /** `"accumulate"` while asks and events are being stored, else `"forward"`. */
  get demandMode(): "forward" | "accumulate" {
    return this.#core.demandMode;
  }

  /**
   * Switches demand mode. `"forward"` replays the stored asks and events in
   * order, each ask calling `handleDemand` once.
   *
   * @throws {TypeError} If `mode` is not `"forward"` or `"accumulate"`.
   */
  setDemandMode(mode: "forward" | "accumulate"): void {
    this.#core.setDemandMode(
      v.oneOf("set demand mode", "mode", mode, ["forward", "accumulate"] as const),
    );
  }

  /** The number of buffered events (info markers are not counted). */
  get bufferedCount(): number {
    return this.#core.bufferedCount;
  }

  /**
   * A raw subscription: a `ReadableStream` of batches that asks for
   * `maxDemand` events at once and for more as its reader reads, by
   * GenStage's rule. Cancelling the stream cancels the subscription.
   *
   * @throws {TypeError | RangeError} For bad options, or if the producer has stopped.
   */
  subscribe(options?: SubscribeOptions<T>): ReadableStream<T[]> {
    return rawSubscribe<T>(this.#core, options);
  }

  /** Stops now with `reason` (default `"normal"`); resolves once stopped. */
  stop(reason: unknown = "normal"): Promise<void> {
    return this.#core.stop(reason);
  }

  /** Stops `"normal"` once every buffered event has been delivered; no more `handleDemand` calls. */
  close(): Promise<void> {
    return this.#core.close();
  }

  /** Resolves when the producer stops normally; rejects with the reason of an abnormal stop. */
  get closed(): Promise<void> {
    return this.#core.closed;
  }

  /** The same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Options of {@linkcode Producer.from}. */
export interface FromOptions<T>
  extends Pick<ProducerOptions<T>, "dispatcher" | "demand" | "signal"> {
  /**
   * What the producer does when its last subscription ends: `"continue"` or
   * `"stop"` (normally).
   *
   * @default {"continue"}
   */
  readonly onCancel?: "continue" | "stop";
}

/** @internal Builds the core configuration of a producing stage. */
export function producerConfig(
  owner: object,
  kind: "Producer" | "ProducerConsumer",
  options: unknown,
  defaultBufferSize: number,
): ConstructorParameters<typeof StageCore>[0] {
  const action = `construct ${kind}`;
  // deno-lint-ignore no-explicit-any
  const o = v.options<any>(action, "options", options);
  const producer = producerOptions(action, o, defaultBufferSize);
  if (kind === "ProducerConsumer" && o.demand !== undefined) {
    throw new TypeError(
      `Cannot ${action} as demand is a Producer option: a ProducerConsumer forwards downstream demand`,
    );
  }
  const dispatcher = o.dispatcher ?? new DemandDispatcher();
  if (
    dispatcher === null || typeof dispatcher !== "object" ||
    ["init", "subscribe", "cancel", "ask", "dispatch", "info"].some((m) =>
      typeof dispatcher[m] !== "function"
    )
  ) {
    throw new TypeError(v.message(action, "dispatcher", "a Dispatcher", dispatcher));
  }
  return {
    kind,
    owner,
    handleDemand: v.callback(action, "handleDemand", o.handleDemand),
    handleEvents: v.callback(action, "handleEvents", o.handleEvents, kind === "Producer"),
    handleSubscribe: v.callback(action, "handleSubscribe", o.handleSubscribe),
    handleCancel: v.callback(action, "handleCancel", o.handleCancel),
    handleInfo: v.callback(action, "handleInfo", o.handleInfo),
    onDiscard: v.callback(action, "onDiscard", o.onDiscard),
    signal: v.signal(action, o.signal),
    dispatcher,
    producer,
  };
}

/** @internal */
export function iterable<T>(action: string, events: Iterable<T>): T[] {
  if (Array.isArray(events)) return events;
  if (
    events === null || typeof events !== "object" || typeof events[Symbol.iterator] !== "function"
  ) {
    throw new TypeError(v.message(action, "events", "an iterable", events));
  }
  return Array.from(events);
}

/** @internal */
export function rawSubscribe<T>(core: StageCore, options: unknown): ReadableStream<T[]> {
  const normal = subscribeOptions<T>("subscribe", options);
  core.checkSubscribable("subscribe", normal as never);
  return core.subscribe(normal).readable;
}

/** @internal Resolves a `subscribeTo` source to its engine. */
export function sourceCore(action: string, source: unknown): StageCore {
  const core = coreOf(source);
  if (core === undefined) {
    throw new TypeError(v.message(action, "the source", "a Producer or ProducerConsumer", source));
  }
  return core;
}
