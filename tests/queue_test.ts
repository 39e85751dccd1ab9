// The internal ring-buffer queue behind mailboxes and producer buffers.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Queue } from "../src/_queue.ts";

describe("Queue (internal)", () => {
  it("keeps FIFO order across growth, wrap-around, unshift and drain", () => {
    const queue = new Queue<number>();
    const model: number[] = [];
    let next = 0;
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let step = 0; step < 20_000; step++) {
      const r = random();
      if (r < 0.5) {
        queue.push(next);
        model.push(next++);
      } else if (r < 0.6) {
        queue.unshift(next);
        model.unshift(next++);
      } else if (r < 0.98) {
        assert.equal(queue.shift(), model.shift());
      } else {
        assert.deepEqual([...queue], model);
        if (r > 0.995) assert.deepEqual(queue.drain(), model.splice(0));
      }
      assert.equal(queue.length, model.length);
      assert.equal(queue.peek(), model[0]);
    }
  });

  it("is empty after shifting everything and gives undefined", () => {
    const queue = new Queue<string>();
    for (let i = 0; i < 40; i++) queue.push(String(i));
    for (let i = 0; i < 40; i++) assert.equal(queue.shift(), String(i));
    assert.equal(queue.shift(), undefined);
    assert.equal(queue.peek(), undefined);
    assert.equal(queue.length, 0);
  });
});
