import type { Consumer as PullConsumer, JsMsg } from "@nats-io/jetstream";
import { jetstream } from "@nats-io/jetstream";
import type { Dispatcher } from "../dispatcher.ts";
import { Producer, type ProducerOptions } from "../producer.ts";
import {
  backoff,
  type BrokerProducerStats,
  checkName,
  type Fetcher,
  type Outcome,
  SourceEngine,
} from "../_broker_source.ts";
import * as v from "../_validate.ts";
import { checkConnection } from "./_connection.ts";
import type { JetStreamClientOptions, NatsConnection, NatsHeaders } from "./_types.ts";

/**
 * One JetStream message as an event of a {@linkcode JetStreamProducer}, with
 * its acknowledgement. By default the producer settles it after the
 * consumer's `handleEvents` (or `ConsumerSupervisor` task): `ack()` on
 * success, `nak()` on failure. Calling `ack()`, `nak()` or `term()` yourself
 * settles it earlier; whatever comes first wins, and a message is settled
 * exactly once.
 */
export interface JetStreamMessage {
  /** The subject it was published on. */
  readonly subject: string;
  /** Its payload. */
  readonly data: Uint8Array;
  /** Its sequence number in the stream. */
  readonly seq: number;
  /** How many times JetStream has delivered it (1 the first time). */
  readonly deliveryCount: number;
  /** Whether this is a redelivery. */
  readonly redelivered: boolean;
  /** Its headers, if it has any. */
  readonly headers: NatsHeaders | undefined;
  /** When the stream stored it (an ISO 8601 string). */
  readonly timestamp: string;
  /** The payload parsed as JSON. */
  json<T = unknown>(): T;
  /** The payload decoded as UTF-8. */
  string(): string;
  /** Acknowledges it now: it is handled. */
  ack(): void;
  /** Negatively acknowledges it now: JetStream redelivers it after `delayMs` (default: at once). */
  nak(delayMs?: number): void;
  /** Tells JetStream never to redeliver it. */
  term(): void;
  /** Resets its `ack_wait` timer (for long handling). Does not settle it. */
  working(): void;
}

/** Options of a {@linkcode JetStreamProducer}. */
export interface JetStreamProducerOptions {
  /** An open NATS connection; the producer does not close it. */
  readonly connection: NatsConnection;
  /** The stream's name. */
  readonly stream: string;
  /**
   * The name of an existing durable pull consumer on `stream` with explicit
   * acknowledgement. Every process that uses the same name shares its
   * messages (each message goes to one of them). Its `max_ack_pending` caps
   * the messages in flight across all of them: make it at least the sum of
   * their `maxDemand`.
   */
  readonly consumer: string;
  /** Options of the JetStream client (domain, API prefix, timeout). */
  readonly jetStreamOptions?: JetStreamClientOptions;
  /**
   * How long a pull request waits for messages, in milliseconds (an integer
   * ≥ 1000): on an idle stream, the producer sends one pull request per
   * `expires` per open slot.
   *
   * @default {5000}
   */
  readonly expires?: number;
  /**
   * How many pull requests may be open at once (an integer ≥ 1); their
   * batches add up to at most the demand.
   *
   * @default {2}
   */
  readonly maxPullRequests?: number;
  /**
   * Delay before JetStream redelivers a message whose handling failed, in
   * milliseconds (an integer ≥ 0); 0 redelivers at once.
   *
   * @default {0}
   */
  readonly nakDelay?: number;
  /** Called after messages were settled with JetStream (for metrics or logs). */
  readonly onSettle?: (messages: readonly JetStreamMessage[], outcome: Outcome) => void;
  /**
   * Called with each error the producer recovers from (a failed pull request,
   * a lost connection); it retries with a backoff of up to 5 s.
   *
   * @default {console.warn}
   */
  readonly onError?: (error: unknown) => void;
  /**
   * Decides which subscription receives which messages.
   *
   * @default {new DemandDispatcher()}
   */
  readonly dispatcher?: Dispatcher<JetStreamMessage>;
  /** Aborting it stops the producer at once with `signal.reason` (as `stop`). */
  readonly signal?: AbortSignal;
}

