// The body of Producer.from: a producer that pulls exactly the demanded
// number of items from an iterable, an async iterable or a ReadableStream
// (GenStage's from_enumerable).

import type { Dispatcher } from "./dispatcher.ts";
import { CALL, type MaybePromise, then } from "./_core.ts";
import { sourceCore } from "./_config.ts";
import { ignore } from "./_streams.ts";
import * as v from "./_validate.ts";

/** What Producer.from needs of the Producer class (passed in, so no import runs back up). */
interface FromProducer {
  close(): Promise<void>;
  stop(reason?: unknown): Promise<void>;
  readonly closed: Promise<void>;
}

/** The options Producer.from accepts (FromOptions, in src/producer.ts). */
interface Options<T> {
  readonly onCancel?: unknown;
  readonly dispatcher?: Dispatcher<T>;
  readonly demand?: "forward" | "accumulate";
  readonly signal?: AbortSignal;
  readonly acknowledge?: (events: T[], handled: boolean) => void;
  readonly name?: string;
}

/** The Producer class, given the options Producer.from builds. */
// deno-lint-ignore no-explicit-any
type ProducerClass<P extends FromProducer> = new (options: any) => P;

/** What one pull from the source gave: the items read, and whether it ended or failed after them. */
interface Taken<T> {
  readonly events: T[];
  readonly done: boolean;
  readonly error?: { readonly reason: unknown };
}

interface Puller<T> {
  take(n: number): MaybePromise<Taken<T>>;
  release(reason: unknown): void;
}

/** The body of `Producer.from`. */
export function producerFrom<T, P extends FromProducer>(
  ProducerClass: ProducerClass<P>,
  source: Iterable<T> | AsyncIterable<T> | ReadableStream<T>,
  options?: Options<T>,
): P {
  const action = "create a Producer from a source";
  const o = v.options<Options<T>>(action, "options", options);
  const onCancel = v.oneOf(
    action,
    "onCancel",
    o.onCancel ?? "continue",
    ["continue", "stop"] as const,
  );
  // The source is checked now and opened (a stream locked, an iterator made)
  // only once the producer's options have been accepted.
  const open = puller<T>(action, source);
  let exhausted = false;
  const producer: P = new ProducerClass({
    dispatcher: o.dispatcher,
    demand: o.demand,
    signal: o.signal,
    acknowledge: o.acknowledge,
    name: o.name,
    handleDemand: (demand: number) => {
      if (exhausted) return;
      return then(pull.take(demand), ({ events, done, error }) => {
        if (error !== undefined) {
          // What was read is delivered first (it is dispatched when this
          // callback returns); the failure follows it.
          exhausted = true;
          core.post({ k: CALL, call: () => core.fail(error.reason) });
        } else if (done) {
          exhausted = true;
          // close() stops once the events returned now have been delivered.
          producer.close();
        }
        return events;
      });
    },
    handleCancel: onCancel === "stop"
      ? () => {
        if (core.outlet!.downstream.size === 0) producer.stop("normal");
      }
      : undefined,
  });
  const pull = open();
  const core = sourceCore(action, producer);
  core.closed.then(
    () => exhausted || pull.release(core.reason),
    (reason) => exhausted || pull.release(reason),
  );
  return producer;
}

/** Reads up to `n` items with `next`, keeping what was read if it throws. */
async function takeAsync<T>(
  n: number,
  next: () => Promise<IteratorResult<T> | ReadableStreamReadResult<T>>,
): Promise<Taken<T>> {
  const events: T[] = [];
  try {
    while (events.length < n) {
      const { done, value } = await next();
      if (done) return { events, done: true };
      events.push(value as T);
    }
  } catch (reason) {
    return { events, done: false, error: { reason } };
  }
  return { events, done: false };
}

function puller<T>(action: string, source: unknown): () => Puller<T> {
  if (
    source !== null && typeof source === "object" &&
    typeof (source as ReadableStream<T>).getReader === "function"
  ) {
    if ((source as ReadableStream<T>).locked) {
      throw new TypeError(
        `Cannot ${action} as source must be unlocked: current value is a locked ReadableStream`,
      );
    }
    return () => {
      const reader = (source as ReadableStream<T>).getReader();
      return {
        take: (n) => takeAsync(n, () => reader.read()),
        release: (reason) => void reader.cancel(reason).then(ignore, ignore),
      };
    };
  }
  if (source !== null && typeof source === "object" && Symbol.asyncIterator in source) {
    return () => {
      const iterator = (source as AsyncIterable<T>)[Symbol.asyncIterator]();
      return {
        take: (n) => takeAsync(n, () => iterator.next()),
        release: () => void iterator.return?.()?.then(ignore, ignore),
      };
    };
  }
  if (
    source !== null && source !== undefined && typeof source !== "string" &&
    typeof (source as Iterable<T>)[Symbol.iterator] === "function"
  ) {
    return () => {
      const iterator = (source as Iterable<T>)[Symbol.iterator]();
      return {
        take(n) {
          const events: T[] = [];
          try {
            while (events.length < n) {
              const { done, value } = iterator.next();
              if (done) return { events, done: true };
              events.push(value);
            }
          } catch (reason) {
            return { events, done: false, error: { reason } };
          }
          return { events, done: false };
        },
        release: () => void iterator.return?.(),
      };
    };
  }
  throw new TypeError(
    v.message(action, "source", "an Iterable, an AsyncIterable or a ReadableStream", source),
  );
}
