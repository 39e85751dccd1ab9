// Usage: deno run --allow-read --allow-write examples/deno_log_pipeline.ts <log file> [partitions]
/**
 * Summarises a log file of any size per service, in bounded memory.
 *
 * ```
 * Deno.open → TextDecoderStream → lines → Producer.from (PartitionDispatcher by service)
 *                                           ├─ Consumer, partition 0 ─┐
 *                                           ├─ …                      ├─ per-service summaries
 *                                           └─ Consumer, partition N-1┘
 * ```
 *
 * Each line looks like `2026-01-01T00:00:00.000Z INFO api GET /v1/items/7 200 12ms user=zoë`:
 * a timestamp, a level, a service, then free text. Lines are partitioned by
 * service (a hash of the name, modulo N), so each service is summarised by
 * exactly one consumer: its line count, its bytes (UTF-8, each line with its
 * newline, so a last line without one counts one byte more than the file has),
 * its count per level and its error rate (ERROR lines / lines). A line with
 * fewer than three fields counts under the service `(malformed)`.
 *
 * Memory stays bounded whatever the file size, because nothing is read ahead
 * of demand: the producer reads the file only as the consumers ask (at most
 * `MAX_DEMAND` lines each), and a partition whose consumer is busy holds at
 * most `MAX_BACKLOG` lines before the producer stops reading. The script
 * counts the lines read but not yet summarised and prints the maximum.
 *
 * The summaries are printed as a table and written as JSON to
 * `<log file>.summary.json`.
 *
 * To make a sample log (deterministic, streamed to disk in bounded memory too):
 *
 * ```
 * deno run --allow-write examples/deno_log_pipeline.ts --generate <path> <lines>
 * ```
 *
 * @module
 */

import { Consumer, PartitionDispatcher, Producer } from "../mod.ts";

/** The most lines each consumer asks for at a time. */
const MAX_DEMAND = 500;
/** The most lines kept for a partition whose consumer has no demand. */
const MAX_BACKLOG = 1000;

const LEVELS = ["DEBUG", "INFO", "WARN", "ERROR"] as const;
type Level = (typeof LEVELS)[number];

/** The summary of one service. */
interface Summary {
  service: string;
  partition: number;
  lines: number;
  bytes: number;
  levels: Record<Level | "OTHER", number>;
  errorRate: number;
}

/** Splits a text stream into lines, without their "\n", calling `onLine` for each. */
function splitLines(onLine: () => void): TransformStream<string, string> {
  let pending = "";
  const emit = (line: string, controller: TransformStreamDefaultController<string>) => {
    onLine();
    controller.enqueue(line);
  };
  return new TransformStream<string, string>({
    transform(chunk, controller) {
      let start = 0;
      for (let end = chunk.indexOf("\n"); end !== -1; end = chunk.indexOf("\n", start)) {
        emit(pending + chunk.slice(start, end), controller);
        pending = "";
        start = end + 1;
      }
      pending += chunk.slice(start);
    },
    flush(controller) {
      if (pending !== "") emit(pending, controller);
    },
  });
}

/** The number of UTF-8 bytes of `text`. */
function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      bytes += 4; // a surrogate pair: one 4-byte character
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** The level and service fields of a line (the second and third); the service is `(malformed)` if missing. */
function fieldsOf(line: string): { level: string; service: string } {
  const fields = (line.endsWith("\r") ? line.slice(0, -1) : line).split(" ", 3);
  return {
    level: fields[1] ?? "",
    service: fields.length === 3 && fields[2] !== "" ? fields[2] : "(malformed)",
  };
}

/** The partition of a service: FNV-1a of its name, modulo `partitions`. */
function partitionOf(service: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < service.length; i++) {
    hash ^= service.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % partitions;
}

/** Reads `path` and summarises its lines per service with `partitions` consumers. */
async function summarize(
  path: string,
  partitions: number,
): Promise<{ summaries: Summary[]; lines: number; maxInFlight: number }> {
  const file = await Deno.open(path, { read: true });
  let read = 0;
  let summarized = 0;
  let maxInFlight = 0;
  const lines = file.readable
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(splitLines(() => {
      read++;
      if (read - summarized > maxInFlight) maxInFlight = read - summarized;
    }));
  // "accumulate" holds the first asks until every consumer has subscribed.
  const source = Producer.from(lines, {
    demand: "accumulate",
    dispatcher: new PartitionDispatcher<string>({
      partitions,
      hash: (line) => partitionOf(fieldsOf(line).service, partitions),
      maxBacklog: MAX_BACKLOG,
    }),
  });
  const tables: Map<string, Summary>[] = [];
  const consumers: Consumer<string>[] = [];
  for (let partition = 0; partition < partitions; partition++) {
    const table = new Map<string, Summary>();
    tables.push(table);
    consumers.push(
      new Consumer<string>({
        subscribeTo: [[source, { partition, maxDemand: MAX_DEMAND }]],
        handleEvents: (events) => {
          for (const line of events) {
            const { level, service } = fieldsOf(line);
            let summary = table.get(service);
            if (summary === undefined) {
              summary = {
                service,
                partition,
                lines: 0,
                bytes: 0,
                levels: { DEBUG: 0, INFO: 0, WARN: 0, ERROR: 0, OTHER: 0 },
                errorRate: 0,
              };
              table.set(service, summary);
            }
            summary.lines++;
            summary.bytes += utf8Length(line) + 1;
            if ((LEVELS as readonly string[]).includes(level)) summary.levels[level as Level]++;
            else summary.levels.OTHER++;
          }
          summarized += events.length;
        },
      }),
    );
  }
  source.setDemandMode("forward");
  await Promise.all(consumers.map((consumer) => consumer.closed));
  const summaries = tables.flatMap((table) => [...table.values()])
    .map((s) => ({
      ...s,
      errorRate: s.lines === 0 ? 0 : Math.round((s.levels.ERROR / s.lines) * 1e4) / 1e4,
    }))
    .sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0));
  return { summaries, lines: read, maxInFlight };
}