class Delivery implements JetStreamMessage {
  settled = false;
  readonly message: JsMsg;
  readonly #engine: SourceEngine<Delivery>;

  constructor(message: JsMsg, engine: SourceEngine<Delivery>) {
    this.message = message;
    this.#engine = engine;
  }

  get subject(): string {
    return this.message.subject;
  }
  get data(): Uint8Array {
    return this.message.data;
  }
  get seq(): number {
    return this.message.seq;
  }
  get deliveryCount(): number {
    return this.message.info.deliveryCount;
  }
  get redelivered(): boolean {
    return this.message.redelivered;
  }
  get headers(): NatsHeaders | undefined {
    return this.message.headers;
  }
  get timestamp(): string {
    return this.message.timestamp;
  }
  json<T = unknown>(): T {
    return this.message.json<T>();
  }
  string(): string {
    return this.message.string();
  }
  ack(): void {
    this.#engine.settle([this], "ack");
  }
  nak(delayMs?: number): void {
    if (delayMs !== undefined) v.integer("nak", "delayMs", delayMs, 0);
    this.#engine.settle([this], "nak", delayMs);
  }
  term(): void {
    this.#engine.settle([this], "term");
  }
  working(): void {
    if (!this.settled) this.message.working();
  }
}

interface NormalOptions {
  readonly connection: NatsConnection;
  readonly stream: string;
  readonly consumer: string;
  readonly jetStreamOptions: JetStreamClientOptions | undefined;
  readonly expires: number;
  readonly maxPullRequests: number;
  readonly nakDelay: number;
  readonly onSettle: JetStreamProducerOptions["onSettle"];
  readonly onError: ((error: unknown) => void) | undefined;
  readonly dispatcher: Dispatcher<JetStreamMessage> | undefined;
  readonly signal: AbortSignal | undefined;
}

function normalize(options: unknown): NormalOptions {
  const action = "construct JetStreamProducer";
  if (options === undefined) {
    throw new TypeError(v.message(action, "options", "an object", options));
  }
  const o = v.options<JetStreamProducerOptions>(action, "options", options);
  return {
    connection: checkConnection(action, o.connection),
    stream: checkName(action, "stream", o.stream),
    consumer: checkName(action, "consumer", o.consumer),
    jetStreamOptions: o.jetStreamOptions === undefined
      ? undefined
      : v.options<JetStreamClientOptions>(action, "jetStreamOptions", o.jetStreamOptions),
    expires: v.integer(action, "expires", o.expires ?? 5000, 1000),
    maxPullRequests: v.integer(action, "maxPullRequests", o.maxPullRequests ?? 2, 1),
    nakDelay: v.integer(action, "nakDelay", o.nakDelay ?? 0, 0),
    onSettle: v.callback(action, "onSettle", o.onSettle),
    onError: v.callback(action, "onError", o.onError),
    dispatcher: o.dispatcher,
    signal: v.signal(action, o.signal),
  };
}

