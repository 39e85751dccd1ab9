// Chaos under supervision: one producer → one producer-consumer → four
// consumers, all children of a Supervisor, where consumers chosen by a seeded
// generator throw on batches chosen by it. Counts, never timings.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  Consumer,
  Producer,
  ProducerConsumer,
  Supervisor,
  type SupervisorChildren,
} from "../mod.ts";
import { deferred } from "./_helpers.ts";
import { seeded } from "./_supervision.ts";

const TOTAL = 3000;
const PRODUCER_BUFFER = 100;
const UPSTREAM = { maxDemand: 40, minDemand: 20 };
const DOWNSTREAM = { maxDemand: 10, minDemand: 5 };
const CONSUMERS = 4;

interface Run {
  /** How many times each event was handled. */
  readonly handled: Uint8Array;
  /** Events handled in all. */
  readonly handledTotal: number;
  readonly produced: number;
  readonly crashes: number;
  readonly lostInThrownBatches: number;
  readonly starts: Record<string, number>;
  readonly producerStoppedEarly: boolean;
  readonly discarded: number;
  readonly maxProducerBuffer: number;
  readonly maxStageBuffer: number;
  readonly maxInFlight: number;
}

/**
 * Runs the pipeline until the producer has produced its last event, then
 * closes the supervisor, which drains every stage (no crash after that).
 * `crashRate` is the chance that a batch makes its consumer throw.
 */
async function chaos(options: {
  readonly seed: number;
  readonly crashRate: number;
  readonly redeliver: boolean;
}): Promise<Run> {
  const random = seeded(options.seed);
  const handled = new Uint8Array(TOTAL);
  const starts: Record<string, number> = {};
  let handledTotal = 0;
  /** Events handled at least once. */
  let unique = 0;
  let produced = 0;
  let crashes = 0;
  let lostInThrownBatches = 0;
  let discarded = 0;
  let maxProducerBuffer = 0;
  let maxStageBuffer = 0;
  let maxInFlight = 0;
  let closing = false;
  const finished = deferred<void>();

  let producer!: Producer<number>;
  let stage!: ProducerConsumer<number, number>;
  const sample = () => {
    maxProducerBuffer = Math.max(maxProducerBuffer, producer.bufferedCount);
    maxStageBuffer = Math.max(maxStageBuffer, stage.bufferedCount);
    // Without redeliver the events of a thrown batch are gone; with it they come back.
    const inFlight = options.redeliver
      ? produced - unique
      : produced - handledTotal - lostInThrownBatches;
    maxInFlight = Math.max(maxInFlight, inFlight);
  };

  const consumer = (id: string) => (children: SupervisorChildren) => {
    starts[id] = (starts[id] ?? 0) + 1;
    return new Consumer<number>({
      subscribeTo: [[children.get<ProducerConsumer<number, number>>("stage")!, {
        ...DOWNSTREAM,
        redeliver: options.redeliver,
      }]],
      handleEvents: async (events) => {
        sample();
        if (random() < 0.5) await Promise.resolve(); // interleave the consumers
        // A crashing consumer handles part of its batch, then throws.
        const crash = !closing && random() < options.crashRate;
        const upTo = crash ? Math.floor(random() * events.length) : events.length;
        for (let i = 0; i < upTo; i++) {
          if (handled[events[i]]++ === 0) unique++;
        }
        handledTotal += upTo;
        if (crash) {
          crashes++;
          lostInThrownBatches += events.length - upTo;
          throw new Error(`${id} crashed`);
        }
      },
    });
  };

  const supervisor = new Supervisor({
    strategy: "one_for_one",
    maxRestarts: 10_000,
    maxSeconds: 3600,
    children: [
      {
        id: "producer",
        start: () => {
          starts.producer = (starts.producer ?? 0) + 1;
          return producer = new Producer<number>({
            bufferSize: PRODUCER_BUFFER,
            onDiscard: (count) => (discarded += count, false),
            handleDemand: (demand) => {
              const from = produced;
              produced = Math.min(TOTAL, produced + demand);
              if (produced === TOTAL) finished.resolve();
              return Array.from({ length: produced - from }, (_, i) => from + i);
            },
          });
        },
      },
      {
        id: "stage",
        start: (children) => {
          starts.stage = (starts.stage ?? 0) + 1;
          return stage = new ProducerConsumer<number, number>({
            subscribeTo: [[children.get<Producer<number>>("producer")!, UPSTREAM]],
            handleEvents: (events) => {
              sample();
              return events;
            },
          });
        },
      },
      ...Array.from(
        { length: CONSUMERS },
        (_, i) => ({ id: `consumer ${i}`, start: consumer(`consumer ${i}`) }),
      ),
    ],
  });

  let producerStoppedEarly = false;
  producer.closed.then(
    () => (producerStoppedEarly ||= !closing),
    () => (producerStoppedEarly = true),
  );
  await finished.promise;
  closing = true;
  await supervisor.close();
  await supervisor.closed;
  return {
    handled,
    handledTotal,
    produced,
    crashes,
    lostInThrownBatches,
    starts,
    producerStoppedEarly,
    discarded,
    maxProducerBuffer,
    maxStageBuffer,
    maxInFlight,
  };
}

