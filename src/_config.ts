// Validates the options of the stage classes and builds their engines, in
// one place before any side effect: a rejected call leaves nothing behind.

import type { Dispatcher } from "./dispatcher.ts";
import type { Subscription } from "./subscription.ts";
import type { CoreConfig, StageKind } from "./_core.ts";
import type { Link } from "./_link.ts";
import { DemandDispatcher } from "./dispatchers/demand_dispatcher.ts";
import { coreOf, StageCore } from "./_stage.ts";
import { type NormalSubscribeOptions, producerOptions, subscribeOptions } from "./_options.ts";
import { stageName } from "./_names.ts";
import * as v from "./_validate.ts";

/** Validates a `readableStrategy` or `writableStrategy` option; returns its highWaterMark. */
export function strategy(action: string, name: string, value: unknown): number {
  const o = v.options<{ highWaterMark?: number; size?: unknown }>(action, name, value);
  if (o.size !== undefined) {
    throw new TypeError(
      v.message(action, `${name}.size`, "undefined (every chunk is one event)", o.size),
    );
  }
  return v.demand(action, `${name}.highWaterMark`, o.highWaterMark ?? 1000);
}

/** The options every stage shares. */
function common(action: string, kind: StageKind, owner: object, o: Record<string, unknown>) {
  return {
    kind,
    owner,
    name: stageName(action, kind, o.name),
    handleSubscribe: v.callback<CoreConfig["handleSubscribe"]>(
      action,
      "handleSubscribe",
      o.handleSubscribe,
    ),
    handleCancel: v.callback<CoreConfig["handleCancel"]>(action, "handleCancel", o.handleCancel),
    handleInfo: v.callback<CoreConfig["handleInfo"]>(action, "handleInfo", o.handleInfo),
    terminate: v.callback<CoreConfig["terminate"]>(action, "terminate", o.terminate),
    onError: v.callback<CoreConfig["onError"]>(action, "onError", o.onError),
    signal: v.signal(action, o.signal),
  };
}

/** The producer-side configuration of a Producer or ProducerConsumer. */
function producerSide(
  action: string,
  kind: StageKind,
  o: Record<string, unknown>,
  defaultBufferSize: number,
): Pick<CoreConfig, "dispatcher" | "producer" | "onDiscard"> {
  const producer = producerOptions(action, o, defaultBufferSize);
  if (kind === "ProducerConsumer" && o.demand !== undefined) {
    throw new TypeError(
      `Cannot ${action} as demand is a Producer option: a ProducerConsumer forwards downstream demand`,
    );
  }
  const dispatcher = (o.dispatcher ?? new DemandDispatcher()) as Dispatcher<unknown>;
  if (
    dispatcher === null || typeof dispatcher !== "object" ||
    (["init", "subscribe", "cancel", "ask", "dispatch", "info"] as const).some((m) =>
      typeof dispatcher[m] !== "function"
    )
  ) {
    throw new TypeError(v.message(action, "dispatcher", "a Dispatcher", dispatcher));
  }
  return {
    dispatcher,
    producer,
    onDiscard: v.callback(action, "onDiscard", o.onDiscard),
  };
}

/** Validated options of a Producer: its configuration and its strategies. */
export function producerConfig(owner: object, options: unknown): {
  config: CoreConfig;
  readableHwm: number;
  writableHwm: number;
} {
  const action = "construct Producer";
  const o = v.options<Record<string, unknown>>(action, "options", options);
  const config: CoreConfig = {
    ...common(action, "Producer", owner, o),
    ...producerSide(action, "Producer", o, 10_000),
    handleDemand: v.callback(action, "handleDemand", o.handleDemand),
    acknowledge: v.callback(action, "acknowledge", o.acknowledge),
  };
  return {
    config,
    readableHwm: strategy(action, "readableStrategy", o.readableStrategy),
    writableHwm: strategy(action, "writableStrategy", o.writableStrategy),
  };
}

/** A source and its options, validated, ready to subscribe. */
export type Entry<T> = readonly [StageCore, NormalSubscribeOptions<T>];

