import type { Dispatcher } from "../dispatcher.ts";
import { Producer, type ProducerOptions } from "../producer.ts";
import {
  backoff,
  type BrokerProducerStats,
  checkName,
  type Fetcher,
  type Outcome,
  SourceEngine,
} from "../_broker_source.ts";
import * as v from "../_validate.ts";
import { checkClient, type RedisClient } from "./_client.ts";

/**
 * One Redis stream entry as an event of a {@linkcode RedisStreamProducer},
 * with its acknowledgement. By default the producer acknowledges it (`XACK`)
 * after the consumer's `handleEvents` (or `ConsumerSupervisor` task)
 * succeeded, and leaves it pending when it failed or will never be handled:
 * then a producer of the same group claims it (`XAUTOCLAIM`) once it has
 * been idle for `claimIdle` ms, and delivers it again. Calling `ack()` or
 * `nak()` yourself settles it earlier; whatever comes first wins, and an
 * entry is settled exactly once.
 */
export interface RedisStreamMessage {
  /** The stream's key. */
  readonly stream: string;
  /** The entry's ID, such as `"1700000000000-0"`. */
  readonly id: string;
  /** The entry's fields. */
  readonly fields: Readonly<Record<string, string>>;
  /** Whether it was claimed from the pending entries (an earlier delivery failed or its consumer died). */
  readonly redelivered: boolean;
  /** Acknowledges it now (`XACK`): it is handled. */
  ack(): void;
  /** Leaves it pending now: it is claimed again once idle for `claimIdle` ms. */
  nak(): void;
}

/** Options of a {@linkcode RedisStreamProducer}. */
export interface RedisStreamProducerOptions {
  /**
   * A Redis client (ioredis). It sends the acknowledgements and claims; the
   * producer reads through a `duplicate()` of it (reads block), which it
   * closes when it ends. The client itself stays open.
   */
  readonly redis: RedisClient;
  /** The stream's key. */
  readonly stream: string;
  /** The consumer group: every process of the group shares the entries (each goes to one of them). */
  readonly group: string;
  /**
   * This producer's consumer name in the group.
   *
   * @default {"webstage-" + a random UUID (removed from the group by close() when it holds nothing)}
   */
  readonly consumer?: string;
  /**
   * Whether to create the group (and the stream) when they do not exist
   * (`XGROUP CREATE … MKSTREAM`), also after a server that lost them restarts.
   *
   * @default {true}
   */
  readonly createGroup?: boolean;
  /**
   * Where a group created by the producer starts: `"$"` (new entries only)
   * or an entry ID (`"0"`: the whole stream).
   *
   * @default {"$"}
   */
  readonly startId?: string;
  /**
   * How long a read waits for new entries, in milliseconds (an integer ≥ 1);
   * the producer also looks for entries to claim at least this often.
   *
   * @default {2000}
   */
  readonly block?: number;
  /**
   * Pending entries idle for longer than this many milliseconds are claimed
   * and delivered again (an integer ≥ 1, or `Infinity` to never claim). Make
   * it longer than the longest handling of an entry, or entries still being
   * handled elsewhere are delivered twice.
   *
   * @default {30000}
   */
  readonly claimIdle?: number;
  /** Called after entries were settled with Redis (for metrics or logs). */
  readonly onSettle?: (messages: readonly RedisStreamMessage[], outcome: Outcome) => void;
  /**
   * Called with each error the producer recovers from (a failed read or
   * acknowledgement, a lost connection); it retries with a backoff of up to 5 s.
   *
   * @default {console.warn}
   */
  readonly onError?: (error: unknown) => void;
  /**
   * Decides which subscription receives which entries.
   *
   * @default {new DemandDispatcher()}
   */
  readonly dispatcher?: Dispatcher<RedisStreamMessage>;
  /** Aborting it stops the producer at once with `signal.reason` (as `stop`). */
  readonly signal?: AbortSignal;
}

