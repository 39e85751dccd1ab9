// The stream classes webstage constructs. They default to the platform's
// globals and can be replaced (for instance by web-streams-polyfill) through
// the public `useStreams`.

export interface StreamClasses {
  readonly ReadableStream: typeof ReadableStream;
  readonly WritableStream: typeof WritableStream;
}

export const streams: { ReadableStream: typeof ReadableStream; WritableStream: typeof WritableStream } = {
  ReadableStream: globalThis.ReadableStream,
  WritableStream: globalThis.WritableStream,
};

/** A strategy size that counts the events of a batch. */
export function batchSize(batch: readonly unknown[]): number {
  return batch.length;
}

/** For promises whose rejection is observed elsewhere (or deliberately not at all). */
export function ignore(): void {}
