// A seeded chaos run over the whole chain, shared by tests/chaos_chain_test.ts
// (a few seeds) and scripts/chaos.ts (`npm run chaos -- --seeds 1000`).
//
//   outer Supervisor (one_for_one)
//   ├─ source    Producer: 0..events-1 on demand (handleDemand may crash)
//   └─ pipeline  Supervisor (the strategy under test)
//      ├─ stage  ProducerConsumer, PartitionDispatcher of 3 (may crash)
//      ├─ p0     Consumer of partition 0  ┐ the partitioned consumers
//      ├─ p1     Consumer of partition 1  ┘ (may crash)
//      ├─ relay  ProducerConsumer of partition 2, BroadcastDispatcher (may crash)
//      ├─ tap0   Consumer of relay        ┐ the broadcast consumers
//      └─ tap1   Consumer of relay        ┘ (may crash)
//
// Every link has `redeliver`. Each event must be handled at least once by the
// stage that owns it: p0 (n % 3 = 0), p1 (n % 3 = 1) or relay (n % 3 = 2);
// without crashes, exactly once, and each tap sees every event of partition
// 2 exactly once. Events the source had emitted and nobody had handled when
// the source itself stopped are excused: redelivery needs the producer. The
// broadcast consumers' own losses are counted and reported but not held
// against the run: a BroadcastDispatcher drops what a failed subscription
// gives back (the others already have it), so a tap that crashes or that a
// restart stops misses what it held (see the report that came with this).
// Web-platform only: runs on every lane.

import {
  BroadcastDispatcher,
  Consumer,
  PartitionDispatcher,
  Producer,
  ProducerConsumer,
  Supervisor,
  type SupervisorChildren,
  type SupervisorStrategy,
} from "../mod.ts";
import { seeded } from "./_supervision.ts";
import { ranges } from "./_tally.ts";

/** The settings of one run. */
export interface ChaosOptions {
  readonly seed: number;
  readonly strategy: SupervisorStrategy;
  /** Events the source produces. */
  readonly events: number;
  /** The chance that one callback call crashes its stage. */
  readonly crashRate: number;
  /**
   * The chance that one handleDemand call crashes the source. Events the
   * source had emitted and nobody had handled when it stopped are excused,
   * which also excuses the events the chain lost before: keep it 0 (the
   * default) to hold the chain to every event.
   */
  readonly sourceCrashRate?: number;
}

/** Demand and bounds of the chain: memory must stay within these whatever happens. */
export const LIMITS = {
  upstream: { maxDemand: 40, minDemand: 20 },
  downstream: { maxDemand: 10, minDemand: 5 },
  sourceBuffer: 200,
  maxBacklog: 60,
} as const;

/** Kinds of stage that crash. */
export type CrashKind = "source" | "stage" | "partitioned" | "relay" | "broadcast";

/** What one run did and saw. */
export interface ChaosResult {
  readonly options: ChaosOptions;
  /** Events the source emitted (all of them unless the run stalled). */
  readonly emitted: number;
  /** Events emitted and never handled by the stage that owns them, and not excused: the chain lost them. */
  readonly lost: number[];
  /** Events lost with a source that stopped (redelivery needs the producer). */
  readonly excused: number;
  /** Events handled more than once by their owner. */
  readonly duplicated: number;
  /** Events of partition 2 each broadcast consumer never saw (reported, not held against the run). */
  readonly broadcastMissed: readonly [number, number];
  /** Events of partition 2 a broadcast consumer saw more than once. */
  readonly broadcastDuplicated: number;
  readonly crashes: Readonly<Record<CrashKind, number>>;
  readonly starts: Readonly<Record<string, number>>;
  /** The run ended because nothing moved any more, not because every event got through. */
  readonly stalled: boolean;
  /** When stalled: what each partition's backlog and each buffer held then. */
  readonly stallState: string;
  /** How the supervisor ended: "normal" or the reason's text. */
  readonly ending: string;
  /** The largest buffer or backlog seen, by place. */
  readonly peaks: Readonly<Record<"source" | "stage" | "backlog" | "relay", number>>;
  /** Broken memory bounds, described. */
  readonly overflows: readonly string[];
}