class Entry implements RedisStreamMessage {
  settled = false;
  readonly stream: string;
  readonly id: string;
  readonly redelivered: boolean;
  readonly #values: readonly string[];
  #fields: Record<string, string> | undefined;
  readonly #engine: SourceEngine<Entry>;

  constructor(
    stream: string,
    id: string,
    values: readonly string[],
    redelivered: boolean,
    engine: SourceEngine<Entry>,
  ) {
    this.stream = stream;
    this.id = id;
    this.#values = values;
    this.redelivered = redelivered;
    this.#engine = engine;
  }

  get fields(): Readonly<Record<string, string>> {
    if (this.#fields === undefined) {
      const fields: Record<string, string> = {};
      const values = this.#values;
      for (let i = 0; i + 1 < values.length; i += 2) fields[values[i]] = values[i + 1];
      this.#fields = fields;
    }
    return this.#fields;
  }

  ack(): void {
    this.#engine.settle([this], "ack");
  }

  nak(): void {
    this.#engine.settle([this], "nak");
  }
}

interface NormalOptions {
  readonly redis: RedisClient;
  readonly stream: string;
  readonly group: string;
  readonly consumer: string;
  readonly generatedName: boolean;
  readonly createGroup: boolean;
  readonly startId: string;
  readonly block: number;
  readonly claimIdle: number;
  readonly onSettle: RedisStreamProducerOptions["onSettle"];
  readonly onError: ((error: unknown) => void) | undefined;
  readonly dispatcher: Dispatcher<RedisStreamMessage> | undefined;
  readonly signal: AbortSignal | undefined;
}

function normalize(options: unknown): NormalOptions {
  const action = "construct RedisStreamProducer";
  if (options === undefined) {
    throw new TypeError(v.message(action, "options", "an object", options));
  }
  const o = v.options<RedisStreamProducerOptions>(action, "options", options);
  const createGroup = o.createGroup ?? true;
  if (typeof createGroup !== "boolean") {
    throw new TypeError(v.message(action, "createGroup", "a boolean", createGroup));
  }
  return {
    redis: checkClient(action, o.redis),
    stream: checkName(action, "stream", o.stream),
    group: checkName(action, "group", o.group),
    consumer: o.consumer === undefined
      ? `webstage-${crypto.randomUUID()}`
      : checkName(action, "consumer", o.consumer),
    generatedName: o.consumer === undefined,
    createGroup,
    startId: o.startId === undefined ? "$" : checkName(action, "startId", o.startId),
    block: v.integer(action, "block", o.block ?? 2000, 1),
    claimIdle: v.integer(action, "claimIdle", o.claimIdle ?? 30_000, 1, Infinity, true),
    onSettle: v.callback(action, "onSettle", o.onSettle),
    onError: v.callback(action, "onError", o.onError),
    dispatcher: o.dispatcher,
    signal: v.signal(action, o.signal),
  };
}

