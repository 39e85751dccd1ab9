// One subscription: the web streams that carry its batches and the demand
// bookkeeping of both ends. The producer end is a ReadableStream<T[]> the
// producer enqueues into; a consumer stage reads it into a WritableStream<T[]>
// whose strategy is { highWaterMark: maxDemand, size: batch => batch.length },
// so the pair never holds more than maxDemand events. A raw subscription
// (producer.subscribe(), toReadableStream) hands the ReadableStream to the
// caller and asks as its reader reads.

import type { Subscription } from "./subscription.ts";
import type { NormalSubscribeOptions } from "./_options.ts";
import { isNormal } from "./_options.ts";
import { Queue } from "./_queue.ts";
import { batchSize, ignore, streams } from "./_streams.ts";
import { mustYield, turnEnd } from "./_turns.ts";
import * as v from "./_validate.ts";

// deno-lint-ignore no-explicit-any
export type AnyLink = Link<any>;

/** What a link needs from the stage at each end. */
export interface LinkEnd {
  readonly owner: object;
  /** Producer end: the link asks for `count` more events. */
  ask(link: AnyLink, count: number): void;
  /**
   * Producer end: the link's consumer or reader cancels it; `redeliver` asks
   * for the events sent and not handled to be taken back.
   */
  cancelled(link: AnyLink, reason: unknown, redeliver?: boolean): void;
  /** Consumer end: a batch arrives; the returned promise settles once it is handled. */
  deliver(link: AnyLink, events: unknown[], continuation: boolean): void | Promise<void>;
  /** Consumer end: the producer ended the link (link.endReason says why) and every batch was delivered. */
  ended(link: AnyLink): void;
  /** Producer end: a `redeliver` link's consumer has handled every event sent to it so far. */
  drained(link: AnyLink): void;
}

/** The error for `ask` on an automatic subscription. */
export const AUTOMATIC_ASK =
  'Cannot ask as the subscription is automatic: only a subscription whose handleSubscribe returned "manual" can ask';

/** Batches the pump cut from a larger one, after its first chunk. */
const continuations = new WeakSet<unknown[]>();

export class Link<T> implements Subscription<T> {
  readonly options: NormalSubscribeOptions<T>;
  readonly source: LinkEnd;
  readonly target: LinkEnd | null;
  /** Producer side: the producer still routes events to this link. */
  active = true;
  /** Consumer side: the consumer no longer handles this link's events. */
  detached = false;
  /** Consumer side: the consumer's handleSubscribe returned "manual". */
  manual = false;
  /** Consumer side: its handleSubscribe is running; asks are held until it answers. */
  subscribing = false;
  /** Asks made inside handleSubscribe. */
  earlyAsks = 0;
  /** Events asked for and not yet received. */
  pending = 0;
  /** Why the producer ended the link. */
  endReason: unknown = undefined;
  readonly readable: ReadableStream<T[]>;
  #controller!: ReadableStreamDefaultController<T[]>;
  #reader: ReadableStreamDefaultReader<T[]> | undefined;
  #closed = false;
  #error: { reason: unknown } | undefined;
  /**
   * Raw link read by toReadableStream: events sent and not yet released by
   * its reader, which counts instead of the stream's queue (the reader takes
   * whole batches and hands them on chunk by chunk).
   */
  #unreleased: number | undefined;
  /** With `redeliver`: copies of the batches sent and not yet handled, oldest first. */
  readonly #unhandled: Queue<T[]> | undefined;
  /** Events of the first unhandled batch already handled. */
  #handledOffset = 0;

