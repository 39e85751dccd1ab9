// The engine behind Producer, ProducerConsumer and Consumer: an actor with a
// mailbox (callbacks never overlap, async ones are awaited, messages are
// handled in FIFO order), a producer side (dispatcher, buffer, accumulate
// mode) and a consumer side (subscriptions, GenStage's re-ask rule, the
// producer-consumer's gating on downstream demand).

import type { Dispatcher, DispatcherHost } from "./dispatcher.ts";
import type { Subscription } from "./subscription.ts";
import { EventBuffer } from "./_buffer.ts";
import { type AnyLink, AUTOMATIC_ASK, Link, type LinkEnd } from "./_link.ts";
import type { NormalProducerOptions, NormalSubscribeOptions } from "./_options.ts";
import { isNormal } from "./_options.ts";
import { Queue } from "./_queue.ts";
import { ignore } from "./_streams.ts";
import * as v from "./_validate.ts";

type MaybePromise<R = void> = R | Promise<R>;
type Emitted<T> = Iterable<T> | void | undefined | null;

/** The callbacks and settings a stage is built from (already validated). */
export interface CoreConfig {
  readonly kind: "Producer" | "ProducerConsumer" | "Consumer";
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
  readonly dispatcher?: Dispatcher<unknown>;
  readonly producer?: NormalProducerOptions;
  readonly onDiscard?: (count: number) => boolean | void;
  readonly signal?: AbortSignal;
}

const SUBSCRIBE = 0, ASK = 1, CANCEL = 2, EMIT = 3, INFO = 4, DELIVER_INFO = 5, MODE = 6;
const SUBSCRIBED = 7, EVENTS = 8, ENDED = 9, CHECK = 10;

type Message =
  | { readonly k: typeof SUBSCRIBE | typeof SUBSCRIBED | typeof ENDED; readonly link: AnyLink }
  | { readonly k: typeof ASK; readonly link: AnyLink; readonly count: number }
  | {
    readonly k: typeof CANCEL;
    readonly link: AnyLink;
    readonly reason: unknown;
    readonly redeliver?: boolean;
  }
  | { readonly k: typeof EMIT; readonly events: unknown[] }
  | InfoMessage
  | { readonly k: typeof DELIVER_INFO; readonly message: unknown }
  | { readonly k: typeof MODE; readonly mode: "forward" | "accumulate" }
  | { readonly k: typeof CHECK }
  | EventsMessage;

interface InfoMessage {
  readonly k: typeof INFO;
  readonly message: unknown;
}

interface EventsMessage {
  readonly k: typeof EVENTS;
  readonly link: AnyLink;
  readonly events: unknown[];
  readonly continuation: boolean;
  settled: boolean;
  done: (() => void) | undefined;
}

type Accumulated = { readonly demand: number } | { readonly events: unknown[] };

const cores = new WeakMap<object, StageCore>();

/** The engine of a public stage object, or undefined if it is not one. */
export function coreOf(stage: unknown): StageCore | undefined {
  return typeof stage === "object" && stage !== null ? cores.get(stage) : undefined;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" &&
    typeof (value as PromiseLike<unknown>).then === "function";
}

/** Runs `next` on `value`, now if it is plain, after it settles if it is a promise. */
function then<A, B>(value: MaybePromise<A>, next: (a: A) => MaybePromise<B>): MaybePromise<B> {
  return isThenable(value) ? Promise.resolve(value).then(next) : next(value as A);
}

function toArray<T>(events: Emitted<T>, action: string): T[] {
  if (events === undefined || events === null) return [];
  if (Array.isArray(events)) return events;
  if (typeof (events as Iterable<T>)[Symbol.iterator] !== "function") {
    throw new TypeError(v.message(action, "the returned events", "an iterable or nothing", events));
  }
  return Array.from(events);
}

function settle(message: EventsMessage): void {
  message.settled = true;
  message.done?.();
}

export class StageCore implements LinkEnd {
  readonly kind: CoreConfig["kind"];
  readonly owner: object;
  readonly #config: CoreConfig;
  readonly #mailbox = new Queue<Message>();
  #running = false;
  #current: Message | undefined;
  stopped = false;
  reason: unknown = undefined;
  readonly closed: Promise<void>;
  #resolveClosed!: () => void;
  #rejectClosed!: (reason: unknown) => void;
  #closing = false;
  /** Whether a downstream subscription ever existed (see #checkClosed). */
  #hadDownstream = false;
  #checkQueued = false;
  #onAbort: (() => void) | undefined;