/**
 * A producer whose demand is the `COUNT` of its reads in a Redis Streams
 * consumer group: it reads (`XREADGROUP … COUNT n`) and claims
 * (`XAUTOCLAIM … COUNT n`) at most as many entries as its subscriptions ask
 * for, so the entries it holds (`brokerStats.inFlight`) never exceed the demand.
 * Each entry is an event that carries its acknowledgement
 * ({@linkcode RedisStreamMessage}): acknowledged (`XACK`) once the
 * consumer's `handleEvents` (or `ConsumerSupervisor` task) for it succeeded,
 * left pending when it failed or will never be handled; pending entries
 * idle for longer than `claimIdle` ms, those of a process that died among
 * them, are claimed by a producer of the group and delivered again.
 *
 * `close()` is graceful: it stops reading (unblocking the read in progress),
 * delivers what the last read brought, waits until every entry it sent has
 * been handled, acknowledges them, closes its reading connection, removes
 * its generated consumer name from the group if it holds no pending entry,
 * and resolves. `stop()` is immediate: what it holds stays pending (later
 * results are ignored).
 *
 * A failed read or acknowledgement is reported to `onError` and retried with
 * a backoff; a group that disappeared (a restarted server without
 * persistence) is created again when `createGroup` is true.
 *
 * @example A worker in group "mailers"
 * ```ts ignore
 * import { Redis } from "ioredis";
 * import { ConsumerSupervisor } from "@webstage/webstage";
 * import { RedisStreamProducer } from "@webstage/webstage/redis";
 *
 * const redis = new Redis("redis://127.0.0.1:6379");
 * const mails = new RedisStreamProducer({ redis, stream: "mails", group: "mailers", claimIdle: 60_000 });
 * const senders = new ConsumerSupervisor({
 *   subscribeTo: [[mails, { maxDemand: 10 }]], // at most 10 mails in flight here
 *   handleEvent: (entry) => send(entry.fields), // XACK once it resolves
 * });
 * // …on shutdown:
 * await mails.close();
 * await redis.quit();
 * ```
 *
 * @example Options are checked before anything is sent
 * ```ts
 * import { RedisStreamProducer } from "@webstage/webstage/redis";
 * import assert from "node:assert/strict";
 *
 * assert.throws(
 *   () => new RedisStreamProducer({ redis: null!, stream: "mails", group: "mailers" }),
 *   {
 *     name: "TypeError",
 *     message:
 *       "Cannot construct RedisStreamProducer as redis must be a Redis client (ioredis): current value is null",
 *   },
 * );
 * ```
 */
export class RedisStreamProducer extends Producer<RedisStreamMessage> {
  readonly #engine: SourceEngine<Entry>;

  /**
   * Creates the producer; it reads nothing until a subscription asks.
   *
   * @param options The client, stream, group and settings.
   * @throws {TypeError} If an option has the wrong type.
   * @throws {RangeError} If `block` or `claimIdle` is out of range.
   */
  constructor(options: RedisStreamProducerOptions) {
    const o = normalize(options);
    const engine = new SourceEngine<Entry>({
      onSettle: o.onSettle as ((messages: readonly Entry[], outcome: Outcome) => void),
      onError: o.onError,
    });
    super(
      engine.producerOptions(
        o.dispatcher as Dispatcher<Entry> | undefined,
        o.signal,
      ) as unknown as ProducerOptions<RedisStreamMessage>,
    );
    this.#engine = engine;
    engine.attach(
      this as unknown as Producer<Entry>,
      super.closed,
      new RedisFetcher(engine, o),
    );
  }

  /** Counters: received, acknowledged, left pending, in flight and its peak. */
  get brokerStats(): BrokerProducerStats {
    return this.#engine.stats;
  }

  /**
   * Graceful: stops reading, delivers what the last read brought, waits
   * until every entry sent has been handled, acknowledges them and closes
   * the reading connection. Resolves once done.
   */
  override close(): Promise<void> {
    return this.#engine.close(() => super.close());
  }

  /**
   * Immediate: stops reading and the producer with `reason` (default
   * `"normal"`); every entry not yet acknowledged stays pending, to be
   * claimed after `claimIdle`. Resolves once done.
   */
  override stop(reason: unknown = "normal"): Promise<void> {
    return this.#engine.stop(reason, (r) => super.stop(r));
  }

  /** Resolves once the producer has closed or stopped normally and settled everything; rejects with an abnormal reason. */
  override get closed(): Promise<void> {
    return this.#engine.closed;
  }

