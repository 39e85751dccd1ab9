// webstage/otel read back through the real OpenTelemetry metrics SDK: every
// value a collection reports equals what the stages' stats() say, with events
// counted through real pipelines.

import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type DataPoint,
  DataPointType,
  MeterProvider,
  type MetricData,
  MetricReader,
} from "@opentelemetry/sdk-metrics";
import {
  Consumer,
  type Observable,
  Producer,
  ProducerConsumer,
  type StageStats,
} from "../../mod.ts";
import { instrument, METRIC_NAMES } from "../../otel.ts";
import { deferred, range, settle } from "../_helpers.ts";

/** A reader that collects on demand (the SDK's pull model, as a Prometheus exporter does). */
class CollectingReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

type Attributes = Record<string, unknown>;

interface Reading {
  readonly name: string;
  readonly unit: string;
  /** "monotonic sum" (a counter), "sum" (an up-down counter) or "gauge". */
  readonly type: string;
  readonly points: readonly { attributes: Attributes; value: number }[];
}

let provider: MeterProvider | undefined;

afterEach(async () => {
  await provider?.shutdown();
  provider = undefined;
});

function setUp(): { reader: CollectingReader; meter: ReturnType<MeterProvider["getMeter"]> } {
  const reader = new CollectingReader();
  provider = new MeterProvider({ readers: [reader] });
  return { reader, meter: provider.getMeter("webstage-test") };
}

/** Every webstage metric of one collection, by name. */
async function collect(reader: MetricReader): Promise<Map<string, Reading>> {
  const { resourceMetrics, errors } = await reader.collect();
  assert.deepEqual(errors, []);
  const found = new Map<string, Reading>();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics as MetricData[]) {
      const points = (metric.dataPoints as DataPoint<unknown>[]).map((point) => ({
        attributes: point.attributes as Attributes,
        value: point.value as number,
      }));
      found.set(metric.descriptor.name, {
        name: metric.descriptor.name,
        unit: metric.descriptor.unit,
        type: metric.dataPointType === DataPointType.SUM
          ? (metric.isMonotonic ? "monotonic sum" : "sum")
          : metric.dataPointType === DataPointType.GAUGE
          ? "gauge"
          : "other",
        points,
      });
    }
  }
  return found;
}

/** The value of `metric` for the data point whose attributes include `attributes`. */
function value(readings: Map<string, Reading>, metric: string, attributes: Attributes): number {
  const reading = readings.get(metric);
  assert.ok(reading, `no metric ${metric}`);
  const matching = reading.points.filter((point) =>
    Object.entries(attributes).every(([key, expected]) => point.attributes[key] === expected)
  );
  assert.equal(matching.length, 1, `${metric} ${JSON.stringify(attributes)}: ${matching.length}`);
  return matching[0].value;
}

/** Checks every per-stage and per-subscription value against `stats`. */
function assertMatches(readings: Map<string, Reading>, stats: StageStats): void {
  const stage = { "webstage.stage": stats.name, "webstage.kind": stats.kind };
  const n = METRIC_NAMES;
  assert.deepEqual(
    {
      received: value(readings, n.received, stage),
      emitted: value(readings, n.emitted, stage),
      discarded: value(readings, n.discarded, stage),
      buffered: value(readings, n.buffered, stage),
      demand: value(readings, n.demand, stage),
      unmetDemand: value(readings, n.unmetDemand, stage),
      subscriptions: {
        upstream: value(readings, n.subscriptions, {
          ...stage,
          "webstage.subscription.direction": "upstream",
        }),
        downstream: value(readings, n.subscriptions, {
          ...stage,
          "webstage.subscription.direction": "downstream",
        }),
      },
      state: ["running", "closing", "stopped", "failed"].filter((state) =>
        value(readings, n.state, { ...stage, "webstage.stage.state": state }) === 1
      ),
    },
    {
      received: stats.received,
      emitted: stats.emitted,
      discarded: stats.discarded,
      buffered: stats.buffered,
      demand: stats.demand,
      unmetDemand: stats.unmetDemand,
      subscriptions: stats.subscriptions,
      state: [stats.state],
    },
    stats.name,
  );
  for (const subscription of stats.upstream) {
    const edge = {
      "webstage.stage": stats.name,
      "webstage.subscription.producer": subscription.producer,
    };
    const part = (state: string) =>
      value(readings, n.subscriptionEvents, { ...edge, "webstage.subscription.state": state });
    assert.deepEqual(
      [part("asked"), part("queued"), part("handling"), value(readings, n.subscriptionLimit, edge)],
      [subscription.asked, subscription.queued, subscription.handling, subscription.maxDemand],
    );
  }
}

