// The building blocks of issue 11 against what users reach for instead:
//
// - map with 8 calls in flight over an async function that waits a fixed
//   1 ms per event, next to Node's `readable.map(fn, { concurrency: 8 })`, a
//   p-map-style pool (8 runners, each starting the next call as its own
//   finishes) and Promise.all over groups of 8. Timer-bound: the figure is
//   how well each keeps 8 calls in flight (at best about 8 per millisecond).
// - batch({ size: 100 }) between a producer and a consumer, next to a
//   producer-consumer that does nothing but pass its events on (the target)
//   and a hand-written batching producer-consumer (for information).

import * as webstage from "../../mod.ts";
import type { Probe, Tally } from "./measure.ts";
import { integers, once, type Scenario, sumInto } from "./scenario.ts";
import { nodeStreamModule } from "./peers.ts";
import { rangeProducer } from "./webstage.ts";

const CONCURRENCY = 8;

/** The awaited work of the map scenarios: the event back after 1 ms. */
function wait1ms(event: number): Promise<number> {
  return new Promise((resolve) => setTimeout(() => resolve(event), 1));
}

function add(tally: Tally, event: number): void {
  tally.count++;
  tally.sum += event;
}

/** The share of `--n` the timer-bound map scenarios take: 2 500 events at the default 5 M. */
const MAP_SCALE = 0.0005;
const MAP = `webstage map(wait 1 ms, concurrency ${CONCURRENCY})`;

const webstageMap: Scenario = {
  name: MAP,
  maxDemand: null,
  scale: MAP_SCALE,
  peer: `Promise pool, p-map style (concurrency ${CONCURRENCY})`,
  expect: once,
  async run(n, probe) {
    const tally = { count: 0, sum: 0 };
    const mapper = webstage.map(wait1ms, {
      concurrency: CONCURRENCY,
      subscribeTo: [rangeProducer(n)],
    });
    await new webstage.Consumer<number>({
      subscribeTo: [mapper],
      handleEvents(events) {
        sumInto(tally, events);
        probe();
      },
    }).closed;
    return tally;
  },
};

const nodeMap: Scenario = {
  name: `node:stream readable.map(wait 1 ms, { concurrency: ${CONCURRENCY} })`,
  maxDemand: null,
  scale: MAP_SCALE,
  skip() {
    const stream = nodeStreamModule();
    if (stream === undefined) return "this runtime has no node:stream: scenario skipped";
    if (typeof stream.Readable.prototype.map !== "function") {
      return "this runtime's node:stream Readable has no map(): scenario skipped";
    }
    return undefined;
  },
  expect: once,
  async run(n, probe) {
    const tally = { count: 0, sum: 0 };
    const { Readable } = nodeStreamModule();
    const source = Readable.from(
      (function* () {
        for (let i = 0; i < n; i++) yield i;
      })(),
    );
    for await (const event of source.map(wait1ms, { concurrency: CONCURRENCY })) {
      add(tally, event as number);
      probe();
    }
    return tally;
  },
};

/** p-map's algorithm: results in input order, a new call as soon as any finishes. */
const promisePool: Scenario = {
  name: `Promise pool, p-map style (concurrency ${CONCURRENCY})`,
  maxDemand: null,
  scale: MAP_SCALE,
  expect: once,
  async run(n, probe) {
    const results = new Array<number>(n);
    let next = 0;
    const runner = async () => {
      while (next < n) {
        const index = next++;
        results[index] = await wait1ms(index);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, runner));
    const tally = { count: 0, sum: 0 };
    sumInto(tally, results);
    probe();
    return tally;
  },
};

const promiseAllGroups: Scenario = {
  name: `Promise.all per group of ${CONCURRENCY}`,
  maxDemand: null,
  scale: MAP_SCALE,
  expect: once,
  async run(n, probe) {
    const tally = { count: 0, sum: 0 };
    for (let from = 0; from < n; from += CONCURRENCY) {
      const group = integers(from, Math.min(CONCURRENCY, n - from));
      sumInto(tally, await Promise.all(group.map(wait1ms)));
      probe();
    }
    return tally;
  },
};

/** A consumer that sums the batches `batch` sends. */
function batchSummer(
  tally: Tally,
  probe: Probe,
  source: webstage.Source<number[]>,
): webstage.Consumer<number[]> {
  return new webstage.Consumer<number[]>({
    subscribeTo: [source],
    handleEvents(batches) {
      for (const events of batches) sumInto(tally, events);
      probe();
    },
  });
}

const BATCH = "webstage P->batch(size 100)->C";

const batchScenario: Scenario = {
  name: BATCH,
  maxDemand: 1000,
  scale: 1,
  peer: "webstage P->PC->C @1000",
  expect: once,
  async run(n, probe) {
    const tally = { count: 0, sum: 0 };
    const batcher = webstage.batch<number>({
      size: 100,
      subscribeTo: [[rangeProducer(n), { maxDemand: 1000 }]],
    });
    await batchSummer(tally, probe, batcher).closed;
    return tally;
  },
};

const handBatchScenario: Scenario = {
  name: "webstage P->hand-written batching PC(100)->C",
  maxDemand: 1000,
  scale: 1,
  expect: once,
  async run(n, probe) {
    const tally = { count: 0, sum: 0 };
    let open: number[] = [];
    const batcher = new webstage.ProducerConsumer<number, number[]>({
      subscribeTo: [[rangeProducer(n), { maxDemand: 1000 }]],
      handleEvents(events) {
        const out: number[][] = [];
        for (const event of events) {
          open.push(event);
          if (open.length === 100) {
            out.push(open);
            open = [];
          }
        }
        return out;
      },
      terminate: () => (open.length > 0 ? [open] : []),
    });
    await batchSummer(tally, probe, batcher).closed;
    return tally;
  },
};

/** The map scenarios, the peers first (as the table shows them). */
export const mapScenarios: readonly Scenario[] = [
  nodeMap,
  promisePool,
  promiseAllGroups,
  webstageMap,
];

/** The batch scenarios (their target's peer, P->PC->C, is in webstage.ts). */
export const batchScenarios: readonly Scenario[] = [batchScenario, handBatchScenario];

/** The labels the targets of issue 11 use. */
export const BLOCK_LABELS = {
  map: MAP,
  mapPeers: [nodeMap.name, promisePool.name, promiseAllGroups.name],
  batch: `${BATCH} @1000`,
  handBatch: `${handBatchScenario.name} @1000`,
} as const;
