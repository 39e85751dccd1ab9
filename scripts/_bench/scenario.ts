// The shape every benchmark scenario shares, webstage's and the peers'.

import type { Probe, Tally } from "./measure.ts";

/** One pipeline measured on the integers 0..n-1. */
export interface Scenario {
  /** The name shown in the table and the JSON, without the maxDemand. */
  readonly name: string;
  /** The batch bound of the scenario, or null when it has none. */
  readonly maxDemand: number | null;
  /**
   * The share of `--n` this scenario runs on: slow pipelines (per-event
   * streams, maxDemand 10) take fewer events so a full run stays short.
   */
  readonly scale: number;
  /** The label of the peer row its ratio is taken against, if any. */
  readonly peer?: string;
  /** The label of the per-event web-streams pipeline of the same topology, if any. */
  readonly perEventPeer?: string;
  /** A reason to skip the scenario (a missing export or module), if any. */
  skip?(): string | undefined;
  /** The count and sum a correct run consumes. */
  expect(n: number): Tally;
  /** Runs the pipeline once over `n` events and returns what was consumed. */
  run(n: number, probe: Probe): Promise<Tally>;
  /**
   * Builds the pipeline without running it (workers started and ready, say)
   * and returns the part to time; when present, it is used instead of `run`.
   */
  prepare?(n: number, probe: Probe): Promise<() => Promise<Tally>>;
}

/** The name with the maxDemand: the key of rows, peers and the filter. */
export function label(scenario: Pick<Scenario, "name" | "maxDemand">): string {
  return scenario.maxDemand === null ? scenario.name : `${scenario.name} @${scenario.maxDemand}`;
}

/** 0..n-1 consumed once. */
export function once(n: number): Tally {
  return { count: n, sum: (n * (n - 1)) / 2 };
}

/** 0..n-1 doubled (x*2) and consumed once. */
export function doubled(n: number): Tally {
  return { count: n, sum: n * (n - 1) };
}

/** 0..n-1 consumed by each of `copies` consumers. */
export function copies(n: number, copies: number): Tally {
  return { count: n * copies, sum: (copies * n * (n - 1)) / 2 };
}

/** Sums a batch into `tally`: the consumers' work in every scenario. */
export function sumInto(tally: Tally, events: readonly number[]): void {
  let sum = tally.sum;
  for (let i = 0; i < events.length; i++) sum += events[i];
  tally.sum = sum;
  tally.count += events.length;
}

/** The integers from..from+length-1 in a preallocated array. */
export function integers(from: number, length: number): number[] {
  const out = new Array<number>(length);
  for (let i = 0; i < length; i++) out[i] = from + i;
  return out;
}

/** The batch with every event doubled, in a preallocated array. */
export function double(events: readonly number[]): number[] {
  const out = new Array<number>(events.length);
  for (let i = 0; i < events.length; i++) out[i] = events[i] * 2;
  return out;
}

/** A ReadableStream of 0..n-1, one event per chunk and per pull (default strategy). */
export function singleSource(n: number): ReadableStream<number> {
  let next = 0;
  return new ReadableStream<number>({
    pull(controller) {
      controller.enqueue(next++);
      if (next === n) controller.close();
    },
  });
}

/** A per-event ReadableStream of 0..n-1 that fills its queue (HWM 1000) on each pull. */
export function eventSource(n: number): ReadableStream<number> {
  let next = 0;
  return new ReadableStream<number>({
    pull(controller) {
      const end = Math.min(n, next + Math.max(1, controller.desiredSize ?? 1));
      while (next < end) controller.enqueue(next++);
      if (next === n) controller.close();
    },
  }, { highWaterMark: 1000 });
}

/** Reads a stream of numbers to its end with a reader, summing into `tally`. */
export async function readSum(
  stream: ReadableStream<number>,
  tally: Tally,
  probe: Probe,
): Promise<void> {
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    tally.count++;
    tally.sum += value;
    probe();
  }
}
