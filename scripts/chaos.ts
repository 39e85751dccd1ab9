// Runs the chaos chain of tests/_chaos.ts over many seeds and prints a line
// per failing run (events lost, stalls, memory over its bound, an abnormal
// end), then the totals. Exits 1 if any run failed.
//
// Usage: npm run chaos -- [--seeds N] [--from S] [--events E] [--crash-rate R]
//          [--source-crash-rate R] [--strategy one_for_one|rest_for_one|one_for_all|all]
//          [--verbose]
//
// Seeds S..S+N-1 (default 1..100). Without --strategy, seed n runs under the
// strategy n % 3 picks (one_for_one, rest_for_one, one_for_all in turn); with
// --strategy all, every seed runs under all three. Defaults: 3000 events, a
// crash rate of 0.03 per callback call, no source crashes (those excuse what
// the source held, see tests/_chaos.ts). Runs on Node 24 (type stripping).

import process from "node:process";
import type { SupervisorStrategy } from "../mod.ts";
import { type ChaosResult, describeRun, passed, runChaos } from "../tests/_chaos.ts";

const STRATEGIES: readonly SupervisorStrategy[] = ["one_for_one", "rest_for_one", "one_for_all"];

function option(name: string, fallback: string): string {
  const args = process.argv.slice(2);
  const i = args.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < args.length) return args[i + 1];
  const inline = args.find((arg) => arg.startsWith(`--${name}=`));
  return inline === undefined ? fallback : inline.slice(name.length + 3);
}

function number(name: string, fallback: number, integer: boolean): number {
  const value = Number(option(name, String(fallback)));
  if (!Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    console.error(`--${name} must be a ${integer ? "non-negative integer" : "number >= 0"}`);
    process.exit(2);
  }
  return value;
}

const seeds = number("seeds", 100, true);
const from = number("from", 1, true);
const events = number("events", 3000, true);
const crashRate = number("crash-rate", 0.03, false);
const sourceCrashRate = number("source-crash-rate", 0, false);
const strategyArg = option("strategy", "");
const verbose = process.argv.includes("--verbose");
if (strategyArg !== "" && strategyArg !== "all" && !STRATEGIES.includes(strategyArg as never)) {
  console.error(`--strategy must be one of ${STRATEGIES.join(", ")} or all`);
  process.exit(2);
}

function strategiesFor(seed: number): readonly SupervisorStrategy[] {
  if (strategyArg === "all") return STRATEGIES;
  if (strategyArg !== "") return [strategyArg as SupervisorStrategy];
  return [STRATEGIES[seed % STRATEGIES.length]];
}

console.log(
  `chaos: seeds ${from}..${from + seeds - 1}, ${events} events, crash rate ${crashRate}` +
    `${sourceCrashRate > 0 ? `, source crash rate ${sourceCrashRate}` : ""}, ` +
    `strategy ${strategyArg || "by seed"}`,
);
const started = performance.now();
const failures: ChaosResult[] = [];
let runs = 0;
let lost = 0;
let worst = 0;
let stalls = 0;
let overflows = 0;
let abnormal = 0;
let crashes = 0;
let duplicated = 0;
let broadcastMissed = 0;
for (let seed = from; seed < from + seeds; seed++) {
  for (const strategy of strategiesFor(seed)) {
    const result = await runChaos({ seed, strategy, events, crashRate, sourceCrashRate });
    runs++;
    lost += result.lost.length;
    worst = Math.max(worst, result.lost.length);
    if (result.stalled) stalls++;
    if (result.overflows.length > 0) overflows++;
    if (result.ending !== "normal") abnormal++;
    crashes += Object.values(result.crashes).reduce((a, b) => a + b, 0);
    duplicated += result.duplicated;
    broadcastMissed += result.broadcastMissed[0] + result.broadcastMissed[1];
    if (!passed(result)) {
      failures.push(result);
      console.log(`FAIL ${describeRun(result)}`);
    } else if (verbose) console.log(`ok   ${describeRun(result)}`);
  }
}
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(
  `\n${runs} runs in ${seconds} s: ${crashes} crashes; lost ${lost} events in all ` +
    `(at most ${worst} in one run), ${duplicated} handled twice or more; ` +
    `${stalls} stalled, ${overflows} over a memory bound, ${abnormal} ended abnormally; ` +
    `broadcast consumers missed ${broadcastMissed} (reported, not failed)`,
);
console.log(`chaos: ${runs - failures.length} passed, ${failures.length} failed`);
process.exitCode = failures.length > 0 ? 1 : 0;
