// Helpers shared by the tests. Web-platform only: the suite also runs in
// headless Chromium and workerd.

import { type StreamClasses, useStreams } from "../mod.ts";

/** A promise with its resolve and reject functions exposed. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

/** Creates a {@linkcode Deferred}. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets queued microtasks and one macrotask run (no wall-clock waiting). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Reads a stream to its end through a reader, returning every chunk. */
export async function readAll<T>(stream: ReadableStream<T>): Promise<T[]> {
  const reader = stream.getReader();
  const chunks: T[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return chunks;
    chunks.push(value);
  }
}

/** The integers `from..to - 1`. */
export function range(from: number, to: number): number[] {
  const result: number[] = [];
  for (let i = from; i < to; i++) result.push(i);
  return result;
}

/**
 * The stream classes webstage builds its streams from now (the polyfill's on
 * the polyfill lane): a test's own streams must be of the same kind to be
 * piped into a stage's.
 */
export function currentStreams(): StreamClasses {
  const current = useStreams({ ReadableStream, WritableStream, TransformStream });
  useStreams(current);
  return current;
}

/**
 * True in workerd, whose pipeTo resolves (instead of rejecting) when its
 * destination is errored by its controller, and reports the promise of
 * pipeThrough's inner pipe as an unhandled rejection (both seen with the
 * workerd of miniflare 4.20260426, also with native TransformStreams).
 */
export const inWorkerd: boolean = globalThis.navigator?.userAgent === "Cloudflare-Workers";
