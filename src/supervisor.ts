import type { Timers } from "./timers.ts";
import { ShutdownTimeoutError } from "./errors.ts";
import type { Observable, StageStats } from "./stats.ts";
import { Intensity, restartLimits, timersOption } from "./_intensity.ts";
import { stageName } from "./_names.ts";
import { describe, reportUnobserved } from "./_report.ts";
import { isNormal } from "./_options.ts";
import { ignore } from "./_streams.ts";
import * as v from "./_validate.ts";

/**
 * Anything a {@linkcode Supervisor} can supervise: every stage, a
 * `ConsumerSupervisor`, another `Supervisor`, or an object of your own with
 * the same shape.
 */
export interface Supervisable {
  /** Resolves when it stops normally, rejects with the reason of an abnormal stop. */
  readonly closed: Promise<void>;
  /** Stops now with `reason`; resolves once stopped. */
  stop(reason?: unknown): Promise<void>;
  /** Stops gracefully, finishing the work already accepted (optional). */
  close?(): Promise<void>;
}

/** When a child is restarted: always, only after an abnormal stop, or never. */
export type RestartType = "permanent" | "transient" | "temporary";

/**
 * Which children restart when one of them stops and must be restarted: that
 * child alone (`"one_for_one"`), every child (`"one_for_all"`), or that child
 * and every child started after it (`"rest_for_one"`).
 */
export type SupervisorStrategy = "one_for_one" | "one_for_all" | "rest_for_one";

/** The running children of a supervisor, as a child's `start` sees them. */
export interface SupervisorChildren {
  /**
   * The running instance of the child named `id`, or `undefined` when it is
   * not running (not started yet, being restarted, or ended).
   */
  get<S extends Supervisable = Supervisable>(id: string): S | undefined;
}

/** How to start one child of a {@linkcode Supervisor}. */
export interface ChildSpec {
  /**
   * The name siblings use to find this child with `children.get(id)`; unique.
   *
   * @default {String(index)}
   */
  readonly id?: string;
  /**
   * Creates and returns a started child. It receives the running children,
   * so a consumer can subscribe to the current instance of its producer.
   * Called again for each restart.
   */
  readonly start: (children: SupervisorChildren) => Supervisable;
  /**
   * `"permanent"`: restarted whenever it stops; `"transient"`: restarted
   * only after an abnormal stop; `"temporary"`: never restarted.
   *
   * @default {"permanent"}
   */
  readonly restart?: RestartType;
  /**
   * How long a graceful `close()` of this child may take, in milliseconds,
   * before it is stopped with `"shutdown"`, and how long that stop may take
   * before the supervisor gives up on the child; an integer ≥ 0 or
   * `Infinity`.
   *
   * @default {the supervisor's shutdownMs}
   */
  readonly shutdownMs?: number;
}

/** Options of a {@linkcode Supervisor}. */
export interface SupervisorOptions {
  /** The children, started in this order. */
  readonly children: readonly ChildSpec[];
  /**
   * Which children restart together.
   *
   * @default {"one_for_one"}
   */
  readonly strategy?: SupervisorStrategy;
  /**
   * The most restarts allowed within `maxSeconds`; one more stops every
   * child and the supervisor. An integer ≥ 0.
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
   * How long each child's graceful `close()` may take at shutdown, in
   * milliseconds, before it is stopped with `"shutdown"`, and how long a
   * child stopped with `"shutdown"` may take to stop before the supervisor
   * gives up on it (see {@linkcode ShutdownTimeoutError}); an integer ≥ 0 or
   * `Infinity` (wait for ever).
   *
   * @default {5000}
   */
  readonly shutdownMs?: number;
  /**
   * Aborting it stops the supervisor at once with `signal.reason`, as
   * `stop(signal.reason)` does (the meaning `signal` has on every stage).
   * For a graceful shutdown (on SIGINT, say) call `close()`.
   */
  readonly signal?: AbortSignal;
  /**
   * The name in reports, `stats()` and the topology page.
   *
   * @default {"Supervisor#" + a number}
   */
  readonly name?: string;
  /**
   * Called before each restart with the id of the child that stopped and
   * its reason. Without it, each restart is reported as one `console.warn`
   * line naming the supervisor, the child and the reason.
   */
  readonly onRestart?: (child: string, reason: unknown) => void;
  /**
   * Called with the error when the supervisor gives up (a
   * {@linkcode RestartIntensityError} whose `cause` is the last failure, or
   * a {@linkcode ShutdownTimeoutError}). A supervisor that gives up with
   * nothing observing it (no `onError`, nobody reading `closed`, no parent
   * supervisor) raises the error as an unhandled rejection.
   */
  readonly onError?: (error: unknown) => void;
  /**
   * The clock of the restart window, in milliseconds (inject one in tests).
   *
   * @default {() => performance.now()}
   */
  readonly now?: () => number;
  /**
   * The timers of `shutdownMs` (inject fake ones in tests).
   *
   * @default {the global setTimeout and clearTimeout}
   */
  readonly timers?: Timers;
}

