// The `--memory` stall test of issue 6: a source split into two readers, one
// of which stalls for a while. webstage's `broadcast` holds the fast reader
// back (at most maxDemand events per output); `tee()` buffers everything the
// fast reader reads for the stalled one.

import { collect, HeapPeak, heapUsed, rss, sleep, type Tally } from "./measure.ts";
import { eventSource, once, readSum } from "./scenario.ts";

export interface StallResult {
  /** Heap growth over the baseline once the stall ends, after a forced GC if one is available. */
  readonly retainedBytes: number;
  /** The highest heap reading while the fast reader ran, over the baseline (garbage included). */
  readonly peakBytes: number;
  /** Resident set growth once the stall ends (sees memory kept outside the JS heap too). */
  readonly rssBytes: number;
  /** Events the fast reader had read when the stall ended. */
  readonly readDuringStall: number;
}

/**
 * Splits a per-event source of `n` integers with `split`, reads the first
 * output at once and the second only after `stallMs`, and measures the heap
 * when the stall ends. Throws if either reader sees a wrong count or sum.
 */
export async function stall(
  split: (source: ReadableStream<number>) => ReadableStream<number>[],
  n: number,
  stallMs: number,
): Promise<StallResult> {
  const meter = new HeapPeak(256);
  const rssBefore = rss() ?? 0;
  const outputs = split(eventSource(n));
  const fast: Tally = { count: 0, sum: 0 };
  const slow: Tally = { count: 0, sum: 0 };
  const fastDone = readSum(outputs[0], fast, meter.probe);
  // A fast reader that never yields to timers (tee) delays this until it is done.
  await sleep(stallMs);
  const readDuringStall = fast.count;
  const peakBytes = meter.growth();
  collect();
  const retainedBytes = (heapUsed() ?? 0) - meter.baseline;
  const rssBytes = (rss() ?? 0) - rssBefore;
  await Promise.all([fastDone, readSum(outputs[1], slow, meter.probe)]);
  const expected = once(n);
  for (const [name, tally] of [["fast", fast], ["stalled", slow]] as const) {
    if (tally.count !== expected.count || tally.sum !== expected.sum) {
      throw new Error(
        `Wrong result from the ${name} reader: count ${tally.count} (expected ${expected.count}), ` +
          `sum ${tally.sum} (expected ${expected.sum})`,
      );
    }
  }
  return { retainedBytes, peakBytes, rssBytes, readDuringStall };
}
