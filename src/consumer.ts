import type {
  Source,
  SubscribeMode,
  SubscribeOptions,
  SubscribeTo,
  Subscription,
} from "./subscription.ts";
import type { StageCore } from "./_stage.ts";
import type { StageStats } from "./stats.ts";
import { consumerConfig, startConsumer, subscribeTo } from "./_config.ts";
import { consumerWritable } from "./_faces.ts";

/** Options of a {@linkcode Consumer}. */
export interface ConsumerOptions<T> {
  /**
   * Handles a batch: at most `maxDemand - minDemand` events in automatic
   * mode, one whole delivered batch in manual mode. May be async: the next
   * batch waits for it.
   */
  readonly handleEvents: (events: T[], subscription: Subscription<T>) => void | Promise<void>;
  /**
   * Called when a subscription is made, before anything is asked. Return
   * `"manual"` to ask yourself with `subscription.ask(n)`. For the
   * `subscribeTo` entries of the constructor it runs a microtask after the
   * constructor has returned, so it may use the new consumer.
   */
  readonly handleSubscribe?: (
    subscription: Subscription<T>,
  ) => SubscribeMode | Promise<SubscribeMode>;
  /** Called when a subscription ends, with the producer's reason, before the `cancel` mode applies. */
  readonly handleCancel?: (subscription: Subscription<T>, reason: unknown) => void | Promise<void>;
  /** Called for each message given to `info()`. */
  readonly handleInfo?: (message: unknown) => void | Promise<void>;
  /** Sources to subscribe to at once, in order. */
  readonly subscribeTo?: readonly SubscribeTo<T>[];
  /**
   * Called with the reason when the stage fails from within: a callback
   * throws or rejects, or a permanent (or transient) upstream fails. A
   * failure that neither `onError`, a reader of `closed`, a supervisor nor a
   * consumer stopping with it observes is raised as an unhandled rejection
   * naming the stage, so a script does not end quietly with a broken
   * pipeline.
   */
  readonly onError?: (error: unknown) => void;
  /** Aborting it stops the consumer with `signal.reason`. */
  readonly signal?: AbortSignal;
  /**
   * Called once when the consumer stops, for any reason, after its last
   * callback and before `closed` settles (GenStage's `terminate/2`). A
   * `terminate` that throws on a normal end makes the end a failure.
   */
  readonly terminate?: (reason: unknown) => void | Promise<void>;
  /**
   * The name in failure reports and `console` messages.
   *
   * @default {"Consumer#" + a number}
   */
  readonly name?: string;
  /**
   * The strategy of `writable`: its `highWaterMark` is the `maxDemand` of the
   * inlet subscription written events go through (an integer ≥ 1; its
   * `minDemand` is half of it).
   *
   * @default {{ highWaterMark: 1000 }}
   */
  readonly writableStrategy?: { readonly highWaterMark?: number };
}

/**
 * A stage that handles events: GenStage's `:consumer`.
 *
 * It asks each producer for `maxDemand` events, hands what arrives to
 * `handleEvents` in chunks of at most `maxDemand - minDemand`, and asks again
 * after each chunk once its outstanding demand has fallen to `minDemand`.
 * Each subscription's batches flow through a `WritableStream` whose
 * `highWaterMark` is `maxDemand`, so no more than that many events wait for
 * it.
 *
 * @example Handling a finite source
 * ```ts
 * import { Consumer, Producer } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * let sum = 0;
 * const consumer = new Consumer<number>({
 *   subscribeTo: [Producer.from([1, 2, 3, 4])],
 *   handleEvents: (events) => void events.forEach((e) => (sum += e)),
 * });
 * await consumer.closed; // the producer ended "normal": a permanent subscription stops the consumer normally
 * assert.equal(sum, 10);
 * ```
 */
export class Consumer<T> {
  readonly #core: StageCore;
  readonly #writableHwm: number;
  #writable: WritableStream<T> | undefined;

