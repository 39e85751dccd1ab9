// Names of stages and supervisors: the `name` option, or the kind and a
// number, for reports, stats() and the topology page.

import * as v from "./_validate.ts";

const counters: Record<string, number> = {};

/** Validates the `name` option, or makes the default: the kind and a number (`Consumer#3`). */
export function stageName(action: string, kind: string, name: unknown): string {
  if (name === undefined) {
    counters[kind] = (counters[kind] ?? 0) + 1;
    return `${kind}#${counters[kind]}`;
  }
  if (typeof name !== "string" || name.length === 0) {
    throw new TypeError(v.message(action, "name", "a non-empty string", name));
  }
  return name;
}
