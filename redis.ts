/**
 * webstage on Redis Streams: a producer whose demand is the `COUNT` of its
 * reads in a consumer group, each entry acknowledged (`XACK`) once handled
 * and claimed again (`XAUTOCLAIM`) when its handler fails or its process
 * dies, and a sink that appends to a stream (`XADD`) paced by the replies.
 *
 * Needs a Redis client: the peer dependency `ioredis` (Node, Deno, Bun).
 *
 * @example A worker of group "resizers"
 * ```ts ignore
 * import { Redis } from "ioredis";
 * import { ConsumerSupervisor } from "@webstage/webstage";
 * import { RedisStreamProducer } from "@webstage/webstage/redis";
 *
 * const redis = new Redis("redis://127.0.0.1:6379");
 * const images = new RedisStreamProducer({ redis, stream: "images", group: "resizers" });
 * const resizers = new ConsumerSupervisor({
 *   subscribeTo: [[images, { maxDemand: 4 }]], // at most 4 images in flight in this process
 *   handleEvent: (entry) => resize(entry.fields.path), // XACK once it resolves
 * });
 * ```
 *
 * @module
 */

export {
  type RedisStreamMessage,
  RedisStreamProducer,
  type RedisStreamProducerOptions,
} from "./src/redis/redis_stream_producer.ts";
export {
  type RedisFields,
  RedisStreamSink,
  type RedisStreamSinkOptions,
} from "./src/redis/redis_stream_sink.ts";
export type { RedisClient } from "./src/redis/_client.ts";
export type { BrokerProducerStats, Outcome } from "./src/_broker_source.ts";
