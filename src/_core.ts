// What the parts of a stage share: its validated configuration, the messages
// its mailbox carries, and small helpers for callbacks that may be async.

import type { Dispatcher } from "./dispatcher.ts";
import type { Subscription } from "./subscription.ts";
import type { NormalProducerOptions } from "./_options.ts";
import type { AnyLink } from "./_link.ts";
import * as v from "./_validate.ts";

export type MaybePromise<R = void> = R | Promise<R>;
/** What a callback may return as events. */
export type Emitted<T> = Iterable<T> | void | undefined | null;

export type StageKind = "Producer" | "ProducerConsumer" | "Consumer";

/** The callbacks and settings a stage is built from (already validated). */
export interface CoreConfig {
  readonly kind: StageKind;
  readonly name: string;
  readonly owner: object;
  readonly handleDemand?: (demand: number) => MaybePromise<Emitted<unknown>>;
  readonly handleEvents?: (
    events: unknown[],
    subscription: Subscription<unknown>,
  ) => MaybePromise<Emitted<unknown>>;
  readonly handleSubscribe?: (subscription: Subscription<unknown>) => unknown;
  readonly handleCancel?: (
    subscription: Subscription<unknown>,
    reason: unknown,
  ) => MaybePromise<Emitted<unknown>>;
  readonly handleInfo?: (message: unknown) => MaybePromise<Emitted<unknown>>;
  readonly terminate?: (reason: unknown) => MaybePromise<Emitted<unknown>>;
  readonly dispatcher?: Dispatcher<unknown>;
  readonly producer?: NormalProducerOptions;
  readonly onDiscard?: (count: number) => boolean | void;
  readonly acknowledge?: (events: unknown[], handled: boolean) => void;
  readonly onError?: (error: unknown) => void;
  readonly signal?: AbortSignal;
}

// Message kinds. Producer side: SUBSCRIBE, ASK, CANCEL, EMIT, DELIVER_INFO,
// MODE. Consumer side: SUBSCRIBED, EVENTS, ENDED. Both: INFO, CHECK, and
// CALL (a function of the stage's own to run in turn, for its faces).
export const SUBSCRIBE = 0, ASK = 1, CANCEL = 2, EMIT = 3, INFO = 4, DELIVER_INFO = 5;
export const MODE = 6, SUBSCRIBED = 7, EVENTS = 8, ENDED = 9, CHECK = 10, CALL = 11;

export type Message =
  | { readonly k: typeof SUBSCRIBE | typeof SUBSCRIBED | typeof ENDED; readonly link: AnyLink }
  | { readonly k: typeof ASK; readonly link: AnyLink; readonly count: number }
  | {
    readonly k: typeof CANCEL;
    readonly link: AnyLink;
    readonly reason: unknown;
    readonly redeliver: boolean;
  }
  | { readonly k: typeof EMIT; readonly events: unknown[] }
  | InfoMessage
  | { readonly k: typeof DELIVER_INFO; readonly message: unknown }
  | { readonly k: typeof MODE; readonly mode: "forward" | "accumulate" }
  | { readonly k: typeof CHECK }
  | {
    readonly k: typeof CALL;
    readonly call: () => MaybePromise;
    /** Called instead when the stage stops before the call's turn comes. */
    readonly discard?: () => void;
  }
  | EventsMessage;

export interface InfoMessage {
  readonly k: typeof INFO;
  readonly message: unknown;
}

/** One batch read from an upstream subscription, handled in chunks. */
export interface EventsMessage {
  readonly k: typeof EVENTS;
  readonly link: AnyLink;
  readonly events: unknown[];
}

/** What the producer and consumer sides of a stage see of the stage itself. */
export interface StageContext {
  readonly config: CoreConfig;
  readonly stopped: boolean;
  readonly closing: boolean;
  post(message: Message): void;
  /** Starts a graceful close (a permanent upstream ended normally, say). */
  close(): void;
  /** Stops now with `reason`. */
  stop(reason: unknown): void;
  /**
   * Stops now with `reason`, a failure from within (reported if nothing
   * observes it); `from` names the upstream stage it comes from, if any.
   */
  fail(reason: unknown, from?: string): void;
  /** Someone takes this stage's failure in hand (a consumer that stops with it). */
  observe(): void;
  /** Reports events the stage discarded (onDiscard, else a warning). */
  reportDiscard(count: number): void;
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" &&
    typeof (value as PromiseLike<unknown>).then === "function";
}

/** Runs `next` on `value`, now if it is plain, after it settles if it is a promise. */
export function then<A, B>(
  value: MaybePromise<A>,
  next: (a: A) => MaybePromise<B>,
): MaybePromise<B> {
  return isThenable(value) ? Promise.resolve(value).then(next) : next(value as A);
}

/** The events a callback returned, as an array; strings are refused (they would split into characters). */
export function toArray<T>(events: Emitted<T>, action: string): T[] {
  if (events === undefined || events === null) return [];
  if (Array.isArray(events)) return events;
  if (
    typeof events !== "object" || typeof (events as Iterable<T>)[Symbol.iterator] !== "function"
  ) {
    throw new TypeError(
      v.message(action, "the returned events", "an iterable or nothing", events),
    );
  }
  return Array.from(events);
}
