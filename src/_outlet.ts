// The producer side of a stage: its dispatcher, its buffer of events nobody
// asked for yet, accumulate mode, the downstream links, redelivery and
// acknowledgements. A producer-consumer's outlet also keeps its downstream
// demand (`counter`), which gates its consumer side.

import type { Dispatcher, DispatcherHost } from "./dispatcher.ts";
import type { AnyLink, ProducerEnd } from "./_link.ts";
import {
  ASK,
  CALL,
  CANCEL,
  CHECK,
  type CoreConfig,
  DELIVER_INFO,
  type MaybePromise,
  type StageContext,
  then,
  toArray,
} from "./_core.ts";
import { EventBuffer } from "./_buffer.ts";
import { linkFor } from "./_link.ts";
import * as v from "./_validate.ts";

type Accumulated = { readonly demand: number } | { readonly events: unknown[] };

/** An upstream chunk a producer-consumer handled, acknowledged once its output is done. */
interface Unacked {
  readonly link: AnyLink;
  readonly count: number;
  /** The output position after the chunk's events: acknowledged once every position before is done. */
  readonly end: number;
}

export class Outlet implements ProducerEnd {
  readonly owner: object;
  readonly name: string;
  readonly #ctx: StageContext;
  readonly #config: CoreConfig;
  readonly #dispatcher: Dispatcher<unknown>;
  readonly #buffer: EventBuffer<unknown>;
  readonly #pc: boolean;
  readonly downstream: Set<AnyLink> = new Set();
  /** Tracked links whose consumer may still give events back: a closing stage waits for them. */
  readonly #holding = new Set<AnyLink>();
  #accumulated: Accumulated[] | null = null;
  /** Whether a downstream subscription ever existed (a closing stage with none left is stranded). */
  hadDownstream = false;
  /**
   * Downstream demand not yet met: for a producer-consumer, GenStage's
   * counter (it gates the consumer side); for a producer, what the last asks
   * wanted beyond the buffer (it paces `writable`).
   */
  counter = 0;
  /** Events that left through the links. */
  sent = 0;
  /** Events dispatched, in order: the position of the next one in the stage's output. */
  #position = 0;
  /** The lowest position among the events being dispatched now. */
  #low = 0;
  /** For a dispatcher without heldFrom: the lowest position it may still hold (Infinity: none). */
  #heldLow = Infinity;
  readonly #unacked: Unacked[] = [];
  /** Called when downstream demand arrives at a producer-consumer, or at a producer with a writable. */
  onDemand: (() => MaybePromise) | undefined;

  constructor(ctx: StageContext, config: CoreConfig) {
    this.#ctx = ctx;
    this.#config = config;
    this.owner = config.owner;
    this.name = config.name;
    this.#pc = config.kind === "ProducerConsumer";
    const options = config.producer!;
    this.#buffer = new EventBuffer(options.bufferSize, options.bufferKeep);
    if (options.demand === "accumulate") this.#accumulated = [];
    this.#dispatcher = config.dispatcher!;
    this.#dispatcher.init(this.#host());
  }

  get bufferedCount(): number {
    return this.#buffer.count;
  }

  get demandMode(): "forward" | "accumulate" {
    return this.#accumulated === null ? "forward" : "accumulate";
  }

  /** True when the outlet holds nothing a subscriber could still receive. */
  get drained(): boolean {
    return this.#buffer.empty && !this.#accumulated?.length &&
      this.#dispatcher.idle?.() !== false;
  }

  /**
   * How long a closing stage keeps events its dispatcher holds for
   * subscriptions to come (a partition with no subscriber), or undefined
   * when it holds none such.
   */
  get keepMs(): number | undefined {
    const dispatcher = this.#dispatcher;
    if (dispatcher.discard === undefined || dispatcher.idle?.() !== false) return undefined;
    return dispatcher.keepMs ?? 0;
  }

  /** Drops what the dispatcher holds for no live subscription; returns how many. */
  discardHeld(): number {
    return this.#demand(this.#dispatcher.discard?.() ?? 0, "discard");
  }

  /** True while a tracked consumer may still give events back. */
  get holding(): boolean {
    for (const link of this.#holding) {
      if (link.holding) return true;
      if (!link.active) this.#holding.delete(link);
    }
    return false;
  }

  /** A producer-consumer with `redeliver` upstream tracks its output to acknowledge its input. */
  get tracking(): boolean {
    return this.#unacked.length > 0;
  }

