// Runs examples/edge_worker.ts in workerd (through miniflare) as a deployed
// worker would run, and checks its streamed NDJSON body.
// Node only: it bundles with esbuild and starts workerd as a child process.

import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { nodeOnlyReason } from "./_runtime.ts";

const entry = fileURLToPath(new URL("../../examples/edge_worker.ts", import.meta.url));

/** The Collatz steps and peak of `n`, computed here independently of the example. */
function expected(n: number): { n: number; steps: number; peak: number } {
  let steps = 0;
  let peak = n;
  for (let v = n; v !== 1; steps++) {
    v = v % 2 === 0 ? v / 2 : 3 * v + 1;
    peak = Math.max(peak, v);
  }
  return { n, steps, peak };
}

test(
  "examples/edge_worker.ts streams one NDJSON line per number from its stage pipeline in workerd (Node only: spawns workerd)",
  // Skipped outside Node: this test spawns processes (see nodeOnlyReason).
  { skip: nodeOnlyReason("bundles with esbuild and spawns workerd"), timeout: 15_000 },
  async () => {
    const bundle = await build({
      entryPoints: [entry],
      bundle: true,
      format: "esm",
      platform: "neutral",
      target: "es2022",
      write: false,
      logLevel: "silent",
    });
    const mf = new Miniflare({
      modules: true,
      script: bundle.outputFiles[0].text,
      compatibilityDate: "2025-01-01",
    });
    try {
      const start = 27;
      const count = 400; // several MAX_DEMAND batches
      const response = await mf.dispatchFetch(`http://worker.test/?start=${start}&count=${count}`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "application/x-ndjson; charset=utf-8");
      assert.equal(response.headers.get("x-total-count"), String(count));
      const text = await response.text();
      assert.ok(text.endsWith("\n"));
      const lines = text.slice(0, -1).split("\n").map((line) => JSON.parse(line));
      assert.equal(lines.length, count);
      assert.deepEqual(lines, Array.from({ length: count }, (_, i) => expected(start + i)));
      assert.deepEqual(lines[0], { n: 27, steps: 111, peak: 9232 });

      const empty = await mf.dispatchFetch("http://worker.test/?count=0");
      assert.equal(empty.status, 200);
      assert.equal(await empty.text(), "");

      const bad = await mf.dispatchFetch("http://worker.test/?count=abc");
      assert.equal(bad.status, 400);
      assert.equal(
        await bad.text(),
        "Bad request: count must be an integer in [0, 100000]: current value is abc\n",
      );

      // A client that leaves mid-stream: the worker stays healthy and serves
      // the next request in full.
      const long = await mf.dispatchFetch("http://worker.test/?start=1&count=100000&pause=5");
      const reader = long.body!.getReader();
      assert.equal((await reader.read()).done, false);
      await reader.cancel();
      const next = await mf.dispatchFetch("http://worker.test/?start=1&count=3");
      assert.equal(
        await next.text(),
        '{"n":1,"steps":0,"peak":1}\n{"n":2,"steps":1,"peak":2}\n{"n":3,"steps":7,"peak":16}\n',
      );
    } finally {
      await mf.dispose();
    }
  },
);
