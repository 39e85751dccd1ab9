import type { SubscribeOptions, Subscription } from "./subscription.ts";
import type { Source, SubscribeTo } from "./subscription.ts";
import { Consumer } from "./consumer.ts";
import { sourceCore } from "./_config.ts";
import { delegate, type Fate } from "./_link.ts";
import { giveBack } from "./_demand.ts";
import { stageName } from "./_names.ts";
import { describe, reportUnobserved } from "./_report.ts";
import type { StageStats } from "./stats.ts";
import type { Timers } from "./timers.ts";
import { Intensity, restartLimits, timersOption } from "./_intensity.ts";
import { isNormal, subscribeOptions } from "./_options.ts";
import { ignore } from "./_streams.ts";
import * as v from "./_validate.ts";

/** What each task of a {@linkcode ConsumerSupervisor} receives besides its event. */
export interface TaskContext {
  /**
   * This run's own signal, aborted when the supervisor stops (not when it
   * closes gracefully): give up then. Each run of each task has its own, so
   * listeners a task leaves on it go away with the task.
   */
  readonly signal: AbortSignal;
  /** Which run of this task this is: 1 for the first, 2 for the first retry, … */
  readonly attempt: number;
}

/**
 * How a {@linkcode ConsumerSupervisor} retries a failed task: up to
 * `attempts` runs in all, waiting `min(maxDelayMs, initialDelayMs ×
 * multiplier^(n − 1))` before retry n, shortened at random by up to
 * `jitter` of itself (`jitter: 1` is "full jitter", `0` none).
 */
export interface RetryOptions {
  /**
   * The most runs of one task, the first included; an integer ≥ 1 or
   * `Infinity`. A task that fails on its last run is dropped.
   *
   * @default {3}
   */
  readonly attempts?: number;
  /**
   * The wait before the first retry, in milliseconds; an integer ≥ 0.
   *
   * @default {100}
   */
  readonly initialDelayMs?: number;
  /**
   * The longest wait before a retry, in milliseconds; an integer ≥ 0 or
   * `Infinity`.
   *
   * @default {10000}
   */
  readonly maxDelayMs?: number;
  /**
   * How much each wait grows over the one before; a finite number ≥ 1.
   *
   * @default {2}
   */
  readonly multiplier?: number;
  /**
   * The largest share of a wait taken off at random; a number in `[0, 1]`.
   *
   * @default {1}
   */
  readonly jitter?: number;
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
   * runs it again with the same event. A task that completes is never run
   * again. Without `retry`, a transient task runs again on the next turn of
   * the event loop and each restart counts against `maxRestarts`; with
   * `retry`, it runs again after a backoff and only its own `attempts`
   * count.
   *
   * @default {"temporary", or "transient" when retry is set}
   */
  readonly restart?: "temporary" | "transient";
  /**
   * Retries each failed task after an exponential backoff with jitter, up
   * to `attempts` runs in all, counted per task and not against
   * `maxRestarts`. Requires `restart: "transient"` (its default then).
   */
  readonly retry?: RetryOptions;
  /**
   * The most task restarts allowed within `maxSeconds` (without `retry`);
   * one more stops the supervisor with a `RestartIntensityError`. An
   * integer ≥ 0.
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
   * The name in reports, `stats()` and the topology page.
   *
   * @default {"ConsumerSupervisor#" + a number}
   */
  readonly name?: string;
  /**
   * Called once when the supervisor stops, for any reason, after every task
   * it waits for has ended (on `stop()`, at once: the tasks' signals are
   * aborted) and before `closed` settles. One that throws on a normal end
   * makes the end a failure.
   */
  readonly terminate?: (reason: unknown) => void | Promise<void>;
  /**
   * The strategy of `writable`: its `highWaterMark` is the `maxDemand` of
   * the inlet subscription written events go through (an integer ≥ 1).
   *
   * @default {{ highWaterMark: 1000 }}
   */
  readonly writableStrategy?: { readonly highWaterMark?: number };
  /**
   * Called with the reason when the supervisor fails from within (it gives
   * up on its restart intensity, `onTaskError` throws, or a permanent
   * upstream fails). A failure nothing observes (no `onError`, nobody
   * reading `closed`, no supervisor) is raised as an unhandled rejection.
   */
  readonly onError?: (error: unknown) => void;
  /**
   * The clock of the restart window, in milliseconds (inject one in tests).
   *
   * @default {() => performance.now()}
   */
  readonly now?: () => number;
  /**
   * The timers that schedule restarts and retries (inject fake ones in tests).
   *
   * @default {the global setTimeout and clearTimeout}
   */
  readonly timers?: Timers;
}

