// The targets of issue 6, checked on the rows of one run. Benchmarks are not
// tests: a missed target is reported, never turned into a failing exit code.

import type { runtimeKind } from "./measure.ts";
import { label, type Scenario } from "./scenario.ts";
import { formatRate } from "./measure.ts";

/** One measured scenario, as printed with `--json` (plus the label). */
export interface Row {
  readonly runtime: string;
  readonly scenario: string;
  readonly n: number;
  readonly maxDemand: number | null;
  readonly eventsPerSecond: number;
  readonly medianSeconds: number;
  readonly runs: number;
  /** The fastest timed run: on a shared machine, the least disturbed one. */
  readonly fastestSeconds?: number;
  /** `"cpu"` when timed by process CPU time (`--cpu-time`); wall time otherwise. */
  readonly clock?: "cpu";
  /** Peak heap growth in bytes during one extra run (`--memory` only). */
  peakHeapGrowthBytes?: number;
}

/** GenStage 1.3.2 on OTP 25 on this machine, from the issue, by label. */
export const genStage: Readonly<Record<string, number>> = {
  "webstage P->C @1000": 29e6,
  "webstage P->C @10": 1.5e6,
  "webstage P->PC->C @1000": 15e6,
  "webstage DemandDispatcher->2 @1000": 38e6,
  "webstage DemandDispatcher->4 @1000": 49e6,
  "webstage BroadcastDispatcher->2 @1000": 20.5e6,
  "webstage PartitionDispatcher(x%4)->4 @1000": 6.5e6,
};

export type Status = "PASS" | "MISS" | "SKIP" | "INFO";

export interface Verdict {
  readonly status: Status;
  readonly target: string;
  readonly detail: string;
}

type Kind = ReturnType<typeof runtimeKind>;

function ratioTarget(
  rows: ReadonlyMap<string, Row>,
  subject: string,
  peer: string,
  factor: number,
): Verdict {
  const target = `${subject} >= ${factor} x ${peer}`;
  const a = rows.get(subject), b = rows.get(peer);
  if (a === undefined || b === undefined) {
    return { status: "SKIP", target, detail: "not measured in this run" };
  }
  const ratio = a.eventsPerSecond / b.eventsPerSecond;
  return {
    status: ratio >= factor ? "PASS" : "MISS",
    target,
    detail: `${formatRate(a.eventsPerSecond)} / ${formatRate(b.eventsPerSecond)} = ${
      ratio.toFixed(2)
    } x`,
  };
}

/** Checks every target of the issue that this run measured. */
export function verdicts(
  rows: ReadonlyMap<string, Row>,
  scenarios: readonly Scenario[],
  kind: Kind,
): Verdict[] {
  const out: Verdict[] = [];
  out.push(ratioTarget(rows, "webstage P->C @1000", "web streams batched R->W @1000", 0.6));
  out.push(ratioTarget(rows, "webstage P->PC->C @1000", "web streams batched R->T->W @1000", 0.6));
  for (const scenario of scenarios) {
    if (scenario.perEventPeer === undefined || scenario.maxDemand !== 1000) continue;
    if (!rows.has(label(scenario))) continue;
    out.push(ratioTarget(rows, label(scenario), scenario.perEventPeer, 50));
  }
  const md10 = rows.get("webstage P->C @10");
  const md10Target = "webstage P->C @10 >= 2 M/s on Node 20";
  if (md10 === undefined) {
    out.push({ status: "SKIP", target: md10Target, detail: "not measured in this run" });
  } else {
    out.push({
      status: kind === "node20" ? (md10.eventsPerSecond >= 2e6 ? "PASS" : "MISS") : "INFO",
      target: md10Target,
      detail: `${formatRate(md10.eventsPerSecond)}${
        kind === "node20" ? "" : " (applies to Node 20 only)"
      }`,
    });
  }
  out.push(
    ratioTarget(
      rows,
      "webstage P->PC->C @1000",
      "Effect Stream range->map->runSum",
      kind === "bun" ? 1 : 0.5,
    ),
  );
  const factor = kind === "bun" ? 2 : 1;
  for (const [label, figure] of Object.entries(genStage)) {
    const target = `${label} >= ${factor === 1 ? "" : "2 x "}GenStage (${formatRate(figure)})`;
    const row = rows.get(label);
    if (row === undefined) {
      out.push({ status: "SKIP", target, detail: "not measured in this run" });
      continue;
    }
    out.push({
      status: row.eventsPerSecond >= factor * figure ? "PASS" : "MISS",
      target,
      detail: `${formatRate(row.eventsPerSecond)} = ${
        (row.eventsPerSecond / figure).toFixed(2)
      } x GenStage`,
    });
  }
  return out;
}
