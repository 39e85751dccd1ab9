// Starts examples/bun_sse_server.ts with Bun on loopback, connects real HTTP
// clients with fetch, lets them join and leave, stalls one, and checks what
// each received. Node only: it spawns Bun.

import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { nodeOnlyReason } from "./_runtime.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const MAX_LAG = 40;
const LAGGED = new RegExp(`client \\d+ lagged more than ${MAX_LAG} ticks behind`);

interface Tick {
  seq: number;
  time: string;
  pad: string;
}

/** A real SSE client over fetch that records every tick it parses. */
class SseClient {
  readonly ticks: Tick[] = [];
  readonly #abort = new AbortController();
  #reading: Promise<"ended" | "aborted" | "failed"> | undefined;
  #response: Promise<Response>;

  constructor(url: string) {
    this.#response = fetch(`${url}events`, { signal: this.#abort.signal });
  }

  /** Reads and parses the stream until it ends; resolves how it ended. */
  read(): Promise<"ended" | "aborted" | "failed"> {
    this.#reading ??= (async () => {
      const response = await this.#response;
      assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      let pending = "";
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return "ended";
          pending += value;
          let end;
          while ((end = pending.indexOf("\n\n")) !== -1) {
            const message = pending.slice(0, end);
            pending = pending.slice(end + 2);
            const data = message.split("\n").find((line) => line.startsWith("data: "));
            if (data !== undefined) this.ticks.push(JSON.parse(data.slice(6)));
          }
        }
      } catch (error) {
        return this.#abort.signal.aborted ? "aborted" : (void error, "failed");
      }
    })();
    return this.#reading;
  }

  /** Waits for the headers only (a client that then never reads its body). */
  async connected(): Promise<void> {
    await this.#response;
  }

  /** Disconnects (aborts the request) and waits for the reading to end. */
  async leave(): Promise<void> {
    this.#abort.abort();
    await this.#reading?.catch(() => {});
  }

  get seqs(): number[] {
    return this.ticks.map((tick) => tick.seq);
  }
}

