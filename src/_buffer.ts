// The producer's buffer: events nobody has asked for yet, FIFO, bounded by
// bufferSize, with info markers that must be delivered after the events
// buffered before them (GenStage's GenStage.Buffer).
//
// Events are kept as the batches they arrived in (no per-event copy). Markers
// are placed at absolute positions: a marker at position p is released once
// p events have left the buffer, whether taken or discarded.

import { Queue } from "./_queue.ts";

export type BufferKeep = "first" | "last";

interface Marker {
  readonly position: number;
  readonly message: unknown;
}

export interface Taken<T> {
  readonly events: T[];
  /** The lowest output position among the events taken (Infinity if none). */
  readonly low: number;
  /** Info messages released by this take, in order. */
  readonly released: unknown[];
}

const NONE: never[] = [];

export class EventBuffer<T> {
  readonly size: number;
  readonly keep: BufferKeep;
  #batches = new Queue<T[]>();
  /** For each batch: a lower bound of its events' positions in the stage's output. */
  #lows = new Queue<number>();
  /** The lowest position among the batches the last #shift touched. */
  #shiftedLow = Infinity;
  /** Index of the first live event in the first batch. */
  #offset = 0;
  #count = 0;
  /** Events that ever left the buffer (taken or discarded), an absolute position. */
  #left = 0;
  #markers = new Queue<Marker>();

  constructor(size: number, keep: BufferKeep) {
    this.size = size;
    this.keep = keep;
  }

  /** Buffered events; info markers are not counted. */
  get count(): number {
    return this.#count;
  }

  /** The lowest output position among the buffered events (Infinity if none). */
  get low(): number {
    let low = Infinity;
    for (const value of this.#lows) if (value < low) low = value;
    return low;
  }

  /** True when neither events nor markers are held. */
  get empty(): boolean {
    return this.#count === 0 && this.#markers.length === 0;
  }

  /**
   * Stores `events` after the buffered ones. Returns how many events were
   * discarded to respect the size, and the markers that discarding released.
   */
  store(events: T[], low = 0): { discarded: number; released: unknown[] } {
    const room = this.size - this.#count;
    if (events.length <= room) {
      this.#push(events, low);
      return { discarded: 0, released: NONE };
    }
    if (this.keep === "first") {
      if (room > 0) this.#push(events.slice(0, room), low);
      return { discarded: events.length - room, released: NONE };
    }
    // keep "last": the newest `size` events win; the oldest are dropped.
    const excess = this.#count + events.length - this.size;
    const fromBuffer = Math.min(excess, this.#count);
    this.#drop(fromBuffer);
    this.#left += fromBuffer;
    const kept = events.length - (excess - fromBuffer);
    // Events dropped from the incoming batch never entered: they still pass
    // any marker position, since markers sit before them.
    this.#left += excess - fromBuffer;
    this.#push(kept === events.length ? events : events.slice(events.length - kept), low);
    return { discarded: excess, released: this.#release() };
  }

  /**
   * Puts `events` back before every buffered event (and every marker), and
   * `markers` (messages a take released with them) right after them.
   */
  unshift(events: T[], markers: readonly unknown[] = NONE, low = 0): void {
    if (markers.length > 0) {
      const position = this.#left;
      for (let i = markers.length - 1; i >= 0; i--) {
        this.#markers.unshift({ position, message: markers[i] });
      }
    }
    if (events.length === 0) return;
    if (this.#offset > 0) {
      const first = this.#batches.shift()!;
      this.#batches.unshift(first.slice(this.#offset));
      this.#offset = 0;
    }
    this.#batches.unshift(events);
    this.#lows.unshift(low);
    this.#count += events.length;
    this.#left -= events.length;
  }

  /** Queues an info message after the buffered events; false if the buffer holds no events. */
  mark(message: unknown): boolean {
    if (this.#count === 0) return false;
    this.#markers.push({ position: this.#left + this.#count, message });
    return true;
  }

  /**
   * Takes up to `n` events, stopping at the first marker; the markers reached
   * are released with them.
   */
  take(n: number): Taken<T> {
    const marker = this.#markers.peek();
    let limit = Math.min(n, this.#count);
    if (marker !== undefined) limit = Math.min(limit, marker.position - this.#left);
    this.#shiftedLow = Infinity;
    const events = limit > 0 ? this.#shift(limit) : NONE;
    this.#left += limit;
    return { events, low: this.#shiftedLow, released: this.#release() };
  }

  /** Removes and returns every event and marker (for a stopping stage). */
  clear(): T[] {
    const out = this.#count > 0 ? this.#shift(this.#count) : [];
    this.#markers = new Queue();
    this.#lows = new Queue();
    return out;
  }

  #push(events: T[], low: number): void {
    if (events.length === 0) return;
    this.#batches.push(events);
    this.#lows.push(low);
    this.#count += events.length;
  }

  #release(): unknown[] {
    let released: unknown[] = NONE;
    let marker = this.#markers.peek();
    while (marker !== undefined && marker.position <= this.#left) {
      if (released === NONE) released = [];
      released.push(this.#markers.shift()!.message);
      marker = this.#markers.peek();
    }
    return released;
  }

  #drop(n: number): void {
    while (n > 0) {
      const first = this.#batches.peek()!;
      const available = first.length - this.#offset;
      if (available <= n) {
        this.#batches.shift();
        this.#lows.shift();
        this.#offset = 0;
        n -= available;
        this.#count -= available;
      } else {
        this.#offset += n;
        this.#count -= n;
        n = 0;
      }
    }
  }

  #shift(n: number): T[] {
    const first = this.#batches.peek()!;
    if (this.#offset === 0 && first.length === n) {
      this.#batches.shift();
      this.#shiftedLow = this.#lows.shift()!;
      this.#count -= n;
      return first;
    }
    const out: T[] = new Array(n);
    let i = 0;
    while (i < n) {
      const batch = this.#batches.peek()!;
      const low = this.#lows.peek()!;
      if (low < this.#shiftedLow) this.#shiftedLow = low;
      const take = Math.min(batch.length - this.#offset, n - i);
      for (let j = 0; j < take; j++) out[i + j] = batch[this.#offset + j];
      i += take;
      this.#offset += take;
      if (this.#offset === batch.length) {
        this.#batches.shift();
        this.#lows.shift();
        this.#offset = 0;
      }
    }
    this.#count -= n;
    return out;
  }
}
