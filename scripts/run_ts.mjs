// Runs a TypeScript program on the machine's Node.js (scripts/system_node.mjs;
// Node 20 has no type stripping): esbuild bundles the program's own files into one
// ES module under .tmp/run/ (packages stay external), then Node runs it with
// the remaining arguments, passing through its stdio and exit code.
//
// Usage: node scripts/run_ts.mjs <file.ts> [args...]

import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { systemNode } from "./system_node.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const [file, ...rest] = process.argv.slice(2);
if (!file) {
  console.error("Usage: node scripts/run_ts.mjs <file.ts> [args...]");
  process.exit(2);
}
const outDir = join(root, ".tmp", "run");
mkdirSync(outDir, { recursive: true });
const outfile = join(outDir, basename(file).replace(/\.ts$/, ".mjs"));
await build({
  entryPoints: [resolve(file)],
  outfile,
  bundle: true,
  packages: "external",
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: "inline",
  logLevel: "warning",
});
const child = spawn(systemNode(), ["--enable-source-maps", outfile, ...rest], {
  stdio: "inherit",
});
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => child.kill(signal));
}
child.on("exit", (code, signal) => {
  process.exitCode = signal ? 1 : code ?? 1;
});
