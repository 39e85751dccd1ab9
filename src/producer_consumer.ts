import type { Dispatcher } from "./dispatcher.ts";
import type { SubscribeOptions, Subscription } from "./subscription.ts";
import type { Events } from "./producer.ts";
import { iterable, producerConfig, rawSubscribe } from "./producer.ts";
import {
  consumerCore,
  type Source,
  type SubscribeMode,
  type SubscribeTo,
  subscribeTo,
} from "./consumer.ts";
import type { StageCore } from "./_stage.ts";
import * as v from "./_validate.ts";

/** Options of a {@linkcode ProducerConsumer}. */
export interface ProducerConsumerOptions<I, O> {
  /**
   * Handles a batch of upstream events and returns the events to send
   * downstream. It runs only while downstream demand is positive, so a
   * stalled consumer stalls the chain instead of growing a buffer.
   */
  readonly handleEvents: (
    events: I[],
    subscription: Subscription<I>,
  ) => Events<O> | Promise<Events<O>>;
  /**
   * Called for every subscription, upstream (this stage is its `consumer`:
   * return `"manual"` to ask yourself) and downstream (this stage is its
   * `producer`).
   */
  readonly handleSubscribe?: (
    subscription: Subscription<I> | Subscription<O>,
  ) => SubscribeMode | Promise<SubscribeMode>;
  /** Called when a subscription ends, upstream or downstream. May return events to send. */
  readonly handleCancel?: (
    subscription: Subscription<I> | Subscription<O>,
    reason: unknown,
  ) => Events<O> | Promise<Events<O>>;
  /** Called for each message given to `info()`, after the events buffered or queued before it. */
  readonly handleInfo?: (message: unknown) => Events<O> | Promise<Events<O>>;
  /** Sources to subscribe to at once, in order. */
  readonly subscribeTo?: readonly SubscribeTo<I>[];
  /**
   * Decides which downstream subscription receives which events.
   *
   * @default {new DemandDispatcher()}
   */
  readonly dispatcher?: Dispatcher<O>;
  /**
   * How many output events nobody asked for are kept; an integer ≥ 1 or
   * `Infinity`. Bounded in practice by the gating on downstream demand.
   *
   * @default {Infinity}
   */
  readonly bufferSize?: number;
  /**
   * On overflow, keep the `"last"` events (drop the oldest) or the `"first"`.
   *
   * @default {"last"}
   */
  readonly bufferKeep?: "first" | "last";
  /** Called with the number of events the buffer discarded; return `false` to silence the warning. */
  readonly onDiscard?: (count: number) => boolean | void;
  /** Aborting it stops the stage with `signal.reason`. */
  readonly signal?: AbortSignal;
}

/**
 * A stage that is both: it consumes events from upstream, transforms them in
 * `handleEvents`, and produces the results for its own consumers
 * (GenStage's `:producer_consumer`). Upstream batches are handled only while
 * downstream demand is positive, and upstream is asked again only after
 * `handleEvents`, so back pressure crosses it.
 *
 * @example Doubling events between a producer and a consumer
 * ```ts
 * import { Consumer, Producer, ProducerConsumer } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * const doubler = new ProducerConsumer<number, number>({
 *   subscribeTo: [Producer.from([1, 2, 3])],
 *   handleEvents: (events) => events.map((e) => e * 2),
 * });
 * const seen: number[] = [];
 * const consumer = new Consumer<number>({
 *   subscribeTo: [doubler],
 *   handleEvents: (events) => void seen.push(...events),
 * });
 * await consumer.closed;
 * assert.deepEqual(seen, [2, 4, 6]);
 * ```
 */
export class ProducerConsumer<I, O> {
  readonly #core: StageCore;

  /**
   * Creates and starts a producer-consumer, subscribing at once to every
   * `subscribeTo` entry, in order.
   *
   * @param options The callbacks, sources and settings of the stage.
   * @throws {TypeError | RangeError} If an option or a `subscribeTo` entry is invalid; nothing is subscribed then.
   */
  constructor(options: ProducerConsumerOptions<I, O>) {
    if (options === undefined) {
      throw new TypeError(v.message("construct ProducerConsumer", "options", "an object", options));
    }
    const produce = producerConfig(this, "ProducerConsumer", options, Infinity);
    const { core, subscribe } = consumerCore(this, "ProducerConsumer", options, (config) => ({
      ...produce,
      ...config,
      handleDemand: undefined,
    }));
    this.#core = core;
    subscribe();
  }

  /**
   * Subscribes to `source` with `options` and returns the subscription.
   *
   * @throws {TypeError} If `source` is not a producing stage, has stopped, is this stage, or this stage has stopped.
   * @throws {RangeError} If `maxDemand` or `minDemand` is out of range.
   */
  subscribeTo(source: Source<I>, options?: SubscribeOptions<I>): Subscription<I> {
    return subscribeTo(this.#core, source, options);
  }

  /**
   * A raw subscription to this stage's output: a `ReadableStream` of batches.
   *
   * @throws {TypeError | RangeError} For bad options, or if the stage has stopped.
   */
  subscribe(options?: SubscribeOptions<O>): ReadableStream<O[]> {
    return rawSubscribe<O>(this.#core, options);
  }

  /**
   * Dispatches `events` downstream now; what demand cannot take is buffered.
   *
   * @throws {TypeError} If `events` is not iterable.
   */
  emit(events: Iterable<O>): void {
    this.#core.emit(iterable("emit", events));
  }

  /** Queues `message` for `handleInfo`, after the events buffered or queued now. */
  info(message: unknown): void {
    this.#core.info(message);
  }

  /** The number of buffered output events. */
  get bufferedCount(): number {
    return this.#core.bufferedCount;
  }

  /** Stops now with `reason` (default `"normal"`); resolves once stopped. */
  stop(reason: unknown = "normal"): Promise<void> {
    return this.#core.stop(reason);
  }

  /**
   * Cancels every upstream subscription with `"normal"`, handles and
   * delivers what is already on its way or buffered, then stops `"normal"`.
   */
  close(): Promise<void> {
    return this.#core.close();
  }

  /** Resolves when the stage stops normally; rejects with the reason of an abnormal stop. */
  get closed(): Promise<void> {
    return this.#core.closed;
  }

  /** The same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
