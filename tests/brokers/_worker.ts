// A worker process for the multi-process broker tests: a JetStreamProducer
// or RedisStreamProducer feeding a Consumer (or a ConsumerSupervisor), which
// logs every message it handles and every settlement to a file, with
// synchronous writes, so a worker killed with SIGKILL leaves an exact record
// of what it did before it died. "close" on stdin closes it gracefully.
//
// Usage: <runtime> tests/brokers/_worker.ts '<config as JSON>'
//
// Log lines: `h <n> <delivery>` (handled; delivery 1 is the first, more is a
// redelivery), `a <n>` (acknowledged), `x <n>` (negatively acknowledged or
// left pending), `k <n>` (held forever, see stallAfter), and at the end
// `end <stats as JSON>`.

import { appendFileSync } from "node:fs";
import process from "node:process";
import { Consumer, ConsumerSupervisor, type Producer } from "../../mod.ts";
import { type JetStreamMessage, JetStreamProducer } from "../../nats.ts";
import { type RedisStreamMessage, RedisStreamProducer } from "../../redis.ts";
import { connectTo } from "./_nats.ts";
import { clientFor } from "./_redis.ts";

/** What the parent test tells a worker. */
export interface WorkerConfig {
  readonly broker: "nats" | "redis";
  readonly url: string;
  readonly stream: string;
  readonly log: string;
  readonly maxDemand: number;
  /** Milliseconds each chunk (or task) takes. */
  readonly delayMs: number;
  /** Handle with a ConsumerSupervisor (one task per message) instead of a Consumer. */
  readonly supervisor?: boolean;
  /**
   * Once this many messages are handled, the next chunk is logged as kept
   * (`k <n>`) and never finishes: the worker holds it until it is killed.
   */
  readonly stallAfter?: number;
}

type Message = JetStreamMessage | RedisStreamMessage;

const config = JSON.parse(process.argv[2]) as WorkerConfig;
const write = (line: string) => appendFileSync(config.log, line + "\n");

function number(message: Message): number {
  return "fields" in message ? Number(message.fields.n) : message.json<{ n: number }>().n;
}

function delivery(message: Message): number {
  return "fields" in message ? (message.redelivered ? 2 : 1) : message.deliveryCount;
}

const onSettle = (messages: readonly Message[], outcome: string) =>
  write(messages.map((m) => `${outcome === "ack" ? "a" : "x"} ${number(m)}`).join("\n"));

let producer: Producer<Message> & { brokerStats: unknown };
let release: () => Promise<void>;
if (config.broker === "nats") {
  const connection = await connectTo(config.url);
  producer = new JetStreamProducer({
    connection,
    stream: config.stream,
    consumer: "workers",
    expires: 1000,
    onSettle,
    onError: () => {},
  }) as never;
  release = () => connection.close();
} else {
  const redis = clientFor(config.url);
  producer = new RedisStreamProducer({
    redis,
    stream: config.stream,
    group: "workers",
    consumer: `worker-${process.pid}`,
    claimIdle: 500,
    block: 200,
    onSettle,
    onError: () => {},
  }) as never;
  release = async () => void (await redis.quit());
}

let handled = 0;
const pause = () => new Promise((resolve) => setTimeout(resolve, config.delayMs));
const subscription = [producer, { maxDemand: config.maxDemand }] as const;
const consumer = config.supervisor
  ? new ConsumerSupervisor<Message>({
    subscribeTo: [subscription],
    handleEvent: async (message) => {
      await pause();
      write(`h ${number(message)} ${delivery(message)}`);
    },
  })
  : new Consumer<Message>({
    subscribeTo: [subscription],
    handleEvents: async (messages) => {
      if (config.stallAfter !== undefined && handled >= config.stallAfter) {
        write(messages.map((m) => `k ${number(m)}`).join("\n"));
        await new Promise(() => {});
      }
      await pause();
      handled += messages.length;
      write(messages.map((m) => `h ${number(m)} ${delivery(m)}`).join("\n"));
    },
  });

process.stdin.on("data", async (data) => {
  if (!String(data).includes("close")) return;
  await producer.close();
  await consumer.closed;
  write(`end ${JSON.stringify(producer.brokerStats)}`);
  await release();
  process.exit(0);
});
write("ready");
