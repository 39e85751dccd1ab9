import { metrics } from "@opentelemetry/api";
import type { Observable, StageStats } from "../stats.ts";
import * as v from "../_validate.ts";

/** The attributes of a measurement. */
export type MetricAttributes = Record<string, string | number | boolean>;

/** An observable instrument, as a {@linkcode Meter} creates it (opaque here). */
export type ObservableInstrument = object;

/** What a batch observable callback records its measurements in. */
export interface BatchObservation {
  /** Records `value` for `instrument` with `attributes`. */
  observe(instrument: ObservableInstrument, value: number, attributes?: MetricAttributes): void;
}

/** The description of an instrument. */
export interface InstrumentDescription {
  /** What it measures. */
  readonly description?: string;
  /** Its unit, in UCUM (`{event}`). */
  readonly unit?: string;
}

/**
 * The part of an OpenTelemetry `Meter` (from `@opentelemetry/api`) that
 * {@linkcode instrument} uses: any `Meter` is one.
 */
export interface Meter {
  /** Creates an ObservableCounter. */
  createObservableCounter(name: string, options?: InstrumentDescription): ObservableInstrument;
  /** Creates an ObservableUpDownCounter. */
  createObservableUpDownCounter(
    name: string,
    options?: InstrumentDescription,
  ): ObservableInstrument;
  /** Registers a callback that observes several instruments at each collection. */
  addBatchObservableCallback(
    callback: (observation: BatchObservation) => void,
    instruments: ObservableInstrument[],
  ): void;
  /** Removes such a callback. */
  removeBatchObservableCallback(
    callback: (observation: BatchObservation) => void,
    instruments: ObservableInstrument[],
  ): void;
}

/** Options of {@linkcode instrument}. */
export interface InstrumentOptions {
  /**
   * The meter the instruments are created on.
   *
   * @default {metrics.getMeter("webstage")} (the global MeterProvider's)
   */
  readonly meter?: Meter;
}

/** What {@linkcode instrument} returns: a way to stop reporting. */
export interface Instrumentation {
  /**
   * Removes the callback that reads the stages: later collections no
   * longer call `stats()` (an SDK with cumulative temporality repeats the
   * last values it read; instruments themselves cannot be deleted in
   * OpenTelemetry). Calling it again does nothing.
   */
  unregister(): void;
  /** The same as {@linkcode Instrumentation.unregister}, for `using`. */
  [Symbol.dispose](): void;
}

/**
 * The names of the instruments {@linkcode instrument} registers, by the
 * `stats()` field they report (`subscriptionEvents` and `subscriptionLimit`
 * are per upstream subscription).
 *
 * @example Find a metric by name
 * ```ts
 * import { METRIC_NAMES } from "@webstage/webstage/otel";
 * import assert from "node:assert/strict";
 *
 * assert.equal(METRIC_NAMES.received, "webstage.stage.events.received");
 * ```
 */
export const METRIC_NAMES = {
  received: "webstage.stage.events.received",
  emitted: "webstage.stage.events.emitted",
  discarded: "webstage.stage.events.discarded",
  buffered: "webstage.stage.events.buffered",
  demand: "webstage.stage.demand.pending",
  unmetDemand: "webstage.stage.demand.unmet",
  subscriptions: "webstage.stage.subscriptions",
  state: "webstage.stage.state",
  restarts: "webstage.supervisor.restarts",
  subscriptionEvents: "webstage.subscription.events",
  subscriptionLimit: "webstage.subscription.events.limit",
} as const;

const STATES: readonly StageStats["state"][] = ["running", "closing", "stopped", "failed"];

