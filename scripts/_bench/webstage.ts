// webstage's scenarios: GenStage's own benchmark topologies. The producer
// emits exactly the demand (the next `demand` integers, built with a
// preallocated loop) until n, then closes; consumers sum.

import type { Dispatcher } from "../../mod.ts";
import * as webstage from "../../mod.ts";
import type { Probe, Tally } from "./measure.ts";
import {
  copies,
  double,
  doubled,
  eventSource,
  integers,
  once,
  readSum,
  type Scenario,
  singleSource,
  sumInto,
} from "./scenario.ts";

/** Exports still being written elsewhere: looked up at run time, skipped if absent. */
interface Pending {
  BroadcastDispatcher?: new () => Dispatcher<number>;
  PartitionDispatcher?: new (options: {
    partitions: number;
    hash: (event: number) => unknown;
  }) => Dispatcher<number>;
  broadcast?: (
    source: ReadableStream<number>,
    count: number,
    options?: { maxDemand?: number },
  ) => ReadableStream<number>[];
}

const pending = webstage as unknown as Pending;

function missing(name: keyof Pending): () => string | undefined {
  return () =>
    pending[name] === undefined
      ? `mod.ts does not export ${name} yet: scenario skipped`
      : undefined;
}

/**
 * A producer of 0..n-1 that answers each ask with exactly the demand.
 * `accumulate` holds the asks until `setDemandMode("forward")`, so that every
 * consumer has subscribed before the first event flows (a BroadcastDispatcher
 * sends each event to the subscriptions present when it is dispatched).
 */
export function rangeProducer(
  n: number,
  dispatcher?: Dispatcher<number>,
  accumulate = false,
): webstage.Producer<number> {
  let next = 0;
  const producer: webstage.Producer<number> = new webstage.Producer<number>({
    dispatcher,
    demand: accumulate ? "accumulate" : "forward",
    handleDemand(demand) {
      const length = Math.min(demand, n - next);
      const events = integers(next, length);
      next += length;
      if (next === n) producer.close();
      return events;
    },
  });
  return producer;
}

/** A consumer that sums into `tally`. */
function summer(
  tally: Tally,
  probe: Probe,
  source: webstage.Source<number>,
  options: webstage.SubscribeOptions<number>,
): webstage.Consumer<number> {
  return new webstage.Consumer<number>({
    subscribeTo: [[source, options]],
    handleEvents(events) {
      sumInto(tally, events);
      probe();
    },
  });
}

async function closedAll(consumers: webstage.Consumer<number>[]): Promise<void> {
  for (const consumer of consumers) await consumer.closed;
}

function producerConsumer(maxDemand: number): Scenario {
  return {
    name: "webstage P->C",
    maxDemand,
    scale: maxDemand >= 100 ? 1 : 0.1,
    peer: `web streams batched R->W @${maxDemand}`,
    perEventPeer: "web streams per-event R->W",
    expect: once,
    async run(n, probe) {
      const tally = { count: 0, sum: 0 };
      await summer(tally, probe, rangeProducer(n), { maxDemand }).closed;
      return tally;
    },
  };
}

/**
 * P->C @1000 watched by `monitor` every 10 ms (a snapshot of both stages'
 * stats() read as it comes): what observing costs, against plain P->C.
 */
const monitoredProducerConsumer: Scenario = {
  name: "webstage P->C monitored",
  maxDemand: 1000,
  scale: 1,
  peer: "webstage P->C @1000",
  expect: once,
  async run(n, probe) {
    const tally = { count: 0, sum: 0 };
    const producer = rangeProducer(n);
    const consumer = summer(tally, probe, producer, { maxDemand: 1000 });
    const snapshots = webstage.monitor([producer, consumer], { intervalMs: 10 }).getReader();
    let taken = 0;
    const watching = (async () => {
      for (let r = await snapshots.read(); !r.done; r = await snapshots.read()) taken++;
    })();
    await consumer.closed;
    await watching;
    if (taken === 0) throw new Error("the monitor took no snapshot");
    return tally;
  },
};

function producerPcConsumer(maxDemand: number): Scenario {
  return {
    name: "webstage P->PC->C",
    maxDemand,
    scale: maxDemand >= 100 ? 1 : 0.1,
    peer: `web streams batched R->T->W @${maxDemand}`,
    perEventPeer: "web streams per-event R->T->W",
    expect: doubled,
    async run(n, probe) {
      const tally = { count: 0, sum: 0 };
      const doubler = new webstage.ProducerConsumer<number, number>({
        subscribeTo: [[rangeProducer(n), { maxDemand }]],
        handleEvents: double,
      });
      await summer(tally, probe, doubler, { maxDemand }).closed;
      return tally;
    },
  };
}

function demandDispatcher(consumers: number): Scenario {
  return {
    name: `webstage DemandDispatcher->${consumers}`,
    maxDemand: 1000,
    scale: 1,
    peer: "web streams batched R->W @1000",
    perEventPeer: `web streams per-event R->${consumers} W (x%${consumers})`,
    expect: once,
    async run(n, probe) {
      const tally = { count: 0, sum: 0 };
      const producer = rangeProducer(n, new webstage.DemandDispatcher());
      const all = Array.from(
        { length: consumers },
        () => summer(tally, probe, producer, { maxDemand: 1000 }),
      );
      await closedAll(all);
      return tally;
    },
  };
}

