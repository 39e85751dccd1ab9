// The shapes of the NATS client library that webstage/nats takes or gives,
// declared here so the package needs none of its types in its own API (any
// version of @nats-io/jetstream and any NATS transport fit them).

/**
 * A NATS connection from any transport (`connect` of `@nats-io/transport-node`,
 * `wsconnect` of `@nats-io/nats-core`, …): the methods webstage uses.
 */
export interface NatsConnection {
  /** Resolves once the server has processed everything sent before. */
  flush(): Promise<void>;
  /** Whether the connection is closed for good. */
  isClosed(): boolean;
}

/** Options of the JetStream client the producer and sink create. */
export interface JetStreamClientOptions {
  /** The JetStream domain (changes the API prefix). */
  readonly domain?: string;
  /** The JetStream API prefix, when the server's is not the default. */
  readonly apiPrefix?: string;
  /** How long to wait for a JetStream API reply, in milliseconds. */
  readonly timeout?: number;
}

/** A message's headers, as the client library gives them. */
export interface NatsHeaders {
  /** The first value of `name`, or `""`. */
  get(name: string): string;
  /** Whether `name` is set. */
  has(name: string): boolean;
  /** The header names. */
  keys(): string[];
  /** Every value of `name`. */
  values(name: string): string[];
}

/** JetStream's acknowledgement of a published message. */
export interface PublishAck {
  /** The stream that stored it. */
  readonly stream: string;
  /** Its sequence number in that stream. */
  readonly seq: number;
  /** True if the stream had already stored a message with the same ID (and dropped this one). */
  readonly duplicate: boolean;
}
