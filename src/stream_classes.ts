import { type StreamClasses, streams } from "./_streams.ts";
import { message } from "./_validate.ts";

export type { StreamClasses };

/**
 * Replaces the stream classes webstage constructs its streams from.
 *
 * By default webstage uses the platform's `ReadableStream`, `WritableStream`
 * and `TransformStream`. On a platform that lacks them, or has an incomplete
 * implementation (older browsers), pass the classes of a ponyfill such as
 * `web-streams-polyfill` before creating any stage. The change applies to
 * streams created afterwards; existing subscriptions keep their classes.
 *
 * Streams of one implementation cannot be piped into streams of another
 * (brand checks throw), so give webstage's readables to code that uses the
 * same implementation, or read them with `getReader()`. webstage itself
 * reads every stream it is given with `getReader()`, so any implementation's
 * `ReadableStream` can be a source.
 *
 * @param classes the classes to use; each must be a constructor
 * @returns the classes that were in use before, so they can be restored
 * @throws {TypeError} when a class is missing or not a constructor
 *
 * @example Switching to other classes and back
 * ```ts
 * import { useStreams } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * const previous = useStreams({ ReadableStream, WritableStream, TransformStream });
 * assert.equal(previous.ReadableStream, ReadableStream);
 * useStreams(previous);
 * ```
 */
export function useStreams(classes: StreamClasses): StreamClasses {
  if (classes === null || typeof classes !== "object") {
    throw new TypeError(message("use streams", "classes", "an object", classes));
  }
  for (const name of ["ReadableStream", "WritableStream", "TransformStream"] as const) {
    if (typeof classes[name] !== "function") {
      throw new TypeError(message("use streams", name, "a constructor", classes[name]));
    }
  }
  const previous: StreamClasses = { ...streams };
  streams.ReadableStream = classes.ReadableStream;
  streams.WritableStream = classes.WritableStream;
  streams.TransformStream = classes.TransformStream;
  return previous;
}
