/**
 * The timers that supervisors wait with, injectable for tests.
 *
 * @module
 */

/**
 * The timers a supervisor waits with. Inject fake ones in tests; the default
 * is the global `setTimeout` and `clearTimeout`.
 */
export interface Timers {
  /** Calls `callback` once after `ms` milliseconds; returns a handle for `clearTimeout`. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels the call scheduled with `handle`. */
  clearTimeout(handle: unknown): void;
}