  // Producer side.
  readonly #dispatcher: Dispatcher<unknown> | undefined;
  readonly #buffer: EventBuffer<unknown> | undefined;
  readonly #downstream = new Set<AnyLink>();
  /** Consumer subscriptions with `redeliver`, which a closing producer waits for. */
  readonly #redelivering = new Set<AnyLink>();
  #accumulated: Accumulated[] | null = null;
  /** A producer-consumer's upstream chunks handled whose output waits in the buffer (see #handled). */
  readonly #unacked: Array<{ readonly link: AnyLink; readonly count: number }> = [];
  /** A producer-consumer's downstream demand not yet met. */
  #counter = 0;

  // Consumer side.
  readonly #upstream = new Set<AnyLink>();
  /** A producer-consumer's upstream messages waiting for downstream demand. */
  readonly #deferred = new Queue<Message>();

  constructor(config: CoreConfig) {
    this.kind = config.kind;
    this.owner = config.owner;
    this.#config = config;
    this.closed = new Promise<void>((resolve, reject) => {
      this.#resolveClosed = resolve;
      this.#rejectClosed = reject;
    });
    // Like WritableStreamDefaultWriter.closed: a rejection nobody awaits is not an unhandled one.
    this.closed.then(ignore, ignore);
    if (config.producer !== undefined) {
      this.#buffer = new EventBuffer(config.producer.bufferSize, config.producer.bufferKeep);
      if (config.producer.demand === "accumulate") this.#accumulated = [];
      this.#dispatcher = config.dispatcher!;
      this.#dispatcher.init(this.#host());
    }
    cores.set(config.owner, this);
    const signal = config.signal;
    if (signal !== undefined) {
      if (signal.aborted) this.#terminate(signal.reason);
      else {
        this.#onAbort = () => this.#terminate(signal.reason);
        signal.addEventListener("abort", this.#onAbort, { once: true });
      }
    }
  }

  get isProducer(): boolean {
    return this.#dispatcher !== undefined;
  }

  get isConsumer(): boolean {
    return this.#config.handleEvents !== undefined;
  }

  get bufferedCount(): number {
    return this.#buffer?.count ?? 0;
  }

  get demandMode(): "forward" | "accumulate" {
    return this.#accumulated === null ? "forward" : "accumulate";
  }

  get downstreamCount(): number {
    return this.#downstream.size;
  }

  get upstreamCount(): number {
    return this.#upstream.size;
  }

  get dispatcher(): Dispatcher<unknown> | undefined {
    return this.#dispatcher;
  }

  // ---------------------------------------------------------------- public operations

  /**
   * Holds the mailbox until a microtask later, so that the callbacks of a
   * stage being constructed (handleSubscribe for its subscribeTo entries) run
   * after its constructor has returned and can use the new object.
   */
  startLater(): void {
    if (this.#running) return;
    this.#running = true;
    queueMicrotask(() => {
      this.#running = false;
      if (!this.stopped) this.#drain();
    });
  }

  emit(events: unknown[]): void {
    if (!this.stopped && events.length > 0) this.#post({ k: EMIT, events });
  }

  info(message: unknown): void {
    if (!this.stopped) this.#post({ k: INFO, message });
  }

  setDemandMode(mode: "forward" | "accumulate"): void {
    if (!this.stopped) this.#post({ k: MODE, mode });
  }

  stop(reason: unknown): Promise<void> {
    this.#terminate(reason);
    return this.closed.then(ignore, ignore);
  }

  /** Stops normally once everything accepted has been delivered. */
  close(): Promise<void> {
    if (!this.stopped && !this.#closing) {
      this.#closing = true;
      for (const link of this.#upstream) link.cancel("normal");
      this.#post({ k: CHECK });
    }
    return this.closed.then(ignore, ignore);
  }

  /** Creates the link to `source` for this consumer; the caller has validated everything. */
  subscribeTo<T>(source: StageCore, options: NormalSubscribeOptions<T>): Link<T> {
    const link = new Link<T>(source, this, options);
    this.#upstream.add(link);
    link.connect();
    source.#post({ k: SUBSCRIBE, link });
    this.#post({ k: SUBSCRIBED, link });
    return link;
  }

  /** A raw subscription read through its ReadableStream. */
  subscribe<T>(options: NormalSubscribeOptions<T>): Link<T> {
    const link = new Link<T>(this, null, options);
    this.#post({ k: SUBSCRIBE, link });
    return link;
  }

  /** Throws unless a consumer could subscribe to this stage now with `options`. */
  checkSubscribable(action: string, options: NormalSubscribeOptions<unknown>): void {
    if (!this.isProducer) {
      throw new TypeError(
        `Cannot ${action} as a ${this.kind} produces no events: subscribe to a Producer or ProducerConsumer`,
      );
    }
    if (this.stopped) throw new TypeError(`Cannot ${action} as the ${this.kind} has stopped`);
    this.#dispatcher!.validate?.(options);
  }

  // ---------------------------------------------------------------- LinkEnd

  ask(link: AnyLink, count: number): void {
    this.#post({ k: ASK, link, count });
  }

  cancelled(link: AnyLink, reason: unknown, redeliver?: boolean): void {
    this.#post({ k: CANCEL, link, reason, redeliver });
  }

  deliver(link: AnyLink, events: unknown[], continuation: boolean): void | Promise<void> {
    if (this.stopped || link.detached) return;
    const message: EventsMessage = {
      k: EVENTS,
      link,
      events,
      continuation,
      settled: false,
      done: undefined,
    };
    this.#post(message);
    if (message.settled) return;
    return new Promise<void>((resolve) => void (message.done = resolve));
  }

  drained(): void {
    // A closing producer may have been waiting for that consumer.
    if (this.#closing) this.#post({ k: CHECK });
  }

  ended(link: AnyLink): void {
    if (!this.stopped && !link.detached) this.#post({ k: ENDED, link });
  }

  // ---------------------------------------------------------------- the actor

  #post(message: Message): void {
    if (this.stopped) {
      this.#discard(message);
      return;
    }
    this.#mailbox.push(message);
    if (!this.#running) this.#drain();
  }

  #drain(): void {
    this.#running = true;
    const mailbox = this.#mailbox;
    while (!this.stopped) {
      const message = mailbox.shift();
      if (message === undefined) break;
      this.#current = message;
      let result: MaybePromise;
      try {
        result = this.#handle(message);
      } catch (error) {
        this.#terminate(error);
        break;
      }
      if (result !== undefined) {
        result.then(() => this.#drain(), (error) => {
          this.#terminate(error);
          this.#running = false;
        });
        return;
      }
    }
    this.#current = undefined;
    this.#running = false;
    if (this.#closing && !this.#checkQueued) {
      // A microtask later: a stage that runs out of work inside a call (a
      // consumer subscribing, say) stops after that call has returned, so
      // the code that made the call can still subscribe others to it.
      this.#checkQueued = true;
      queueMicrotask(() => {
        this.#checkQueued = false;
        this.#checkClosed();
      });
    }
  }

  #handle(message: Message): MaybePromise {
    switch (message.k) {
      case EVENTS:
        return this.#onEvents(message);
      case ASK:
        return this.#onAsk(message.link, message.count);
      case EMIT:
        return this.#dispatch(message.events);
      case SUBSCRIBE:
        return this.#onSubscribe(message.link);
      case SUBSCRIBED:
        return this.#onSubscribed(message.link);
      case CANCEL:
        return this.#onCancel(message.link, message.reason, message.redeliver === true);
      case ENDED:
        return this.#onEnded(message);
      case INFO:
        return this.#onInfo(message);
      case DELIVER_INFO:
        return this.#deliverInfo(message.message);
      case MODE:
        return this.#onMode(message.mode);
      case CHECK:
        return;
    }
  }

  #host(): DispatcherHost<unknown> {
    return {
      send: (subscription, events) => (subscription as AnyLink).send(events),
      ask: (subscription, count) => this.#post({ k: ASK, link: subscription as AnyLink, count }),
      info: (message) => this.#post({ k: DELIVER_INFO, message }),
      cancel: (subscription, reason) =>
        this.#post({ k: CANCEL, link: subscription as AnyLink, reason }),
      bufferSize: this.#config.producer!.bufferSize,
    };
  }

