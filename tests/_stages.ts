// Stage fixtures for the core tests, after GenStage's test suite: a Counter
// producer that records every demand, and a Forwarder consumer that records
// every batch.

import {
  Consumer,
  type ConsumerOptions,
  Producer,
  type ProducerOptions,
  type SubscribeTo,
} from "../mod.ts";
import { deferred } from "./_helpers.ts";

/** A producer emitting `start, start + 1, …` on demand, recording each demand. */
export function counter(
  start = 0,
  options: Omit<ProducerOptions<number>, "handleDemand"> = {},
): { producer: Producer<number>; demands: number[] } {
  let next = start;
  const demands: number[] = [];
  const producer = new Producer<number>({
    ...options,
    handleDemand: (demand) => {
      demands.push(demand);
      return Array.from({ length: demand }, () => next++);
    },
  });
  return { producer, demands };
}

/** A consumer recording its batches; `until(n)` resolves once n batches arrived. */
export function forwarder<T>(
  subscribeTo: SubscribeTo<T>[],
  options: Omit<ConsumerOptions<T>, "handleEvents" | "subscribeTo"> = {},
): { consumer: Consumer<T>; batches: T[][]; until(count: number): Promise<void> } {
  const batches: T[][] = [];
  const waits: Array<{ count: number; resolve(): void }> = [];
  const consumer = new Consumer<T>({
    ...options,
    subscribeTo,
    handleEvents: (events) => {
      batches.push(events);
      for (let i = waits.length - 1; i >= 0; i--) {
        if (batches.length >= waits[i].count) waits.splice(i, 1)[0].resolve();
      }
    },
  });
  return {
    consumer,
    batches,
    until(count) {
      if (batches.length >= count) return Promise.resolve();
      const d = deferred();
      waits.push({ count, resolve: d.resolve });
      return d.promise;
    },
  };
}

/** Replaces console.warn while `body` runs; returns the warnings, joined per call. */
export async function captureWarnings(body: () => unknown): Promise<string[]> {
  const seen: string[] = [];
  const original = console.warn;
  console.warn = (...args: unknown[]) => void seen.push(args.map(String).join(" "));
  try {
    await body();
  } finally {
    console.warn = original;
  }
  return seen;
}
