import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Consumer, Producer } from "../mod.ts";
import { range } from "./_helpers.ts";

describe("Producer.from → Consumer", () => {
  it("hands events to handleEvents in chunks of maxDemand - minDemand", async () => {
    const batches: number[][] = [];
    const consumer = new Consumer<number>({
      subscribeTo: [[Producer.from(range(0, 10)), { maxDemand: 4, minDemand: 2 }]],
      handleEvents: (events) => void batches.push(events),
    });
    await consumer.closed;
    assert.deepEqual(batches.flat(), range(0, 10));
    assert.ok(batches.every((batch) => batch.length <= 2));
  });
});
