// What the broker producers (src/nats/, src/redis/) share: demand turned into
// broker credit, the messages received and not yet settled, settling each
// one exactly once from the Producer `acknowledge` hook (or the message's own
// ack()/nak()), and the two ways to end: a graceful close (stop fetching,
// deliver and settle everything held, then release the broker) and an
// immediate stop (stop fetching, negatively acknowledge everything held).

import type { Dispatcher } from "./dispatcher.ts";
import type { Producer, ProducerOptions } from "./producer.ts";
import { ignore } from "./_streams.ts";
import * as v from "./_validate.ts";

/** How a message was settled with its broker. */
export type Outcome = "ack" | "nak" | "term";

/** Counters of a broker producer, for metrics and tests. */
export interface BrokerProducerStats {
  /** Messages received from the broker. */
  readonly received: number;
  /** Messages acknowledged (handled). */
  readonly acked: number;
  /**
   * Messages negatively acknowledged or left pending for redelivery
   * (including JetStream `term`).
   */
  readonly nacked: number;
  /** Messages received and not yet settled: never more than the demand of the subscriptions. */
  readonly inFlight: number;
  /** The largest `inFlight` seen. */
  readonly peakInFlight: number;
}

/** A message as the engine tracks it. */
export interface Held {
  settled: boolean;
}

/** What the engine needs from a broker's fetch loop. */
export interface Fetcher<M extends Held> {
  /** Credit grew (or the fetcher may start): fetch with it. */
  pump(): void;
  /** Stops fetching; resolves once no fetch is open (what arrives meanwhile still comes through `receive`). */
  drain(): Promise<void>;
  /** Stops fetching at once. */
  abort(): void;
  /** Tells the broker the fate of `messages` (each settled once). */
  settle(messages: M[], outcome: Outcome, delayMs?: number): void;
  /** Resolves once every settlement sent has reached the broker. */
  flush(): Promise<void>;
  /** Releases what the producer holds on the broker (blocking connection, pull requests). */
  release(): Promise<void>;
}

/** Options every broker producer takes, validated by its constructor. */
export interface EngineOptions<M> {
  readonly onSettle?: ((messages: readonly M[], outcome: Outcome) => void) | undefined;
  readonly onError?: ((error: unknown) => void) | undefined;
  readonly nakDelayMs?: number | undefined;
}

/** Milliseconds to wait before the `failures`-th retry: 100 ms doubling up to 5 s. */
export function backoff(failures: number): number {
  return Math.min(5000, 100 * 2 ** Math.max(0, failures - 1));
}

/** Checks that `value` is a non-empty string (a stream, group or consumer name). */
export function checkName(action: string, name: string, value: unknown): string {
  if (typeof value !== "string" || value === "") {
    throw new TypeError(v.message(action, name, "a non-empty string", value));
  }
  return value;
}

function isNormal(reason: unknown): boolean {
  return reason === "normal" || reason === "shutdown" || reason === undefined;
}

/** The state shared by a broker producer and its fetch loop. */
export class SourceEngine<M extends Held> {
  /** Demand granted by the subscriptions and not yet requested from the broker. */
  credit = 0;
  readonly #held = new Set<M>();
  readonly #options: EngineOptions<M>;
  #producer!: Producer<M>;
  #fetcher!: Fetcher<M>;
  /** "running", then "closing" (graceful) or "stopping" (immediate), then "done". */
  #mode: "running" | "closing" | "stopping" | "done" = "running";
  /** The core was told to close: it takes no more events. */
  #coreClosing = false;
  #coreReason: unknown = "normal";
  /** Events the producer discarded when it closed with no subscriber left: never sent, never reported. */
  #discarded = 0;
  #waiter: (() => void) | undefined;
  readonly closed: Promise<void>;
  #resolve!: () => void;
  #reject!: (reason: unknown) => void;
  #received = 0;
  #acked = 0;
  #nacked = 0;
  #peak = 0;

  constructor(options: EngineOptions<M>) {
    this.#options = options;
    this.closed = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.closed.then(ignore, ignore);
  }

