// Usage: bun examples/bun_sse_server.ts [--port 8000] [--tick-ms 1000] [--max-lag 100] [--padding 0]  (then open the printed URL)
/**
 * A Bun HTTP server that broadcasts a live event source to every connected
 * client as Server-Sent Events.
 *
 * ```
 * timer → ticks Producer (BroadcastDispatcher, maxLag) ─┬─ producer.subscribe() → SSE response of client 1
 *                                                       ├─ …
 *                                                       └─ producer.subscribe() → SSE response of client N
 * ```
 *
 * - `GET /events`: the SSE stream. Every tick is `id: <seq>`, `event: tick`,
 *   `data: {"seq":…,"time":…}`; ticks are numbered from 1, and a client
 *   receives every tick from the one after it joined, in order, with no
 *   gaps, until it leaves. A reconnecting `EventSource` resumes with the
 *   live ticks: there is no replay of the ones it missed.
 * - `GET /stats`: JSON counters (clients, ticks, buffered, maxBuffered,
 *   disconnectedForLag, discarded, and the dispatcher's lag of the slowest
 *   client, maxLagSeen).
 * - `GET /`: a page that shows the ticks with `EventSource`.
 *
 * Clients join and leave at any time: each joining client gets its own
 * subscription (`producer.subscribe({ maxDemand: CLIENT_MAX_DEMAND })`), and
 * a client that disconnects cancels its response body, which cancels its
 * subscription. Ticks are emitted only while at least one client is
 * connected.
 *
 * ## Slow clients: cancelled once they lag `--max-lag` ticks behind
 *
 * A subscription asks for more only as its response body is pulled, which
 * Bun does only as fast as the client's socket accepts data. A plain
 * BroadcastDispatcher paces everyone by the slowest subscriber, so one
 * client that stops reading would hold back every other. This one has a lag
 * policy instead: `new BroadcastDispatcher({ maxLag, onLag: "cancel" })`.
 * The dispatcher keeps up to `--max-lag` ticks for a client that falls
 * behind the fastest and goes on serving the others; once a client would
 * lag more, its subscription is cancelled with reason `"lagging"`. The
 * producer's `handleCancel` sees that reason and disconnects the client:
 * its response ends after the ticks already written to it, and its
 * connection is closed if it does not take those within
 * `CLOSE_GRACE_SECONDS`. The other clients lose nothing. Hence:
 *
 * - the dispatcher keeps at most `--max-lag` ticks (for the slowest client);
 *   the producer buffers ticks only while no client at all can take one,
 *   up to `--max-lag` (`bufferKeep: "last"`; ticks it would drop are
 *   counted as `discarded` in `/stats`);
 * - each client holds at most `CLIENT_MAX_DEMAND` ticks in its subscription
 *   plus one encoded chunk in its response body, besides the socket's
 *   kernel buffers;
 * - a slow client never delays the others.
 *
 * Options (flags, or environment variables): `--port` / `PORT` (0 picks a
 * free port; default 8000), `--host` / `HOST` (default 127.0.0.1),
 * `--tick-ms` / `TICK_MS` (default 1000), `--max-lag` / `MAX_LAG` (default
 * 100), `--padding` / `PADDING` (characters of filler per tick, default 0: a
 * test uses it to fill a slow client's socket buffers quickly).
 *
 * @module
 */

import { BroadcastDispatcher, Producer, type Subscription } from "../mod.ts";

/** The Bun API this example uses (Bun's own types are not installed here). */
declare const Bun: {
  serve(options: {
    port: number;
    hostname: string;
    idleTimeout?: number;
    fetch(request: Request, server: BunServer): Response | Promise<Response>;
  }): BunServer;
  argv: string[];
  env: Record<string, string | undefined>;
};

interface BunServer {
  readonly url: URL;
  /** Sets the idle timeout of one request's connection. */
  timeout(request: Request, seconds: number): void;
  stop(closeActiveConnections?: boolean): Promise<void>;
}

/** Seconds a disconnected client gets to take the bytes already written before its connection is closed. */
const CLOSE_GRACE_SECONDS = 2;

/** The most ticks a client's subscription asks for at a time. */
const CLIENT_MAX_DEMAND = 10;

interface Tick {
  readonly seq: number;
  readonly time: string;
  /** Filler, only with `--padding`. */
  readonly pad?: string;
}

interface Client {
  readonly id: number;
  disconnect(reason: string): void;
}

function option(name: string, env: string, fallback: number): number {
  const at = Bun.argv.indexOf(`--${name}`);
  const text = at === -1 ? Bun.env[env] : Bun.argv[at + 1];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(
      `Cannot start as --${name} must be an integer >= 0: current value is ${text}`,
    );
  }
  return value;
}

const port = option("port", "PORT", 8000);
const tickMs = Math.max(1, option("tick-ms", "TICK_MS", 1000));
const maxLag = Math.max(1, option("max-lag", "MAX_LAG", 100));
const padding = option("padding", "PADDING", 0);
const hostAt = Bun.argv.indexOf("--host");
const hostname = (hostAt === -1 ? Bun.env.HOST : Bun.argv[hostAt + 1]) || "127.0.0.1";

