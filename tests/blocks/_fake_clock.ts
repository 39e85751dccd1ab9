// A clock whose time moves only when a test says so, for the blocks that
// measure time (their `clock` option). Stages still run on the platform's
// microtasks and timers; `advance` lets them settle at each step.

import type { Clock } from "../../mod.ts";
import { settle } from "../_helpers.ts";

interface Timer {
  readonly id: number;
  readonly at: number;
  readonly callback: () => void;
}

export class FakeClock implements Clock {
  #now = 0;
  #ids = 0;
  readonly #timers = new Map<number, Timer>();

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const id = ++this.#ids;
    this.#timers.set(id, { id, at: this.#now + ms, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Timers set and not yet run or cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  /**
   * Moves the time forward by `ms`, running each timer that falls due, in
   * order, at its own time, and letting the stages settle before and after
   * each one.
   */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    for (;;) {
      await settled();
      let next: Timer | undefined;
      for (const timer of this.#timers.values()) {
        if (timer.at <= end && (next === undefined || timer.at < next.at)) next = timer;
      }
      if (next === undefined) break;
      this.#timers.delete(next.id);
      this.#now = Math.max(this.#now, next.at);
      next.callback();
    }
    this.#now = end;
    await settled();
  }
}

/** Lets microtasks and a few macrotasks run: stages hand batches on through both. */
export async function settled(): Promise<void> {
  for (let i = 0; i < 3; i++) await settle();
}
