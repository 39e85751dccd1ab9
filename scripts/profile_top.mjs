// Summarises V8 CPU profiles (.cpuprofile, from `node --cpu-prof`): the
// functions with the most self time, and self time by source file.
//
// Usage: node scripts/profile_top.mjs <file.cpuprofile>... [--top <k>]

import { readFileSync } from "node:fs";
import { basename } from "node:path";
import process from "node:process";

const args = process.argv.slice(2);
const topAt = args.indexOf("--top");
const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 25;

for (const file of args) {
  const profile = JSON.parse(readFileSync(file, "utf8"));
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  // Samples are node ids; timeDeltas[i] is the time before sample i.
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const byFunction = new Map();
  const byFile = new Map();
  for (const [id, micros] of self) {
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    const where = url === "" ? "" : `${basename(url)}:${lineNumber + 1}`;
    const name = `${functionName || "(anonymous)"} ${where}`.trim();
    byFunction.set(name, (byFunction.get(name) ?? 0) + micros);
    const source = url === ""
      ? functionName.startsWith("(") ? functionName : "(native)"
      : url.startsWith("wasm:")
      ? "wasm (on Node 24: its TypeScript stripping, at start-up)"
      : url.includes("internal/webstreams/")
      ? `web streams (${basename(url)})`
      : url.startsWith("node:")
      ? "node:internal (other)"
      : basename(url);
    byFile.set(source, (byFile.get(source) ?? 0) + micros);
  }
  const pct = (micros) => `${((micros / total) * 100).toFixed(1).padStart(5)}%`;
  const list = (map, k) =>
    [...map].sort((a, b) => b[1] - a[1]).slice(0, k).map(([name, micros]) =>
      `  ${pct(micros)}  ${name}`
    ).join("\n");
  console.log(`${basename(file)}: ${(total / 1e6).toFixed(2)} s sampled\n`);
  console.log(`self time by source:\n${list(byFile, 15)}\n`);
  console.log(`self time by function (top ${top}):\n${list(byFunction, top)}\n`);
}
