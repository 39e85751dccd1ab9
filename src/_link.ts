// One subscription: a ReadableStream<T[]> of batches whose strategy is
// { highWaterMark: maxDemand, size: batch => batch.length }, the producer
// enqueueing what its dispatcher sends, the consumer reading. Its
// desiredSize is what the consumer has room for: the consumer asks by
// GenStage's rule (src/_demand.ts) from desiredSize, the events asked for
// and not yet sent, and the events read and not yet finished.
//
// Users never see a Link: they get its `view`, a narrow Subscription.

import type { Subscription } from "./subscription.ts";
import type { NormalSubscribeOptions } from "./_options.ts";
import { chunkSize, held, reask } from "./_demand.ts";
import { isNormal } from "./_options.ts";
import { Queue } from "./_queue.ts";
import { batchSize, ignore, streams } from "./_streams.ts";
import * as v from "./_validate.ts";

// deno-lint-ignore no-explicit-any
export type AnyLink = Link<any>;

/** What a link needs from its producer. */
export interface ProducerEnd {
  readonly owner: object;
  /** The consumer asks for `count` more events. */
  ask(link: AnyLink, count: number): void;
  /**
   * The consumer cancels the link (or has stopped); with `redeliver`, the
   * events sent and not handled are to be taken back.
   */
  cancelled(link: AnyLink, reason: unknown, redeliver: boolean): void;
  /** A tracked link's consumer has handled `events`, the oldest it held. */
  handled(link: AnyLink, events: unknown[]): void;
  /** A consumer that took events over (`delegate`) failed to handle these, and gives up on them. */
  dropped?(link: AnyLink, events: unknown[]): void;
  /**
   * A consumer that took events over (`delegate`) stopped abnormally before
   * handling these, on a `redeliver` link: they are to be sent again.
   * `low` bounds their positions in the producer's output.
   */
  giveBack?(link: AnyLink, events: unknown[], low: number): void;
  /** The producer's name, for stats. */
  readonly name?: string;
  /** The consumer takes the producer's failure in hand (it stops with it). */
  observe?(): void;
}

/**
 * The largest batch appended to a batch still waiting in the stream (see
 * Link.send): for small batches a read costs more than copying.
 */
const COALESCE_MAX = 16;

/** The error for `ask` on an automatic subscription. */
export const AUTOMATIC_ASK =
  'Cannot ask as the subscription is automatic: only a subscription whose handleSubscribe returned "manual" can ask';

let linkOf: (view: Subscription<unknown>) => AnyLink | undefined;

/**
 * What became of events taken over by `delegate`: handled, failed (given
 * up on), or interrupted by the consumer's abnormal stop (sent again on a
 * `redeliver` link, given up on otherwise).
 */
export type Fate = "handled" | "failed" | "interrupted";

/**
 * For a consumer whose work on a chunk outlives its handleEvents (a
 * ConsumerSupervisor's tasks): takes over the fate of the chunk's events
 * (see Link.delegate). Undefined when the producer keeps nothing.
 */
export function delegate<T>(
  subscription: unknown,
  count: number,
): ((events: T[], fate: Fate) => void) | undefined {
  return linkFor(subscription)?.delegate(count);
}

/** The link behind a Subscription given out by webstage, or undefined. */
export function linkFor(view: unknown): AnyLink | undefined {
  return view instanceof SubscriptionView ? linkOf(view) : undefined;
}

/** The Subscription users and dispatchers see: the link's public face, nothing more. */
class SubscriptionView<T> implements Subscription<T> {
  readonly #link: Link<T>;

  constructor(link: Link<T>) {
    this.#link = link;
  }

  static {
    linkOf = (view) => (view as SubscriptionView<unknown>).#link;
  }

  get producer(): object {
    return this.#link.source.owner;
  }

  get consumer(): object | null {
    return this.#link.consumer;
  }

  get options(): NormalSubscribeOptions<T> {
    return this.#link.options;
  }

  ask(count: number): void {
    this.#link.manualAsk(count);
  }

  cancel(reason: unknown = "normal"): void {
    this.#link.source.cancelled(this.#link, reason, false);
  }
}

