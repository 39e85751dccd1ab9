/**
 * The contract between a producing stage and the dispatcher that decides
 * which subscription receives which events.
 *
 * A dispatcher is a pure state machine, as in GenStage: the stage tells it
 * about subscriptions, asks and events, and it answers with how much to ask
 * upstream and which events it could not place. It reaches the outside world
 * only through the {@linkcode DispatcherHost} given to {@linkcode Dispatcher.init},
 * so it can be tested with no streams, no stages and no timers.
 *
 * @module
 */

import type { SubscribeOptions, Subscription } from "./subscription.ts";

/**
 * What a stage offers its dispatcher. Every method is safe to call from any
 * dispatcher method; `ask`, `info` and `cancel` are queued and handled after
 * the stage has finished the message it is handling, like a message an Erlang
 * process sends to itself.
 */
export interface DispatcherHost<T> {
  /**
   * Delivers `events` to `subscription` now, as one batch. `events` must be
   * non-empty and must not exceed the demand the subscription has asked for;
   * the host owns the array afterwards. A dispatcher that sends events it
   * kept (and implements `heldFrom`) gives the lowest of their output
   * positions as `position`.
   */
  send(subscription: Subscription<T>, events: T[], position?: number): void;
  /** Queues an ask of `count` events on behalf of `subscription` (a demand refund). */
  ask(subscription: Subscription<T>, count: number): void;
  /** Queues `message` for the stage's `handleInfo`. */
  info(message: unknown): void;
  /** Queues the end of `subscription` with `reason`, as if its consumer cancelled it. */
  cancel(subscription: Subscription<T>, reason: unknown): void;
  /** The stage's `bufferSize` (`Infinity` when unbounded). */
  readonly bufferSize: number;
  /**
   * Reports `count` events the dispatcher dropped (a lag policy's
   * `"drop"`): they go to the stage's `onDiscard`, and unless it returns
   * `false`, to a warning. Stages always provide it.
   */
  discard?(count: number): void;
  /**
   * The output position of the first event of the batch being dispatched
   * (or redelivered): the stage numbers its events in the order it
   * dispatches them. A dispatcher that keeps events may record it to answer
   * `heldFrom`. Stages always set it; a host made by hand (to test a
   * dispatcher) may leave it out.
   */
  readonly position?: number;
}

/**
 * Decides where a producing stage's events go. Implement it to route events
 * your own way; webstage ships {@linkcode DemandDispatcher},
 * {@linkcode BroadcastDispatcher} and {@linkcode PartitionDispatcher}.
 *
 * The numbers returned by `subscribe`, `cancel` and `ask` are **upstream
 * demand**: how many more events the stage should produce (from its buffer
 * first, then `handleDemand`). They must never be negative, and the same
 * demand must never be returned twice. `dispatch` must never send a
 * subscription more events than it asked for; what it cannot place it returns,
 * in order, and the stage buffers it.
 *
 * A dispatcher instance belongs to one stage: `init` is called once.
 *
 * @example Routing every event to the subscription that asked first
 * ```ts
 * import type { Dispatcher, DispatcherHost, Subscription } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * class FirstComeDispatcher<T> implements Dispatcher<T> {
 *   #host!: DispatcherHost<T>;
 *   #queue: Array<{ subscription: Subscription<T>; demand: number }> = [];
 *   init(host: DispatcherHost<T>): void { this.#host = host; }
 *   subscribe(): number { return 0; }
 *   cancel(subscription: Subscription<T>): number {
 *     this.#queue = this.#queue.filter((e) => e.subscription !== subscription);
 *     return 0;
 *   }
 *   ask(count: number, subscription: Subscription<T>): number {
 *     this.#queue.push({ subscription, demand: count });
 *     return count;
 *   }
 *   dispatch(events: T[]): T[] {
 *     let i = 0;
 *     while (i < events.length && this.#queue.length > 0) {
 *       const head = this.#queue[0];
 *       const n = Math.min(head.demand, events.length - i);
 *       this.#host.send(head.subscription, events.slice(i, i + n));
 *       i += n;
 *       if ((head.demand -= n) === 0) this.#queue.shift();
 *     }
 *     return events.slice(i);
 *   }
 *   info(message: unknown): void { this.#host.info(message); }
 * }
 * assert.equal(new FirstComeDispatcher<number>().subscribe(), 0);
 * ```
 */
export interface Dispatcher<T> {
  /** Adopts the dispatcher into a stage. Called once, before anything else. */
  init(host: DispatcherHost<T>): void;
  /**
   * Checks a subscription's options before it is made, so that `subscribeTo`
   * can throw at the call that received them and leave nothing behind.
   *
   * @throws {TypeError | RangeError} If the options cannot be accepted.
   */
  validate?(options: Readonly<SubscribeOptions<T>>): void;
  /**
   * Adds a subscription, with no demand yet. Throwing rejects it: the
   * subscription is ended with the error as reason and the stage goes on.
   *
   * @returns Upstream demand (usually 0).
   */
  subscribe(subscription: Subscription<T>): number;
  /**
   * Removes a subscription. Events the dispatcher holds for it may be kept for
   * a later subscription, or released as new upstream demand.
   *
   * @returns Upstream demand.
   */
  cancel(subscription: Subscription<T>): number;
  /**
   * Records that `subscription` asked for `count` more events (`count` ≥ 1).
   *
   * @returns Upstream demand: what the stage must now produce.
   */
  ask(count: number, subscription: Subscription<T>): number;
  /**
   * Sends `events` (non-empty) to subscriptions through `host.send`.
   *
   * @returns The events that could not be placed, in order, to be buffered by
   * the stage (may be `events` itself, or an empty array).
   */
  dispatch(events: T[]): T[];
  /** Delivers `message` to the stage's `handleInfo` through `host.info`, now or after events it holds. */
  info(message: unknown): void;
  /**
   * False while the dispatcher holds events: for a live subscription (a
   * partition's backlog waiting for its demand) or for one still to come (a
   * partition with no subscriber). A closing stage waits for them to be
   * delivered before it stops. Without it, the dispatcher holds no events.
   */
  idle?(): boolean;
  /**
   * How long, in milliseconds, a closing stage keeps events held for
   * subscriptions that do not exist (yet) before it calls `discard`; an
   * integer ≥ 0 or `Infinity`. Read only with `discard`.
   */
  readonly keepMs?: number;
  /**
   * The lowest output position (see `DispatcherHost.position`) among the
   * events the dispatcher keeps, or `Infinity` if it keeps none. A
   * producer-consumer whose upstream subscriptions have `redeliver`
   * acknowledges an upstream chunk only once none of the output made from
   * it is still held; without `heldFrom`, a dispatcher that is not `idle`
   * holds back every acknowledgement until it is (safe, but the upstream
   * producer then keeps more).
   */
  heldFrom?(): number;
  /**
   * Drops the events held for no live subscription (a partition nobody
   * subscribed to again) and returns how many: the stage reports them
   * through `onDiscard`.
   */
  discard?(): number;
  /**
   * Takes back `events` that were sent to `subscription` but never handled
   * (its consumer stopped abnormally with `redeliver: true`), so they are
   * dispatched before new events.
   *
   * @returns The events the dispatcher did not keep; the stage puts them at
   * the front of its buffer.
   */
  redeliver?(events: T[], subscription: Subscription<T>): T[];
}