  /** The Producer options that connect the engine to the core. */
  producerOptions(
    dispatcher: Dispatcher<M> | undefined,
    signal: AbortSignal | undefined,
  ): ProducerOptions<M> {
    return {
      dispatcher,
      signal,
      // Never more than the demand is emitted, so this only holds the demand
      // of a subscription that left until another one asks.
      bufferSize: Infinity,
      handleDemand: (demand) => {
        this.credit += demand;
        if (this.#mode === "running") this.#fetcher.pump();
      },
      acknowledge: (events, handled) => {
        // Only what this producer received and has not settled (not events emitted by hand).
        const fresh = events.filter((event) => this.#held.has(event));
        if (fresh.length > 0) {
          this.settle(
            fresh,
            handled ? "ack" : "nak",
            handled ? undefined : this.#options.nakDelayMs,
          );
        }
      },
      onDiscard: (count) => {
        this.#discarded += count;
        return false;
      },
    };
  }

  /** Connects the producer (after its constructor ran) and its fetcher, and starts fetching. */
  attach(producer: Producer<M>, coreClosed: Promise<void>, fetcher: Fetcher<M>): void {
    this.#producer = producer;
    this.#fetcher = fetcher;
    coreClosed.then(
      () => this.#coreStopped("normal"),
      (reason) => this.#coreStopped(reason),
    );
  }

  get running(): boolean {
    return this.#mode === "running";
  }

  /** True once fetching must stop (closing, stopping or done). */
  get ending(): boolean {
    return this.#mode !== "running";
  }

  get stats(): BrokerProducerStats {
    return {
      received: this.#received,
      acked: this.#acked,
      nacked: this.#nacked,
      inFlight: this.#held.size,
      peakInFlight: this.#peak,
    };
  }

  /** Takes up to `max` credit for a fetch. */
  takeCredit(max: number = Infinity): number {
    const n = Math.min(this.credit, max);
    this.credit -= n;
    return n;
  }

  /** Gives back credit a fetch did not use. */
  returnCredit(n: number): void {
    this.credit += n;
  }

  /** Reports an error the fetcher recovers from (it retries). */
  error(error: unknown): void {
    const onError = this.#options.onError;
    if (onError === undefined) console.warn("broker producer:", error);
    else onError(error);
  }

  /** Messages arrived from the broker, within the credit taken for them. */
  receive(messages: M[]): void {
    if (messages.length === 0) return;
    this.#received += messages.length;
    if (this.#mode === "stopping" || this.#mode === "done" || this.#coreClosing) {
      this.settle(messages, "nak");
      return;
    }
    for (const message of messages) this.#held.add(message);
    if (this.#held.size > this.#peak) this.#peak = this.#held.size;
    this.#producer.emit(messages);
  }

  /** Settles each of `messages` not settled yet. */
  settle(messages: M[], outcome: Outcome, delayMs?: number): void {
    const fresh: M[] = [];
    for (const message of messages) {
      if (message.settled) continue;
      message.settled = true;
      this.#held.delete(message);
      fresh.push(message);
    }
    if (fresh.length === 0) return;
    if (outcome === "ack") this.#acked += fresh.length;
    else this.#nacked += fresh.length;
    this.#fetcher.settle(fresh, outcome, delayMs);
    this.#options.onSettle?.(fresh, outcome);
    if (this.#waiter !== undefined && this.#held.size <= this.#discarded) this.#waiter();
  }

  /**
   * Graceful: stop fetching, deliver what was fetched, wait until every
   * event sent has been reported, settle, release. Resolves once done.
   */
  close(closeCore: () => Promise<void>): Promise<void> {
    if (this.#mode === "running") {
      this.#mode = "closing";
      this.#closeGracefully(closeCore).catch((error) => this.#end(error));
    }
    return this.closed.then(ignore, ignore);
  }

  /**
   * Immediate: stop fetching and the core, negatively acknowledge everything
   * held (reports that come later are ignored), release. Resolves once done.
   */
  stop(reason: unknown, stopCore: (reason: unknown) => Promise<void>): Promise<void> {
    if (this.#mode === "running" || this.#mode === "closing") {
      this.#mode = "stopping";
      this.#fetcher.abort();
      this.#waiter?.();
      stopCore(reason).then(() => this.#end(reason));
    }
    return this.closed.then(ignore, ignore);
  }

  async #closeGracefully(closeCore: () => Promise<void>): Promise<void> {
    await this.#fetcher.drain();
    if (this.#mode !== "closing") return;
    this.#coreClosing = true;
    await closeCore();
    // Sent events are all reported by their consumers in time; the discarded never are.
    if (this.#mode === "closing" && this.#held.size > this.#discarded) {
      await new Promise<void>((resolve) => (this.#waiter = resolve));
      this.#waiter = undefined;
    }
    if (this.#mode === "closing") await this.#end(this.#coreReason);
  }

  #coreStopped(reason: unknown): void {
    this.#coreReason = reason;
    // Stopped by itself (its signal, a failing dispatcher): as an immediate stop.
    if (this.#mode === "running" || (this.#mode === "closing" && !isNormal(reason))) {
      this.#mode = "stopping";
      this.#fetcher.abort();
      this.#waiter?.();
      void this.#end(reason);
    }
  }

  async #end(reason: unknown): Promise<void> {
    if (this.#mode === "done") return;
    this.#mode = "done";
    this.settle([...this.#held], "nak", this.#options.nakDelayMs);
    try {
      await this.#fetcher.flush();
      await this.#fetcher.release();
    } catch (error) {
      this.error(error);
    }
    if (isNormal(reason)) this.#resolve();
    else this.#reject(reason);
  }
}
