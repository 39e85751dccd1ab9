// Static checks: formatting, lint, documentation, a web-only type-check of
// the library, the JSR dry run and the documentation examples.
//
// Usage: node scripts/check.mjs

import { spawnSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const deno = join(root, "node_modules", ".bin", "deno");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");

const checks = [
  ["deno fmt --check", deno, ["fmt", "--check"]],
  ["deno lint", deno, ["lint"]],
  ["deno doc --lint mod.ts nats.ts redis.ts otel.ts topology.ts node.ts", deno, [
    "doc",
    "--lint",
    "mod.ts",
    "nats.ts",
    "redis.ts",
    "otel.ts",
    "topology.ts",
    "node.ts",
  ]],
  [
    "tsc: mod.ts, nats.ts, redis.ts, otel.ts, topology.ts and src/ with web types only (no Node, Deno or Bun)",
    process.execPath,
    [
      tsc,
      "-p",
      "tsconfig.web.json",
    ],
  ],
  ["deno check: the scripts' and examples' TypeScript", deno, [
    "check",
    "scripts/",
    "examples/",
  ]],
  ["src/topology/_page.ts is built from _page.html and _client.ts", process.execPath, [
    join(root, "scripts", "build_topology.mjs"),
    "--check",
  ]],
  ["tests/CODES.md has every catalogue code cited by a test name", process.execPath, [
    join(root, "scripts", "check_codes.mjs"),
  ]],
  ["deno publish --dry-run (JSR slow types)", deno, ["publish", "--dry-run", "--allow-dirty"]],
  ["deno test --doc (every documentation example)", deno, [
    "test",
    "--doc",
    "--allow-all",
    "mod.ts",
    "nats.ts",
    "redis.ts",
    "otel.ts",
    "topology.ts",
    "node.ts",
    "src/",
    "README.md",
  ]],
];

const failed = [];
for (const [title, command, args] of checks) {
  console.log(`\n== ${title}`);
  const result = spawnSync(command, args, { cwd: root, stdio: "inherit" });
  if (result.status !== 0) failed.push(title);
}
console.log(failed.length ? `\ncheck: FAILED — ${failed.join("; ")}` : "\ncheck: all clean");
process.exitCode = failed.length ? 1 : 0;
