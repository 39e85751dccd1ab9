// Fairness for the event loop. Stages talk through promises, so a pipeline
// whose callbacks never wait on real I/O (a synchronous producer feeding a
// synchronous consumer, forever) would run on microtasks alone and starve
// timers, I/O and abort signals fired from them. Each subscription's pump
// asks `mustYield()` before reading its next batch; once the current turn of
// the event loop has run for SLICE_MS (or, where the clock stands still
// during a turn, as in workerd, for MAX_BATCHES batches), it waits for the
// next macrotask. The marker timer costs one setTimeout per turn in which
// batches flow; nothing at all when the loop is idle.

/** A turn that moves batches longer than this yields (a browser "long task"). */
const SLICE_MS = 50;
/** The same bound in batches, for clocks that do not advance within a turn. */
const MAX_BATCHES = 100_000;

let started = -1;
let batches = 0;

function endTurn(): void {
  started = -1;
}

/** Whether the caller should `await turnEnd()` before moving another batch. */
export function mustYield(): boolean {
  if (started < 0) {
    started = performance.now();
    batches = 0;
    // Marks the end of this turn. Where a runtime drops the timer (workerd
    // cancels a finished request's timers), the next turn finds an old
    // start, yields once through turnEnd() and starts afresh.
    setTimeout(endTurn, 0);
    return false;
  }
  // The clock costs more than the check (Node 20): read it every 32 batches.
  if ((++batches & 31) !== 0) return false;
  return batches > MAX_BATCHES || performance.now() - started > SLICE_MS;
}

/** Settles at the next macrotask (after the timers and I/O that are due). */
export function turnEnd(): Promise<void> {
  return new Promise<void>((resolve) =>
    void setTimeout(() => {
      endTurn();
      resolve();
    }, 0)
  );
}
