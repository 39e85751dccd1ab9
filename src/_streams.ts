// The stream classes webstage constructs. They default to the platform's
// globals and can be replaced (for instance by web-streams-polyfill) through
// the public `useStreams` (src/stream_classes.ts).

/** The stream classes webstage constructs its streams from. */
export interface StreamClasses {
  /** The class every `ReadableStream` webstage returns or uses internally is made from. */
  readonly ReadableStream: typeof ReadableStream;
  /** The class of the `WritableStream` on the consumer side of each subscription. */
  readonly WritableStream: typeof WritableStream;
  /** The class webstage uses where it builds a `TransformStream`. */
  readonly TransformStream: typeof TransformStream;
}

/** The classes in use; read at each construction, so a change applies to new streams. */
export const streams: {
  ReadableStream: typeof ReadableStream;
  WritableStream: typeof WritableStream;
  TransformStream: typeof TransformStream;
} = {
  ReadableStream: globalThis.ReadableStream,
  WritableStream: globalThis.WritableStream,
  TransformStream: globalThis.TransformStream,
};

/** A strategy size that counts the events of a batch. */
export function batchSize(batch: readonly unknown[]): number {
  return batch.length;
}

/** For promises whose rejection is observed elsewhere (or deliberately not at all). */
export function ignore(): void {}
