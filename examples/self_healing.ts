// Usage: node_modules/.bin/deno run examples/self_healing.ts [--orders 2000]   (or: bun examples/self_healing.ts)
/**
 * A supervised pipeline that heals itself after crashes, and loses nothing.
 *
 * ```
 * orders Producer ──→ pricing ProducerConsumer ─┬─→ ledger Consumer 0 (books batches, crashes now and then)
 *                                               ├─→ ledger Consumer 1 (books batches, crashes now and then)
 *                                               └─→ bookers ConsumerSupervisor (books one order per task;
 *                                                   a task fails now and then and is retried)
 * ```
 *
 * - The `Supervisor` starts the stages in order. Each factory receives the
 *   running siblings, so a restarted ledger subscribes to the current
 *   pricing stage: the pipeline heals itself. The orders producer never
 *   stops because a consumer crashed.
 * - The three workers share the priced orders by demand (DemandDispatcher):
 *   each order goes to one of them.
 * - The ledgers subscribe with `redeliver: true`: when one crashes, the
 *   orders it had received and not finished go back to the pricing stage
 *   and reach another worker (or the restarted ledger). An order may be
 *   booked twice (the batch that threw halfway comes back whole), never
 *   lost: booking is idempotent, by order id.
 * - The bookers `ConsumerSupervisor` runs one task per order, at most
 *   `maxDemand` at a time, and retries a failed task with the same order
 *   (`restart: "transient"`).
 * - Once every order is made, `supervisor.close()` drains the pipeline in
 *   start order: every order still in flight is booked before it resolves.
 *
 * Crashes come from a seeded generator, so each run on a given runtime prints
 * the same story. With many more orders (`--orders 20000`) the crashes come
 * faster than `maxRestarts` per `maxSeconds` allow, and the supervisor gives up.
 */

import {
  Consumer,
  ConsumerSupervisor,
  Producer,
  ProducerConsumer,
  RestartIntensityError,
  Supervisor,
  type SupervisorChildren,
} from "../mod.ts";

interface Order {
  readonly id: number;
  readonly cents: number;
}
interface Priced extends Order {
  readonly totalCents: number;
}

const ORDERS = Number(argument("--orders") ?? 2000);
const random = seeded(2026);

let made = 0;
let crashes = 0;
let retries = 0;
const booked = new Map<number, number>(); // order id → total, idempotent
const starts: Record<string, number> = {};

let allMade!: () => void;
const madeEverything = new Promise<void>((resolve) => (allMade = resolve));
let draining = false;

function ledger(name: string) {
  return (children: SupervisorChildren) => {
    starts[name] = (starts[name] ?? 0) + 1;
    if (starts[name] > 1) console.log(`  ${name} restarted (start #${starts[name]})`);
    return new Consumer<Priced>({
      subscribeTo: [[children.get<ProducerConsumer<Order, Priced>>("pricing")!, {
        maxDemand: 20,
        redeliver: true,
      }]],
      handleEvents: async (orders) => {
        await Promise.resolve(); // a database write
        for (const order of orders) {
          if (!draining && random() < 0.005) {
            crashes++;
            console.log(`  ${name} crashed on order ${order.id}`);
            throw new Error(`${name} lost its database connection`);
          }
          booked.set(order.id, order.totalCents);
        }
      },
    });
  };
}

const supervisor = new Supervisor({
  strategy: "one_for_one",
  maxRestarts: 20, // at most 20 restarts in any 1 second, or give up
  maxSeconds: 1,
  children: [
    {
      id: "orders",
      start: () =>
        new Producer<Order>({
          handleDemand: (demand) => {
            const orders: Order[] = [];
            while (orders.length < demand && made < ORDERS) {
              orders.push({ id: made++, cents: 100 + Math.floor(random() * 9900) });
            }
            if (made === ORDERS) allMade();
            return orders;
          },
        }),
    },
    {
      id: "pricing",
      start: (children) =>
        new ProducerConsumer<Order, Priced>({
          subscribeTo: [[children.get<Producer<Order>>("orders")!, { maxDemand: 50 }]],
          handleEvents: (orders) =>
            orders.map((order) => ({ ...order, totalCents: Math.round(order.cents * 1.2) })),
        }),
    },
    { id: "ledger 0", start: ledger("ledger 0") },
    { id: "ledger 1", start: ledger("ledger 1") },
    {
      id: "bookers",
      start: (children) =>
        new ConsumerSupervisor<Priced>({
          subscribeTo: [[children.get<ProducerConsumer<Order, Priced>>("pricing")!, {
            maxDemand: 8,
          }]],
          restart: "transient",
          maxRestarts: 100,
          onTaskError: () => void retries++,
          handleEvent: async (order, { signal }) => {
            await Promise.resolve(); // a database write
            signal.throwIfAborted();
            if (!draining && random() < 0.02) {
              throw new Error(`database busy for order ${order.id}`);
            }
            booked.set(order.id, order.totalCents);
          },
        }),
    },
  ],
});

console.log(`Processing ${ORDERS} orders…`);
// The supervisor's closed rejects if crashes outpace maxRestarts in maxSeconds
// (a RestartIntensityError whose cause is the last crash): then report it.
const gaveUp = await Promise.race([madeEverything, supervisor.closed]).then(
  () => undefined,
  (error) => error,
);
if (gaveUp instanceof RestartIntensityError) {
  console.log(
    `\nThe supervisor gave up: ${gaveUp.message} (the last: ${(gaveUp.cause as Error).message})`,
  );
} else {
  draining = true;
  await supervisor.close();
  const missing = Array.from({ length: ORDERS }, (_, id) => id).filter((id) => !booked.has(id));
  console.log(`
made ${made} orders; ${crashes} ledger crashes healed; ${retries} booking tasks retried
booked ${booked.size} of ${ORDERS} orders; lost: ${missing.length}`);
  if (missing.length > 0) throw new Error(`orders lost: ${missing.join(", ")}`);
}

function argument(name: string): string | undefined {
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  const args: string[] = g.Deno?.args ?? g.process?.argv?.slice(2) ?? [];
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** A deterministic pseudo-random generator (mulberry32). */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
