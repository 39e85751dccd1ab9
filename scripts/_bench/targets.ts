// The speed targets, checked on the rows of one run. Benchmarks are not
// tests: a missed target is reported, never turned into a failing exit code.

import type { runtimeKind } from "./measure.ts";
import { label, type Scenario } from "./scenario.ts";
import { formatRate } from "./measure.ts";
import { BLOCK_LABELS } from "./blocks.ts";

/** One measured scenario, as printed with `--json` (plus the label). */
export interface Row {
  readonly runtime: string;
  readonly scenario: string;
  readonly n: number;
  readonly maxDemand: number | null;
  readonly eventsPerSecond: number;
  readonly medianSeconds: number;
  readonly runs: number;
  /** The seconds of each timed run, in the order of the rounds. */
  readonly runSeconds: readonly number[];
  /** The fastest timed run: on a shared machine, the least disturbed one. */
  readonly fastestSeconds?: number;
  /** `"cpu"` when timed by process CPU time (`--cpu-time`); wall time otherwise. */
  readonly clock?: "cpu";
  /** Peak heap growth in bytes during one extra run (`--memory` only). */
  peakHeapGrowthBytes?: number;
}

/** GenStage 1.3.2 on OTP 25 on this machine, from issue 6, by label. */
export const genStage: Readonly<Record<string, number>> = {
  "webstage P->C @1000": 29e6,
  "webstage P->C @10": 1.5e6,
  "webstage P->PC->C @1000": 15e6,
  "webstage DemandDispatcher->2 @1000": 38e6,
  "webstage DemandDispatcher->4 @1000": 49e6,
  "webstage BroadcastDispatcher->2 @1000": 20.5e6,
  "webstage PartitionDispatcher(x%4)->4 @1000": 6.5e6,
};

/** The label of the per-event face pipeline (DESIGN §5.1). */
export const FACES = "webstage faces R->PC->C.writable";

type Kind = ReturnType<typeof runtimeKind>;

/**
 * A target: the subject's events per second over a peer row's in the same run
 * (or over a fixed figure) must reach `factor`; `factor: null` shows the ratio
 * for information only.
 */
export interface Target {
  /** The issue that set the target. */
  readonly issue: number;
  readonly subject: string;
  /** The label of the peer row, or the name of a fixed figure. */
  readonly peer: string;
  /** The fixed figure in events/s, when the peer is not a row of the run. */
  readonly figure?: number;
  readonly factor: number | null;
  /** Why the ratio matters, for information rows. */
  readonly note?: string;
  /** The runtime the target applies to; elsewhere the ratio is shown as INFO. */
  readonly onlyOn?: Kind;
}

/** Issue 15 point 4, in the issue's order, then the ratios it cites for information. */
const issue15: readonly Target[] = [
  t("webstage P->C @1000", "web streams batched R->W @1000", 1),
  t("webstage P->C @10", "web streams batched R->W @10", 0.8),
  t("webstage P->PC->C @1000", "web streams batched R->T->W @1000", 0.9),
  t("webstage P->PC->C @10", "web streams batched R->T->W @10", 0.8),
  t("webstage PartitionDispatcher(x%4)->4 @1000", "webstage DemandDispatcher->4 @1000", 0.5),
  t("webstage BroadcastDispatcher->2 @1000", "webstage DemandDispatcher->2 @1000", 0.5),
  t(FACES, "web streams per-event R->T->W", 1),
  // Issue 12 point 3: stats counters move per batch; watching them costs at most 3%.
  t("webstage P->C monitored @1000", "webstage P->C @1000", 0.97, undefined, 12),
  t(
    "web streams batched reader loop @1000",
    "web streams batched R->W @1000",
    null,
    "the room above pipeTo (1.6-3.5x in the issue)",
  ),
  t(
    "web streams batched reader loop @10",
    "web streams batched R->W @10",
    null,
    "the room above pipeTo at 10",
  ),
  t(
    "webstage P->C @1000",
    "web streams batched reader loop @1000",
    null,
    "webstage over the reader loop",
  ),
  t(
    "webstage P->C @10",
    "web streams batched reader loop @10",
    null,
    "webstage over the reader loop",
  ),
  t(
    "webstage PartitionDispatcher(x%4)->4 @1000",
    "web streams batched R->W @1000",
    null,
    "0.08-0.15x of the R->W limit in the issue",
  ),
  t(
    "webstage BroadcastDispatcher->2 @1000",
    "web streams batched R->W @1000",
    null,
    "0.24-0.32x of the R->W limit in the issue",
  ),
  ...Object.entries(genStage).map(([subject, figure]) => ({
    issue: 15,
    subject,
    peer: "GenStage",
    figure,
    factor: 2,
  })),
];

/**
 * Issue 11 point 8: map with 8 calls in flight over a 1 ms wait ≥ 1 × the
 * best of Node's readable.map and the Promise pools; batch(100) ≥ 0.5 ×
 * producer → producer-consumer → consumer at 1000.
 */
const issue11: readonly Target[] = [
  ...BLOCK_LABELS.mapPeers.map((peer) => t(BLOCK_LABELS.map, peer, 1, undefined, 11)),
  t(BLOCK_LABELS.batch, "webstage P->PC->C @1000", 0.5, undefined, 11),
  t(
    BLOCK_LABELS.batch,
    BLOCK_LABELS.handBatch,
    null,
    "batch over a hand-written batching stage",
    11,
  ),
];

