// Loads examples/browser/ in headless Chromium, as a user opening the page
// would, waits for the final state and checks the rendered numbers.
// Node only: it starts a Node HTTP server and spawns Chromium.

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { chromium } from "playwright-core";
import { nodeOnlyReason } from "./_runtime.ts";

const CHROMIUM = "/usr/bin/chromium";

function skipReason(): string | false {
  const notNode = nodeOnlyReason("starts a Node HTTP server and spawns Chromium");
  if (notNode) return notNode;
  if (!existsSync(CHROMIUM) && !process.env.CI) {
    const reason =
      `SKIPPED LOUDLY: ${CHROMIUM} is absent (apt-get install -y chromium), so the browser example is not tested`;
    console.warn(`\n*** ${reason} ***\n`);
    return reason;
  }
  return false;
}

/** The longest chain and the highest peak for 1..count, computed here independently. */
function expected(count: number): { longest: string; peak: string } {
  let longest = { n: 0, steps: -1 };
  let highest = { n: 0, peak: -1 };
  for (let n = 1; n <= count; n++) {
    let steps = 0;
    let peak = n;
    for (let v = n; v !== 1; steps++) {
      v = v % 2 === 0 ? v / 2 : 3 * v + 1;
      peak = Math.max(peak, v);
    }
    if (steps > longest.steps) longest = { n, steps };
    if (peak > highest.peak) highest = { n, peak };
  }
  return {
    longest: `${longest.steps} steps from ${longest.n}`,
    peak: `${highest.peak.toLocaleString("en-US")} from ${highest.n}`,
  };
}

test(
  "examples/browser renders the streamed events' progress to a done state in Chromium (Node only: spawns Chromium)",
  // Skipped outside Node, and where Chromium is missing without CI (see skipReason).
  { skip: skipReason(), timeout: 15_000 },
  async () => {
    const { startServer } = await import("../../examples/browser/serve.ts");
    const tmp = mkdtempSync(join(tmpdir(), "webstage-browser-example-"));
    const server = await startServer(0);
    let context: Awaited<ReturnType<typeof chromium.launchPersistentContext>> | undefined;
    try {
      context = await chromium.launchPersistentContext(join(tmp, "profile"), {
        executablePath: CHROMIUM,
        headless: true,
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

      // Record every value the "events rendered" counter shows, to check that
      // progress is rendered as events flow, not only at the end.
      await page.addInitScript(() => {
        const seen: string[] = [];
        (globalThis as unknown as { seen: string[] }).seen = seen;
        document.addEventListener("DOMContentLoaded", () => {
          const rendered = document.getElementById("rendered")!;
          new MutationObserver(() => seen.push(rendered.textContent ?? "")).observe(rendered, {
            childList: true,
            characterData: true,
            subtree: true,
          });
        });
      });

      const count = 3000; // 30 batches of MAX_DEMAND
      await page.goto(`${server.url}?count=${count}&pause=1`);
      await page.waitForFunction(
        () => ["done", "error"].includes(document.getElementById("status")?.dataset.state ?? ""),
        undefined,
        { timeout: 10_000 },
      );
      const shown = await page.evaluate(() => {
        const text = (id: string) => document.getElementById(id)!.textContent;
        const bar = document.getElementById("bar") as HTMLProgressElement;
        return {
          status: text("status"),
          read: text("read"),
          parsed: text("parsed"),
          rendered: text("rendered"),
          total: text("total"),
          percent: text("percent"),
          bar: [bar.value, bar.max],
          batches: Number(text("batches")),
          longest: text("longest"),
          peak: text("peak"),
          seen: (globalThis as unknown as { seen: string[] }).seen.map((s) =>
            Number(s.replaceAll(",", ""))
          ),
        };
      });
      const screenshot = join(tmp, "browser_example.png");
      await page.screenshot({ path: screenshot, fullPage: true });
      console.log(`screenshot: ${screenshot}`);

      assert.deepEqual(errors, []);
      const { seen } = shown;
      assert.ok(seen.length >= 10, `progress rendered only ${seen.length} times`);
      assert.ok(
        seen.every((value, i) => i === 0 || value > seen[i - 1]),
        `progress went backwards: ${seen}`,
      );
      assert.equal(seen.at(-1), count);
      const { longest, peak } = expected(count);
      assert.deepEqual(
        { ...shown, seen: undefined, batches: shown.batches >= count / 100 },
        {
          status: "done",
          read: "3,000",
          parsed: "3,000",
          rendered: "3,000",
          total: "3,000",
          percent: "100%",
          bar: [count, count],
          seen: undefined,
          batches: true,
          longest,
          peak,
        },
      );
      assert.ok(statSync(screenshot).size > 1000);
    } finally {
      await context?.close();
      await server.close();
      rmSync(join(tmp, "profile"), { recursive: true, force: true });
    }
  },
);
