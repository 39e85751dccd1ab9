// Every stage is a web stream where it has that side (DESIGN §5.1): a
// `readable` of single events for producing stages, a `writable` inlet for
// every stage. A `{ writable, readable }` pair behaves like a
// TransformStream's: closing the writable ends the stage's input, aborting
// it stops the stage, a failing stage errors both, and cancelling the
// readable when it is the stage's only subscriber stops the stage and errors
// its writable, so cancellation reaches the source of a pipe chain.

import type { AnyLink, ProducerEnd } from "./_link.ts";
import type { StageCore } from "./_stage.ts";
import { CALL, SUBSCRIBED } from "./_core.ts";
import { Link } from "./_link.ts";
import { isNormal, subscribeOptions } from "./_options.ts";
import { eventStream } from "./_reader.ts";
import { streams } from "./_streams.ts";

/** The stage's readable: its events, read through a subscription made on the first read. */
export function readableFace<T>(core: StageCore, highWaterMark: number): ReadableStream<T> {
  const options = subscribeOptions<T>("read", { maxDemand: highWaterMark });
  return eventStream<T>(() => [core.subscribe(options, true)], {
    cancel: (links, reason) => {
      const link = links[0];
      const downstream = core.outlet!.downstream;
      if (
        !core.stopped && downstream.size <= 1 && (downstream.size === 0 || downstream.has(link))
      ) {
        // The only subscriber leaves: the stage stops, and its writable errors with the reason.
        core.writableError = { reason };
        core.stop("normal");
      } else {
        link.source.cancelled(link, "normal", false);
      }
    },
  });
}

/** Why a writable refuses events once its stage has stopped with `reason`. */
function stoppedError(core: StageCore, reason: unknown): unknown {
  if (core.writableError !== undefined) return core.writableError.reason;
  if (!isNormal(reason)) return reason;
  return new TypeError(`Cannot write as the ${core.kind} ${core.name} has ended`);
}

/** What aborting a writable with `reason` stops the stage with (never a normal end). */
function abortReason(core: StageCore, reason: unknown): unknown {
  return reason === undefined ? new Error(`The writable of ${core.name} was aborted`) : reason;
}

/**
 * A producer's writable: each chunk is one emitted event, taken only while
 * the producer has downstream demand it has not met, so a writer that
 * awaits `ready` never makes the producer buffer.
 */
export function producerWritable<T>(core: StageCore, highWaterMark: number): WritableStream<T> {
  const outlet = core.outlet!;
  let waiting: { event: T; resolve(): void; reject(reason: unknown): void } | undefined;
  let controller: WritableStreamDefaultController | undefined;
  /** Runs in the stage's turn: the waiting event leaves once there is demand for it. */
  const take = () => {
    const w = waiting;
    if (w !== undefined && outlet.counter > 0) {
      waiting = undefined;
      outlet.dispatch([w.event]);
      w.resolve();
    }
  };
  outlet.onDemand = take;
  core.onStop = (reason) => {
    const error = stoppedError(core, reason);
    controller?.error(error);
    waiting?.reject(error);
    waiting = undefined;
  };
  return new streams.WritableStream<T>({
    start(c) {
      controller = c;
      if (core.stopped) c.error(stoppedError(core, core.reason));
    },
    write(event) {
      if (core.stopped) throw stoppedError(core, core.reason);
      if (!core.busy && outlet.counter > 0) return core.emit([event]);
      return new Promise<void>((resolve, reject) => {
        waiting = { event, resolve, reject };
        core.post({ k: CALL, call: take });
      });
    },
    close: () => {
      void core.close();
      return core.closed;
    },
    abort: (reason) => core.stop(abortReason(core, reason)),
  }, { highWaterMark, size: () => 1 });
}

/**
 * The producer end of a consumer's writable inlet: events written are held
 * until the stage has asked for them, then sent down the inlet link in one
 * batch per task (so a writer that writes faster than the stage handles
 * fills batches instead of paying a promise per event).
 */
