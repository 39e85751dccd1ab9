import type { NatsConnection } from "./_types.ts";
import * as v from "../_validate.ts";

/** Checks that `value` looks like a NATS connection (publish, subscribe, flush, isClosed). */
export function checkConnection(action: string, value: unknown): NatsConnection {
  const methods = ["publish", "subscribe", "request", "flush", "isClosed"];
  if (
    value === null || typeof value !== "object" ||
    methods.some((name) => typeof (value as Record<string, unknown>)[name] !== "function")
  ) {
    throw new TypeError(v.message(action, "connection", "a NATS connection", value));
  }
  return value as NatsConnection;
}