const broadcastDispatcher: Scenario = {
  name: "webstage BroadcastDispatcher->2",
  maxDemand: 1000,
  scale: 1,
  peer: "webstage DemandDispatcher->2 @1000",
  perEventPeer: "web streams tee()",
  skip: missing("BroadcastDispatcher"),
  expect: (n) => copies(n, 2),
  async run(n, probe) {
    const tally = { count: 0, sum: 0 };
    const producer = rangeProducer(n, new pending.BroadcastDispatcher!(), true);
    const all = [0, 1].map(() => summer(tally, probe, producer, { maxDemand: 1000 }));
    producer.setDemandMode("forward");
    await closedAll(all);
    return tally;
  },
};

const partitionDispatcher: Scenario = {
  name: "webstage PartitionDispatcher(x%4)->4",
  maxDemand: 1000,
  scale: 1,
  peer: "webstage DemandDispatcher->4 @1000",
  perEventPeer: "web streams per-event R->4 W (x%4)",
  skip: missing("PartitionDispatcher"),
  expect: once,
  async run(n, probe) {
    const tally = { count: 0, sum: 0 };
    const dispatcher = new pending.PartitionDispatcher!({ partitions: 4, hash: (x) => x % 4 });
    const producer = rangeProducer(n, dispatcher);
    const all = [0, 1, 2, 3].map((partition) =>
      summer(tally, probe, producer, { maxDemand: 1000, partition })
    );
    await closedAll(all);
    return tally;
  },
};

/** The DESIGN §5.1 faces, looked up at run time: the current core may not have them yet. */
interface Faces {
  readonly readable?: unknown;
  readonly writable?: unknown;
}

let facesReason: string | undefined | null = null;

/**
 * Why the face pipeline cannot run (`ProducerConsumer` without `readable` and
 * `writable`, or `Consumer` without `writable`), or undefined when it can.
 * Looks once, on a throwaway producer-consumer and consumer that it stops.
 */
function facesMissing(): string | undefined {
  if (facesReason !== null) return facesReason;
  const pc = new webstage.ProducerConsumer<number, number>({ handleEvents: double });
  const consumer = new webstage.Consumer<number>({ handleEvents() {} });
  try {
    const stage = pc as unknown as Faces, sink = consumer as unknown as Faces;
    const missing = [
      stage.writable instanceof WritableStream ? "" : "ProducerConsumer.writable",
      stage.readable instanceof ReadableStream ? "" : "ProducerConsumer.readable",
      sink.writable instanceof WritableStream ? "" : "Consumer.writable",
    ].filter((name) => name !== "");
    facesReason = missing.length === 0
      ? undefined
      : `n/a: the core has no ${missing.join(", ")} (DESIGN 5.1) yet`;
  } catch (error) {
    facesReason = `n/a: reading the stream faces threw ${error}`;
  } finally {
    pc.stop().catch(() => {});
    consumer.stop().catch(() => {});
  }
  return facesReason;
}

/**
 * The per-event face pipeline of DESIGN §5.1: the per-event source of the
 * `web streams per-event R->T->W` peer, through a producer-consumer's
 * `{ writable, readable }` pair, into a consumer's `writable`, with default
 * strategies (highWaterMark 1000). `pipeTo` resolves once the consumer has
 * handled every event; the consumer then ends normally.
 */
const facePipeline: Scenario = {
  name: "webstage faces R->PC->C.writable",
  maxDemand: null,
  scale: 0.02,
  peer: "web streams per-event R->T->W",
  skip: facesMissing,
  expect: doubled,
  async run(n, probe) {
    const tally = { count: 0, sum: 0 };
    const pc = new webstage.ProducerConsumer<number, number>({ handleEvents: double });
    const consumer = new webstage.Consumer<number>({
      handleEvents(events) {
        sumInto(tally, events);
        probe();
      },
    });
    const pair = pc as unknown as ReadableWritablePair<number, number>;
    const inlet = (consumer as unknown as { writable: WritableStream<number> }).writable;
    await singleSource(n).pipeThrough(pair).pipeTo(inlet);
    await consumer.closed;
    return tally;
  },
};

const broadcastHelper: Scenario = {
  name: "webstage broadcast(source, 2)",
  maxDemand: 1000,
  scale: 0.04,
  peer: "web streams tee()",
  skip: missing("broadcast"),
  expect: (n) => copies(n, 2),
  async run(n, probe) {
    const tally = { count: 0, sum: 0 };
    const outputs = pending.broadcast!(eventSource(n), 2, { maxDemand: 1000 });
    await Promise.all(outputs.map((output) => readSum(output, tally, probe)));
    return tally;
  },
};

/** Every webstage scenario, in table order. */
export const webstageScenarios: readonly Scenario[] = [
  producerConsumer(1000),
  producerConsumer(100),
  producerConsumer(10),
  monitoredProducerConsumer,
  producerPcConsumer(1000),
  producerPcConsumer(100),
  producerPcConsumer(10),
  demandDispatcher(2),
  demandDispatcher(4),
  broadcastDispatcher,
  partitionDispatcher,
  facePipeline,
  broadcastHelper,
];

/** The `--memory` stall test: broadcast to two readers, one stalled for `stallMs`. */
export function broadcastAvailable(): boolean {
  return pending.broadcast !== undefined;
}

/** Splits a source with webstage's `broadcast` (maxDemand 1000). */
export function broadcastTwo(source: ReadableStream<number>): ReadableStream<number>[] {
  return pending.broadcast!(source, 2, { maxDemand: 1000 });
}
