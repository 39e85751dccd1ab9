// Runtime detection, timing, heap reading and forced garbage collection for
// the benchmark. Runtime globals are reached only through guarded lookups so
// the same file runs on Node (20 and 24), Deno and Bun.

/** What a scenario run hands back: the events its consumers saw. */
export interface Tally {
  count: number;
  sum: number;
}

/** Called by consumers once per batch (or per event for per-event peers). */
export type Probe = () => void;

/** A probe that does nothing: the default outside `--memory`. */
export const NO_PROBE: Probe = () => {};

interface RuntimeGlobals {
  Deno?: { version: { deno: string }; memoryUsage(): { heapUsed: number; rss: number } };
  Bun?: { version: string; gc(force: boolean): void };
  process?: {
    versions: { node?: string };
    memoryUsage(): { heapUsed: number; rss: number };
    cpuUsage?(): { user: number; system: number };
    argv: string[];
    exitCode?: number | string;
    stdout: { write(text: string): boolean };
    stderr: { write(text: string): boolean };
  };
  gc?: () => void;
}

const g = globalThis as unknown as RuntimeGlobals;

/** `"node 24.21.0"`, `"deno 2.9.6"`, `"bun 1.4.5"`, or `"unknown"`. */
export function runtimeName(): string {
  if (g.Deno !== undefined) return `deno ${g.Deno.version.deno}`;
  if (g.Bun !== undefined) return `bun ${g.Bun.version}`;
  if (g.process?.versions.node !== undefined) return `node ${g.process.versions.node}`;
  return "unknown";
}

/** The runtime family: the key of the per-runtime targets. */
export function runtimeKind(): "node20" | "node" | "deno" | "bun" | "unknown" {
  if (g.Deno !== undefined) return "deno";
  if (g.Bun !== undefined) return "bun";
  const node = g.process?.versions.node;
  if (node !== undefined) return node.startsWith("20.") ? "node20" : "node";
  return "unknown";
}

/** The command-line arguments after the script, on every runtime. */
export function scriptArgs(): string[] {
  if (g.Deno !== undefined) return [...(g.Deno as unknown as { args: string[] }).args];
  const argv = g.process?.argv ?? [];
  const at = argv.findIndex((a) => /bench\.(ts|js|mjs)$/.test(a));
  return argv.slice(at >= 0 ? at + 1 : 2);
}

/** Writes to stdout (or stderr) without a trailing newline being added. */
export function write(text: string, stream: "stdout" | "stderr" = "stdout"): void {
  if (g.process !== undefined) g.process[stream].write(text);
  else if (stream === "stdout") console.log(text.replace(/\n$/, ""));
  else console.error(text.replace(/\n$/, ""));
}

/** Sets the exit code without exiting (pending output is flushed). */
export function failExit(): void {
  if (g.Deno !== undefined) (g.Deno as unknown as { exitCode: number }).exitCode = 1;
  else if (g.process !== undefined) g.process.exitCode = 1;
}

/** Heap in use, in bytes, or undefined when the runtime does not say. */
export function heapUsed(): number | undefined {
  if (g.Deno !== undefined) return g.Deno.memoryUsage().heapUsed;
  if (g.process !== undefined && typeof g.process.memoryUsage === "function") {
    return g.process.memoryUsage().heapUsed;
  }
  return undefined;
}

/**
 * Resident set size, in bytes, or undefined. It also sees memory a runtime
 * keeps outside its JS heap (Bun's native stream queues, for one).
 */
export function rss(): number | undefined {
  if (g.Deno !== undefined) return g.Deno.memoryUsage().rss;
  if (g.process !== undefined && typeof g.process.memoryUsage === "function") {
    return g.process.memoryUsage().rss;
  }
  return undefined;
}

let collector: (() => void) | undefined | null = null;

/**
 * Finds a way to force a full garbage collection: `Bun.gc(true)`, a global
 * `gc` (`--expose-gc`), or V8's flag set at run time through `node:v8` and
 * fetched from a fresh `node:vm` context. Undefined if none works.
 */
