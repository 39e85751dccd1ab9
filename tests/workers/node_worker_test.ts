// NodeWorker: a web Worker over node:worker_threads. Node only (the other
// runtimes have a Worker of their own); on Node, _workers.ts's BaseWorker is it.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { NodeWorker } from "../../node.ts";
import { BaseWorker, isNode } from "./_workers.ts";

const Worker = BaseWorker as unknown as typeof NodeWorker;

function module(source: string): string {
  return `data:text/javascript,${encodeURIComponent(source)}`;
}

/** The next event of `type` on `target`. */
function next(target: EventTarget, type: string): Promise<Event> {
  return new Promise((resolve) => target.addEventListener(type, resolve, { once: true }));
}

describe(
  "NodeWorker",
  { skip: isNode ? false : "Node only: other runtimes have a global Worker" },
  () => {
    it("gives the module a web worker's globals and carries messages both ways", async () => {
      const worker = new Worker(
        module(
          "self.onmessage = (e) => postMessage({ doubled: e.data * 2, name: self.name, " +
            "same: self === globalThis });",
        ),
        { name: "doubler" },
      );
      const answer = next(worker, "message");
      worker.postMessage(21);
      assert.deepEqual((await answer as MessageEvent).data, {
        doubled: 42,
        name: "doubler",
        same: true,
      });
      assert.equal(await worker.terminate(), 1);
    });

    it("moves transferred buffers", async () => {
      const worker = new Worker(module("onmessage = (e) => postMessage(e.data.byteLength);"));
      const buffer = new ArrayBuffer(16);
      const answer = next(worker, "message");
      worker.postMessage(buffer, [buffer]);
      assert.equal((await answer as MessageEvent).data, 16);
      assert.equal(buffer.byteLength, 0);
      await worker.terminate();
    });

    it("reports an uncaught exception as an error event carrying the error", async () => {
      const worker = new Worker(module("setTimeout(() => { throw new RangeError('lost'); });"));
      const event = await next(worker, "error") as Event & { error: unknown; message: string };
      assert.ok(event.error instanceof RangeError);
      assert.equal(event.message, "lost");
      await worker.terminate();
    });

    it("reports a thread that exits by itself, by process.exit or close(), as an error event", async () => {
      for (const [source, code] of [["process.exit(3);", 3], ["close();", 0]] as const) {
        const worker = new Worker(module(source));
        const event = await next(worker, "error") as Event & { message: string };
        assert.equal(event.message, `The worker thread exited with code ${code}`);
      }
    });

    it("reports a module that cannot load as an error event", async () => {
      const worker = new Worker(module("throw new Error('no such luck');"));
      const event = await next(worker, "error") as Event & { message: string };
      assert.equal(event.message, "no such luck");
      await worker.terminate();
    });

    it("rejects a classic worker and a URL that is not one", () => {
      assert.throws(() => new Worker(module(""), { type: "classic" as never }), {
        name: "TypeError",
        message: 'Cannot construct NodeWorker as type must be "module": current value is "classic"',
      });
      assert.throws(() => new Worker(42 as never), {
        name: "TypeError",
        message:
          "Cannot construct NodeWorker as url must be a string or a URL: current value is 42",
      });
    });
  },
);