class WritableInlet<T> implements ProducerEnd {
  /** The writable itself: the inlet subscription's `producer`. */
  owner: object = {};
  readonly name = "writable";
  readonly #core: StageCore;
  link!: Link<T>;
  #held: T[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #waiting: { resolve(): void; reject(reason: unknown): void } | undefined;
  #controller: WritableStreamDefaultController | undefined;
  #closing: { resolve(): void; reject(reason: unknown): void } | undefined;
  #failed = false;

  constructor(core: StageCore) {
    this.#core = core;
  }

  set controller(controller: WritableStreamDefaultController) {
    this.#controller = controller;
  }

  /** The stage asked for more: a waiting write may go on. */
  ask(): void {
    const waiting = this.#waiting;
    if (waiting !== undefined && this.#credit > 0) {
      this.#waiting = undefined;
      waiting.resolve();
    }
  }

  /** The stage left the inlet (it stopped, closed or cancelled it): the writable errors. */
  cancelled(link: AnyLink, reason: unknown): void {
    link.end(reason);
    this.#fail(stoppedError(this.#core, this.#core.stopped ? this.#core.reason : reason));
  }

  handled(): void {}

  /** Events the stage has asked for and not yet been sent. */
  get #credit(): number {
    return this.link.pending - this.#held.length;
  }

  write(event: T): void | Promise<void> {
    if (this.#failed) throw stoppedError(this.#core, this.#core.reason);
    if (this.#credit > 0) return this.#hold(event);
    return new Promise<void>((resolve, reject) => {
      this.#waiting = { resolve, reject };
    }).then(() => {
      if (!this.#failed) this.#hold(event);
    });
  }

  close(): Promise<void> {
    this.#flush();
    return new Promise<void>((resolve, reject) => {
      this.#closing = { resolve, reject };
      this.link.end("normal");
    });
  }

  abort(reason: unknown): Promise<void> {
    this.#failed = true;
    return this.#core.stop(abortReason(this.#core, reason));
  }

  /** The stage has handled every event written (the inlet link ended). */
  ended(): void {
    this.#closing?.resolve();
    this.#closing = undefined;
  }

  #hold(event: T): void {
    this.#held.push(event);
    if (this.#credit === 0) this.#flush();
    else if (this.#timer === undefined) this.#timer = setTimeout(() => this.#flush(), 0);
  }

  #flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const held = this.#held;
    if (held.length === 0 || !this.link.active) return;
    this.#held = [];
    this.link.send(held, 0);
  }

  #fail(error: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#held = [];
    this.#controller?.error(error);
    // The stream is errored already: a write waiting for demand just ends
    // (rejecting it too would be one more rejection for nobody).
    this.#waiting?.resolve();
    this.#waiting = undefined;
    this.#closing?.reject(error);
    this.#closing = undefined;
  }
}

/**
 * A consumer-side stage's writable: each chunk is one event for the stage,
 * through an inlet subscription whose maxDemand is `highWaterMark`.
 */
export function consumerWritable<T>(core: StageCore, highWaterMark: number): WritableStream<T> {
  const inlet = new WritableInlet<T>(core);
  const writable: WritableStream<T> = new streams.WritableStream<T>({
    start(controller) {
      inlet.controller = controller;
      if (core.stopped) controller.error(stoppedError(core, core.reason));
    },
    write: (event) => inlet.write(event),
    close: () => inlet.close(),
    abort: (reason) => inlet.abort(reason),
  }, { highWaterMark, size: () => 1 });
  inlet.owner = writable;
  const options = subscribeOptions<T>("write", { maxDemand: highWaterMark });
  const link = new Link<T>(inlet, core.owner, options, false);
  link.closesWhenLast = true;
  link.onEnd = () => inlet.ended();
  inlet.link = link;
  if (!core.stopped) {
    core.inlet!.add(link);
    core.post({ k: SUBSCRIBED, link });
  }
  return writable;
}
