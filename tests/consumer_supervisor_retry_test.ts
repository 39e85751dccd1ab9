// ConsumerSupervisor: a signal of its own for every task run, restarts that
// never spin the event loop (issue 10, point 8), and retry with exponential
// backoff and jitter, counted per task (issue 11, point 6). Time is fake.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ConsumerSupervisor,
  type ConsumerSupervisorOptions,
  Producer,
  type TaskContext,
} from "../mod.ts";
import { deferred, range, settle } from "./_helpers.ts";
import { FakeTimers } from "./_fake_timers.ts";

const silent = { onTaskError: () => {} };

/** Lets microtasks run, and a few turns of the event loop, without moving fake time. */
async function turns(count = 3): Promise<void> {
  for (let i = 0; i < count; i++) await settle();
}

// Point 8: one AbortSignal shared by every task piled up the listeners tasks
// left on it; a task failing synchronously was restarted in a tight loop.
describe("ConsumerSupervisor task signals", () => {
  it("gives each task its own signal, and stop() aborts those of the running tasks with the reason", async () => {
    const signals: AbortSignal[] = [];
    const supervisor = new ConsumerSupervisor<number>({
      subscribeTo: [Producer.from([1, 2, 3])],
      handleEvent: (_, { signal }) => {
        signals.push(signal);
        return new Promise<void>(() => {});
      },
    });
    await turns();
    assert.equal(signals.length, 3);
    assert.equal(new Set(signals).size, 3);
    const reason = new Error("enough");
    await supervisor.stop(reason);
    assert.deepEqual(signals.map((signal) => signal.reason), [reason, reason, reason]);
  });

  it("listeners a task leaves on its signal go with it: stopping aborts only the running tasks' listeners", async () => {
    let fired = 0;
    const last = deferred();
    const supervisor = new ConsumerSupervisor<number>({
      subscribeTo: [[Producer.from(range(0, 1000)), { maxDemand: 10 }]],
      handleEvent: (n, { signal }) => {
        signal.addEventListener("abort", () => fired++); // never removed
        if (n === 999) {
          last.resolve();
          return new Promise<void>(() => {});
        }
      },
    });
    await last.promise;
    await supervisor.stop(new Error("enough"));
    assert.equal(fired, 1, `${fired} listeners fired`);
  });

  it("close() leaves the signals of the running tasks alone", async () => {
    const signals: AbortSignal[] = [];
    const finish = deferred();
    const supervisor = new ConsumerSupervisor<number>({
      subscribeTo: [Producer.from([1, 2])],
      handleEvent: async (_, { signal }) => {
        signals.push(signal);
        await finish.promise;
      },
    });
    await turns();
    const closing = supervisor.close();
    finish.resolve();
    await closing;
    await supervisor.closed;
    assert.deepEqual(signals.map((signal) => signal.aborted), [false, false]);
  });
});

describe("ConsumerSupervisor restarts never spin the event loop", () => {
  for (const how of ["throws", "rejects at once"] as const) {
    it(`a transient task that ${how} runs again only on a later turn, each restart counted`, async () => {
      const timers = new FakeTimers();
      let runs = 0;
      const supervisor = new ConsumerSupervisor<number>({
        ...silent,
        restart: "transient",
        maxRestarts: 1000,
        timers,
        subscribeTo: [Producer.from([1])],
        handleEvent: () => {
          runs++;
          if (how === "throws") throw new Error("at once");
          return Promise.reject(new Error("at once"));
        },
      });
      await turns();
      assert.equal(runs, 1, `${runs} runs before the event loop could turn`);
      await timers.tick(1);
      assert.equal(runs, 2);
      await timers.tick(1);
      assert.equal(runs, 3);
      await supervisor.stop();
      assert.equal(timers.pending, 0, "stop() left a restart scheduled");
    });
  }
});

