// JetStreamProducer and JetStreamSink against a real `nats-server -js`,
// counting every message: published, handled, settled by the producer, and
// the server's own view of the durable consumer.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Consumer, ConsumerSupervisor, Producer } from "../../mod.ts";
import {
  type JetStreamMessage,
  JetStreamProducer,
  type JetStreamProducerOptions,
  JetStreamSink,
} from "../../nats.ts";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { type BrokerServer, skipWithout, startNats } from "./_servers.ts";
import { connectTo, consumerInfo, createStream, publish } from "./_nats.ts";
import { until } from "./_until.ts";

const skip = skipWithout("nats-server");

function numbers(messages: readonly JetStreamMessage[]): number[] {
  return messages.map((message) => message.json<{ n: number }>().n);
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}

function sorted(values: Iterable<number>): number[] {
  return [...values].sort((a, b) => a - b);
}

/** Counts, per message number, each settlement the producer reports. */
function settlements() {
  const acked = new Map<number, number>();
  const nacked = new Map<number, number>();
  const onSettle: JetStreamProducerOptions["onSettle"] = (messages, outcome) => {
    const counts = outcome === "ack" ? acked : nacked;
    for (const n of numbers(messages)) counts.set(n, (counts.get(n) ?? 0) + 1);
  };
  return { acked, nacked, onSettle };
}

