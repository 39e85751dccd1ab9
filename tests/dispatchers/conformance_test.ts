import {
  BroadcastDispatcher,
  DemandDispatcher,
  type Dispatcher,
  type DispatcherHost,
  PartitionDispatcher,
  type Subscription,
} from "../../mod.ts";
import { dispatcherConformance } from "./_conformance.ts";

/**
 * A user-written dispatcher: each event goes to the subscription that has
 * been waiting longest (first asked, first served), one event at a time,
 * with GenStage's pending carry-over for subscriptions that leave.
 */
class FirstAskedDispatcher<T> implements Dispatcher<T> {
  #host!: DispatcherHost<T>;
  #demand = new Map<Subscription<T>, number>();
  #order: Subscription<T>[] = [];
  #pending = 0;

  init(host: DispatcherHost<T>): void {
    this.#host = host;
  }

  subscribe(subscription: Subscription<T>): number {
    this.#demand.set(subscription, 0);
    return 0;
  }

  cancel(subscription: Subscription<T>): number {
    this.#pending += this.#demand.get(subscription) ?? 0;
    this.#demand.delete(subscription);
    this.#order = this.#order.filter((s) => s !== subscription);
    return 0;
  }

  ask(count: number, subscription: Subscription<T>): number {
    const demand = this.#demand.get(subscription);
    if (demand === undefined) return 0;
    if (demand === 0) this.#order.push(subscription);
    this.#demand.set(subscription, demand + count);
    const already = Math.min(this.#pending, count);
    this.#pending -= already;
    return count - already;
  }

  dispatch(events: T[]): T[] {
    const out = new Map<Subscription<T>, T[]>();
    let i = 0;
    for (; i < events.length && this.#order.length > 0; i++) {
      const s = this.#order[0];
      const demand = this.#demand.get(s)! - 1;
      this.#demand.set(s, demand);
      if (demand === 0) this.#order.shift();
      const batch = out.get(s);
      if (batch === undefined) out.set(s, [events[i]]);
      else batch.push(events[i]);
    }
    for (const [s, batch] of out) this.#host.send(s, batch);
    const leftover = events.slice(i);
    this.#pending = Math.max(0, this.#pending - leftover.length);
    return leftover;
  }

  info(message: unknown): void {
    this.#host.info(message);
  }
}

dispatcherConformance({
  name: "DemandDispatcher",
  create: () => new DemandDispatcher<number>(),
  slots: 3,
  options: () => ({}),
});

dispatcherConformance({
  name: "BroadcastDispatcher",
  create: () => new BroadcastDispatcher<number>(),
  slots: 3,
  options: () => ({}),
});

for (const onLag of ["wait", "cancel", "drop"] as const) {
  dispatcherConformance({
    name: `BroadcastDispatcher with maxLag 16 and onLag "${onLag}"`,
    create: () => new BroadcastDispatcher<number>({ maxLag: 16, onLag }),
    slots: 3,
    options: () => ({}),
  });
}

dispatcherConformance({
  name: "PartitionDispatcher",
  create: () => new PartitionDispatcher<number>({ partitions: 3, hash: (n) => n % 3 }),
  slots: 3,
  options: (slot) => ({ partition: slot }),
});

dispatcherConformance({
  name: "PartitionDispatcher with a small backlog and discarded events",
  create: () =>
    new PartitionDispatcher<number, string>({
      partitions: ["a", "b"],
      hash: (n) => (n % 5 === 4 ? null : n % 2 === 0 ? "a" : "b"),
      maxBacklog: 4,
    }),
  slots: 2,
  options: (slot) => ({ partition: slot === 0 ? "a" : "b" }),
});

dispatcherConformance({
  name: "a user-written dispatcher (first asked, first served)",
  create: () => new FirstAskedDispatcher<number>(),
  slots: 3,
  options: () => ({}),
});
