// Real workers for the tests, and a census of what crosses to them.
//
// `BaseWorker` is the platform's Worker (Deno, Bun, Chromium) or NodeWorker
// (Node, which has none); undefined on workerd, which has no workers.
// A `Census` gives a subclass of it that counts workers started and
// terminated, listeners added and removed, and the events of every batch in
// flight: what the library does to real workers, observed from outside.

import type { WorkerConstructor } from "../../mod.ts";

declare const Deno: { readTextFileSync(path: string): string } | undefined;
declare const Bun: unknown;

/** `.ts` when the tests run from source, `.js` when compiled (Node 20, Chromium). */
const EXT = (import.meta.url ?? "").endsWith(".ts") ? ".ts" : ".js"; // workerd's bundle has no URL

/** Whether this is Node itself (not Deno or Bun with their Node compatibility). */
export const isNode: boolean = typeof Deno === "undefined" && typeof Bun === "undefined" &&
  typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node ===
    "string";

async function findWorker(): Promise<WorkerConstructor | undefined> {
  const global = (globalThis as { Worker?: WorkerConstructor }).Worker;
  if (global !== undefined) return global;
  if (!isNode) return undefined;
  // Hidden from bundlers and from miniflare, which reject a computed import:
  // this line runs on Node only.
  const load = new Function("specifier", "return import(specifier)") as (
    specifier: string,
  ) => Promise<{ NodeWorker: WorkerConstructor }>;
  return (await load(new URL(`../../node${EXT}`, import.meta.url).href)).NodeWorker;
}

/** Whether this is Bun. */
export const isBun: boolean = typeof Bun !== "undefined";

/** The worker class of this runtime, or undefined where there is none (workerd). */
export const BaseWorker: WorkerConstructor | undefined = await findWorker();

/** `false` where workers exist, else why the tests that need one cannot run, for `{ skip }`. */
export const noWorkers: string | false = BaseWorker === undefined
  ? "this runtime has no Worker (workerd); the clear-error test covers it"
  : false;

/** The URL of a worker module in tests/workers/_fixtures/. */
export function fixture(name: string): URL {
  return new URL(`./_fixtures/${name}${EXT}`, import.meta.url);
}

interface RunMessage {
  webstage: "run";
  id: number;
  events: unknown[];
}

/** Every worker any census made, so that a failing test cannot leave one running. */
const made = new Set<{ terminate(): void }>();

/** Terminates the workers a failed test left running; for `afterEach`. */
export function terminateLeftovers(): void {
  for (const worker of made) worker.terminate();
  made.clear();
}

/** Counts what the library does with the workers made by {@linkcode Census.Worker}. */
export class Census {
  started = 0;
  terminated = 0;
  listeners = 0;
  batches = 0;
  eventsSent = 0;
  answers = 0;
  eventsAnswered = 0;
  inFlight = 0;
  maxInFlight = 0;
  /** The largest batch sent. */
  maxBatch = 0;
  /** The most events in flight to any one worker at once. */
  maxInFlightPerWorker = 0;
  /** Workers started with these indexes (0 = the first) are sent `{ test: "arm" }`. */
  readonly armed: Set<number>;
  readonly Worker: WorkerConstructor;
  readonly #changed = new Set<() => void>();

