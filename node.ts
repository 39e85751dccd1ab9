/**
 * webstage on Node: a web `Worker` over `node:worker_threads`.
 *
 * Node has no global `Worker`. Give {@linkcode NodeWorker} to a
 * `WorkerStage`, `WorkerConsumer` or `WorkerPool` as their `Worker` option;
 * the worker's module is the same as on Deno, Bun and browsers (it calls
 * `serveStage`), because `NodeWorker` gives it the globals of a web worker:
 * `self`, `postMessage`, `addEventListener("message")`, `onmessage` and
 * `close()`.
 *
 * @example A stage whose callback runs in a worker thread
 * ```ts ignore
 * import { Consumer, Producer, WorkerStage } from "@webstage/webstage";
 * import { NodeWorker } from "@webstage/webstage/node"; // npm: "webstage/node"
 *
 * const squares = new WorkerStage<number, number>(new URL("./square_worker.js", import.meta.url), {
 *   Worker: NodeWorker,
 *   subscribeTo: [Producer.from([1, 2, 3])],
 * });
 * const consumer = new Consumer<number>({ subscribeTo: [squares], handleEvents: console.log });
 * await consumer.closed;
 * ```
 *
 * @module
 */

import { type TransferListItem, Worker as Thread } from "node:worker_threads";
import process from "node:process";
import { pathToFileURL } from "node:url";

/** Node's limits on a worker thread's memory, in megabytes (`worker_threads` `resourceLimits`). */
export interface NodeWorkerResourceLimits {
  /** The most memory for recently created objects. */
  readonly maxYoungGenerationSizeMb?: number;
  /** The most memory for the main heap. */
  readonly maxOldGenerationSizeMb?: number;
  /** The size of the memory reserved for generated code. */
  readonly codeRangeSizeMb?: number;
  /** The thread's stack size. */
  readonly stackSizeMb?: number;
}

/** Options of a {@linkcode NodeWorker}: the web `Worker`'s, and a few of Node's. */
export interface NodeWorkerOptions {
  /** The worker's name: `self.name` in the worker, and the thread's name. */
  readonly name?: string;
  /** Only `"module"` is supported (the module is loaded with `import()`); `"classic"` throws. */
  readonly type?: "module" | "classic";
  /** Ignored: there is nothing to fetch. */
  readonly credentials?: string;
  /** Node's limits on the worker's heap and stack. */
  readonly resourceLimits?: NodeWorkerResourceLimits;
  /**
   * Node's command-line options for the worker.
   *
   * @default {process.execArgv}
   */
  readonly execArgv?: readonly string[];
}

// The worker's first script (CommonJS, evaluated): web-worker globals over
// parentPort, then the module. Messages wait in the port until the module
// has been evaluated, as a web worker's wait for its script.
const BOOTSTRAP = `"use strict";
const { parentPort, workerData } = require("node:worker_threads");
const target = new EventTarget();
const handlers = new Map();
const scope = globalThis;
scope.self = scope;
scope.name = workerData.name;
scope.addEventListener = (type, listener, options) => target.addEventListener(type, listener, options);
scope.removeEventListener = (type, listener, options) => target.removeEventListener(type, listener, options);
scope.dispatchEvent = (event) => target.dispatchEvent(event);
scope.postMessage = (message, transfer) => parentPort.postMessage(message, transfer);
scope.close = () => process.exit(0);
for (const type of ["message", "messageerror"]) {
  Object.defineProperty(scope, "on" + type, {
    configurable: true,
    get: () => handlers.get(type) ?? null,
    set: (handler) => {
      const old = handlers.get(type);
      if (old) target.removeEventListener(type, old);
      handlers.delete(type);
      if (typeof handler === "function") {
        handlers.set(type, handler);
        target.addEventListener(type, handler);
      }
    },
  });
}
import(workerData.url).then(() => {
  parentPort.on("message", (data) => target.dispatchEvent(new MessageEvent("message", { data })));
  parentPort.on("messageerror", () => target.dispatchEvent(new Event("messageerror")));
}, (error) => setImmediate(() => { throw error; }));
`;

