// Redis helpers for the broker tests: a client, numbered entries, and the
// group's state as the server sees it.

import { Redis } from "ioredis";

/** A client that retries forever every 50 ms (the tests restart the server). */
export function clientFor(url: string): Redis {
  const redis = new Redis(url, { retryStrategy: () => 50, maxRetriesPerRequest: null });
  redis.on("error", () => {}); // a restarting server: it reconnects
  return redis;
}

/** Appends `count` entries `n=<i>` (i from `from`) to `stream`. */
export async function append(redis: Redis, stream: string, count: number, from = 0): Promise<void> {
  for (let i = from; i < from + count; i += 500) {
    const pipeline = redis.pipeline();
    for (let n = i; n < Math.min(from + count, i + 500); n++) pipeline.xadd(stream, "*", "n", n);
    await pipeline.exec();
  }
}

/** Creates the consumer group `group` at the start of `stream` (and the stream). */
export async function createGroup(redis: Redis, stream: string, group = "workers"): Promise<void> {
  await redis.xgroup("CREATE", stream, group, "0", "MKSTREAM");
}

/** The group's pending count, entries read, lag and consumers (XINFO GROUPS). */
export async function groupInfo(
  redis: Redis,
  stream: string,
  group = "workers",
): Promise<{ pending: number; entriesRead: number; lag: number; consumers: number }> {
  const groups = await redis.call("XINFO", "GROUPS", stream) as unknown[][];
  for (const fields of groups) {
    const info: Record<string, unknown> = {};
    for (let i = 0; i < fields.length; i += 2) info[String(fields[i])] = fields[i + 1];
    if (info.name === group) {
      return {
        pending: Number(info.pending),
        entriesRead: Number(info["entries-read"]),
        lag: Number(info.lag),
        consumers: Number(info.consumers),
      };
    }
  }
  throw new Error(`no group ${group} on ${stream}`);
}
