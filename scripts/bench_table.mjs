// Turns the `--json` output of `npm run bench` on one or more runtimes into
// Markdown tables, one column per runtime: the targets (ratios measured within
// each run, with PASS / MISS) and the events per second of every scenario.
//
// Usage: node scripts/bench_table.mjs node20.jsonl node24.jsonl deno.jsonl bun.jsonl

import { readFileSync } from "node:fs";
import process from "node:process";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("Usage: node scripts/bench_table.mjs <bench --json output>...");
  process.exit(2);
}

/** Per runtime, in the order given: its scenario rows and its target verdicts. */
const runs = files.map((file) => {
  const lines = readFileSync(file, "utf8").split("\n").filter((line) => line.startsWith("{"));
  const objects = lines.map((line) => JSON.parse(line));
  const rows = objects.filter((o) => o.kind === undefined);
  const ratios = objects.filter((o) => o.kind === "ratio");
  const runtime = (rows[0] ?? ratios[0])?.runtime ?? file;
  return { runtime, rows, ratios };
});

const label = (row) => row.maxDemand === null ? row.scenario : `${row.scenario} @${row.maxDemand}`;
/** A target's row: its subject and peer (the factor may differ by runtime, as for Bun). */
const key = (v) => `${v.subject}\0${v.peer}`;
function target(name, issue) {
  const [subject, peer] = name.split("\0");
  const factors = new Set(
    runs.flatMap((run) => run.ratios).filter((v) => v.issue === issue && key(v) === name)
      .map((v) => v.factor),
  );
  const shown = [...factors].filter((f) => f !== null).join(" or ");
  return `${subject} ${shown === "" ? "/" : `≥ ${shown}×`} ${peer}`;
}

function rate(eventsPerSecond) {
  if (eventsPerSecond >= 1e9) return `${(eventsPerSecond / 1e9).toFixed(2)} G`;
  if (eventsPerSecond >= 1e6) {
    return `${(eventsPerSecond / 1e6).toFixed(eventsPerSecond >= 1e8 ? 0 : 1)} M`;
  }
  return `${(eventsPerSecond / 1e3).toFixed(0)} k`;
}

/** Keys in first-seen order across every run. */
function keys(pick) {
  const seen = new Set();
  for (const run of runs) for (const key of pick(run)) seen.add(key);
  return [...seen];
}

function table(head, body) {
  const widths = head.map((_, i) => Math.max(...[head, ...body].map((r) => r[i].length), 3));
  const fmt = (r) => `| ${r.map((cell, i) => cell.padEnd(widths[i])).join(" | ")} |`;
  return [fmt(head), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...body.map(fmt)]
    .join("\n");
}

const runtimes = runs.map((run) => run.runtime);

for (const issue of [15, 6]) {
  const names = keys((run) => run.ratios.filter((v) => v.issue === issue).map(key));
  if (names.length === 0) continue;
  const body = names.map((name) => [
    target(name, issue),
    ...runs.map((run) => {
      const v = run.ratios.find((x) => x.issue === issue && key(x) === name);
      if (v === undefined || v.ratio === null) return "n/a";
      const range = v.roundRatios === null
        ? ""
        : ` (${v.roundRatios.min.toFixed(2)}–${v.roundRatios.max.toFixed(2)})`;
      const status = v.status === "INFO" ? "" : ` ${v.status}`;
      const mixed = target(name, issue).includes(" or ");
      return `${v.ratio.toFixed(2)}×${range}${status}${mixed ? ` (≥ ${v.factor})` : ""}`;
    }),
  ]);
  console.log(`Targets of issue ${issue}: ratio of medians (lowest–highest ratio of one round)\n`);
  console.log(table(["target", ...runtimes], body));
  console.log();
}

const scenarios = keys((run) => run.rows.map(label));
console.log("Events per second (median)\n");
console.log(
  table(
    ["scenario", ...runtimes],
    scenarios.map((name) => [
      name,
      ...runs.map((run) => {
        const row = run.rows.find((r) => label(r) === name);
        return row === undefined ? "n/a" : rate(row.eventsPerSecond);
      }),
    ]),
  ),
);
