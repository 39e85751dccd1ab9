// Runs examples/nats_workers.ts and examples/redis_workers.ts as their usage
// lines say (Node 24 runs the TypeScript directly) against real servers, with
// and without --crash, and checks what they print: every job has a result,
// worker 0 died when told to, and the broker holds nothing unacknowledged.
// Node only: they spawn worker processes of the runtime that runs them.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { skipWithout, startNats, startRedis } from "../brokers/_servers.ts";
import { nodeOnlyReason } from "./_runtime.ts";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../../", import.meta.url));

async function example(name: string, url: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [`examples/${name}`, url, ...args], {
    cwd: root,
    timeout: 60_000,
  });
  return stdout;
}

/** Worker 0 died after its first 100 jobs (a few more may have finished with them); worker 1 did the rest. */
function assertCrashed(output: string): void {
  assert.match(output, /worker exit codes: 1, 0/, output);
  const [, first, second] = /first results by worker 0: (\d+), worker 1: (\d+)/.exec(output)!;
  assert.ok(Number(first) >= 100 && Number(first) < 200, output);
  assert.equal(Number(first) + Number(second), 600, output);
}

const skipNats = nodeOnlyReason("spawns the example's worker processes") ||
  skipWithout("nats-server");
const skipRedis = nodeOnlyReason("spawns the example's worker processes") ||
  skipWithout("redis-server");

describe("examples/nats_workers.ts", { skip: skipNats }, () => {
  it("has every job done by two workers and acknowledged, also when worker 0 crashes", async () => {
    const server = await startNats();
    try {
      const calm = await example("nats_workers.ts", server.url, "--jobs", "600");
      assert.match(calm, /results: 600 of 600 jobs \(600 stored, 0 twice\)/);
      assert.match(calm, /worker exit codes: 0, 0/);
      assert.match(calm, /unacknowledged jobs left: 0, undelivered: 0, redelivered jobs: 0/);
      const [, first, second] = /worker 0: (\d+), worker 1: (\d+)/.exec(calm)!;
      assert.equal(Number(first) + Number(second), 600);

      const crash = await example("nats_workers.ts", server.url, "--jobs", "600", "--crash");
      assert.match(crash, /results: 600 of 600 jobs/, crash);
      assertCrashed(crash);
      assert.match(crash, /unacknowledged jobs left: 0, undelivered: 0, redelivered jobs: [1-9]/);
    } finally {
      await server.dispose();
    }
  });
});

describe("examples/redis_workers.ts", { skip: skipRedis }, () => {
  it("has every job done by two workers and acknowledged, also when worker 0 crashes", async () => {
    const server = await startRedis();
    try {
      const calm = await example("redis_workers.ts", server.url, "--jobs", "600");
      assert.match(calm, /results: 600 of 600 jobs \(600 stored, 0 twice\)/);
      assert.match(calm, /worker exit codes: 0, 0/);
      assert.match(calm, /entries left pending: 0/);

      const crash = await example("redis_workers.ts", server.url, "--jobs", "600", "--crash");
      assert.match(crash, /results: 600 of 600 jobs/, crash);
      assertCrashed(crash);
      assert.match(crash, /entries left pending: 0/);
    } finally {
      await server.dispose();
    }
  });
});