/**
 * A web `Worker` for Node, built on `node:worker_threads`: it starts the
 * module at `url` in a worker thread, with the globals of a web worker, and
 * reports what Node reports as web events — `message`, `messageerror`, and
 * `error` for an uncaught exception, a module that fails to load, and a
 * thread that exits without being terminated (`process.exit()`, `close()`).
 *
 * `terminate()` stops the thread at once and returns Node's promise of its
 * exit code. Only module workers exist: `type: "classic"` is rejected.
 *
 * @example Echoing a message from a worker thread
 * ```ts
 * import { NodeWorker } from "@webstage/webstage/node";
 * import assert from "node:assert/strict";
 *
 * const url = "data:text/javascript,self.onmessage = (e) => postMessage(e.data * 2);";
 * const worker = new NodeWorker(url);
 * const answer = new Promise((resolve) => worker.addEventListener("message", (e) => resolve((e as MessageEvent).data)));
 * worker.postMessage(21);
 * assert.equal(await answer, 42);
 * await worker.terminate();
 * ```
 */
export class NodeWorker extends EventTarget {
  readonly #thread: Thread;
  #terminated = false;
  #handlers = new Map<string, (event: Event) => void>();

  /**
   * Starts the worker thread.
   *
   * @param url The module's URL: a `URL`, or a string resolved against the
   * current directory (absolute URLs such as `file:` and `data:` are kept).
   * @param options The worker's options.
   * @throws {TypeError} If `url` is not a string or URL, or `type` is not `"module"`.
   */
  constructor(url: string | URL, options: NodeWorkerOptions = {}) {
    super();
    if (typeof url !== "string" && !(url instanceof URL)) {
      throw new TypeError(
        `Cannot construct NodeWorker as url must be a string or a URL: current value is ${
          String(url)
        }`,
      );
    }
    if (options.type !== undefined && options.type !== "module") {
      throw new TypeError(
        `Cannot construct NodeWorker as type must be "module": current value is ${
          JSON.stringify(options.type)
        }`,
      );
    }
    const href = new URL(url, pathToFileURL(`${process.cwd()}/`)).href;
    this.#thread = new Thread(BOOTSTRAP, {
      eval: true,
      name: options.name,
      workerData: { url: href, name: options.name ?? "" },
      resourceLimits: options.resourceLimits,
      execArgv: options.execArgv === undefined ? undefined : [...options.execArgv],
    });
    this.#thread.on("message", (data) => this.dispatchEvent(new MessageEvent("message", { data })));
    this.#thread.on(
      "messageerror",
      (error) => this.dispatchEvent(errorEvent("messageerror", error)),
    );
    this.#thread.on("error", (error) => this.dispatchEvent(errorEvent("error", error)));
    this.#thread.on("exit", (code) => {
      if (this.#terminated) return;
      this.#terminated = true;
      this.dispatchEvent(
        errorEvent("error", new Error(`The worker thread exited with code ${code}`)),
      );
    });
  }

  /**
   * Sends `message` to the worker by structured clone, moving the objects in `transfer`.
   *
   * @param message The value to send.
   * @param transfer Objects to move rather than copy, or `{ transfer }`.
   */
  postMessage(message: unknown, transfer?: Transferable[] | StructuredSerializeOptions): void {
    const list = Array.isArray(transfer) ? transfer : transfer?.transfer;
    this.#thread.postMessage(message, list as readonly TransferListItem[] | undefined);
  }

  /**
   * Stops the worker thread at once.
   *
   * @returns Node's promise of the thread's exit code.
   */
  terminate(): Promise<number> {
    this.#terminated = true;
    return this.#thread.terminate();
  }

  /** A `message` handler, as on a web `Worker`. */
  get onmessage(): ((event: MessageEvent) => void) | null {
    return this.#handlers.get("message") ?? null;
  }
  set onmessage(handler: ((event: MessageEvent) => void) | null) {
    this.#setHandler("message", handler as ((event: Event) => void) | null);
  }

  /** An `error` handler, as on a web `Worker`. */
  get onerror(): ((event: Event) => void) | null {
    return this.#handlers.get("error") ?? null;
  }
  set onerror(handler: ((event: Event) => void) | null) {
    this.#setHandler("error", handler);
  }

  #setHandler(type: string, handler: ((event: Event) => void) | null): void {
    const old = this.#handlers.get(type);
    if (old !== undefined) this.removeEventListener(type, old);
    this.#handlers.delete(type);
    if (typeof handler === "function") {
      this.#handlers.set(type, handler);
      this.addEventListener(type, handler);
    }
  }
}

/** An `error`-like event carrying `error` and `message`, as a web `ErrorEvent` does. */
function errorEvent(type: string, error: unknown): Event {
  const event = new Event(type, { cancelable: true });
  const message = error instanceof Error ? error.message : String(error);
  Object.defineProperties(event, { error: { value: error }, message: { value: message } });
  return event;
}
