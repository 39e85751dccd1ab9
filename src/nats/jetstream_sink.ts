import type { JetStreamPublishOptions } from "@nats-io/jetstream";
import { jetstream } from "@nats-io/jetstream";
import type { SubscribeTo } from "../subscription.ts";
import { Consumer } from "../consumer.ts";
import * as v from "../_validate.ts";
import type { JetStreamClientOptions, NatsConnection, PublishAck } from "./_types.ts";
import { checkConnection } from "./_connection.ts";

/** Options of a {@linkcode JetStreamSink}. */
export interface JetStreamSinkOptions<T> {
  /** An open NATS connection; the sink does not close it. */
  readonly connection: NatsConnection;
  /** The subject to publish every event on, or a function that picks it per event. */
  readonly subject: string | ((event: T) => string);
  /**
   * Turns an event into the message's payload.
   *
   * @default {A Uint8Array as is, a string as UTF-8, anything else as JSON}
   */
  readonly encode?: (event: T) => Uint8Array | string;
  /**
   * A message ID per event (the `Nats-Msg-Id` header): JetStream drops a
   * message whose ID it has seen within the stream's duplicate window, so a
   * chunk published again after a failure is stored once.
   */
  readonly msgID?: (event: T) => string;
  /** Options of the JetStream client (domain, API prefix, timeout). */
  readonly jetStreamOptions?: JetStreamClientOptions;
  /**
   * How long to wait for each publish acknowledgement, in milliseconds.
   *
   * @default {the JetStream client's timeout}
   */
  readonly timeout?: number;
  /** Called with each chunk's publish acknowledgements, in event order. */
  readonly onPublished?: (acks: PublishAck[]) => void;
  /** Sources to subscribe to at once; their `maxDemand - minDemand` is the most publishes in flight. */
  readonly subscribeTo?: readonly SubscribeTo<T>[];
  /** Aborting it stops the sink with `signal.reason`. */
  readonly signal?: AbortSignal;
}

const encoder = new TextEncoder();

function defaultEncode(event: unknown): Uint8Array | string {
  if (event instanceof Uint8Array || typeof event === "string") return event;
  return JSON.stringify(event);
}

/**
 * A consumer that publishes its events to JetStream, paced by the
 * publish acknowledgements: it publishes each chunk it receives (at most
 * `maxDemand - minDemand` events) at once, and asks for more only when
 * JetStream has acknowledged all of them. So no more than a chunk is in
 * flight and a slow or unavailable broker slows the pipeline instead of
 * filling memory.
 *
 * A publish that fails (no stream for the subject, a timeout) fails the
 * chunk: the sink stops with that error, and the chunk counts as not handled
 * upstream (a JetStream or Redis producer redelivers it, a subscription with
 * `redeliver` gives it back), so some of its events may be published twice:
 * give `msgID` to have JetStream drop the duplicates.
 *
 * @example Publishing every order to a subject per region
 * ```ts ignore
 * import { connect } from "@nats-io/transport-node";
 * import { Producer } from "@webstage/webstage";
 * import { JetStreamSink } from "@webstage/webstage/nats";
 *
 * const connection = await connect({ servers: "nats://127.0.0.1:4222" });
 * const sink = new JetStreamSink<{ id: string; region: string }>({
 *   connection,
 *   subject: (order) => `orders.${order.region}`,
 *   msgID: (order) => order.id,
 *   subscribeTo: [[Producer.from(orders), { maxDemand: 200 }]],
 * });
 * await sink.closed; // every order stored in the stream
 * ```
 *
 * @example Options are checked before anything is sent
 * ```ts
 * import { JetStreamSink } from "@webstage/webstage/nats";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => new JetStreamSink({ connection: null!, subject: "orders" }), TypeError);
 * ```
 */
export class JetStreamSink<T> extends Consumer<T> {
  /**
   * Creates the sink and subscribes it to its `subscribeTo` sources.
   *
   * @param options The connection, subject, encoding and sources.
   * @throws {TypeError} If an option has the wrong type, or a `subscribeTo` entry is invalid.
   * @throws {RangeError} If `timeout` is not an integer ≥ 1.
   */
  constructor(options: JetStreamSinkOptions<T>) {
    const action = "construct JetStreamSink";
    if (options === undefined) {
      throw new TypeError(v.message(action, "options", "an object", options));
    }
    const o = v.options<JetStreamSinkOptions<T>>(action, "options", options);
    const connection = checkConnection(action, o.connection);
    const subject = o.subject;
    if (typeof subject === "string" ? subject === "" : typeof subject !== "function") {
      throw new TypeError(
        v.message(action, "subject", "a non-empty string or a function", subject),
      );
    }
    const subjectOf: (event: T) => string = typeof subject === "string"
      ? () => subject
      : subject as (event: T) => string;
    const encode = v.callback<(event: T) => Uint8Array | string>(action, "encode", o.encode) ??
      defaultEncode;
    const msgID = v.callback<(event: T) => string>(action, "msgID", o.msgID);
    const onPublished = v.callback<(acks: PublishAck[]) => void>(
      action,
      "onPublished",
      o.onPublished,
    );
    const timeout = o.timeout === undefined
      ? undefined
      : v.integer(action, "timeout", o.timeout, 1);
    const jetStreamOptions = o.jetStreamOptions === undefined
      ? undefined
      : v.options<JetStreamClientOptions>(action, "jetStreamOptions", o.jetStreamOptions);
    const js = jetstream(connection as never, jetStreamOptions);
    super({
      subscribeTo: o.subscribeTo,
      signal: o.signal,
      handleEvents: async (events) => {
        const acks = await Promise.all(events.map((event) => {
          const options: Partial<JetStreamPublishOptions> = {};
          if (msgID !== undefined) options.msgID = msgID(event);
          if (timeout !== undefined) options.timeout = timeout;
          const payload = encode(event);
          return js.publish(
            subjectOf(event),
            typeof payload === "string" ? encoder.encode(payload) : payload,
            options,
          );
        }));
        onPublished?.(acks);
      },
    });
  }
}