  /**
   * Creates and starts a consumer, subscribing at once to every
   * `subscribeTo` entry, in order.
   *
   * @param options The callbacks and sources of the consumer.
   * @throws {TypeError | RangeError} If an option or a `subscribeTo` entry is invalid; nothing is subscribed then.
   */
  constructor(options: ConsumerOptions<T>) {
    const { config, entries, writableHwm } = consumerConfig(this, "Consumer", options);
    this.#writableHwm = writableHwm;
    this.#core = startConsumer(config, entries);
  }

  /**
   * Subscribes to `source` with `options` and returns the subscription.
   *
   * @throws {TypeError} If `source` is not a producing stage, has stopped, is this stage, or this stage has stopped.
   * @throws {RangeError} If `maxDemand` or `minDemand` is out of range.
   */
  subscribeTo(source: Source<T>, options?: SubscribeOptions<T>): Subscription<T> {
    return subscribeTo(this.#core, source, options);
  }

  /** Queues `message` for `handleInfo`. */
  info(message: unknown): void {
    this.#core.info(message);
  }

  /**
   * A `WritableStream` whose chunks are events for this consumer: the same
   * stream on every access. Its events reach `handleEvents` through an
   * inlet subscription with `maxDemand` = `writableStrategy.highWaterMark`,
   * in batches (what was written while the consumer was busy, up to its
   * demand): a writer that awaits `writer.ready` never makes the consumer
   * hold more than its demand. `writer.close()` resolves once every written
   * event has been handled, and then, if the consumer has no other
   * upstream, it stops normally; aborting it stops the consumer with the
   * reason; a consumer that stops errors it (so a `pipeTo` into it rejects
   * and cancels its source).
   *
   * @example Piping a web stream into a consumer
   * ```ts
   * import { Consumer } from "@webstage/webstage";
   * import assert from "node:assert/strict";
   *
   * const seen: string[] = [];
   * const consumer = new Consumer<string>({ handleEvents: (lines) => void seen.push(...lines) });
   * const source = new ReadableStream<string>({
   *   start(controller) {
   *     for (const line of ["a", "b", "c"]) controller.enqueue(line);
   *     controller.close();
   *   },
   * });
   * await source.pipeTo(consumer.writable);
   * await consumer.closed;
   * assert.deepEqual(seen, ["a", "b", "c"]);
   * ```
   */
  get writable(): WritableStream<T> {
    return this.#writable ??= consumerWritable<T>(this.#core, this.#writableHwm);
  }

  /**
   * A snapshot of what the stage is doing: its name, kind and state, events
   * received and emitted, buffered, demand asked upstream and not received,
   * downstream demand not met, its subscriptions and what each holds, and
   * events discarded. Cheap: its counters move once per batch.
   *
   * @example Watching a stage's counters
   * ```ts
   * import { Consumer, Producer } from "@webstage/webstage";
   * import assert from "node:assert/strict";
   *
   * const consumer = new Consumer<number>({
   *   name: "sink",
   *   subscribeTo: [Producer.from([1, 2, 3])],
   *   handleEvents() {},
   * });
   * await consumer.closed;
   * const stats = consumer.stats();
   * assert.equal(stats.name, "sink");
   * assert.equal(stats.state, "stopped");
   * assert.equal(stats.received, 3);
   * ```
   */
  stats(): StageStats {
    return this.#core.stats();
  }

  /** Stops now with `reason` (default `"normal"`), cancelling every subscription; resolves once stopped. */
  stop(reason: unknown = "normal"): Promise<void> {
    return this.#core.stop(reason);
  }

  /**
   * Cancels every subscription with `"normal"`, handles the events already on
   * their way, then stops `"normal"`.
   */
  close(): Promise<void> {
    return this.#core.close();
  }

  /** Resolves when the consumer stops normally; rejects with the reason of an abnormal stop. */
  get closed(): Promise<void> {
    return this.#core.watch();
  }

  /** The same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
