// The peers, measured in the same run on the same workload: web streams per
// event and batched, Node's stream module in object mode (where the runtime
// has it), Effect's Stream, RxJS and the bare loop.

import { Effect, Stream } from "effect";
import { lastValueFrom, map, range, reduce } from "rxjs";
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

// ------------------------------------------------------------------ web streams

const countBatch = (batch: readonly number[]): number => batch.length;

/** A ReadableStream of 0..n-1 in arrays of `size` (HWM `size`, size = length). */
function batchedSource(n: number, size: number): ReadableStream<number[]> {
  let next = 0;
  return new ReadableStream<number[]>({
    pull(controller) {
      const length = Math.min(size, n - next);
      controller.enqueue(integers(next, length));
      next += length;
      if (next === n) controller.close();
    },
  }, { highWaterMark: size, size: countBatch });
}

function batchedSink(size: number, tally: Tally, probe: Probe): WritableStream<number[]> {
  return new WritableStream<number[]>({
    write(batch) {
      sumInto(tally, batch);
      probe();
    },
  }, { highWaterMark: size, size: countBatch });
}

function batchedDoubler(size: number): TransformStream<number[], number[]> {
  return new TransformStream<number[], number[]>(
    {
      transform(batch, controller) {
        controller.enqueue(double(batch));
      },
    },
    { highWaterMark: size, size: countBatch },
    { highWaterMark: size, size: countBatch },
  );
}

function singleSink(tally: Tally, probe: Probe): WritableStream<number> {
  return new WritableStream<number>({
    write(event) {
      tally.count++;
      tally.sum += event;
      probe();
    },
  });
}

function batchedRW(size: number): Scenario {
  return {
    name: "web streams batched R->W",
    maxDemand: size,
    scale: size >= 100 ? 1 : 0.1,
    expect: once,
    async run(n, probe) {
      const tally = { count: 0, sum: 0 };
      await batchedSource(n, size).pipeTo(batchedSink(size, tally, probe));
      return tally;
    },
  };
}

/**
 * One batched ReadableStream read to its end by a hand-written reader loop,
 * with no WritableStream and no pipe: what hand-batched web streams cost at
 * the least, the room a stage has above `pipeTo`.
 */
function batchedReaderLoop(size: number): Scenario {
  return {
    name: "web streams batched reader loop",
    maxDemand: size,
    scale: size >= 100 ? 1 : 0.1,
    expect: once,
    async run(n, probe) {
      const tally = { count: 0, sum: 0 };
      const reader = batchedSource(n, size).getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return tally;
        sumInto(tally, value);
        probe();
      }
    },
  };
}

function batchedRTW(size: number): Scenario {
  return {
    name: "web streams batched R->T->W",
    maxDemand: size,
    scale: size >= 100 ? 1 : 0.1,
    expect: doubled,
    async run(n, probe) {
      const tally = { count: 0, sum: 0 };
      await batchedSource(n, size).pipeThrough(batchedDoubler(size)).pipeTo(
        batchedSink(size, tally, probe),
      );
      return tally;
    },
  };
}

const perEventRW: Scenario = {
  name: "web streams per-event R->W",
  maxDemand: null,
  scale: 0.02,
  expect: once,
  async run(n, probe) {
    const tally = { count: 0, sum: 0 };
    await singleSource(n).pipeTo(singleSink(tally, probe));
    return tally;
  },
};

const perEventRTW: Scenario = {
  name: "web streams per-event R->T->W",
  maxDemand: null,
  scale: 0.02,
  expect: doubled,
  async run(n, probe) {
    const tally = { count: 0, sum: 0 };
    const doubler = new TransformStream<number, number>({
      transform(event, controller) {
        controller.enqueue(event * 2);
      },
    });
    await singleSource(n).pipeThrough(doubler).pipeTo(singleSink(tally, probe));
    return tally;
  },
};

/**
 * One per-event source routed to `k` per-event writables by `x % k` (for
 * 0..n-1 the same split as round robin): the per-event web-streams form of
 * the DemandDispatcher and PartitionDispatcher topologies. A hand-written
 * reader loop; each writer's back pressure is honoured through `ready`.
 */
function perEventFanOut(k: number): Scenario {
  return {
    name: `web streams per-event R->${k} W (x%${k})`,
    maxDemand: null,
    scale: 0.02,
    expect: once,
    async run(n, probe) {
      const tally = { count: 0, sum: 0 };
      const writers = Array.from({ length: k }, () => singleSink(tally, probe).getWriter());
      const reader = singleSource(n).getReader();
      let failure: unknown = undefined;
      const fail = (error: unknown) => void (failure ??= error);
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const writer = writers[value % k];
        if (writer.desiredSize! <= 0) await writer.ready;
        writer.write(value).catch(fail);
      }
      await Promise.all(writers.map((writer) => writer.close()));
      if (failure !== undefined) throw failure;
      return tally;
    },
  };
}

const tee: Scenario = {
  name: "web streams tee()",
  maxDemand: null,
  scale: 0.04,
  expect: (n) => copies(n, 2),
  async run(n, probe) {
    const tally = { count: 0, sum: 0 };
    const branches = eventSource(n).tee();
    await Promise.all(branches.map((branch) => readSum(branch, tally, probe)));
    return tally;
  },
};

// ------------------------------------------------------------------ node:stream

// deno-lint-ignore no-explicit-any
type NodeStreamModule = any;

