// The consumer side of a stage: its upstream links, the pump that reads each
// link's stream into the mailbox, handleEvents in chunks of at most
// maxDemand − minDemand with GenStage's re-ask after each (src/_demand.ts),
// a producer-consumer's gating on downstream demand, and what the end of an
// upstream subscription does by its `cancel` mode.

import type { AnyLink } from "./_link.ts";
import type { Outlet } from "./_outlet.ts";
import {
  type CoreConfig,
  ENDED,
  EVENTS,
  type EventsMessage,
  INFO,
  isThenable,
  type MaybePromise,
  type Message,
  type StageContext,
  then,
  toArray,
} from "./_core.ts";
import { chunkSize } from "./_demand.ts";
import { isNormal } from "./_options.ts";
import { Queue } from "./_queue.ts";
import { ignore } from "./_streams.ts";
import { mustYield, turnEnd } from "./_turns.ts";
import { AUTOMATIC_ASK } from "./_link.ts";
import * as v from "./_validate.ts";

export class Inlet {
  readonly upstream: Set<AnyLink> = new Set();
  readonly #ctx: StageContext;
  readonly #config: CoreConfig;
  /** A producer-consumer's outlet: its downstream demand gates this side. */
  readonly #outlet: Outlet | undefined;
  /** A producer-consumer's upstream messages waiting for downstream demand. */
  readonly #deferred = new Queue<Message>();
  /** Events handed to handleEvents. */
  received = 0;
  /** The last subscriptions that ended (for stats: a finished pipeline keeps its shape). */
  readonly ended: AnyLink[] = [];

  constructor(ctx: StageContext, config: CoreConfig, outlet: Outlet | undefined) {
    this.#ctx = ctx;
    this.#config = config;
    this.#outlet = outlet;
  }

  /** True when nothing upstream remains and nothing waits to be handled. */
  get done(): boolean {
    return this.upstream.size === 0 && this.#deferred.length === 0;
  }

  /** Events a producer-consumer holds for lack of downstream demand. */
  get deferredCount(): number {
    let count = 0;
    for (const message of this.#deferred) {
      if (message.k === EVENTS) count += message.events.length;
    }
    return count;
  }

  /** Adds an upstream link and starts reading it. */
  add(link: AnyLink): void {
    this.upstream.add(link);
    this.#pump(link).then(ignore, ignore);
  }

