/**
 * webstage on NATS JetStream: a producer whose demand is a pull consumer's
 * credit, each message acknowledged once handled and redelivered when its
 * handler fails or its process dies, and a sink that publishes to a stream
 * paced by the publish acknowledgements.
 *
 * Needs the peer dependency `@nats-io/jetstream` and a connection from any
 * NATS transport (`@nats-io/transport-node` on Node, Deno and Bun).
 *
 * @example A worker: every message of a durable consumer handled, then acknowledged
 * ```ts ignore
 * import { connect } from "@nats-io/transport-node";
 * import { ConsumerSupervisor } from "@webstage/webstage";
 * import { JetStreamProducer } from "@webstage/webstage/nats";
 *
 * const connection = await connect({ servers: "nats://127.0.0.1:4222" });
 * const jobs = new JetStreamProducer({ connection, stream: "JOBS", consumer: "workers" });
 * const workers = new ConsumerSupervisor<JetStreamMessage>({
 *   subscribeTo: [[jobs, { maxDemand: 20 }]], // at most 20 jobs in flight in this process
 *   handleEvent: (message) => runJob(message.json()), // acknowledged when it resolves
 * });
 * ```
 *
 * @module
 */

export {
  type JetStreamMessage,
  JetStreamProducer,
  type JetStreamProducerOptions,
} from "./src/nats/jetstream_producer.ts";
export { JetStreamSink, type JetStreamSinkOptions } from "./src/nats/jetstream_sink.ts";
export type { BrokerProducerStats, Outcome } from "./src/_broker_source.ts";
export type {
  JetStreamClientOptions,
  NatsConnection,
  NatsHeaders,
  PublishAck,
} from "./src/nats/_types.ts";
