// The topology page's drawing logic (src/topology/_view.ts) on snapshots of
// real pipelines: where each stage goes, and what the markup says about
// each stage and subscription.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  Consumer,
  monitor,
  type Observable,
  Producer,
  ProducerConsumer,
  type Snapshot,
} from "../../mod.ts";
import {
  carry,
  drawGraph,
  type DrawnSnapshot,
  drawTable,
  layout,
  summary,
} from "../../src/topology/_view.ts";
import { deferred, range, readAll, settle } from "../_helpers.ts";

/** One snapshot of `stages`, as the page receives it (through JSON). */
async function snapshotOf(stages: Observable[]): Promise<Snapshot> {
  const reader = monitor(stages).getReader();
  const { value } = await reader.read();
  await reader.cancel();
  return JSON.parse(JSON.stringify(value));
}

/** The markup of the element with `data-<kind>="<name>"` (up to its closing tag). */
function element(markup: string, kind: "stage" | "edge", name: string): string {
  const start = markup.indexOf(`data-${kind}="${name}"`);
  assert.ok(start >= 0, `no ${kind} ${name} in the markup`);
  const open = markup.lastIndexOf("<", start);
  const tag = markup.slice(open + 1, markup.indexOf(" ", open));
  return markup.slice(open, markup.indexOf(`</${tag}>`, start) + tag.length + 3);
}

/** The text of the `<text data-field=…>` (or `<td>`) of a stage or edge. */
function field(markup: string, name: string): string {
  const match = markup.match(new RegExp(`data-field="${name}"[^>]*>([^<]*)<`));
  assert.ok(match, `no field ${name}`);
  return match[1];
}

