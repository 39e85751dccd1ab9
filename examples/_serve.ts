// A small HTTP server for the examples that runs on Deno, Bun and Node: it
// takes a fetch-style handler (Request in, Response out) and starts
// Deno.serve, Bun.serve or node:http, whichever runtime this is. Response
// bodies are streamed, paced by the client, and a client that leaves cancels
// its body (so a `monitor` stream behind it stops). Not a library module:
// examples may use runtime APIs, src/ may not.

import type { ServerResponse } from "node:http";

/** A fetch-style request handler. */
export type Handler = (request: Request) => Response | Promise<Response>;

/** A running server. */
export interface Server {
  /** Its address, `http://<hostname>:<port>/`. */
  readonly url: string;
  /** Stops listening and ends every connection. */
  close(): Promise<void>;
}

/** Where to listen. */
export interface ServeOptions {
  /** 0 picks a free port. */
  readonly port: number;
  /** Default 127.0.0.1. */
  readonly hostname?: string;
}

interface DenoServer {
  readonly addr: { readonly port: number };
  shutdown(): Promise<void>;
}
interface DenoGlobal {
  serve(
    options: { port: number; hostname: string; onListen(): void },
    handler: Handler,
  ): DenoServer;
}
interface BunServer {
  readonly port: number;
  stop(closeActiveConnections: boolean): void;
}
interface BunGlobal {
  serve(
    options: { port: number; hostname: string; idleTimeout: number; fetch: Handler },
  ): BunServer;
}

/** Starts a server for `handler` on the runtime this runs on. */
export async function serve(handler: Handler, options: ServeOptions): Promise<Server> {
  const hostname = options.hostname ?? "127.0.0.1";
  const runtime = globalThis as { Deno?: DenoGlobal; Bun?: BunGlobal };
  const url = (port: number) => `http://${hostname}:${port}/`;
  if (runtime.Deno !== undefined) {
    const server = runtime.Deno.serve({ port: options.port, hostname, onListen() {} }, handler);
    return { url: url(server.addr.port), close: () => server.shutdown() };
  }
  if (runtime.Bun !== undefined) {
    // idleTimeout 0: a stream of snapshots may be quiet longer than Bun's default 10 s.
    const server = runtime.Bun.serve({
      port: options.port,
      hostname,
      idleTimeout: 0,
      fetch: handler,
    });
    return { url: url(server.port), close: () => Promise.resolve(server.stop(true)) };
  }
  return await serveNode(handler, options.port, hostname, url);
}

/**
 * Sends a fetch `Response` to a node:http response: the body is paced by the
 * socket's back pressure (a slow client reads fewer snapshots), and a client
 * that leaves cancels it.
 */
export async function sendToNode(response: Response, res: ServerResponse): Promise<void> {
  res.writeHead(response.status, Object.fromEntries(response.headers));
  if (response.body === null) return void res.end();
  const reader = response.body.getReader();
  res.on("close", () => {
    if (!res.writableFinished) reader.cancel("client gone").catch(() => {});
  });
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return void res.end();
    if (!res.write(value)) await new Promise((resolve) => res.once("drain", resolve));
  }
}

/** node:http, with a fetch Request built from each request and the Response streamed back. */
async function serveNode(
  handler: Handler,
  port: number,
  hostname: string,
  url: (port: number) => string,
): Promise<Server> {
  const { createServer } = await import("node:http");
  const server = createServer((req, res) => {
    const controller = new AbortController();
    res.on("close", () => controller.abort());
    const request = new Request(new URL(req.url ?? "/", `http://${req.headers.host ?? hostname}`), {
      method: req.method,
      headers: Object.entries(req.headers).flatMap(([name, value]) =>
        value === undefined ? [] : [[name, Array.isArray(value) ? value.join(", ") : value]]
      ) as [string, string][],
      signal: controller.signal,
    });
    (async () => sendToNode(await handler(request), res))().catch((error) => {
      if (!controller.signal.aborted) console.error(error);
      res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, hostname, () => resolve());
  });
  const address = server.address();
  const actual = typeof address === "object" && address !== null ? address.port : port;
  return {
    url: url(actual),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