const STRATEGIES: readonly SupervisorStrategy[] = ["one_for_one", "one_for_all", "rest_for_one"];
const RESTARTS: readonly RestartType[] = ["permanent", "transient", "temporary"];

interface Slot {
  readonly id: string;
  readonly index: number;
  readonly start: (children: SupervisorChildren) => Supervisable;
  readonly restart: RestartType;
  readonly shutdownMs: number;
  instance: Supervisable | undefined;
  /** Bumped whenever the supervisor replaces or stops the instance itself: older exits are ignored. */
  generation: number;
  /** The child should be running: false once it ended for good. */
  wanted: boolean;
}

/**
 * Supervises stages the way an OTP supervisor supervises processes: it
 * starts its children in order, watches each child's `closed`, and restarts
 * them by restart type and strategy.
 *
 * - **Restart types:** `"permanent"` children restart after any stop,
 *   `"transient"` ones after an abnormal stop (`closed` rejected), and
 *   `"temporary"` ones never.
 * - **Strategies:** `"one_for_one"` restarts the child alone;
 *   `"one_for_all"` stops every other child (in reverse start order) and
 *   restarts them all in start order; `"rest_for_one"` does the same for the
 *   children started after it. Because each `start` receives the running
 *   children, a restarted consumer subscribes to the current producer, and
 *   with `"rest_for_one"` a restarted producer gets fresh consumers: the
 *   pipeline heals itself.
 * - **Intensity:** more than `maxRestarts` restarts within `maxSeconds` stop
 *   every child (reverse start order, `stop("shutdown")`); `closed` then
 *   rejects with a {@linkcode RestartIntensityError} whose `cause` is the
 *   last failure. A child whose `start` throws during a restart counts as a
 *   failed restart and is tried again, within the same limits.
 * - **Shutdown:** `close()` (and `[Symbol.asyncDispose]`) drains: it closes the children one by one **in start order**,
 *   waiting for each to stop before closing the next, so a producer delivers
 *   its buffer before its consumers are closed and every event already
 *   accepted is handled. A child that has no `close()`, or whose close takes
 *   longer than `shutdownMs`, is stopped with `"shutdown"`. `stop()` is the
 *   immediate shutdown: every child is stopped with `"shutdown"` in reverse
 *   start order, as OTP does.
 * - **A child that will not stop:** a child stopped with `"shutdown"` (at
 *   shutdown, or as a sibling in a restart) has `shutdownMs` to settle its
 *   `closed`. JavaScript cannot kill it, so after that the supervisor gives
 *   up on it: it goes on with the other children, and `closed` rejects with
 *   a {@linkcode ShutdownTimeoutError} naming it (whose `cause` is the
 *   abnormal reason the supervisor stopped with, if any). A sibling that will
 *   not stop during a restart makes the supervisor give up entirely rather
 *   than run two instances of it.
 * - `get(id)` never returns a child that has stopped, even before the
 *   supervisor has handled its exit.
 * - A supervisor whose children have all ended for good (transient children
 *   that stopped normally, temporary children) stops normally.
 *
 * @example A pipeline that heals itself
 * ```ts
 * import { Consumer, Producer, Supervisor } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * let next = 0;
 * const seen: number[] = [];
 * let crashed = false;
 * const supervisor = new Supervisor({
 *   strategy: "rest_for_one",
 *   children: [
 *     {
 *       id: "numbers",
 *       start: () => new Producer<number>({
 *         handleDemand: (demand) => Array.from({ length: demand }, () => next++),
 *       }),
 *     },
 *     {
 *       id: "printer",
 *       start: (children) => new Consumer<number>({
 *         subscribeTo: [[children.get<Producer<number>>("numbers")!, { maxDemand: 2 }]],
 *         handleEvents: (events) => {
 *           if (events.includes(3) && !crashed) {
 *             crashed = true;
 *             throw new Error("crash on 3");
 *           }
 *           seen.push(...events);
 *           if (seen.length >= 6) void supervisor.stop();
 *         },
 *       }),
 *     },
 *   ],
 * });
 * await supervisor.closed;
 * assert.ok(crashed && !seen.includes(3));
 * assert.ok(seen.length >= 6 && seen.at(-1)! > 3); // a new consumer went on after the crash
 * ```
 */
