import type { SubscribeOptions, Subscription } from "./subscription.ts";
import type { Source, SubscribeTo } from "./subscription.ts";
import { Consumer } from "./consumer.ts";
import { sourceCore } from "./_config.ts";
import { Intensity, restartLimits } from "./supervisor.ts";
import { isNormal, subscribeOptions } from "./_options.ts";
import { ignore } from "./_streams.ts";
import * as v from "./_validate.ts";

/** What each task of a {@linkcode ConsumerSupervisor} receives besides its event. */
export interface TaskContext {
  /** Aborted when the supervisor stops (not when it closes gracefully): give up then. */
  readonly signal: AbortSignal;
}

/** Options of a {@linkcode ConsumerSupervisor}. */
export interface ConsumerSupervisorOptions<T> {
  /**
   * Handles one event: a task. It may be async; at most `maxDemand` tasks per
   * subscription run at once. A task that throws or rejects has failed.
   */
  readonly handleEvent: (event: T, context: TaskContext) => void | Promise<void>;
  /**
   * What happens to a failed task: `"temporary"` drops it, `"transient"`
   * runs it again with the same event (a restart, counted against
   * `maxRestarts`). A task that completes is never run again.
   *
   * @default {"temporary"}
   */
  readonly restart?: "temporary" | "transient";
  /**
   * The most task restarts allowed within `maxSeconds`; one more stops the
   * supervisor with a `RestartIntensityError`. An integer ≥ 0.
   *
   * @default {3}
   */
  readonly maxRestarts?: number;
  /**
   * The length of the restart window, in seconds; a finite number ≥ 0.
   *
   * @default {5}
   */
  readonly maxSeconds?: number;
  /**
   * Called with each task failure and its event. Without it, failures are
   * reported with `console.error`.
   */
  readonly onTaskError?: (error: unknown, event: T) => void;
  /** Sources to subscribe to at once, in order. */
  readonly subscribeTo?: readonly SubscribeTo<T>[];
  /** Aborting it stops the supervisor with `signal.reason`. */
  readonly signal?: AbortSignal;
  /**
   * The clock of the restart window, in milliseconds (inject one in tests).
   *
   * @default {() => performance.now()}
   */
  readonly now?: () => number;
}

/** Per-subscription demand, as GenStage's ConsumerSupervisor keeps it. */
interface Demand<T> {
  readonly subscription: Subscription<T>;
  readonly min: number;
  /** Finished tasks whose demand has not been returned yet. */
  pending: number;
}

/**
 * A consumer that runs one task per event: GenStage's `ConsumerSupervisor`,
 * with async functions as the children.
 *
 * Each subscription asks for `maxDemand` events at once; every event starts
 * `handleEvent(event, { signal })`, and the demand of a task comes back to
 * its producer when the task ends (completed, or failed and not restarted),
 * in groups of at least `minDemand` (one at a time when `minDemand` is 0).
 * So at most `maxDemand` tasks per subscription are alive or restarting at
 * any time. A `"transient"` supervisor runs a failed task again with the same
 * event without returning its demand; more than `maxRestarts` restarts within
 * `maxSeconds` stop it with a `RestartIntensityError` whose `cause` is the
 * last failure.
 *
 * `close()` (and the end of a permanent subscription) is graceful: the
 * subscriptions end, the events already on their way start tasks, and
 * `closed` resolves once every task has ended. `stop()` aborts the tasks'
 * signal and stops at once; what the tasks do afterwards is ignored.
 *
 * Note: `subscription.consumer` is the supervisor's internal consumer.
 *
 * @example Running one task per event, two at a time
 * ```ts
 * import { ConsumerSupervisor, Producer } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * let running = 0;
 * let most = 0;
 * const done: string[] = [];
 * const supervisor = new ConsumerSupervisor<string>({
 *   subscribeTo: [[Producer.from(["a", "b", "c", "d", "e"]), { maxDemand: 2, minDemand: 1 }]],
 *   handleEvent: async (url) => {
 *     most = Math.max(most, ++running);
 *     await Promise.resolve(); // some async work
 *     done.push(url);
 *     running--;
 *   },
 * });
 * await supervisor.closed; // the producer ended normally and every task finished
 * assert.deepEqual(done.sort(), ["a", "b", "c", "d", "e"]);
 * assert.equal(most, 2);
 * ```
 */
