import type { Dispatcher, DispatcherHost } from "./dispatcher.ts";
import { DemandDispatcher } from "./dispatchers/demand_dispatcher.ts";
import type { Source, SubscribeOptions, SubscribeTo, Subscription } from "./subscription.ts";
import { ProducerConsumer } from "./producer_consumer.ts";
import { Consumer } from "./consumer.ts";
import { Intensity, restartLimits } from "./_intensity.ts";
import { WorkerChannel, type WorkerConfig, workerConfig } from "./_worker_channel.ts";
import type { WorkerCommonOptions } from "./worker_options.ts";
import { ignore } from "./_streams.ts";
import * as v from "./_validate.ts";

/** Options of a {@linkcode WorkerPool}. */
export interface WorkerPoolOptions<I, O> extends WorkerCommonOptions<I> {
  /**
   * How many workers, each started from the pool's URL; an integer ≥ 1.
   * Where `navigator.hardwareConcurrency` is missing (Node 20), give it.
   *
   * @default {navigator.hardwareConcurrency}
   */
  readonly workers?: number;
  /**
   * The most events sent to a worker in one message; an integer ≥ 1. Each
   * upstream chunk (at most `maxDemand - minDemand` events of the pool's
   * subscription) is cut into batches of near-equal size no larger than
   * this. Larger batches spread the cost of a message over more events;
   * smaller ones share uneven work better.
   *
   * @default {250}
   */
  readonly batchSize?: number;
  /**
   * `true` emits the results of each batch in the order the batches came
   * in; `false` as each batch finishes (a slow batch does not hold the
   * others back).
   *
   * @default {true}
   */
  readonly ordered?: boolean;
  /**
   * The most worker restarts allowed within `maxSeconds`; one more stops the
   * pool with a `RestartIntensityError`. An integer ≥ 0 (0: the first
   * failure stops the pool).
   *
   * @default {3}
   */
  readonly maxRestarts?: number;
  /**
   * The length of the restart window, in seconds; a finite number ≥ 0.
   *
   * @default {5}
   */
  readonly maxSeconds?: number;
  /**
   * The clock of the restart window, in milliseconds.
   *
   * @default {() => performance.now()}
   */
  readonly now?: () => number;
  /** Sources to subscribe to at once, in order. */
  readonly subscribeTo?: readonly SubscribeTo<I>[];
  /**
   * Decides which downstream subscription receives which results.
   *
   * @default {new DemandDispatcher()}
   */
  readonly dispatcher?: Dispatcher<O>;
  /** Aborting it stops the pool with `signal.reason`. */
  readonly signal?: AbortSignal;
}

/** A batch for one worker, numbered in arrival order. */
interface Envelope<I> {
  readonly seq: number;
  readonly events: I[];
}

/** One worker and the two consumers that feed it. */
interface Unit {
  readonly channel: WorkerChannel;
  readonly slots: readonly Consumer<Envelope<unknown>>[];
  failed: boolean;
}

interface Waiter {
  readonly seq: number;
  readonly resolve: () => void;
}

/**
 * Each worker is fed by two consumers of one envelope each: while it handles
 * one batch, the next waits in its message queue, so it never idles for a
 * round trip to this thread.
 */
const SLOTS = 2;
const SLOT_OPTIONS: SubscribeOptions<unknown> = { maxDemand: 1, minDemand: 0, redeliver: true };

/**
 * `k` workers behind one `DemandDispatcher`: a stage that runs its
 * `handleEvents` (served by {@linkcode serveStage} in the module at `url`) on
 * every core. Upstream, it subscribes like a consumer (`subscribeTo`, with
 * the usual `maxDemand`, `minDemand`, cancel modes and `redeliver`);
 * downstream, it is a producer of the results, which consumers subscribe to.
 * From the outside it is a `ProducerConsumer<I, O>`: its `writable` takes
 * input events and its `readable` gives results, so
 * `input.pipeThrough(pool)` works as with a `TransformStream`.
 *
 * Inside, an input stage cuts each upstream chunk into batches of at most
 * `batchSize` events and a `DemandDispatcher` hands each batch to a worker
 * with demand; each worker holds at most two batches (one running, one
 * queued), so at most `2 × workers × batchSize` events are in the workers.
 * Results come out in input order (`ordered: true`, the default) or as they
 * finish (`ordered: false`), and leave only as fast as downstream demand
 * allows: a worker whose results cannot leave yet waits, so nothing grows
 * without bound.
 *
 * Faults: a worker that fails (its `handleEvents` throws, it dies) is
 * terminated and replaced, and the batches it held go to the other workers
 * first (they are redelivered inside the pool; a batch is done only once its
 * results have been emitted, so none is lost or emitted twice). More than
 * `maxRestarts` failures within `maxSeconds` stop the pool with a
 * `RestartIntensityError` whose `cause` is the last failure — a batch that
 * always throws stops it that way. When the pool itself stops abnormally, its
 * subscribers see the reason through their cancel modes, and with
 * `redeliver` the upstream chunks its input stage had not passed on go back
 * upstream; batches already in the workers are lost (at most
 * `2 × workers × batchSize` events). However it stops, every worker is
 * terminated.
 *
 * @example Hashing on every core (on Node pass `Worker: NodeWorker` and `workers`)
 * ```ts ignore
 * import { Consumer, Producer, WorkerPool } from "@webstage/webstage";
 *
 * const hashes = new WorkerPool<string, string>(new URL("./hash_worker.ts", import.meta.url), {
 *   subscribeTo: [[Producer.from(lines), { maxDemand: 2000 }]],
 *   batchSize: 500,
 * });
 * const out = new Consumer<string>({ subscribeTo: [hashes], handleEvents: (hs) => write(hs) });
 * await out.closed; // every line hashed, in order; the workers are terminated
 * ```
 *
 * @example Bad options throw before any worker starts
 * ```ts
 * import { WorkerPool } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * assert.throws(
 *   () => new WorkerPool("./hash_worker.js", { workers: 0, Worker: class {} as never }),
 *   { name: "RangeError", message: "Cannot construct WorkerPool as workers must be an integer >= 1: current value is 0" },
 * );
 * ```
 */
