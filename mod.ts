/**
 * webstage: Elixir's GenStage on WHATWG streams.
 *
 * Producers, producer-consumers and consumers exchange events under demand:
 * a consumer asks for N events and a producer never sends more. Each
 * subscription is a `ReadableStream` of event batches flowing into a
 * `WritableStream` whose `highWaterMark` is `maxDemand`. Dispatchers decide
 * where events go.
 *
 * @example A producer, a producer-consumer and a consumer
 * ```ts
 * import { Consumer, Producer, ProducerConsumer } from "@webstage/webstage";
 * import assert from "node:assert/strict";
 *
 * const numbers = Producer.from([1, 2, 3, 4, 5]);
 * const squares = new ProducerConsumer<number, number>({
 *   subscribeTo: [[numbers, { maxDemand: 2 }]],
 *   handleEvents: (events) => events.map((n) => n * n),
 * });
 * let total = 0;
 * const sum = new Consumer<number>({
 *   subscribeTo: [squares],
 *   handleEvents: (events) => void events.forEach((n) => (total += n)),
 * });
 * await sum.closed;
 * assert.equal(total, 55);
 * ```
 *
 * @module
 */

export type {
  CancelMode,
  PartitionKey,
  Source,
  SubscribeMode,
  SubscribeOptions,
  SubscribeTo,
  Subscription,
} from "./src/subscription.ts";
export type { Dispatcher, DispatcherHost } from "./src/dispatcher.ts";
export {
  DemandDispatcher,
  type DemandDispatcherOptions,
} from "./src/dispatchers/demand_dispatcher.ts";
export {
  BroadcastDispatcher,
  type BroadcastDispatcherOptions,
  type LagPolicy,
} from "./src/dispatchers/broadcast_dispatcher.ts";
export {
  PartitionDispatcher,
  type PartitionDispatcherOptions,
} from "./src/dispatchers/partition_dispatcher.ts";
export { type Events, type FromOptions, Producer, type ProducerOptions } from "./src/producer.ts";
export { Consumer, type ConsumerOptions } from "./src/consumer.ts";
export { ProducerConsumer, type ProducerConsumerOptions } from "./src/producer_consumer.ts";
export { toReadableStream, type ToReadableStreamOptions } from "./src/streams.ts";
export {
  balance,
  broadcast,
  type BroadcastOptions,
  type FanOutOptions,
  merge,
  type MergeOptions,
  partition,
  type PartitionOptions,
} from "./src/fan_out.ts";
export { type StreamClasses, useStreams } from "./src/stream_classes.ts";
export type { BlockOptions, Clock } from "./src/blocks/options.ts";
export { batch, type BatchOptions } from "./src/blocks/batch.ts";
export { rateLimit, type RateLimitOptions } from "./src/blocks/rate_limit.ts";
export { map, type MapContext, type MapOptions } from "./src/blocks/map.ts";
export {
  type ChildSpec,
  type RestartType,
  type Supervisable,
  Supervisor,
  type SupervisorChildren,
  type SupervisorOptions,
  type SupervisorStrategy,
} from "./src/supervisor.ts";
export type { Timers } from "./src/timers.ts";
export {
  ConsumerSupervisor,
  type ConsumerSupervisorOptions,
  type RetryOptions,
  type TaskContext,
} from "./src/consumer_supervisor.ts";
export { RestartIntensityError, ShutdownTimeoutError, WorkerError } from "./src/errors.ts";
export {
  type Edge,
  monitor,
  type MonitorOptions,
  type Observable,
  type Snapshot,
  type StageSnapshot,
  type StageStats,
  type SubscriptionStats,
} from "./src/stats.ts";
export {
  WorkerConsumer,
  type WorkerConsumerOptions,
  WorkerStage,
  type WorkerStageOptions,
} from "./src/worker_stage.ts";
export { WorkerPool, type WorkerPoolOptions } from "./src/worker_pool.ts";
export { serveStage, type ServeStageOptions } from "./src/serve_stage.ts";
export type {
  WorkerCommonOptions,
  WorkerConstructor,
  WorkerLike,
  WorkerStartOptions,
} from "./src/worker_options.ts";
