// RedisStreamProducer and RedisStreamSink against a real `redis-server`,
// counting every entry: appended, handled, settled by the producer, and the
// group's own state on the server.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Consumer, ConsumerSupervisor, Producer } from "../../mod.ts";
import {
  type RedisStreamMessage,
  RedisStreamProducer,
  type RedisStreamProducerOptions,
  RedisStreamSink,
} from "../../redis.ts";
import type { Redis } from "ioredis";
import { type BrokerServer, skipWithout, startRedis } from "./_servers.ts";
import { append, clientFor, createGroup, groupInfo } from "./_redis.ts";
import { until } from "./_until.ts";

const skip = skipWithout("redis-server");

function numbers(messages: readonly RedisStreamMessage[]): number[] {
  return messages.map((message) => Number(message.fields.n));
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}

function sorted(values: Iterable<number>): number[] {
  return [...values].sort((a, b) => a - b);
}

/** Counts, per entry number, each settlement the producer reports. */
function settlements() {
  const acked = new Map<number, number>();
  const nacked = new Map<number, number>();
  const onSettle: RedisStreamProducerOptions["onSettle"] = (messages, outcome) => {
    const counts = outcome === "ack" ? acked : nacked;
    for (const n of numbers(messages)) counts.set(n, (counts.get(n) ?? 0) + 1);
  };
  return { acked, nacked, onSettle };
}

