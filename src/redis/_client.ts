import * as v from "../_validate.ts";

/**
 * What the Redis producer and sink need from a client: the shape of an
 * `ioredis` client (`new Redis(url)`), so any version of it fits.
 */
export interface RedisClient {
  /** Sends one command and resolves with its reply. */
  call(command: string, ...args: (string | number)[]): Promise<unknown>;
  /** A new connection with the same options. */
  duplicate(): RedisClient;
  /** Closes the connection after the replies it waits for. */
  quit(): Promise<unknown>;
  /** Closes the connection at once. */
  disconnect(): void;
  /** Listens to connection events (`"error"`, `"ready"`). */
  // deno-lint-ignore no-explicit-any
  on(event: string, listener: (...args: any[]) => void): unknown;
}

/** Checks that `value` looks like a Redis client (call, duplicate, quit, disconnect, on). */
export function checkClient(action: string, value: unknown): RedisClient {
  const methods = ["call", "duplicate", "quit", "disconnect", "on"];
  if (
    value === null || typeof value !== "object" ||
    methods.some((name) => typeof (value as Record<string, unknown>)[name] !== "function")
  ) {
    throw new TypeError(v.message(action, "redis", "a Redis client (ioredis)", value));
  }
  return value as RedisClient;
}
