// The engine behind Producer, ProducerConsumer and Consumer: an actor (its
// mailbox, src/_mailbox.ts) with a producer side (src/_outlet.ts), a consumer
// side (src/_inlet.ts), or both, and the lifecycle they share: graceful
// close, immediate stop, terminate, and `closed`.

import type { NormalSubscribeOptions } from "./_options.ts";
import type { StageStats, SubscriptionStats } from "./stats.ts";
import {
  ASK,
  CALL,
  CANCEL,
  CHECK,
  type CoreConfig,
  DELIVER_INFO,
  EMIT,
  ENDED,
  EVENTS,
  INFO,
  type MaybePromise,
  type Message,
  MODE,
  type StageContext,
  SUBSCRIBE,
  SUBSCRIBED,
  then,
  toArray,
} from "./_core.ts";
import { Inlet } from "./_inlet.ts";
import { Link } from "./_link.ts";
import { Mailbox } from "./_mailbox.ts";
import { isNormal } from "./_options.ts";
import { Outlet } from "./_outlet.ts";
import { describe, reportUnobserved } from "./_report.ts";
import { ignore } from "./_streams.ts";
import * as v from "./_validate.ts";

const cores = new WeakMap<object, StageCore>();

/** The engine of a public stage object, or undefined if it is not one. */
export function coreOf(stage: unknown): StageCore | undefined {
  return typeof stage === "object" && stage !== null ? cores.get(stage) : undefined;
}

/** The callback each message kind runs, to name it when it fails. */
const CALLBACKS: Record<number, string> = {
  [SUBSCRIBE]: "handleSubscribe",
  [SUBSCRIBED]: "handleSubscribe",
  [ASK]: "handleDemand",
  [CANCEL]: "handleCancel",
  [ENDED]: "handleCancel",
  [EVENTS]: "handleEvents",
  [INFO]: "handleInfo",
  [DELIVER_INFO]: "handleInfo",
  [MODE]: "handleDemand",
  [EMIT]: "dispatch",
  [CHECK]: "terminate",
};

/** The message that makes a closing stage call its terminate callback. */
const TERMINATE = { k: CHECK, terminate: true } as const;

export class StageCore implements StageContext {
  readonly config: CoreConfig;
  readonly kind: CoreConfig["kind"];
  readonly name: string;
  readonly owner: object;
  readonly outlet: Outlet | undefined;
  readonly inlet: Inlet | undefined;
  readonly #mailbox: Mailbox<Message>;
  stopped = false;
  reason: unknown = undefined;
  closing = false;
  readonly closed: Promise<void>;
  #resolveClosed!: () => void;
  #rejectClosed!: (reason: unknown) => void;
  #checkQueued = false;
  /** The graceful end has called terminate (its events are being delivered). */
  #terminated = false;
  /** The kind of the message being handled, to name a failing callback. */
  #handling = -1;
  #onAbort: (() => void) | undefined;
  /** Someone has its failure in hand: `closed` was read, a supervisor watches, a consumer stopped with it. */
  #observed = false;
  /** The stop came from within (a callback, a failed upstream), not from whoever called stop(). */
  #internal = false;
  /** The upstream stage whose failure this stage stopped with. */
  #failedFrom: string | undefined;
  /** The timer after which a closing stage drops what its dispatcher keeps for subscribers to come. */
  #keepTimer: ReturnType<typeof setTimeout> | undefined;
  /** Events discarded (from the buffer, or held by a stranded closing stage). */
  discarded = 0;
  /** Called once the stage has stopped, before `closed` settles (the faces end their streams). */
  onStop: ((reason: unknown) => void) | undefined;
  /** What the stage's writable errors with when it stops, if not its stop reason. */
  writableError: { readonly reason: unknown } | undefined;

