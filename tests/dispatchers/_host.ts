// A recording DispatcherHost and stand-in subscriptions, to drive dispatchers
// as pure state machines (like gen_stage's dispatcher tests).

import type { DispatcherHost, SubscribeOptions, Subscription } from "../../mod.ts";

/** A stand-in subscription with a name for readable assertions. */
export interface TestSubscription<T> extends Subscription<T> {
  readonly name: string;
}

/** Creates a stand-in subscription. `consumer` defaults to a fresh object (null = raw). */
export function subscription<T = unknown>(
  name: string,
  options: SubscribeOptions<T> = {},
  consumer: object | null = { name },
): TestSubscription<T> {
  const maxDemand = options.maxDemand ?? 1000;
  return {
    name,
    producer: {},
    consumer,
    options: {
      ...options,
      maxDemand,
      minDemand: options.minDemand ?? Math.floor(maxDemand / 2),
      cancel: options.cancel ?? "permanent",
      redeliver: options.redeliver ?? false,
    } as TestSubscription<T>["options"],
    ask() {},
    cancel() {},
  };
}

/** Records everything a dispatcher asks of its stage. */
export class RecordingHost<T> implements DispatcherHost<T> {
  readonly bufferSize: number;
  sent: Array<[string, T[]]> = [];
  asks: Array<[string, number]> = [];
  infos: unknown[] = [];
  cancels: Array<[string, unknown]> = [];
  /** Counts given to the optional `discard` (events a dispatcher dropped). */
  discards: number[] = [];

  constructor(bufferSize = 10_000) {
    this.bufferSize = bufferSize;
  }

  send(subscription: Subscription<T>, events: T[]): void {
    this.sent.push([(subscription as TestSubscription<T>).name, events]);
  }

  ask(subscription: Subscription<T>, count: number): void {
    this.asks.push([(subscription as TestSubscription<T>).name, count]);
  }

  info(message: unknown): void {
    this.infos.push(message);
  }

  cancel(subscription: Subscription<T>, reason: unknown): void {
    this.cancels.push([(subscription as TestSubscription<T>).name, reason]);
  }

  discard(count: number): void {
    this.discards.push(count);
  }

  /** Returns the batches sent since the last call, and forgets them. */
  take(): Array<[string, T[]]> {
    const sent = this.sent;
    this.sent = [];
    return sent;
  }
}