/**
 * A producer whose demand is a JetStream pull consumer's credit: it pulls at
 * most as many messages as its subscriptions ask for, in pull requests of up
 * to the unmet demand, so the messages it holds (`brokerStats.inFlight`) never
 * exceed the demand. Each message is an event that carries its
 * acknowledgement ({@linkcode JetStreamMessage}): acknowledged once the
 * consumer's `handleEvents` (or `ConsumerSupervisor` task) for it succeeded,
 * negatively acknowledged when it failed or will never be handled (its
 * consumer stopped), so JetStream redelivers it, to this process or another
 * one on the same durable consumer. A process that dies without settling
 * its messages gets them redelivered after the consumer's `ack_wait`.
 *
 * `close()` is graceful: it stops pulling, lets the open pull requests that
 * are still bringing messages finish (one that brings nothing for 100 ms is
 * stopped, so the server sends it nothing more), delivers what they brought,
 * waits until every message it sent has been handled, settles them, flushes
 * the connection and resolves. `stop()` is immediate: it negatively acknowledges every message
 * not yet settled (later results are ignored). The connection stays open:
 * close it yourself afterwards (`await connection.drain()`).
 *
 * A failed pull request or a lost connection is reported to `onError` and
 * retried with a backoff; the producer stops with an error only when the
 * consumer or stream does not exist at start or the connection is closed.
 *
 * @example Two events handled, then acknowledged
 * ```ts ignore
 * import { connect } from "@nats-io/transport-node";
 * import { Consumer } from "@webstage/webstage";
 * import { JetStreamProducer } from "@webstage/webstage/nats";
 *
 * const connection = await connect({ servers: "nats://127.0.0.1:4222" });
 * const orders = new JetStreamProducer({ connection, stream: "ORDERS", consumer: "workers" });
 * const worker = new Consumer({
 *   subscribeTo: [[orders, { maxDemand: 100 }]],
 *   handleEvents: async (messages) => {
 *     for (const message of messages) await handle(message.json());
 *   }, // acknowledged when this resolves, redelivered if it throws
 * });
 * // …on shutdown:
 * await orders.close();
 * await connection.drain();
 * ```
 *
 * @example Options are checked before anything is sent
 * ```ts
 * import { JetStreamProducer } from "@webstage/webstage/nats";
 * import assert from "node:assert/strict";
 *
 * assert.throws(
 *   () => new JetStreamProducer({ connection: null!, stream: "ORDERS", consumer: "workers" }),
 *   {
 *     name: "TypeError",
 *     message:
 *       "Cannot construct JetStreamProducer as connection must be a NATS connection: current value is null",
 *   },
 * );
 * ```
 */
export class JetStreamProducer extends Producer<JetStreamMessage> {
  readonly #engine: SourceEngine<Delivery>;

  /**
   * Creates the producer and starts looking up its consumer; it pulls nothing
   * until a subscription asks.
   *
   * @param options The connection, stream, consumer and settings.
   * @throws {TypeError} If an option has the wrong type.
   * @throws {RangeError} If `expires`, `maxPullRequests` or `nakDelay` is out of range.
   */
  constructor(options: JetStreamProducerOptions) {
    const o = normalize(options);
    const engine = new SourceEngine<Delivery>({
      onSettle: o.onSettle as ((messages: readonly Delivery[], outcome: Outcome) => void),
      onError: o.onError,
      nakDelayMs: o.nakDelay,
    });
    super(
      engine.producerOptions(
        o.dispatcher as Dispatcher<Delivery> | undefined,
        o.signal,
      ) as unknown as ProducerOptions<JetStreamMessage>,
    );
    this.#engine = engine;
    engine.attach(
      this as unknown as Producer<Delivery>,
      super.closed,
      new JetStreamFetcher(engine, o, this),
    );
  }

  /** Counters: received, acknowledged, negatively acknowledged, in flight and its peak. */
  get brokerStats(): BrokerProducerStats {
    return this.#engine.stats;
  }

  /**
   * Graceful: stops pulling, delivers what the open pull requests bring,
   * waits until every message sent has been handled, settles them and
   * flushes the connection. Resolves once done.
   */
  override close(): Promise<void> {
    return this.#engine.close(() => super.close());
  }

  /**
   * Immediate: stops pulling and the producer with `reason` (default
   * `"normal"`), negatively acknowledges every message not yet settled.
   * Resolves once done.
   */
  override stop(reason: unknown = "normal"): Promise<void> {
    return this.#engine.stop(reason, (r) => super.stop(r));
  }

  /** Resolves once the producer has closed or stopped normally and settled everything; rejects with an abnormal reason. */
  override get closed(): Promise<void> {
    return this.#engine.closed;
  }

