// Runs examples/deno_log_pipeline.ts with Deno, as its usage line says, on a
// generated log file much larger than the pipeline's buffers, and checks the
// exact per-service summaries against a computation made here.
// Node only: it spawns Deno.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { nodeOnlyReason } from "./_runtime.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const deno = join(root, "node_modules/.bin/deno");
const run = promisify(execFile);

const LEVELS = ["DEBUG", "INFO", "WARN", "ERROR"];

/** The summaries the example must write, computed here from the file's text. */
function expectedSummaries(text: string, partitions: number) {
  const byService = new Map<string, {
    service: string;
    partition: number;
    lines: number;
    bytes: number;
    levels: Record<string, number>;
    errorRate: number;
  }>();
  const lines = text.split("\n");
  assert.equal(lines.pop(), "", "the log ends with a newline");
  for (const line of lines) {
    const [, level, service] = line.split(" ");
    const key = service === undefined || service === "" ? "(malformed)" : service;
    let summary = byService.get(key);
    if (summary === undefined) {
      // FNV-1a of the service name, modulo the partitions, as documented.
      let hash = 0x811c9dc5;
      for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
      summary = {
        service: key,
        partition: (hash >>> 0) % partitions,
        lines: 0,
        bytes: 0,
        levels: { DEBUG: 0, INFO: 0, WARN: 0, ERROR: 0, OTHER: 0 },
        errorRate: 0,
      };
      byService.set(key, summary);
    }
    summary.lines++;
    summary.bytes += Buffer.byteLength(line, "utf8") + 1;
    summary.levels[LEVELS.includes(level) ? level : "OTHER"]++;
  }
  return [...byService.values()]
    .map((s) => ({ ...s, errorRate: Math.round((s.levels.ERROR / s.lines) * 1e4) / 1e4 }))
    .sort((a, b) => (a.service < b.service ? -1 : 1));
}

test(
  "examples/deno_log_pipeline.ts summarises a log larger than its buffers per service, exactly, in bounded memory (Node only: spawns Deno)",
  // Skipped outside Node: this test spawns processes (see nodeOnlyReason).
  { skip: nodeOnlyReason("spawns Deno"), timeout: 15_000 }, // reason: spawns processes
  async () => {
    const tmp = mkdtempSync(join(tmpdir(), "webstage-log-pipeline-"));
    try {
      const log = join(tmp, "app.log");
      const count = 200_000;
      const generated = await run(
        deno,
        ["run", "--allow-write", "examples/deno_log_pipeline.ts", "--generate", log, String(count)],
        { cwd: root },
      );
      assert.equal(generated.stdout, `Wrote ${count} lines to ${log}\n`);
      // Lines the generator never writes: malformed, an unknown level, a CRLF line, more UTF-8.
      appendFileSync(log, "garbage\n\nINFO api\n2026-01-01T00:00:00.000Z TRACE api hello\n");
      appendFileSync(log, "2026-01-01T00:00:00.000Z ERROR ünïcode 💥 crashed\r\n");
      const text = readFileSync(log, "utf8");
      assert.ok(statSync(log).size > 10_000_000);

      const partitions = 3;
      // A 24 MiB V8 heap: reading the 15 MB file whole and splitting it runs
      // out of memory there (checked by hand), streaming it does not.
      const { stdout } = await run(
        deno,
        [
          "run",
          "--v8-flags=--max-old-space-size=24",
          "--allow-read",
          "--allow-write",
          "examples/deno_log_pipeline.ts",
          log,
          String(partitions),
        ],
        { cwd: root, maxBuffer: 1 << 20 },
      );

      const written = JSON.parse(readFileSync(`${log}.summary.json`, "utf8"));
      const expected = expectedSummaries(text, partitions);
      assert.deepEqual(written, { partitions, lines: count + 5, summaries: expected });
      // Each of the seven services, "(malformed)" and "ünïcode" are all there;
      // the bytes add up to the file; every consumer had work.
      assert.equal(expected.length, 9);
      assert.equal(expected.reduce((sum, s) => sum + s.bytes, 0), statSync(log).size);
      assert.deepEqual(new Set(expected.map((s) => s.partition)), new Set([0, 1, 2]));
      assert.deepEqual(expected.find((s) => s.service === "(malformed)")?.lines, 3);

      // The printed table: one row per service, with its error rate.
      const rows = stdout.split("\n");
      for (const s of expected) {
        const row = rows.find((line) => line.startsWith(`${s.service} `));
        assert.ok(row !== undefined, `no row for ${s.service}`);
        assert.deepEqual(row.trim().split(/\s+/).slice(-8), [
          String(s.lines),
          String(s.bytes),
          ...LEVELS.map((level) => String(s.levels[level])),
          String(s.levels.OTHER),
          `${(s.errorRate * 100).toFixed(2)}%`,
        ]);
      }

      // Demand-driven reading: the lines read but not yet summarised stayed
      // under the stages' bound (plus one decoded chunk), a small fraction of the file.
      const memory = stdout.match(/at most (\d+) lines in memory at once \(stage bound (\d+),/);
      assert.ok(memory !== null, stdout);
      const [inFlight, bound] = [Number(memory[1]), Number(memory[2])];
      assert.equal(bound, partitions * (500 + 1000));
      assert.ok(inFlight <= bound + 2000, `${inFlight} lines in flight`);
      assert.ok(count > 20 * (bound + 2000));
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  },
);