const stats = { ticks: 0, maxBuffered: 0, maxLagSeen: 0, disconnectedForLag: 0, discarded: 0 };
const clients = new Map<number, Client>();
let nextClientId = 1;

const dispatcher = new BroadcastDispatcher<Tick>({ maxLag, onLag: "cancel" });
const subscriptions = new Set<Subscription<Tick>>();
const ticks = new Producer<Tick>({
  dispatcher,
  bufferSize: maxLag,
  bufferKeep: "last",
  onDiscard: (count) => {
    stats.discarded += count;
    return false;
  },
  handleSubscribe: (subscription) => void subscriptions.add(subscription),
  handleCancel: (subscription, reason) => {
    subscriptions.delete(subscription);
    if (reason !== "lagging") return;
    stats.disconnectedForLag++;
    const id = subscription.options.client as number;
    clients.get(id)?.disconnect(`client ${id} lagged more than ${maxLag} ticks behind`);
  },
});

const filler = "x".repeat(padding);
setInterval(() => {
  if (clients.size === 0) return;
  const seq = ++stats.ticks;
  const time = new Date().toISOString();
  ticks.emit([padding > 0 ? { seq, time, pad: filler } : { seq, time }]);
  stats.maxBuffered = Math.max(stats.maxBuffered, ticks.bufferedCount);
  for (const subscription of subscriptions) {
    stats.maxLagSeen = Math.max(stats.maxLagSeen, dispatcher.lagOf(subscription));
  }
}, tickMs);

const encoder = new TextEncoder();

function toEventText(batch: Tick[]): string {
  let text = "";
  for (const tick of batch) {
    text += `id: ${tick.seq}\nevent: tick\ndata: ${JSON.stringify(tick)}\n\n`;
  }
  return text;
}

/** The SSE response of a new client: its own subscription to the ticks. */
function events(request: Request, server: BunServer): Response {
  const id = nextClientId++;
  // `client` is a custom subscription option: handleCancel reads it back.
  const batches = ticks.subscribe({ maxDemand: CLIENT_MAX_DEMAND, client: id }).getReader();
  let open = true;
  let body!: ReadableStreamDefaultController<Uint8Array>;
  const leave = (reason: string) => {
    if (!open) return;
    open = false;
    clients.delete(id);
    batches.cancel(reason).catch(() => {});
    console.log(`- client ${id} left (${reason}); ${clients.size} connected`);
  };
  clients.set(id, {
    id,
    disconnect(reason) {
      if (!open) return;
      leave(reason);
      // No more ticks: the response ends after what it already holds, and the
      // connection is closed if the client does not take that in time.
      body.close();
      server.timeout(request, CLOSE_GRACE_SECONDS);
    },
  });
  console.log(`+ client ${id} joined after tick ${stats.ticks}; ${clients.size} connected`);
  request.signal.addEventListener("abort", () => leave("disconnected"));
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      body = controller;
      // A comment first, so that the client gets the headers at once.
      controller.enqueue(encoder.encode(`: client ${id}\nretry: 1000\n\n`));
    },
    async pull(controller) {
      let result: ReadableStreamReadResult<Tick[]>;
      try {
        result = await batches.read();
      } catch (reason) {
        // Cancelled for lagging: handleCancel has disconnected it already.
        leave(String(reason));
        return;
      }
      if (!open) return;
      if (result.done) {
        leave("the source ended");
        return controller.close();
      }
      controller.enqueue(encoder.encode(toEventText(result.value)));
    },
    cancel() {
      leave("disconnected");
    },
  }, { highWaterMark: 0 });
  return new Response(stream, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-client-id": String(id),
    },
  });
}

const page = `<!doctype html>
<meta charset="utf-8"><title>webstage SSE ticks</title><link rel="icon" href="data:,">
<h1>Ticks</h1><p>Last tick: <output id="seq">–</output>; received <output id="count">0</output>.</p>
<script type="module">
  const source = new EventSource("/events");
  let count = 0;
  source.addEventListener("tick", (event) => {
    document.getElementById("seq").textContent = JSON.parse(event.data).seq;
    document.getElementById("count").textContent = ++count;
  });
</script>
`;

const server = Bun.serve({
  port,
  hostname,
  // SSE connections stay open; lagging clients are cancelled by the dispatcher.
  idleTimeout: 0,
  fetch(request, server) {
    const { pathname } = new URL(request.url);
    if (pathname === "/events") return events(request, server);
    if (pathname === "/stats") {
      return Response.json({
        ...stats,
        clients: clients.size,
        buffered: ticks.bufferedCount,
        bufferSize: maxLag,
        maxLag,
        clientMaxDemand: CLIENT_MAX_DEMAND,
      });
    }
    if (pathname === "/") {
      return new Response(page, { headers: { "content-type": "text/html; charset=utf-8" } });
    }
    return new Response("Not found\n", { status: 404 });
  },
});

console.log(
  `Listening on ${server.url} (ticks every ${tickMs} ms; clients more than ${maxLag} ticks behind are disconnected)`,
);
