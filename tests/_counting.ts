// Sources that count what is pulled from them, for the fan-out and memory tests.

import { currentStreams, settle } from "./_helpers.ts";

/** A ReadableStream of 0, 1, 2, … (up to `limit`) that counts its pulls. */
export interface CountingSource {
  readonly stream: ReadableStream<number>;
  /** Items pulled so far. */
  readonly pulled: number;
  /** The reasons `cancel` was called with. */
  readonly cancels: unknown[];
}

/**
 * Creates a {@linkcode CountingSource}: highWaterMark 0, so an item is
 * produced only when a reader (here, the library) asks for it. `failAt`
 * errors the stream instead of producing that item.
 */
export function countingSource(limit = Infinity, failAt = Infinity): CountingSource {
  let pulled = 0;
  const cancels: unknown[] = [];
  const stream = new (currentStreams().ReadableStream)<number>({
    pull(controller) {
      if (pulled === failAt) controller.error(new Error(`failed at ${failAt}`));
      else if (pulled >= limit) controller.close();
      else controller.enqueue(pulled++);
    },
    cancel(reason) {
      cancels.push(reason);
    },
  }, { highWaterMark: 0 });
  return {
    stream,
    get pulled() {
      return pulled;
    },
    cancels,
  };
}

/** Reads `count` items (fewer if the stream ends). */
export async function take<T>(reader: ReadableStreamDefaultReader<T>, count: number): Promise<T[]> {
  const out: T[] = [];
  while (out.length < count) {
    const { done, value } = await reader.read();
    if (done) break;
    out.push(value);
  }
  return out;
}

/** Reads everything through a fresh reader. */
export async function drain<T>(stream: ReadableStream<T>): Promise<T[]> {
  return await take(stream.getReader(), Infinity);
}

/** What {@linkcode readUntilStalled} read, and the read left waiting. */
export interface Stalled<T> {
  readonly values: T[];
  /** The unanswered read: it takes the next item, so await it before reading on. */
  readonly pending: Promise<ReadableStreamReadResult<T>> | undefined;
}

/**
 * Reads until a read stays unanswered for two macrotasks (webstage's flow is
 * driven by microtasks only, so nothing more will come without a new read
 * elsewhere), or the stream ends.
 */
export async function readUntilStalled<T>(
  reader: ReadableStreamDefaultReader<T>,
): Promise<Stalled<T>> {
  const values: T[] = [];
  for (;;) {
    const next = reader.read();
    const result = await Promise.race([next, settle().then(settle).then(() => null)]);
    if (result === null) return { values, pending: next };
    if (result.done) return { values, pending: undefined };
    values.push(result.value);
  }
}