export class WorkerPool<I, O> extends ProducerConsumer<I, O> {
  readonly #fan: ProducerConsumer<I, Envelope<I>>;
  readonly #keeper: Consumer<Envelope<I>>;
  readonly #config: WorkerConfig;
  readonly #intensity: Intensity;
  readonly #ordered: boolean;
  readonly #units = new Set<Unit>();
  /** The next batch to emit (ordered); below it, every batch has been emitted (both modes). */
  #next = 0;
  /** Batches at or above #next already delivered: their results (ordered) or null. */
  readonly #held = new Map<number, O[] | null>();
  #waiters: Waiter[] = [];
  #ending = false;
  #inputEnded = false;

  /**
   * Starts the workers and the pool, subscribing at once to every
   * `subscribeTo` entry.
   *
   * @param url The workers' module URL (`new URL("./x.ts", import.meta.url)`).
   * @param options The pool's and the workers' options.
   * @throws {TypeError | RangeError} If an option or a `subscribeTo` entry is
   * invalid, or there is no `Worker` constructor; nothing is started then.
   * @throws What the `Worker` constructor throws, after stopping what it started.
   */
  constructor(url: string | URL, options?: WorkerPoolOptions<I, O>) {
    const action = "construct WorkerPool";
    const config = workerConfig(action, url, options);
    const o = v.options<WorkerPoolOptions<I, O>>(action, "options", options);
    const cores = (globalThis as { navigator?: { hardwareConcurrency?: unknown } }).navigator
      ?.hardwareConcurrency;
    const workers = o.workers ?? cores;
    if (workers === undefined) {
      throw new TypeError(
        v.message(
          action,
          "workers",
          "given where navigator.hardwareConcurrency is missing",
          workers,
        ),
      );
    }
    const count = v.integer(action, "workers", workers, 1);
    const batchSize = v.integer(action, "batchSize", o.batchSize ?? 250, 1);
    const ordered = o.ordered ?? true;
    if (typeof ordered !== "boolean") {
      throw new TypeError(v.message(action, "ordered", "a boolean", ordered));
    }
    const limits = restartLimits(action, o);
    const dispatcher: unknown = o.dispatcher ?? new DemandDispatcher<O>();
    if (
      dispatcher === null || typeof dispatcher !== "object" ||
      ["init", "subscribe", "cancel", "ask", "dispatch", "info"].some((m) =>
        typeof (dispatcher as Record<string, unknown>)[m] !== "function"
      )
    ) {
      throw new TypeError(v.message(action, "dispatcher", "a Dispatcher", dispatcher));
    }
    if (o.subscribeTo !== undefined && !Array.isArray(o.subscribeTo)) {
      throw new TypeError(v.message(action, "subscribeTo", "an array", o.subscribeTo));
    }
    const ref: { pool?: WorkerPool<I, O> } = {};
    const wake = () => {
      if (ref.pool !== undefined) ref.pool.#wake();
    };
    super({
      dispatcher: new AskWatcher(dispatcher as Dispatcher<O>, wake),
      signal: o.signal,
      bufferSize: Infinity,
      // Its own inlet takes nothing: `subscribeTo` and `writable` lead to the input stage.
      handleEvents: () => [],
    });
    ref.pool = this;
    this.#config = config;
    this.#ordered = ordered;
    this.#intensity = new Intensity("WorkerPool", limits);
    let seq = 0;
    try {
      this.#fan = new ProducerConsumer<I, Envelope<I>>({
        subscribeTo: o.subscribeTo,
        handleEvents: (events) => {
          const batches = Math.ceil(events.length / batchSize);
          if (batches === 1) return [{ seq: seq++, events }];
          const size = Math.ceil(events.length / batches);
          const out: Envelope<I>[] = [];
          for (let i = 0; i < events.length; i += size) {
            out.push({ seq: seq++, events: events.slice(i, i + size) });
          }
          return out;
        },
      });
    } catch (error) {
      void super.stop();
      throw renamed(error, action);
    }
    // Keeps the input stage from counting itself stranded while every worker
    // is being replaced: it never asks, so it never receives a batch.
    this.#keeper = new Consumer<Envelope<I>>({
      subscribeTo: [[this.#fan, { maxDemand: 1 }]],
      handleSubscribe: () => "manual",
      handleEvents: ignore,
    });
    // Its end follows the input stage's, which the pool observes.
    this.#keeper.closed.then(ignore, ignore);
    this.#fan.closed.then(() => {
      this.#inputEnded = true;
      this.#checkEnd();
    }, (reason) => this.#shutdown(reason));
    this.closed.then(() => this.#shutdown("normal"), (reason) => this.#shutdown(reason));
    try {
      for (let i = 0; i < count; i++) this.#units.add(this.#startUnit()!);
    } catch (error) {
      this.#shutdown(error);
      throw error;
    }
  }

  /**
   * Subscribes the pool to `source` with `options` (the options of any
   * consumer's subscription) and returns the subscription; its `consumer` is
   * the pool's input stage.
   *
   * @param source The stage to take events from.
   * @param options `maxDemand`, `minDemand`, `cancel`, `redeliver`…
   * @returns The subscription.
   * @throws {TypeError} If `source` is not a producing stage or has stopped, or the pool has stopped.
   * @throws {RangeError} If `maxDemand` or `minDemand` is out of range.
   */
  override subscribeTo(source: Source<I>, options?: SubscribeOptions<I>): Subscription<I> {
    if (this.#ending) throw new TypeError("Cannot subscribe as the WorkerPool has stopped");
    return this.#fan.subscribeTo(source, options);
  }

  /**
   * The pool's input as a `WritableStream` of single events, as a
   * `TransformStream`'s `writable` (so `source.pipeThrough(pool)` works):
   * written events go to the workers, paced by their demand. Closing it ends
   * the input; the pool closes once the workers' results have all left.
   */
  override get writable(): WritableStream<I> {
    return this.#fan.writable;
  }

  /**
   * Stops now with `reason` (default `"normal"`): the pool, its input stage
   * and its workers, which are terminated. Resolves once stopped.
   *
   * @param reason Why it stops; anything but `"normal"`, `"shutdown"` and
   * `undefined` is a failure.
   * @returns A promise that resolves once the pool has stopped.
   */
  override stop(reason: unknown = "normal"): Promise<void> {
    this.#shutdown(reason);
    return this.closed.then(ignore, ignore);
  }

  /**
   * Cancels the pool's upstream subscriptions with `"normal"`, handles and
   * emits what it has already taken, then stops `"normal"`.
   *
   * @returns A promise that resolves once the pool has stopped.
   */
  override close(): Promise<void> {
    if (!this.#ending) void this.#fan.close();
    return this.closed.then(ignore, ignore);
  }

  /**
   * Starts a worker and its slots; undefined if the input stage has stopped
   * (then nothing is left to hand out).
   *
   * @throws What the `Worker` constructor throws.
   */
  #startUnit(): Unit | undefined {
    const transfer = this.#config.transfer;
    let channel: WorkerChannel | undefined;
    const handleEvents = async ([envelope]: Envelope<I>[]): Promise<void> => {
      const events = envelope.events;
      const results = await channel!.run(events, transfer?.(events)) as O[];
      await this.#deliver(envelope.seq, results);
    };
    const slots: Consumer<Envelope<I>>[] = [];
    try {
      for (let i = 0; i < SLOTS; i++) {
        slots.push(
          new Consumer<Envelope<I>>({
            subscribeTo: [[this.#fan, SLOT_OPTIONS as SubscribeOptions<Envelope<I>>]],
            handleEvents,
          }),
        );
      }
    } catch {
      // Subscribing throws only once the input stage has stopped.
      for (const slot of slots) void slot.stop();
      return undefined;
    }
    try {
      channel = new WorkerChannel(this.#config);
      channel.start();
    } catch (error) {
      for (const slot of slots) void slot.stop(error);
      throw error;
    }
    const unit: Unit = { channel, slots: slots as Consumer<Envelope<unknown>>[], failed: false };
    channel.onFailure = (error) => this.#failed(unit, error);
    Promise.all(slots.map((slot) => slot.closed)).then(
      () => this.#ended(unit),
      (error) => this.#failed(unit, error),
    );
    return unit;
  }

  /** A worker's batch is done: its results are emitted in turn, then it waits for room. */
  #deliver(seq: number, results: O[]): Promise<void> | undefined {
    if (this.#ending || seq < this.#next || this.#held.has(seq)) return;
    const held = this.#held;
    if (this.#ordered) {
      held.set(seq, results);
      for (let next = held.get(this.#next); next !== undefined; next = held.get(this.#next)) {
        held.delete(this.#next++);
        if (next !== null && next.length > 0) this.emit(next);
      }
    } else {
      if (results.length > 0) this.emit(results);
      held.set(seq, null);
      while (held.has(this.#next)) held.delete(this.#next++);
    }
    if (seq < this.#next && this.bufferedCount === 0) {
      this.#wake();
      return;
    }
    return new Promise<void>((resolve) => {
      this.#waiters.push({ seq, resolve });
      this.#wake();
    });
  }

  /** Releases the workers whose results have been emitted, once nothing waits for demand. */
  #wake(): void {
    if (this.#waiters.length === 0 || (this.bufferedCount > 0 && !this.#ending)) return;
    const next = this.#ending ? Infinity : this.#next;
    const waiting: Waiter[] = [];
    for (const waiter of this.#waiters) {
      if (waiter.seq < next) waiter.resolve();
      else waiting.push(waiter);
    }
    this.#waiters = waiting;
  }

  #failed(unit: Unit, error: unknown): void {
    if (unit.failed) return;
    unit.failed = true;
    this.#units.delete(unit);
    // Stopped abnormally, the slots give their batches back to the input stage.
    for (const slot of unit.slots) void slot.stop(error);
    unit.channel.terminate();
    if (this.#ending) return;
    if (!this.#intensity.allow()) {
      this.#shutdown(this.#intensity.error(error));
      return;
    }
    let replacement: Unit | undefined;
    try {
      replacement = this.#startUnit();
    } catch (startError) {
      this.#shutdown(startError);
      return;
    }
    if (replacement === undefined) this.#checkEnd();
    else this.#units.add(replacement);
  }

  #ended(unit: Unit): void {
    unit.channel.terminate();
    this.#units.delete(unit);
    this.#checkEnd();
  }

  #checkEnd(): void {
    if (this.#ending || !this.#inputEnded || this.#units.size > 0) return;
    void super.close();
  }

  #shutdown(reason: unknown): void {
    if (this.#ending) return;
    this.#ending = true;
    this.#wake();
    void this.#fan?.stop(reason);
    void this.#keeper?.stop(reason);
    for (const unit of [...this.#units]) {
      unit.failed = true;
      for (const slot of unit.slots) void slot.stop(reason);
      unit.channel.terminate();
    }
    this.#units.clear();
    void super.stop(reason);
  }
}

/**
 * The pool's output dispatcher: the user's (or a DemandDispatcher), told
 * every time a subscriber asks, so that workers waiting for their results to
 * leave are released once the buffer has drained, even by asks it met without
 * calling `handleDemand`. The check runs a microtask later, after the stage
 * has served the ask from its buffer.
 */
class AskWatcher<T> implements Dispatcher<T> {
  readonly #inner: Dispatcher<T>;
  readonly #onAsk: () => void;

  constructor(inner: Dispatcher<T>, onAsk: () => void) {
    this.#inner = inner;
    this.#onAsk = onAsk;
  }

  init(host: DispatcherHost<T>): void {
    this.#inner.init(host);
  }

  validate(options: Readonly<SubscribeOptions<T>>): void {
    this.#inner.validate?.(options);
  }

  subscribe(subscription: Subscription<T>): number {
    return this.#inner.subscribe(subscription);
  }

  cancel(subscription: Subscription<T>): number {
    return this.#inner.cancel(subscription);
  }

  ask(count: number, subscription: Subscription<T>): number {
    const demand = this.#inner.ask(count, subscription);
    queueMicrotask(this.#onAsk);
    return demand;
  }

  dispatch(events: T[]): T[] {
    return this.#inner.dispatch(events);
  }

  info(message: unknown): void {
    this.#inner.info(message);
  }

  idle(): boolean {
    return this.#inner.idle?.() ?? true;
  }

  redeliver(events: T[], subscription: Subscription<T>): T[] {
    return this.#inner.redeliver === undefined
      ? events
      : this.#inner.redeliver(events, subscription);
  }
}

/** Errors of the input stage's construction, told as the pool's. */
function renamed(error: unknown, action: string): unknown {
  if (!(error instanceof TypeError || error instanceof RangeError)) return error;
  const text = error.message.replace(/^Cannot construct ProducerConsumer/, `Cannot ${action}`);
  if (text === error.message) return error;
  return new (error instanceof TypeError ? TypeError : RangeError)(text);
}