export async function findCollector(): Promise<(() => void) | undefined> {
  if (collector !== null) return collector;
  collector = undefined;
  if (g.Bun !== undefined) {
    const bun = g.Bun;
    collector = () => bun.gc(true);
  } else if (typeof g.gc === "function") {
    collector = g.gc;
  } else {
    try {
      const v8 = await import("node:v8");
      const vm = await import("node:vm");
      v8.setFlagsFromString("--expose-gc");
      const gc = vm.runInNewContext("gc");
      if (typeof gc === "function") {
        gc();
        collector = gc as () => void;
      }
    } catch {
      collector = undefined;
    }
  }
  return collector;
}

/** Collects garbage twice (to finish weak callbacks) if a collector was found. */
export function collect(): void {
  if (collector) {
    collector();
    collector();
  }
}

/** Tracks the highest heap reading seen by a probe called from the hot path. */
export class HeapPeak {
  readonly baseline: number;
  peak: number;
  #calls = 0;
  readonly #every: number;

  constructor(every = 32) {
    collect();
    this.baseline = heapUsed() ?? 0;
    this.peak = this.baseline;
    this.#every = every;
  }

  /** The probe to give the scenario: reads the heap every `every` calls. */
  readonly probe: Probe = () => {
    if (++this.#calls % this.#every !== 0) return;
    const used = heapUsed() ?? 0;
    if (used > this.peak) this.peak = used;
  };

  /** Peak growth over the baseline, in bytes, with a final reading. */
  growth(): number {
    const used = heapUsed() ?? 0;
    if (used > this.peak) this.peak = used;
    return this.peak - this.baseline;
  }
}

/**
 * A clock in seconds: wall time (`performance.now()`), or with `cpu` the
 * process's user + system CPU time, which a busy machine disturbs less (but
 * which also counts the runtime's helper threads: GC, compiler).
 */
export function clock(cpu: boolean): () => number {
  if (!cpu) return () => performance.now() / 1000;
  const usage = g.process?.cpuUsage;
  if (usage === undefined) {
    throw new TypeError("Cannot measure CPU time as this runtime has no process.cpuUsage()");
  }
  const proc = g.process!;
  return () => {
    const { user, system } = usage.call(proc);
    return (user + system) / 1e6;
  };
}

/** The median of a non-empty list of numbers. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Resolves after `ms` milliseconds (a macrotask: lets timers and I/O run). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs `run` with a watchdog: a pipeline that never finishes fails with a
 * message instead of hanging the benchmark.
 */
export async function withWatchdog<R>(
  label: string,
  seconds: number,
  run: () => Promise<R>,
): Promise<R> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const watchdog = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${label} did not finish within ${seconds} s (a stalled pipeline?)`)),
      seconds * 1000,
    );
  });
  try {
    return await Promise.race([run(), watchdog]);
  } finally {
    clearTimeout(timer);
  }
}

/** `12.3 M/s`, `1.34 G/s`, `850 k/s`. */
export function formatRate(eventsPerSecond: number): string {
  if (eventsPerSecond >= 1e9) return `${(eventsPerSecond / 1e9).toFixed(2)} G/s`;
  if (eventsPerSecond >= 1e6) {
    return `${(eventsPerSecond / 1e6).toFixed(eventsPerSecond >= 1e8 ? 0 : 2)} M/s`;
  }
  return `${(eventsPerSecond / 1e3).toFixed(0)} k/s`;
}

/** `512 kB`, `38.2 MB`. */
export function formatBytes(bytes: number): string {
  if (Math.abs(bytes) >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  return `${(bytes / 1024).toFixed(0)} kB`;
}

/** The one-minute load average from /proc/loadavg (Linux), or undefined. */
export function readLoadAverage(): string | undefined {
  try {
    if (g.Deno !== undefined) {
      const deno = g.Deno as unknown as { readTextFileSync(path: string): string };
      return deno.readTextFileSync("/proc/loadavg").split(" ")[0];
    }
    const builtin = (g.process as { getBuiltinModule?(name: string): unknown } | undefined)
      ?.getBuiltinModule?.("node:fs") as
        | { readFileSync(path: string, encoding: string): string }
        | undefined;
    return builtin?.readFileSync("/proc/loadavg", "utf8").split(" ")[0];
  } catch {
    return undefined;
  }
}