  constructor(config: CoreConfig) {
    this.config = config;
    this.kind = config.kind;
    this.name = config.name;
    this.owner = config.owner;
    this.closed = new Promise<void>((resolve, reject) => {
      this.#resolveClosed = resolve;
      this.#rejectClosed = reject;
    });
    // Like WritableStreamDefaultWriter.closed: a rejection nobody awaits is not an unhandled one.
    this.closed.then(ignore, ignore);
    this.#mailbox = new Mailbox<Message>(
      (message) => this.#handle(message),
      (error) => this.fail(this.#failure(error)),
      () => this.#idle(),
    );
    if (config.producer !== undefined) this.outlet = new Outlet(this, config);
    if (config.handleEvents !== undefined) this.inlet = new Inlet(this, config, this.outlet);
    if (this.outlet !== undefined && this.inlet !== undefined) {
      const inlet = this.inlet;
      this.outlet.onDemand = () => inlet.takeDeferred();
    }
    cores.set(config.owner, this);
    const signal = config.signal;
    if (signal !== undefined) {
      if (signal.aborted) this.stop(signal.reason);
      else {
        this.#onAbort = () => this.stop(signal.reason);
        signal.addEventListener("abort", this.#onAbort, { once: true });
      }
    }
  }

  // ---------------------------------------------------------------- operations

  /** True while the stage is handling a message (a callback may be running). */
  get busy(): boolean {
    return this.#mailbox.busy;
  }

  /** Lets the callbacks for a constructor's subscriptions run after the constructor returns. */
  startLater(): void {
    this.#mailbox.holdUntilMicrotask();
  }

  post(message: Message): void {
    if (this.stopped) this.#discard(message);
    else this.#mailbox.post(message);
  }

  emit(events: unknown[]): void {
    if (!this.stopped && events.length > 0) this.post({ k: EMIT, events });
  }

  info(message: unknown): void {
    if (!this.stopped) this.post({ k: INFO, message });
  }

  setDemandMode(mode: "forward" | "accumulate"): void {
    if (!this.stopped) this.post({ k: MODE, mode });
  }

  /** Creates the link from `source` to this consumer; the caller has validated everything. */
  subscribeTo<T>(source: StageCore, options: NormalSubscribeOptions<T>): Link<T> {
    const link = new Link<T>(
      source.outlet!,
      this.owner,
      options,
      options.redeliver || source.config.acknowledge !== undefined,
    );
    this.inlet!.add(link);
    source.post({ k: SUBSCRIBE, link });
    this.post({ k: SUBSCRIBED, link });
    return link;
  }

  /** A raw subscription read through its ReadableStream; `tracked` when its reader reports what it handled. */
  subscribe<T>(options: NormalSubscribeOptions<T>, tracked = false): Link<T> {
    const link = new Link<T>(
      this.outlet!,
      null,
      options,
      tracked && this.config.acknowledge !== undefined,
    );
    this.post({ k: SUBSCRIBE, link });
    return link;
  }

  /** Throws unless a consumer could subscribe to this stage now with `options`. */
  checkSubscribable(action: string, options: NormalSubscribeOptions<unknown>): void {
    if (this.outlet === undefined) {
      throw new TypeError(
        `Cannot ${action} as a ${this.kind} produces no events: subscribe to a Producer or ProducerConsumer`,
      );
    }
    if (this.stopped) throw new TypeError(`Cannot ${action} as the ${this.kind} has stopped`);
    this.config.dispatcher!.validate?.(options);
  }

  /**
   * Stops normally once everything accepted has been delivered. Called while
   * the stage runs one of its own callbacks (from inside it, typically), the
   * promise does not wait for an end that can only come after that callback
   * returns: it resolves at once.
   */
  close(): Promise<void> {
    if (!this.stopped && !this.closing) {
      this.closing = true;
      this.inlet?.cancelAll();
      this.post({ k: CHECK });
    }
    if (this.#mailbox.busy && !this.stopped) return Promise.resolve();
    return this.closed.then(ignore, ignore);
  }

  /** Stops now with `reason`; resolves once stopped. */
  stop(reason: unknown): Promise<void> {
    if (!this.stopped) this.#stop(reason);
    return this.closed.then(ignore, ignore);
  }

  /** Stops with a failure from within: reported if nothing observes it. */
  fail(reason: unknown, from?: string): void {
    if (this.stopped) return;
    this.#internal = true;
    this.#failedFrom = from;
    this.#stop(reason);
  }

  observe(): void {
    this.#observed = true;
  }

  /** `closed` for whoever asks for it: they observe the stage's end. */
  watch(): Promise<void> {
    this.#observed = true;
    return this.closed;
  }

  /** A snapshot of what the stage is doing (see StageStats). */
  stats(): StageStats {
    const inlet = this.inlet;
    const outlet = this.outlet;
    const upstream: SubscriptionStats[] = [];
    let demand = 0;
    if (inlet !== undefined) {
      for (const link of inlet.upstream) {
        demand += link.pending;
        upstream.push({
          producer: link.source.name ?? "?",
          maxDemand: link.options.maxDemand,
          minDemand: link.options.minDemand,
          asked: link.pending,
          queued: link.queued,
          handling: link.unfinished,
        });
      }
      for (const link of inlet.ended) {
        upstream.push({
          producer: link.source.name ?? "?",
          maxDemand: link.options.maxDemand,
          minDemand: link.options.minDemand,
          asked: 0,
          queued: 0,
          handling: 0,
          ended: true,
        });
      }
    }
    const failed = this.stopped && !isNormal(this.reason);
    return {
      name: this.name,
      kind: this.kind,
      state: this.stopped ? (failed ? "failed" : "stopped") : this.closing ? "closing" : "running",
      received: inlet?.received ?? 0,
      emitted: outlet?.sent ?? 0,
      buffered: (outlet?.bufferedCount ?? 0) + (inlet?.deferredCount ?? 0),
      demand,
      unmetDemand: outlet?.counter ?? 0,
      subscriptions: {
        upstream: inlet?.upstream.size ?? 0,
        downstream: outlet?.downstream.size ?? 0,
      },
      upstream,
      discarded: this.discarded,
      ...(failed ? { failure: describe(this.reason) } : {}),
    };
  }

  reportDiscard(count: number): void {
    this.discarded += count;
    const onDiscard = this.config.onDiscard;
    if (onDiscard === undefined || onDiscard(count) !== false) {
      console.warn(`${this.name} has discarded ${count} events from its buffer`);
    }
  }

  // ---------------------------------------------------------------- the actor

  #handle(message: Message): MaybePromise {
    this.#handling = message.k;
    switch (message.k) {
      case EVENTS:
        return this.inlet!.onEvents(message);
      case ASK:
        return this.outlet!.onAsk(message.link, message.count);
      case EMIT:
        return this.outlet!.dispatch(message.events);
      case SUBSCRIBE:
        return this.outlet!.subscribe(message.link);
      case SUBSCRIBED:
        return this.inlet!.onSubscribed(message.link);
      case CANCEL:
        return this.outlet!.onCancel(message.link, message.reason, message.redeliver);
      case ENDED:
        return this.inlet!.onEnded(message.link);
      case INFO:
        if (this.outlet === undefined) return this.#deliverInfo(message.message);
        if (this.inlet !== undefined) return this.inlet.onInfo(message.message);
        return this.outlet.placeInfo(message.message);
      case DELIVER_INFO:
        return this.#deliverInfo(message.message);
      case MODE:
        return this.outlet!.onMode(message.mode);
      case CHECK:
        return message === TERMINATE ? this.#terminateGracefully() : this.#checkClosed();
      case CALL:
        return message.call();
    }
  }

  #deliverInfo(message: unknown): MaybePromise {
    const handleInfo = this.config.handleInfo;
    if (handleInfo === undefined) return;
    return then(handleInfo(message), (events) => {
      this.outlet?.dispatch(toArray(events, "handle info"));
    });
  }

