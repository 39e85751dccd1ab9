// Usage: npm run bench:brokers -- [--messages <n>] [--runs <k>] [--json]
//
// Messages per second through webstage's broker producers into a Consumer
// (maxDemand 1000), each message acknowledged once handled, against the
// client library's own consume loop in the same run (JetStream's
// consume(); for Redis the XREADGROUP COUNT 1000 + XACK loop a user writes
// with ioredis), then with 1, 2 and 4 consumer processes sharing one durable
// consumer / consumer group. Starts its own nats-server -js and redis-server
// on free loopback ports (both must be installed).
//
//   node scripts/run_ts.mjs scripts/bench_brokers.ts          (Node 20)
//
// Every run publishes a fresh stream of `messages` 64-byte messages first
// (not timed), then times consumption. In-process runs: from the start
// until the last message is handled and its acknowledgement sent (the
// graceful close that follows is not timed; the broker is then checked to
// hold nothing pending). Multi-process runs: from "go" until the broker
// reports every message acknowledged, polled every 5 ms. The median of
// `runs` runs counts.

import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { build } from "esbuild";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Redis } from "ioredis";
import { type BrokerServer, startNats, startRedis } from "../tests/brokers/_servers.ts";
import {
  clientNats,
  clientRedis,
  type Consumed,
  webstageNats,
  webstageRedis,
} from "./_bench/broker_consume.ts";

// Run from the repository root (npm run bench:brokers); the bundle runs from .tmp/run/.
const root = process.cwd();
const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : Number(args[i + 1]);
};
const MESSAGES = option("--messages", 50_000);
const RUNS = option("--runs", 3);
const JSON_OUTPUT = args.includes("--json");
const note = (text: string) => process.stderr.write(text + "\n");
const PAYLOAD = JSON.stringify({ id: 0, body: "x".repeat(40) }).padEnd(64, " ");