describe("the topology page's drawing", () => {
  it("keeps a subscription that ended as ended while both its stages are drawn, and drops it when one is gone", () => {
    const stage = (name: string, state: "running" | "stopped") => ({
      name,
      kind: "Consumer" as const,
      state,
      received: 0,
      emitted: 0,
      buffered: 0,
      demand: 0,
      unmetDemand: 0,
      subscriptions: { upstream: 0, downstream: 0 },
      upstream: [],
      discarded: 0,
      receivedPerSecond: 0,
      emittedPerSecond: 0,
    });
    const edge = {
      producer: "a",
      consumer: "b",
      maxDemand: 8,
      minDemand: 4,
      asked: 3,
      queued: 2,
      handling: 1,
    };
    const first = carry(undefined, {
      time: 1,
      stages: [stage("a", "running"), stage("b", "running")],
      edges: [edge],
    });
    const second = carry(first, {
      time: 2,
      stages: [stage("a", "stopped"), stage("b", "stopped")],
      edges: [],
    });
    assert.deepEqual(second.edges, [{ ...edge, asked: 0, queued: 0, handling: 0, ended: true }]);
    const third = carry(second, {
      time: 3,
      stages: [stage("a", "running"), stage("b", "running")],
      edges: [edge],
    });
    assert.deepEqual(third.edges, [edge], "a live subscription replaces the ended one");
    assert.deepEqual(
      carry(second, { time: 4, stages: [stage("a", "stopped")], edges: [] }).edges,
      [],
    );
  });

  it("lays the stages out left to right along their subscriptions, consumers of one producer in one column", async () => {
    const source = new Producer<number>({ name: "source" });
    const middle = new ProducerConsumer<number, number>({
      name: "middle",
      subscribeTo: [source],
      handleEvents: (events) => events,
    });
    const sinks = ["a", "b", "c"].map((name) =>
      new Consumer<number>({ name, subscribeTo: [middle], handleEvents() {} })
    );
    const placed = layout(await snapshotOf([source, middle, ...sinks]));
    const at = (name: string) => placed.byName.get(name)!;
    assert.deepEqual(
      ["source", "middle", "a", "b", "c"].map((name) => at(name).layer),
      [0, 1, 2, 2, 2],
    );
    assert.ok(at("source").x < at("middle").x && at("middle").x < at("a").x);
    assert.equal(new Set(sinks.map((sink) => at(sink.stats().name).y)).size, 3, "one row each");
    assert.equal(at("a").x, at("c").x);
    assert.ok(placed.width >= at("a").x && placed.height >= at("c").y);
    await source.stop();
    await Promise.all(sinks.map((sink) => sink.closed));
  });

  it("places a stage after the furthest stage it reads, and a producer it reads unwatched on its own", async () => {
    const first = new Producer<number>({ name: "first" });
    const second = new ProducerConsumer<number, number>({
      name: "second",
      subscribeTo: [first],
      handleEvents: (events) => events,
    });
    const join = new Consumer<number>({
      name: "join",
      subscribeTo: [first, second],
      handleEvents() {},
    });
    const written = new Consumer<number>({ name: "written", handleEvents() {} });
    const writer = written.writable.getWriter(); // an inlet subscription from "writable"
    await writer.ready;
    const snapshot = await snapshotOf([first, second, join, written]);
    const placed = layout(snapshot);
    assert.equal(placed.byName.get("join")!.layer, 2);
    assert.ok(snapshot.edges.some((edge) => edge.producer === "writable"));
    assert.equal(placed.byName.get("writable")!.stage, undefined, "not a watched stage");
    assert.match(element(drawGraph(snapshot), "stage", "writable"), /class="stage external"/);
    await writer.close();
    await first.stop();
    await join.closed;
  });

  it("shows each stage's counts and rates, as the stages counted the events", async () => {
    const source = Producer.from(range(0, 120), { name: "source" });
    const double = new ProducerConsumer<number, number>({
      name: "double",
      subscribeTo: [[source, { maxDemand: 10 }]],
      handleEvents: (events) => events.flatMap((n) => [n, n]),
    });
    let handled = 0;
    const sink = new Consumer<number>({
      name: "sink",
      subscribeTo: [[double, { maxDemand: 30 }]],
      handleEvents: (events) => void (handled += events.length),
    });
    const snapshots = await readAll(monitor([source, double, sink], { intervalMs: 1 }));
    // As the page draws them: each snapshot with the subscriptions that ended before it.
    let last: DrawnSnapshot | undefined;
    for (const snapshot of snapshots) last = carry(last, JSON.parse(JSON.stringify(snapshot)));
    last = last!;
    assert.equal(handled, 240);
    const graph = drawGraph(last);
    assert.match(field(element(graph, "stage", "source"), "out"), /^out 120 · [\d,]+\/s$/);
    assert.match(field(element(graph, "stage", "double"), "in"), /^in 120 · /);
    assert.match(field(element(graph, "stage", "double"), "out"), /^out 240 · /);
    assert.match(field(element(graph, "stage", "sink"), "in"), /^in 240 · /);
    assert.equal(field(element(graph, "stage", "sink"), "state"), "stopped");
    const rated = snapshots.find((s) => s.stages[2].receivedPerSecond > 0);
    if (rated !== undefined) {
      const rate = Math.round(rated.stages[2].receivedPerSecond).toLocaleString("en-US");
      assert.match(
        field(element(drawGraph(rated), "stage", "sink"), "in"),
        new RegExp(`${rate}/s$`),
      );
    }
    const table = drawTable(last);
    assert.deepEqual(
      ["source", "double", "sink"].map((name) => {
        const row = element(table, "stage", name);
        return [field(row, "received"), field(row, "emitted"), field(row, "state")];
      }),
      [["0", "120", "stopped"], ["120", "240", "stopped"], ["240", "0", "stopped"]],
    );
    assert.match(summary(last), /^3 stages, 0 subscriptions \(2 ended\) · all ended · at /);
    // The finished pipeline keeps its shape: its ended subscriptions are drawn.
    assert.deepEqual(layout(last).stages.map((stage) => stage.layer), [0, 1, 2]);
    assert.equal(field(element(graph, "edge", "double→sink"), "demand"), "ended · max 30");
    assert.match(element(graph, "edge", "source→double"), /class="edge ended"/);
  });

  it("shows per subscription the events in flight against maxDemand, handling, queued and asked", async () => {
    const gate = deferred();
    const producer = new Producer<number>({ name: "manual" });
    const consumer = new Consumer<number>({
      name: "waiting",
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 5 }]],
      handleEvents: () => gate.promise,
    });
    await settle();
    producer.emit(range(0, 4));
    await settle();
    const snapshot = await snapshotOf([producer, consumer]);
    const edge = element(drawGraph(snapshot), "edge", "manual→waiting");
    // 4 being handled + 6 still asked for = 10 of maxDemand 10: the subscription is full.
    assert.equal(field(edge, "demand"), "10 / 10");
    assert.match(edge, /class="edge full"/);
    const width = (part: string) =>
      Number(edge.match(new RegExp(`width="([\\d.]+)"[^>]*class="${part}"`))![1]);
    assert.deepEqual([width("handling"), width("queued"), width("asked")], [44, 0, 66]);
    assert.match(edge, /asked 6 · queued 0 · handling 4/);
    gate.resolve();
    await producer.stop();
    await consumer.closed;
  });

  it("highlights a failed stage with its failure", async () => {
    const source = Producer.from(range(0, 10), { name: "numbers" });
    const fragile = new Consumer<number>({
      name: "fragile",
      subscribeTo: [[source, { maxDemand: 5 }]],
      handleEvents() {
        throw new TypeError("bad event");
      },
    });
    await assert.rejects(fragile.closed);
    const snapshot = await snapshotOf([source, fragile]);
    const stage = element(drawGraph(snapshot), "stage", "fragile");
    assert.match(stage, /class="stage state-failed"/);
    assert.match(stage, /failure: TypeError: bad event/);
    assert.equal(field(stage, "state"), "failed");
    assert.match(element(drawTable(snapshot), "stage", "fragile"), /class="state-failed"/);
    assert.match(summary(snapshot), /· 1 failed ·/);
    await source.stop();
  });

  it("highlights a supervisor's restarts and links it to its children, and draws stages without restarts plainly", async () => {
    const child = Producer.from(range(0, 3), { name: "child" });
    const sink = new Consumer<number>({ name: "sink", subscribeTo: [child], handleEvents() {} });
    await sink.closed;
    const supervisor: Observable = {
      stats: () => ({
        ...child.stats(),
        name: "supervisor",
        kind: "Supervisor",
        state: "running",
        upstream: [],
        restarts: 2,
        children: [{ ...child.stats(), id: "numbers" }],
      }),
    };
    const snapshot = await snapshotOf([supervisor, sink]);
    const graph = drawGraph(snapshot);
    const drawn = element(graph, "stage", "supervisor");
    assert.match(drawn, /class="stage state-running restarted"/);
    assert.equal(field(drawn, "state"), "running · ↻ 2");
    assert.match(graph, /<line class="supervises"/);
    assert.doesNotMatch(element(graph, "stage", "sink"), /↻|restarted/);
    assert.match(summary(snapshot), /· 2 restarts ·/);
    const placed = layout(snapshot);
    assert.ok(placed.byName.get("supervisor")!.y > placed.byName.get("child")!.y, "below");
  });

  it("escapes stage names", async () => {
    const producer = new Producer<number>({ name: `<b>"&'` });
    const graph = drawGraph(await snapshotOf([producer]));
    assert.ok(!graph.includes("<b>"));
    assert.match(graph, /data-stage="&#60;b&#62;&#34;&#38;&#39;"/);
    await producer.stop();
  });
});