  #idle(): void {
    if (this.closing && !this.#checkQueued) {
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

  /** Drops a message a stopped stage will never handle, telling whoever waits on it. */
  #discard(message: Message): void {
    if (message.k === SUBSCRIBE) message.link.end(this.reason);
    else if (message.k === CALL) message.discard?.();
  }

  /** What a failed callback stops the stage with: never a reason that reads as a normal end. */
  #failure(error: unknown): unknown {
    if (!isNormal(error)) return error;
    const callback = CALLBACKS[this.#handling] ?? "a callback";
    return new Error(`${this.name} failed: its ${callback} threw ${v.show(error)}`, {
      cause: error,
    });
  }

  // ---------------------------------------------------------------- ending

  #checkClosed(): void {
    if (this.stopped || this.#mailbox.busy || this.#mailbox.length > 0) return;
    const inlet = this.inlet;
    if (inlet !== undefined && inlet.upstream.size > 0) return;
    const outlet = this.outlet;
    // A closing stage whose every subscriber has left has nobody to drain
    // to (like a ReadableStream whose reader cancelled): it stops, reporting
    // what it held as discarded. One that never had a subscriber waits for
    // its first, as a closed ReadableStream keeps its queue for a reader.
    const stranded = outlet !== undefined && outlet.hadDownstream && outlet.downstream.size === 0;
    if (!stranded) {
      if (inlet !== undefined && !inlet.done) return;
      if (outlet !== undefined && !outlet.drained) return this.#keep(outlet);
    } else if (outlet.keepMs !== undefined) {
      // Its dispatcher keeps events for subscribers to come: they may still.
      return this.#keep(outlet);
    }
    // Events a tracked consumer has not handled yet may still come back.
    if (outlet !== undefined && outlet.holding) return;
    if (!this.#terminated && this.config.terminate !== undefined && !stranded) {
      this.#terminated = true;
      this.post(TERMINATE);
      return;
    }
    if (stranded) {
      const held = outlet.bufferedCount + (inlet?.deferredCount ?? 0);
      if (held > 0) this.reportDiscard(held);
    }
    this.#stop("normal");
  }

