// webstage/topology: the page's HTML and the encoding of monitor's snapshots
// as Server-Sent Events and NDJSON, read back from real pipelines.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Consumer, monitor, Producer, type Snapshot } from "../../mod.ts";
import { encodeSnapshots, topologyPage } from "../../topology.ts";
import { currentStreams, range, readAll } from "../_helpers.ts";

/** The text of a byte stream. */
async function text(stream: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  return (await readAll(stream)).map((chunk) => decoder.decode(chunk, { stream: true })).join("");
}

function pipeline(count: number) {
  const numbers = Producer.from(range(0, count), { name: "numbers" });
  let handled = 0;
  const sink = new Consumer<number>({
    name: "sink",
    subscribeTo: [[numbers, { maxDemand: 10 }]],
    handleEvents: (events) => void (handled += events.length),
  });
  return { numbers, sink, handled: () => handled };
}

describe("topologyPage()", () => {
  it("is one self-contained document: inline style and script, no external asset", () => {
    const html = topologyPage();
    assert.match(html, /^<!doctype html>/);
    assert.match(html, /<style>[\s\S]+<\/style>/);
    assert.match(html, /<script>\s*\(\(\)=>\{[\s\S]+<\/script>/);
    assert.doesNotMatch(
      html,
      /<script [^>]*src=|<link (?!rel="icon" href="data:,">)|@import|url\(http|https?:\/\/(?!www\.w3\.org\/2000\/svg)/,
    );
    assert.match(html, /<link rel="icon" href="data:,">/, "no favicon request either");
    assert.match(html, /<body data-source="snapshots">/);
    assert.match(html, /<title>webstage topology<\/title>/);
    assert.doesNotMatch(html, /\{\{/);
  });

  it("takes its source and title, escaped", () => {
    const html = topologyPage({ source: '/s?a=1&b="2"', title: "<orders>" });
    assert.match(html, /<body data-source="\/s\?a=1&#38;b=&#34;2&#34;">/);
    assert.match(html, /<title>&#60;orders&#62;<\/title>/);
    assert.match(html, /<h1>&#60;orders&#62;<\/h1>/);
  });

  it("rejects a source or title that is not a string", () => {
    assert.throws(() => topologyPage({ source: 3 as never }), {
      name: "TypeError",
      message: "Cannot build the topology page as source must be a string: current value is 3",
    });
    assert.throws(() => topologyPage({ title: null as never }), {
      name: "TypeError",
      message: "Cannot build the topology page as title must be a string: current value is null",
    });
    assert.throws(() => topologyPage("x" as never), {
      name: "TypeError",
      message: 'Cannot build the topology page as options must be an object: current value is "x"',
    });
  });
});

describe("encodeSnapshots()", () => {
  it("writes one SSE data message per snapshot, to the last, with every event counted", async () => {
    const { numbers, sink, handled } = pipeline(200);
    const body = await text(encodeSnapshots(monitor([numbers, sink], { intervalMs: 1 })));
    assert.ok(body.endsWith("\n\n"));
    const messages = body.slice(0, -2).split("\n\n");
    assert.ok(messages.every((message) => message.startsWith("data: ") && !message.includes("\n")));
    const snapshots: Snapshot[] = messages.map((message) => JSON.parse(message.slice(6)));
    const last = snapshots.at(-1)!;
    assert.equal(handled(), 200);
    assert.deepEqual(
      last.stages.map((stage) => [stage.name, stage.state, stage.received, stage.emitted]),
      [["numbers", "stopped", 0, 200], ["sink", "stopped", 200, 0]],
    );
    assert.deepEqual(snapshots[0].edges.map((edge) => [edge.producer, edge.consumer]), [[
      "numbers",
      "sink",
    ]]);
  });

  it("writes one JSON line per snapshot as NDJSON", async () => {
    const { numbers, sink, handled } = pipeline(50);
    const body = await text(
      encodeSnapshots(monitor([numbers, sink], { intervalMs: 1 }), { format: "ndjson" }),
    );
    const lines = body.split("\n");
    assert.equal(lines.pop(), "", "ends with a newline");
    const last: Snapshot = JSON.parse(lines.at(-1)!);
    assert.equal(handled(), 50);
    assert.equal(last.stages[1].received, 50);
    assert.ok(lines.every((line) => typeof JSON.parse(line).time === "number"));
  });

  it("reads a snapshot only as its reader reads, and cancelling it cancels the snapshots", async () => {
    let pulls = 0;
    let cancelled: unknown;
    const { ReadableStream } = currentStreams();
    const snapshots = new ReadableStream<Snapshot>({
      pull(controller) {
        pulls++;
        controller.enqueue({ time: pulls, stages: [], edges: [] });
      },
      cancel(reason) {
        cancelled = reason;
      },
    }, { highWaterMark: 0 });
    const reader = encodeSnapshots(snapshots).getReader();
    await reader.read();
    await reader.read();
    assert.equal(pulls, 2);
    await reader.cancel("client gone");
    assert.equal(cancelled, "client gone");
    assert.equal(pulls, 2);
  });

  it("rejects what is not a stream or a known format", () => {
    assert.throws(() => encodeSnapshots({} as never), {
      name: "TypeError",
      message:
        "Cannot encode snapshots as snapshots must be a ReadableStream: current value is an object",
    });
    const stream = monitor([]);
    assert.throws(() => encodeSnapshots(stream, { format: "xml" as never }), {
      name: "TypeError",
      message:
        'Cannot encode snapshots as format must be "sse" or "ndjson": current value is "xml"',
    });
    assert.equal(stream.locked, false, "the stream is left as it was");
  });
});
