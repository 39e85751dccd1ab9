import { ProducerConsumer, type ProducerConsumerOptions } from "./producer_consumer.ts";
import { Consumer, type ConsumerOptions } from "./consumer.ts";
import { WorkerChannel, workerConfig } from "./_worker_channel.ts";
import type { WorkerCommonOptions } from "./worker_options.ts";
import { ignore } from "./_streams.ts";
import * as v from "./_validate.ts";

/** Options of a {@linkcode WorkerStage}: a producer-consumer's, without `handleEvents`. */
export interface WorkerStageOptions<I, O>
  extends Omit<ProducerConsumerOptions<I, O>, "handleEvents">, WorkerCommonOptions<I> {}

/** Options of a {@linkcode WorkerConsumer}: a consumer's, without `handleEvents`. */
export interface WorkerConsumerOptions<I>
  extends Omit<ConsumerOptions<I>, "handleEvents">, WorkerCommonOptions<I> {}

/**
 * A producer-consumer whose `handleEvents` runs in a worker: each batch goes
 * to the worker started from `url` (whose module calls
 * {@linkcode serveStage}), and the results it sends back are this stage's
 * output. Everything else is an ordinary {@linkcode ProducerConsumer} on this
 * side: it subscribes and is subscribed to like any stage, with `maxDemand`,
 * `minDemand`, cancel modes and `redeliver`, and its other callbacks
 * (`handleSubscribe`, `handleCancel`, `handleInfo`) run here.
 *
 * One batch is in the worker at a time, of at most `maxDemand - minDemand`
 * events, so the events in flight to the worker never exceed `maxDemand`.
 * Batches cross by structured clone, or by transfer with the `transfer`
 * option.
 *
 * A throw in the worker's `handleEvents` fails the stage with that error;
 * a worker that dies (its module fails to load, an error escapes its
 * callbacks, it closes itself, its thread exits) fails the stage with a
 * {@linkcode WorkerError}, at once even when no batch is in flight. Either
 * way the stage behaves as an in-process stage whose callback threw: its
 * subscribers see the reason through their cancel modes, a `Supervisor`
 * restarts it, and with `redeliver` its unhandled events go back to the
 * producer. However the stage stops, its worker is terminated.
 *
 * A single worker is one core. For several, see {@linkcode WorkerPool}.
 *
 * @example Squaring numbers in a worker (Deno, Bun, browsers; on Node pass `Worker: NodeWorker`)
 * ```ts ignore
 * import { Consumer, Producer, WorkerStage } from "@webstage/webstage";
 *
 * const squares = new WorkerStage<number, number>(new URL("./square_worker.ts", import.meta.url), {
 *   subscribeTo: [[Producer.from([1, 2, 3]), { maxDemand: 100 }]],
 * });
 * const seen: number[] = [];
 * const consumer = new Consumer<number>({
 *   subscribeTo: [squares],
 *   handleEvents: (events) => void seen.push(...events),
 * });
 * await consumer.closed; // seen: [1, 4, 9]; the worker has been terminated
 * ```
 *
 * @example A Worker option that is not a constructor throws, before anything starts
 * ```ts
 * import { WorkerStage } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => new WorkerStage("./square_worker.js", { Worker: 42 as never }), TypeError);
 * ```
 */
export class WorkerStage<I, O> extends ProducerConsumer<I, O> {
  /**
   * Starts the worker and the stage, subscribing at once to every
   * `subscribeTo` entry.
   *
   * @param url The worker's module URL (`new URL("./x.ts", import.meta.url)`).
   * @param options The stage's and the worker's options.
   * @throws {TypeError | RangeError} If an option is invalid, or there is no
   * `Worker` constructor (workerd; Node without `NodeWorker`); nothing is
   * started then.
   * @throws What the `Worker` constructor throws (a malformed URL, say),
   * after stopping the stage with it.
   */
  constructor(url: string | URL, options?: WorkerStageOptions<I, O>) {
    const action = "construct WorkerStage";
    const config = workerConfig(action, url, options);
    rejectHandleEvents(action, options);
    const channel = new WorkerChannel(config);
    const transfer = config.transfer;
    super({
      ...options,
      handleEvents: (events: I[]) => channel.run(events, transfer?.(events)) as Promise<O[]>,
    } as ProducerConsumerOptions<I, O>);
    start(this, channel);
  }
}

/**
 * A consumer whose `handleEvents` runs in a worker: the
 * {@linkcode WorkerStage} of a stage that emits nothing. The worker's
 * `handleEvents` returns nothing (what it returns is ignored); a batch counts
 * as handled when the worker has answered, so `redeliver` gives back a batch
 * the worker was handling when it died.
 *
 * @example Writing batches from a worker (on Node pass `Worker: NodeWorker`)
 * ```ts ignore
 * import { Producer, WorkerConsumer } from "@webstage/webstage";
 *
 * const writer = new WorkerConsumer<string>(new URL("./write_worker.ts", import.meta.url), {
 *   subscribeTo: [[Producer.from(["a", "b"]), { maxDemand: 500 }]],
 * });
 * await writer.closed;
 * ```
 *
 * @example Bad options throw before any worker starts
 * ```ts
 * import { WorkerConsumer } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => new WorkerConsumer(42 as never), TypeError);
 * ```
 */
export class WorkerConsumer<I> extends Consumer<I> {
  /**
   * Starts the worker and the consumer, subscribing at once to every
   * `subscribeTo` entry.
   *
   * @param url The worker's module URL.
   * @param options The consumer's and the worker's options.
   * @throws {TypeError | RangeError} If an option is invalid, or there is no
   * `Worker` constructor; nothing is started then.
   * @throws What the `Worker` constructor throws, after stopping the consumer with it.
   */
  constructor(url: string | URL, options?: WorkerConsumerOptions<I>) {
    const action = "construct WorkerConsumer";
    const config = workerConfig(action, url, options);
    rejectHandleEvents(action, options);
    const channel = new WorkerChannel(config);
    const transfer = config.transfer;
    super({
      ...options,
      handleEvents: (events: I[]) => channel.run(events, transfer?.(events)).then(ignore),
    } as ConsumerOptions<I>);
    start(this, channel);
  }
}

function rejectHandleEvents(action: string, options: unknown): void {
  const handleEvents = (options as { handleEvents?: unknown } | undefined)?.handleEvents;
  if (handleEvents !== undefined) {
    throw new TypeError(
      v.message(
        action,
        "handleEvents",
        "given to serveStage in the worker, not here",
        handleEvents,
      ),
    );
  }
}

/**
 * Starts the worker of a stage that has just been built: a dead worker stops
 * its stage, a stopped stage terminates its worker. If the `Worker`
 * constructor throws, the stage is stopped with that error, which the stage's
 * constructor then throws.
 */
function start(
  stage: { readonly closed: Promise<void>; stop(reason: unknown): Promise<void> },
  channel: WorkerChannel,
): void {
  try {
    channel.start();
  } catch (error) {
    void stage.stop(error);
    throw error;
  }
  channel.onFailure = (error) => void stage.stop(error);
  const end = () => channel.terminate();
  stage.closed.then(end, end);
}