describe("instrument() (webstage/otel)", () => {
  it("reports the events each stage of a finished pipeline received and emitted, as stats() counts them", async () => {
    const { reader, meter } = setUp();
    const source = Producer.from(range(0, 300), { name: "source" });
    const double = new ProducerConsumer<number, number>({
      name: "double",
      subscribeTo: [[source, { maxDemand: 10 }]],
      handleEvents: (events) => events.flatMap((n) => [n, n]),
    });
    let handled = 0;
    const sink = new Consumer<number>({
      name: "sink",
      subscribeTo: [[double, { maxDemand: 25 }]],
      handleEvents: (events) => void (handled += events.length),
    });
    instrument([source, double, sink], { meter });
    await sink.closed;
    assert.equal(handled, 600);
    const readings = await collect(reader);
    for (const stage of [source, double, sink]) assertMatches(readings, stage.stats());
    const n = METRIC_NAMES;
    assert.deepEqual(
      ["source", "double", "sink"].map((name) => [
        value(readings, n.received, { "webstage.stage": name }),
        value(readings, n.emitted, { "webstage.stage": name }),
      ]),
      [[0, 300], [300, 600], [600, 0]],
    );
  });

  it("reports demand, buffers and each subscription's events in flight against maxDemand mid-flight", async () => {
    const { reader, meter } = setUp();
    const gate = deferred();
    const producer = new Producer<number>({ name: "manual" });
    const consumer = new Consumer<number>({
      name: "waiting",
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 5 }]],
      handleEvents: () => gate.promise,
    });
    const metrics = instrument([producer, consumer], { meter });
    await settle();
    producer.emit(range(0, 4));
    await settle();
    let readings = await collect(reader);
    assertMatches(readings, producer.stats());
    assertMatches(readings, consumer.stats());
    const edge = { "webstage.stage": "waiting", "webstage.subscription.producer": "manual" };
    const part = (state: string) =>
      value(readings, METRIC_NAMES.subscriptionEvents, {
        ...edge,
        "webstage.subscription.state": state,
      });
    assert.deepEqual([part("asked"), part("queued"), part("handling")], [6, 0, 4]);
    assert.equal(value(readings, METRIC_NAMES.subscriptionLimit, edge), 10);
    assert.equal(value(readings, METRIC_NAMES.unmetDemand, { "webstage.stage": "manual" }), 6);

    // 12 more: 6 meet the demand, 6 wait in the producer's buffer.
    producer.emit(range(4, 16));
    await settle();
    readings = await collect(reader);
    assertMatches(readings, producer.stats());
    assertMatches(readings, consumer.stats());
    assert.equal(value(readings, METRIC_NAMES.buffered, { "webstage.stage": "manual" }), 6);
    gate.resolve();
    await producer.stop();
    await consumer.closed;
    metrics.unregister();
  });

  it("marks a failed stage with state failed and counts what it received before failing", async () => {
    const { reader, meter } = setUp();
    const source = Producer.from(range(0, 20), { name: "numbers" });
    let seen = 0;
    const fragile = new Consumer<number>({
      name: "fragile",
      subscribeTo: [[source, { maxDemand: 5 }]],
      handleEvents(events) {
        seen += events.length;
        if (seen >= 10) throw new Error("boom");
      },
    });
    instrument([source, fragile], { meter });
    await assert.rejects(fragile.closed, { message: "boom" });
    const readings = await collect(reader);
    assertMatches(readings, fragile.stats());
    assert.equal(fragile.stats().state, "failed");
    assert.equal(value(readings, METRIC_NAMES.received, { "webstage.stage": "fragile" }), seen);
    await source.stop();
  });

  it("reports a supervisor's restarts and its children, when its stats have them", async () => {
    const { reader, meter } = setUp();
    const child = Producer.from(range(0, 3), { name: "child" });
    const sink = new Consumer<number>({ name: "sink", subscribeTo: [child], handleEvents() {} });
    await sink.closed;
    // A Supervisor's stats() as the Observable interface describes it.
    const supervisor: Observable = {
      stats: () => ({
        ...child.stats(),
        name: "supervisor",
        kind: "Supervisor",
        state: "running",
        received: 0,
        emitted: 0,
        upstream: [],
        restarts: 2,
        children: [{ ...child.stats(), id: "numbers" }],
      }),
    };
    instrument([supervisor, sink], { meter });
    const readings = await collect(reader);
    assert.equal(value(readings, METRIC_NAMES.restarts, { "webstage.stage": "supervisor" }), 2);
    assert.equal(readings.get(METRIC_NAMES.restarts)!.points.length, 1, "only supervisors");
    assertMatches(readings, child.stats());
    assertMatches(readings, sink.stats());
  });

  it("names the instruments in OpenTelemetry's style, with units, counters as monotonic sums", async () => {
    const { reader, meter } = setUp();
    const producer = new Producer<number>({ name: "p" });
    instrument([producer], { meter });
    const readings = await collect(reader);
    assert.deepEqual(
      [...readings.values()].map((r) => [r.name, r.type, r.unit]).sort(),
      [
        ["webstage.stage.demand.pending", "sum", "{event}"],
        ["webstage.stage.demand.unmet", "sum", "{event}"],
        ["webstage.stage.events.buffered", "sum", "{event}"],
        ["webstage.stage.events.discarded", "monotonic sum", "{event}"],
        ["webstage.stage.events.emitted", "monotonic sum", "{event}"],
        ["webstage.stage.events.received", "monotonic sum", "{event}"],
        ["webstage.stage.state", "sum", "{stage}"],
        ["webstage.stage.subscriptions", "sum", "{subscription}"],
      ],
      "no restarts nor subscription metrics without supervisors or subscriptions",
    );
    await producer.stop();
  });

  it("reads each stage's stats() once per collection", async () => {
    const { reader, meter } = setUp();
    const producer = new Producer<number>({ name: "p" });
    let calls = 0;
    const counted: Observable = { stats: () => (calls++, producer.stats()) };
    instrument([counted], { meter });
    await collect(reader);
    await collect(reader);
    assert.equal(calls, 2);
    await producer.stop();
  });

  it("stops reading the stages once unregistered, and unregistering twice does nothing", async () => {
    const { reader, meter } = setUp();
    const producer = new Producer<number>({ name: "p" });
    const consumer = new Consumer<number>({
      name: "c",
      subscribeTo: [producer],
      handleEvents() {},
    });
    let calls = 0;
    const counted: Observable = { stats: () => (calls++, consumer.stats()) };
    const metrics = instrument([counted], { meter });
    producer.emit(range(0, 5));
    while (consumer.stats().received < 5) await settle();
    assert.equal(value(await collect(reader), METRIC_NAMES.received, { "webstage.stage": "c" }), 5);
    metrics.unregister();
    metrics[Symbol.dispose]();
    producer.emit(range(5, 12));
    while (consumer.stats().received < 12) await settle();
    const after = await collect(reader);
    assert.equal(calls, 1, "stats() no longer read");
    // Cumulative temporality: the SDK repeats the last value it read, never a new one.
    for (const reading of after.values()) {
      for (const point of reading.points) {
        assert.notEqual(point.value, 12, `${reading.name} was read again`);
      }
    }
    await producer.stop();
    await consumer.closed;
  });

  it("rejects what it cannot instrument, registering nothing", async () => {
    const { reader, meter } = setUp();
    assert.throws(() => instrument({} as never, { meter }), {
      name: "TypeError",
      message: "Cannot instrument stages as stages must be an array: current value is an object",
    });
    assert.throws(() => instrument([{}] as never, { meter }), {
      name: "TypeError",
      message:
        "Cannot instrument stages as stages[0] must be a stage with stats(): current value is an object",
    });
    assert.throws(() => instrument([], { meter: {} as never }), {
      name: "TypeError",
      message:
        "Cannot instrument stages as meter must be an OpenTelemetry Meter: current value is an object",
    });
    assert.throws(() => instrument([], 3 as never), {
      name: "TypeError",
      message: "Cannot instrument stages as options must be an object: current value is 3",
    });
    assert.equal((await collect(reader)).size, 0);
  });
});
