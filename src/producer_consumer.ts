import type { Dispatcher } from "./dispatcher.ts";
import type {
  Source,
  SubscribeMode,
  SubscribeOptions,
  SubscribeTo,
  Subscription,
} from "./subscription.ts";
import type { Events } from "./producer.ts";
import type { StageCore } from "./_stage.ts";
import type { StageStats } from "./stats.ts";
import { consumerConfig, emitted, rawSubscribe, startConsumer, subscribeTo } from "./_config.ts";
import { consumerWritable, readableFace } from "./_faces.ts";

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
  /**
   * Called with the reason when the stage fails from within: a callback
   * throws or rejects, or a permanent (or transient) upstream fails. A
   * failure that neither `onError`, a reader of `closed`, a supervisor nor a
   * consumer stopping with it observes is raised as an unhandled rejection
   * naming the stage, so a script does not end quietly with a broken
   * pipeline.
   */
  readonly onError?: (error: unknown) => void;
  /** Aborting it stops the stage with `signal.reason`. */
  readonly signal?: AbortSignal;
  /**
   * Called once when the stage stops, for any reason, after its last
   * callback and before `closed` settles (GenStage's `terminate/2`). On a
   * graceful end, the events it returns are delivered downstream before the
   * subscriptions end (a batch still open, say); otherwise they are ignored.
   */
  readonly terminate?: (reason: unknown) => Events<O> | Promise<Events<O>>;
  /**
   * The name in failure reports and `console` messages.
   *
   * @default {"ProducerConsumer#" + a number}
   */
  readonly name?: string;
  /**
   * The strategy of `writable`, as a `TransformStream`'s: its
   * `highWaterMark` is the `maxDemand` of the inlet subscription written
   * events go through (an integer ≥ 1).
   *
   * @default {{ highWaterMark: 1000 }}
   */
  readonly writableStrategy?: { readonly highWaterMark?: number };
  /**
   * The strategy of `readable`, as a `TransformStream`'s: its `highWaterMark`
   * is the `maxDemand` of the subscription `readable` reads through.
   *
   * @default {{ highWaterMark: 1000 }}
   */
  readonly readableStrategy?: { readonly highWaterMark?: number };
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
  readonly #readableHwm: number;
  readonly #writableHwm: number;
  #readable: ReadableStream<O> | undefined;
  #writable: WritableStream<I> | undefined;

  /**
   * Creates and starts a producer-consumer, subscribing at once to every
   * `subscribeTo` entry, in order.
   *
   * @param options The callbacks, sources and settings of the stage.
   * @throws {TypeError | RangeError} If an option or a `subscribeTo` entry is invalid; nothing is subscribed then.
   */
  constructor(options: ProducerConsumerOptions<I, O>) {
    const { config, entries, readableHwm, writableHwm } = consumerConfig(
      this,
      "ProducerConsumer",
      options,
    );
    this.#readableHwm = readableHwm;
    this.#writableHwm = writableHwm;
    this.#core = startConsumer(config, entries);
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
    this.#core.emit(emitted("emit", events));
  }

  /** Queues `message` for `handleInfo`, after the events buffered or queued now. */
  info(message: unknown): void {
    this.#core.info(message);
  }

  /** The number of buffered output events. */
  get bufferedCount(): number {
    return this.#core.outlet!.bufferedCount;
  }

  /**
   * The stage's input as a `WritableStream` of single events, as a
   * `TransformStream`'s `writable`: the same stream on every access. Written
   * events reach `handleEvents` through an inlet subscription with
   * `maxDemand` = `writableStrategy.highWaterMark`, so `source.pipeThrough(stage)`
   * is paced by the stage's demand. Closing it ends the stage's input: the
   * stage handles everything written, then, if it has no other upstream,
   * ends normally and its `readable` closes (`writer.close()` resolves once
   * every written event has been handled). Aborting it stops the stage with
   * the reason; a stage that fails errors it.
   */
  get writable(): WritableStream<I> {
    return this.#writable ??= consumerWritable<I>(this.#core, this.#writableHwm);
  }

  /**
   * The stage's output as a `ReadableStream` of single events, as a
   * `TransformStream`'s `readable`: the same stream on every access,
   * subscribed (with `maxDemand` = `readableStrategy.highWaterMark`) on its
   * first read. It closes when the stage ends normally and errors when it
   * fails. Cancelling it when it is the stage's only subscriber stops the
   * stage and errors its `writable` with the reason, so cancellation reaches
   * the source of a pipe chain.
   *
   * @example A producer-consumer in a pipe chain
   * ```ts
   * import { ProducerConsumer } from "@webstage/webstage";
   * import assert from "node:assert/strict";
   *
   * const upper = new ProducerConsumer<string, string>({
   *   handleEvents: (words) => words.map((word) => word.toUpperCase()),
   * });
   * const source = new ReadableStream<string>({
   *   start(controller) {
   *     for (const word of ["web", "stage"]) controller.enqueue(word);
   *     controller.close();
   *   },
   * });
   * const out: string[] = [];
   * await source.pipeThrough(upper).pipeTo(new WritableStream({ write: (w) => void out.push(w) }));
   * assert.deepEqual(out, ["WEB", "STAGE"]);
   * ```
   */
  get readable(): ReadableStream<O> {
    return this.#readable ??= readableFace<O>(this.#core, this.#readableHwm);
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
    return this.#core.watch();
  }

  /** The same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