async function until(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function assertConsecutive(name: string, seqs: number[]): void {
  assert.ok(seqs.length > 0, `${name} received no tick`);
  const gap = seqs.findIndex((seq, i) => i > 0 && seq !== seqs[i - 1] + 1);
  assert.equal(gap, -1, `${name} received ${seqs[gap - 1]} then ${seqs[gap]}`);
}

test(
  "examples/bun_sse_server.ts broadcasts ticks to clients that join and leave, and the lag policy cancels a lagging client without holding the others back (Node only: spawns Bun)",
  // Skipped outside Node: this test spawns processes (see nodeOnlyReason).
  { skip: nodeOnlyReason("spawns Bun"), timeout: 15_000 },
  async () => {
    let server: ChildProcess | undefined;
    const clients: SseClient[] = [];
    try {
      const log: string[] = [];
      server = spawn(
        `${root}node_modules/.bin/bun`,
        [
          "examples/bun_sse_server.ts",
          "--port",
          "0",
          "--tick-ms",
          "5",
          "--max-lag",
          String(MAX_LAG),
          "--padding",
          "32768",
        ],
        { cwd: root, stdio: ["ignore", "pipe", "pipe"], detached: true },
      );
      let exited: string | undefined;
      server.on("error", (error) => (exited = error.message));
      server.on("exit", (code, signal) => (exited = `exit ${code ?? signal}`));
      server.stdout!.setEncoding("utf8").on(
        "data",
        (text: string) => log.push(...text.split("\n")),
      );
      server.stderr!.setEncoding("utf8").on(
        "data",
        (text: string) => log.push(...text.split("\n")),
      );
      await until("the server prints its URL", () => {
        if (exited !== undefined) {
          throw new Error(`The server stopped (${exited}):\n${log.join("\n")}`);
        }
        return log.some((line) => line.startsWith("Listening on "));
      });
      const url = log.find((line) => line.startsWith("Listening on "))!.split(" ")[2];
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      const stats = async () => (await fetch(`${url}stats`)).json();

      // A and B join; C joins later; B leaves.
      const a = new SseClient(url);
      const b = new SseClient(url);
      clients.push(a, b);
      a.read();
      b.read();
      await until("A and B receive 20 ticks", () => a.ticks.length >= 20 && b.ticks.length >= 20);
      const c = new SseClient(url);
      clients.push(c);
      c.read();
      await until("C receives 20 ticks", () => c.ticks.length >= 20);
      await b.leave();
      await until("the server counts 2 clients", async () => (await stats()).clients === 2);

      // S connects and never reads: once its socket buffers are full it lags
      // behind the others, who go on, until the dispatcher cancels it.
      const s = new SseClient(url);
      clients.push(s);
      await s.connected();
      const beforeSlow = a.seqs.at(-1)!;
      await until(
        "the server drops the slow client",
        () => log.some((line) => LAGGED.test(line)),
        10_000,
      );
      const droppedAt = (await stats()).ticks;
      await until(
        "A and C get 20 ticks past the drop",
        () => a.seqs.at(-1)! >= droppedAt + 20 && c.seqs.at(-1)! >= droppedAt + 20,
      );
      // Now S reads what the server had sent before dropping it: its stream ends.
      const ending = await s.read();
      assert.notEqual(ending, "aborted");
      await a.leave();
      await c.leave();
      await until("the server counts 0 clients", async () => (await stats()).clients === 0);
      const final = await stats();

      // Every client received consecutive ticks, and the same ticks while connected.
      for (const [name, client] of [["A", a], ["B", b], ["C", c], ["S", s]] as const) {
        assertConsecutive(name, client.seqs);
      }
      const times = new Map<number, string>();
      for (const client of [a, b, c, s]) {
        for (const tick of client.ticks) {
          assert.equal(
            times.get(tick.seq) ?? tick.time,
            tick.time,
            `tick ${tick.seq} differs between clients`,
          );
          times.set(tick.seq, tick.time);
          assert.equal(tick.pad.length, 32768);
        }
      }
      // A was connected all along: it shared B's ticks, then C's, and went
      // through the slow client's episode without a gap or a stall.
      const shared = (x: SseClient, y: SseClient) =>
        x.seqs.filter((seq) => y.seqs.includes(seq)).length;
      assert.ok(
        shared(a, b) >= 15 && shared(a, c) >= 40,
        `A shares ${shared(a, b)} with B, ${shared(a, c)} with C`,
      );
      assert.ok(b.seqs.at(-1)! < c.seqs.at(-1)!);
      assert.ok(a.seqs[0] < beforeSlow && a.seqs.at(-1)! > droppedAt && c.seqs.at(-1)! > droppedAt);
      // The slow client got ticks only up to around its drop.
      assert.ok(s.seqs.at(-1)! < droppedAt);
      // The dispatcher kept at most MAX_LAG ticks for the slow client, and the
      // producer buffered next to nothing: A and C always took the ticks.
      assert.deepEqual(
        {
          ...final,
          maxBufferedOk: final.maxBuffered <= 5,
          maxLagSeenOk: final.maxLagSeen > 0 && final.maxLagSeen <= MAX_LAG,
          maxBuffered: undefined,
          maxLagSeen: undefined,
          ticks: undefined,
          buffered: undefined,
        },
        {
          maxBufferedOk: true,
          maxLagSeenOk: true,
          maxBuffered: undefined,
          maxLagSeen: undefined,
          ticks: undefined,
          buffered: undefined,
          clients: 0,
          disconnectedForLag: 1,
          discarded: 0,
          bufferSize: MAX_LAG,
          maxLag: MAX_LAG,
          clientMaxDemand: 10,
        },
        JSON.stringify(final),
      );
      assert.equal(log.filter((line) => LAGGED.test(line)).length, 1);
    } finally {
      for (const client of clients) await client.leave();
      if (server?.pid !== undefined) {
        try {
          process.kill(-server.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
  },
);