// Issue 11, point 6: retry with exponential backoff and jitter.
describe("ConsumerSupervisor retry", () => {
  it("retries a failing task after exponential waits capped at maxDelayMs, up to attempts runs, then drops it and returns its demand", async () => {
    const timers = new FakeTimers();
    const runs: Array<[number, number, number]> = []; // [event, attempt, time]
    const errors: unknown[] = [];
    const supervisor = new ConsumerSupervisor<number>({
      retry: { attempts: 4, initialDelayMs: 100, maxDelayMs: 250, jitter: 0 },
      timers,
      onTaskError: (error) => void errors.push(error),
      subscribeTo: [[Producer.from([1, 2]), { maxDemand: 1, minDemand: 0 }]],
      handleEvent: (n, context: TaskContext) => {
        runs.push([n, context.attempt, timers.now]);
        if (n === 1) throw new Error("always");
      },
    });
    await turns();
    await timers.tick(99);
    assert.deepEqual(runs, [[1, 1, 0]]);
    await timers.tick(1);
    await timers.tick(200);
    await timers.tick(250);
    await turns();
    // 100, then 200, then 250 (not 400): four runs, then dropped; its demand lets 2 in.
    assert.deepEqual(runs, [[1, 1, 0], [1, 2, 100], [1, 3, 300], [1, 4, 550], [2, 1, 550]]);
    assert.equal(errors.length, 4);
    await supervisor.closed;
  });

  it("shortens each wait at random by up to jitter of it", async () => {
    const timers = new FakeTimers();
    const supervisor = new ConsumerSupervisor<number>({
      ...silent,
      retry: { attempts: 4, initialDelayMs: 1000, multiplier: 3, jitter: 0.5 },
      timers,
      subscribeTo: [Producer.from([1])],
      handleEvent: () => {
        throw new Error("always");
      },
    });
    await turns();
    await timers.tick(1000);
    await timers.tick(3000);
    await timers.tick(9000);
    await supervisor.closed;
    assert.equal(timers.delays.length, 3);
    const [first, second, third] = timers.delays;
    assert.ok(first >= 500 && first <= 1000, `first wait ${first}`);
    assert.ok(second >= 1500 && second <= 3000, `second wait ${second}`);
    assert.ok(third >= 4500 && third <= 9000, `third wait ${third}`);
  });

  it("counts retries per task, not against maxRestarts", async () => {
    const timers = new FakeTimers();
    const failures = new Map([[1, 2], [2, 2], [3, 2]]);
    const done: number[] = [];
    const supervisor = new ConsumerSupervisor<number>({
      ...silent,
      retry: { attempts: 3, initialDelayMs: 10, jitter: 0 },
      maxRestarts: 0,
      timers,
      subscribeTo: [Producer.from([1, 2, 3])],
      handleEvent: async (n) => {
        await Promise.resolve();
        const left = failures.get(n)!;
        if (left > 0) {
          failures.set(n, left - 1);
          throw new Error("not yet");
        }
        done.push(n);
      },
    });
    await turns();
    await timers.tick(10);
    await timers.tick(20);
    await supervisor.closed;
    assert.deepEqual(done, [1, 2, 3]);
  });

  it("close() waits for the retries still to come; stop() cancels them", async () => {
    const timers = new FakeTimers();
    let runs = 0;
    const options = (attempts: number): ConsumerSupervisorOptions<number> => ({
      ...silent,
      retry: { attempts, initialDelayMs: 50, jitter: 0 },
      timers,
      subscribeTo: [[Producer.from([1]), { cancel: "temporary" }]],
      handleEvent: () => {
        if (++runs < 2) throw new Error("once");
      },
    });
    const closing = new ConsumerSupervisor<number>(options(2));
    await turns();
    let closed = false;
    closing.close().then(() => (closed = true));
    await turns();
    assert.equal(closed, false);
    await timers.tick(50);
    await closing.closed;
    assert.equal(runs, 2);

    runs = 0;
    const stopping = new ConsumerSupervisor<number>(options(5));
    await turns();
    assert.equal(timers.pending, 1);
    await stopping.stop();
    assert.equal(timers.pending, 0);
    await timers.tick(1000);
    assert.equal(runs, 1);
  });

  const handleEvent = () => {};
  const cases: Array<[string, unknown, ErrorConstructor, string]> = [
    [
      "a retry that is not an object",
      { handleEvent, retry: 3 },
      TypeError,
      "retry must be an object: current value is 3",
    ],
    [
      "zero attempts",
      { handleEvent, retry: { attempts: 0 } },
      RangeError,
      "retry.attempts must be an integer >= 1 or Infinity: current value is 0",
    ],
    [
      "a negative initialDelayMs",
      { handleEvent, retry: { initialDelayMs: -1 } },
      RangeError,
      "retry.initialDelayMs must be an integer >= 0: current value is -1",
    ],
    [
      "a fractional maxDelayMs",
      { handleEvent, retry: { maxDelayMs: 1.5 } },
      RangeError,
      "retry.maxDelayMs must be an integer >= 0 or Infinity: current value is 1.5",
    ],
    [
      "a multiplier below 1",
      { handleEvent, retry: { multiplier: 0.5 } },
      RangeError,
      "retry.multiplier must be a finite number >= 1: current value is 0.5",
    ],
    [
      "a jitter above 1",
      { handleEvent, retry: { jitter: 2 } },
      RangeError,
      "retry.jitter must be a number in [0, 1]: current value is 2",
    ],
    [
      "a jitter string",
      { handleEvent, retry: { jitter: "1" } },
      TypeError,
      'retry.jitter must be a number: current value is "1"',
    ],
    [
      "retry with restart temporary",
      { handleEvent, retry: {}, restart: "temporary" },
      TypeError,
      'restart must be "transient" when retry is set: current value is "temporary"',
    ],
    [
      "timers without clearTimeout",
      { handleEvent, timers: { setTimeout } },
      TypeError,
      "timers must be an object with setTimeout and clearTimeout: current value is an object",
    ],
  ];
  for (const [what, options, type, rule] of cases) {
    it(`rejects ${what}`, () => {
      assert.throws(() => new ConsumerSupervisor(options as ConsumerSupervisorOptions<unknown>), {
        name: type.name,
        message: `Cannot construct ConsumerSupervisor as ${rule}`,
      });
    });
  }
});