export class Link<T> {
  readonly options: NormalSubscribeOptions<T>;
  readonly source: ProducerEnd;
  /** The consumer stage's public object; null for a raw subscription read as a stream. */
  readonly consumer: object | null;
  readonly view: Subscription<T>;
  readonly readable: ReadableStream<T[]>;
  /** Producer side: the producer still routes events to this link. */
  active = true;
  /** Consumer side: the consumer no longer reads this link. */
  detached = false;
  /** Consumer side: handleSubscribe answered "manual". */
  manual = false;
  /** Consumer side: handleSubscribe is running; asks are held until it answers. */
  subscribing = false;
  /** Asks made inside handleSubscribe. */
  earlyAsks = 0;
  /** Events asked for and not yet sent. */
  pending = 0;
  /** Events read from the stream and not yet finished. */
  unfinished = 0;
  /** Events of the chunk whose handleEvents is running (they may still be handled). */
  inProgress = 0;
  /**
   * Consumer side: the consumer stopped and gave back what it had not
   * handled, the chunk in progress included, to be sent again: that chunk
   * no longer reports itself.
   */
  redelivered = false;
  /** Consumer side: the batch the pump read last has been handled. */
  delivered = true;
  /** Consumer side: lets the pump read the next batch. */
  resume: (() => void) | undefined;
  /**
   * Consumer side: small batches may join the last one sent while it is
   * still unread (an automatic consumer stage that splits what it reads
   * into chunks anyway; see send).
   */
  coalesce = false;
  /** The last batch enqueued, while the consumer has not read it. */
  #last: T[] | undefined;
  /** Events appended to #last beyond what the stream counted for it. */
  #appended = 0;
  /** Events sent and not yet read by a consumer stage (a closed stream's desiredSize is 0). */
  #inStream = 0;
  /** Why the producer ended the link. */
  endReason: unknown = undefined;
  /**
   * Consumer side: a writable's inlet, whose normal end closes the stage
   * only once no other upstream remains (not by its cancel mode).
   */
  closesWhenLast = false;
  /** Consumer side: called once the consumer has handled the link's end. */
  onEnd: (() => void) | undefined;
  /**
   * A raw link read by the events bridge (src/_reader.ts), which finishes
   * events only once its own reader has taken them: it asks, not the pull.
   */
  bridged = false;
  #controller!: ReadableStreamDefaultController<T[]>;
  #reader: ReadableStreamDefaultReader<T[]> | undefined;
  #closed = false;
  /** A raw link's abnormal end, errored into the stream once its queue has been read. */
  #error: { reason: unknown } | undefined;
  /** Tracked links (redeliver, acknowledgements): the batches sent and not handled, oldest first. */
  readonly #sent: Queue<T[]> | undefined;
  /** For each batch in #sent: a lower bound of its events' positions in the producer's output. */
  readonly #lows: Queue<number> | undefined;
  /** Events of the first batch in #sent already handled. */
  #offset = 0;
  /** Events taken over by `delegate` whose `handled` call from the consumer's chunk is still to come. */
  #delegated = 0;
  /**
   * Chunks taken over by `delegate` whose fate is not known for every event
   * yet: their low, and how many are left. They still bound `low`, so a
   * producer-consumer does not acknowledge its input before they are done.
   */
  readonly #delegatedOut = new Set<{ readonly low: number; left: number }>();