export class Supervisor implements Supervisable {
  readonly #slots: Slot[];
  readonly #byId = new Map<string, Slot>();
  readonly #strategy: SupervisorStrategy;
  readonly #intensity: Intensity;
  readonly #children: SupervisorChildren;
  /** Serialises restarts and graceful shutdown. */
  #ops: Promise<void> = Promise.resolve();
  #state: "running" | "closing" | "stopped" = "running";
  #settled = false;
  readonly #closed: Promise<void>;
  #resolve!: () => void;
  #reject!: (reason: unknown) => void;
  readonly #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;
  readonly #timers: Timers;
  /** Ids of the children the supervisor gave up waiting for. */
  readonly #stuck: string[] = [];
  readonly #name: string;
  readonly #onRestart: ((child: string, reason: unknown) => void) | undefined;
  readonly #onError: ((error: unknown) => void) | undefined;
  /** Restarts so far (of the failed children, not their restarted siblings). */
  #restarts = 0;
  /** It stopped because of its restart intensity. */
  #gaveUp = false;
  /** Why it failed, once it has. */
  #failure: unknown = undefined;
  /** Someone reads `closed` (a parent supervisor, the user). */
  #observed = false;

  /**
   * Validates the options, then starts every child in order.
   *
   * @param options The children and the restart policy.
   * @throws {TypeError | RangeError} If an option is invalid; nothing is started then.
   * @throws {unknown} What a child's `start` threw during the initial start
   * (the children already started are stopped with `"shutdown"`).
   */
  constructor(options: SupervisorOptions) {
    const action = "construct Supervisor";
    const o = v.options<SupervisorOptions>(action, "options", options);
    if (options === undefined) {
      throw new TypeError(v.message(action, "options", "an object", options));
    }
    const specs: unknown = o.children;
    if (!Array.isArray(specs)) {
      throw new TypeError(v.message(action, "children", "an array", specs));
    }
    this.#strategy = v.oneOf(action, "strategy", o.strategy ?? "one_for_one", STRATEGIES);
    const limits = restartLimits(action, o);
    const shutdownMs = v.integer(action, "shutdownMs", o.shutdownMs ?? 5000, 0, Infinity, true);
    this.#signal = v.signal(action, o.signal);
    this.#timers = timersOption(action, o.timers);
    this.#onRestart = v.callback(action, "onRestart", o.onRestart);
    this.#onError = v.callback(action, "onError", o.onError);
    this.#name = stageName(action, "Supervisor", o.name);
    this.#slots = specs.map((spec: unknown, index: number): Slot => {
      const name = `children[${index}]`;
      if (spec === null || typeof spec !== "object") {
        throw new TypeError(v.message(action, name, "an object", spec));
      }
      const s = spec as ChildSpec;
      const id = s.id ?? String(index);
      if (typeof id !== "string") {
        throw new TypeError(v.message(action, `${name}.id`, "a string", id));
      }
      if (this.#byId.has(id)) throw new TypeError(v.message(action, `${name}.id`, "unique", id));
      const slot: Slot = {
        id,
        index,
        start: v.callback(action, `${name}.start`, s.start, false)!,
        restart: v.oneOf(action, `${name}.restart`, s.restart ?? "permanent", RESTARTS),
        shutdownMs: v.integer(
          action,
          `${name}.shutdownMs`,
          s.shutdownMs ?? shutdownMs,
          0,
          Infinity,
          true,
        ),
        instance: undefined,
        generation: 0,
        wanted: true,
      };
      this.#byId.set(id, slot);
      return slot;
    });
    this.#intensity = new Intensity("Supervisor", limits);
    this.#children = { get: (id) => this.get(id) };
    this.#closed = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#closed.then(ignore, ignore);

