// A FIFO queue with O(1) push, shift and unshift: a ring buffer whose
// capacity is a power of two. It never shrinks, so a queue that empties and
// fills again (a mailbox, every turn) allocates nothing after warm-up, and
// nothing is copied on the way (no Array.prototype.shift, no compaction).

const INITIAL_CAPACITY = 16;

export class Queue<E> {
  #items: (E | undefined)[] = new Array(INITIAL_CAPACITY);
  #mask = INITIAL_CAPACITY - 1;
  #head = 0;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(item: E): void {
    if (this.#length > this.#mask) this.#grow();
    this.#items[(this.#head + this.#length) & this.#mask] = item;
    this.#length++;
  }

  /** Puts `item` before every other item. */
  unshift(item: E): void {
    if (this.#length > this.#mask) this.#grow();
    this.#head = (this.#head - 1) & this.#mask;
    this.#items[this.#head] = item;
    this.#length++;
  }

  peek(): E | undefined {
    return this.#length === 0 ? undefined : this.#items[this.#head];
  }

  shift(): E | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) & this.#mask;
    this.#length--;
    return item;
  }

  /** Removes every item and returns them in order. */
  drain(): E[] {
    const out: E[] = new Array(this.#length);
    for (let i = 0; i < out.length; i++) out[i] = this.shift() as E;
    return out;
  }

  *[Symbol.iterator](): Iterator<E> {
    for (let i = 0; i < this.#length; i++) {
      yield this.#items[(this.#head + i) & this.#mask] as E;
    }
  }

  /** Doubles the capacity, unrolling the ring so that the head is at 0. */
  #grow(): void {
    const items = this.#items;
    const capacity = items.length;
    const grown: (E | undefined)[] = new Array(capacity * 2);
    for (let i = 0; i < this.#length; i++) grown[i] = items[(this.#head + i) & this.#mask];
    this.#items = grown;
    this.#mask = capacity * 2 - 1;
    this.#head = 0;
  }
}