/** What the pipeline holds at most without crashes: the stage's upstream demand, its buffer and every consumer's demand. */
const IN_FLIGHT_BOUND = UPSTREAM.maxDemand + (UPSTREAM.maxDemand - UPSTREAM.minDemand) +
  CONSUMERS * DOWNSTREAM.maxDemand;

function assertBounded(run: Run): void {
  assert.equal(run.discarded, 0, "the producer discarded events");
  assert.ok(
    run.maxProducerBuffer <= PRODUCER_BUFFER,
    `producer buffer reached ${run.maxProducerBuffer}`,
  );
  assert.ok(
    run.maxStageBuffer <= UPSTREAM.maxDemand,
    `producer-consumer buffer reached ${run.maxStageBuffer}`,
  );
}

function assertProducerSurvived(run: Run): void {
  assert.equal(run.producerStoppedEarly, false, "the producer stopped during the run");
  assert.equal(run.starts.producer, 1, "the producer was restarted");
  assert.equal(run.starts.stage, 1, "the producer-consumer was restarted");
}

describe("Chaos: producer → producer-consumer → four supervised consumers", () => {
  it("without crashes, handles every event exactly once with bounded memory", async () => {
    const run = await chaos({ seed: 1, crashRate: 0, redeliver: false });
    assert.ok(run.handled.every((count) => count === 1));
    assert.equal(run.handledTotal, TOTAL);
    assertProducerSurvived(run);
    assertBounded(run);
    assert.ok(run.maxInFlight <= IN_FLIGHT_BOUND, `${run.maxInFlight} events in flight`);
  });

  for (const seed of [7, 42, 1234]) {
    it(`with random crashes (seed ${seed}), the producer never stops and no event is handled twice`, async () => {
      const run = await chaos({ seed, crashRate: 0.05, redeliver: false });
      assert.ok(run.crashes > 0, "no consumer crashed");
      const consumerStarts = Object.entries(run.starts)
        .filter(([id]) => id.startsWith("consumer"))
        .reduce((sum, [, count]) => sum + count, 0);
      // Every crash is restarted, except those the final close() overtook (at most one per consumer).
      const restarts = consumerStarts - CONSUMERS;
      assert.ok(
        restarts <= run.crashes && run.crashes - restarts <= CONSUMERS,
        `${restarts} restarts, ${run.crashes} crashes`,
      );
      assert.ok(run.handled.every((count) => count <= 1), "an event was handled twice");
      assert.ok(run.handledTotal <= TOTAL - run.lostInThrownBatches);
      assert.ok(run.handledTotal > 0);
      assertProducerSurvived(run);
      assertBounded(run);
      // Each crash loses at most the consumer's own demand (its thrown batch and its queue).
      assert.ok(
        run.maxInFlight <= IN_FLIGHT_BOUND + run.crashes * DOWNSTREAM.maxDemand,
        `${run.maxInFlight} events in flight after ${run.crashes} crashes`,
      );
    });
  }

  for (const seed of [7, 42, 1234]) {
    it(`with random crashes and redeliver (seed ${seed}), every event is handled at least once`, async () => {
      const run = await chaos({ seed, crashRate: 0.05, redeliver: true });
      assert.ok(run.crashes > 0, "no consumer crashed");
      assert.ok(run.handled.every((count) => count >= 1), "an event was lost");
      assert.ok(
        run.handledTotal > TOTAL,
        "a partly handled batch comes back whole, so some events run twice",
      );
      // Redelivered events wait at the front of the producer-consumer's buffer: at most one consumer's demand per crash.
      assert.ok(
        run.maxInFlight <= IN_FLIGHT_BOUND + CONSUMERS * DOWNSTREAM.maxDemand,
        `${run.maxInFlight} events in flight`,
      );
      assertProducerSurvived(run);
      assertBounded(run);
    });
  }
});