  // ---------------------------------------------------------------- producer side

  #onSubscribe(link: AnyLink): MaybePromise {
    if (!link.active) return;
    this.#downstream.add(link);
    this.#hadDownstream = true;
    if (link.options.redeliver && link.target !== null) this.#redelivering.add(link);
    const handleSubscribe = this.#config.handleSubscribe;
    const result = handleSubscribe === undefined ? undefined : handleSubscribe(link);
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
      if (!link.active || this.stopped) return;
      let demand: number;
      try {
        demand = this.#dispatcher!.subscribe(link);
      } catch (error) {
        this.#downstream.delete(link);
        link.close(error);
        return;
      }
      return this.#serve(demand);
    });
  }

  #onAsk(link: AnyLink, count: number): MaybePromise {
    if (!link.active) return;
    const demand = this.#dispatcher!.ask(count, link);
    if (demand < count && this.#accumulated === null && this.#buffer!.count > 0) {
      // Part of the ask was matched with demand already forwarded for a
      // subscription that left (the dispatcher's pending). Events waiting in
      // the buffer (given back by redelivery, say) serve that part now
      // instead of waiting for events the source may never produce.
      this.#takeFromBuffer(count - demand);
    }
    return this.#serve(demand);
  }

  #onCancel(link: AnyLink, reason: unknown, redeliver: boolean): MaybePromise {
    if (!link.active) {
      // Cancelled before (close() cancels first): what its consumer failed to handle since comes back.
      if (redeliver) this.#redeliver(link);
      return;
    }
    this.#downstream.delete(link);
    if (!link.holding) this.#redelivering.delete(link);
    link.close(reason);
    const handleCancel = this.#config.handleCancel;
    const result = handleCancel === undefined ? undefined : handleCancel(link, reason);
    return then(result, (events) => {
      if (this.stopped) return;
      // The subscription leaves the dispatcher first, so nothing more is sent to it.
      const demand = this.#dispatcher!.cancel(link);
      if (redeliver) this.#redeliver(link);
      this.#dispatch(toArray(events, "cancel"));
      return this.#serve(demand);
    });
  }

  /**
   * Takes back the events `link` delivered and its consumer never handled,
   * and dispatches them before anything else: through the dispatcher's
   * `redeliver` when it has one, else from the front of the buffer.
   */
  #redeliver(link: AnyLink): void {
    const events = link.takeUnhandled();
    this.#redelivering.delete(link);
    if (events.length === 0 || this.stopped) return;
    const dispatcher = this.#dispatcher!;
    const rest = dispatcher.redeliver === undefined ? events : dispatcher.redeliver(events, link);
    const buffer = this.#buffer!;
    if (rest.length > 0) buffer.unshift(rest);
    if (this.#accumulated !== null || buffer.empty) return;
    // Whatever demand the other subscriptions have takes them now.
    const before = buffer.count;
    this.#takeFromBuffer(Infinity);
    if (this.kind === "ProducerConsumer") {
      this.#counter = Math.max(0, this.#counter - (before - buffer.count));
    }
  }

  /** Answers upstream demand returned by the dispatcher. */
  #serve(demand: number): MaybePromise {
    if (demand <= 0 || this.stopped) return;
    const accumulated = this.#accumulated;
    if (accumulated !== null) {
      const buffer = this.#buffer!;
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
    if (this.kind === "ProducerConsumer") {
      this.#counter = this.#takeFromBuffer(this.#counter + demand);
      return this.#takeDeferred();
    }
    const rest = this.#takeFromBuffer(demand);
    const handleDemand = this.#config.handleDemand;
    if (rest === 0 || this.#closing || handleDemand === undefined) return;
    return then(handleDemand(rest), (events) => this.#dispatch(toArray(events, "handle demand")));
  }

  /** Dispatches up to `demand` buffered events; returns the demand left. */
  #takeFromBuffer(demand: number): number {
    const buffer = this.#buffer!;
    while (demand > 0 && !buffer.empty) {
      const { events, released } = buffer.take(demand);
      if (events.length > 0) {
        const leftover = this.#dispatcher!.dispatch(events);
        demand -= events.length - leftover.length;
        if (leftover.length > 0) {
          // The markers this take reached stay behind the events put back.
          buffer.unshift(leftover, released);
          break;
        }
      }
      this.#release(released);
      if (events.length === 0 && released.length === 0) break;
    }
    if (this.#unacked.length > 0 && buffer.count === 0) this.#acknowledge();
    return demand;
  }

  /** Sends events by the dispatcher, buffering what no subscription can take. */
  #dispatch(events: unknown[]): void {
    if (events.length === 0 || this.stopped) return;
    if (this.#accumulated !== null) {
      this.#accumulated.push({ events });
      return;
    }
    const leftover = this.#dispatcher!.dispatch(events);
    if (this.kind === "ProducerConsumer") {
      // Buffered events count too: they will answer the next asks. Demand the
      // dispatcher cannot place (a consumer that left) must not keep the stage
      // pulling upstream into its buffer.
      this.#counter = Math.max(0, this.#counter - events.length);
    }
    if (leftover.length === 0) return;
    const { discarded, released } = this.#buffer!.store(leftover);
    if (discarded > 0) this.#reportDiscard(discarded);
    this.#release(released);
  }

  /** Tells `onDiscard`, and unless it returns false the console, of discarded events. */
  #reportDiscard(count: number): void {
    const onDiscard = this.#config.onDiscard;
    if (onDiscard === undefined || onDiscard(count) !== false) {
      console.warn(`${this.kind} has discarded ${count} events from its buffer`);
    }
  }

  #release(messages: unknown[]): void {
    for (const message of messages) this.#post({ k: DELIVER_INFO, message });
  }

  #onInfo(message: InfoMessage): MaybePromise {
    if (!this.isProducer) return this.#deliverInfo(message.message);
    if (this.#deferred.length > 0) {
      this.#deferred.push(message);
      return;
    }
    this.#placeInfo(message.message);
  }

  /** A producing stage's info goes after its buffered events, or to the dispatcher. */
  #placeInfo(message: unknown): void {
    if (!this.#buffer!.mark(message)) this.#dispatcher!.info(message);
  }

  #deliverInfo(message: unknown): MaybePromise {
    const handleInfo = this.#config.handleInfo;
    if (handleInfo === undefined) return;
    return then(handleInfo(message), (events) => {
      if (this.isProducer) this.#dispatch(toArray(events, "handle info"));
    });
  }

  #onMode(mode: "forward" | "accumulate"): MaybePromise {
    if (mode === "accumulate") {
      this.#accumulated ??= [];
      return;
    }
    const accumulated = this.#accumulated;
    if (accumulated === null) return;
    this.#accumulated = null;
    return this.#replay(accumulated, 0);
  }

  #replay(accumulated: Accumulated[], from: number): MaybePromise {
    for (let i = from; i < accumulated.length && !this.stopped; i++) {
      const entry = accumulated[i];
      const result = "events" in entry ? this.#dispatch(entry.events) : this.#serve(entry.demand);
      if (result !== undefined) return result.then(() => this.#replay(accumulated, i + 1));
    }
  }

  // ---------------------------------------------------------------- consumer side

  #onSubscribed(link: AnyLink): MaybePromise {
    if (link.detached) return;
    const handleSubscribe = this.#config.handleSubscribe;
    link.subscribing = true;
    const mode = handleSubscribe === undefined ? undefined : handleSubscribe(link);
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
        if (link.earlyAsks > 0 && !link.detached) link.source.ask(link, link.earlyAsks);
      } else if (link.earlyAsks > 0) throw new TypeError(AUTOMATIC_ASK);
      if (!link.manual && !link.detached && !this.#closing) {
        link.pending = link.options.maxDemand;
        link.source.ask(link, link.options.maxDemand);
      }
    });
  }

  #onEvents(message: EventsMessage): MaybePromise {
    if (
      this.kind === "ProducerConsumer" &&
      (this.#deferred.length > 0 || (this.#counter <= 0 && !message.continuation))
    ) {
      this.#deferred.push(message);
      return;
    }
    return this.#consume(message);
  }

  #consume(message: EventsMessage): MaybePromise {
    const link = message.link;
    if (link.detached) return settle(message);
    const result = this.#config.handleEvents!(message.events, link);
    return then(result, (events) => {
      if (this.kind !== "ProducerConsumer") link.handled(message.events.length);
      if (this.stopped) return;
      if (this.kind === "ProducerConsumer") {
        this.#dispatch(toArray(events, "handle events"));
        if (link.options.redeliver) this.#handled(link, message.events.length);
      }
      if (!link.manual) {
        const options = link.options;
        let pending = link.pending - message.events.length;
        if (pending < 0) pending = 0;
        if (pending <= options.minDemand) {
          link.pending = options.maxDemand;
          if (options.maxDemand > pending) link.source.ask(link, options.maxDemand - pending);
        } else link.pending = pending;
      }
      settle(message);
    });
  }

  /**
   * A producer-consumer counts an upstream chunk (with `redeliver`) as
   * handled only once its output has left the buffer: if the stage fails
   * before, the chunk is given back and handled again elsewhere, so output
   * lost with the buffer is made again (at least once).
   */
  #handled(link: AnyLink, count: number): void {
    if (this.#buffer!.count > 0) this.#unacked.push({ link, count });
    else {
      this.#acknowledge();
      link.handled(count);
    }
  }

  #acknowledge(): void {
    const unacked = this.#unacked;
    for (let i = 0; i < unacked.length; i++) unacked[i].link.handled(unacked[i].count);
    unacked.length = 0;
  }

  /** A producer-consumer handles deferred upstream messages while it has downstream demand. */
  #takeDeferred(): MaybePromise {
    const deferred = this.#deferred;
    while (deferred.length > 0 && !this.stopped) {
      const head = deferred.peek()!;
      if (this.#counter <= 0 && !(head.k === EVENTS && head.continuation)) return;
      deferred.shift();
      let result: MaybePromise = undefined;
      if (head.k === EVENTS) result = this.#consume(head);
      else if (head.k === ENDED) result = this.#upstreamEnded(head.link);
      else if (head.k === INFO) this.#placeInfo(head.message);
      if (result !== undefined) return result.then(() => this.#takeDeferred());
    }
  }

  #onEnded(message: { readonly link: AnyLink }): MaybePromise {
    if (this.kind === "ProducerConsumer" && this.#deferred.length > 0) {
      this.#deferred.push({ k: ENDED, link: message.link });
      return;
    }
    return this.#upstreamEnded(message.link);
  }

  #upstreamEnded(link: AnyLink): MaybePromise {
    if (link.detached) return;
    link.detached = true;
    this.#upstream.delete(link);
    const reason = link.endReason;
    const handleCancel = this.#config.handleCancel;
    const result = handleCancel === undefined ? undefined : handleCancel(link, reason);
    return then(result, (events) => {
      if (this.stopped) return;
      if (this.isProducer) this.#dispatch(toArray(events, "cancel"));
      if (this.#closing || reason === "already_subscribed") return;
      const mode = link.options.cancel;
      if (mode === "permanent" || (mode === "transient" && !isNormal(reason))) {
        if (isNormal(reason)) this.close();
        else this.#terminate(reason);
      }
    });
  }

  // ---------------------------------------------------------------- ending

  #checkClosed(): void {
    if (this.stopped || this.#running || this.#mailbox.length > 0) return;
    if (this.#upstream.size > 0) return;
    // A closing stage whose every subscriber has left has nobody to drain
    // to (like a ReadableStream whose reader cancelled): it stops, reporting
    // what it held as discarded. One that never had a subscriber waits for
    // its first, as a closed ReadableStream keeps its queue for a reader.
    const stranded = this.#hadDownstream && this.#downstream.size === 0;
    if (!stranded) {
      if (this.#deferred.length > 0) return;
      if (this.#buffer !== undefined && (!this.#buffer.empty || this.#accumulated?.length)) return;
      if (this.#dispatcher?.idle?.() === false) return;
    }
    // Events a consumer with redeliver has not handled yet may still come back.
    for (const link of this.#redelivering) {
      if (link.holding) return;
      if (!link.active) this.#redelivering.delete(link);
    }
    if (stranded) {
      let held = this.#buffer?.count ?? 0;
      for (const message of this.#deferred) {
        if (message.k === EVENTS) held += message.events.length;
      }
      if (held > 0) this.#reportDiscard(held);
    }
    this.#terminate("normal");
  }

  /** Drops a message a stopped stage will never handle, releasing whoever waits on it. */
  #discard(message: Message): void {
    if (message.k === EVENTS) settle(message);
    else if (message.k === SUBSCRIBE) message.link.close(this.reason);
  }

  #terminate(reason: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    this.reason = reason;
    if (this.#onAbort !== undefined) {
      this.#config.signal!.removeEventListener("abort", this.#onAbort);
    }
    const current = this.#current;
    if (current !== undefined && current.k === EVENTS) settle(current);
    for (const message of this.#mailbox.drain()) this.#discard(message);
    for (const message of this.#deferred.drain()) this.#discard(message);
    for (const link of this.#downstream) link.close(reason);
    this.#downstream.clear();
    const redeliver = !isNormal(reason);
    for (const link of this.#upstream) {
      // Posted before the detach's cancel, which the producer then ignores.
      if (redeliver && link.options.redeliver) link.source.cancelled(link, reason, true);
      link.detach(reason);
    }
    this.#upstream.clear();
    this.#buffer?.clear();
    this.#accumulated = null;
    if (isNormal(reason)) this.#resolveClosed();
    else this.#rejectClosed(reason);
  }
}
