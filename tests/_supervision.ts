// Helpers for the supervision tests: a scriptable stage, a start tracker and
// a seeded random number generator. Web-platform only.

import type { Supervisable, SupervisorChildren } from "../mod.ts";
import { deferred } from "./_helpers.ts";

function ignore(): void {}

/**
 * A stage the test drives by hand: `crash`, `finish`, and a `close` that
 * either finishes at once or hangs until stopped. Every call is logged.
 */
export class FakeStage implements Supervisable {
  readonly id: string;
  readonly log: string[];
  readonly #closed = deferred<void>();
  readonly closed: Promise<void> = this.#closed.promise;
  hangOnClose = false;

  constructor(id: string, log: string[]) {
    this.id = id;
    this.log = log;
    this.closed.then(ignore, ignore);
  }

  stop(reason: unknown = "normal"): Promise<void> {
    this.log.push(`stop ${this.id} ${String(reason)}`);
    if (reason === "normal" || reason === "shutdown" || reason === undefined) {
      this.#closed.resolve();
    } else this.#closed.reject(reason);
    return this.closed.then(ignore, ignore);
  }

  close(): Promise<void> {
    this.log.push(`close ${this.id}`);
    if (!this.hangOnClose) this.#closed.resolve();
    return this.closed.then(ignore, ignore);
  }

  /** Stops abnormally. */
  crash(error: unknown): void {
    this.#closed.reject(error);
  }

  /** Stops normally. */
  finish(): void {
    this.#closed.resolve();
  }
}

/** Records every start of every child and lets a test wait for the next one. */
export class Starts {
  readonly log: string[] = [];
  readonly #instances = new Map<string, FakeStage[]>();
  readonly #waiters = new Map<string, Array<(stage: FakeStage) => void>>();

  /** A `start` function for the child `id` that makes a FakeStage; `seen` records the siblings it saw. */
  start(
    id: string,
    seen?: (children: SupervisorChildren) => void,
  ): (children: SupervisorChildren) => FakeStage {
    return (children) => {
      seen?.(children);
      const stage = new FakeStage(id, this.log);
      this.log.push(`start ${id}`);
      const list = this.#instances.get(id) ?? [];
      list.push(stage);
      this.#instances.set(id, list);
      const waiters = this.#waiters.get(id) ?? [];
      this.#waiters.delete(id);
      for (const waiter of waiters) waiter(stage);
      return stage;
    };
  }

  /** Every instance of `id` started so far. */
  of(id: string): FakeStage[] {
    return this.#instances.get(id) ?? [];
  }

  /** The latest instance of `id`. */
  last(id: string): FakeStage {
    const list = this.of(id);
    if (list.length === 0) throw new Error(`no instance of ${id}`);
    return list[list.length - 1];
  }

  /** Resolves with the next instance of `id` to start. */
  next(id: string): Promise<FakeStage> {
    const waiter = deferred<FakeStage>();
    const list = this.#waiters.get(id) ?? [];
    list.push(waiter.resolve);
    this.#waiters.set(id, list);
    return waiter.promise;
  }
}

/** A deterministic pseudo-random generator (mulberry32) returning numbers in [0, 1). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
