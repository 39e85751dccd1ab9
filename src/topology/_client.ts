// The topology page's script (bundled into the page by
// scripts/build_topology.mjs; not part of the library's modules): reads
// `monitor` snapshots from the page's source, as Server-Sent Events or NDJSON
// (by the response's content type), and redraws at each one.
//
// The source is the `source` query parameter, else the page's
// `data-source` attribute (topologyPage's `source` option). It reconnects
// 2 s after a failure; a stream that ends (every stage ended) stays drawn.

import type { Snapshot } from "../stats.ts";
import { carry, drawGraph, type DrawnSnapshot, drawTable, summary } from "./_view.ts";

const body = document.body;
const source = new URL(location.href).searchParams.get("source") ?? body.dataset.source ??
  "snapshots";
const status = document.getElementById("status")!;
const graph = document.getElementById("graph")!;
const table = document.getElementById("table")!;
const line = document.getElementById("summary")!;
let snapshots = 0;
let shown: DrawnSnapshot | undefined;

function show(state: "connecting" | "live" | "ended" | "error", text: string): void {
  status.dataset.state = state;
  status.textContent = text;
}

function draw(snapshot: Snapshot): void {
  snapshots++;
  shown = carry(shown, snapshot);
  graph.innerHTML = drawGraph(shown);
  table.innerHTML = drawTable(shown);
  line.textContent = summary(shown);
  body.dataset.snapshots = String(snapshots);
}

/** Splits the text stream into messages: SSE `data:` blocks or NDJSON lines. */
async function read(response: Response): Promise<void> {
  const sse = (response.headers.get("content-type") ?? "").startsWith("text/event-stream");
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let pending = "";
  const separator = sse ? /\r?\n\r?\n/ : /\r?\n/;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    pending += value;
    const parts = pending.split(separator);
    pending = parts.pop()!;
    for (const part of parts) {
      const data = sse
        ? part.split(/\r?\n/).filter((l) => l.startsWith("data:")).map((l) =>
          l.slice(5).replace(/^ /, "")
        ).join("\n")
        : part;
      if (data.trim() !== "") draw(JSON.parse(data) as Snapshot);
    }
  }
  if (!sse && pending.trim() !== "") draw(JSON.parse(pending) as Snapshot);
}

async function connect(): Promise<void> {
  show("connecting", `connecting to ${source}…`);
  try {
    const response = await fetch(source, { headers: { accept: "text/event-stream" } });
    if (!response.ok || response.body === null) {
      throw new Error(`${source} answered ${response.status}`);
    }
    show("live", `live from ${source}`);
    await read(response);
    show("ended", `ended: ${source} closed the stream (every stage has ended)`);
  } catch (error) {
    show("error", `${String(error)}; retrying in 2 s`);
    setTimeout(() => void connect(), 2000);
  }
}

void connect();
