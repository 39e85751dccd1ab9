// The consume loops the broker benchmark times, each until `count`
// messages have been acknowledged: webstage's producers into a Consumer, and
// each client library's own loop (JetStream's consume(), and the XREADGROUP
// + XACK loop a Redis user writes with ioredis). Used in-process by
// scripts/bench_brokers.ts and in worker processes by broker_worker.ts.

import { Consumer } from "../../mod.ts";
import { type JetStreamMessage, JetStreamProducer } from "../../nats.ts";
import { type RedisStreamMessage, RedisStreamProducer } from "../../redis.ts";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Redis } from "ioredis";

/** The demand of every consumer in the benchmark (and the client loops' batch). */
export const BATCH = 1000;

/**
 * What a loop did: the messages it handled and when `until()` became true
 * (performance.now(): the last one handled, its acknowledgement sent; a
 * graceful close after it is not timed).
 */
export interface Consumed {
  readonly handled: number;
  readonly doneAt: number;
}

/**
 * webstage: a JetStreamProducer into a Consumer (maxDemand BATCH) until
 * `until()` is true or `stop` resolves; returns the messages this process handled.
 */
export async function webstageNats(
  connection: NatsConnection,
  stream: string,
  until: (handled: number) => boolean,
  stop?: Promise<void>,
): Promise<Consumed> {
  const producer = new JetStreamProducer({ connection, stream, consumer: "bench", expires: 1000 });
  stop?.then(() => producer.close());
  let handled = 0;
  let sum = 0;
  let doneAt = NaN;
  const consumer = new Consumer<JetStreamMessage>({
    subscribeTo: [[producer, { maxDemand: BATCH }]],
    handleEvents: (messages) => {
      for (const message of messages) sum += message.data.length;
      handled += messages.length;
      if (until(handled)) {
        // Acknowledged right after this returns, in the same turn.
        queueMicrotask(() => (doneAt = performance.now()));
        void producer.close();
      }
    },
  });
  await consumer.closed;
  await producer.closed;
  if (sum === 0) throw new Error("no payload");
  return { handled, doneAt };
}

/** JetStream's own consume() loop, acknowledging each message, until `until()` is true. */
export async function clientNats(
  connection: NatsConnection,
  stream: string,
  until: (handled: number) => boolean,
): Promise<Consumed> {
  const consumer = await jetstream(connection).consumers.get(stream, "bench");
  const messages = await consumer.consume({ max_messages: BATCH, expires: 1000 });
  let handled = 0;
  let sum = 0;
  for await (const message of messages) {
    sum += message.data.length;
    message.ack();
    if (until(++handled)) break;
  }
  const doneAt = performance.now();
  await connection.flush();
  if (sum === 0) throw new Error("no payload");
  return { handled, doneAt };
}

/** webstage: a RedisStreamProducer into a Consumer (maxDemand BATCH) until `until()` is true. */
export async function webstageRedis(
  redis: Redis,
  stream: string,
  until: (handled: number) => boolean,
  stop?: Promise<void>,
): Promise<Consumed> {
  const producer = new RedisStreamProducer({ redis, stream, group: "bench", block: 1000 });
  stop?.then(() => producer.close());
  let handled = 0;
  let sum = 0;
  let doneAt = NaN;
  const consumer = new Consumer<RedisStreamMessage>({
    subscribeTo: [[producer, { maxDemand: BATCH }]],
    handleEvents: (messages) => {
      for (const message of messages) sum += message.fields.data.length;
      handled += messages.length;
      if (until(handled)) {
        // The XACK goes out a microtask later; its reply is awaited by close().
        queueMicrotask(() => (doneAt = performance.now()));
        void producer.close();
      }
    },
  });
  await consumer.closed;
  await producer.closed;
  if (sum === 0) throw new Error("no payload");
  return { handled, doneAt };
}

/**
 * The loop a Redis user writes: XREADGROUP COUNT BATCH (blocking, on its own
 * connection), handle, XACK the batch, until `until()` is true.
 */
export async function clientRedis(
  redis: Redis,
  stream: string,
  until: (handled: number) => boolean,
): Promise<Consumed> {
  const reader = redis.duplicate();
  const name = `loop-${crypto.randomUUID()}`;
  let handled = 0;
  let sum = 0;
  try {
    while (!until(handled)) {
      const reply = await reader.call(
        "XREADGROUP",
        "GROUP",
        "bench",
        name,
        "COUNT",
        BATCH,
        "BLOCK",
        1000,
        "STREAMS",
        stream,
        ">",
      ) as unknown[] | null;
      if (reply === null) continue;
      const pair = (Array.isArray(reply[0]) ? reply[0] : reply) as [string, [string, string[]][]];
      const ids: string[] = [];
      for (const [id, values] of pair[1]) {
        sum += values[1].length;
        ids.push(id);
      }
      handled += ids.length;
      if (ids.length > 0) await redis.call("XACK", stream, "bench", ...ids);
    }
  } finally {
    reader.disconnect();
  }
  const doneAt = performance.now();
  if (sum === 0) throw new Error("no payload");
  return { handled, doneAt };
}
