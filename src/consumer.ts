import type { SubscribeOptions, Subscription } from "./subscription.ts";
import type { Producer } from "./producer.ts";
import type { ProducerConsumer } from "./producer_consumer.ts";
import { sourceCore } from "./producer.ts";
import { StageCore } from "./_stage.ts";
import { type NormalSubscribeOptions, subscribeOptions } from "./_options.ts";
import * as v from "./_validate.ts";

/** A stage a consumer can subscribe to. */
// deno-lint-ignore no-explicit-any
export type Source<T> = Producer<T> | ProducerConsumer<any, T>;

/** An entry of `subscribeTo`: a source, or a source with subscription options. */
export type SubscribeTo<T> = Source<T> | readonly [Source<T>, SubscribeOptions<T>];

/** What a consumer-side `handleSubscribe` may answer: `"manual"` turns off automatic asks. */
export type SubscribeMode = "automatic" | "manual" | void;

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
  /** Aborting it stops the consumer with `signal.reason`. */
  readonly signal?: AbortSignal;
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

  /**
   * Creates and starts a consumer, subscribing at once to every
   * `subscribeTo` entry, in order.
   *
   * @param options The callbacks and sources of the consumer.
   * @throws {TypeError | RangeError} If an option or a `subscribeTo` entry is invalid; nothing is subscribed then.
   */
  constructor(options: ConsumerOptions<T>) {
    const { core, subscribe } = consumerCore(this, "Consumer", options, (config) => config);
    this.#core = core;
    subscribe();
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
    return this.#core.closed;
  }

  /** The same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** @internal Validates `source` and `options` for a consumer and subscribes. */
export function subscribeTo<T>(
  core: StageCore,
  source: unknown,
  options: unknown,
): Subscription<T> {
  const [producer, normal] = checkEntry<T>(core, "subscribe", source, options);
  return core.subscribeTo(producer, normal);
}

function checkEntry<T>(
  core: StageCore,
  action: string,
  source: unknown,
  options: unknown,
): [StageCore, NormalSubscribeOptions<T>] {
  if (core.stopped) throw new TypeError(`Cannot ${action} as the ${core.kind} has stopped`);
  const producer = sourceCore(action, source);
  if (producer === core) {
    throw new TypeError(`Cannot ${action} as a stage cannot subscribe to itself`);
  }
  const normal = subscribeOptions<T>(action, options);
  producer.checkSubscribable(action, normal as never);
  return [producer, normal];
}

/**
 * @internal Builds the engine of a consumer-side stage from its options and
 * returns it with a function that makes its `subscribeTo` subscriptions
 * (every entry is validated before any is made).
 */
export function consumerCore(
  owner: object,
  kind: "Consumer" | "ProducerConsumer",
  options: unknown,
  extend: (
    config: ConstructorParameters<typeof StageCore>[0],
  ) => ConstructorParameters<typeof StageCore>[0],
): { core: StageCore; subscribe: () => void } {
  const action = `construct ${kind}`;
  // deno-lint-ignore no-explicit-any
  const o = v.options<any>(action, "options", options);
  if (options === undefined) {
    throw new TypeError(v.message(action, "options", "an object", options));
  }
  const entries: unknown = o.subscribeTo ?? [];
  if (!Array.isArray(entries)) {
    throw new TypeError(v.message(action, "subscribeTo", "an array", entries));
  }
  const config = extend({
    kind,
    owner,
    handleEvents: v.callback(action, "handleEvents", o.handleEvents, false),
    handleSubscribe: v.callback(action, "handleSubscribe", o.handleSubscribe),
    handleCancel: v.callback(action, "handleCancel", o.handleCancel),
    handleInfo: v.callback(action, "handleInfo", o.handleInfo),
    signal: v.signal(action, o.signal),
  });
  // Validate every entry before building anything.
  const pairs = entries.map((entry: unknown, i: number) => {
    const [source, opts] = Array.isArray(entry) ? entry : [entry, undefined];
    const producer = sourceCore(`${action} with subscribeTo[${i}]`, source);
    const normal = subscribeOptions(`${action} with subscribeTo[${i}]`, opts);
    producer.checkSubscribable(`${action} with subscribeTo[${i}]`, normal as never);
    return [producer, normal] as const;
  });
  const core = new StageCore(config);
  return {
    core,
    subscribe: () => {
      // An already aborted signal has stopped it: it subscribes to nothing.
      if (core.stopped) return;
      core.startLater();
      for (const [producer, normal] of pairs) core.subscribeTo(producer, normal);
    },
  };
}
