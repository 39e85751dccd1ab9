import type { Snapshot } from "../stats.ts";
import { streams } from "../_streams.ts";
import * as v from "../_validate.ts";
import { escape } from "./_view.ts";
import { PAGE_HTML } from "./_page.ts";

/** Options of {@linkcode topologyPage}. */
export interface TopologyPageOptions {
  /**
   * Where the page reads snapshots from: a URL, relative to the page's
   * (`fetch` resolves it), that answers Server-Sent Events
   * (`text/event-stream`) or NDJSON of `monitor` snapshots, as
   * {@linkcode encodeSnapshots} writes them. A `source` query parameter on
   * the page's URL overrides it.
   *
   * @default {"snapshots"}
   */
  readonly source?: string;
  /**
   * The page's title.
   *
   * @default {"webstage topology"}
   */
  readonly title?: string;
}

/**
 * The live topology page: one self-contained HTML document (inline CSS and
 * script, SVG, no external asset) that reads `monitor` snapshots from
 * `source` and redraws at each one: the stages as a graph laid out left to
 * right along their subscriptions; per subscription the events in flight
 * (asked for + queued + being handled) against its `maxDemand`; per stage
 * its counts, rates and buffer; failed stages and supervisor restarts
 * highlighted; a table of every stage's figures below. It reconnects 2 s
 * after a failed connection and stays drawn when the stream ends.
 *
 * Serve it from any server next to an endpoint of snapshots:
 * `new Response(topologyPage(), { headers: { "content-type": "text/html; charset=utf-8" } })`.
 *
 * @param options `source` and `title`.
 * @returns The page's HTML.
 * @throws {TypeError} If `source` or `title` is not a string.
 *
 * @example The page, reading snapshots from /snapshots
 * ```ts
 * import { topologyPage } from "@webstage/webstage/topology";
 * import assert from "node:assert/strict";
 *
 * const html = topologyPage({ source: "/snapshots", title: "orders" });
 * assert.match(html, /^<!doctype html>/);
 * assert.match(html, /<body data-source="\/snapshots">/);
 * assert.match(html, /<title>orders<\/title>/);
 * assert.doesNotMatch(html, /<script src=|<link rel="stylesheet"/, "self-contained");
 * ```
 */
export function topologyPage(options?: TopologyPageOptions): string {
  const action = "build the topology page";
  const o = v.options<TopologyPageOptions>(action, "options", options);
  const text = (name: "source" | "title", fallback: string): string => {
    const value = o[name] === undefined ? fallback : o[name];
    if (typeof value !== "string") throw new TypeError(v.message(action, name, "a string", value));
    return value;
  };
  const source = text("source", "snapshots");
  const title = text("title", "webstage topology");
  return PAGE_HTML.replace(/\{\{\s*source\s*\}\}/g, () => escape(source))
    .replace(/\{\{\s*title\s*\}\}/g, () => escape(title));
}

/** Options of {@linkcode encodeSnapshots}. */
export interface EncodeSnapshotsOptions {
  /**
   * `"sse"`: Server-Sent Events, one `data:` message per snapshot (serve as
   * `text/event-stream`); `"ndjson"`: one JSON line per snapshot (serve as
   * `application/x-ndjson`).
   *
   * @default {"sse"}
   */
  readonly format?: "sse" | "ndjson";
}

/**
 * Encodes a stream of snapshots (from `monitor`) as the bytes of a response
 * body, Server-Sent Events or NDJSON, for any server that answers with a
 * `Response` or writes a byte stream. It reads a snapshot only as the body
 * is read (a slow client gets fewer, not a backlog, as `monitor` promises),
 * closes when the snapshots end, and cancelling it (the client leaving)
 * cancels the snapshots.
 *
 * @param snapshots The snapshots, typically `monitor(stages, { intervalMs })`.
 * @param options The `format`.
 * @returns A byte stream to send.
 * @throws {TypeError} If `snapshots` is not a ReadableStream or `format` is
 * not `"sse"` or `"ndjson"`.
 *
 * @example An SSE response of a pipeline's snapshots
 * ```ts
 * import { Consumer, monitor, Producer } from "@webstage/webstage";
 * import { encodeSnapshots } from "@webstage/webstage/topology";
 * import assert from "node:assert/strict";
 *
 * const numbers = Producer.from([1, 2, 3], { name: "numbers" });
 * const sink = new Consumer<number>({ name: "sink", subscribeTo: [numbers], handleEvents() {} });
 * const response = new Response(encodeSnapshots(monitor([numbers, sink], { intervalMs: 10 })), {
 *   headers: { "content-type": "text/event-stream" },
 * });
 * const messages = (await response.text()).split("\n\n").filter(Boolean);
 * const last = JSON.parse(messages.at(-1)!.slice("data: ".length));
 * assert.deepEqual(last.stages.map((s: { received: number }) => s.received), [0, 3]);
 * ```
 */
export function encodeSnapshots(
  snapshots: ReadableStream<Snapshot>,
  options?: EncodeSnapshotsOptions,
): ReadableStream<Uint8Array> {
  const action = "encode snapshots";
  if (
    snapshots === null || typeof snapshots !== "object" ||
    typeof (snapshots as ReadableStream).getReader !== "function"
  ) {
    throw new TypeError(v.message(action, "snapshots", "a ReadableStream", snapshots));
  }
  const o = v.options<EncodeSnapshotsOptions>(action, "options", options);
  const format = v.oneOf(action, "format", o.format ?? "sse", ["sse", "ndjson"]);
  const reader = snapshots.getReader();
  const encoder = new TextEncoder();
  return new streams.ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) return controller.close();
      const json = JSON.stringify(value);
      controller.enqueue(encoder.encode(format === "sse" ? `data: ${json}\n\n` : `${json}\n`));
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