  constructor(
    source: ProducerEnd,
    consumer: object | null,
    options: NormalSubscribeOptions<T>,
    tracked: boolean,
  ) {
    this.source = source;
    this.consumer = consumer;
    this.options = options;
    this.view = new SubscriptionView(this);
    if (tracked) {
      this.#sent = new Queue();
      this.#lows = new Queue();
    }
    this.readable = new streams.ReadableStream<T[]>({
      start: (controller) => void (this.#controller = controller),
      pull: consumer === null ? () => this.#pull() : undefined,
      cancel: (reason) => {
        this.#closed = true;
        this.detached = true;
        this.source.cancelled(this, reason === undefined ? "normal" : reason, false);
      },
    }, { highWaterMark: options.maxDemand, size: batchSize });
  }

  /** Events sent and waiting in the stream. */
  get queued(): number {
    if (this.consumer !== null) return this.#inStream;
    const desired = this.#controller.desiredSize;
    return desired === null ? 0 : this.options.maxDemand - desired;
  }

  /** Whether the producer keeps what it sends until the consumer has handled it. */
  get tracked(): boolean {
    return this.#sent !== undefined;
  }

  // ---------------------------------------------------------------- producer end

  /** Enqueues a batch; `low` bounds the positions of its events in the producer's output. */
  send(events: T[], low: number): void {
    this.pending -= events.length;
    if (this.pending < 0) this.pending = 0;
    const sent = this.#sent;
    if (sent !== undefined) {
      // Kept even once the consumer has gone: the producer takes them back when it learns it.
      sent.push(events.slice());
      this.#lows!.push(low);
    }
    if (this.#closed) return;
    const last = this.#last;
    if (
      last !== undefined && this.coalesce && events.length <= COALESCE_MAX &&
      last.length % chunkSize(this.options) === 0
    ) {
      // The consumer would cut both into the same chunks: one read instead of two.
      for (let i = 0; i < events.length; i++) last.push(events[i]);
      this.#appended += events.length;
      this.#inStream += events.length;
      return;
    }
    this.#last = events;
    this.#appended = 0;
    this.#inStream += events.length;
    this.#controller.enqueue(events);
  }

  /** Consumer side: the pump has read `batch`; what was appended to it is read with it. */
  read(batch: T[]): void {
    if (batch === this.#last) {
      this.#last = undefined;
      this.#appended = 0;
    }
    this.#inStream -= batch.length;
    this.unfinished += batch.length;
  }

  /** Ends the link after the batches already sent. */
  end(reason: unknown): void {
    this.active = false;
    if (this.#closed) return;
    this.#closed = true;
    this.endReason = reason;
    if (
      this.consumer === null && !isNormal(reason) && this.options.cancel !== "temporary" &&
      reason !== "already_subscribed"
    ) {
      // A stream reader sees the events sent before the failure, then the
      // failure: it has the failure in hand.
      this.source.observe?.();
      this.#error = { reason };
      if (this.#controller.desiredSize === this.options.maxDemand) this.#controller.error(reason);
    } else {
      this.#controller.close();
    }
  }

  /**
   * A tracked link whose consumer still holds events it may give back: the
   * producer waits for them before it ends.
   */
  get holding(): boolean {
    return (this.#sent !== undefined && this.#sent.length > 0 && !this.detached) ||
      this.#delegatedOut.size > 0;
  }

  /** Events taken over by `delegate` are still out, their fate unknown. */
  get delegating(): boolean {
    return this.#delegatedOut.size > 0;
  }

  /** The lowest output position among the events sent and not yet handled (Infinity if none). */
  get low(): number {
    const lows = this.#lows;
    if (lows === undefined) return Infinity;
    let low = Infinity;
    for (const value of lows) if (value < low) low = value;
    for (const out of this.#delegatedOut) if (out.low < low) low = out.low;
    return low;
  }

  /**
   * Removes and returns the events sent and never handled, in order, with
   * their lowest position; the first `skip` stay (a chunk still being
   * handled reports itself once it settles).
   */
  takeUnhandled(skip = 0): { events: T[]; low: number } {
    const sent = this.#sent;
    if (sent === undefined || sent.length === 0) return { events: [], low: Infinity };
    const kept = skip > 0 ? this.#take(skip) : [];
    const keptLow = kept.length > 0 ? this.low : Infinity;
    const low = this.low;
    const batches = sent.drain();
    this.#lows!.drain();
    if (batches.length > 0) batches[0] = batches[0].slice(this.#offset);
    this.#offset = 0;
    if (kept.length > 0) {
      sent.push(kept);
      this.#lows!.push(keptLow);
    }
    const events = batches.length === 1 ? batches[0] : batches.flat() as T[];
    return { events, low: events.length > 0 ? low : Infinity };
  }

  /** The chunk being handled failed after its consumer had stopped: never handled. */
  dropHead(count: number): void {
    if (this.#sent === undefined || count === 0) return;
    const events = this.#take(count);
    if (events.length > 0) this.source.dropped?.(this, events);
  }

  // ---------------------------------------------------------------- consumer end

  /** Starts reading: the stage's pump owns the reader from now on. */
  getReader(): ReadableStreamDefaultReader<T[]> {
    this.#reader = this.readable.getReader();
    return this.#reader;
  }

  /** Asks by GenStage's rule, from what the link holds now. */
  askByRule(): void {
    if (this.manual || this.detached || !this.active) return;
    const count = reask(
      this.options,
      held(this.options, this.pending, this.#controller.desiredSize, this.unfinished) +
        this.#appended,
    );
    if (count > 0) {
      this.pending += count;
      this.source.ask(this, count);
    }
  }

  /** The consumer has finished `count` events it read; asks again by the rule. */
  finished(count: number): void {
    this.unfinished -= count;
    this.askByRule();
  }

  /** The consumer has handled the next `count` events sent (tracked links). */
  handled(count: number): void {
    const sent = this.#sent;
    if (sent === undefined || count === 0) return;
    const delegated = Math.min(count, this.#delegated);
    this.#delegated -= delegated;
    count -= delegated;
    if (count === 0) return;
    this.source.handled(this, this.#take(count));
  }

  /**
   * The consumer takes over the fate of the next `count` events (a
   * ConsumerSupervisor, whose tasks end in any order): they leave the
   * link's keeping, and the returned function tells the producer, event by
   * event, what became of them. Undefined for an untracked link.
   */
  delegate(count: number): ((events: T[], fate: Fate) => void) | undefined {
    if (this.#sent === undefined || count === 0) return undefined;
    const low = this.low;
    this.#take(count);
    this.#delegated += count;
    this.inProgress = Math.max(0, this.inProgress - count);
    const out = { low, left: count };
    this.#delegatedOut.add(out);
    return (events, fate) => {
      if (events.length === 0) return;
      out.left -= events.length;
      if (out.left <= 0) this.#delegatedOut.delete(out);
      if (fate === "handled") this.source.handled(this, events);
      else if (fate === "interrupted" && this.options.redeliver && this.source.giveBack) {
        this.source.giveBack(this, events, low);
      } else this.source.dropped?.(this, events);
    };
  }

  /** Removes and returns the next `count` events sent and not handled. */
  #take(count: number): T[] {
    const sent = this.#sent!;
    const lows = this.#lows!;
    let n = count + this.#offset;
    let done: T[] | undefined;
    let doneList: T[][] | undefined;
    for (let first = sent.peek(); first !== undefined && n > 0; first = sent.peek()) {
      const start = this.#offset;
      if (n >= first.length) {
        sent.shift();
        lows.shift();
        n -= first.length;
        this.#offset = 0;
        const part = start === 0 ? first : first.slice(start);
        if (done === undefined) done = part;
        else (doneList ??= [done]).push(part);
      } else {
        const part = first.slice(start, n);
        if (done === undefined) done = part;
        else (doneList ??= [done]).push(part);
        this.#offset = n;
        n = 0;
      }
    }
    if (done === undefined) return [];
    return doneList === undefined ? done : doneList.flat() as T[];
  }

  /** Consumer side: the batch read last is handled (or dropped): the pump may read on. */
  settle(): void {
    this.delivered = true;
    const resume = this.resume;
    if (resume !== undefined) {
      this.resume = undefined;
      resume();
    }
  }

  /** A manual ask from the consumer's code (Subscription.ask). */
  manualAsk(count: number): void {
    v.integer("ask", "count", count, 0);
    if (this.subscribing) {
      // Inside handleSubscribe, before it answers "manual" (GenStage's idiom).
      this.earlyAsks += count;
      return;
    }
    if (!this.manual) throw new TypeError(AUTOMATIC_ASK);
    this.askManually(count);
  }

  /** Grants `count` events in manual mode. */
  askManually(count: number): void {
    if (count <= 0 || this.detached) return;
    this.pending += count;
    this.source.ask(this, count);
  }

  /** The consumer stops reading; the producer learns it through the stream's cancel. */
  detach(reason: unknown): void {
    if (this.detached) return;
    this.detached = true;
    if (this.#reader !== undefined) this.#reader.cancel(reason).then(ignore, ignore);
    else this.readable.cancel(reason).then(ignore, ignore);
  }

  /** A raw link read as a stream: asks as its reader makes room, and errors once drained. */
  #pull(): void {
    const error = this.#error;
    if (error !== undefined) {
      if (this.#controller.desiredSize === this.options.maxDemand) {
        this.#controller.error(error.reason);
      }
      return;
    }
    if (!this.#closed && !this.bridged) this.askByRule();
  }
}