/**
 * The bounds `peaks` must respect: constants of the chain, never of the
 * number of events. A buffer may hold twice what the chain's demands and
 * backlogs admit in all (an event can come back from two places: the
 * consumer that held it and the producer-consumer that had not counted it
 * as handled); a partition's backlog may pass `maxBacklog` by the demand
 * asked for before it filled and what its subscriber gives back.
 *
 * What comes back to the source when the stage fails is what the stage had
 * not acknowledged, and it acknowledges its input in order: the oldest event
 * still held anywhere downstream (a partition's backlog, the relay, the taps
 * behind the relay, which pin the relay's own acknowledgements) pins every
 * event the stage received after it, while the other partitions flow on. So
 * it is bounded by all the stage and its three partitions' subtrees can hold
 * at once (its buffer's bound; for each partition its backlog with the
 * overshoot above and, for the worst, the relay and the taps) plus an ask,
 * and may come back twice. Seen: up to 1 200 events at the source in 1 900
 * seeds over the strategies, 1 340 in 1 000 seeds at twice the crash rate,
 * the same with 10 and 30 times the events.
 */
export function bounds(): Record<"source" | "stage" | "backlog" | "relay", number> {
  const { upstream, downstream, sourceBuffer, maxBacklog } = LIMITS;
  const chain = upstream.maxDemand + 3 * (maxBacklog + downstream.maxDemand) +
    2 * downstream.maxDemand;
  const stage = 2 * chain;
  const backlog = maxBacklog + upstream.maxDemand + downstream.maxDemand;
  const relay = downstream.maxDemand + 3 * downstream.maxDemand + 2 * downstream.maxDemand;
  const unacknowledged = stage + 3 * (backlog + relay) + upstream.maxDemand;
  return {
    source: sourceBuffer + 2 * unacknowledged,
    stage,
    backlog,
    relay: 3 * downstream.maxDemand,
  };
}

/** Turns of the event loop with nothing moving after which a run counts as stalled. */
const IDLE_TURNS = 50;

