/**
 * The public shape of a subscription between a producer and a consumer, and
 * the options that create one.
 *
 * @module
 */

/** A key naming one partition of a {@linkcode PartitionDispatcher}. */
export type PartitionKey = string | number | symbol | bigint | boolean | object;

/** How a consumer reacts when its producer ends the subscription. */
export type CancelMode = "permanent" | "transient" | "temporary";

/** Options of one subscription, given to `subscribeTo`, `subscribe` or `toReadableStream`. */
export interface SubscribeOptions<T = unknown> {
  /**
   * The most events the consumer holds at once: the first ask, and the
   * `highWaterMark` of the subscription's `WritableStream`. An integer ≥ 1.
   *
   * @default {1000}
   */
  readonly maxDemand?: number;
  /**
   * The consumer asks again once its outstanding demand falls to this many
   * events. An integer in `[0, maxDemand - 1]`.
   *
   * @default {Math.floor(maxDemand / 2)}
   */
  readonly minDemand?: number;
  /**
   * What the consumer does when the producer ends this subscription:
   * `"permanent"` stops with the producer's reason, `"transient"` stops only
   * for an abnormal reason, `"temporary"` goes on.
   *
   * @default {"permanent"}
   */
  readonly cancel?: CancelMode;
  /**
   * Gives back, when the consumer stops abnormally (its `handleEvents` throws
   * or rejects, it is stopped with a reason other than `"normal"`,
   * `"shutdown"` or `undefined`, or its `signal` aborts), the events this
   * subscription delivered to it and it did not finish handling: the whole
   * chunk whose `handleEvents` failed and every event still queued for it.
   * The producer dispatches them again before any new event (at the front of
   * its buffer, which they may overfill, or through its dispatcher's
   * `redeliver`), so another consumer handles them: at-least-once delivery.
   * A normal stop and a cancel give nothing back (after a cancel or a
   * `close()`, events still queued are handled, and given back only if the
   * consumer then fails); neither does a raw subscription (`subscribe()`,
   * `toReadableStream`). A producer that is closing (`close()`, or
   * `Producer.from` after its last event) waits until its `redeliver`
   * consumers have handled what they hold before it stops, so a failure on
   * the last events still gives them back; `stop()` does not wait. A
   * producer-consumer counts an upstream chunk as handled only once the
   * output it made has left its buffer, so its own failure gives back the
   * chunks whose output it still held (some of that output may then be
   * delivered twice). Redelivery needs the producer: events a stopped
   * producer had delivered are lost if their consumer fails afterwards.
   *
   * @default {false}
   */
  readonly redeliver?: boolean;
  /** The partition to read, for a producer with a `PartitionDispatcher` only. */
  readonly partition?: PartitionKey;
  /**
   * Keeps only the events for which it returns true, for a producer with a
   * `BroadcastDispatcher` only. Filtered events are refunded as demand, so a
   * filtering consumer never slows the others.
   */
  readonly selector?: (event: T) => boolean;
  /** Any other key is passed through to `handleSubscribe` and the dispatcher. */
  readonly [custom: string]: unknown;
}

/**
 * A live link from one producer to one consumer. The same object is seen by
 * both sides: `handleSubscribe`, `handleEvents` and `handleCancel` receive it,
 * and dispatchers key their state by it.
 */
export interface Subscription<T = unknown> {
  /** The stage that sends the events. */
  readonly producer: object;
  /**
   * The stage that receives them, or `null` for a raw subscription made by
   * `producer.subscribe()` or `toReadableStream()`.
   */
  readonly consumer: object | null;
  /** The normalised options: `maxDemand`, `minDemand`, `cancel` and `redeliver` are always set. */
  readonly options: Readonly<SubscribeOptions<T>> & {
    readonly maxDemand: number;
    readonly minDemand: number;
    readonly cancel: CancelMode;
    readonly redeliver: boolean;
  };
  /**
   * Grants `count` more events, for a subscription in manual mode only (its
   * consumer's `handleSubscribe` returned `"manual"`). `ask(0)` does nothing.
   * Asks made inside `handleSubscribe` itself are held until it answers, and
   * sent if it answers `"manual"` (if it does not, the consumer stops with a
   * `TypeError`).
   *
   * @throws {RangeError} If `count` is not an integer ≥ 0.
   * @throws {TypeError} If the subscription is automatic.
   */
  ask(count: number): void;
  /**
   * Asks the producer to end this subscription with `reason`. The consumer
   * then handles it like any end of subscription, by its `cancel` mode: a
   * `"permanent"` consumer stops with `reason`.
   *
   * @param reason Why; `"normal"` by default.
   */
  cancel(reason?: unknown): void;
}

/**
 * A stage a consumer can subscribe to: a `Producer<T>` or a
 * `ProducerConsumer<unknown, T>` (anything else is refused at run time).
 */
export interface Source<T> {
  /** A raw subscription to the stage's events, as a stream of batches. */
  subscribe(options?: SubscribeOptions<T>): ReadableStream<T[]>;
  /** The stage's events as a stream. */
  readonly readable: ReadableStream<T>;
  /** Settles when the stage stops. */
  readonly closed: Promise<void>;
}

/** An entry of `subscribeTo`: a source, or a source with subscription options. */
export type SubscribeTo<T> = Source<T> | readonly [Source<T>, SubscribeOptions<T>];

/** What a consumer-side `handleSubscribe` may answer: `"manual"` turns off automatic asks. */
export type SubscribeMode = "automatic" | "manual" | void;