export class ConsumerSupervisor<T> {
  readonly #handleEvent: (event: T, context: TaskContext) => void | Promise<void>;
  readonly #transient: boolean;
  readonly #intensity: Intensity;
  readonly #onTaskError: ((error: unknown, event: T) => void) | undefined;
  readonly #consumer: Consumer<T>;
  readonly #demands = new Map<Subscription<T>, Demand<T>>();
  readonly #abort = new AbortController();
  readonly #context: TaskContext;
  /** Tasks alive or being restarted. */
  #running = 0;
  #stopped = false;
  /** The internal consumer stopped normally: resolve once the tasks are done. */
  #draining = false;
  readonly #closed: Promise<void>;
  #resolve!: () => void;
  #reject!: (reason: unknown) => void;
  readonly #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;

  /**
   * Validates the options, then subscribes to the `subscribeTo` sources.
   *
   * @param options The task, the restart policy and the sources.
   * @throws {TypeError | RangeError} If an option or a `subscribeTo` entry is invalid; nothing is subscribed then.
   */
  constructor(options: ConsumerSupervisorOptions<T>) {
    const action = "construct ConsumerSupervisor";
    const o = v.options<ConsumerSupervisorOptions<T>>(action, "options", options);
    if (options === undefined) {
      throw new TypeError(v.message(action, "options", "an object", options));
    }
    this.#handleEvent = v.callback(action, "handleEvent", o.handleEvent, false)!;
    this.#transient =
      v.oneOf(action, "restart", o.restart ?? "temporary", ["temporary", "transient"] as const) ===
        "transient";
    this.#intensity = new Intensity("ConsumerSupervisor", restartLimits(action, o));
    this.#onTaskError = v.callback(action, "onTaskError", o.onTaskError);
    this.#signal = v.signal(action, o.signal);
    const entries: unknown = o.subscribeTo ?? [];
    if (!Array.isArray(entries)) {
      throw new TypeError(v.message(action, "subscribeTo", "an array", entries));
    }
    entries.forEach((entry: unknown, i: number) => {
      const [source, opts] = Array.isArray(entry) ? entry : [entry, undefined];
      const where = `${action} with subscribeTo[${i}]`;
      sourceCore(where, source).checkSubscribable(where, subscribeOptions(where, opts) as never);
    });
    this.#context = { signal: this.#abort.signal };
    this.#closed = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#closed.then(ignore, ignore);
    this.#consumer = new Consumer<T>({
      subscribeTo: entries as SubscribeTo<T>[],
      handleSubscribe: (subscription) => this.#subscribed(subscription),
      handleEvents: (events, subscription) => this.#start(events, subscription),
      handleCancel: (subscription) => void this.#demands.delete(subscription),
    });
    this.#consumer.closed.then(() => {
      this.#draining = true;
      this.#checkDrained();
    }, (reason) => this.#end(reason));
    const signal = this.#signal;
    if (signal !== undefined) {
      if (signal.aborted) void this.stop(signal.reason);
      else {
        this.#onAbort = () => void this.stop(signal.reason);
        signal.addEventListener("abort", this.#onAbort, { once: true });
      }
    }
  }

  /**
   * Subscribes to `source` with `options` and returns the subscription; the
   * supervisor asks it for `maxDemand` events at once.
   *
   * @throws {TypeError} If `source` is not a producing stage or has stopped, or this supervisor has stopped.
   * @throws {RangeError} If `maxDemand` or `minDemand` is out of range.
   *
   * @example Subscribing after construction
   * ```ts
   * import { ConsumerSupervisor, Producer } from "@webstage/webstage";
   * import assert from "node:assert/strict";
   *
   * const seen: number[] = [];
   * const supervisor = new ConsumerSupervisor<number>({ handleEvent: (n) => void seen.push(n) });
   * supervisor.subscribeTo(Producer.from([1, 2, 3]), { maxDemand: 1, minDemand: 0 });
   * await supervisor.closed;
   * assert.deepEqual(seen, [1, 2, 3]);
   * ```
   */
  subscribeTo(source: Source<T>, options?: SubscribeOptions<T>): Subscription<T> {
    if (this.#stopped || this.#draining) {
      throw new TypeError("Cannot subscribe as the ConsumerSupervisor has stopped");
    }
    return this.#consumer.subscribeTo(source, options);
  }

  /**
   * Stops now with `reason` (default `"normal"`): the subscriptions are
   * cancelled and the tasks' signal is aborted with `reason`. Resolves once
   * stopped, without waiting for the tasks.
   */
  stop(reason: unknown = "normal"): Promise<void> {
    if (!this.#stopped) {
      void this.#consumer.stop(reason);
      this.#end(reason);
    }
    return this.#closed.then(ignore, ignore);
  }

  /**
   * Ends every subscription with `"normal"`, starts tasks for the events
   * already on their way, waits for every task to end, then stops
   * `"normal"`.
   */
  close(): Promise<void> {
    if (!this.#stopped) void this.#consumer.close();
    return this.#closed.then(ignore, ignore);
  }

  /**
   * Resolves once the supervisor has stopped normally and every task has
   * ended; rejects with the reason of an abnormal stop (a
   * `RestartIntensityError` when it gave up).
   */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /** The same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---------------------------------------------------------------- internals

  #subscribed(subscription: Subscription<T>): "manual" {
    const { maxDemand, minDemand } = subscription.options as {
      maxDemand: number;
      minDemand: number;
    };
    this.#demands.set(subscription, { subscription, min: minDemand, pending: 0 });
    // The consumer turns manual mode on once handleSubscribe has returned.
    queueMicrotask(() => {
      if (this.#stopped || this.#demands.get(subscription) === undefined) return;
      try {
        subscription.ask(maxDemand);
      } catch (error) {
        void this.stop(error);
      }
    });
    return "manual";
  }

  #start(events: T[], subscription: Subscription<T>): void {
    if (this.#stopped) return;
    const demand = this.#demands.get(subscription);
    for (let i = 0; i < events.length && !this.#stopped; i++) this.#run(events[i], demand);
    if (demand !== undefined) this.#giveBack(demand);
  }

  /** Runs one task, and again while it fails and may be restarted. */
  #run(event: T, demand: Demand<T> | undefined): void {
    this.#running++;
    for (;;) {
      let result: void | Promise<void>;
      try {
        result = this.#handleEvent(event, this.#context);
      } catch (error) {
        if (this.#failed(error, event)) continue;
        break;
      }
      if (result !== null && typeof result === "object" && typeof result.then === "function") {
        Promise.resolve(result).then(
          () => this.#ended(demand),
          (error) => {
            if (this.#failed(error, event)) {
              this.#running--;
              this.#run(event, demand);
              return;
            }
            this.#ended(demand);
          },
        );
        return;
      }
      break;
    }
    // A synchronous task ended: its demand is returned with the batch's.
    this.#running--;
    if (demand !== undefined) demand.pending++;
  }

  /** Reports a failure; true if the task must run again. */
  #failed(error: unknown, event: T): boolean {
    if (this.#stopped) return false;
    if (this.#onTaskError !== undefined) {
      try {
        this.#onTaskError(error, event);
      } catch (hookError) {
        this.stop(hookError);
        return false;
      }
    } else console.error("ConsumerSupervisor task failed on event", event, error);
    if (!this.#transient) return false;
    if (this.#intensity.allow()) return true;
    this.stop(this.#intensity.error(error));
    return false;
  }

  /** An async task ended for good. */
  #ended(demand: Demand<T> | undefined): void {
    this.#running--;
    if (this.#stopped) return;
    if (demand !== undefined) {
      demand.pending++;
      this.#giveBack(demand);
    }
    this.#checkDrained();
  }

  /** Returns the demand of ended tasks in groups of at least minDemand. */
  #giveBack(demand: Demand<T>): void {
    if (demand.pending === 0 || demand.pending < demand.min || this.#stopped) return;
    const count = demand.pending;
    demand.pending = 0;
    if (this.#demands.get(demand.subscription) === demand) {
      try {
        demand.subscription.ask(count);
      } catch (error) {
        this.stop(error);
      }
    }
  }

  #checkDrained(): void {
    if (this.#draining && this.#running === 0) this.#end("normal");
  }

  #end(reason: unknown): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#onAbort !== undefined) this.#signal!.removeEventListener("abort", this.#onAbort);
    if (this.#running > 0) this.#abort.abort(reason);
    if (isNormal(reason)) this.#resolve();
    else this.#reject(reason);
  }
}
