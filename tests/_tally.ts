// Counting events in and out: how many times each of 0..total-1 was handled.
// Web-platform only.

/** How many times each event of `0..total - 1` was handled. */
export class Tally {
  readonly total: number;
  readonly #counts: Uint32Array;
  #handled = 0;

  constructor(total: number) {
    this.total = total;
    this.#counts = new Uint32Array(total);
  }

  /** Records one handling of each of `events`. */
  add(events: Iterable<number>): void {
    for (const event of events) {
      this.#counts[event]++;
      this.#handled++;
    }
  }

  /** How many times `event` was handled. */
  count(event: number): number {
    return this.#counts[event];
  }

  /** Handlings in all, duplicates included. */
  get handled(): number {
    return this.#handled;
  }

  /** The events never handled, in order. */
  missing(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.total; i++) if (this.#counts[i] === 0) out.push(i);
    return out;
  }

  /** How many events were handled more than once. */
  duplicated(): number {
    let n = 0;
    for (let i = 0; i < this.total; i++) if (this.#counts[i] > 1) n++;
    return n;
  }

  /** "lost 25 of 1000: 100..124" — for assertion messages. */
  describeLoss(): string {
    const missing = this.missing();
    return `lost ${missing.length} of ${this.total}: ${ranges(missing)}`;
  }
}

/** Renders sorted integers as ranges: "0..4, 9, 20..22" (at most 8 ranges). */
export function ranges(sorted: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < sorted.length && parts.length < 8;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}..${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(", ") + (parts.length === 8 ? ", …" : "");
}