  /** The same as `close()`, for `await using`. */
  override [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

type RawEntry = [id: string, values: string[] | null];

/**
 * The entries of an XREADGROUP reply for one stream: `[[key, entries]]` in
 * RESP2, `[key, entries]` when a client flattens RESP3's map; null on timeout.
 */
function readEntries(reply: unknown): RawEntry[] {
  if (!Array.isArray(reply) || reply.length === 0) return [];
  const pair = Array.isArray(reply[0]) ? reply[0] : reply;
  return (pair[1] as RawEntry[] | undefined) ?? [];
}

function errorCode(error: unknown): string {
  return error instanceof Error ? error.message.split(" ")[0] : "";
}

/** One blocking read at a time on a connection of its own; claims and acknowledgements on the client. */
class RedisFetcher implements Fetcher<Entry> {
  readonly #engine: SourceEngine<Entry>;
  readonly #o: NormalOptions;
  readonly #reader: RedisClient;
  /** The reading connection's client ID (for CLIENT UNBLOCK), known once asked after each connect. */
  #readerId: Promise<unknown> | undefined;
  #reading = false;
  /** The loop waits for credit (demand) before its next read. */
  #idle = false;
  #stopped = false;
  #wake: (() => void) | undefined;
  readonly #loop: Promise<void>;
  /** IDs of the entries received and not settled (a claim must not deliver them twice). */
  readonly #held = new Set<string>();
  #toAck: string[] = [];
  readonly #acking = new Set<Promise<unknown>>();
  #claimCursor = "0-0";
  #nextClaim = 0;
  #failures = 0;
  #groupReady = false;

  constructor(engine: SourceEngine<Entry>, options: NormalOptions) {
    this.#engine = engine;
    this.#o = options;
    this.#reader = options.redis.duplicate();
    this.#reader.on("error", (error: unknown) => this.#engine.error(error));
    this.#reader.on("ready", () => (this.#readerId = undefined));
    this.#loop = this.#run();
  }

  pump(): void {
    this.#wake?.();
  }

  async #run(): Promise<void> {
    const o = this.#o;
    while (!this.#stopped) {
      if (this.#engine.credit === 0) {
        this.#idle = true;
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#idle = false;
        this.#wake = undefined;
        continue;
      }
      try {
        if (!this.#groupReady) await this.#createGroup();
        // The credit freed by handled entries is used once Redis has their XACK:
        // the group's pending entries for this consumer never exceed the demand.
        // Those sent on the client are awaited; those not yet sent go ahead of
        // the read on the reading connection, which Redis runs in order.
        while (this.#acking.size > 0) await Promise.all(this.#acking);
        if (this.#stopped) break;
        if (o.claimIdle !== Infinity && Date.now() >= this.#nextClaim) {
          while (this.#toAck.length > 0 || this.#acking.size > 0) await this.flush();
          await this.#claim();
        } else await this.#read();
        this.#failures = 0;
      } catch (error) {
        if (this.#stopped) break;
        if (errorCode(error) === "NOGROUP" && o.createGroup) {
          this.#groupReady = false;
          continue;
        }
        this.#engine.error(error);
        await new Promise<void>((resolve) => {
          const timer: ReturnType<typeof setTimeout> = setTimeout(
            resolve,
            backoff(++this.#failures),
          );
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wake = undefined;
      }
    }
  }

  async #createGroup(): Promise<void> {
    const o = this.#o;
    if (o.createGroup) {
      try {
        await o.redis.call("XGROUP", "CREATE", o.stream, o.group, o.startId, "MKSTREAM");
      } catch (error) {
        if (errorCode(error) !== "BUSYGROUP") throw error;
      }
    }
    this.#groupReady = true;
  }

  async #read(): Promise<void> {
    const o = this.#o;
    const count = this.#engine.takeCredit();
    let reply: unknown;
    this.#readerId ??= this.#reader.call("CLIENT", "ID").catch(() => undefined);
    const ids = this.#toAck;
    if (ids.length > 0) {
      this.#toAck = [];
      this.#track(this.#reader.call("XACK", o.stream, o.group, ...ids));
    }
    this.#reading = true;
    try {
      reply = await this.#reader.call(
        "XREADGROUP",
        "GROUP",
        o.group,
        o.consumer,
        "COUNT",
        count,
        "BLOCK",
        Math.min(o.block, o.claimIdle),
        "STREAMS",
        o.stream,
        ">",
      );
    } catch (error) {
      this.#engine.returnCredit(count);
      throw error;
    } finally {
      this.#reading = false;
    }
    const raw = readEntries(reply);
    this.#engine.returnCredit(count - raw.length);
    this.#deliver(raw, false);
  }

  async #claim(): Promise<void> {
    const o = this.#o;
    const count = this.#engine.takeCredit();
    let reply: unknown;
    try {
      reply = await o.redis.call(
        "XAUTOCLAIM",
        o.stream,
        o.group,
        o.consumer,
        o.claimIdle,
        this.#claimCursor,
        "COUNT",
        count,
      );
    } catch (error) {
      this.#engine.returnCredit(count);
      throw error;
    }
    const [cursor, entries] = reply as [string, RawEntry[]];
    this.#claimCursor = cursor;
    // A full pass over the pending entries: wait before the next one.
    if (cursor === "0-0") this.#nextClaim = Date.now() + Math.min(o.block, o.claimIdle);
    // Entries this producer still holds (handled for longer than claimIdle) are not delivered twice.
    const fresh = entries.filter(([id, values]) => values !== null && !this.#held.has(id));
    this.#engine.returnCredit(count - fresh.length);
    this.#deliver(fresh, true);
  }

  #deliver(raw: RawEntry[], redelivered: boolean): void {
    if (raw.length === 0) return;
    const stream = this.#o.stream;
    const entries = raw.map(([id, values]) => {
      this.#held.add(id);
      return new Entry(stream, id, values ?? [], redelivered, this.#engine);
    });
    this.#engine.receive(entries);
  }

  /** Ends the loop, unblocking a read in progress (what it returned still comes in). */
  async #end(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    if (this.#reading && this.#readerId !== undefined) {
      try {
        const id = await this.#readerId;
        if (this.#reading && typeof id === "number") {
          await this.#o.redis.call("CLIENT", "UNBLOCK", id);
        }
      } catch (error) {
        this.#engine.error(error);
      }
    }
    await this.#loop;
  }

  drain(): Promise<void> {
    return this.#end();
  }

  abort(): void {
    void this.#end();
  }

  settle(messages: Entry[], outcome: Outcome): void {
    for (const message of messages) this.#held.delete(message.id);
    // Left pending otherwise: claimed again once idle for claimIdle.
    if (outcome !== "ack") return;
    if (this.#toAck.length === 0) queueMicrotask(() => this.#sendAcks());
    for (const message of messages) this.#toAck.push(message.id);
  }

  /**
   * One XACK for the acknowledgements of a turn, on the client; unless the
   * loop, waiting for the credit they freed, is about to read: then they go
   * with its read, one round trip instead of two.
   */
  #sendAcks(force = false): void {
    if (!force && this.#idle && this.#engine.credit > 0 && !this.#stopped) return;
    const ids = this.#toAck;
    this.#toAck = [];
    if (ids.length === 0) return;
    const o = this.#o;
    this.#track(o.redis.call("XACK", o.stream, o.group, ...ids));
  }

  /** Keeps an XACK in flight until Redis answers; a failure is reported. */
  #track(reply: Promise<unknown>): void {
    const sent = reply.then(() => {}, (error) => this.#engine.error(error));
    this.#acking.add(sent);
    sent.finally(() => this.#acking.delete(sent));
  }

  async flush(): Promise<void> {
    this.#sendAcks(true);
    await Promise.all(this.#acking);
  }

  async release(): Promise<void> {
    await this.#end();
    const o = this.#o;
    try {
      if (o.generatedName) {
        const pending = await o.redis.call("XPENDING", o.stream, o.group, "-", "+", 1, o.consumer);
        if (Array.isArray(pending) && pending.length === 0) {
          await o.redis.call("XGROUP", "DELCONSUMER", o.stream, o.group, o.consumer);
        }
      }
    } finally {
      await this.#reader.quit().catch(() => this.#reader.disconnect());
    }
  }
}
