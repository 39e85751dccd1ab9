// No silent hangs: a stage awaiting its own close() inside its own callback,
// and a supervisor whose child never stops (issue 10, point 7).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  Consumer,
  Producer,
  ProducerConsumer,
  ShutdownTimeoutError,
  type Supervisable,
  Supervisor,
} from "../mod.ts";
import { range, settle } from "./_helpers.ts";
import { FakeTimers } from "./_fake_timers.ts";
import { FakeStage } from "./_supervision.ts";

/**
 * Whether `promise` settles within `turns` turns of the event loop (a count
 * of macrotasks, not a duration): a hang fails the test quickly and says so.
 */
async function settlesWithin(promise: Promise<unknown>, turns = 20): Promise<boolean> {
  let settled = false;
  promise.then(() => (settled = true), () => (settled = true));
  for (let i = 0; i < turns && !settled; i++) await settle();
  return settled;
}

// Point 7a: awaiting a stage's own close() inside its own callback waited
// for the callback that was waiting: a deadlock with no error. close()
// called there must not wait on itself: the callback goes on, then the
// stage ends normally.
describe("a stage awaiting its own close() in its own callback", () => {
  for (const afterAwait of [false, true]) {
    const where = afterAwait ? "after an await" : "as its first step";
    it(`a consumer's handleEvents awaiting consumer.close() ${where} goes on, then the consumer stops normally`, async () => {
      let resumed = false;
      const consumer: Consumer<number> = new Consumer<number>({
        subscribeTo: [Producer.from(range(0, 10))],
        handleEvents: async () => {
          if (afterAwait) await Promise.resolve();
          await consumer.close();
          resumed = true;
        },
      });
      assert.ok(await settlesWithin(consumer.closed), "closed never settled");
      await consumer.closed;
      assert.ok(resumed);
    });
  }

  it("a producer's handleDemand awaiting producer.close() goes on; the events it returns are delivered, then it stops normally", async () => {
    const seen: number[] = [];
    const producer: Producer<number> = new Producer<number>({
      handleDemand: async () => {
        await producer.close();
        return [1, 2, 3];
      },
    });
    const consumer = new Consumer<number>({
      subscribeTo: [producer],
      handleEvents: (events) => void seen.push(...events),
    });
    assert.ok(await settlesWithin(producer.closed), "closed never settled");
    await producer.closed;
    await consumer.closed;
    assert.deepEqual(seen, [1, 2, 3]);
  });

  it("a producer-consumer's handleEvents awaiting stage.close() goes on; its output is delivered, then it stops normally", async () => {
    const seen: number[] = [];
    let closing = false;
    let next = 0;
    const producer = new Producer<number>({
      handleDemand: (demand) => range(next, next += demand),
    });
    const stage: ProducerConsumer<number, number> = new ProducerConsumer<number, number>({
      subscribeTo: [[producer, { maxDemand: 5 }]],
      handleEvents: async (events) => {
        if (!closing) {
          closing = true;
          await stage.close();
        }
        return events;
      },
    });
    const consumer = new Consumer<number>({
      subscribeTo: [stage],
      handleEvents: (events) => void seen.push(...events),
    });
    assert.ok(await settlesWithin(stage.closed), "closed never settled");
    await stage.closed;
    await consumer.closed;
    await producer.stop();
    // The chunk whose handleEvents closed the stage, and whatever was already on its way, got through in order.
    assert.deepEqual(seen, range(0, seen.length));
    assert.ok(seen.length >= 3);
  });
});

/** A child whose stop() and close() are logged and whose closed never settles. */
function stuck(id: string, log: string[]): Supervisable {
  return {
    closed: new Promise<void>(() => {}),
    stop: (reason) => {
      log.push(`stop ${id} ${String(reason)}`);
      return new Promise<void>(() => {});
    },
    close: () => {
      log.push(`close ${id}`);
      return new Promise<void>(() => {});
    },
  };
}