  constructor(source: LinkEnd, target: LinkEnd | null, options: NormalSubscribeOptions<T>) {
    this.source = source;
    this.target = target;
    this.options = options;
    if (options.redeliver && target !== null) this.#unhandled = new Queue();
    const cancel = (reason: unknown) => {
      this.#closed = true;
      this.source.cancelled(this, reason === undefined ? "normal" : reason);
    };
    if (target === null) {
      this.readable = new streams.ReadableStream<T[]>({
        start: (controller) => void (this.#controller = controller),
        pull: () => this.#pull(),
        cancel,
      }, { highWaterMark: options.maxDemand, size: batchSize });
    } else {
      this.readable = new streams.ReadableStream<T[]>({
        start: (controller) => void (this.#controller = controller),
        cancel,
      }, { highWaterMark: 0 });
    }
  }

  get producer(): object {
    return this.source.owner;
  }

  get consumer(): object | null {
    return this.target === null ? null : this.target.owner;
  }

  ask(count: number): void {
    const action = "ask";
    v.integer(action, "count", count, 0);
    if (this.subscribing) {
      // Inside handleSubscribe, before it answers "manual" (GenStage's idiom).
      this.earlyAsks += count;
      return;
    }
    if (!this.manual) throw new TypeError(AUTOMATIC_ASK);
    if (count > 0) this.source.ask(this, count);
  }

  cancel(reason: unknown = "normal"): void {
    this.source.cancelled(this, reason);
  }

  /** Producer side: sends a batch down the link. */
  send(events: T[]): void {
    // Kept even once the consumer has gone: the producer takes them back when it learns it.
    if (this.#unhandled !== undefined) this.#unhandled.push(events.slice());
    if (this.#closed) return;
    if (this.target === null) {
      this.pending -= events.length;
      if (this.pending < 0) this.pending = 0;
      if (this.#unreleased !== undefined) this.#unreleased += events.length;
    }
    this.#controller.enqueue(events);
  }

  /** Consumer side: the consumer has handled the next `count` events sent (for `redeliver`). */
  handled(count: number): void {
    const unhandled = this.#unhandled;
    if (unhandled === undefined) return;
    let n = count + this.#handledOffset;
    for (
      let first = unhandled.peek();
      first !== undefined && n >= first.length;
      first = unhandled.peek()
    ) {
      n -= first.length;
      unhandled.shift();
    }
    if (unhandled.length > 0) this.#handledOffset = n;
    else {
      this.#handledOffset = 0;
      this.source.drained(this);
    }
  }

  /**
   * Producer side: a `redeliver` link whose consumer is still at work on
   * events sent to it (it may yet fail and give them back).
   */
  get holding(): boolean {
    return this.#unhandled !== undefined && this.#unhandled.length > 0 && !this.detached;
  }

  /** Producer side: removes and returns the events sent and never handled, in order. */
  takeUnhandled(): T[] {
    const unhandled = this.#unhandled;
    if (unhandled === undefined || unhandled.length === 0) return [];
    const batches = unhandled.drain();
    batches[0] = batches[0].slice(this.#handledOffset);
    this.#handledOffset = 0;
    return batches.length === 1 ? batches[0] : batches.flat() as T[];
  }

  /** Producer side: ends the link after the batches already sent. */
  close(reason: unknown): void {
    this.active = false;
    if (this.#closed) return;
    this.#closed = true;
    this.endReason = reason;
    if (
      this.target === null && !isNormal(reason) && this.options.cancel !== "temporary" &&
      reason !== "already_subscribed"
    ) {
      this.#error = { reason };
      if (this.#controller.desiredSize === this.options.maxDemand) this.#controller.error(reason);
    } else {
      this.#controller.close();
    }
  }

  /** Raw link: from now on, only `release` makes room (see #unreleased). */
  trackRelease(): void {
    this.#unreleased ??= 0;
  }

  /** Raw link: the reader has passed on `count` events; asks again by the rule. */
  release(count: number): void {
    if (this.#unreleased === undefined) return;
    this.#unreleased -= count;
    this.#pull();
  }

  /** Raw link: asks by GenStage's rule as the reader makes room. */
  #pull(): void {
    const desired = this.#controller.desiredSize ?? 0;
    const max = this.options.maxDemand;
    if (this.#error !== undefined) {
      if (desired === max) this.#controller.error(this.#error.reason);
      return;
    }
    if (this.#closed) return;
    const held = this.pending + (this.#unreleased ?? max - desired);
    if (held <= this.options.minDemand) {
      this.pending += max - held;
      this.source.ask(this, max - held);
    }
  }

  /**
   * Consumer side: moves batches from the readable into a WritableStream
   * owned by the target, cut into chunks of at most maxDemand - minDemand
   * in automatic mode, and ends the target's side once the readable closes.
   */
  connect(): void {
    const target = this.target!;
    const writable = new streams.WritableStream<T[]>({
      write: (events) => target.deliver(this, events, continuations.has(events)),
      close: () => target.ended(this),
    }, { highWaterMark: this.options.maxDemand, size: batchSize });
    const reader = this.readable.getReader();
    this.#reader = reader;
    const writer = writable.getWriter();
    const chunk = this.options.maxDemand - this.options.minDemand;
    const pump = async (): Promise<void> => {
      for (;;) {
        if (mustYield()) await turnEnd();
        const { done, value } = await reader.read();
        if (done) return writer.close();
        if (this.manual || value.length <= chunk) writer.write(value).then(ignore, ignore);
        else {
          for (let i = 0; i < value.length; i += chunk) {
            const part = value.slice(i, i + chunk);
            if (i > 0) continuations.add(part);
            writer.write(part).then(ignore, ignore);
          }
        }
      }
    };
    pump().then(ignore, (reason) => {
      writer.abort(reason).then(ignore, ignore);
    });
  }

  /** Consumer side: the consumer stops or leaves; the producer learns it through the stream's cancel. */
  detach(reason: unknown): void {
    this.detached = true;
    if (this.#reader !== undefined) this.#reader.cancel(reason).then(ignore, ignore);
    else this.readable.cancel(reason).then(ignore, ignore);
  }
}
