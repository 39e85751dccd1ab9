// Seeded chaos through a ConsumerSupervisor: a producer, a producer-consumer
// that crashes now and then, and a ConsumerSupervisor whose tasks fail now and
// then (restart: "transient", so a failed task runs again), all supervised,
// `redeliver` on both links. Every event's task must succeed at least once,
// whatever restarts the strategy makes: a restart cuts tasks short and a
// crashed producer-consumer must not have acknowledged what those tasks held.
// (Written after this chain lost events in 87 of 90 such runs.)

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ConsumerSupervisor,
  Producer,
  ProducerConsumer,
  Supervisor,
  type SupervisorChildren,
  type SupervisorStrategy,
} from "../mod.ts";
import { seeded } from "./_supervision.ts";

const EVENTS = 800;
const LINK = { maxDemand: 20, minDemand: 10, redeliver: true } as const;

async function run(seed: number, strategy: SupervisorStrategy) {
  const random = seeded(seed);
  let next = 0;
  const handled = new Map<number, number>();
  const source = new Producer<number>({
    bufferSize: 200,
    handleDemand(demand) {
      const count = Math.min(demand, EVENTS - next);
      const events = Array.from({ length: count }, (_, i) => next + i);
      next += count;
      return events;
    },
  });
  let crashes = 0;
  let failures = 0;
  const supervisor = new Supervisor({
    strategy,
    maxRestarts: 1_000_000,
    maxSeconds: 1,
    onRestart: () => {},
    children: [
      {
        id: "stage",
        start: () =>
          new ProducerConsumer<number, number>({
            subscribeTo: [[source, LINK]],
            handleEvents: async (events) => {
              if (random() < 0.03) {
                crashes++;
                throw new Error("stage crashed");
              }
              if (random() < 0.3) await new Promise((resolve) => setTimeout(resolve, 0));
              return events;
            },
          }),
      },
      {
        id: "tasks",
        start: (children: SupervisorChildren) =>
          new ConsumerSupervisor<number>({
            subscribeTo: [[children.get("stage") as ProducerConsumer<number, number>, LINK]],
            restart: "transient",
            maxRestarts: 1_000_000,
            maxSeconds: 1,
            onTaskError: () => {},
            handleEvent: async (event) => {
              if (random() < 0.05) await new Promise((resolve) => setTimeout(resolve, 0));
              if (random() < 0.05) {
                failures++;
                throw new Error("task failed");
              }
              handled.set(event, (handled.get(event) ?? 0) + 1);
            },
          }),
      },
    ],
  });
  supervisor.closed.catch(() => {});
  // Until every event is handled, or nothing moves for 100 turns of the event loop.
  let seen = -1;
  for (let idle = 0; handled.size < EVENTS && idle < 100;) {
    await new Promise((resolve) => setTimeout(resolve, 1));
    if (handled.size === seen) idle++;
    else [idle, seen] = [0, handled.size];
  }
  await supervisor.stop();
  await source.stop();
  const lost: number[] = [];
  for (let i = 0; i < EVENTS; i++) if (!handled.has(i)) lost.push(i);
  return { emitted: next, lost, crashes, failures };
}

describe("Chaos through a ConsumerSupervisor", () => {
  for (const strategy of ["one_for_one", "rest_for_one", "one_for_all"] as const) {
    for (const seed of [3, 30]) {
      it(`${strategy}, crashes and failing tasks (seed ${seed}): every event's task succeeds at least once`, async () => {
        const { emitted, lost, crashes, failures } = await run(seed, strategy);
        const summary = `${crashes} crashes, ${failures} task failures, lost ${lost.length}: ${
          lost.slice(0, 10).join(", ")
        }`;
        assert.ok(crashes > 0 && failures > 0, summary);
        assert.equal(emitted, EVENTS, summary);
        assert.deepEqual(lost, [], summary);
      });
    }
  }
});
