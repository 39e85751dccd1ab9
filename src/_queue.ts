// A FIFO queue with O(1) push and shift: an array read from a moving head,
// compacted when the consumed prefix dominates (no Array.prototype.shift).

export class Queue<E> {
  #items: (E | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: E): void {
    this.#items.push(item);
  }

  /** Puts `item` before every other item. */
  unshift(item: E): void {
    if (this.#head > 0) this.#items[--this.#head] = item;
    else this.#items.unshift(item);
  }

  peek(): E | undefined {
    return this.#items[this.#head];
  }

  shift(): E | undefined {
    const items = this.#items;
    if (this.#head >= items.length) return undefined;
    const item = items[this.#head];
    items[this.#head++] = undefined;
    if (this.#head === items.length) {
      items.length = 0;
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= items.length) {
      items.splice(0, this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Removes every item and returns them in order. */
  drain(): E[] {
    const out = this.#items.slice(this.#head) as E[];
    this.#items = [];
    this.#head = 0;
    return out;
  }

  *[Symbol.iterator](): Iterator<E> {
    for (let i = this.#head; i < this.#items.length; i++) yield this.#items[i] as E;
  }
}
