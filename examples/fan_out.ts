// Usage: node_modules/.bin/deno run examples/fan_out.ts   (or: node scripts/run_ts.mjs examples/fan_out.ts, bun examples/fan_out.ts)
/**
 * Bounded fan-out of plain web streams, in three parts:
 *
 * 1. `broadcast`: two readers of one stream, each getting every event, the
 *    fast one never more than `maxDemand` events ahead of the slow one (where
 *    `tee()` would queue everything for the slow branch).
 * 2. `partition`: one stream split by key into named outputs.
 * 3. A live stream broadcast to a dynamic set of readers: readers join and
 *    leave while it flows, through `Producer.from` and a
 *    `BroadcastDispatcher`.
 */

import { broadcast, BroadcastDispatcher, partition, Producer } from "../mod.ts";

/** A stream of the given items. */
function streamOf<T>(items: Iterable<T>): ReadableStream<T> {
  const iterator = items[Symbol.iterator]();
  return new ReadableStream<T>({
    pull(controller) {
      const { done, value } = iterator.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
  }, { highWaterMark: 0 });
}

/** Reads a stream to its end, optionally pausing after each item. */
async function readAll<T>(stream: ReadableStream<T>, pause?: () => Promise<void>): Promise<T[]> {
  const reader = stream.getReader();
  const items: T[] = [];
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    items.push(r.value);
    if (pause !== undefined) await pause();
  }
  return items;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------- 1. broadcast

{
  let pulled = 0;
  let maxLead = 0;
  const counts = { fast: 0, slow: 0 };
  const numbers = streamOf((function* () {
    for (let n = 0; n < 200; n++) {
      pulled++;
      yield n;
    }
  })());
  const [fast, slow] = broadcast(numbers, 2, { maxDemand: 10 });
  const track = (name: "fast" | "slow") => () => {
    counts[name]++;
    maxLead = Math.max(maxLead, counts.fast - counts.slow);
    return name === "slow" ? sleep(1) : Promise.resolve();
  };
  const [a, b] = await Promise.all([readAll(fast, track("fast")), readAll(slow, track("slow"))]);
  console.log(`broadcast: both readers got ${a.length} and ${b.length} events (${pulled} pulled);`);
  console.log(
    `           the fast reader was never more than ${maxLead} events ahead (maxDemand 10)`,
  );
}

// ---------------------------------------------------------------- 2. partition

{
  const words = ["apple", "bee", "cat", "avocado", "bear", "car", "ant", "cow"];
  const outputs = partition(streamOf(words), {
    partitions: ["a", "b", "c"],
    hash: (word: string) => word[0],
  });
  const read = await Promise.all(
    [...outputs].map(async ([key, stream]) => [key, await readAll(stream)]),
  );
  console.log("partition:", Object.fromEntries(read));
}

// ---------------------------------------------------------------- 3. a live stream, dynamic readers

{
  let tick = 0;
  const live = new ReadableStream<number>({
    async pull(controller) {
      await sleep(5);
      if (tick === 30) controller.close();
      else controller.enqueue(tick++);
    },
  }, { highWaterMark: 0 });
  const producer = Producer.from(live, { dispatcher: new BroadcastDispatcher() });

  /** A reader that joins now and leaves after `count` events (or at the end). */
  const join = async (name: string, count: number) => {
    const reader = producer.subscribe({ maxDemand: 5 }).getReader();
    const seen: number[] = [];
    while (seen.length < count) {
      const { done, value } = await reader.read();
      if (done) break;
      seen.push(...value);
    }
    await reader.cancel();
    console.log(`live: ${name} saw ticks ${seen[0]}..${seen[seen.length - 1]} (${seen.length})`);
  };

  const first = join("reader 1", Infinity);
  await sleep(50);
  const second = join("reader 2", 10); // joins late, leaves early: the others go on
  await sleep(50);
  const third = join("reader 3", Infinity);
  await Promise.all([first, second, third]);
  await producer.closed;
}