    for (const slot of this.#slots) {
      try {
        this.#launch(slot);
      } catch (error) {
        this.#state = "stopped";
        this.#settled = true;
        this.#resolve();
        for (let i = slot.index - 1; i >= 0; i--) {
          this.#slots[i].instance?.stop("shutdown").then(ignore, ignore);
        }
        throw error;
      }
    }
    const signal = this.#signal;
    if (signal !== undefined) {
      if (signal.aborted) void this.stop(signal.reason);
      else {
        this.#onAbort = () => void this.stop(signal.reason);
        signal.addEventListener("abort", this.#onAbort, { once: true });
      }
    }
    this.#checkEmpty();
  }

  /**
   * The running instance of the child named `id`, or `undefined` when it is
   * not running (never one whose `closed` has settled).
   *
   * @example Reaching a child
   * ```ts
   * import { Producer, Supervisor } from "@webstage/webstage";
   * import assert from "node:assert/strict";
   *
   * const supervisor = new Supervisor({ children: [{ id: "p", start: () => new Producer() }] });
   * assert.ok(supervisor.get("p") instanceof Producer);
   * assert.equal(supervisor.get("q"), undefined);
   * await supervisor.close();
   * ```
   */
  get<S extends Supervisable = Supervisable>(id: string): S | undefined {
    return this.#byId.get(id)?.instance as S | undefined;
  }

