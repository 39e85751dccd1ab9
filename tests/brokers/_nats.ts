// NATS helpers for the broker tests: a connection, a stream with a durable
// pull consumer, publishing numbered messages and reading the consumer's
// state from the server.

import { connect } from "@nats-io/transport-node";
import { AckPolicy, type ConsumerInfo, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";

/** Connects with reconnection that never gives up (the tests restart the server). */
export function connectTo(url: string): Promise<NatsConnection> {
  return connect({
    servers: url,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 100,
  });
}

/** Creates stream `name` on `name.>` and a durable explicit-ack pull consumer `workers`. */
export async function createStream(
  connection: NatsConnection,
  name: string,
  options: { ackWaitMs?: number; maxAckPending?: number } = {},
): Promise<void> {
  const jsm = await jetstreamManager(connection);
  await jsm.streams.add({ name, subjects: [`${name}.>`] });
  await jsm.consumers.add(name, {
    durable_name: "workers",
    ack_policy: AckPolicy.Explicit,
    ack_wait: (options.ackWaitMs ?? 30_000) * 1_000_000,
    max_ack_pending: options.maxAckPending ?? 10_000,
  });
}

/** Publishes `count` messages `{ "n": i }` (i from `from`) on `<stream>.jobs`, awaiting every PubAck. */
export async function publish(
  connection: NatsConnection,
  stream: string,
  count: number,
  from = 0,
): Promise<void> {
  const js = jetstream(connection);
  const encoder = new TextEncoder();
  for (let i = from; i < from + count; i += 500) {
    const acks = [];
    for (let n = i; n < Math.min(from + count, i + 500); n++) {
      acks.push(js.publish(`${stream}.jobs`, encoder.encode(JSON.stringify({ n }))));
    }
    await Promise.all(acks);
  }
}

/** The server's view of the durable consumer `workers`. */
export async function consumerInfo(
  connection: NatsConnection,
  stream: string,
): Promise<ConsumerInfo> {
  const jsm = await jetstreamManager(connection, { timeout: 1000 });
  return await jsm.consumers.info(stream, "workers");
}
