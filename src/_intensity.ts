// Restart limits shared by Supervisor and ConsumerSupervisor: OTP's restart
// intensity, the validation of its options, and the timers option.

import type { Timers } from "./timers.ts";
import { RestartIntensityError } from "./errors.ts";
import * as v from "./_validate.ts";

const GLOBAL_TIMERS: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Validates a `timers` option; the global timers when undefined. */
export function timersOption(action: string, value: unknown): Timers {
  if (value === undefined) return GLOBAL_TIMERS;
  const t = value as Timers;
  if (
    value === null || typeof value !== "object" || typeof t.setTimeout !== "function" ||
    typeof t.clearTimeout !== "function"
  ) {
    throw new TypeError(
      v.message(action, "timers", "an object with setTimeout and clearTimeout", value),
    );
  }
  return t;
}

/** The validated restart limits of a supervisor. */
export interface RestartLimits {
  readonly maxRestarts: number;
  readonly maxSeconds: number;
  readonly now: () => number;
}

/** Validates `maxRestarts`, `maxSeconds` and `now`. */
export function restartLimits(
  action: string,
  o: { readonly maxRestarts?: unknown; readonly maxSeconds?: unknown; readonly now?: unknown },
): RestartLimits {
  const maxRestarts = v.integer(action, "maxRestarts", o.maxRestarts ?? 3, 0);
  const maxSeconds = o.maxSeconds ?? 5;
  if (typeof maxSeconds !== "number") {
    throw new TypeError(v.message(action, "maxSeconds", "a number", maxSeconds));
  }
  if (!(maxSeconds >= 0 && maxSeconds < Infinity)) {
    throw new RangeError(v.message(action, "maxSeconds", "a finite number >= 0", maxSeconds));
  }
  const now = v.callback<() => number>(action, "now", o.now) ?? (() => performance.now());
  return { maxRestarts, maxSeconds, now };
}

/** OTP's restart intensity: at most maxRestarts restarts in any window of maxSeconds. */
export class Intensity {
  readonly #who: string;
  readonly #limits: RestartLimits;
  /** Times of the restarts still inside the window, oldest first (at most maxRestarts + 1). */
  readonly #times: number[] = [];

  constructor(who: string, limits: RestartLimits) {
    this.#who = who;
    this.#limits = limits;
  }

  /** Records a restart; false if it is one too many. */
  allow(): boolean {
    const now = this.#limits.now();
    const times = this.#times;
    times.push(now);
    const window = this.#limits.maxSeconds * 1000;
    while (times.length > 0 && now - times[0] > window) times.shift();
    if (times.length > this.#limits.maxRestarts + 1) times.shift();
    return times.length <= this.#limits.maxRestarts;
  }

  /** The error a supervisor gives up with. */
  error(cause: unknown): RestartIntensityError {
    return new RestartIntensityError(this.#who, this.#limits.maxRestarts, this.#limits.maxSeconds, {
      cause,
    });
  }
}
