import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  Consumer,
  ConsumerSupervisor,
  Producer,
  ProducerConsumer,
  Supervisor,
  type SupervisorChildren,
} from "../mod.ts";
import { deferred, range, settle } from "./_helpers.ts";

/** Records the order in which stages' `closed` settle. */
function watch(log: string[], name: string, stage: { readonly closed: Promise<void> }): void {
  stage.closed.then(
    () => log.push(`${name} closed`),
    (reason) => log.push(`${name} failed: ${String(reason)}`),
  );
}

/** P (events pushed with emit) → PC (x10, async) → C (async), with small demands so events wait everywhere. */
function pipeline(log: string[]) {
  const producer = new Producer<number>();
  const doubler = new ProducerConsumer<number, number>({
    subscribeTo: [[producer, { maxDemand: 4, minDemand: 2 }]],
    handleEvents: async (events) => {
      await Promise.resolve();
      return events.map((n) => n * 10);
    },
  });
  const seen: number[] = [];
  const consumer = new Consumer<number>({
    subscribeTo: [[doubler, { maxDemand: 3, minDemand: 1 }]],
    handleEvents: async (events) => {
      await Promise.resolve();
      seen.push(...events);
    },
  });
  watch(log, "producer", producer);
  watch(log, "doubler", doubler);
  watch(log, "consumer", consumer);
  return { producer, doubler, consumer, seen };
}

describe("Graceful shutdown of a pipeline", () => {
  it("close() on the producer drains every buffered and queued event through every stage before their closed resolve", async () => {
    const log: string[] = [];
    const { producer, consumer, seen } = pipeline(log);
    producer.emit(range(0, 100));
    assert.ok(producer.bufferedCount > 50); // most events wait in the producer's buffer
    await producer.close();
    await consumer.closed;
    assert.deepEqual(seen, range(0, 100).map((n) => n * 10));
    assert.deepEqual(log, ["producer closed", "doubler closed", "consumer closed"]);
  });

  it("close() on the producer waits for a ConsumerSupervisor's running tasks", async () => {
    const log: string[] = [];
    const producer = new Producer<number>();
    const gates = new Map<number, () => void>();
    const done: number[] = [];
    const supervisor = new ConsumerSupervisor<number>({
      subscribeTo: [[producer, { maxDemand: 5 }]],
      handleEvent: (n) =>
        new Promise<void>((resolve) => gates.set(n, resolve)).then(() => {
          log.push(`task ${n}`);
          done.push(n);
        }),
    });
    watch(log, "producer", producer);
    watch(log, "supervisor", supervisor);
    producer.emit(range(0, 12));
    await settle();
    const closing = producer.close();
    for (let n = 0; n < 12; n++) {
      while (!gates.has(n)) await settle();
      gates.get(n)!();
    }
    await closing;
    await supervisor.closed;
    assert.deepEqual(done, range(0, 12));
    assert.equal(log.at(-1), "supervisor closed");
    assert.ok(log.indexOf("producer closed") < log.indexOf("task 11"));
  });

  it("Supervisor.close() drains the pipeline, closing its children in start order", async () => {
    const log: string[] = [];
    let stages!: ReturnType<typeof pipeline>;
    const supervisor = new Supervisor({
      children: [
        { id: "producer", start: () => (stages = pipeline(log)).producer },
        { id: "doubler", start: () => stages.doubler },
        { id: "consumer", start: () => stages.consumer },
      ],
    });
    stages.producer.emit(range(0, 50));
    await settle();
    await supervisor.close();
    assert.deepEqual(stages.seen, range(0, 50).map((n) => n * 10));
    assert.deepEqual(log, ["producer closed", "doubler closed", "consumer closed"]);
  });

  it("aborting a supervisor's signal stops it at once with the reason, as stop() does", async () => {
    const log: string[] = [];
    const controller = new AbortController();
    let stages!: ReturnType<typeof pipeline>;
    const supervisor = new Supervisor({
      signal: controller.signal,
      children: [
        { id: "producer", start: () => (stages = pipeline(log)).producer },
        { id: "doubler", start: () => stages.doubler },
        { id: "consumer", start: () => stages.consumer },
      ],
    });
    stages.producer.emit(range(0, 30));
    const reason = new Error("interrupted");
    controller.abort(reason);
    await assert.rejects(supervisor.closed, (error) => error === reason);
    // Reverse start order, as stop(): nothing is drained.
    assert.deepEqual(log, ["consumer closed", "doubler closed", "producer closed"]);
  });

  it("Supervisor.stop() stops the stages at once, in reverse start order", async () => {
    const log: string[] = [];
    let stages!: ReturnType<typeof pipeline>;
    const supervisor = new Supervisor({
      children: [
        { id: "producer", start: () => (stages = pipeline(log)).producer },
        { id: "doubler", start: () => stages.doubler },
        { id: "consumer", start: () => stages.consumer },
      ],
    });
    stages.producer.emit(range(0, 50));
    await supervisor.stop();
    assert.deepEqual(log, ["consumer closed", "doubler closed", "producer closed"]);
    assert.ok(stages.seen.length < 50);
  });
});