function t(
  subject: string,
  peer: string,
  factor: number | null,
  note?: string,
  issue = 15,
): Target {
  return note === undefined
    ? { issue, subject, peer, factor }
    : { issue, subject, peer, factor, note };
}

/** Every target for this runtime: issue 15's, issue 11's, then those of issue 6 not replaced by them. */
export function targets(scenarios: readonly Scenario[], kind: Kind): Target[] {
  const issue6: Target[] = [];
  for (const scenario of scenarios) {
    if (scenario.perEventPeer === undefined || scenario.maxDemand !== 1000) continue;
    issue6.push(t(label(scenario), scenario.perEventPeer, 50, undefined, 6));
  }
  issue6.push({
    issue: 6,
    subject: "webstage P->C @10",
    peer: "2 M/s",
    figure: 2e6,
    factor: 1,
    onlyOn: "node20",
    ...(kind === "node20" ? {} : { note: "applies to Node 20 only" }),
  });
  issue6.push(
    t(
      "webstage P->PC->C @1000",
      "Effect Stream range->map->runSum",
      kind === "bun" ? 1 : 0.5,
      undefined,
      6,
    ),
  );
  return [...issue15, ...issue11, ...issue6];
}

/** The labels a subject's targets compare it with: measured along with it. */
export function peersOf(all: readonly Target[], subject: string): string[] {
  return all.filter((x) => x.subject === subject && x.figure === undefined).map((x) => x.peer);
}

export type Status = "PASS" | "MISS" | "INFO" | "n/a";

/** A target checked on one run, as printed and as written with `--json`. */
export interface Verdict {
  readonly kind: "ratio";
  readonly runtime: string;
  readonly issue: number;
  readonly status: Status;
  readonly subject: string;
  readonly peer: string;
  /** The least ratio that meets the target; null for information. */
  readonly factor: number | null;
  /** Subject events/s over the peer's (ratio of the medians); null when not measured. */
  readonly ratio: number | null;
  /** The lowest and highest ratio of one round (subject and peer run back to back). */
  readonly roundRatios: { readonly min: number; readonly max: number } | null;
  readonly subjectEventsPerSecond: number | null;
  readonly peerEventsPerSecond: number | null;
  readonly note?: string;
}

/** The events/s of each timed run of a row. */
function rates(row: Row): number[] {
  return row.runSeconds.map((seconds) => row.n / seconds);
}

/**
 * Checks every target on the rows of this run. `skipped` gives, by label,
 * why a scenario did not run (shown for `n/a` verdicts).
 */
export function verdicts(
  all: readonly Target[],
  rows: ReadonlyMap<string, Row>,
  skipped: ReadonlyMap<string, string>,
  runtime: string,
  kind: Kind,
): Verdict[] {
  return all.map((target): Verdict => {
    const subject = rows.get(target.subject);
    const peer = target.figure === undefined ? rows.get(target.peer) : undefined;
    const base = {
      kind: "ratio" as const,
      runtime,
      issue: target.issue,
      subject: target.subject,
      peer: target.peer,
      factor: target.factor,
      ...(target.note === undefined ? {} : { note: target.note }),
    };
    const peerRate = target.figure ?? peer?.eventsPerSecond;
    if (subject === undefined || peerRate === undefined) {
      const why = [target.subject, target.peer].map((name) => skipped.get(name)).find((x) => x);
      return {
        ...base,
        status: "n/a",
        ratio: null,
        roundRatios: null,
        subjectEventsPerSecond: subject?.eventsPerSecond ?? null,
        peerEventsPerSecond: peerRate ?? null,
        note: why ?? "not measured in this run",
      };
    }
    const ratio = subject.eventsPerSecond / peerRate;
    const a = rates(subject);
    const b = peer === undefined ? a.map(() => peerRate) : rates(peer);
    const perRound = a.slice(0, Math.min(a.length, b.length)).map((rate, i) => rate / b[i]);
    return {
      ...base,
      status: target.factor === null || (target.onlyOn !== undefined && target.onlyOn !== kind)
        ? "INFO"
        : ratio >= target.factor
        ? "PASS"
        : "MISS",
      ratio,
      roundRatios: perRound.length === 0
        ? null
        : { min: Math.min(...perRound), max: Math.max(...perRound) },
      subjectEventsPerSecond: subject.eventsPerSecond,
      peerEventsPerSecond: peerRate,
    };
  });
}

/** One verdict as a table line: status, target, ratio, per-round range, rates. */
export function verdictLine(v: Verdict): string {
  const target = `${v.subject} ${v.factor === null ? "/" : `>= ${v.factor} x`} ${v.peer}`;
  const ratio = v.ratio === null ? "" : `${v.ratio.toFixed(2)}x`;
  const range = v.roundRatios === null
    ? ""
    : `[${v.roundRatios.min.toFixed(2)}-${v.roundRatios.max.toFixed(2)}]`;
  const figures = v.subjectEventsPerSecond === null || v.peerEventsPerSecond === null
    ? ""
    : `${formatRate(v.subjectEventsPerSecond)} / ${formatRate(v.peerEventsPerSecond)}`;
  return `  ${v.status.padEnd(4)}  ${target.padEnd(92)} ${ratio.padStart(7)} ${
    range.padEnd(11)
  }  ${figures}${v.note === undefined ? "" : `  (${v.note})`}`;
}