let nodeStream: NodeStreamModule | undefined;

/** Loads `node:stream` if the runtime has it; the Node peers are skipped otherwise. */
export async function loadNodeStream(): Promise<void> {
  try {
    nodeStream = await import("node:stream");
  } catch {
    nodeStream = undefined;
  }
}

/** `node:stream` once `loadNodeStream` has run, or undefined where the runtime has none. */
export function nodeStreamModule(): NodeStreamModule | undefined {
  return nodeStream;
}

function noNodeStream(): string | undefined {
  return nodeStream === undefined ? "this runtime has no node:stream: scenario skipped" : undefined;
}

function nodePipeline(...stages: unknown[]): Promise<void> {
  return new Promise((resolve, reject) => {
    nodeStream.pipeline(...stages, (error: unknown) => (error ? reject(error) : resolve()));
  });
}

/** Object-mode Readable of 0..n-1: single events, or arrays of `size`. */
function nodeSource(n: number, size: number | null): unknown {
  let next = 0;
  return new nodeStream.Readable({
    objectMode: true,
    highWaterMark: size ?? 16,
    read(this: { push(chunk: unknown): boolean }) {
      while (next < n) {
        let more: boolean;
        if (size === null) more = this.push(next++);
        else {
          const length = Math.min(size, n - next);
          more = this.push(integers(next, length));
          next += length;
        }
        if (!more) return;
      }
      this.push(null);
    },
  });
}

function nodeSink(size: number | null, tally: Tally, probe: Probe): unknown {
  return new nodeStream.Writable({
    objectMode: true,
    highWaterMark: size ?? 16,
    write(chunk: number | number[], _encoding: string, callback: () => void) {
      if (typeof chunk === "number") {
        tally.count++;
        tally.sum += chunk;
      } else sumInto(tally, chunk);
      probe();
      callback();
    },
  });
}

function nodeDoubler(size: number | null): unknown {
  return new nodeStream.Transform({
    objectMode: true,
    highWaterMark: size ?? 16,
    transform(
      chunk: number | number[],
      _encoding: string,
      callback: (e: null, out: unknown) => void,
    ) {
      callback(null, typeof chunk === "number" ? chunk * 2 : double(chunk));
    },
  });
}

function nodeRW(size: number | null): Scenario {
  return {
    name: size === null ? "node:stream per-event R->W" : "node:stream batched R->W",
    maxDemand: size,
    scale: size === null ? 0.25 : 1,
    skip: noNodeStream,
    expect: once,
    async run(n, probe) {
      const tally = { count: 0, sum: 0 };
      await nodePipeline(nodeSource(n, size), nodeSink(size, tally, probe));
      return tally;
    },
  };
}

function nodeRTW(size: number | null): Scenario {
  return {
    name: size === null ? "node:stream per-event R->T->W" : "node:stream batched R->T->W",
    maxDemand: size,
    scale: size === null ? 0.25 : 1,
    skip: noNodeStream,
    expect: doubled,
    async run(n, probe) {
      const tally = { count: 0, sum: 0 };
      await nodePipeline(nodeSource(n, size), nodeDoubler(size), nodeSink(size, tally, probe));
      return tally;
    },
  };
}

// ------------------------------------------------------------------ Effect, RxJS, loop

const effect: Scenario = {
  name: "Effect Stream range->map->runSum",
  maxDemand: null,
  scale: 1,
  expect: doubled,
  async run(n, probe) {
    let count = 0;
    const sum = await Effect.runPromise(
      Stream.range(0, n - 1).pipe(
        Stream.map((x) => {
          count++;
          return x * 2;
        }),
        Stream.runSum,
      ),
    );
    probe();
    return { count, sum };
  },
};

const rxjs: Scenario = {
  name: "RxJS range->map->reduce",
  maxDemand: null,
  scale: 1,
  expect: doubled,
  async run(n, probe) {
    let count = 0;
    const sum = await lastValueFrom(
      range(0, n).pipe(
        map((x) => {
          count++;
          return x * 2;
        }),
        reduce((total, x) => total + x, 0),
      ),
    );
    probe();
    return { count, sum };
  },
};

const loop: Scenario = {
  name: "bare loop x*2, sum",
  maxDemand: null,
  scale: 10,
  expect: doubled,
  run(n, probe) {
    let sum = 0;
    let count = 0;
    for (let i = 0; i < n; i++) {
      sum += i * 2;
      count++;
    }
    probe();
    return Promise.resolve({ count, sum });
  },
};

/** The peers of the producer -> consumer topology. */
export const rwPeers: readonly Scenario[] = [
  batchedRW(1000),
  batchedRW(100),
  batchedRW(10),
  batchedReaderLoop(1000),
  batchedReaderLoop(100),
  batchedReaderLoop(10),
  perEventRW,
  nodeRW(1000),
  nodeRW(null),
];

/** The peers of the producer -> producer-consumer -> consumer topology. */
export const rtwPeers: readonly Scenario[] = [
  batchedRTW(1000),
  batchedRTW(100),
  batchedRTW(10),
  perEventRTW,
  nodeRTW(1000),
  nodeRTW(null),
  effect,
  rxjs,
  loop,
];

/** The per-event peers of the dispatcher topologies. */
export const dispatcherPeers: readonly Scenario[] = [perEventFanOut(2), perEventFanOut(4)];

/** The peer of the fan-out helpers. */
export const fanOutPeers: readonly Scenario[] = [tee];
