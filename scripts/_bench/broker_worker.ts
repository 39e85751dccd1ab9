// One consumer process of the broker benchmark: connects, prints "ready",
// and on "go" (stdin) runs webstage's producer into a Consumer until "stop"
// (stdin), then closes gracefully and prints how many messages it handled.
//
// Usage: node broker_worker.mjs <nats|redis> <url> <stream>

import process from "node:process";
import { connect } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import { webstageNats, webstageRedis } from "./broker_consume.ts";

const [broker, url, stream] = process.argv.slice(2);
let stopped!: () => void;
const stop = new Promise<void>((resolve) => (stopped = resolve));
const until = () => false;

const lines: string[] = [];
let wake: (() => void) | undefined;
process.stdin.on("data", (data) => {
  lines.push(...String(data).split("\n").filter(Boolean));
  if (lines.includes("stop")) stopped();
  wake?.();
});
const next = async (word: string) => {
  while (!lines.includes(word)) await new Promise<void>((resolve) => (wake = resolve));
};

let handled: number;
if (broker === "nats") {
  const connection = await connect({ servers: url });
  process.stdout.write("ready\n");
  await next("go");
  handled = (await webstageNats(connection, stream, until, stop)).handled;
  await connection.close();
} else {
  const redis = new Redis(url);
  process.stdout.write("ready\n");
  await next("go");
  handled = (await webstageRedis(redis, stream, until, stop)).handled;
  await redis.quit();
}
process.stdout.write(`handled ${handled}\n`);
process.exit(0);
