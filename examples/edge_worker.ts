// Usage: deno serve --port 8787 examples/edge_worker.ts  (then: curl "http://localhost:8787/?start=1&count=20")
/**
 * An edge fetch handler (workerd, Deno Deploy, Bun, `deno serve`) whose
 * response body is a stage pipeline, streamed as NDJSON:
 *
 * ```
 * Producer.from(numbers) → ProducerConsumer (Collatz) → toReadableStream → lines → TextEncoderStream
 * ```
 *
 * For each integer in `[start, start + count)` it sends one JSON line
 * `{"n":27,"steps":111,"peak":9232}` (the number of Collatz steps to reach 1
 * and the highest value met on the way). Nothing is computed ahead of the
 * client: the producer is pulled only as the response body is read, at most
 * `MAX_DEMAND` numbers at a time, so a slow client holds a bounded amount of
 * work in memory. A client that disconnects cancels the body, which stops
 * every stage.
 *
 * Query parameters:
 * - `start`: the first number, an integer ≥ 1 (default 1)
 * - `count`: how many numbers, an integer in [0, 100000] (default 20)
 * - `pause`: milliseconds to wait after each computed batch, in [0, 1000]
 *   (default 0), to watch the stream arrive
 *
 * Bad parameters get a `400` with a plain-text message.
 *
 * Only the default export is exported: workerd treats every named export of
 * a worker module as an entrypoint.
 *
 * @module
 */

import { Producer, ProducerConsumer, toReadableStream } from "../mod.ts";

/** The most numbers the computing stage asks for at a time. */
const MAX_DEMAND = 50;

/** One line of the response. */
interface CollatzResult {
  readonly n: number;
  readonly steps: number;
  readonly peak: number;
}

/** The Collatz steps from `n` down to 1, and the highest value met. */
function collatz(n: number): CollatzResult {
  let value = n;
  let steps = 0;
  let peak = n;
  while (value !== 1) {
    value = value % 2 === 0 ? value / 2 : 3 * value + 1;
    if (value > peak) peak = value;
    steps++;
  }
  return { n, steps, peak };
}

function* numbers(start: number, count: number): Generator<number> {
  for (let i = 0; i < count; i++) yield start + i;
}

function integerParam(url: URL, name: string, fallback: number, min: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}]: current value is ${raw}`);
  }
  return value;
}

/**
 * The NDJSON body for `count` numbers from `start`: a pipeline of stages that
 * runs only as fast as the body is read, and stops when it is cancelled.
 */
function collatzStream(start: number, count: number, pause = 0): ReadableStream<Uint8Array> {
  const stop = new AbortController();
  const source = Producer.from(numbers(start, count), { signal: stop.signal });
  const compute = new ProducerConsumer<number, string>({
    subscribeTo: [[source, { maxDemand: MAX_DEMAND }]],
    signal: stop.signal,
    handleEvents: async (batch) => {
      const lines = batch.map((n) => JSON.stringify(collatz(n)) + "\n");
      if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
      return lines;
    },
  });
  const lines = toReadableStream([[compute, { maxDemand: MAX_DEMAND }]]).getReader();
  // A pass-through stream so that a cancelled body (a client gone) also stops
  // the stages, which otherwise would wait for a consumer that never returns.
  const text = new ReadableStream<string>({
    async pull(controller) {
      const { done, value } = await lines.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel(reason) {
      stop.abort("normal");
      await lines.cancel(reason);
    },
  }, { highWaterMark: 0 });
  return text.pipeThrough(new TextEncoderStream());
}

/** The fetch handler. */
export default {
  fetch(request: Request): Response {
    const url = new URL(request.url);
    let start: number, count: number, pause: number;
    try {
      start = integerParam(url, "start", 1, 1, 10_000_000);
      count = integerParam(url, "count", 20, 0, 100_000);
      pause = integerParam(url, "pause", 0, 0, 1000);
    } catch (error) {
      return new Response(`Bad request: ${(error as Error).message}\n`, {
        status: 400,
        headers: { "content-type": "text/plain; charset=utf-8" },
      });
    }
    return new Response(collatzStream(start, count, pause), {
      headers: {
        "content-type": "application/x-ndjson; charset=utf-8",
        "cache-control": "no-store",
        "x-total-count": String(count),
      },
    });
  },
};