  #host(): DispatcherHost<unknown> {
    const ctx = this.#ctx;
    // deno-lint-ignore no-this-alias
    const outlet = this;
    return {
      send: (subscription, events, position) => {
        const link = linkFor(subscription);
        if (link === undefined || events.length === 0) return;
        this.sent += events.length;
        link.send(events, position === undefined ? this.#low : Math.min(position, this.#low));
        // A subscription whose reader does not report what it handled (a raw
        // stream from subscribe()) counts as handled once sent.
        if (!link.tracked && this.#config.acknowledge !== undefined) {
          this.#config.acknowledge(events, true);
        }
      },
      ask: (subscription, count) => {
        const link = linkFor(subscription);
        if (link !== undefined) ctx.post({ k: ASK, link, count });
      },
      info: (message) => ctx.post({ k: DELIVER_INFO, message }),
      cancel: (subscription, reason) => {
        const link = linkFor(subscription);
        if (link !== undefined) ctx.post({ k: CANCEL, link, reason, redeliver: false });
      },
      bufferSize: this.#config.producer!.bufferSize,
      discard: (count) => {
        if (count > 0) ctx.reportDiscard(count);
      },
      get position() {
        return outlet.#low;
      },
    };
  }

  // ---------------------------------------------------------------- ProducerEnd (any caller)

  ask(link: AnyLink, count: number): void {
    this.#ctx.post({ k: ASK, link, count });
  }

  cancelled(link: AnyLink, reason: unknown, redeliver: boolean): void {
    if (this.#ctx.stopped) {
      // Nobody will take them back: they are reported as never handled.
      if (link.tracked) this.#unhandled(link.takeUnhandled().events);
      return;
    }
    this.#ctx.post({ k: CANCEL, link, reason, redeliver });
  }

  observe(): void {
    this.#ctx.observe();
  }

  giveBack(link: AnyLink, events: unknown[], low: number): void {
    const unhandled = () => this.dropped(link, events);
    if (this.#ctx.stopped) return unhandled();
    this.#ctx.post({
      k: CALL,
      call: () => (this.#ctx.stopped ? unhandled() : this.#putBack(link, events, low)),
      discard: unhandled,
    });
  }