/**
 * Reports what `stages` do as OpenTelemetry metrics: observable instruments
 * read from each stage's `stats()` at every collection (one `stats()` call per
 * stage per collection, through a batch callback). A `Supervisor` stands for
 * itself and its children, as in `monitor`.
 *
 * Per stage, with attributes `webstage.stage` (its name) and `webstage.kind`:
 *
 * | instrument | kind | unit | value |
 * |---|---|---|---|
 * | `webstage.stage.events.received` | ObservableCounter | `{event}` | `received` |
 * | `webstage.stage.events.emitted` | ObservableCounter | `{event}` | `emitted` |
 * | `webstage.stage.events.discarded` | ObservableCounter | `{event}` | `discarded` |
 * | `webstage.stage.events.buffered` | ObservableUpDownCounter | `{event}` | `buffered` |
 * | `webstage.stage.demand.pending` | ObservableUpDownCounter | `{event}` | `demand` (asked upstream, not received) |
 * | `webstage.stage.demand.unmet` | ObservableUpDownCounter | `{event}` | `unmetDemand` (asked by subscribers, not sent) |
 * | `webstage.stage.subscriptions` | ObservableUpDownCounter | `{subscription}` | per `webstage.subscription.direction` (`upstream`, `downstream`) |
 * | `webstage.stage.state` | ObservableUpDownCounter | `{stage}` | 1 for the current `webstage.stage.state` (`running`, `closing`, `stopped`, `failed`), 0 for the others |
 * | `webstage.supervisor.restarts` | ObservableCounter | `{restart}` | `restarts`, for stages whose stats have it |
 *
 * Per upstream subscription, with `webstage.stage` (the consumer's name) and
 * `webstage.subscription.producer` (the producer's name):
 *
 * | instrument | kind | unit | value |
 * |---|---|---|---|
 * | `webstage.subscription.events` | ObservableUpDownCounter | `{event}` | per `webstage.subscription.state`: `asked` (demand not yet met), `queued` (sent, not read), `handling` (read, not handled) |
 * | `webstage.subscription.events.limit` | ObservableUpDownCounter | `{event}` | `maxDemand`: the three above never add up to more |
 *
 * Stage names should be unique among the stages instrumented together (give
 * each a `name`): two stages of one name report under the same attributes.
 * A stopped stage goes on reporting its last counts until unregistered.
 *
 * @param stages What to report: stages, ConsumerSupervisors, Supervisors.
 * @param options The meter.
 * @returns A handle whose `unregister()` stops the reporting.
 * @throws {TypeError} If `stages` is not an array of objects with `stats()`,
 * or `meter` is not a Meter.
 *
 * @example The counts of a pipeline, read by the SDK
 * ```ts
 * import { Consumer, Producer } from "@webstage/webstage";
 * import { instrument } from "@webstage/webstage/otel";
 * import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
 * import assert from "node:assert/strict";
 *
 * class Reader extends MetricReader {
 *   protected override async onForceFlush(): Promise<void> {}
 *   protected override async onShutdown(): Promise<void> {}
 * }
 * const reader = new Reader();
 * const provider = new MeterProvider({ readers: [reader] });
 *
 * const numbers = Producer.from([1, 2, 3], { name: "numbers" });
 * const sink = new Consumer<number>({ name: "sink", subscribeTo: [numbers], handleEvents() {} });
 * using _metrics = instrument([numbers, sink], { meter: provider.getMeter("app") });
 * await sink.closed;
 *
 * const { resourceMetrics } = await reader.collect();
 * const received = resourceMetrics.scopeMetrics[0].metrics
 *   .find((metric) => metric.descriptor.name === "webstage.stage.events.received")!;
 * const point = received.dataPoints.find((p) => p.attributes["webstage.stage"] === "sink")!;
 * assert.equal(point.value, 3);
 * await provider.shutdown();
 * ```
 */