describe("RedisStreamProducer and RedisStreamSink", { skip }, () => {
  let server: BrokerServer;
  let redis: Redis;
  let streams = 0;
  /** A fresh stream with the group `workers` at its start. */
  async function stream(count: number) {
    const name = `s${++streams}`;
    await createGroup(redis, name);
    await append(redis, name, count);
    return name;
  }

  before(async () => {
    server = await startRedis({ persistent: true });
    redis = clientFor(server.url);
  });
  after(async () => {
    redis?.disconnect();
    await server?.dispose();
  });

  it("delivers every entry and acknowledges each once, after its handleEvents", async () => {
    const name = await stream(1000);
    const { acked, nacked, onSettle } = settlements();
    const producer = new RedisStreamProducer({ redis, stream: name, group: "workers", onSettle });
    const handled: number[] = [];
    const consumer = new Consumer<RedisStreamMessage>({
      subscribeTo: [[producer, { maxDemand: 100 }]],
      handleEvents: (messages) => {
        assert.ok(numbers(messages).every((n) => !acked.has(n)));
        handled.push(...numbers(messages));
      },
    });
    await until(() => acked.size === 1000, "1000 acknowledgements");
    await producer.close();
    await consumer.closed;
    assert.deepEqual(sorted(handled), range(1000));
    assert.ok([...acked.values()].every((count) => count === 1));
    assert.equal(nacked.size, 0);
    const { peakInFlight, ...stats } = producer.brokerStats;
    assert.deepEqual(stats, { received: 1000, acked: 1000, nacked: 0, inFlight: 0 });
    assert.ok(peakInFlight <= 100, `peak in flight ${peakInFlight} > maxDemand 100`);
    // The server agrees, and close() removed the generated consumer name.
    assert.deepEqual(await groupInfo(redis, name), {
      pending: 0,
      entriesRead: 1000,
      lag: 0,
      consumers: 0,
    });
  });

  it("never holds more entries than the demand (back pressure)", async () => {
    const name = await stream(300);
    const producer = new RedisStreamProducer({ redis, stream: name, group: "workers" });
    let handled = 0;
    let most = 0;
    let mostPending = 0;
    const consumer = new Consumer<RedisStreamMessage>({
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 3 }]],
      handleEvents: async (messages) => {
        most = Math.max(most, producer.brokerStats.inFlight);
        // The server's count of entries delivered and not acknowledged.
        mostPending = Math.max(mostPending, (await groupInfo(redis, name)).pending);
        most = Math.max(most, producer.brokerStats.inFlight);
        handled += messages.length;
      },
    });
    await until(() => producer.brokerStats.acked === 300, "300 acknowledgements");
    await producer.close();
    await consumer.closed;
    assert.equal(handled, 300);
    assert.ok(most <= 10, `in flight reached ${most}`);
    assert.ok(producer.brokerStats.peakInFlight <= 10, `peak ${producer.brokerStats.peakInFlight}`);
    assert.ok(mostPending <= 10, `${mostPending} pending on the server`);
  });

  it("claims an entry whose task failed once it has been idle, and acknowledges it once it succeeds", async () => {
    const name = await stream(50);
    const { acked, nacked, onSettle } = settlements();
    const producer = new RedisStreamProducer({
      redis,
      stream: name,
      group: "workers",
      claimIdle: 200,
      block: 100,
      onSettle,
    });
    const attempts = new Map<number, boolean[]>();
    const supervisor = new ConsumerSupervisor<RedisStreamMessage>({
      subscribeTo: [[producer, { maxDemand: 8, minDemand: 2 }]],
      handleEvent: async (message) => {
        const n = Number(message.fields.n);
        attempts.set(n, [...(attempts.get(n) ?? []), message.redelivered]);
        await Promise.resolve();
        if (n % 10 === 3 && !message.redelivered) throw new Error(`job ${n} failed`);
      },
      onTaskError: () => {},
    });
    await until(() => acked.size === 50, "50 acknowledgements");
    await producer.close();
    await supervisor.close();
    const failed = [3, 13, 23, 33, 43];
    for (const n of range(50)) {
      assert.deepEqual(attempts.get(n), failed.includes(n) ? [false, true] : [false], `job ${n}`);
      assert.equal(acked.get(n), 1, `job ${n} acknowledged once`);
    }
    assert.deepEqual(sorted(nacked.keys()), failed);
    assert.equal((await groupInfo(redis, name)).pending, 0);
  });

  it("close() stops reading, finishes what it holds, acknowledges it, and leaves the rest to others", async () => {
    const name = await stream(500);
    const first = settlements();
    const producer = new RedisStreamProducer({
      redis,
      stream: name,
      group: "workers",
      onSettle: first.onSettle,
    });
    const handled: number[] = [];
    let closing: Promise<void> | undefined;
    const consumer = new Consumer<RedisStreamMessage>({
      subscribeTo: [[producer, { maxDemand: 50, minDemand: 25 }]],
      handleEvents: async (messages) => {
        handled.push(...numbers(messages));
        if (handled.length >= 100) closing ??= producer.close();
        await new Promise((resolve) => setTimeout(resolve, 1));
      },
    });
    await until(() => closing !== undefined, "the close");
    await closing;
    await consumer.closed;
    assert.equal(first.acked.size, producer.brokerStats.received);
    assert.deepEqual(sorted(first.acked.keys()), sorted(handled));
    assert.equal(first.nacked.size, 0);
    assert.ok(handled.length < 500);
    assert.equal((await groupInfo(redis, name)).pending, 0);
    const second = settlements();
    const next = new RedisStreamProducer({
      redis,
      stream: name,
      group: "workers",
      onSettle: second.onSettle,
    });
    const rest = new Consumer<RedisStreamMessage>({
      subscribeTo: [next],
      handleEvents: (messages) => void handled.push(...numbers(messages)),
    });
    await until(() => first.acked.size + second.acked.size === 500, "500 acknowledgements");
    await next.close();
    await rest.closed;
    assert.deepEqual(sorted(handled), range(500));
  });

  it("stop() leaves what it holds pending: another producer claims it once idle", async () => {
    const name = await stream(100);
    const first = settlements();
    const producer = new RedisStreamProducer({
      redis,
      stream: name,
      group: "workers",
      onSettle: first.onSettle,
    });
    const never = new Promise<void>(() => {});
    const stuck = new Consumer<RedisStreamMessage>({
      subscribeTo: [[producer, { maxDemand: 30, minDemand: 0 }]],
      handleEvents: () => never,
    });
    await until(() => producer.brokerStats.inFlight === 30, "30 entries in flight");
    await producer.stop();
    await producer.closed;
    assert.equal(first.nacked.size, 30);
    assert.equal(first.acked.size, 0);
    assert.equal((await groupInfo(redis, name)).pending, 30);
    await stuck.stop();
    const second = settlements();
    const handled: number[] = [];
    const again = new RedisStreamProducer({
      redis,
      stream: name,
      group: "workers",
      claimIdle: 200,
      block: 100,
      onSettle: second.onSettle,
    });
    const consumer = new Consumer<RedisStreamMessage>({
      subscribeTo: [again],
      handleEvents: (messages) => void handled.push(...numbers(messages)),
    });
    await until(() => second.acked.size === 100, "100 acknowledgements");
    await again.close();
    await consumer.closed;
    assert.deepEqual(sorted(handled), range(100));
    assert.deepEqual(await groupInfo(redis, name), {
      pending: 0,
      entriesRead: 100,
      lag: 0,
      // The first producer's generated name keeps the group until someone removes it.
      consumers: 1,
    });
  });

  it("resumes after the server restarts mid-stream", async () => {
    const name = await stream(300);
    const errors: unknown[] = [];
    const producer = new RedisStreamProducer({
      redis,
      stream: name,
      group: "workers",
      claimIdle: 500,
      block: 100,
      onError: (error) => errors.push(error),
    });
    const handled = new Set<number>();
    let restarted: Promise<void> | undefined;
    const consumer = new Consumer<RedisStreamMessage>({
      subscribeTo: [[producer, { maxDemand: 20 }]],
      handleEvents: async (messages) => {
        for (const n of numbers(messages)) handled.add(n);
        if (handled.size >= 100 && restarted === undefined) {
          restarted = server.stop().then(() => server.start());
        }
        await new Promise((resolve) => setTimeout(resolve, 2));
      },
    });
    await until(() => restarted !== undefined, "the restart");
    await restarted;
    await append(redis, name, 100, 300);
    await until(() => handled.size === 400, "400 entries handled");
    await until(async () => (await groupInfo(redis, name)).pending === 0, "no pending entry");
    await producer.close();
    await consumer.closed;
    assert.deepEqual(sorted(handled), range(400));
    const info = await groupInfo(redis, name);
    assert.equal(info.lag, 0);
    assert.equal(info.entriesRead, 400);
  });

  it("creates the group again when a server without persistence lost it", async () => {
    const volatile = await startRedis();
    const client = clientFor(volatile.url);
    try {
      const producer = new RedisStreamProducer({
        redis: client,
        stream: "jobs",
        group: "workers",
        startId: "0",
        block: 100,
        onError: () => {},
      });
      const handled: number[] = [];
      const consumer = new Consumer<RedisStreamMessage>({
        subscribeTo: [producer],
        handleEvents: (messages) => void handled.push(...numbers(messages)),
      });
      await until(async () => (await client.exists("jobs")) === 1, "the stream");
      await append(client, "jobs", 10);
      await until(() => handled.length === 10, "10 entries handled");
      await volatile.stop();
      await volatile.start(); // empty: no stream, no group
      await until(() => client.status === "ready", "the reconnection");
      await until(async () => (await client.exists("jobs")) === 1, "the group made again");
      await append(client, "jobs", 10, 10);
      await until(() => handled.length === 20, "20 entries handled");
      await producer.close();
      await consumer.closed;
      assert.deepEqual(sorted(handled), range(20));
    } finally {
      client.disconnect();
      await volatile.dispose();
    }
  });

  it("RedisStreamSink appends every event, paced by the replies", async () => {
    let fieldsMade = 0;
    let written = 0;
    let most = 0;
    const sink = new RedisStreamSink<number>({
      redis,
      stream: (n) => `out${n % 2}`,
      fields: (n) => {
        fieldsMade++;
        most = Math.max(most, fieldsMade - written);
        return { n, half: n / 2 };
      },
      onPublished: (ids) => (written += ids.length),
      subscribeTo: [[Producer.from(range(1000)), { maxDemand: 40, minDemand: 30 }]],
    });
    await sink.closed;
    assert.equal(written, 1000);
    assert.ok(most <= 10, `${most} writes in flight`);
    assert.equal(await redis.xlen("out0"), 500);
    assert.equal(await redis.xlen("out1"), 500);
    const [[, last]] = await redis.xrevrange("out1", "+", "-", "COUNT", 1);
    assert.deepEqual(last, ["n", "999", "half", "499.5"]);
  });

  it("RedisStreamSink stops with the write error and the chunk stays pending upstream", async () => {
    const name = await stream(10);
    await redis.set("not-a-stream", "x");
    const { acked, nacked, onSettle } = settlements();
    const producer = new RedisStreamProducer({ redis, stream: name, group: "workers", onSettle });
    const sink = new RedisStreamSink<RedisStreamMessage>({
      redis,
      stream: "not-a-stream",
      fields: (message) => message.fields,
      subscribeTo: [[producer, { maxDemand: 10 }]],
    });
    await assert.rejects(sink.closed, /WRONGTYPE/);
    await until(() => nacked.size === 10, "10 entries left pending");
    assert.equal(acked.size, 0);
    await producer.stop();
    assert.equal((await groupInfo(redis, name)).pending, 10);
  });

  it("rejects bad options with the option's name", () => {
    assert.throws(() => new RedisStreamProducer({ redis, stream: "s", group: "" }), {
      name: "TypeError",
      message:
        'Cannot construct RedisStreamProducer as group must be a non-empty string: current value is ""',
    });
    assert.throws(
      () => new RedisStreamProducer({ redis, stream: "s", group: "g", claimIdle: 0 }),
      {
        name: "RangeError",
        message:
          "Cannot construct RedisStreamProducer as claimIdle must be an integer >= 1 or Infinity: current value is 0",
      },
    );
    assert.throws(
      () => new RedisStreamSink({ redis: {} as Redis, stream: "s" }),
      /Cannot construct RedisStreamSink as redis must be a Redis client \(ioredis\): current value is an object/,
    );
  });
});