describe("JetStreamProducer and JetStreamSink", { skip }, () => {
  let server: BrokerServer;
  let connection: NatsConnection;
  let streams = 0;
  /** A fresh stream (with its durable consumer `workers`) per test. */
  async function stream(options?: { ackWaitMs?: number; maxAckPending?: number }) {
    const name = `S${++streams}`;
    await createStream(connection, name, options);
    return name;
  }

  before(async () => {
    server = await startNats();
    connection = await connectTo(server.url);
  });
  after(async () => {
    await connection?.close();
    await server?.dispose();
  });

  it("delivers every message and acknowledges each once, after its handleEvents", async () => {
    const name = await stream();
    await publish(connection, name, 1000);
    const { acked, nacked, onSettle } = settlements();
    const producer = new JetStreamProducer({
      connection,
      stream: name,
      consumer: "workers",
      expires: 1000,
      onSettle,
    });
    const handled: number[] = [];
    const consumer = new Consumer<JetStreamMessage>({
      subscribeTo: [[producer, { maxDemand: 100 }]],
      handleEvents: (messages) => {
        // None of them is settled yet: that comes after handleEvents.
        assert.ok(numbers(messages).every((n) => !acked.has(n)));
        handled.push(...numbers(messages));
      },
    });
    await until(() => acked.size === 1000, "1000 acknowledgements");
    await producer.close();
    await consumer.closed;
    assert.deepEqual(sorted(handled), range(1000));
    assert.deepEqual(sorted(acked.keys()), range(1000));
    assert.ok([...acked.values()].every((count) => count === 1));
    assert.equal(nacked.size, 0);
    const { peakInFlight, ...stats } = producer.brokerStats;
    assert.deepEqual(stats, { received: 1000, acked: 1000, nacked: 0, inFlight: 0 });
    assert.ok(peakInFlight <= 100, `peak in flight ${peakInFlight} > maxDemand 100`);
    const info = await consumerInfo(connection, name);
    assert.equal(info.num_ack_pending, 0);
    assert.equal(info.num_pending, 0);
    assert.equal(info.num_redelivered, 0);
    assert.equal(info.ack_floor.stream_seq, 1000);
  });

  it("never holds more messages than the demand (back pressure)", async () => {
    const name = await stream();
    await publish(connection, name, 300);
    const producer = new JetStreamProducer({
      connection,
      stream: name,
      consumer: "workers",
      expires: 1000,
      maxPullRequests: 4,
    });
    let handled = 0;
    let most = 0;
    const consumer = new Consumer<JetStreamMessage>({
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 3 }]],
      handleEvents: async (messages) => {
        most = Math.max(most, producer.brokerStats.inFlight);
        await consumerInfo(connection, name); // a slow handler: one round trip to the server
        most = Math.max(most, producer.brokerStats.inFlight);
        handled += messages.length;
        assert.ok(messages.length <= 7);
      },
    });
    await until(() => producer.brokerStats.acked === 300, "300 acknowledgements");
    await producer.close();
    await consumer.closed;
    assert.equal(handled, 300);
    assert.ok(most <= 10, `in flight reached ${most}`);
    assert.ok(producer.brokerStats.peakInFlight <= 10, `peak ${producer.brokerStats.peakInFlight}`);
  });

  it("redelivers a message whose task failed, and acknowledges it once it succeeds", async () => {
    const name = await stream();
    await publish(connection, name, 50);
    const { acked, nacked, onSettle } = settlements();
    const producer = new JetStreamProducer({
      connection,
      stream: name,
      consumer: "workers",
      expires: 1000,
      onSettle,
    });
    const attempts = new Map<number, number[]>();
    const supervisor = new ConsumerSupervisor<JetStreamMessage>({
      subscribeTo: [[producer, { maxDemand: 8, minDemand: 2 }]],
      handleEvent: async (message) => {
        const n = message.json<{ n: number }>().n;
        attempts.set(n, [...(attempts.get(n) ?? []), message.deliveryCount]);
        await Promise.resolve();
        if (n % 10 === 3 && message.deliveryCount === 1) throw new Error(`job ${n} failed`);
      },
      onTaskError: () => {},
    });
    await until(() => acked.size === 50, "50 acknowledgements");
    await producer.close();
    await supervisor.close();
    const failed = [3, 13, 23, 33, 43];
    for (const n of range(50)) {
      assert.deepEqual(attempts.get(n), failed.includes(n) ? [1, 2] : [1], `job ${n}`);
      assert.equal(acked.get(n), 1, `job ${n} acknowledged once`);
    }
    assert.deepEqual(sorted(nacked.keys()), failed);
    assert.ok([...nacked.values()].every((count) => count === 1));
    const info = await consumerInfo(connection, name);
    assert.equal(info.num_ack_pending, 0);
    assert.equal(info.ack_floor.stream_seq, 50);
  });

  it("gives back what a failing consumer held: another consumer handles it", async () => {
    const name = await stream();
    await publish(connection, name, 200);
    const { acked, nacked, onSettle } = settlements();
    const producer = new JetStreamProducer({
      connection,
      stream: name,
      consumer: "workers",
      expires: 1000,
      onSettle,
    });
    let calls = 0;
    let failedChunk = 0;
    const failing = new Consumer<JetStreamMessage>({
      subscribeTo: [[producer, { maxDemand: 20, minDemand: 10 }]],
      handleEvents: (messages) => {
        if (++calls === 3) {
          failedChunk = messages.length;
          throw new Error("boom");
        }
      },
    });
    await assert.rejects(failing.closed, /boom/);
    const handled: number[] = [];
    const good = new Consumer<JetStreamMessage>({
      subscribeTo: [[producer, { maxDemand: 20 }]],
      handleEvents: (messages) => void handled.push(...numbers(messages)),
    });
    await until(() => acked.size === 200, "200 acknowledgements");
    await producer.close();
    await good.closed;
    // The failing consumer handled two chunks; its third, and what it held, reached the good one.
    assert.equal(producer.brokerStats.received, 200 + nacked.size);
    assert.ok(
      failedChunk > 0 && nacked.size >= failedChunk,
      `${nacked.size} negatively acknowledged`,
    );
    assert.deepEqual(sorted(new Set([...handled, ...acked.keys()])), range(200));
    assert.ok([...acked.values()].every((count) => count === 1));
    for (const n of nacked.keys()) assert.ok(handled.includes(n), `${n} redelivered`);
  });

  it("close() stops pulling, finishes what it holds, acknowledges it, and leaves the rest to others", async () => {
    const name = await stream();
    await publish(connection, name, 500);
    const first = settlements();
    const producer = new JetStreamProducer({
      connection,
      stream: name,
      consumer: "workers",
      expires: 1000,
      onSettle: first.onSettle,
    });
    const handled: number[] = [];
    let closing: Promise<void> | undefined;
    const consumer = new Consumer<JetStreamMessage>({
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
    // Everything it received was handled and acknowledged; nothing negatively.
    assert.equal(first.acked.size, producer.brokerStats.received);
    assert.deepEqual(sorted(first.acked.keys()), sorted(handled));
    assert.equal(first.nacked.size, 0);
    assert.equal(producer.brokerStats.inFlight, 0);
    assert.ok(handled.length < 500);
    const info = await consumerInfo(connection, name);
    assert.equal(info.num_ack_pending, 0);
    // A second producer takes the rest.
    const second = settlements();
    const next = new JetStreamProducer({
      connection,
      stream: name,
      consumer: "workers",
      expires: 1000,
      onSettle: second.onSettle,
    });
    const rest = new Consumer<JetStreamMessage>({
      subscribeTo: [next],
      handleEvents: (messages) => void handled.push(...numbers(messages)),
    });
    await until(() => first.acked.size + second.acked.size === 500, "500 acknowledgements");
    await next.close();
    await rest.closed;
    assert.deepEqual(sorted(handled), range(500));
  });

  it("stop() negatively acknowledges what it holds, so it is redelivered at once", async () => {
    const name = await stream();
    await publish(connection, name, 100);
    const { acked, nacked, onSettle } = settlements();
    const producer = new JetStreamProducer({
      connection,
      stream: name,
      consumer: "workers",
      expires: 1000,
      onSettle,
    });
    const never = new Promise<void>(() => {});
    const stuck = new Consumer<JetStreamMessage>({
      subscribeTo: [[producer, { maxDemand: 30, minDemand: 0 }]],
      handleEvents: () => never,
    });
    await until(() => producer.brokerStats.inFlight === 30, "30 messages in flight");
    await producer.stop();
    await producer.closed;
    assert.equal(nacked.size, 30);
    assert.equal(acked.size, 0);
    assert.equal(producer.brokerStats.inFlight, 0);
    await stuck.stop();
    const handled: number[] = [];
    const again = new JetStreamProducer({
      connection,
      stream: name,
      consumer: "workers",
      expires: 1000,
    });
    const consumer = new Consumer<JetStreamMessage>({
      subscribeTo: [again],
      handleEvents: (messages) => void handled.push(...numbers(messages)),
    });
    await until(() => again.brokerStats.acked === 100, "100 acknowledgements");
    await again.close();
    await consumer.closed;
    assert.deepEqual(sorted(handled), range(100));
  });

  it("resumes after the server restarts mid-stream", async () => {
    const name = await stream({ ackWaitMs: 2000 });
    await publish(connection, name, 300);
    const errors: unknown[] = [];
    const producer = new JetStreamProducer({
      connection,
      stream: name,
      consumer: "workers",
      expires: 1000,
      onError: (error) => errors.push(error),
    });
    const handled = new Set<number>();
    let restarted: Promise<void> | undefined;
    const consumer = new Consumer<JetStreamMessage>({
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
    await until(
      () => consumerInfo(connection, name).then(() => true, () => false),
      "JetStream back",
    );
    await publish(connection, name, 100, 300);
    await until(() => handled.size === 400, "400 messages handled");
    await until(
      async () => (await consumerInfo(connection, name)).num_ack_pending === 0,
      "no pending",
    );
    await producer.close();
    await consumer.closed;
    assert.deepEqual(sorted(handled), range(400));
    const info = await consumerInfo(connection, name);
    assert.equal(info.num_pending, 0);
    assert.equal(info.ack_floor.stream_seq, 400);
  });

  it("JetStreamSink publishes every event, paced by the publish acknowledgements", async () => {
    const jsm = await jetstreamManager(connection);
    await jsm.streams.add({ name: "OUT", subjects: ["out.>"] });
    let encoded = 0;
    let published = 0;
    let most = 0;
    const sink = new JetStreamSink<number>({
      connection,
      subject: (n) => `out.${n % 3}`,
      encode: (n) => {
        encoded++;
        most = Math.max(most, encoded - published);
        return JSON.stringify({ n });
      },
      msgID: (n) => `job-${n}`,
      onPublished: (acks) => (published += acks.length),
      subscribeTo: [[Producer.from(range(1000)), { maxDemand: 40, minDemand: 30 }]],
    });
    await sink.closed;
    assert.equal(published, 1000);
    assert.ok(most <= 10, `${most} publishes in flight`);
    const info = await jsm.streams.info("OUT");
    assert.equal(info.state.messages, 1000);
    const last = await jsm.streams.getMessage("OUT", { last_by_subj: "out.0" });
    assert.deepEqual(last?.json(), { n: 999 });
    // The same IDs again are duplicates: the stream keeps one copy.
    const again = new JetStreamSink<number>({
      connection,
      subject: "out.0",
      msgID: (n) => `job-${n}`,
      subscribeTo: [Producer.from([0, 3, 6])],
    });
    await again.closed;
    assert.equal((await jsm.streams.info("OUT")).state.messages, 1000);
  });

  it("JetStreamSink stops with the publish error and the chunk counts as not handled upstream", async () => {
    const name = await stream();
    await publish(connection, name, 10);
    const { acked, nacked, onSettle } = settlements();
    const producer = new JetStreamProducer({
      connection,
      stream: name,
      consumer: "workers",
      expires: 1000,
      onSettle,
    });
    const sink = new JetStreamSink<JetStreamMessage>({
      connection,
      subject: "nowhere.at.all", // no stream: the publish fails (no responders)
      encode: (message) => message.data,
      timeout: 500,
      subscribeTo: [[producer, { maxDemand: 10 }]],
    });
    await assert.rejects(sink.closed);
    await until(() => nacked.size === 10, "10 negative acknowledgements");
    assert.equal(acked.size, 0);
    await producer.stop();
  });

  it("rejects bad options with the option's name", () => {
    assert.throws(
      () => new JetStreamProducer({ connection, stream: "", consumer: "workers" }),
      {
        name: "TypeError",
        message:
          'Cannot construct JetStreamProducer as stream must be a non-empty string: current value is ""',
      },
    );
    assert.throws(
      () => new JetStreamProducer({ connection, stream: "S", consumer: "w", expires: 10 }),
      {
        name: "RangeError",
        message:
          "Cannot construct JetStreamProducer as expires must be an integer >= 1000: current value is 10",
      },
    );
    assert.throws(
      () =>
        new JetStreamProducer({
          connection: {} as NatsConnection,
          stream: "S",
          consumer: "w",
        }),
      /Cannot construct JetStreamProducer as connection must be a NATS connection/,
    );
    assert.throws(
      () => new JetStreamSink({ connection, subject: 3 as unknown as string }),
      /Cannot construct JetStreamSink as subject must be a non-empty string or a function: current value is 3/,
    );
  });

  it("stops with an error when its consumer does not exist", async () => {
    const producer = new JetStreamProducer({ connection, stream: "NONE", consumer: "nobody" });
    await assert.rejects(
      producer.closed,
      /Cannot pull from JetStream consumer nobody of stream NONE/,
    );
  });
});
