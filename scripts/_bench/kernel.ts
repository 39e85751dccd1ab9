// The work of the worker scenarios, shared by the benchmark and its worker
// module (worker_kernel.ts), so both sides compute the same thing.

/** Rounds of the CPU kernel: about 20 µs per event on the 2-core reference machine. */
export const ROUNDS = 5000;

/**
 * A fixed arithmetic kernel: `ROUNDS` rounds of integer mixing, the same
 * work for every event on every runtime. Returns a number below 1000, so
 * that sums stay exact.
 */
export function cpu(x: number): number {
  let h = x | 0;
  for (let i = 0; i < ROUNDS; i++) {
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
    h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
    h ^= h >>> 15;
  }
  return (h >>> 0) % 1000;
}

/** The trivial map: the boundary's cost stands alone. */
export function trivial(x: number): number {
  return x * 2;
}

/** The kernels by name, as the worker module receives it in `data`. */
export const KERNELS: Readonly<Record<"cpu" | "trivial", (x: number) => number>> = {
  cpu,
  trivial,
};
