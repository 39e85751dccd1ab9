/**
 * What a pipeline is doing: each stage's `stats()` snapshot, and `monitor`,
 * a stream of snapshots of several stages with the topology between them,
 * that any server can send as Server-Sent Events or NDJSON.
 *
 * @module
 */

import * as v from "./_validate.ts";
import { streams } from "./_streams.ts";

/** One upstream subscription of a stage, as `stats()` sees it. */
export interface SubscriptionStats {
  /** The name of the stage it reads (`"writable"` for the stage's own writable). */
  readonly producer: string;
  /** The subscription's `maxDemand`: the most events it holds. */
  readonly maxDemand: number;
  /** Its `minDemand`. */
  readonly minDemand: number;
  /** Events asked for and not yet sent. */
  readonly asked: number;
  /** Events sent and waiting in the subscription's stream. */
  readonly queued: number;
  /** Events read and not yet handled. */
  readonly handling: number;
  /** True for a subscription that has ended (kept so that a finished pipeline keeps its shape). */
  readonly ended?: boolean;
}

/** What a stage is doing now: a plain snapshot, cheap to take (its counters move per batch). */
export interface StageStats {
  /** The stage's name (its `name` option, or its kind and a number). */
  readonly name: string;
  /** Its kind. */
  readonly kind: "Producer" | "ProducerConsumer" | "Consumer" | "ConsumerSupervisor" | "Supervisor";
  /** `"running"`, `"closing"` (a graceful end under way), `"stopped"` (normally) or `"failed"`. */
  readonly state: "running" | "closing" | "stopped" | "failed";
  /** Events handed to `handleEvents` (or to tasks) so far. */
  readonly received: number;
  /** Events sent to its subscribers so far. */
  readonly emitted: number;
  /** Events it holds for lack of demand: its buffer, and what a producer-consumer holds upstream. */
  readonly buffered: number;
  /** Demand asked upstream and not yet received, over every upstream subscription. */
  readonly demand: number;
  /** Downstream demand not yet met (what its subscribers asked for and did not get yet). */
  readonly unmetDemand: number;
  /** How many subscriptions it has, upstream and downstream. */
  readonly subscriptions: { readonly upstream: number; readonly downstream: number };
  /** Each upstream subscription, then (marked `ended`) the last ones that ended. */
  readonly upstream: readonly SubscriptionStats[];
  /** Events it discarded (buffer overflow, or held when it closed with nobody to deliver to). */
  readonly discarded: number;
  /** Restarts (supervisors only). */
  readonly restarts?: number;
  /** The reason of a failure, in words (once `state` is `"failed"`). */
  readonly failure?: string;
  /** A supervisor's children, each with its id. */
  readonly children?: readonly (StageStats & { readonly id: string })[];
}

/** Anything `monitor` can watch: every stage, a `ConsumerSupervisor`, a `Supervisor`. */
export interface Observable {
  /** A snapshot of what it is doing now. */
  stats(): StageStats;
}

/** One stage in a snapshot, with its rates since the previous snapshot. */
export interface StageSnapshot extends StageStats {
  /** Events received per second since the previous snapshot (0 in the first). */
  readonly receivedPerSecond: number;
  /** Events emitted per second since the previous snapshot (0 in the first). */
  readonly emittedPerSecond: number;
}

/** A subscription between two watched stages. */
export interface Edge extends SubscriptionStats {
  /** The consumer's name. */
  readonly consumer: string;
}

/** What `monitor` streams: every watched stage, and the subscriptions among them. */
export interface Snapshot {
  /** When it was taken (`Date.now()`). */
  readonly time: number;
  /** Every watched stage (a supervisor's children in its place). */
  readonly stages: readonly StageSnapshot[];
  /** Every upstream subscription of a watched stage. */
  readonly edges: readonly Edge[];
}

/** Options of {@linkcode monitor}. */
export interface MonitorOptions {
  /**
   * The time between snapshots, in milliseconds; an integer ≥ 1. A reader
   * slower than that gets fewer snapshots, never a backlog.
   *
   * @default {1000}
   */
  readonly intervalMs?: number;
}

