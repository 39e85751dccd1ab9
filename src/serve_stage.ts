import type { Events } from "./producer.ts";
import {
  encodeError,
  type FromWorker,
  isProtocolMessage,
  type ToWorker,
} from "./_worker_protocol.ts";
import * as v from "./_validate.ts";

/** The callbacks a worker module serves with {@linkcode serveStage}. */
export interface ServeStageOptions<I, O> {
  /**
   * Handles a batch sent by the stage and returns its results (for a
   * {@linkcode WorkerConsumer}, return nothing). May be async: batches are
   * handled one at a time, in the order they were sent. A throw or rejection
   * fails the stage with that error.
   */
  readonly handleEvents: (events: I[]) => Events<O> | Promise<Events<O>>;
  /**
   * Runs once, before the first batch, with the stage's `data` option. A
   * throw or rejection fails the stage.
   */
  readonly init?: (data: unknown) => void | Promise<void>;
  /**
   * Returns the objects of a batch's results to transfer rather than copy
   * (`ArrayBuffer`s…).
   */
  readonly transfer?: (results: O[]) => Transferable[];
}

/** The globals of a worker that serveStage uses. */
interface WorkerScope {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: "message", listener: (event: MessageEvent) => void): void;
  close?: () => void;
}

let served = false;

/**
 * Serves a stage's callbacks in a worker: call it once, in the module that a
 * {@linkcode WorkerStage}, {@linkcode WorkerConsumer} or
 * {@linkcode WorkerPool} starts. Batches arrive by structured clone (or
 * transfer), are handled one at a time in the order they were sent, and
 * their results go back the same way; the stage on the other side does the
 * demand, the buffering and the faults.
 *
 * The worker says it is ready only when this is called, so a module may
 * prepare (even with top-level `await`) before calling it. If the worker
 * closes itself (`close()`), the stage fails with a `WorkerError`.
 *
 * @param options The callbacks to run in this worker.
 * @throws {TypeError} If an option is invalid, if this is not a worker (as
 * far as the runtime lets it tell: Bun's main thread has a worker's
 * globals), or if this worker already serves a stage.
 *
 * @example The worker module of a stage that squares numbers
 * ```ts ignore
 * // square_worker.ts
 * import { serveStage } from "@webstage/webstage";
 *
 * serveStage<number, number>({
 *   handleEvents: (events) => events.map((n) => n * n),
 * });
 * ```
 *
 * @example Outside a worker it throws
 * ```ts
 * import { serveStage } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => serveStage({ handleEvents: (events) => events }), TypeError);
 * ```
 */
export function serveStage<I, O>(options: ServeStageOptions<I, O>): void {
  const action = "serve a stage";
  const o = v.options<ServeStageOptions<I, O>>(action, "options", options);
  if (options === undefined) {
    throw new TypeError(v.message(action, "options", "an object", options));
  }
  const handleEvents = v.callback<ServeStageOptions<I, O>["handleEvents"]>(
    action,
    "handleEvents",
    o.handleEvents,
    false,
  )!;
  const init = v.callback<(data: unknown) => void | Promise<void>>(action, "init", o.init);
  const transfer = v.callback<(results: O[]) => Transferable[]>(action, "transfer", o.transfer);
  const scope = globalThis as unknown as WorkerScope;
  if (
    typeof scope.postMessage !== "function" || typeof scope.addEventListener !== "function" ||
    "document" in globalThis
  ) {
    throw new TypeError(
      `Cannot ${action} as this is not a worker: call serveStage in the module that a WorkerStage, ` +
        "WorkerConsumer or WorkerPool starts",
    );
  }
  if (served) throw new TypeError(`Cannot ${action} as this worker already serves one`);
  served = true;

  const post = (message: FromWorker, list?: Transferable[]): void => {
    scope.postMessage(message, list);
  };
  let broken = false;
  const handle = async (message: ToWorker): Promise<void> => {
    if (message.webstage === "init") {
      try {
        await init?.(message.data);
      } catch (error) {
        broken = true;
        post({ webstage: "fail", id: 0, error: encodeError(error) });
      }
      return;
    }
    if (broken) return;
    try {
      const results = toArray<O>(await handleEvents(message.events as I[]));
      post({ webstage: "done", id: message.id, events: results }, transfer?.(results));
    } catch (error) {
      post({ webstage: "fail", id: message.id, error: encodeError(error) });
    }
  };
  // One batch at a time, in order, as a stage's callbacks run.
  let queue: Promise<void> = Promise.resolve();
  scope.addEventListener("message", (event) => {
    const message = event.data;
    if (!isProtocolMessage(message)) return;
    queue = queue.then(() => handle(message as ToWorker));
  });
  const close = scope.close;
  if (typeof close === "function") {
    scope.close = () => {
      post({ webstage: "closed" });
      close.call(scope);
    };
  }
  post({ webstage: "ready" });
}

function toArray<O>(events: Events<O>): O[] {
  if (events === undefined || events === null) return [];
  if (Array.isArray(events)) return events;
  if (typeof (events as Iterable<O>)[Symbol.iterator] !== "function") {
    throw new TypeError(
      v.message("handle events", "handleEvents's result", "an iterable or nothing", events),
    );
  }
  return Array.from(events);
}
