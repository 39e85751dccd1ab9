// The producer's internal buffer (GenStage.Buffer), rows BF7 and BF9, and the
// stream row G101.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { EventBuffer } from "../src/_buffer.ts";
import { Producer, toReadableStream } from "../mod.ts";

describe("EventBuffer (internal)", () => {
  it("BF7: taking from an empty buffer gives no events and releases nothing", () => {
    const buffer = new EventBuffer<number>(10, "last");
    const empty = buffer.take(5);
    assert.deepEqual([empty.events, empty.released], [[], []]);
    assert.equal(buffer.count, 0);
    assert.equal(buffer.empty, true);
  });

  it("BF9: several infos at the same position are released together, in FIFO order", () => {
    const buffer = new EventBuffer<number>(10, "last");
    buffer.store([1, 2, 3]);
    assert.equal(buffer.mark("first"), true);
    assert.equal(buffer.mark("second"), true);
    assert.equal(buffer.mark("third"), true);
    buffer.store([4]);
    const taken = buffer.take(10);
    assert.deepEqual(taken.events, [1, 2, 3]);
    assert.deepEqual(taken.released, ["first", "second", "third"]);
    const rest = buffer.take(10);
    assert.deepEqual([rest.events, rest.released], [[4], []]);
  });
});

describe("toReadableStream over a producer that stops abnormally", () => {
  it("G101 (webstage): a permanent subscription whose producer crashes errors the stream with its reason", async () => {
    const producer = new Producer<number>({});
    const reader = toReadableStream<number>([producer]).getReader();
    const read = reader.read();
    producer.emit([1]);
    assert.deepEqual(await read, { done: false, value: 1 });
    const next = reader.read();
    await producer.stop(new Error("gone"));
    await assert.rejects(next, { message: "gone" });
  });
});