/**
 * A `ReadableStream` of snapshots of `stages`: the first at once, then one
 * every `intervalMs` as the reader reads (a slow reader gets fewer, never a
 * backlog). Each has every stage's `stats()` with its rates, and the
 * subscriptions among them (a supervisor stands for its children). It closes
 * after the first snapshot in which every stage has ended; cancelling it
 * stops the timer.
 *
 * @param stages What to watch: stages, ConsumerSupervisors, Supervisors.
 * @param options `intervalMs`.
 * @returns The stream of snapshots.
 * @throws {TypeError} If a stage has no `stats()` method.
 * @throws {RangeError} If `intervalMs` is not an integer ≥ 1.
 *
 * @example Snapshots of a pipeline, as NDJSON
 * ```ts
 * import { Consumer, monitor, Producer } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * const producer = Producer.from([1, 2, 3], { name: "numbers" });
 * const consumer = new Consumer<number>({ name: "sink", subscribeTo: [producer], handleEvents() {} });
 * const reader = monitor([producer, consumer], { intervalMs: 10 }).getReader();
 * const lines: string[] = []; // NDJSON, as a server would send it
 * let last;
 * for (let r = await reader.read(); !r.done; r = await reader.read()) {
 *   lines.push(JSON.stringify(r.value));
 *   last = r.value;
 * }
 * const first = JSON.parse(lines[0]);
 * assert.deepEqual(first.edges.map((e: { producer: string; consumer: string }) => [e.producer, e.consumer]), [["numbers", "sink"]]);
 * assert.deepEqual(last!.stages.map((s) => [s.name, s.state]), [["numbers", "stopped"], ["sink", "stopped"]]);
 * assert.equal(last!.stages[1].received, 3);
 * ```
 */
export function monitor(
  stages: readonly Observable[],
  options?: MonitorOptions,
): ReadableStream<Snapshot> {
  const action = "monitor stages";
  if (!Array.isArray(stages)) {
    throw new TypeError(v.message(action, "stages", "an array", stages));
  }
  stages.forEach((stage, i) => {
    if (stage === null || typeof stage !== "object" || typeof stage.stats !== "function") {
      throw new TypeError(v.message(action, `stages[${i}]`, "a stage with stats()", stage));
    }
  });
  const o = v.options<MonitorOptions>(action, "options", options);
  const intervalMs = v.integer(action, "intervalMs", o.intervalMs ?? 1000, 1);
  /** The last snapshot's counters and when (performance.now(): finer than Date.now()). */
  let previous: { at: number; byName: Map<string, StageStats> } | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let wake: (() => void) | undefined;
  const take = (): Snapshot => {
    const time = Date.now();
    const at = performance.now();
    const all = stages.flatMap(expand);
    const seconds = previous === undefined ? 0 : (at - previous.at) / 1000;
    const snapshot: Snapshot = {
      time,
      stages: all.map((stats) => {
        const before = previous?.byName.get(stats.name);
        const rate = (now: number, then: number | undefined) =>
          before === undefined || seconds <= 0 ? 0 : Math.max(0, now - (then ?? 0)) / seconds;
        return {
          ...stats,
          receivedPerSecond: rate(stats.received, before?.received),
          emittedPerSecond: rate(stats.emitted, before?.emitted),
        };
      }),
      edges: all.flatMap((stats) =>
        stats.upstream.map((subscription) => ({ ...subscription, consumer: stats.name }))
      ),
    };
    // Where the clock has not moved (workerd within a request), what moved
    // counts towards the next snapshot's rates instead of being lost.
    if (previous === undefined || seconds > 0) {
      previous = { at, byName: new Map(all.map((stats) => [stats.name, stats])) };
    }
    return snapshot;
  };
  return new streams.ReadableStream<Snapshot>({
    async pull(controller) {
      if (previous !== undefined) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, intervalMs);
        });
        wake = undefined;
      }
      const snapshot = take();
      controller.enqueue(snapshot);
      if (snapshot.stages.every((stats) => stats.state === "stopped" || stats.state === "failed")) {
        controller.close();
      }
    },
    cancel() {
      clearTimeout(timer);
      wake?.();
    },
  }, { highWaterMark: 0 });
}

/** A stage's stats, or a supervisor's children's in its place. */
function expand(stage: Observable): StageStats[] {
  const stats = stage.stats();
  if (stats.children === undefined) return [stats];
  return [
    stats,
    ...stats.children.flatMap((
      child,
    ) => (child.children ? expand({ stats: () => child }) : [child])),
  ];
}
