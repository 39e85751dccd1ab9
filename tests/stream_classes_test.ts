import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Consumer, Producer, type StreamClasses, toReadableStream, useStreams } from "../mod.ts";
import { readAll } from "./_helpers.ts";

describe("useStreams", () => {
  let restore: StreamClasses | undefined;
  afterEach(() => {
    if (restore) useStreams(restore);
    restore = undefined;
  });

  it("builds later streams from the classes it is given", async () => {
    let readables = 0;
    let writables = 0;
    const current = useStreams({
      ReadableStream,
      WritableStream,
      TransformStream,
    });
    useStreams(current);
    const Base = current.ReadableStream;
    const BaseW = current.WritableStream;
    class CountingReadable<R> extends Base<R> {
      constructor(...args: ConstructorParameters<typeof ReadableStream<R>>) {
        super(...args);
        readables++;
      }
    }
    class CountingWritable<W> extends BaseW<W> {
      constructor(...args: ConstructorParameters<typeof WritableStream<W>>) {
        super(...args);
        writables++;
      }
    }
    restore = useStreams({
      ReadableStream: CountingReadable as typeof ReadableStream,
      WritableStream: CountingWritable as typeof WritableStream,
      TransformStream: current.TransformStream,
    });
    const stream = toReadableStream<number>([Producer.from([1, 2, 3])]);
    assert.ok(stream instanceof CountingReadable);
    assert.deepEqual(await readAll(stream), [1, 2, 3]);
    assert.ok(readables >= 2, `expected the link's stream too, saw ${readables}`);
    const seen: number[] = [];
    const consumer = new Consumer<number>({
      subscribeTo: [Producer.from([4, 5])],
      handleEvents: (events) => void seen.push(...events),
    });
    assert.ok(consumer.writable instanceof CountingWritable, "a stage's writable face");
    assert.equal(writables, 1);
    await consumer.closed;
    assert.deepEqual(seen, [4, 5]);
  });

  it("returns the classes that were in use before", () => {
    const first = useStreams({ ReadableStream, WritableStream, TransformStream });
    const second = useStreams(first);
    assert.equal(second.ReadableStream, ReadableStream);
    assert.equal(second.WritableStream, WritableStream);
    assert.equal(second.TransformStream, TransformStream);
  });

  it("rejects a missing class with a TypeError and keeps the classes in use", () => {
    const before = useStreams({ ReadableStream, WritableStream, TransformStream });
    useStreams(before);
    assert.throws(
      () =>
        useStreams({
          ReadableStream,
          WritableStream: undefined,
          TransformStream,
        } as unknown as StreamClasses),
      {
        name: "TypeError",
        message:
          "Cannot use streams as WritableStream must be a constructor: current value is undefined",
      },
    );
    assert.throws(() => useStreams(null as unknown as StreamClasses), {
      name: "TypeError",
      message: "Cannot use streams as classes must be an object: current value is null",
    });
    const after = useStreams(before);
    assert.equal(after.ReadableStream, before.ReadableStream);
    assert.equal(after.WritableStream, before.WritableStream);
  });
});