  /**
   * A closing stage waiting for its dispatcher's events: what is kept for
   * subscribers to come (a partition with no subscriber) is dropped and
   * reported once the dispatcher's keepMs has passed.
   */
  #keep(outlet: Outlet): void {
    const keepMs = outlet.keepMs;
    if (keepMs === undefined || keepMs === Infinity || this.#keepTimer !== undefined) return;
    this.#keepTimer = setTimeout(() => {
      this.#keepTimer = undefined;
      if (this.stopped) return;
      const dropped = outlet.discardHeld();
      if (dropped > 0) this.reportDiscard(dropped);
      this.post({ k: CHECK });
    }, keepMs);
  }

  /** A graceful end calls terminate first; the events it returns are delivered before the end. */
  #terminateGracefully(): MaybePromise {
    return then(this.config.terminate!("normal"), (events) => {
      this.outlet?.dispatch(toArray(events, "terminate"));
    });
  }

  #stop(reason: unknown): void {
    this.stopped = true;
    this.reason = reason;
    clearTimeout(this.#keepTimer);
    if (this.#onAbort !== undefined) {
      this.config.signal!.removeEventListener("abort", this.#onAbort);
    }
    const mailbox = this.#mailbox;
    const busy = mailbox.busy;
    for (const message of mailbox.close()) this.#discard(message);
    this.outlet?.stop(reason);
    this.inlet?.stop(reason);
    const terminate = this.config.terminate;
    if (terminate === undefined) return this.#settle(reason);
    if (this.#terminated) {
      // A graceful end's terminate may be running: closed settles after it.
      if (busy) mailbox.settled().then(() => this.#settle(reason));
      else this.#settle(reason);
      return;
    }
    this.#terminated = true;
    // terminate runs after the last callback: once the one in progress (if any) has returned.
    const run = () => {
      this.#handling = CHECK;
      let result: MaybePromise<unknown>;
      try {
        result = terminate(reason);
      } catch (error) {
        return this.#settle(isNormal(reason) ? this.#failure(error) : reason);
      }
      Promise.resolve(result).then(
        () => this.#settle(reason),
        (error) => this.#settle(isNormal(reason) ? this.#failure(error) : reason),
      );
    };
    if (busy) mailbox.settled().then(run, run);
    else run();
  }

  #settle(reason: unknown): void {
    this.reason = reason;
    this.onStop?.(reason);
    if (isNormal(reason)) return this.#resolveClosed();
    this.#rejectClosed(reason);
    if (!this.#internal) return;
    const onError = this.config.onError;
    if (onError !== undefined) return onError(reason);
    const how = this.#failedFrom === undefined
      ? "failed"
      : `stopped because ${this.#failedFrom} failed`;
    reportUnobserved(this.name, how, reason, () => this.#observed);
  }
}