  /**
   * Reads the link's batches into the mailbox, one at a time: the next is
   * read once this one has been handled, so what waits stays in the stream
   * (its desiredSize tells how much) until the producer ends the link or
   * this stage leaves.
   */
  async #pump(link: AnyLink): Promise<void> {
    const reader = link.getReader();
    const ctx = this.#ctx;
    // Nothing from a constructor's call: the first read (and the turn's
    // timer mustYield may start, which some test runners answer by running
    // microtasks) waits for the caller to have returned.
    await undefined;
    for (;;) {
      if (mustYield()) await turnEnd();
      const { done, value } = await reader.read();
      if (link.detached || ctx.stopped) return;
      if (done) {
        ctx.post({ k: ENDED, link });
        return;
      }
      link.read(value);
      link.delivered = false;
      ctx.post({ k: EVENTS, link, events: value });
      if (!link.delivered) await new Promise<void>((resolve) => (link.resume = resolve));
    }
  }

  // ---------------------------------------------------------------- messages

  onSubscribed(link: AnyLink): MaybePromise {
    if (link.detached) return;
    const handleSubscribe = this.#config.handleSubscribe;
    link.subscribing = true;
    const mode = handleSubscribe === undefined ? undefined : handleSubscribe(link.view);
    return then(mode, (mode) => {
      link.subscribing = false;
      if (mode !== undefined && mode !== "automatic" && mode !== "manual") {
        throw new TypeError(
          v.message(
            "subscribe",
            "handleSubscribe's result",
            '"automatic", "manual" or nothing',
            mode,
          ),
        );
      }
      if (mode === "manual") {
        link.manual = true;
        link.askManually(link.earlyAsks);
      } else if (link.earlyAsks > 0) throw new TypeError(AUTOMATIC_ASK);
      // A producer-consumer handles whole batches past its demand (GenStage): it keeps them apart.
      link.coalesce = !link.manual && this.#outlet === undefined;
      if (!this.#ctx.closing) link.askByRule();
    });
  }

  onEvents(message: EventsMessage): MaybePromise {
    const outlet = this.#outlet;
    if (outlet !== undefined && (this.#deferred.length > 0 || outlet.counter <= 0)) {
      this.#deferred.push(message);
      return;
    }
    return this.#consume(message);
  }

  onEnded(link: AnyLink): MaybePromise {
    if (this.#deferred.length > 0) {
      this.#deferred.push({ k: ENDED, link });
      return;
    }
    return this.#upstreamEnded(link);
  }

  /** A producer-consumer's info waits behind the upstream events it holds. */
  onInfo(message: unknown): void {
    if (this.#deferred.length > 0) this.#deferred.push({ k: INFO, message });
    else this.#outlet!.placeInfo(message);
  }

  /** A producer-consumer handles deferred upstream messages while it has downstream demand. */
  takeDeferred(): MaybePromise {
    const deferred = this.#deferred;
    const outlet = this.#outlet!;
    while (deferred.length > 0 && !this.#ctx.stopped) {
      if (outlet.counter <= 0) return;
      const head = deferred.shift()!;
      let result: MaybePromise = undefined;
      if (head.k === EVENTS) result = this.#consume(head);
      else if (head.k === ENDED) result = this.#upstreamEnded(head.link);
      else if (head.k === INFO) outlet.placeInfo(head.message);
      if (result !== undefined) return result.then(() => this.takeDeferred());
    }
  }

  // ---------------------------------------------------------------- handling

  /**
   * Hands a batch to handleEvents, whole in manual mode, else in chunks of
   * maxDemand − minDemand; then lets the link's pump read the next one.
   */
  #consume(message: EventsMessage): MaybePromise {
    const { link, events } = message;
    if (link.detached) return link.settle();
    const size = link.manual ? events.length : chunkSize(link.options);
    const result = events.length <= size
      ? this.#chunk(link, events)
      : this.#chunks(link, events, 0, size);
    if (result === undefined) return link.settle();
    return result.then(() => link.settle());
  }

  #chunks(link: AnyLink, events: unknown[], from: number, size: number): MaybePromise {
    for (let i = from; i < events.length; i += size) {
      if (link.detached || this.#ctx.stopped) return;
      const result = this.#chunk(link, events.slice(i, i + size));
      if (result !== undefined) {
        return result.then(() => this.#chunks(link, events, i + size, size));
      }
    }
  }

  #chunk(link: AnyLink, events: unknown[]): MaybePromise {
    this.received += events.length;
    link.inProgress = events.length;
    let result;
    try {
      result = this.#config.handleEvents!(events, link.view);
    } catch (error) {
      link.inProgress = 0;
      throw error;
    }
    if (isThenable(result)) {
      result = Promise.resolve(result).then(undefined, (error) => {
        // Failed: these events were not handled. If the stage stopped meanwhile
        // (they stayed with the producer, see Link.takeUnhandled), say so now,
        // unless the stop gave them back to be sent again (`redeliver`).
        if (this.#ctx.stopped && !link.redelivered) link.dropHead(link.inProgress);
        link.inProgress = 0;
        throw error;
      });
    }
    return then(result, (output) => {
      const count = events.length;
      link.inProgress = 0;
      const outlet = this.#outlet;
      if (outlet === undefined) link.handled(count);
      if (this.#ctx.stopped) return;
      if (outlet !== undefined) {
        outlet.dispatch(toArray(output, "handle events"));
        if (link.tracked) outlet.unacked(link, count);
      }
      if (link.manual) link.unfinished -= count;
      else link.finished(count);
    });
  }

  #upstreamEnded(link: AnyLink): MaybePromise {
    if (link.detached) return;
    link.detached = true;
    this.upstream.delete(link);
    this.#remember(link);
    const reason = link.endReason;
    const handleCancel = this.#config.handleCancel;
    const result = handleCancel === undefined ? undefined : handleCancel(link.view, reason);
    return then(result, (events) => {
      const ctx = this.#ctx;
      link.onEnd?.();
      if (ctx.stopped) return;
      this.#outlet?.dispatch(toArray(events, "cancel"));
      if (ctx.closing || reason === "already_subscribed") return;
      if (link.closesWhenLast) {
        // A writable inlet: closing it ends the stage's input once no other upstream remains.
        if (!isNormal(reason)) ctx.fail(reason, link.source.name);
        else if (this.upstream.size === 0) ctx.close();
        return;
      }
      const mode = link.options.cancel;
      if (mode === "permanent" || (mode === "transient" && !isNormal(reason))) {
        if (isNormal(reason)) ctx.close();
        else {
          // The producer's failure goes on as this stage's: it is reported here if nobody observes it.
          link.source.observe?.();
          ctx.fail(reason, link.source.name);
        }
      }
    });
  }

  // ---------------------------------------------------------------- ending

  /** Keeps the last ended links, at most 32, for stats. */
  #remember(link: AnyLink): void {
    if (this.ended.length === 32) this.ended.shift();
    this.ended.push(link);
  }

  /** A graceful close: every upstream subscription is cancelled normally; queued events are still handled. */
  cancelAll(): void {
    for (const link of this.upstream) link.source.cancelled(link, "normal", false);
  }

  /**
   * The stage stops: it leaves every upstream link. Unless the stop is a
   * plain "normal" one, a `redeliver` link gives back what it held first.
   */
  stop(reason: unknown): void {
    const redeliver = reason !== "normal" && reason !== undefined;
    for (const link of this.upstream) {
      // Posted before the detach's cancel, which the producer then ignores.
      if (redeliver && link.options.redeliver) {
        link.redelivered = true;
        link.source.cancelled(link, reason, true);
      }
      link.detach(reason);
      link.settle();
      this.#remember(link);
    }
    this.upstream.clear();
    this.#deferred.drain();
  }
}
