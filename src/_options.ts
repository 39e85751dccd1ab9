// Normalises and validates the options of stages and subscriptions in one
// place, before any side effect.

import type { CancelMode, SubscribeOptions } from "./subscription.ts";
import type { BufferKeep } from "./_buffer.ts";
import * as v from "./_validate.ts";

export type NormalSubscribeOptions<T> = Readonly<SubscribeOptions<T>> & {
  readonly maxDemand: number;
  readonly minDemand: number;
  readonly cancel: CancelMode;
  readonly redeliver: boolean;
};

const CANCEL_MODES: readonly CancelMode[] = ["permanent", "transient", "temporary"];

/** Validates subscription options and fills in the defaults. */
export function subscribeOptions<T>(action: string, options: unknown): NormalSubscribeOptions<T> {
  const o = v.options<SubscribeOptions<T>>(action, "options", options);
  const maxDemand = v.demand(action, "maxDemand", o.maxDemand ?? 1000);
  const minDemand = v.integer(
    action,
    "minDemand",
    o.minDemand ?? Math.floor(maxDemand / 2),
    0,
    maxDemand - 1,
  );
  const cancel = v.oneOf(action, "cancel", o.cancel ?? "permanent", CANCEL_MODES);
  const redeliver = o.redeliver ?? false;
  if (typeof redeliver !== "boolean") {
    throw new TypeError(v.message(action, "redeliver", "a boolean", redeliver));
  }
  if (o.selector !== undefined) v.callback(action, "selector", o.selector);
  return Object.freeze({ ...o, maxDemand, minDemand, cancel, redeliver });
}

export interface NormalProducerOptions {
  readonly bufferSize: number;
  readonly bufferKeep: BufferKeep;
  readonly demand: "forward" | "accumulate";
}

/** Validates the buffer options of a producing stage. */
export function producerOptions(
  action: string,
  o: { bufferSize?: unknown; bufferKeep?: unknown; demand?: unknown },
  defaultBufferSize: number,
): NormalProducerOptions {
  return {
    bufferSize: v.integer(
      action,
      "bufferSize",
      o.bufferSize ?? defaultBufferSize,
      1,
      Infinity,
      true,
    ),
    bufferKeep: v.oneOf(action, "bufferKeep", o.bufferKeep ?? "last", ["first", "last"] as const),
    demand: v.oneOf(action, "demand", o.demand ?? "forward", ["forward", "accumulate"] as const),
  };
}

/** True for the reasons that end a stage normally: `"normal"`, `"shutdown"` and `undefined`. */
export function isNormal(reason: unknown): boolean {
  return reason === "normal" || reason === "shutdown" || reason === undefined;
}