export function instrument(
  stages: readonly Observable[],
  options?: InstrumentOptions,
): Instrumentation {
  const action = "instrument stages";
  if (!Array.isArray(stages)) {
    throw new TypeError(v.message(action, "stages", "an array", stages));
  }
  stages.forEach((stage, i) => {
    if (stage === null || typeof stage !== "object" || typeof stage.stats !== "function") {
      throw new TypeError(v.message(action, `stages[${i}]`, "a stage with stats()", stage));
    }
  });
  const o = v.options<InstrumentOptions>(action, "options", options);
  const meter: Meter = o.meter ?? metrics.getMeter("webstage");
  if (
    meter === null || typeof meter !== "object" ||
    typeof meter.addBatchObservableCallback !== "function" ||
    typeof meter.createObservableCounter !== "function"
  ) {
    throw new TypeError(v.message(action, "meter", "an OpenTelemetry Meter", meter));
  }
  const watched = [...stages];
  const counter = (name: string, unit: string, description: string) =>
    meter.createObservableCounter(name, { unit, description });
  const upDown = (name: string, unit: string, description: string) =>
    meter.createObservableUpDownCounter(name, { unit, description });
  const n = METRIC_NAMES;
  const received = counter(n.received, "{event}", "Events handed to the stage's handlers");
  const emitted = counter(n.emitted, "{event}", "Events sent to the stage's subscribers");
  const discarded = counter(n.discarded, "{event}", "Events the stage discarded");
  const buffered = upDown(n.buffered, "{event}", "Events the stage holds for lack of demand");
  const demand = upDown(n.demand, "{event}", "Demand asked upstream and not yet received");
  const unmet = upDown(n.unmetDemand, "{event}", "Downstream demand not yet met");
  const subscriptions = upDown(n.subscriptions, "{subscription}", "The stage's subscriptions");
  const state = upDown(n.state, "{stage}", "1 for the stage's current state, 0 for the others");
  const restarts = counter(n.restarts, "{restart}", "Restarts done by a supervisor");
  const inFlight = upDown(
    n.subscriptionEvents,
    "{event}",
    "Events of a subscription asked for, queued in it, or being handled",
  );
  const limit = upDown(n.subscriptionLimit, "{event}", "A subscription's maxDemand");
  const instruments: ObservableInstrument[] = [
    received,
    emitted,
    discarded,
    buffered,
    demand,
    unmet,
    subscriptions,
    state,
    restarts,
    inFlight,
    limit,
  ];
  const callback = (result: BatchObservation): void => {
    for (const stats of watched.flatMap(expand)) {
      const stage: MetricAttributes = { "webstage.stage": stats.name, "webstage.kind": stats.kind };
      result.observe(received, stats.received, stage);
      result.observe(emitted, stats.emitted, stage);
      result.observe(discarded, stats.discarded, stage);
      result.observe(buffered, stats.buffered, stage);
      result.observe(demand, stats.demand, stage);
      result.observe(unmet, stats.unmetDemand, stage);
      for (const direction of ["upstream", "downstream"] as const) {
        result.observe(subscriptions, stats.subscriptions[direction], {
          ...stage,
          "webstage.subscription.direction": direction,
        });
      }
      for (const each of STATES) {
        result.observe(state, each === stats.state ? 1 : 0, {
          ...stage,
          "webstage.stage.state": each,
        });
      }
      if (stats.restarts !== undefined) result.observe(restarts, stats.restarts, stage);
      for (const subscription of stats.upstream) {
        const edge: MetricAttributes = {
          "webstage.stage": stats.name,
          "webstage.subscription.producer": subscription.producer,
        };
        for (const part of ["asked", "queued", "handling"] as const) {
          result.observe(inFlight, subscription[part], {
            ...edge,
            "webstage.subscription.state": part,
          });
        }
        result.observe(limit, subscription.maxDemand, edge);
      }
    }
  };
  meter.addBatchObservableCallback(callback, instruments);
  let registered = true;
  const unregister = () => {
    if (!registered) return;
    registered = false;
    meter.removeBatchObservableCallback(callback, instruments);
  };
  return { unregister, [Symbol.dispose]: unregister };
}

/** A stage's stats, and a supervisor's children's after it. */
function expand(stage: Observable): StageStats[] {
  const stats = stage.stats();
  if (stats.children === undefined) return [stats];
  return [stats, ...stats.children.flatMap((child) => expand({ stats: () => child }))];
}