// Point 7b: Supervisor.close() and stop() waited for ever on a child whose
// closed never settles. They escalate after shutdownMs and settle,
// reporting the child.
describe("a supervisor with a child that never stops", () => {
  it("close() stops it after shutdownMs, gives up on it after shutdownMs more, closes the others and rejects closed naming it", async () => {
    const log: string[] = [];
    const timers = new FakeTimers();
    const supervisor = new Supervisor({
      shutdownMs: 100,
      timers,
      children: [
        { id: "stuck", start: () => stuck("stuck", log) },
        { id: "next", start: () => new FakeStage("next", log) },
      ],
    });
    const closing = supervisor.close();
    await timers.tick(99);
    assert.deepEqual(log, ["close stuck"]);
    await timers.tick(1);
    assert.deepEqual(log, ["close stuck", "stop stuck shutdown"]);
    await timers.tick(100);
    assert.ok(await settlesWithin(closing), "close() never settled");
    assert.deepEqual(log, ["close stuck", "stop stuck shutdown", "close next"]);
    const error = await supervisor.closed.then(() => assert.fail("closed resolved"), (e) => e);
    assert.ok(error instanceof ShutdownTimeoutError);
    assert.deepEqual(error.children, ["stuck"]);
    assert.equal(error.cause, undefined);
    assert.equal(
      error.message,
      'Supervisor gave up on child "stuck": stopped with "shutdown", it did not stop within shutdownMs',
    );
  });

  it("stop() gives up on it after shutdownMs, stops the others and rejects closed naming it, with the stop reason as cause", async () => {
    const log: string[] = [];
    const timers = new FakeTimers();
    const supervisor = new Supervisor({
      shutdownMs: 100,
      timers,
      children: [
        { id: "first", start: () => new FakeStage("first", log) },
        { id: "stuck", start: () => stuck("stuck", log) },
      ],
    });
    const reason = new Error("enough");
    const stopping = supervisor.stop(reason);
    await timers.tick(100);
    assert.ok(await settlesWithin(stopping), "stop() never settled");
    assert.deepEqual(log, ["stop stuck shutdown", "stop first shutdown"]);
    const error = await supervisor.closed.then(() => assert.fail("closed resolved"), (e) => e);
    assert.ok(error instanceof ShutdownTimeoutError);
    assert.deepEqual(error.children, ["stuck"]);
    assert.equal(error.cause, reason);
  });

  it("a restart whose sibling never stops gives up rather than run two instances of it", async () => {
    const log: string[] = [];
    const timers = new FakeTimers();
    let starts = 0;
    const failing = new FakeStage("failing", log);
    const supervisor = new Supervisor({
      strategy: "one_for_all",
      shutdownMs: 100,
      timers,
      children: [
        { id: "stuck", start: () => (starts++, stuck("stuck", log)) },
        { id: "failing", start: () => failing },
      ],
    });
    const failure = new Error("crashed");
    failing.crash(failure);
    await timers.tick(100);
    assert.ok(await settlesWithin(supervisor.closed), "closed never settled");
    const error = await supervisor.closed.then(() => assert.fail("closed resolved"), (e) => e);
    assert.ok(error instanceof ShutdownTimeoutError);
    assert.deepEqual(error.children, ["stuck"]);
    assert.equal(error.cause, failure);
    assert.equal(starts, 1);
  });

  it("a child whose closed settles in time is not reported", async () => {
    const timers = new FakeTimers();
    const log: string[] = [];
    const slow = new FakeStage("slow", log);
    slow.hangOnClose = true;
    const supervisor = new Supervisor({
      shutdownMs: 100,
      timers,
      children: [{ id: "slow", start: () => slow }],
    });
    const closing = supervisor.close();
    await timers.tick(100); // stopped with "shutdown", which it obeys at once
    await closing;
    await supervisor.closed;
    assert.deepEqual(log, ["close slow", "stop slow shutdown"]);
    assert.equal(timers.pending, 0);
  });
});
