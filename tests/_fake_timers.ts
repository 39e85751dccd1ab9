// Fake timers for the `timers` option of Supervisor and ConsumerSupervisor:
// time moves only when the test calls `tick`. Works on every lane (the
// Chromium and workerd shims have no mock.timers). Web-platform only.

import type { Timers } from "../mod.ts";

interface Entry {
  readonly id: number;
  readonly at: number;
  readonly callback: () => void;
}

/** Timers whose clock moves only by `tick`. */
export class FakeTimers implements Timers {
  now = 0;
  /** The `ms` of every setTimeout call, in order. */
  readonly delays: number[] = [];
  #next = 1;
  #entries: Entry[] = [];

  setTimeout(callback: () => void, ms: number): unknown {
    this.delays.push(ms);
    // As in Node, a wait is at least 1 ms: a chain of 0 ms timers moves the clock.
    const entry = { id: this.#next++, at: this.now + Math.max(1, ms), callback };
    this.#entries.push(entry);
    return entry.id;
  }

  clearTimeout(handle: unknown): void {
    this.#entries = this.#entries.filter((entry) => entry.id !== handle);
  }

  /** Timers scheduled and not yet fired or cleared. */
  get pending(): number {
    return this.#entries.length;
  }

  /**
   * Moves the clock `ms` forward, firing every timer due on the way in time
   * order, and lets the microtasks each one queues run before the next.
   */
  async tick(ms: number): Promise<void> {
    const end = this.now + ms;
    for (;;) {
      await drainMicrotasks();
      const due = this.#entries.filter((entry) => entry.at <= end)
        .sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (due === undefined) break;
      this.#entries = this.#entries.filter((entry) => entry !== due);
      this.now = due.at;
      due.callback();
    }
    this.now = end;
    await drainMicrotasks();
  }
}

/** Lets queued microtasks (and the ones they queue, a few levels deep) run. */
async function drainMicrotasks(): Promise<void> {
  for (let i = 0; i < 50; i++) await Promise.resolve();
}
