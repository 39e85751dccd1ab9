// Waiting for a broker's state, which has no events to await: polling.

/** Waits until `check()` is true, polling every 20 ms; fails after 15 s (under the 20 s test timeout). */
export async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > 15_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