function table(summaries: Summary[]): string {
  const header = ["service", "partition", "lines", "bytes", ...LEVELS, "OTHER", "error rate"];
  const rows = summaries.map((s) => [
    s.service,
    String(s.partition),
    String(s.lines),
    String(s.bytes),
    ...LEVELS.map((level) => String(s.levels[level])),
    String(s.levels.OTHER),
    `${(s.errorRate * 100).toFixed(2)}%`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  return [header, ...rows]
    .map((row) =>
      row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join("  ")
    )
    .join("\n");
}

// ---- sample log generation ----------------------------------------------------

const SERVICES = ["api", "auth", "billing", "search", "mail", "cache", "db"] as const;
/** The chance of an ERROR line per service, so that the error rates differ. */
const ERROR_CHANCE: Record<(typeof SERVICES)[number], number> = {
  api: 0.05,
  auth: 0.02,
  billing: 0.12,
  search: 0.03,
  mail: 0.08,
  cache: 0.01,
  db: 0.06,
};
const USERS = ["ana", "bo", "zoë", "jürgen", "山田", "olé", "sam", "🦊fox"];
const ROUTES = ["/v1/items", "/v1/users", "/v1/orders", "/v1/search", "/v1/login"];

/** mulberry32: a small seeded PRNG, so that the sample log is the same on every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Writes `count` sample lines to `path`, a batch at a time, as the file accepts them. */
async function generate(path: string, count: number): Promise<void> {
  const next = random(42);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  const start = Date.UTC(2026, 0, 1);
  let i = 0;
  const text = new ReadableStream<string>({
    pull(controller) {
      if (i >= count) return controller.close();
      let batch = "";
      for (const end = Math.min(count, i + 1000); i < end; i++) {
        const service = pick(SERVICES);
        const roll = next();
        const level: Level = roll < ERROR_CHANCE[service]
          ? "ERROR"
          : roll < ERROR_CHANCE[service] + 0.1
          ? "WARN"
          : roll < ERROR_CHANCE[service] + 0.3
          ? "DEBUG"
          : "INFO";
        const status = level === "ERROR" ? 500 : level === "WARN" ? 429 : 200;
        const ms = Math.floor(next() * 900) + 1;
        batch += `${new Date(start + i * 37).toISOString()} ${level} ${service} ` +
          `GET ${pick(ROUTES)}/${Math.floor(next() * 10_000)} ${status} ${ms}ms user=${
            pick(USERS)
          }\n`;
      }
      controller.enqueue(batch);
    },
  }, { highWaterMark: 0 });
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  await text.pipeThrough(new TextEncoderStream()).pipeTo(file.writable);
}

// ---- command line ----------------------------------------------------------------

function usage(message: string): never {
  console.error(`${message}
Usage: deno run --allow-read --allow-write examples/deno_log_pipeline.ts <log file> [partitions]
       deno run --allow-write examples/deno_log_pipeline.ts --generate <path> <lines>`);
  Deno.exit(2);
}

function positiveInteger(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    usage(`${name} must be an integer >= 1: current value is ${text}`);
  }
  return value;
}

if (import.meta.main) {
  const args = Deno.args;
  if (args[0] === "--generate") {
    if (args[1] === undefined) usage("Missing the path to generate");
    const count = positiveInteger(args[2] ?? "100000", "lines", 100_000);
    await generate(args[1], count);
    console.log(`Wrote ${count} lines to ${args[1]}`);
  } else {
    if (args[0] === undefined || args[0].startsWith("-")) usage("Missing the log file");
    const partitions = positiveInteger(args[1], "partitions", 4);
    const started = performance.now();
    const { summaries, lines, maxInFlight } = await summarize(args[0], partitions);
    const seconds = (performance.now() - started) / 1000;
    console.log(table(summaries));
    const output = `${args[0]}.summary.json`;
    await Deno.writeTextFile(
      output,
      JSON.stringify({ partitions, lines, summaries }, null, 2) + "\n",
    );
    const bound = partitions * (MAX_DEMAND + MAX_BACKLOG);
    console.log(
      `\n${lines} lines in ${
        seconds.toFixed(2)
      } s by ${partitions} consumers; at most ${maxInFlight} ` +
        `lines in memory at once (stage bound ${bound}, plus one decoded chunk); summaries written to ${output}`,
    );
  }
}
