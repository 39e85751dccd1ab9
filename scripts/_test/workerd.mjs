// The workerd runtime: bundles every test file with esbuild (node:test and
// node:assert/strict aliased to the shims) into one module worker and runs
// it in workerd through miniflare.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { workerEntry } from "./worker_entry.mjs";

/**
 * @param {string} root repository root
 * @param {string[]} files test files (tests/...ts)
 * @param {string} tmp a scratch folder
 * @param {number} timeoutMs
 */
export async function runWorkerd(root, files, tmp, timeoutMs) {
  const entry = join(root, ".tmp", "worker_entry.mjs");
  writeFileSync(entry, workerEntry(files, "../"));
  const shims = join(root, "scripts", "shims");
  const bundled = await build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    write: false,
    ignoreAnnotations: true,
    logLevel: "silent",
    alias: {
      "node:test": join(shims, "node_test.js"),
      "node:assert/strict": join(shims, "node_assert.js"),
      "node:assert": join(shims, "node_assert.js"),
    },
  });
  const script = bundled.outputFiles[0].text;
  writeFileSync(join(tmp, "worker.mjs"), script);
  const output = [];
  const mf = new Miniflare({
    modules: true,
    script,
    compatibilityDate: "2025-06-01",
    handleRuntimeStdio(stdout, stderr) {
      stdout.on("data", (chunk) => output.push(String(chunk)));
      stderr.on("data", (chunk) => output.push(String(chunk)));
    },
  });
  try {
    const response = await Promise.race([
      mf.dispatchFetch("http://localhost/"),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error("workerd run timed out")), timeoutMs).unref()
      ),
    ]);
    const text = await response.text();
    let records;
    try {
      records = JSON.parse(text);
    } catch {
      throw new Error(`workerd answered ${response.status}: ${text.slice(0, 4000)}`);
    }
    return { records, output: output.join("") };
  } finally {
    await mf.dispose();
  }
}
