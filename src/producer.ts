import type { Dispatcher } from "./dispatcher.ts";
import type { SubscribeOptions, Subscription } from "./subscription.ts";
import { StageCore } from "./_stage.ts";
import type { StageStats } from "./stats.ts";
import { emitted, producerConfig, rawSubscribe } from "./_config.ts";
import { producerWritable, readableFace } from "./_faces.ts";
import { producerFrom } from "./_from.ts";
import * as v from "./_validate.ts";

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
  /**
   * Called with the reason when the stage fails from within: a callback
   * throws or rejects, or a permanent (or transient) upstream fails. A
   * failure that neither `onError`, a reader of `closed`, a supervisor nor a
   * consumer stopping with it observes is raised as an unhandled rejection
   * naming the stage, so a script does not end quietly with a broken
   * pipeline.
   */
  readonly onError?: (error: unknown) => void;
  /** Aborting it stops the producer with `signal.reason`. */
  readonly signal?: AbortSignal;
  /**
   * Called once when the producer stops, for any reason, after its last
   * callback and before `closed` settles (GenStage's `terminate/2`). On a
   * graceful end (`close()`), the events it returns are delivered before
   * the subscriptions end; otherwise they are ignored. A `terminate` that
   * throws on a normal end makes the end a failure.
   */
  readonly terminate?: (reason: unknown) => Events<T> | Promise<Events<T>>;
  /**
   * Called as the fate of the events this producer sent becomes known:
   * `handled: true` once the subscribing consumer's `handleEvents` (or
   * `ConsumerSupervisor` task) for them settled successfully (for a
   * producer-consumer, once the output it made from them is done
   * downstream), and for a stream reader once it has read them;
   * `handled: false` for events that will never be handled: their consumer
   * stopped or cancelled first and they are not redelivered, or they were
   * still in the producer's buffer when it stopped. With `redeliver`, events
   * given back are reported once handled elsewhere. Each event is reported
   * once. It lets a producer acknowledge a broker's messages.
   */
  readonly acknowledge?: (events: T[], handled: boolean) => void;
  /**
   * The name in failure reports and `console` messages.
   *
   * @default {"Producer#" + a number}
   */
  readonly name?: string;
  /**
   * The strategy of `readable`: its `highWaterMark` is the `maxDemand` of the
   * subscription `readable` reads through (an integer ≥ 1).
   *
   * @default {{ highWaterMark: 1000 }}
   */
  readonly readableStrategy?: { readonly highWaterMark?: number };
  /**
   * The strategy of `writable`: its `highWaterMark` is how many written
   * events may wait for demand before `writer.ready` waits (an integer ≥ 1).
   *
   * @default {{ highWaterMark: 1000 }}
   */
  readonly writableStrategy?: { readonly highWaterMark?: number };
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
  readonly #readableHwm: number;
  readonly #writableHwm: number;
  #readable: ReadableStream<T> | undefined;
  #writable: WritableStream<T> | undefined;

  /**
   * Creates and starts a producer; it produces nothing until a consumer asks
   * (or `emit` is called).
   *
   * @param options The callbacks and settings of the producer.
   * @throws {TypeError} If an option has the wrong type or an unknown value.
   * @throws {RangeError} If `bufferSize` is not an integer ≥ 1 or `Infinity`.
   */
  constructor(options: ProducerOptions<T> = {}) {
    const { config, readableHwm, writableHwm } = producerConfig(this, options);
    this.#readableHwm = readableHwm;
    this.#writableHwm = writableHwm;
    this.#core = new StageCore(config);
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
    return producerFrom<T, Producer<T>>(Producer, source, options);
  }

  /**
   * Dispatches `events` now; what demand cannot take is buffered.
   *
   * @throws {TypeError} If `events` is not iterable.
   */
  emit(events: Iterable<T>): void {
    this.#core.emit(emitted("emit", events));
  }

  /** Queues `message` for `handleInfo`, after every event buffered now. */
  info(message: unknown): void {
    this.#core.info(message);
  }

  /** `"accumulate"` while asks and events are being stored, else `"forward"`. */
  get demandMode(): "forward" | "accumulate" {
    return this.#core.outlet!.demandMode;
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
    return this.#core.outlet!.bufferedCount;
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

  /**
   * The producer's events as a `ReadableStream` of single events: the same
   * stream on every access, subscribed (with `maxDemand` =
   * `readableStrategy.highWaterMark`) on its first read, asking as it is
   * read. It closes when the producer ends normally and errors when it
   * fails. Cancelling it when it is the producer's only subscriber stops the
   * producer (normally) and errors its `writable` with the cancel reason;
   * otherwise it only ends its subscription.
   *
   * @example Reading a producer with `for await`
   * ```ts
   * import { Producer } from "@webstage/webstage";
   * import assert from "node:assert/strict";
   *
   * const seen: string[] = [];
   * const reader = Producer.from(["a", "b", "c"]).readable.getReader();
   * for (let r = await reader.read(); !r.done; r = await reader.read()) seen.push(r.value);
   * assert.deepEqual(seen, ["a", "b", "c"]);
   * ```
   */
  get readable(): ReadableStream<T> {
    return this.#readable ??= readableFace<T>(this.#core, this.#readableHwm);
  }

  /**
   * A `WritableStream` whose chunks are events to emit: the same stream on
   * every access. A chunk is taken only while the producer has downstream
   * demand it has not met (from its buffer or `handleDemand`), so a writer
   * that awaits `writer.ready` is paced by the consumers and never makes the
   * producer buffer; up to `writableStrategy.highWaterMark` written events
   * wait in the stream meanwhile. Closing it closes the producer (it
   * resolves once the producer has delivered everything and stopped);
   * aborting it stops the producer with the reason; a producer that stops
   * errors it.
   *
   * @example Piping a stream into a producer
   * ```ts
   * import { Consumer, Producer } from "@webstage/webstage";
   * import assert from "node:assert/strict";
   *
   * const producer = new Producer<number>();
   * let sum = 0;
   * const consumer = new Consumer<number>({
   *   subscribeTo: [producer],
   *   handleEvents: (events) => void events.forEach((n) => (sum += n)),
   * });
   * const source = new ReadableStream<number>({
   *   start(controller) {
   *     for (const n of [1, 2, 3]) controller.enqueue(n);
   *     controller.close();
   *   },
   * });
   * await source.pipeTo(producer.writable);
   * await consumer.closed;
   * assert.equal(sum, 6);
   * ```
   */
  get writable(): WritableStream<T> {
    return this.#writable ??= producerWritable<T>(this.#core, this.#writableHwm);
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

  /** Stops `"normal"` once every buffered event has been delivered; no more `handleDemand` calls. */
  close(): Promise<void> {
    return this.#core.close();
  }

  /** Resolves when the producer stops normally; rejects with the reason of an abnormal stop. */
  get closed(): Promise<void> {
    return this.#core.watch();
  }

  /** The same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Options of {@linkcode Producer.from}. */
export interface FromOptions<T>
  extends Pick<ProducerOptions<T>, "dispatcher" | "demand" | "signal" | "acknowledge" | "name"> {
  /**
   * What the producer does when its last subscription ends: `"continue"` or
   * `"stop"` (normally).
   *
   * @default {"continue"}
   */
  readonly onCancel?: "continue" | "stop";
}