  /**
   * Shuts down gracefully: closes the children one by one in start order,
   * each given `shutdownMs` before it is stopped with `"shutdown"`, then
   * stops normally. Restarts end at once. Resolves once everything stopped,
   * or once the supervisor gave up on a child that would not stop (`closed`
   * then rejects with a {@linkcode ShutdownTimeoutError}).
   */
  close(): Promise<void> {
    if (this.#state === "running") {
      this.#state = "closing";
      this.#detachSignal();
      this.#enqueue(async () => {
        for (const slot of this.#slots) {
          if (this.#state === "stopped") return;
          await this.#closeChild(slot);
        }
        this.#finish("normal");
      });
    }
    return this.#closed.then(ignore, ignore);
  }

  /**
   * Stops now: every child is stopped with `"shutdown"` in reverse start
   * order; `closed` then settles with `reason` (it rejects unless `reason`
   * is `"normal"`, `"shutdown"` or `undefined`). Resolves once every child
   * has stopped, or the supervisor gave up on one after its `shutdownMs`.
   */
  stop(reason: unknown = "normal"): Promise<void> {
    if (this.#state !== "stopped") {
      this.#state = "stopped";
      this.#detachSignal();
      this.#stopAll().then(() => this.#finish(reason), ignore);
    }
    return this.#closed.then(ignore, ignore);
  }

  /**
   * Resolves when the supervisor stops normally (after `close()`, `stop()`,
   * or once every child ended for good); rejects with a
   * {@linkcode RestartIntensityError} when it gave up, with the reason
   * given to `stop`, or with a {@linkcode ShutdownTimeoutError} when a child
   * would not stop.
   */
  get closed(): Promise<void> {
    this.#observed = true;
    return this.#closed;
  }

  /**
   * A snapshot: the supervisor's name, state and restarts, and the
   * `stats()` of each running child that has them (with its id), so that
   * `monitor([supervisor])` watches the whole tree.
   *
   * @example Restarts and children
   * ```ts
   * import { Producer, Supervisor } from "@webstage/webstage";
   * import assert from "node:assert/strict";
   *
   * const supervisor = new Supervisor({
   *   name: "tree",
   *   children: [{ id: "numbers", start: () => new Producer({ name: "numbers" }) }],
   * });
   * const stats = supervisor.stats();
   * assert.equal(stats.restarts, 0);
   * assert.deepEqual(stats.children!.map((c) => [c.id, c.name]), [["numbers", "numbers"]]);
   * await supervisor.close();
   * ```
   */
  stats(): StageStats {
    const children: (StageStats & { readonly id: string })[] = [];
    for (const slot of this.#slots) {
      const instance = slot.instance as (Supervisable & Partial<Observable>) | undefined;
      if (typeof instance?.stats === "function") {
        children.push({ ...instance.stats(), id: slot.id });
      }
    }
    const failed = this.#settled && this.#failure !== undefined;
    return {
      name: this.#name,
      kind: "Supervisor",
      state: this.#settled
        ? (failed ? "failed" : "stopped")
        : this.#state === "running"
        ? "running"
        : "closing",
      received: 0,
      emitted: 0,
      buffered: 0,
      demand: 0,
      unmetDemand: 0,
      subscriptions: { upstream: 0, downstream: 0 },
      upstream: [],
      discarded: 0,
      restarts: this.#restarts,
      children,
      ...(failed ? { failure: describe(this.#failure) } : {}),
    };
  }

  /** The same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---------------------------------------------------------------- internals

  #enqueue(op: () => void | Promise<void>): void {
    this.#ops = this.#ops.then(op).then(ignore, (error) => {
      // A bug in the supervisor itself: do not leave anything running.
      if (this.#state !== "stopped") {
        this.#state = "stopped";
        this.#stopAll().then(() => this.#finish(error), ignore);
      }
    });
  }

  /** Starts `slot`'s child and watches it; throws what `start` threw. */
  #launch(slot: Slot): void {
    const instance = slot.start(this.#children);
    if (!isSupervisable(instance)) {
      throw new TypeError(
        v.message(
          `start child "${slot.id}"`,
          "the result of start",
          "a stage with closed and stop",
          instance,
        ),
      );
    }
    const generation = ++slot.generation;
    slot.instance = instance;
    slot.wanted = true;
    const exited = (reason: unknown) => {
      // At once, not in the queue: get() must never hand out a stopped child.
      if (slot.generation === generation && slot.instance === instance) slot.instance = undefined;
      this.#exited(slot, generation, reason);
    };
    instance.closed.then(() => exited("normal"), exited);
  }

  #exited(slot: Slot, generation: number, reason: unknown): void {
    this.#enqueue(() => {
      if (slot.generation !== generation || this.#state !== "running") return;
      slot.instance = undefined;
      const restart = slot.restart === "permanent" ||
        (slot.restart === "transient" && !isNormal(reason));
      if (!restart) {
        slot.wanted = false;
        this.#checkEmpty();
        return;
      }
      if (!this.#intensity.allow()) return this.#giveUp(reason);
      this.#restarts++;
      this.#reportRestart(slot.id, reason);
      return this.#restart(slot, reason);
    });
  }

  async #restart(failed: Slot, reason: unknown): Promise<void> {
    const group = this.#strategy === "one_for_one"
      ? [failed]
      : this.#slots.slice(this.#strategy === "one_for_all" ? 0 : failed.index);
    // Stop the others that still run, in reverse start order.
    for (let i = group.length - 1; i >= 0; i--) {
      const slot = group[i];
      const instance = slot.instance;
      if (slot === failed || instance === undefined) continue;
      slot.generation++;
      slot.instance = undefined;
      if (slot.restart === "temporary") slot.wanted = false;
      if (!(await this.#stopChild(slot, instance))) {
        // It cannot be killed: restarting it would run two instances. Give up.
        if (this.#state !== "running") return;
        this.#gaveUp = true;
        this.#state = "stopped";
        this.#detachSignal();
        return this.#stopAll().then(() => this.#finish(reason));
      }
      if (this.#state !== "running") return;
    }
    for (const slot of group) {
      if (!slot.wanted || slot.instance !== undefined) continue;
      if (this.#state !== "running") return;
      try {
        this.#launch(slot);
      } catch (error) {
        // A failed restart: try again after a macrotask, within the intensity limits.
        const generation = ++slot.generation;
        setTimeout(() => this.#exited(slot, generation, error), 0);
        return;
      }
    }
  }

  #giveUp(reason: unknown): Promise<void> {
    this.#gaveUp = true;
    this.#state = "stopped";
    this.#detachSignal();
    const error = this.#intensity.error(reason);
    return this.#stopAll().then(() => this.#finish(error));
  }

  /** Stops every running child with "shutdown", in reverse start order. */
  async #stopAll(): Promise<void> {
    for (let i = this.#slots.length - 1; i >= 0; i--) {
      const slot = this.#slots[i];
      const instance = slot.instance;
      if (instance === undefined) continue;
      slot.generation++;
      slot.instance = undefined;
      await this.#stopChild(slot, instance);
    }
  }

  /**
   * Stops `instance` with "shutdown" and waits up to its shutdownMs for it;
   * false (and the child recorded as stuck) if it did not stop by then.
   */
  async #stopChild(slot: Slot, instance: Supervisable): Promise<boolean> {
    void attempt(() => instance.stop("shutdown"));
    if (await this.#within(instance.closed, slot.shutdownMs)) return true;
    this.#stuck.push(slot.id);
    return false;
  }

  /** Closes one child, escalating to stop("shutdown") after its shutdownMs. */
  async #closeChild(slot: Slot): Promise<void> {
    const instance = slot.instance;
    if (instance === undefined) return;
    slot.generation++;
    let stopped = false;
    if (typeof instance.close === "function" && slot.shutdownMs > 0) {
      void attempt(() => instance.close!());
      stopped = await this.#within(instance.closed, slot.shutdownMs);
    }
    if (!stopped) await this.#stopChild(slot, instance);
    if (slot.instance === instance) slot.instance = undefined;
  }

  /** Resolves true once `promise` settles, or false after `ms` milliseconds. */
  #within(promise: Promise<unknown>, ms: number): Promise<boolean> {
    const done = settled(promise).then(() => true);
    if (ms === Infinity) return done;
    return new Promise<boolean>((resolve) => {
      const timers = this.#timers;
      const handle = timers.setTimeout(() => resolve(false), ms);
      done.then(() => {
        timers.clearTimeout(handle);
        resolve(true);
      });
    });
  }

  #checkEmpty(): void {
    if (this.#state === "running" && this.#slots.every((slot) => !slot.wanted)) {
      this.#state = "stopped";
      this.#detachSignal();
      this.#finish("normal");
    }
  }

  #reportRestart(id: string, reason: unknown): void {
    const onRestart = this.#onRestart;
    if (onRestart === undefined) {
      console.warn(`${this.#name} restarts child "${id}", which stopped: ${describe(reason)}`);
      return;
    }
    try {
      onRestart(id, reason);
    } catch (error) {
      console.error(`${this.#name}: its onRestart threw`, error);
    }
  }

  #finish(reason: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    if (this.#stuck.length > 0) {
      reason = new ShutdownTimeoutError(
        "Supervisor",
        this.#stuck,
        isNormal(reason) ? undefined : { cause: reason },
      );
    }
    if (isNormal(reason)) return this.#resolve();
    this.#failure = reason;
    this.#reject(reason);
    // Giving up while running is a failure from within; the end of a
    // close() or stop() (even one a stuck child spoilt) is the caller's.
    if (!this.#gaveUp) return;
    if (this.#onError !== undefined) return this.#onError(reason);
    reportUnobserved(this.#name, "gave up", reason, () => this.#observed);
  }

  #detachSignal(): void {
    if (this.#onAbort !== undefined) {
      this.#signal!.removeEventListener("abort", this.#onAbort);
      this.#onAbort = undefined;
    }
  }
}

function isSupervisable(value: unknown): value is Supervisable {
  if (value === null || typeof value !== "object") return false;
  const s = value as Supervisable;
  return typeof s.stop === "function" &&
    typeof (s.closed as Promise<void> | undefined)?.then === "function";
}

/** Waits for `promise` to settle, whatever the outcome. */
function settled(promise: Promise<unknown> | undefined): Promise<void> {
  return Promise.resolve(promise).then(ignore, ignore);
}

/** Calls `fn` (a child's stop or close) and waits for it, whatever happens: a child's bug is not the supervisor's. */
function attempt(fn: () => Promise<unknown> | undefined): Promise<void> {
  try {
    return settled(fn());
  } catch {
    return Promise.resolve();
  }
}