function macrotask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Runs the chain once under `options` and counts every event. */
export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const { events: total, crashRate, strategy } = options;
  const random = seeded(options.seed);
  const { upstream, downstream, sourceBuffer, maxBacklog } = LIMITS;
  const owned = new Uint32Array(total);
  const taps = [new Uint32Array(total), new Uint32Array(total)];
  const excused = new Uint8Array(total);
  /** Owned events not yet handled once. */
  let remaining = total;
  let next = 0;
  /** Bumped by every callback and start: the run is stalled when it stops moving. */
  let activity = 0;
  let draining = false;
  const crashes: Record<CrashKind, number> = {
    source: 0,
    stage: 0,
    partitioned: 0,
    relay: 0,
    broadcast: 0,
  };
  const starts: Record<string, number> = {};
  const peaks = { source: 0, stage: 0, backlog: 0, relay: 0 };
  let source: Producer<number> | undefined;
  let stage: ProducerConsumer<number, number> | undefined;
  let partitions: PartitionDispatcher<number, number> | undefined;
  let relay: ProducerConsumer<number, number> | undefined;

  const sample = () => {
    activity++;
    if (source !== undefined) peaks.source = Math.max(peaks.source, source.bufferedCount);
    if (stage !== undefined) peaks.stage = Math.max(peaks.stage, stage.bufferedCount);
    if (relay !== undefined) peaks.relay = Math.max(peaks.relay, relay.bufferedCount);
    if (partitions !== undefined) {
      for (const size of partitions.backlogSizes().values()) {
        peaks.backlog = Math.max(peaks.backlog, size);
      }
    }
  };
  const own = (events: readonly number[]) => {
    for (const event of events) if (owned[event]++ === 0) remaining--;
  };
  /** Whether this call crashes its stage (never while draining). */
  const crash = (kind: CrashKind): boolean => {
    const rate = kind === "source" ? options.sourceCrashRate ?? 0 : crashRate;
    if (draining || !(random() < rate)) return false;
    crashes[kind]++;
    return true;
  };
  /** Sometimes let other stages (and restarts) run in between. */
  const interleave = async () => {
    const r = random();
    if (r < 0.5) return;
    if (r < 0.9) await Promise.resolve();
    else await macrotask();
  };
  const started = (id: string) => {
    activity++;
    starts[id] = (starts[id] ?? 0) + 1;
  };
  const link = (extra: object = {}) => ({ ...downstream, ...extra, redeliver: true });

  const startSource = () => {
    started("source");
    const from = next;
    const instance: Producer<number> = new Producer<number>({
      bufferSize: sourceBuffer,
      handleDemand: (demand) => {
        sample();
        if (crash("source")) {
          if (random() < 0.5) throw new Error("source crashed");
          return Promise.reject(new Error("source crashed"));
        }
        const out: number[] = [];
        while (out.length < demand && next < total) out.push(next++);
        if (next === total) draining = true;
        return out;
      },
    });
    // Redelivery needs the producer: when it crashes, what it emitted and nobody had handled is excused.
    instance.closed.catch(() => {
      for (let event = from; event < next; event++) if (owned[event] === 0) excused[event] = 1;
    });
    return source = instance;
  };

  const partitioned = (index: 0 | 1) => (children: SupervisorChildren) => {
    started(`p${index}`);
    return new Consumer<number>({
      subscribeTo: [[
        children.get<ProducerConsumer<number, number>>("stage")!,
        link({
          partition: index,
        }),
      ]],
      handleEvents: async (events) => {
        sample();
        await interleave();
        if (crash("partitioned")) {
          own(events.slice(0, Math.floor(random() * events.length)));
          throw new Error(`p${index} crashed`);
        }
        own(events);
      },
    });
  };

  const tap = (index: 0 | 1) => (children: SupervisorChildren) => {
    started(`tap${index}`);
    const seen = taps[index];
    return new Consumer<number>({
      subscribeTo: [[children.get<ProducerConsumer<number, number>>("relay")!, link()]],
      handleEvents: async (events) => {
        sample();
        await interleave();
        if (crash("broadcast")) throw new Error(`tap${index} crashed`);
        for (const event of events) seen[event]++;
      },
    });
  };

  const pipeline = (outer: SupervisorChildren) =>
    new Supervisor({
      strategy,
      maxRestarts: 100_000,
      maxSeconds: 3600,
      shutdownMs: 1000,
      children: [
        {
          id: "stage",
          start: () => {
            started("stage");
            partitions = new PartitionDispatcher({
              partitions: 3,
              hash: (n: number) => n % 3,
              maxBacklog,
            });
            return stage = new ProducerConsumer<number, number>({
              dispatcher: partitions,
              subscribeTo: [[outer.get<Producer<number>>("source")!, {
                ...upstream,
                redeliver: true,
              }]],
              handleEvents: async (events) => {
                sample();
                await interleave();
                if (crash("stage")) throw new Error("stage crashed");
                return events;
              },
            });
          },
        },
        { id: "p0", start: partitioned(0) },
        { id: "p1", start: partitioned(1) },
        {
          id: "relay",
          start: (children) => {
            started("relay");
            return relay = new ProducerConsumer<number, number>({
              dispatcher: new BroadcastDispatcher<number>(),
              subscribeTo: [[
                children.get<ProducerConsumer<number, number>>("stage")!,
                link({
                  partition: 2,
                }),
              ]],
              handleEvents: async (events) => {
                sample();
                await interleave();
                if (crash("relay")) throw new Error("relay crashed");
                own(events);
                return events;
              },
            });
          },
        },
        { id: "tap0", start: tap(0) },
        { id: "tap1", start: tap(1) },
      ],
    });

  const supervisor = new Supervisor({
    maxRestarts: 100_000,
    maxSeconds: 3600,
    shutdownMs: 1000,
    children: [
      { id: "source", start: startSource },
      { id: "pipeline", start: pipeline },
    ],
  });

  let stalled = false;
  let stallState = "";
  for (let idle = 0, last = -1; remaining > 0; last = activity) {
    await macrotask();
    idle = activity === last ? idle + 1 : 0;
    if (idle >= IDLE_TURNS) {
      stalled = true;
      stallState = `backlogs ${[...(partitions?.backlogSizes().values() ?? [])].join("/")}, ` +
        `buffered source ${source?.bufferedCount} stage ${stage?.bufferedCount} relay ${relay?.bufferedCount}`;
      break;
    }
  }
  draining = true;
  // Let the taps catch up with the relay before closing.
  for (let idle = 0, last = -1; idle < 5; last = activity) {
    await macrotask();
    idle = activity === last ? idle + 1 : 0;
  }
  await supervisor.close();
  const ending = await supervisor.closed.then(() => "normal", (reason) => String(reason));

  const lost: number[] = [];
  let excusedCount = 0;
  let duplicated = 0;
  let broadcastDuplicated = 0;
  const broadcastMissed: [number, number] = [0, 0];
  for (let event = 0; event < next; event++) {
    if (owned[event] === 0) {
      if (excused[event] === 1) excusedCount++;
      else lost.push(event);
    } else if (owned[event] > 1) duplicated++;
    if (event % 3 === 2) {
      for (const index of [0, 1] as const) {
        const count = taps[index][event];
        if (count === 0) broadcastMissed[index]++;
        else if (count > 1) broadcastDuplicated++;
      }
    }
  }
  const limit = bounds();
  const overflows = (Object.keys(limit) as Array<keyof typeof limit>)
    .filter((place) => peaks[place] > limit[place])
    .map((place) => `${place} held ${peaks[place]} (bound ${limit[place]})`);
  return {
    options,
    emitted: next,
    lost,
    excused: excusedCount,
    duplicated,
    broadcastMissed,
    broadcastDuplicated,
    crashes,
    starts,
    // Nothing moved any more before the source had emitted everything: a stall, not only a loss.
    stalled: stalled && next < total,
    stallState,
    ending,
    peaks,
    overflows,
  };
}

