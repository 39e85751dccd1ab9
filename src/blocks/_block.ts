// What the building blocks share: validation of the options they pass to
// their ProducerConsumer, a dispatcher wrapper that tells a block the
// downstream demand it has not met (so it asks upstream only for what can
// leave), the bookkeeping of manual upstream subscriptions, and the clock.
//
// A block's state changes outside its stage's callbacks (timers, finished
// calls, demand arriving), but events leave only through the callbacks'
// return values (handleEvents, handleInfo, terminate), so their order is the
// stage's message order.

import type { Dispatcher, DispatcherHost } from "../dispatcher.ts";
import type { SubscribeOptions, Subscription } from "../subscription.ts";
import type { BlockOptions, Clock } from "./options.ts";
import type { Events } from "../producer.ts";
import { DemandDispatcher } from "../dispatchers/demand_dispatcher.ts";
import { ProducerConsumer } from "../producer_consumer.ts";
import { entries, strategy } from "../_config.ts";
import { stageName } from "../_names.ts";
import { isNormal } from "../_options.ts";
import * as v from "../_validate.ts";

/** The largest delay a platform timer takes (2³¹ − 1 ms, about 24.8 days). */
const MAX_DELAY = 2 ** 31 - 1;

/** The platform's clock. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Validates a `clock` option (default: the platform's). */
export function clockOption(action: string, value: unknown): Clock {
  if (value === undefined) return systemClock;
  const clock = value as Clock;
  if (
    clock === null || typeof clock !== "object" || typeof clock.now !== "function" ||
    typeof clock.setTimeout !== "function" || typeof clock.clearTimeout !== "function"
  ) {
    throw new TypeError(
      v.message(action, "clock", "an object with now, setTimeout and clearTimeout", value),
    );
  }
  return clock;
}

/** Validates a duration in ms: an integer in [min, 2³¹ − 1], or Infinity when `infinite`. */
export function duration(
  action: string,
  name: string,
  value: unknown,
  min: number,
  infinite: boolean,
): number {
  if (infinite && value === Infinity) return Infinity;
  if (
    typeof value !== "number" || !Number.isInteger(value) || value < min || value > MAX_DELAY
  ) {
    const rule = `an integer in [${min}, ${MAX_DELAY}]${infinite ? " or Infinity" : ""}`;
    throw new (typeof value === "number" ? RangeError : TypeError)(
      v.message(action, name, typeof value === "number" ? rule : "a number", value),
    );
  }
  return value;
}

/** The options object of a block, checked to be an object. */
export function blockObject<O extends object>(action: string, options: unknown): Partial<O> {
  if (options === undefined) {
    throw new TypeError(v.message(action, "options", "an object", options));
  }
  return v.options<O>(action, "options", options);
}

/** The validated `ProducerConsumer` options a block passes on, and its dispatcher unwrapped. */
export interface Common<I, O> {
  readonly name: string;
  readonly dispatcher: Dispatcher<O>;
  readonly pass: Omit<BlockOptions<I, O>, "dispatcher"> & { readonly name: string };
}

/** Validates every option a block passes to its ProducerConsumer, before anything is built. */
export function commonOptions<I, O>(
  action: string,
  kind: string,
  o: Partial<BlockOptions<I, O>>,
): Common<I, O> {
  const signal = v.signal(action, o.signal);
  entries(action, "subscribeTo", o.subscribeTo);
  const dispatcher = (o.dispatcher ?? new DemandDispatcher<O>()) as Dispatcher<O>;
  if (
    dispatcher === null || typeof dispatcher !== "object" ||
    (["init", "subscribe", "cancel", "ask", "dispatch", "info"] as const).some((m) =>
      typeof dispatcher[m] !== "function"
    )
  ) {
    throw new TypeError(v.message(action, "dispatcher", "a Dispatcher", dispatcher));
  }
  v.callback(action, "onDiscard", o.onDiscard);
  strategy(action, "readableStrategy", o.readableStrategy);
  strategy(action, "writableStrategy", o.writableStrategy);
  // Last: it counts the default names, so only an accepted block takes a number.
  const name = stageName(action, kind, o.name);
  return {
    name,
    dispatcher,
    pass: {
      name,
      signal,
      subscribeTo: o.subscribeTo,
      onDiscard: o.onDiscard,
      readableStrategy: o.readableStrategy,
      writableStrategy: o.writableStrategy,
    },
  };
}

/** What a block's stage does besides taking subscriptions (see blockStage). */
export interface BlockCallbacks<I, O> {
  /** Handles a batch from `track`'s subscription (see Upstream.received). */
  readonly handleEvents: (events: I[], subscription: Subscription<unknown>) => Events<O>;
  readonly handleInfo?: (message: unknown) => Events<O>;
  readonly terminate?: (reason: unknown) => Events<O>;
  /** Ask again by `pump` when an upstream subscription leaves (its demand is free for others). */
  readonly pumpOnCancel?: boolean;
}

/**
 * The ProducerConsumer of a block: its upstream subscriptions are manual,
 * kept in `upstream` and asked by `pump`; downstream demand is counted by
 * `meter`, its dispatcher.
 */
export function blockStage<I, O>(
  common: Common<I, O>,
  meter: DemandMeter<O>,
  upstream: Upstream,
  pump: () => void,
  callbacks: BlockCallbacks<I, O>,
): ProducerConsumer<I, O> {
  // Assigned once the constructor returns; a handleSubscribe called before
  // that can only be for an upstream subscription (nobody can subscribe to it yet).
  let stage: ProducerConsumer<I, O> | undefined = undefined;
  stage = new ProducerConsumer<I, O>({
    ...common.pass,
    dispatcher: meter,
    handleSubscribe: (subscription) => {
      if (stage !== undefined && subscription.producer === stage) return;
      upstream.add(subscription as Subscription<unknown>);
      pump();
      return "manual";
    },
    handleCancel: (subscription) => {
      if (upstream.remove(subscription as Subscription<unknown>) && callbacks.pumpOnCancel) pump();
    },
    handleEvents: (events, subscription) =>
      callbacks.handleEvents(events, subscription as Subscription<unknown>),
    handleInfo: callbacks.handleInfo,
    terminate: callbacks.terminate,
  });
  return stage;
}