interface Row {
  broker: "nats" | "redis";
  loop: string;
  processes: number;
  messages: number;
  runs: number[];
  perSecond: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

// ---------------------------------------------------------------- fresh streams

let serial = 0;

async function natsStream(connection: NatsConnection): Promise<string> {
  const name = `B${++serial}`;
  const jsm = await jetstreamManager(connection);
  await jsm.streams.add({ name, subjects: [`${name}.>`] });
  await jsm.consumers.add(name, {
    durable_name: "bench",
    ack_policy: AckPolicy.Explicit,
    max_ack_pending: 20_000,
  });
  const js = jetstream(connection);
  const payload = new TextEncoder().encode(PAYLOAD);
  for (let i = 0; i < MESSAGES; i += 1000) {
    const acks = [];
    for (let n = i; n < Math.min(MESSAGES, i + 1000); n++) {
      acks.push(js.publish(`${name}.m`, payload));
    }
    await Promise.all(acks);
  }
  return name;
}

async function natsDone(connection: NatsConnection, stream: string): Promise<boolean> {
  const info = await (await jetstreamManager(connection)).consumers.info(stream, "bench");
  return info.num_pending === 0 && info.num_ack_pending === 0;
}

async function redisStream(redis: Redis): Promise<string> {
  const name = `b${++serial}`;
  await redis.xgroup("CREATE", name, "bench", "0", "MKSTREAM");
  for (let i = 0; i < MESSAGES; i += 1000) {
    const pipeline = redis.pipeline();
    for (let n = i; n < Math.min(MESSAGES, i + 1000); n++) {
      pipeline.xadd(name, "*", "data", PAYLOAD);
    }
    await pipeline.exec();
  }
  return name;
}

async function redisDone(redis: Redis, stream: string): Promise<boolean> {
  const groups = await redis.call("XINFO", "GROUPS", stream) as unknown[][];
  const info: Record<string, unknown> = {};
  for (let i = 0; i < groups[0].length; i += 2) info[String(groups[0][i])] = groups[0][i + 1];
  return Number(info.pending) === 0 && Number(info.lag) === 0;
}

// ---------------------------------------------------------------- timed runs

async function inProcess(
  run: (stream: string, until: (handled: number) => boolean) => Promise<Consumed>,
  fresh: () => Promise<string>,
  done: (stream: string) => Promise<boolean>,
): Promise<number> {
  const stream = await fresh();
  const started = performance.now();
  const { handled, doneAt } = await run(stream, (n) => n >= MESSAGES);
  const seconds = (doneAt - started) / 1000;
  if (handled !== MESSAGES) throw new Error(`handled ${handled} of ${MESSAGES}`);
  if (!(await done(stream))) throw new Error("the broker still has messages pending");
  return MESSAGES / seconds;
}

let workerFile: string | undefined;
async function bundleWorker(): Promise<string> {
  if (workerFile !== undefined) return workerFile;
  const outDir = join(root, ".tmp", "run");
  mkdirSync(outDir, { recursive: true });
  workerFile = join(outDir, "broker_worker.mjs");
  await build({
    entryPoints: [join(root, "scripts", "_bench", "broker_worker.ts")],
    outfile: workerFile,
    bundle: true,
    packages: "external",
    format: "esm",
    platform: "node",
    target: "node20",
    logLevel: "warning",
  });
  return workerFile;
}

async function processes(
  count: number,
  broker: "nats" | "redis",
  url: string,
  fresh: () => Promise<string>,
  done: (stream: string) => Promise<boolean>,
): Promise<number> {
  const stream = await fresh();
  const file = await bundleWorker();
  const workers = Array.from({ length: count }, () => {
    const child = spawn(process.execPath, [file, broker, url, stream], {
      cwd: root,
      stdio: ["pipe", "pipe", "inherit"],
    });
    let out = "";
    const ready = new Promise<void>((resolve) =>
      child.stdout!.on("data", (chunk) => {
        out += chunk;
        if (out.includes("ready")) resolve();
      })
    );
    const exited = new Promise<number>((resolve) =>
      child.once("exit", (code) => resolve(code ?? 1))
    );
    return { child, ready, exited, handled: () => Number(/handled (\d+)/.exec(out)?.[1] ?? NaN) };
  });
  await Promise.all(workers.map((w) => w.ready));
  const started = performance.now();
  for (const w of workers) w.child.stdin!.write("go\n");
  while (!(await done(stream))) await new Promise((resolve) => setTimeout(resolve, 5));
  const seconds = (performance.now() - started) / 1000;
  for (const w of workers) w.child.stdin!.write("stop\n");
  const codes = await Promise.all(workers.map((w) => w.exited));
  if (codes.some((code) => code !== 0)) throw new Error(`a worker exited with ${codes}`);
  const total = workers.reduce((sum, w) => sum + w.handled(), 0);
  if (total < MESSAGES) throw new Error(`the workers handled ${total} of ${MESSAGES}`);
  return MESSAGES / seconds;
}

// ---------------------------------------------------------------- main

const rows: Row[] = [];
async function measure(
  broker: Row["broker"],
  loop: string,
  processCount: number,
  once: () => Promise<number>,
): Promise<Row> {
  const runs: number[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await once());
  const row = {
    broker,
    loop,
    processes: processCount,
    messages: MESSAGES,
    runs,
    perSecond: median(runs),
  };
  rows.push(row);
  note(`${broker} ${loop} × ${processCount}: ${Math.round(row.perSecond)} msg/s`);
  return row;
}

const servers: BrokerServer[] = [];
try {
  const nats = await startNats();
  servers.push(nats);
  const redisServer = await startRedis();
  servers.push(redisServer);
  const connection = await connect({ servers: nats.url });
  const redis = new Redis(redisServer.url);
  note(`${MESSAGES} messages per run, median of ${RUNS} runs, on node ${process.versions.node}`);

  const natsFresh = () => natsStream(connection);
  const natsCheck = (stream: string) => natsDone(connection, stream);
  // Alternating, so both loops meet the same machine state.
  const natsRuns: { client: number[]; webstage: number[] } = { client: [], webstage: [] };
  for (let i = 0; i < RUNS; i++) {
    natsRuns.client.push(
      await inProcess((s, u) => clientNats(connection, s, u), natsFresh, natsCheck),
    );
    natsRuns.webstage.push(
      await inProcess((s, u) => webstageNats(connection, s, u), natsFresh, natsCheck),
    );
  }
  const redisFresh = () => redisStream(redis);
  const redisCheck = (stream: string) => redisDone(redis, stream);
  const redisRuns: { client: number[]; webstage: number[] } = { client: [], webstage: [] };
  for (let i = 0; i < RUNS; i++) {
    redisRuns.client.push(
      await inProcess((s, u) => clientRedis(redis, s, u), redisFresh, redisCheck),
    );
    redisRuns.webstage.push(
      await inProcess((s, u) => webstageRedis(redis, s, u), redisFresh, redisCheck),
    );
  }
  for (
    const [broker, runs, clientLoop] of [
      ["nats", natsRuns, "JetStream consume() loop, in process"],
      ["redis", redisRuns, "XREADGROUP + XACK loop, in process"],
    ] as const
  ) {
    const loops = [[clientLoop, runs.client], ["webstage, in process", runs.webstage]] as const;
    for (const [loop, values] of loops) {
      const row = {
        broker,
        loop,
        processes: 1,
        messages: MESSAGES,
        runs: values,
        perSecond: median(values),
      };
      rows.push(row);
      note(`${broker} ${loop}: ${Math.round(row.perSecond)} msg/s`);
    }
  }
  for (const count of [1, 2, 4]) {
    await measure(
      "nats",
      "webstage, worker processes",
      count,
      () => processes(count, "nats", nats.url, natsFresh, natsCheck),
    );
    await measure(
      "redis",
      "webstage, worker processes",
      count,
      () => processes(count, "redis", redisServer.url, redisFresh, redisCheck),
    );
  }
  await connection.close();
  redis.disconnect();
} finally {
  for (const server of servers) await server.dispose();
}

const ratio = (broker: Row["broker"]) => {
  const [client, ours] = rows.filter((r) => r.broker === broker && r.loop.endsWith("in process"));
  return ours.perSecond / client.perSecond;
};
const ratios = { nats: ratio("nats"), redis: ratio("redis") };

if (JSON_OUTPUT) {
  for (const row of rows) process.stdout.write(JSON.stringify(row) + "\n");
  process.stdout.write(JSON.stringify({ ratios, target: 0.8 }) + "\n");
} else {
  const lines = [
    "| broker | consumer | processes | msg/s (median) | runs |",
    "|---|---|---:|---:|---|",
    ...rows.map((r) =>
      `| ${r.broker} | ${r.loop} | ${r.processes} | ` +
      `${Math.round(r.perSecond).toLocaleString("en")} | ` +
      `${r.runs.map((x) => Math.round(x).toLocaleString("en")).join(" / ")} |`
    ),
    "",
    `webstage ÷ client loop, in process: NATS ${ratios.nats.toFixed(2)}×, ` +
    `Redis ${ratios.redis.toFixed(2)}× (target ≥ 0.80×: ` +
    `${ratios.nats >= 0.8 && ratios.redis >= 0.8 ? "met" : "MISS"})`,
  ];
  process.stdout.write(lines.join("\n") + "\n");
}