/** Per-subscription demand, as GenStage's ConsumerSupervisor keeps it. */
interface Demand<T> {
  readonly subscription: Subscription<T>;
  readonly min: number;
  /** Finished tasks whose demand has not been returned yet. */
  pending: number;
}

/** One task: an event, its runs, and the demand it holds until it ends for good. */
interface Task<T> {
  readonly event: T;
  readonly demand: Demand<T> | undefined;
  /** Runs started so far. */
  runs: number;
  /** The current run's controller (undefined while waiting to run again). */
  controller: AbortController | undefined;
  /** The pending timer of the next run. */
  timer: unknown;
  /** Tells the event's producer whether it was handled (when the producer keeps track). */
  readonly report: ((events: T[], fate: Fate) => void) | undefined;
}

/** The validated retry policy. */
interface Retry {
  readonly attempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly multiplier: number;
  readonly jitter: number;
}

/** The wait before run `runs + 1` of a task, by `retry`; `random` in [0, 1). */
function backoffMs(retry: Retry, runs: number, random: number): number {
  const base = Math.min(retry.maxDelayMs, retry.initialDelayMs * retry.multiplier ** (runs - 1));
  return Math.round(base * (1 - retry.jitter * random));
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
 * event without returning its demand, never in the same turn of the event
 * loop (a task that keeps failing at once cannot spin it): without `retry`,
 * on the next turn, and more than `maxRestarts` restarts within `maxSeconds`
 * stop it with a `RestartIntensityError` whose `cause` is the last failure;
 * with `retry`, after an exponential backoff with jitter, up to `attempts`
 * runs per task, after which the task is dropped.
 *
 * `close()` (and the end of a permanent subscription) is graceful: the
 * subscriptions end, the events already on their way start tasks, and
 * `closed` resolves once every task has ended (retries included). `stop()`
 * aborts the signal of every running task, cancels the pending retries and
 * stops at once; what the tasks do afterwards is ignored.
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
 *
 * @example Retrying a flaky task with backoff
 * ```ts
 * import { ConsumerSupervisor, Producer } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * const attempts: number[] = [];
 * const supervisor = new ConsumerSupervisor<string>({
 *   subscribeTo: [Producer.from(["job"])],
 *   retry: { attempts: 3, initialDelayMs: 1, maxDelayMs: 10 },
 *   onTaskError: () => {}, // each failure; the default logs it
 *   handleEvent: (_job, { attempt }) => {
 *     attempts.push(attempt);
 *     if (attempt < 3) throw new Error("flaky"); // fails twice, then succeeds
 *   },
 * });
 * await supervisor.closed;
 * assert.deepEqual(attempts, [1, 2, 3]);
 * ```
 */
export class ConsumerSupervisor<T> {
  readonly #handleEvent: (event: T, context: TaskContext) => void | Promise<void>;
  readonly #transient: boolean;
  readonly #retry: Retry | undefined;
  readonly #intensity: Intensity;
  readonly #onTaskError: ((error: unknown, event: T) => void) | undefined;
  readonly #timers: Timers;
  readonly #consumer: Consumer<T>;
  readonly #demands = new Map<Subscription<T>, Demand<T>>();
  /** Tasks alive or waiting to run again. */
  readonly #tasks = new Set<Task<T>>();
  /** While a batch starts its tasks, synchronous ends return their demand once, after the batch. */
  #inBatch = false;
  #stopped = false;
  /** The internal consumer stopped normally: resolve once the tasks are done. */
  #draining = false;
  readonly #closed: Promise<void>;
  #resolve!: () => void;
  #reject!: (reason: unknown) => void;
  readonly #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;
  readonly #name: string;
  readonly #onError: ((error: unknown) => void) | undefined;
  readonly #terminate: ((reason: unknown) => void | Promise<void>) | undefined;
  /** Task restarts so far. */
  #restarts = 0;
  /** The stop came from within (not from whoever called stop()). */
  #internal = false;
  /** Someone reads `closed`. */
  #observed = false;
  #reason: unknown = undefined;

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
    this.#retry = retryOption(action, o.retry);
    const restart = v.oneOf(
      action,
      "restart",
      o.restart ?? (this.#retry === undefined ? "temporary" : "transient"),
      ["temporary", "transient"] as const,
    );
    if (this.#retry !== undefined && restart !== "transient") {
      throw new TypeError(
        v.message(action, "restart", '"transient" when retry is set', restart),
      );
    }
    this.#transient = restart === "transient";
    this.#intensity = new Intensity("ConsumerSupervisor", restartLimits(action, o));
    this.#onTaskError = v.callback(action, "onTaskError", o.onTaskError);
    this.#signal = v.signal(action, o.signal);
    this.#timers = timersOption(action, o.timers);
    this.#onError = v.callback(action, "onError", o.onError);
    this.#terminate = v.callback(action, "terminate", o.terminate);
    this.#name = stageName(action, "ConsumerSupervisor", o.name);
    const writableStrategy = o.writableStrategy;
    const entries: unknown = o.subscribeTo ?? [];
    if (!Array.isArray(entries)) {
      throw new TypeError(v.message(action, "subscribeTo", "an array", entries));
    }
    entries.forEach((entry: unknown, i: number) => {
      const [source, opts] = Array.isArray(entry) ? entry : [entry, undefined];
      const where = `${action} with subscribeTo[${i}]`;
      sourceCore(where, source).checkSubscribable(where, subscribeOptions(where, opts) as never);
    });
    this.#closed = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#closed.then(ignore, ignore);
    this.#consumer = new Consumer<T>({
      name: this.#name,
      writableStrategy,
      subscribeTo: entries as SubscribeTo<T>[],
      handleSubscribe: (subscription) => this.#subscribed(subscription),
      handleEvents: (events, subscription) => this.#start(events, subscription),
      handleCancel: (subscription) => void this.#demands.delete(subscription),
    });
    this.#consumer.closed.then(() => {
      this.#draining = true;
      this.#checkDrained();
    }, (reason) => {
      this.#internal = true;
      this.#end(reason);
    });
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
   * stopped, without waiting for the tasks. The events of the tasks cut
   * short count as never handled, unless the reason is abnormal (an error,
   * `"shutdown"`) and their subscription has `redeliver`: then they go back
   * to their producer, to be sent again in the order the tasks started.
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
    this.#observed = true;
    return this.#closed;
  }

  /**
   * Its events as a `WritableStream`, as `Consumer.writable`: each chunk is
   * one event, a task, taken as the supervisor's demand allows (an inlet
   * subscription with `maxDemand` = `writableStrategy.highWaterMark`).
   * Closing it ends the supervisor's input once no other upstream remains
   * (`writer.close()` resolves once every written event has started its
   * task); aborting it stops the supervisor.
   */
  get writable(): WritableStream<T> {
    return this.#consumer.writable;
  }

  /**
   * A snapshot, as a stage's `stats()`: `received` counts the tasks
   * started, `restarts` the task restarts.
   */
  stats(): StageStats {
    const inner = this.#consumer.stats();
    const failed = this.#stopped && !isNormal(this.#reason);
    const running = this.#tasks.size > 0 && !this.#stopped;
    return {
      ...inner,
      kind: "ConsumerSupervisor",
      state: failed
        ? "failed"
        : this.#stopped
        ? "stopped"
        : inner.state === "running" || !running
        ? inner.state
        : "closing",
      restarts: this.#restarts,
      ...(failed ? { failure: describe(this.#reason) } : {}),
    };
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
    // Asked inside handleSubscribe: it goes out once the answer is "manual" (GenStage's idiom).
    subscription.ask(maxDemand);
    return "manual";
  }

  #start(events: T[], subscription: Subscription<T>): void {
    // The tasks end in any order: each tells the producer about its own event.
    const report = delegate<T>(subscription, events.length);
    if (this.#stopped) return report?.(events, this.#cut());
    const demand = this.#demands.get(subscription);
    this.#inBatch = true;
    let i = 0;
    for (; i < events.length && !this.#stopped; i++) {
      const task: Task<T> = {
        event: events[i],
        demand,
        runs: 0,
        controller: undefined,
        timer: undefined,
        report,
      };
      this.#tasks.add(task);
      this.#run(task);
    }
    this.#inBatch = false;
    if (i < events.length) report?.(events.slice(i), this.#cut());
    if (demand !== undefined) this.#giveBack(demand);
  }

  /** Runs `task` once more, with a signal of its own. */
  #run(task: Task<T>): void {
    const controller = new AbortController();
    task.controller = controller;
    task.runs++;
    let result: void | Promise<void>;
    try {
      result = this.#handleEvent(task.event, { signal: controller.signal, attempt: task.runs });
    } catch (error) {
      this.#failed(task, error);
      return;
    }
    if (result !== null && typeof result === "object" && typeof result.then === "function") {
      Promise.resolve(result).then(
        () => this.#ended(task, true),
        (error) => this.#failed(task, error),
      );
    } else this.#ended(task, true);
  }

  /** Reports a failure, then schedules the next run or ends the task. */
  #failed(task: Task<T>, error: unknown): void {
    task.controller = undefined;
    if (this.#stopped) return;
    if (this.#onTaskError !== undefined) {
      try {
        this.#onTaskError(error, task.event);
      } catch (hookError) {
        this.#fail(hookError);
        return;
      }
    } else console.error(`${this.#name}: a task failed on event`, task.event, error);
    const delay = this.#nextRun(task, error);
    if (delay === undefined) return this.#ended(task, false);
    this.#restarts++;
    // Never in this turn: a task that fails at once must not spin the event loop.
    task.timer = this.#timers.setTimeout(() => {
      task.timer = undefined;
      if (!this.#stopped) this.#run(task);
    }, delay);
  }

  /** The wait before `task` runs again, or undefined if it must not. */
  #nextRun(task: Task<T>, error: unknown): number | undefined {
    if (!this.#transient || this.#stopped) return undefined;
    const retry = this.#retry;
    if (retry !== undefined) {
      return task.runs < retry.attempts ? backoffMs(retry, task.runs, Math.random()) : undefined;
    }
    if (this.#intensity.allow()) return 0;
    this.#fail(this.#intensity.error(error));
    return undefined;
  }

  /** A task ended for good (completed, or failed and not run again): its demand goes back. */
  #ended(task: Task<T>, handled: boolean): void {
    task.controller = undefined;
    if (!this.#tasks.delete(task) || this.#stopped) return;
    task.report?.([task.event], handled ? "handled" : "failed");
    const demand = task.demand;
    if (demand !== undefined) {
      demand.pending++;
      if (!this.#inBatch) this.#giveBack(demand);
    }
    this.#checkDrained();
  }

  /** Returns the demand of ended tasks to their producer, by GenStage's rule (src/_demand.ts). */
  #giveBack(demand: Demand<T>): void {
    const count = this.#stopped ? 0 : giveBack(demand.subscription.options, demand.pending);
    if (count === 0) return;
    demand.pending = 0;
    if (this.#demands.get(demand.subscription) === demand) {
      try {
        demand.subscription.ask(count);
      } catch (error) {
        this.#fail(error);
      }
    }
  }

  #checkDrained(): void {
    if (this.#draining && this.#tasks.size === 0) this.#end("normal");
  }

  /**
   * The fate of events whose tasks the stop cuts short: sent again on a
   * `redeliver` subscription when the stop is abnormal (as a consumer stage
   * gives back what it has not handled), given up on after a normal stop.
   */
  #cut(): Fate {
    const reason = this.#reason;
    return reason !== "normal" && reason !== undefined ? "interrupted" : "failed";
  }

  /** Stops with a failure from within: reported if nothing observes it. */
  #fail(reason: unknown): void {
    if (this.#stopped) return;
    this.#internal = true;
    void this.stop(reason);
  }

  #end(reason: unknown): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#reason = reason;
    if (this.#onAbort !== undefined) this.#signal!.removeEventListener("abort", this.#onAbort);
    const tasks = [...this.#tasks];
    this.#tasks.clear();
    for (const task of tasks) {
      if (task.timer !== undefined) this.#timers.clearTimeout(task.timer);
      task.timer = undefined;
    }
    for (const task of tasks) task.controller?.abort(reason);
    // What the tasks still running do from now on is ignored: they were not handled.
    // One report per chunk, the events in the order their tasks started, and
    // the last chunk first: each goes back ahead of what is there, so they go
    // out again in their first order.
    const cut = new Map<(events: T[], fate: Fate) => void, T[]>();
    for (const task of tasks) {
      if (task.report === undefined) continue;
      const events = cut.get(task.report);
      if (events === undefined) cut.set(task.report, [task.event]);
      else events.push(task.event);
    }
    const fate = this.#cut();
    for (const [report, events] of [...cut].reverse()) report(events, fate);
    const terminate = this.#terminate;
    if (terminate === undefined) return this.#settle(reason);
    let result: void | Promise<void>;
    try {
      result = terminate(reason);
    } catch (error) {
      return this.#settle(isNormal(reason) ? this.#terminateFailed(error) : reason);
    }
    Promise.resolve(result).then(
      () => this.#settle(reason),
      (error) => this.#settle(isNormal(reason) ? this.#terminateFailed(error) : reason),
    );
  }

  /** A terminate that failed on a normal end: a failure from within. */
  #terminateFailed(error: unknown): unknown {
    this.#internal = true;
    return isNormal(error)
      ? new Error(`${this.#name} failed: its terminate threw ${v.show(error)}`, { cause: error })
      : error;
  }

  #settle(reason: unknown): void {
    this.#reason = reason;
    if (isNormal(reason)) return this.#resolve();
    this.#reject(reason);
    if (!this.#internal) return;
    if (this.#onError !== undefined) return this.#onError(reason);
    reportUnobserved(this.#name, "failed", reason, () => this.#observed);
  }
}

/** Validates the `retry` option and fills in its defaults. */
function retryOption(action: string, value: unknown): Retry | undefined {
  if (value === undefined) return undefined;
  const o = v.options<RetryOptions>(action, "retry", value);
  const multiplier = o.multiplier ?? 2;
  if (typeof multiplier !== "number") {
    throw new TypeError(v.message(action, "retry.multiplier", "a number", multiplier));
  }
  if (!(multiplier >= 1 && multiplier < Infinity)) {
    throw new RangeError(v.message(action, "retry.multiplier", "a finite number >= 1", multiplier));
  }
  const jitter = o.jitter ?? 1;
  if (typeof jitter !== "number") {
    throw new TypeError(v.message(action, "retry.jitter", "a number", jitter));
  }
  if (!(jitter >= 0 && jitter <= 1)) {
    throw new RangeError(v.message(action, "retry.jitter", "a number in [0, 1]", jitter));
  }
  return {
    attempts: v.integer(action, "retry.attempts", o.attempts ?? 3, 1, Infinity, true),
    initialDelayMs: v.integer(action, "retry.initialDelayMs", o.initialDelayMs ?? 100, 0),
    maxDelayMs: v.integer(action, "retry.maxDelayMs", o.maxDelayMs ?? 10_000, 0, Infinity, true),
    multiplier,
    jitter,
  };
}