  /** The same as `close()`, for `await using`. */
  override [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** How long a pull request may bring nothing before close() stops it. */
const IDLE_MS = 100;

/** Pull requests sized by the credit, a few at a time, retried with a backoff. */
class JetStreamFetcher implements Fetcher<Delivery> {
  readonly #engine: SourceEngine<Delivery>;
  readonly #options: NormalOptions;
  readonly #producer: JetStreamProducer;
  #consumer: PullConsumer | undefined;
  /** Open pull requests: how to stop one, and when it last brought a message (or started). */
  readonly #open = new Set<{ stop(): void; active: number }>();
  #idleCheck: ReturnType<typeof setInterval> | undefined;
  #failures = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #drained: (() => void) | undefined;
  #stopped = false;

  constructor(engine: SourceEngine<Delivery>, options: NormalOptions, producer: JetStreamProducer) {
    this.#engine = engine;
    this.#options = options;
    this.#producer = producer;
    this.#setUp();
  }

  async #setUp(): Promise<void> {
    const { connection, stream, consumer, jetStreamOptions } = this.#options;
    try {
      this.#consumer = await jetstream(connection as never, jetStreamOptions).consumers.get(
        stream,
        consumer,
      );
    } catch (error) {
      if (this.#stopped) return;
      void this.#producer.stop(
        new Error(`Cannot pull from JetStream consumer ${consumer} of stream ${stream}`, {
          cause: error,
        }),
      );
      return;
    }
    this.pump();
  }

  pump(): void {
    if (this.#stopped || this.#consumer === undefined || this.#timer !== undefined) return;
    if (this.#engine.ending) return;
    while (this.#open.size < this.#options.maxPullRequests) {
      const size = this.#engine.takeCredit();
      if (size === 0) break;
      this.#pull(this.#consumer, size);
    }
  }

  #pull(consumer: PullConsumer, size: number): void {
    const handle = { stop: () => {}, active: Date.now() };
    this.#open.add(handle);
    let received = 0;
    const run = async () => {
      const messages = await consumer.fetch({ max_messages: size, expires: this.#options.expires });
      handle.stop = () => messages.stop();
      if (this.#stopped) messages.stop();
      let batch: Delivery[] = [];
      for await (const message of messages) {
        if (received === size) {
          // A reconnection re-pulled the whole batch: more than the credit taken.
          message.nak();
          continue;
        }
        received++;
        handle.active = Date.now();
        batch.push(new Delivery(message, this.#engine));
        if (messages.getPending() === 0) {
          this.#engine.receive(batch);
          batch = [];
        }
      }
      this.#engine.receive(batch);
    };
    run().then(
      () => (this.#failures = 0),
      (error) => this.#failed(error),
    ).finally(() => {
      this.#open.delete(handle);
      this.#engine.returnCredit(size - received);
      if (this.#open.size === 0) {
        clearInterval(this.#idleCheck);
        this.#drained?.();
      }
      this.pump();
    });
  }

  #failed(error: unknown): void {
    if (this.#stopped) return;
    if (this.#options.connection.isClosed()) {
      void this.#producer.stop(new Error("The NATS connection closed", { cause: error }));
      return;
    }
    this.#engine.error(error);
    this.#failures++;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.pump();
    }, backoff(this.#failures));
  }

  /**
   * Stops pulling; a pull request still bringing messages may finish, one
   * that brought none for IDLE_MS is stopped (the server then sends it no
   * more), so close() does not wait for `expires` on an idle stream.
   */
  drain(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (this.#open.size === 0) return Promise.resolve();
    this.#idleCheck = setInterval(() => {
      const now = Date.now();
      for (const handle of this.#open) if (now - handle.active >= IDLE_MS) handle.stop();
    }, IDLE_MS / 2);
    return new Promise((resolve) => (this.#drained = resolve));
  }

  abort(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearInterval(this.#idleCheck);
    for (const handle of this.#open) handle.stop();
    this.#drained?.();
  }

  settle(messages: Delivery[], outcome: Outcome, delayMs?: number): void {
    try {
      for (const { message } of messages) {
        if (outcome === "ack") message.ack();
        else if (outcome === "nak") message.nak(delayMs || undefined);
        else message.term();
      }
    } catch (error) {
      // A closed connection: JetStream redelivers them after ack_wait.
      this.#engine.error(error);
    }
  }

  async flush(): Promise<void> {
    if (!this.#options.connection.isClosed()) await this.#options.connection.flush();
  }

  release(): Promise<void> {
    return Promise.resolve();
  }
}
