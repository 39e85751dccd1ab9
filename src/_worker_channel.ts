// The stage's side of one worker: starts it, waits for `serveStage` to say
// it listens, sends batches and matches the answers, and turns every way a
// worker can die into one failure. Web-platform only: the worker is a
// `Worker` (or anything shaped like one, such as `NodeWorker`).

import {
  decodeError,
  type FromWorker,
  isProtocolMessage,
  type ToWorker,
} from "./_worker_protocol.ts";
import { WorkerError } from "./errors.ts";
import type {
  WorkerCommonOptions,
  WorkerConstructor,
  WorkerLike,
  WorkerStartOptions,
} from "./worker_options.ts";
import * as v from "./_validate.ts";

/** {@linkcode WorkerCommonOptions}, validated. */
export interface WorkerConfig {
  readonly Worker: WorkerConstructor;
  readonly url: string | URL;
  readonly options: WorkerOptions;
  readonly data: unknown;
  readonly transfer: ((events: unknown[]) => Transferable[]) | undefined;
}

/** Validates the options shared by every worker-backed stage; starts nothing. */
export function workerConfig(action: string, url: unknown, options: unknown): WorkerConfig {
  const o = v.options<WorkerCommonOptions<unknown>>(action, "options", options);
  if (typeof url !== "string" && !(url instanceof URL)) {
    throw new TypeError(v.message(action, "url", "a string or a URL", url));
  }
  const Worker = o.Worker ?? (globalThis as { Worker?: WorkerConstructor }).Worker;
  if (Worker === undefined) {
    throw new TypeError(
      v.message(
        action,
        "Worker",
        "a Worker constructor, and this runtime has no global Worker (on Node pass " +
          'NodeWorker from "@webstage/webstage/node"; workerd has no workers)',
        Worker,
      ),
    );
  }
  if (typeof Worker !== "function") {
    throw new TypeError(v.message(action, "Worker", "a Worker constructor", Worker));
  }
  const start = v.options<WorkerStartOptions>(action, "workerOptions", o.workerOptions);
  if (start.type !== undefined && start.type !== "module") {
    throw new TypeError(v.message(action, "workerOptions.type", '"module"', start.type));
  }
  const transfer = v.callback<(events: unknown[]) => Transferable[]>(
    action,
    "transfer",
    o.transfer,
  );
  return {
    Worker,
    url,
    options: { ...start, type: "module" } as WorkerOptions,
    data: o.data,
    transfer,
  };
}

interface Pending {
  resolve(events: unknown[]): void;
  reject(reason: unknown): void;
}

/** `close` is Bun's event for a worker that exited (`process.exit()` in it). */
const EVENT_TYPES = ["message", "messageerror", "error", "close"] as const;
const NO_TRANSFER: Transferable[] = [];

/** One worker and the batches in flight to it. */
export class WorkerChannel {
  readonly url: string;
  readonly #config: WorkerConfig;
  #worker: WorkerLike | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  /** Messages waiting for the worker's "ready"; null once it has come. */
  #outbox: Array<readonly [ToWorker, Transferable[]]> | null = [];
  #failure: { readonly error: unknown } | undefined;
  #closed = false;
  /** Called once, when the worker fails (not when it is terminated). */
  onFailure: ((error: unknown) => void) | undefined;
  readonly #listener = (event: Event): void => this.#onEvent(event);

  /** A channel to a worker not started yet: batches wait for {@linkcode start}. */
  constructor(config: WorkerConfig) {
    this.url = String(config.url);
    this.#config = config;
    this.#outbox!.push([{ webstage: "init", data: config.data }, NO_TRANSFER]);
  }

  /**
   * Starts the worker (once; not after `terminate`).
   *
   * @throws What the `Worker` constructor throws (a malformed URL, say).
   */
  start(): void {
    if (this.#worker !== undefined || this.#closed) return;
    const config = this.#config;
    const worker = new config.Worker(config.url, config.options);
    this.#worker = worker;
    for (const type of EVENT_TYPES) worker.addEventListener(type, this.#listener);
  }

  /** Whether the worker has failed or been terminated. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends a batch and resolves with the worker's results, or rejects with
   * what its callback threw (or the worker's failure).
   *
   * @throws A `DataCloneError` if the batch cannot be cloned (once the worker is ready).
   */
  run(events: unknown[], transfer: Transferable[] = NO_TRANSFER): Promise<unknown[]> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure.error);
    const id = this.#nextId++;
    const message: ToWorker = { webstage: "run", id, events };
    if (this.#outbox === null) this.#worker!.postMessage(message, transfer);
    else this.#outbox.push([message, transfer]);
    return new Promise<unknown[]>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
    });
  }

  /** Terminates the worker; batches in flight reject. Idempotent. */
  terminate(): void {
    if (this.#closed) return;
    this.#close(new WorkerError(this.url, "was terminated"));
  }

  #onEvent(event: Event): void {
    if (this.#closed) return;
    if (event.type === "message") {
      const data = (event as MessageEvent).data;
      if (isProtocolMessage(data)) this.#onMessage(data as FromWorker);
    } else if (event.type === "messageerror") {
      this.#fail(new WorkerError(this.url, "sent a message that could not be deserialized"));
    } else if (event.type === "close") {
      const code = (event as CloseEvent).code;
      this.#fail(
        new WorkerError(this.url, `exited${code === undefined ? "" : ` with code ${code}`}`),
      );
    } else {
      // Unhandled, an error event reaches the parent's global scope (Deno
      // then exits): it is this stage's failure, reported through it.
      event.preventDefault();
      this.#fail(errorOf(this.url, event));
    }
  }

  #onMessage(message: FromWorker): void {
    switch (message.webstage) {
      case "ready":
        return this.#flush();
      case "done":
        return this.#settle(message.id)?.resolve(message.events);
      case "fail": {
        const error = decodeError(message.error);
        if (message.id === 0) return this.#fail(error);
        return this.#settle(message.id)?.reject(error);
      }
      case "closed":
        return this.#fail(new WorkerError(this.url, "closed itself"));
    }
  }

  #flush(): void {
    const outbox = this.#outbox;
    if (outbox === null) return;
    this.#outbox = null;
    for (const [message, transfer] of outbox) {
      if (this.#closed) return;
      try {
        this.#worker!.postMessage(message, transfer);
      } catch (error) {
        if (message.webstage === "init") this.#fail(error);
        else this.#settle(message.id)?.reject(error);
      }
    }
  }

  #settle(id: number): Pending | undefined {
    const pending = this.#pending.get(id);
    this.#pending.delete(id);
    return pending;
  }

  #fail(error: unknown): void {
    if (this.#closed) return;
    this.#close(error);
    this.onFailure?.(error);
  }

  #close(error: unknown): void {
    this.#closed = true;
    this.#failure = { error };
    this.#outbox = null;
    const worker = this.#worker;
    if (worker !== undefined) {
      for (const type of EVENT_TYPES) worker.removeEventListener(type, this.#listener);
      worker.terminate();
    }
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(error);
  }
}

/** The failure an `error` event on a worker stands for. */
function errorOf(url: string, event: Event): WorkerError {
  const { message, error } = event as ErrorEvent;
  const options = error === undefined || error === null ? undefined : { cause: error };
  if (typeof message === "string" && message !== "") {
    return new WorkerError(url, `failed: ${message}`, options);
  }
  if (error instanceof Error) return new WorkerError(url, `failed: ${error.message}`, options);
  return new WorkerError(url, "failed to load or run its module", options);
}
