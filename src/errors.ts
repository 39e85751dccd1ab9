/**
 * Domain errors: the conditions callers are expected to catch.
 *
 * @module
 */

/**
 * The reason a {@linkcode Supervisor} or a {@linkcode ConsumerSupervisor}
 * gives up: more than `maxRestarts` restarts happened within `maxSeconds`.
 * Its `closed` rejects with this error; `cause` is the failure that asked for
 * the restart too many.
 *
 * @example Catching a supervisor that gave up
 * ```ts
 * import { Producer, RestartIntensityError, Supervisor } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * const supervisor = new Supervisor({
 *   maxRestarts: 0,
 *   children: [{ id: "producer", start: () => new Producer<number>() }],
 * });
 * await supervisor.get("producer")!.stop(new Error("boom"));
 * const error = await supervisor.closed.catch((e) => e);
 * assert.ok(error instanceof RestartIntensityError);
 * assert.equal((error.cause as Error).message, "boom");
 * ```
 */
export class RestartIntensityError extends Error {
  /** The most restarts allowed within the window. */
  readonly maxRestarts: number;
  /** The window, in seconds. */
  readonly maxSeconds: number;

  /**
   * Builds the error for a supervisor of kind `who` that exceeded its limits.
   *
   * @param who The kind of supervisor, for the message.
   * @param maxRestarts The most restarts allowed within the window.
   * @param maxSeconds The window, in seconds.
   * @param options `cause`: the last failure.
   */
  constructor(who: string, maxRestarts: number, maxSeconds: number, options?: ErrorOptions) {
    super(
      `${who} reached its maximum restart intensity: more than ${maxRestarts} restart${
        maxRestarts === 1 ? "" : "s"
      } within ${maxSeconds} second${maxSeconds === 1 ? "" : "s"}`,
      options,
    );
    this.name = "RestartIntensityError";
    this.maxRestarts = maxRestarts;
    this.maxSeconds = maxSeconds;
  }
}

/**
 * The reason a {@linkcode Supervisor}'s `closed` rejects when it gave up on
 * children that would not stop: stopped with `"shutdown"`, their `closed`
 * had not settled `shutdownMs` later. JavaScript cannot kill them, so they
 * may still be running. `cause` is the abnormal reason the supervisor
 * stopped with, if any (the failure behind a restart, a
 * `RestartIntensityError`, the reason given to `stop`).
 *
 * @example A child that never stops
 * ```ts
 * import { ShutdownTimeoutError, Supervisor } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * const stuck = { closed: new Promise<void>(() => {}), stop: () => new Promise<void>(() => {}) };
 * const supervisor = new Supervisor({ shutdownMs: 1, children: [{ id: "stuck", start: () => stuck }] });
 * await supervisor.stop(); // settles once the supervisor gave up on it
 * const error = await supervisor.closed.catch((e) => e);
 * assert.ok(error instanceof ShutdownTimeoutError);
 * assert.deepEqual(error.children, ["stuck"]);
 * ```
 */
export class ShutdownTimeoutError extends Error {
  /** The ids of the children that did not stop. */
  readonly children: readonly string[];

  /**
   * Builds the error for a supervisor of kind `who` that gave up on `children`.
   *
   * @param who The kind of supervisor, for the message.
   * @param children The ids of the children that did not stop.
   * @param options `cause`: the abnormal reason the supervisor stopped with.
   */
  constructor(who: string, children: readonly string[], options?: ErrorOptions) {
    const names = children.map((id) => JSON.stringify(id));
    const list = names.length === 1
      ? `child ${names[0]}`
      : `children ${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
    super(
      `${who} gave up on ${list}: stopped with "shutdown", ${
        names.length === 1 ? "it" : "they"
      } did not stop within shutdownMs`,
      options,
    );
    this.name = "ShutdownTimeoutError";
    this.children = Object.freeze(children.slice());
  }
}

/**
 * The reason a stage that runs in a worker ({@linkcode WorkerStage},
 * {@linkcode WorkerConsumer}, a worker of a {@linkcode WorkerPool}) fails
 * when its worker fails outside a callback: the module could not be loaded
 * or threw while starting, an error escaped the callbacks (an uncaught
 * exception in a timer, say), the worker closed itself or its thread exited.
 * An exception thrown by a callback in the worker is not wrapped: the stage
 * fails with that error, rebuilt on this side.
 *
 * @example Telling a dead worker from a failing callback
 * ```ts
 * import { WorkerError } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * const error = new WorkerError("file:///app/hash.js", "closed itself");
 * assert.equal(error.name, "WorkerError");
 * assert.equal(error.message, "The worker file:///app/hash.js closed itself");
 * assert.equal(error.url, "file:///app/hash.js");
 * ```
 */
export class WorkerError extends Error {
  /** The module URL the worker was started from. */
  readonly url: string;

  /**
   * Builds the error for the worker started from `url`.
   *
   * @param url The worker's module URL.
   * @param what What happened, completing "The worker <url> …".
   * @param options `cause`: the error the worker reported, when there is one.
   */
  constructor(url: string, what: string, options?: ErrorOptions) {
    super(`The worker ${url} ${what}`, options);
    this.name = "WorkerError";
    this.url = url;
  }
}
