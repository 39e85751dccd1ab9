// Failures are not silent: what a stage or supervisor that failed from
// within, with nothing observing it, raises.

import * as v from "./_validate.ts";

/** A failure reason in a sentence: an Error's name and message, else the value shown. */
export function describe(reason: unknown): string {
  return reason instanceof Error ? `${reason.name}: ${reason.message}` : v.show(reason);
}

/**
 * After a task (time to read `closed`), raises the failure of `name` as an
 * unhandled rejection unless `observed()` says someone has it in hand: it
 * names the stage and fails a Node, Deno or Bun script as an uncaught error
 * would; `how` says what happened ("failed", "stopped because … failed").
 */
export function reportUnobserved(
  name: string,
  how: string,
  reason: unknown,
  observed: () => boolean,
): void {
  setTimeout(() => {
    if (observed()) return;
    void Promise.reject(
      new Error(
        `${name} ${how}, and nothing observed it (no supervisor, closed handler or onError): ${
          describe(reason)
        }`,
        { cause: reason },
      ),
    );
  }, 0);
}