/** Resolves a `subscribeTo` source to its engine. */
export function sourceCore(action: string, source: unknown): StageCore {
  const core = coreOf(source);
  if (core === undefined) {
    throw new TypeError(v.message(action, "the source", "a Producer or ProducerConsumer", source));
  }
  return core;
}

/** Validates one `subscribeTo` entry (a source, or a source with options). */
export function entry<T>(where: string, value: unknown): Entry<T> & { source: unknown } {
  const [source, opts] = Array.isArray(value) ? value : [value, undefined];
  const producer = sourceCore(where, source);
  const normal = subscribeOptions<T>(where, opts);
  producer.checkSubscribable(where, normal as NormalSubscribeOptions<unknown>);
  return Object.assign([producer, normal] as const, { source });
}

/** Validates a list of `subscribeTo` entries (all before any is used). */
export function entries<T>(action: string, name: string, value: unknown): Entry<T>[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new TypeError(v.message(action, name, "an array", value));
  return value.map((item: unknown, i: number) => entry<T>(`${action} with ${name}[${i}]`, item));
}

/** Validates `source` and `options` for `core` and subscribes (consumer.subscribeTo). */
export function subscribeTo<T>(
  core: StageCore,
  source: unknown,
  options: unknown,
): Subscription<T> {
  const action = "subscribe";
  if (core.stopped) throw new TypeError(`Cannot ${action} as the ${core.kind} has stopped`);
  const producer = sourceCore(action, source);
  if (producer === core) {
    throw new TypeError(`Cannot ${action} as a stage cannot subscribe to itself`);
  }
  const normal = subscribeOptions<T>(action, options);
  producer.checkSubscribable(action, normal as NormalSubscribeOptions<unknown>);
  return core.subscribeTo(producer, normal).view;
}

/** Validated options of a Consumer or ProducerConsumer, and its engine once built. */
export function consumerConfig(
  owner: object,
  kind: "Consumer" | "ProducerConsumer",
  options: unknown,
): {
  config: CoreConfig;
  entries: Entry<unknown>[];
  readableHwm: number;
  writableHwm: number;
} {
  const action = `construct ${kind}`;
  if (options === undefined) {
    throw new TypeError(v.message(action, "options", "an object", options));
  }
  const o = v.options<Record<string, unknown>>(action, "options", options);
  const config: CoreConfig = {
    ...common(action, kind, owner, o),
    ...(kind === "ProducerConsumer" ? producerSide(action, kind, o, Infinity) : {}),
    handleEvents: v.callback(action, "handleEvents", o.handleEvents, false),
  };
  return {
    config,
    entries: entries(action, "subscribeTo", o.subscribeTo),
    readableHwm: strategy(action, "readableStrategy", o.readableStrategy),
    writableHwm: strategy(action, "writableStrategy", o.writableStrategy),
  };
}

/** Builds a consumer-side engine and makes its constructor's subscriptions (after it returns). */
export function startConsumer(config: CoreConfig, list: readonly Entry<unknown>[]): StageCore {
  const core = new StageCore(config);
  // An already aborted signal has stopped it: it subscribes to nothing.
  if (!core.stopped) {
    core.startLater();
    for (const [producer, normal] of list) core.subscribeTo(producer, normal);
  }
  return core;
}

/** Checks `events` given to `emit`: an iterable object (strings are refused). */
export function emitted<T>(action: string, events: Iterable<T>): T[] {
  if (Array.isArray(events)) return events;
  if (
    events === null || typeof events !== "object" || typeof events[Symbol.iterator] !== "function"
  ) {
    throw new TypeError(v.message(action, "events", "an iterable", events));
  }
  return Array.from(events);
}

/** A raw subscription's stream (producer.subscribe()). */
export function rawSubscribe<T>(core: StageCore, options: unknown): ReadableStream<T[]> {
  const normal = subscribeOptions<T>("subscribe", options);
  core.checkSubscribable("subscribe", normal as NormalSubscribeOptions<unknown>);
  return (core.subscribe(normal) as Link<T>).readable;
}