/** One line describing a run: "seed 7 rest_for_one: lost 25 (275..299), …". */
export function describeRun(result: ChaosResult): string {
  const { seed, strategy } = result.options;
  const crashes = Object.values(result.crashes).reduce((a, b) => a + b, 0);
  const parts = [
    `seed ${seed} ${strategy}:`,
    result.lost.length > 0 ? `lost ${result.lost.length} (${ranges(result.lost)})` : "lost 0",
    `excused ${result.excused}`,
    `duplicated ${result.duplicated}`,
    `crashes ${crashes} (${
      Object.entries(result.crashes).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(
        ", ",
      ) || "none"
    })`,
    `broadcast missed ${result.broadcastMissed.join("/")}`,
    `peaks ${Object.entries(result.peaks).map(([k, n]) => `${k} ${n}`).join(", ")}`,
  ];
  if (result.stalled) {
    parts.push(
      `STALLED after ${result.emitted} of ${result.options.events} emitted (${result.stallState})`,
    );
  }
  if (result.ending !== "normal") parts.push(`ended: ${result.ending}`);
  if (result.overflows.length > 0) parts.push(`OVERFLOW ${result.overflows.join("; ")}`);
  return parts.join(", ").replace(":,", ":");
}

/** Whether a run kept every promise: nothing lost, memory bounded, a normal end. */
export function passed(result: ChaosResult): boolean {
  return result.lost.length === 0 && !result.stalled && result.overflows.length === 0 &&
    result.ending === "normal";
}
