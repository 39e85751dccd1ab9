// Where the example tests can run. They drive real runtimes (Deno, Bun,
// workerd, Chromium) as child processes, so they need Node's process and
// file APIs and run on Node only (Node 24 strips the types of these files).

declare const Deno: unknown;
declare const Bun: unknown;

/** Whether this is Node itself (not Deno or Bun with their Node compatibility). */
export const isNode: boolean = typeof Deno === "undefined" && typeof Bun === "undefined" &&
  typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node ===
    "string";

/** `false` on Node, else the reason the test is skipped, for `{ skip }`. */
export function nodeOnlyReason(what: string): string | false {
  return isNode ? false : `Node only: this test ${what}`;
}
