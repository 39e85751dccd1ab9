/**
 * webstage's stages as OpenTelemetry metrics: `instrument(stages)` registers
 * observable instruments (events received, emitted, discarded and buffered,
 * demand, subscriptions, state, a supervisor's restarts, and each
 * subscription's events in flight against its `maxDemand`) read from each
 * stage's `stats()` whenever the SDK collects.
 *
 * Needs the peer dependency `@opentelemetry/api` (≥ 1.3) and an SDK set up by
 * the application (`@opentelemetry/sdk-metrics` and an exporter); the core
 * entry point does not depend on it.
 *
 * @example Report a pipeline through the global MeterProvider
 * ```ts ignore
 * import { Consumer, Producer } from "@webstage/webstage";
 * import { instrument } from "@webstage/webstage/otel";
 *
 * const orders = new Producer<Order>({ name: "orders" });
 * const billing = new Consumer<Order>({ name: "billing", subscribeTo: [orders], handleEvents: bill });
 * const metrics = instrument([orders, billing]); // metrics.getMeter("webstage")
 * // … later
 * metrics.unregister();
 * ```
 *
 * @module
 */

export {
  type BatchObservation,
  instrument,
  type Instrumentation,
  type InstrumentDescription,
  type InstrumentOptions,
  type Meter,
  METRIC_NAMES,
  type MetricAttributes,
  type ObservableInstrument,
} from "./src/otel/instrument.ts";