  dropped(_link: AnyLink, events: unknown[]): void {
    this.#unhandled(events);
    if (this.#unacked.length > 0) this.advance();
    if (this.#ctx.closing) this.#ctx.post({ k: CHECK });
  }

  handled(_link: AnyLink, events: unknown[]): void {
    this.#config.acknowledge?.(events, true);
    if (this.#unacked.length > 0) this.advance();
    // A closing stage may have been waiting for that consumer.
    if (this.#ctx.closing) this.#ctx.post({ k: CHECK });
  }

  // ---------------------------------------------------------------- messages

  subscribe(link: AnyLink): MaybePromise {
    if (!link.active) return;
    this.downstream.add(link);
    this.hadDownstream = true;
    if (link.tracked && link.consumer !== null) this.#holding.add(link);
    const handleSubscribe = this.#config.handleSubscribe;
    const result = handleSubscribe === undefined ? undefined : handleSubscribe(link.view);
    return then(result, (mode) => {
      // GenStage stops a producer whose handle_subscribe answers :manual (G56, G81).
      if (mode !== undefined && mode !== "automatic") {
        throw new TypeError(
          v.message(
            "subscribe",
            "handleSubscribe's result for a downstream subscription",
            '"automatic" or nothing',
            mode,
          ),
        );
      }
      if (!link.active || this.#ctx.stopped) return;
      let demand: number;
      this.#lowFor(this.#position);
      try {
        demand = this.#demand(this.#dispatcher.subscribe(link.view), "subscribe");
      } catch (error) {
        this.downstream.delete(link);
        link.end(error);
        return;
      }
      return this.serve(demand);
    });
  }

  onAsk(link: AnyLink, count: number): MaybePromise {
    if (!link.active) return;
    this.#lowFor(this.#position);
    const demand = this.#demand(this.#dispatcher.ask(count, link.view), "ask");
    if (demand < count && this.#accumulated === null && this.#buffer.count > 0) {
      // Part of the ask was matched with demand already forwarded for a
      // subscription that left (the dispatcher's pending). Events waiting in
      // the buffer (given back by redelivery, say) serve that part now
      // instead of waiting for events the source may never produce.
      this.#takeFromBuffer(count - demand);
    }
    return this.serve(demand);
  }

  onCancel(link: AnyLink, reason: unknown, redeliver: boolean): MaybePromise {
    if (!link.active) {
      // Cancelled before (close() cancels first): what its consumer failed to handle since comes back.
      this.#giveBack(link, redeliver);
      return;
    }
    this.downstream.delete(link);
    link.end(reason);
    const handleCancel = this.#config.handleCancel;
    const result = handleCancel === undefined ? undefined : handleCancel(link.view, reason);
    return then(result, (events) => {
      if (this.#ctx.stopped) return;
      // The subscription leaves the dispatcher first, so nothing more is sent to it.
      this.#lowFor(this.#position);
      const demand = this.#demand(this.#dispatcher.cancel(link.view), "cancel");
      this.#giveBack(link, redeliver);
      this.dispatch(toArray(events, "cancel"));
      return this.serve(demand);
    });
  }

  /** A producing stage's info goes after its buffered events, or to the dispatcher. */
  placeInfo(message: unknown): void {
    if (!this.#buffer.mark(message)) this.#dispatcher.info(message);
  }

  onMode(mode: "forward" | "accumulate"): MaybePromise {
    if (mode === "accumulate") {
      this.#accumulated ??= [];
      return;
    }
    const accumulated = this.#accumulated;
    if (accumulated === null) return;
    this.#accumulated = null;
    return this.#replay(accumulated, 0);
  }

  // ---------------------------------------------------------------- dispatching

  /** Answers upstream demand returned by the dispatcher. */
  serve(demand: number): MaybePromise {
    if (demand <= 0 || this.#ctx.stopped) return;
    const accumulated = this.#accumulated;
    if (accumulated !== null) {
      const buffer = this.#buffer;
      while (demand > 0 && !buffer.empty) {
        const { events, released } = buffer.take(demand);
        if (events.length > 0) {
          accumulated.push({ events });
          demand -= events.length;
        }
        this.#release(released);
        if (events.length === 0 && released.length === 0) break;
      }
      if (demand > 0) accumulated.push({ demand });
      return;
    }
    if (this.#pc) {
      this.counter = this.#takeFromBuffer(this.counter + demand);
      return this.onDemand?.();
    }
    const rest = this.#takeFromBuffer(demand);
    if (rest === 0 || this.#ctx.closing) return;
    this.counter += rest;
    const handleDemand = this.#config.handleDemand;
    const result = handleDemand === undefined
      ? undefined
      : then(handleDemand(rest), (events) => this.dispatch(toArray(events, "handle demand")));
    return this.onDemand === undefined ? result : then(result, this.onDemand);
  }

  /** Sends events by the dispatcher, buffering what no subscription can take. */
  dispatch(events: unknown[]): void {
    if (events.length === 0 || this.#ctx.stopped) return;
    if (this.#accumulated !== null) {
      this.#accumulated.push({ events });
      return;
    }
    const low = this.#position;
    this.#position += events.length;
    this.#lowFor(low);
    const leftover = this.#dispatcher.dispatch(events);
    if (low < this.#heldLow) this.#heldLow = low;
    // Buffered events count too: they will answer the next asks. Demand the
    // dispatcher cannot place (a consumer that left) must not keep the stage
    // pulling upstream into its buffer.
    this.counter -= events.length;
    if (this.counter < 0) this.counter = 0;
    if (leftover.length > 0) {
      const { discarded, released } = this.#buffer.store(leftover, low);
      if (discarded > 0) this.#ctx.reportDiscard(discarded);
      this.#release(released);
    }
    if (this.#unacked.length > 0) this.advance();
  }

  /** Dispatches up to `demand` buffered events; returns the demand left. */
  #takeFromBuffer(demand: number): number {
    const buffer = this.#buffer;
    while (demand > 0 && !buffer.empty) {
      const { events, released, low } = buffer.take(demand);
      if (events.length > 0) {
        this.#lowFor(low);
        const leftover = this.#dispatcher.dispatch(events);
        if (low < this.#heldLow) this.#heldLow = low;
        demand -= events.length - leftover.length;
        if (leftover.length > 0) {
          // The markers this take reached stay behind the events put back.
          buffer.unshift(leftover, released, low);
          break;
        }
      }
      this.#release(released);
      if (events.length === 0 && released.length === 0) break;
    }
    if (this.#unacked.length > 0) this.advance();
    return demand;
  }

  #release(messages: unknown[]): void {
    for (const message of messages) this.#ctx.post({ k: DELIVER_INFO, message });
  }

  #replay(accumulated: Accumulated[], from: number): MaybePromise {
    for (let i = from; i < accumulated.length && !this.#ctx.stopped; i++) {
      const entry = accumulated[i];
      const result = "events" in entry ? this.dispatch(entry.events) : this.serve(entry.demand);
      if (result !== undefined) return result.then(() => this.#replay(accumulated, i + 1));
    }
  }

  /** Checks a demand a dispatcher returned (a user's dispatcher may return anything). */
  #demand(demand: unknown, method: string): number {
    return v.integer(method, "the demand returned by the dispatcher", demand, 0);
  }

  // ---------------------------------------------------------------- redelivery and acknowledgement

  /**
   * What becomes of the events `link` sent and its consumer has not handled
   * when it cancels. With `redeliver` (its consumer failed) they are taken
   * back and dispatched before anything else (through the dispatcher's
   * `redeliver` when it has one, else from the front of the buffer). A
   * consumer that has gone without them: they are reported as never
   * handled. Otherwise (a consumer closing) they are still to be handled.
   */
  #giveBack(link: AnyLink, redeliver: boolean): void {
    if (!link.tracked || (!redeliver && !link.detached)) return;
    // Events its consumer took over (a ConsumerSupervisor's tasks) still bound what is acknowledged.
    if (!link.delegating) this.#holding.delete(link);
    // Given back, even a chunk still being handled (at least once); else that chunk reports itself.
    const { events, low } = link.takeUnhandled(redeliver ? 0 : link.inProgress);
    if (events.length === 0) return;
    if (!redeliver || this.#ctx.stopped) {
      this.#unhandled(events);
      if (this.#unacked.length > 0) this.advance();
      return;
    }
    this.#putBack(link, events, low);
  }

  /**
   * Dispatches `events` a consumer of `link` gave back before anything else
   * (through the dispatcher's `redeliver` when it has one, else from the
   * front of the buffer); `low` bounds their output positions.
   */
  #putBack(link: AnyLink, events: unknown[], low: number): void {
    const dispatcher = this.#dispatcher;
    this.#lowFor(low);
    if (dispatcher.redeliver !== undefined && low < this.#heldLow) this.#heldLow = low;
    const rest = dispatcher.redeliver === undefined
      ? events
      : dispatcher.redeliver(events, link.view);
    const buffer = this.#buffer;
    if (rest.length > 0) buffer.unshift(rest, undefined, low);
    if (this.#accumulated !== null || buffer.empty) return;
    // Whatever demand the other subscriptions have takes them now.
    const before = buffer.count;
    this.#takeFromBuffer(Infinity);
    if (this.#pc) this.counter = Math.max(0, this.counter - (before - buffer.count));
  }

  /** Events that will never be handled: reported to `acknowledge`. */
  #unhandled(events: unknown[]): void {
    if (events.length > 0) this.#config.acknowledge?.(events, false);
  }

  /**
   * A producer-consumer handled an upstream chunk with `redeliver`: it is
   * acknowledged once every output event made so far is done (handled by a
   * tracked consumer, or sent to an untracked one), so that whatever its
   * consumers give back, or it holds when it fails, is still covered upstream.
   */
  unacked(link: AnyLink, count: number): void {
    this.#unacked.push({ link, count, end: this.#position });
    this.advance();
  }

  /** A lower bound of the output positions the dispatcher holds (Infinity: none). */
  #held(): number {
    const dispatcher = this.#dispatcher;
    if (dispatcher.heldFrom !== undefined) return dispatcher.heldFrom();
    if (dispatcher.idle?.() === false) return this.#heldLow;
    return this.#heldLow = Infinity;
  }

  /**
   * Sets the low the dispatcher's sends carry for a call about events from
   * `low` on: events it sends from what it holds may be older. Only a
   * producer-consumer needs it (to acknowledge its upstream).
   */
  #lowFor(low: number): void {
    const dispatcher = this.#dispatcher;
    // A dispatcher with heldFrom says where what it sends from its store comes from.
    this.#low = this.#pc && dispatcher.heldFrom === undefined ? Math.min(low, this.#held()) : low;
  }

  /** Acknowledges the upstream chunks whose output is done. */
  advance(): void {
    const unacked = this.#unacked;
    let frontier = this.#buffer.low;
    const held = this.#held();
    if (held < frontier) frontier = held;
    for (const link of this.#holding) {
      const low = link.low;
      if (low < frontier) frontier = low;
    }
    if (frontier === Infinity) frontier = this.#position;
    let i = 0;
    while (i < unacked.length && unacked[i].end <= frontier) i++;
    if (i === 0) return;
    const done = unacked.splice(0, i);
    for (const { link, count } of done) link.handled(count);
  }

  // ---------------------------------------------------------------- ending

  /** The stage stops: every link ends with `reason`; what is held is reported as never handled. */
  stop(reason: unknown): void {
    for (const link of this.downstream) link.end(reason);
    this.downstream.clear();
    this.#unhandled(this.#buffer.clear());
    const accumulated = this.#accumulated;
    if (accumulated !== null) {
      for (const entry of accumulated) if ("events" in entry) this.#unhandled(entry.events);
    }
    this.#accumulated = null;
  }
}
