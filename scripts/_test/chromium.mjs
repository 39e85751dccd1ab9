// The Chromium runtime: serves the repository's compiled build/ and the
// node:test shims from a loopback server and runs the suite in a headless
// page driven by playwright-core (Debian's /usr/bin/chromium, no download).

import { createServer } from "node:http";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { extname, join, normalize, sep } from "node:path";
import { chromium } from "playwright-core";
import { pageHtml } from "./browser_page.mjs";

const TYPES = { ".js": "text/javascript", ".mjs": "text/javascript", ".json": "application/json" };

/**
 * @param {string} root repository root (build/ must exist)
 * @param {string[]} files test files (tests/...ts)
 * @param {number} timeoutMs
 */
export async function runChromium(root, files, timeoutMs) {
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    if (url.pathname === "/") {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      response.end(pageHtml());
      return;
    }
    const path = normalize(join(root, decodeURIComponent(url.pathname)));
    const allowed = [join(root, "build") + sep, join(root, "scripts", "shims") + sep];
    if (!allowed.some((prefix) => path.startsWith(prefix))) {
      response.writeHead(403).end();
      return;
    }
    try {
      if (!statSync(path).isFile()) throw new Error("not a file");
      response.writeHead(200, {
        "content-type": TYPES[extname(path)] ?? "application/octet-stream",
        "cache-control": "no-store",
      });
      response.end(readFileSync(path));
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  const profile = mkdtempSync(join(tmpdir(), "webstage-chromium-"));
  let context;
  const output = [];
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: "/usr/bin/chromium",
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
    const page = context.pages()[0] ?? await context.newPage();
    page.on("console", (message) => output.push(`[console.${message.type()}] ${message.text()}`));
    page.on("pageerror", (error) => output.push(`[pageerror] ${error.message}`));
    page.setDefaultTimeout(timeoutMs);
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => globalThis.harnessReady === true);
    const records = await page.evaluate((names) => globalThis.runTests(names), files);
    return { records, output: output.join("\n") };
  } finally {
    await context?.close().catch(() => {});
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    rmSync(profile, { recursive: true, force: true });
  }
}