/** What a failed user function stops a block with: never a reason that reads as a normal end. */
export function failure(name: string, what: string, error: unknown): unknown {
  if (!isNormal(error)) return error;
  return new Error(`${name} failed: its ${what} threw ${v.show(error)}`, { cause: error });
}

/** Runs `run` once in a microtask, however many times it is scheduled before then. */
export function coalesced(run: () => void): () => void {
  let scheduled = false;
  const task = () => {
    scheduled = false;
    run();
  };
  return () => {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(task);
  };
}

/**
 * A dispatcher around the block's own: it counts the downstream demand the
 * stage has not met (`owed`: the upstream demand the inner dispatcher
 * returned, minus the events it placed) and the events it placed, and tells
 * the block when either moves. Its `idle` also holds a closing stage while
 * the block has work in progress.
 */
export class DemandMeter<T> implements Dispatcher<T> {
  readonly #inner: Dispatcher<T>;
  readonly #moved: () => void;
  readonly #busy: () => boolean;
  /** Downstream demand not met yet: how many events could leave now. */
  owed = 0;
  /** Events placed with a subscription so far. */
  placed = 0;

  /**
   * @param inner the dispatcher that routes the events
   * @param moved called when `owed` grows or events are placed (from inside the stage's turn)
   * @param busy true while the block has events in progress that will leave
   */
  constructor(inner: Dispatcher<T>, moved: () => void, busy: () => boolean) {
    this.#inner = inner;
    this.#moved = moved;
    this.#busy = busy;
  }

  init(host: DispatcherHost<T>): void {
    this.#inner.init(host);
  }

  validate(options: Readonly<SubscribeOptions<T>>): void {
    this.#inner.validate?.(options);
  }

  subscribe(subscription: Subscription<T>): number {
    return this.#grow(this.#inner.subscribe(subscription));
  }

  cancel(subscription: Subscription<T>): number {
    return this.#grow(this.#inner.cancel(subscription));
  }

  ask(count: number, subscription: Subscription<T>): number {
    return this.#grow(this.#inner.ask(count, subscription));
  }

  dispatch(events: T[]): T[] {
    const leftover = this.#inner.dispatch(events);
    const placed = events.length - leftover.length;
    if (placed > 0) {
      this.placed += placed;
      this.owed = Math.max(0, this.owed - placed);
      this.#moved();
    }
    return leftover;
  }

  info(message: unknown): void {
    this.#inner.info(message);
  }

  idle(): boolean {
    return this.#inner.idle?.() !== false && !this.#busy();
  }

  redeliver(events: T[], subscription: Subscription<T>): T[] {
    return this.#inner.redeliver === undefined
      ? events
      : this.#inner.redeliver(events, subscription);
  }

  #grow(demand: number): number {
    if (typeof demand === "number" && demand > 0) {
      this.owed += demand;
      this.#moved();
    }
    return demand;
  }
}

/** One manual upstream subscription of a block. */
export interface Track {
  readonly subscription: Subscription<unknown>;
  readonly maxDemand: number;
  readonly minDemand: number;
  /** Events asked for and not yet handed to handleEvents. */
  outstanding: number;
  /** Events handed to handleEvents that the block still holds (not started, say). */
  held: number;
}

/** A block's upstream subscriptions, all in manual mode: what each was asked and holds. */
export class Upstream {
  readonly #tracks = new Map<Subscription<unknown>, Track>();
  /** Events asked for and not yet received, over every subscription. */
  outstanding = 0;

  get size(): number {
    return this.#tracks.size;
  }

  add(subscription: Subscription<unknown>): Track {
    const track: Track = {
      subscription,
      maxDemand: subscription.options.maxDemand,
      minDemand: subscription.options.minDemand,
      outstanding: 0,
      held: 0,
    };
    this.#tracks.set(subscription, track);
    return track;
  }

  get(subscription: Subscription<unknown>): Track | undefined {
    return this.#tracks.get(subscription);
  }

  /** Forgets an ended subscription: what it was asked and never sent will not come. */
  remove(subscription: Subscription<unknown>): boolean {
    const track = this.#tracks.get(subscription);
    if (track === undefined) return false;
    this.#tracks.delete(subscription);
    this.outstanding -= track.outstanding;
    return true;
  }

  /** `count` events of `subscription` reached handleEvents. */
  received(subscription: Subscription<unknown>, count: number): Track | undefined {
    const track = this.#tracks.get(subscription);
    if (track === undefined) return undefined;
    const n = Math.min(count, track.outstanding);
    track.outstanding -= n;
    this.outstanding -= n;
    return track;
  }

  ask(track: Track, count: number): void {
    if (count <= 0) return;
    track.outstanding += count;
    this.outstanding += count;
    track.subscription.ask(count);
  }

  /**
   * GenStage's re-ask rule for each subscription: once what it holds
   * (asked and not received, plus received and still held) is at most
   * minDemand, ask for the difference to maxDemand.
   */
  askByRule(): void {
    for (const track of this.#tracks.values()) {
      const held = track.outstanding + track.held;
      if (held <= track.minDemand) this.ask(track, track.maxDemand - held);
    }
  }

  values(): IterableIterator<Track> {
    return this.#tracks.values();
  }
}