  constructor(armed: Iterable<number> = []) {
    this.armed = new Set(armed);
    if (BaseWorker === undefined) throw new TypeError("no Worker in this runtime");
    // deno-lint-ignore no-this-alias
    const census = this;
    const Base = BaseWorker as unknown as new (url: string | URL, options: WorkerOptions) => {
      postMessage(message: unknown, transfer: Transferable[]): void;
      terminate(): void;
      addEventListener(type: string, listener: (event: Event) => void): void;
      removeEventListener(type: string, listener: (event: Event) => void): void;
    };
    this.Worker = class CountedWorker extends Base {
      readonly #sizes = new Map<number, number>();
      #inFlight = 0;
      #terminated = false;

      constructor(url: string | URL, options: WorkerOptions) {
        super(url, options);
        const index = census.started++;
        made.add(this);
        super.addEventListener("message", (event) => this.#answered((event as MessageEvent).data));
        if (census.armed.has(index)) super.postMessage({ test: "arm" }, []);
        census.#notify();
      }

      override postMessage(message: unknown, transfer: Transferable[]): void {
        super.postMessage(message, transfer);
        const run = message as RunMessage;
        if (run?.webstage !== "run") return;
        census.batches++;
        census.eventsSent += run.events.length;
        census.maxBatch = Math.max(census.maxBatch, run.events.length);
        this.#sizes.set(run.id, run.events.length);
        this.#inFlight += run.events.length;
        census.inFlight += run.events.length;
        census.maxInFlight = Math.max(census.maxInFlight, census.inFlight);
        census.maxInFlightPerWorker = Math.max(census.maxInFlightPerWorker, this.#inFlight);
        census.#notify();
      }

      override terminate(): void {
        made.delete(this);
        if (!this.#terminated) {
          this.#terminated = true;
          census.terminated++;
          for (const size of this.#sizes.values()) census.inFlight -= size;
          this.#sizes.clear();
        }
        super.terminate();
        census.#notify();
      }

      override addEventListener(type: string, listener: (event: Event) => void): void {
        census.listeners++;
        super.addEventListener(type, listener);
      }

      override removeEventListener(type: string, listener: (event: Event) => void): void {
        census.listeners--;
        super.removeEventListener(type, listener);
      }

      #answered(data: unknown): void {
        const answer = data as { webstage?: string; id?: number };
        if (answer?.webstage !== "done" && answer?.webstage !== "fail") return;
        const size = this.#sizes.get(answer.id!);
        if (size === undefined) return;
        this.#sizes.delete(answer.id!);
        this.#inFlight -= size;
        census.inFlight -= size;
        census.answers++;
        census.eventsAnswered += size;
        census.#notify();
      }
    } as unknown as WorkerConstructor;
  }

  /** Workers started and not terminated. */
  get live(): number {
    return this.started - this.terminated;
  }

  /** Resolves once `condition()` holds, checked after every change the census sees. */
  until(condition: () => boolean): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (!condition()) return;
        this.#changed.delete(check);
        resolve();
      };
      this.#changed.add(check);
    });
  }

  #notify(): void {
    for (const check of [...this.#changed]) check();
  }
}

/**
 * The threads of this process, where the runtime can read /proc (Node, Deno
 * and Bun on Linux): each live worker is a thread. Undefined elsewhere.
 */
export function threadCount(): number | undefined {
  let text: string | undefined;
  try {
    const process = (globalThis as {
      process?: {
        getBuiltinModule?(name: "node:fs"): {
          readFileSync(path: string, encoding: string): string;
        };
      };
    }).process;
    if (typeof Deno !== "undefined") text = Deno.readTextFileSync("/proc/self/status");
    else if (process?.getBuiltinModule !== undefined) {
      text = process.getBuiltinModule("node:fs").readFileSync("/proc/self/status", "utf8");
    }
  } catch {
    return undefined;
  }
  const match = text?.match(/^Threads:\s+(\d+)$/m);
  return match === null || match === undefined ? undefined : Number(match[1]);
}

/**
 * The other end of the fixture's `gateAt`: `reached` resolves once the gated
 * batch is waiting in its worker, `open()` lets it go on.
 */
export class Gate {
  readonly name = `webstage-gate-${Math.random().toString(36).slice(2)}`;
  readonly reached: Promise<void>;
  readonly #channel = new BroadcastChannel(this.name);

  constructor() {
    this.reached = new Promise((resolve) => {
      this.#channel.onmessage = () => resolve();
    });
  }

  /** Lets the gated batch go on, and closes this end. */
  open(): void {
    this.#channel.postMessage("go");
    // Closed a turn later: Node drops a message whose channel closes at once.
    setTimeout(() => this.#channel.close(), 0);
  }

  /** Closes this end without opening the gate. */
  close(): void {
    this.#channel.close();
  }
}
