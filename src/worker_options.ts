// The options and worker shapes shared by WorkerStage, WorkerConsumer and
// WorkerPool.

/**
 * What webstage needs of a worker: the part of the web `Worker` interface it
 * uses. The platform's `Worker` (Deno, Bun, browsers) and `NodeWorker` (from
 * the package's `/node` entry point) both fit.
 */
export interface WorkerLike {
  /** Sends a message to the worker, moving the objects in `transfer`. */
  postMessage(message: unknown, transfer: Transferable[]): void;
  /** Stops the worker at once. */
  terminate(): void;
  /** Listens for `"message"`, `"messageerror"` and `"error"` events. */
  addEventListener(type: string, listener: (event: Event) => void): void;
  /** Stops listening. */
  removeEventListener(type: string, listener: (event: Event) => void): void;
}

/** A constructor of workers from a module URL, such as the platform's `Worker`. */
export type WorkerConstructor = new (url: string | URL, options: WorkerOptions) => WorkerLike;

/**
 * Options handed to the `Worker` constructor, with `type: "module"` added.
 * Keys other than `name` and `credentials` pass through as they are (for
 * `NodeWorker`: `resourceLimits`, `execArgv`).
 */
export interface WorkerStartOptions {
  /** The worker's name, shown by debuggers. */
  readonly name?: string;
  /** Credentials for fetching the module (browsers). */
  readonly credentials?: RequestCredentials;
  /** Only `"module"`: `serveStage` is imported by the worker's module. */
  readonly type?: "module";
  /** Options of other worker constructors. */
  readonly [option: string]: unknown;
}

/** The options every worker-backed stage shares. */
export interface WorkerCommonOptions<I> {
  /**
   * The worker constructor. On Node, which has no global `Worker`, pass
   * `NodeWorker` from the package's `/node` entry point.
   *
   * @default {globalThis.Worker}
   */
  readonly Worker?: WorkerConstructor;
  /** Options for the worker constructor (`type` is always `"module"`). */
  readonly workerOptions?: WorkerStartOptions;
  /**
   * A value given to the worker's `init(data)` before any batch; it crosses
   * by structured clone.
   */
  readonly data?: unknown;
  /**
   * Returns the objects of a batch to transfer rather than copy
   * (`ArrayBuffer`s, `MessagePort`s…). Transferred objects are unusable on
   * this side afterwards, so a batch given back after a failure (`redeliver`;
   * a `WorkerPool` whose worker failed) comes back with them detached: use
   * it where a failure may lose the batch (in a pool, `maxRestarts: 0`).
   */
  readonly transfer?: (events: I[]) => Transferable[];
}