describe("Faults under supervision", () => {
  it("a consumer that crashes leaves its producer running, and its restart subscribes to it again", async () => {
    let handleDemand = 0;
    let next = 0;
    const producer = new Producer<number>({
      // A finite supply: an endless synchronous pipeline would never yield to settle()'s timer.
      handleDemand: (demand) => (handleDemand++, range(next, next = Math.min(next + demand, 20))),
    });
    let crashes = 0;
    const again = deferred<void>();
    const supervisor = new Supervisor({
      children: [
        { id: "producer", start: () => producer },
        {
          id: "consumer",
          start: (children) =>
            new Consumer<number>({
              subscribeTo: [[children.get<Producer<number>>("producer")!, { maxDemand: 2 }]],
              handleEvents: () => {
                if (crashes++ < 2) throw new Error("crash");
                again.resolve();
              },
            }),
        },
      ],
    });
    let producerStopped = false;
    producer.closed.then(() => (producerStopped = true), () => (producerStopped = true));
    await again.promise;
    await settle();
    assert.equal(producerStopped, false);
    assert.equal(supervisor.get("producer"), producer);
    assert.ok(handleDemand >= 3);
    await supervisor.close();
    assert.equal(producerStopped, true);
  });

  it("a crashed producer stops its permanent consumers; rest_for_one restarts the lot once", async () => {
    const starts: string[] = [];
    const supervisor = new Supervisor({
      strategy: "rest_for_one",
      maxRestarts: 1,
      children: [
        { id: "producer", start: () => (starts.push("producer"), new Producer<number>()) },
        ...["a", "b", "c"].map((id) => ({
          id,
          start: (children: SupervisorChildren) => {
            starts.push(id);
            return new Consumer<number>({
              subscribeTo: [children.get<Producer<number>>("producer")!],
              handleEvents: () => {},
            });
          },
        })),
      ],
    });
    const consumers = ["a", "b", "c"].map((id) => supervisor.get<Consumer<number>>(id)!);
    const crash = new Error("producer crashed");
    await supervisor.get<Producer<number>>("producer")!.stop(crash);
    await Promise.all(consumers.map((consumer) => consumer.closed.catch(() => {})));
    await settle();
    assert.deepEqual(starts, ["producer", "a", "b", "c", "producer", "a", "b", "c"]);
    await supervisor.close();
  });

  it("a temporary consumer survives its producer's crash while the supervisor restarts the producer", async () => {
    const producers: Producer<number>[] = [];
    let consumerStarts = 0;
    const supervisor = new Supervisor({
      children: [
        {
          id: "producer",
          start: () => (producers.push(new Producer<number>()), producers.at(-1)!),
        },
        {
          id: "consumer",
          start: (children) => (consumerStarts++,
            new Consumer<number>({
              subscribeTo: [[children.get<Producer<number>>("producer")!, { cancel: "temporary" }]],
              handleEvents: () => {},
            })),
        },
      ],
    });
    await producers[0].stop(new Error("crash"));
    while (producers.length < 2) await settle();
    await settle();
    assert.equal(consumerStarts, 1);
    await supervisor.close();
  });
});
