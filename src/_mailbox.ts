// The actor's mailbox: messages are handled one at a time, in the order they
// were posted; a handler that returns a promise holds the mailbox until it
// settles (async callbacks never overlap). The drain loop never runs twice
// at once: a post while it runs only queues, as in the WHATWG streams'
// pulling / pull-again pair.

import { Queue } from "./_queue.ts";

export class Mailbox<M> {
  readonly #queue = new Queue<M>();
  readonly #handle: (message: M) => void | Promise<void>;
  readonly #fail: (error: unknown) => void;
  readonly #idle: () => void;
  #running = false;
  /** The promise of the async handler that holds the mailbox. */
  #inFlight: Promise<void> | undefined;
  #closed = false;

  /**
   * @param handle handles one message; a returned promise holds the mailbox until it settles
   * @param fail called with what a handler threw or rejected with (the mailbox stops)
   * @param idle called when the mailbox has run out of messages
   */
  constructor(
    handle: (message: M) => void | Promise<void>,
    fail: (error: unknown) => void,
    idle: () => void,
  ) {
    this.#handle = handle;
    this.#fail = fail;
    this.#idle = idle;
  }

  /** Messages waiting. */
  get length(): number {
    return this.#queue.length;
  }

  /** True while a message is being handled (including an async handler in progress). */
  get busy(): boolean {
    return this.#running;
  }

  /** Settles once the handler in progress (if any) has returned or settled. */
  settled(): Promise<void> {
    return this.#inFlight ?? Promise.resolve();
  }

  post(message: M): void {
    this.#queue.push(message);
    if (!this.#running) this.#drain();
  }

  /**
   * Holds the mailbox until a microtask later, so that the callbacks of a
   * stage being constructed run after its constructor has returned.
   */
  holdUntilMicrotask(): void {
    if (this.#running) return;
    this.#running = true;
    queueMicrotask(() => {
      this.#running = false;
      if (!this.#closed) this.#drain();
    });
  }

  /** Stops handling; returns the messages never handled. */
  close(): M[] {
    this.#closed = true;
    return this.#queue.drain();
  }

  #drain(): void {
    this.#running = true;
    const queue = this.#queue;
    while (!this.#closed) {
      const message = queue.shift();
      if (message === undefined) break;
      let result: void | Promise<void>;
      try {
        result = this.#handle(message);
      } catch (error) {
        this.#running = false;
        this.#fail(error);
        return;
      }
      if (result !== undefined) {
        this.#inFlight = result.then(() => {
          this.#inFlight = undefined;
          this.#drain();
        }, (error) => {
          this.#inFlight = undefined;
          this.#running = false;
          this.#fail(error);
        });
        return;
      }
    }
    this.#running = false;
    if (!this.#closed) this.#idle();
  }
}
