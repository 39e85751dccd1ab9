import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ConsumerSupervisor,
  type ConsumerSupervisorOptions,
  Producer,
  RestartIntensityError,
  type TaskContext,
} from "../mod.ts";
import { type Deferred, deferred, range, settle } from "./_helpers.ts";

function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => assert.fail("expected a rejection"), (reason) => reason);
}

/** Tasks finished by hand: each event's task waits on its own deferred. */
class Tasks<T> {
  readonly started: T[] = [];
  readonly signals: AbortSignal[] = [];
  readonly #pending: Array<[T, Deferred<void>]> = [];
  running = 0;
  most = 0;

  readonly handleEvent = (event: T, context: TaskContext): Promise<void> => {
    this.started.push(event);
    this.signals.push(context.signal);
    this.most = Math.max(this.most, ++this.running);
    const task = deferred<void>();
    this.#pending.push([event, task]);
    return task.promise.finally(() => this.running--);
  };

  #take(event: T): Deferred<void> {
    const i = this.#pending.findIndex(([e]) => e === event);
    if (i < 0) throw new Error(`no running task for ${String(event)}`);
    return this.#pending.splice(i, 1)[0][1];
  }

  /** Completes the oldest running task for `event`. */
  finish(event: T): void {
    this.#take(event).resolve();
  }

  /** Fails the oldest running task for `event`. */
  fail(event: T, error: unknown = new Error(`task ${String(event)} failed`)): void {
    this.#take(event).reject(error);
  }
}

/** A producer that records every ask and emits only what the test pushes. */
function manualProducer<T>(): { producer: Producer<T>; asks: number[] } {
  const asks: number[] = [];
  const producer = new Producer<T>({ handleDemand: (demand) => void asks.push(demand) });
  return { producer, asks };
}

const silent = { onTaskError: () => {} };

describe("ConsumerSupervisor options", () => {
  const handleEvent = () => {};
  const cases: Array<[string, unknown, ErrorConstructor, string]> = [
    ["no options", undefined, TypeError, "options must be an object: current value is undefined"],
    ["no handleEvent", {}, TypeError, "handleEvent must be a function: current value is undefined"],
    [
      "restart permanent",
      { handleEvent, restart: "permanent" },
      TypeError,
      'restart must be "temporary" or "transient": current value is "permanent"',
    ],
    [
      "a negative maxRestarts",
      { handleEvent, maxRestarts: -1 },
      RangeError,
      "maxRestarts must be an integer >= 0: current value is -1",
    ],
    [
      "a maxSeconds string",
      { handleEvent, maxSeconds: "5" },
      TypeError,
      'maxSeconds must be a number: current value is "5"',
    ],
    [
      "a NaN maxSeconds",
      { handleEvent, maxSeconds: NaN },
      RangeError,
      "maxSeconds must be a finite number >= 0: current value is NaN",
    ],
    [
      "a bad onTaskError",
      { handleEvent, onTaskError: 1 },
      TypeError,
      "onTaskError must be a function: current value is 1",
    ],
    [
      "a bad signal",
      { handleEvent, signal: "stop" },
      TypeError,
      'signal must be an AbortSignal: current value is "stop"',
    ],
    [
      "subscribeTo not an array",
      { handleEvent, subscribeTo: {} },
      TypeError,
      "subscribeTo must be an array: current value is an object",
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

  it("rejects an invalid subscribeTo entry and subscribes to nothing", async () => {
    let subscribed = 0;
    const producer = new Producer<number>({ handleSubscribe: () => void subscribed++ });
    assert.throws(
      () =>
        new ConsumerSupervisor<number>({
          handleEvent,
          subscribeTo: [producer, [producer, { maxDemand: 0 }]],
        }),
      {
        name: "RangeError",
        message:
          "Cannot construct ConsumerSupervisor with subscribeTo[1] as maxDemand must be an integer >= 1: current value is 0",
      },
    );
    assert.throws(
      () => new ConsumerSupervisor<number>({ handleEvent, subscribeTo: [{} as Producer<number>] }),
      {
        name: "TypeError",
        message:
          "Cannot construct ConsumerSupervisor with subscribeTo[0] as the source must be a Producer or ProducerConsumer: current value is an object",
      },
    );
    await settle();
    assert.equal(subscribed, 0);
    await producer.stop();
  });

  it("subscribeTo rejects bad demand options with the stage's messages (CS13)", async () => {
    const supervisor = new ConsumerSupervisor<number>({ handleEvent });
    const producer = new Producer<number>();
    assert.throws(() => supervisor.subscribeTo(producer, { maxDemand: 0 }), {
      name: "RangeError",
      message: "Cannot subscribe as maxDemand must be an integer >= 1: current value is 0",
    });
    assert.throws(() => supervisor.subscribeTo(producer, { maxDemand: 10, minDemand: 10 }), {
      name: "RangeError",
      message: "Cannot subscribe as minDemand must be an integer in [0, 9]: current value is 10",
    });
    await supervisor.stop();
    await producer.stop();
  });

  it("subscribeTo throws once the supervisor has stopped, or when the producer has (CS14)", async () => {
    const supervisor = new ConsumerSupervisor<number>({ handleEvent });
    const stopped = new Producer<number>();
    await stopped.stop();
    assert.throws(() => supervisor.subscribeTo(stopped), {
      name: "TypeError",
      message: "Cannot subscribe as the Producer has stopped",
    });
    await supervisor.stop();
    assert.throws(() => supervisor.subscribeTo(new Producer<number>()), {
      name: "TypeError",
      message: "Cannot subscribe as the ConsumerSupervisor has stopped",
    });
  });
});

describe("ConsumerSupervisor tasks", () => {
  it("returns the subscription, whose producer is the source (CS12)", async () => {
    const producer = new Producer<number>();
    const supervisor = new ConsumerSupervisor<number>({ handleEvent: () => {} });
    const subscription = supervisor.subscribeTo(producer, { maxDemand: 5 });
    assert.equal(subscription.producer, producer);
    assert.equal(subscription.options.maxDemand, 5);
    await supervisor.stop();
    await producer.stop();
  });

  it("starts one task per event (CS15, CS16)", async () => {
    const seen: string[] = [];
    const supervisor = new ConsumerSupervisor<string>({
      subscribeTo: [Producer.from(["ok1", "ok2", "ok3"])],
      handleEvent: (event) => void seen.push(event),
    });
    await supervisor.closed;
    assert.deepEqual(seen, ["ok1", "ok2", "ok3"]);
  });

  it("asks for maxDemand at once and runs at most maxDemand tasks per subscription", async () => {
    const { producer, asks } = manualProducer<number>();
    const tasks = new Tasks<number>();
    const supervisor = new ConsumerSupervisor<number>({
      subscribeTo: [[producer, { maxDemand: 3, minDemand: 1 }]],
      handleEvent: tasks.handleEvent,
    });
    await settle();
    assert.deepEqual(asks, [3]);
    producer.emit(range(0, 10));
    await settle();
    assert.deepEqual(tasks.started, [0, 1, 2]);
    assert.equal(producer.bufferedCount, 7);
    for (let i = 0; i < 10; i++) {
      tasks.finish(i);
      await settle();
      assert.ok(tasks.running <= 3);
    }
    assert.deepEqual(tasks.started, range(0, 10));
    assert.equal(tasks.most, 3);
    await supervisor.stop();
    await producer.stop();
  });

  it("returns demand in groups of at least minDemand as tasks end (CS21)", async () => {
    const { producer, asks } = manualProducer<string>();
    const tasks = new Tasks<string>();
    const supervisor = new ConsumerSupervisor<string>({
      subscribeTo: [[producer, { maxDemand: 3, minDemand: 2 }]],
      handleEvent: tasks.handleEvent,
    });
    await settle();
    producer.emit(["a", "b", "c"]);
    await settle();
    assert.deepEqual(tasks.started, ["a", "b", "c"]);
    tasks.finish("a");
    await settle();
    assert.deepEqual(asks, [3]);
    tasks.finish("b");
    await settle();
    assert.deepEqual(asks, [3, 2]);
    producer.emit(["d"]);
    producer.emit(["e"]);
    producer.emit(["f"]);
    await settle();
    assert.deepEqual(tasks.started, ["a", "b", "c", "d", "e"]);
    assert.equal(tasks.running, 3);
    assert.equal(producer.bufferedCount, 1);
    await supervisor.stop();
    await producer.stop();
  });

  it("with minDemand 0 asks nothing until a task ends, then one at a time (CS22)", async () => {
    const { producer, asks } = manualProducer<number>();
    const tasks = new Tasks<number>();
    const supervisor = new ConsumerSupervisor<number>({
      subscribeTo: [[producer, { maxDemand: 3, minDemand: 0 }]],
      handleEvent: tasks.handleEvent,
    });
    await settle();
    producer.emit([1, 2]);
    await settle();
    assert.deepEqual(tasks.started, [1, 2]);
    assert.deepEqual(asks, [3]);
    tasks.finish(2);
    await settle();
    assert.deepEqual(asks, [3, 1]);
    await supervisor.stop();
    await producer.stop();
  });

  it("with maxDemand 1 runs one task at a time, failed tasks freeing their demand at once (CS18, CS17)", async () => {
    const { producer } = manualProducer<string>();
    const failures: Array<[unknown, string]> = [];
    const log: string[] = [];
    let running = 0;
    const finishers: Array<() => void> = [];
    const supervisor = new ConsumerSupervisor<string>({
      subscribeTo: [[producer, { maxDemand: 1, minDemand: 0 }]],
      onTaskError: (error, event) => void failures.push([error, event]),
      handleEvent: (event) => {
        log.push(`${event} (${++running} running)`);
        if (event.startsWith("throw")) {
          running--;
          throw new Error(event);
        }
        if (event.startsWith("reject")) {
          running--;
          return Promise.reject(new Error(event));
        }
        return new Promise<void>((resolve) => finishers.push(() => (running--, resolve())));
      },
    });
    producer.emit(["ok1", "throw", "reject", "ok2", "ok3"]);
    await settle();
    assert.deepEqual(log, ["ok1 (1 running)"]);
    finishers.shift()!();
    await settle();
    assert.deepEqual(log, [
      "ok1 (1 running)",
      "throw (1 running)",
      "reject (1 running)",
      "ok2 (1 running)",
    ]);
    assert.deepEqual(failures.map(([error, event]) => [(error as Error).message, event]), [
      ["throw", "throw"],
      ["reject", "reject"],
    ]);
    finishers.shift()!();
    await settle();
    assert.deepEqual(log.at(-1), "ok3 (1 running)");
    await supervisor.stop();
    await producer.stop();
  });

  it("reports task failures to console.error without onTaskError, and goes on", async () => {
    const original = console.error;
    const reports: unknown[][] = [];
    console.error = (...args: unknown[]) => void reports.push(args);
    try {
      const seen: number[] = [];
      const supervisor = new ConsumerSupervisor<number>({
        subscribeTo: [Producer.from([1, 2, 3])],
        handleEvent: (n) => {
          if (n === 2) throw new Error("two");
          seen.push(n);
        },
      });
      await supervisor.closed;
      assert.deepEqual(seen, [1, 3]);
      assert.equal(reports.length, 1);
      assert.ok(reports[0].includes(2));
    } finally {
      console.error = original;
    }
  });

  it("handles events from several subscriptions, each with its own demand", async () => {
    const seen: number[] = [];
    const all = deferred<void>();
    const supervisor = new ConsumerSupervisor<number>({
      subscribeTo: [
        [Producer.from(range(0, 50)), { maxDemand: 4, cancel: "transient" }],
        [Producer.from(range(50, 100)), { maxDemand: 7, cancel: "transient" }],
      ],
      handleEvent: async (n) => {
        await Promise.resolve();
        if (seen.push(n) === 100) all.resolve();
      },
    });
    await all.promise;
    await supervisor.close();
    assert.deepEqual(seen.sort((a, b) => a - b), range(0, 100));
  });
});

describe("ConsumerSupervisor restarts", () => {
  it("temporary: a failed task is not run again (CS5)", async () => {
    const runs: number[] = [];
    const supervisor = new ConsumerSupervisor<number>({
      ...silent,
      subscribeTo: [Producer.from([1, 2, 3])],
      handleEvent: (n) => {
        runs.push(n);
        if (n === 2) return Promise.reject(new Error("no"));
      },
    });
    await supervisor.closed;
    assert.deepEqual(runs, [1, 2, 3]);
  });

  it("transient: a failed task runs again with the same event, a completed one never (CS6)", async () => {
    const runs: number[] = [];
    let failures = 2;
    const supervisor = new ConsumerSupervisor<number>({
      ...silent,
      restart: "transient",
      subscribeTo: [Producer.from([1, 2, 3])],
      handleEvent: async (n) => {
        await Promise.resolve();
        runs.push(n);
        if (n === 2 && failures-- > 0) throw new Error("not yet");
      },
    });
    await supervisor.closed;
    assert.deepEqual(runs.sort(), [1, 2, 2, 2, 3]);
  });

  it("transient: a synchronous throw is restarted too, on a later turn of the event loop", async () => {
    const runs: number[] = [];
    let fail = true;
    const supervisor = new ConsumerSupervisor<number>({
      ...silent,
      restart: "transient",
      subscribeTo: [Producer.from([1, 2])],
      handleEvent: (n) => {
        runs.push(n);
        if (n === 1 && fail) {
          fail = false;
          throw new Error("once");
        }
      },
    });
    await supervisor.closed;
    // The restart waits for the next turn, so 2 starts first.
    assert.deepEqual(runs, [1, 2, 1]);
  });

  it("transient: a restarting task holds its demand (CS19)", async () => {
    const { producer, asks } = manualProducer<string>();
    const tasks = new Tasks<string>();
    const supervisor = new ConsumerSupervisor<string>({
      ...silent,
      restart: "transient",
      subscribeTo: [[producer, { maxDemand: 1, minDemand: 0 }]],
      handleEvent: tasks.handleEvent,
    });
    await settle();
    producer.emit(["first", "second"]);
    await settle();
    tasks.fail("first");
    await settle(); // the failure is handled
    await settle(); // the restart runs on the next turn
    assert.deepEqual(tasks.started, ["first", "first"]);
    assert.deepEqual(asks, [1]);
    tasks.finish("first");
    await settle();
    assert.deepEqual(tasks.started, ["first", "first", "second"]);
    await supervisor.stop();
    await producer.stop();
  });

  it("gives up after maxRestarts restarts, rejecting closed with the last failure as cause (CS9)", async () => {
    const tasks = new Tasks<number>();
    const { producer } = manualProducer<number>();
    const supervisor = new ConsumerSupervisor<number>({
      ...silent,
      restart: "transient",
      maxRestarts: 1,
      subscribeTo: [[producer, { cancel: "temporary" }]],
      handleEvent: tasks.handleEvent,
    });
    producer.emit([1, 2]);
    await settle();
    tasks.fail(1);
    await settle(); // the failure is handled
    await settle(); // the restart runs on the next turn
    const last = new Error("again");
    tasks.fail(1, last);
    const error = await rejection(supervisor.closed);
    assert.ok(error instanceof RestartIntensityError);
    assert.equal(error.cause, last);
    assert.equal(
      error.message,
      "ConsumerSupervisor reached its maximum restart intensity: more than 1 restart within 5 seconds",
    );
    assert.deepEqual(tasks.started, [1, 2, 1]);
    // The task still running (2) is aborted; the runs that failed are over.
    assert.equal(tasks.signals[1].aborted, true);
    assert.equal(tasks.signals[1].reason, error);
    assert.equal(tasks.signals[0].aborted, false);
    await producer.stop();
  });

  it("gives up at the first failure with maxRestarts 0", async () => {
    const supervisor = new ConsumerSupervisor<number>({
      ...silent,
      restart: "transient",
      maxRestarts: 0,
      subscribeTo: [Producer.from([1])],
      handleEvent: () => Promise.reject(new Error("no")),
    });
    assert.ok((await rejection(supervisor.closed)) instanceof RestartIntensityError);
  });

  it("forgets restarts older than maxSeconds", async () => {
    let now = 0;
    let failures = 5;
    const supervisor = new ConsumerSupervisor<number>({
      ...silent,
      restart: "transient",
      maxRestarts: 1,
      maxSeconds: 1,
      now: () => (now += 1001),
      subscribeTo: [Producer.from([1])],
      handleEvent: async () => {
        await Promise.resolve();
        if (failures-- > 0) throw new Error("not yet");
      },
    });
    await supervisor.closed;
    assert.equal(failures, -1);
  });
});

describe("ConsumerSupervisor shutdown", () => {
  it("close() ends the subscriptions, waits for the running tasks, and leaves their signal alone", async () => {
    const { producer } = manualProducer<number>();
    const tasks = new Tasks<number>();
    const supervisor = new ConsumerSupervisor<number>({
      subscribeTo: [producer],
      handleEvent: tasks.handleEvent,
    });
    producer.emit([1, 2]);
    await settle();
    let closed = false;
    supervisor.closed.then(() => (closed = true));
    void supervisor.close();
    await settle();
    assert.equal(closed, false);
    tasks.finish(1);
    await settle();
    assert.equal(closed, false);
    tasks.finish(2);
    await supervisor.closed;
    assert.equal(tasks.signals[0].aborted, false);
    assert.equal(producer.bufferedCount, 0);
    await producer.stop();
  });

  it("stop() aborts the tasks' signal with the reason and does not wait for them", async () => {
    const { producer } = manualProducer<number>();
    const tasks = new Tasks<number>();
    const supervisor = new ConsumerSupervisor<number>({
      subscribeTo: [producer],
      handleEvent: tasks.handleEvent,
    });
    producer.emit([1]);
    await settle();
    const reason = new Error("enough");
    await supervisor.stop(reason);
    assert.equal(await rejection(supervisor.closed), reason);
    assert.equal(tasks.signals[0].aborted, true);
    assert.equal(tasks.signals[0].reason, reason);
    tasks.fail(1);
    await producer.stop();
  });

  it("stop() with a normal reason resolves closed", async () => {
    const tasks = new Tasks<number>();
    const supervisor = new ConsumerSupervisor<number>({ handleEvent: tasks.handleEvent });
    await supervisor.stop();
    await supervisor.closed;
  });

  it("the end of a permanent subscription drains: closed resolves after the last task", async () => {
    const tasks = new Tasks<number>();
    const supervisor = new ConsumerSupervisor<number>({
      subscribeTo: [Producer.from([1, 2, 3])],
      handleEvent: tasks.handleEvent,
    });
    let closed = false;
    supervisor.closed.then(() => (closed = true));
    await settle();
    assert.deepEqual(tasks.started, [1, 2, 3]);
    tasks.finish(1);
    tasks.finish(3);
    await settle();
    assert.equal(closed, false);
    tasks.finish(2);
    await supervisor.closed;
  });

  it("a producer that crashes stops a permanent subscriber, aborting its tasks", async () => {
    const { producer } = manualProducer<number>();
    const tasks = new Tasks<number>();
    const supervisor = new ConsumerSupervisor<number>({
      subscribeTo: [producer],
      handleEvent: tasks.handleEvent,
    });
    producer.emit([1]);
    await settle();
    const crash = new Error("producer crashed");
    await producer.stop(crash);
    assert.equal(await rejection(supervisor.closed), crash);
    assert.equal(tasks.signals[0].reason, crash);
  });

  it("a temporary subscription survives its producer; the tasks keep running (CS20)", async () => {
    const { producer } = manualProducer<number>();
    const tasks = new Tasks<number>();
    const supervisor = new ConsumerSupervisor<number>({
      subscribeTo: [[producer, { cancel: "temporary" }]],
      handleEvent: tasks.handleEvent,
    });
    producer.emit([1, 2]);
    await settle();
    await producer.stop(new Error("producer crashed"));
    await settle();
    assert.equal(tasks.running, 2);
    assert.equal(tasks.signals[0].aborted, false);
    tasks.finish(1);
    tasks.finish(2);
    await settle();
    const other = Producer.from([3]);
    supervisor.subscribeTo(other);
    await settle();
    assert.deepEqual(tasks.started, [1, 2, 3]);
    tasks.finish(3);
    await supervisor.close();
  });

  it("aborting its signal stops it with the signal's reason", async () => {
    const controller = new AbortController();
    const tasks = new Tasks<number>();
    const { producer } = manualProducer<number>();
    const supervisor = new ConsumerSupervisor<number>({
      signal: controller.signal,
      subscribeTo: [producer],
      handleEvent: tasks.handleEvent,
    });
    producer.emit([1]);
    await settle();
    const reason = new Error("aborted");
    controller.abort(reason);
    assert.equal(await rejection(supervisor.closed), reason);
    assert.equal(tasks.signals[0].reason, reason);
    await producer.stop();
  });

  it("Symbol.asyncDispose closes gracefully", async () => {
    const seen: number[] = [];
    const producer = new Producer<number>();
    {
      await using _supervisor = new ConsumerSupervisor<number>({
        subscribeTo: [producer],
        handleEvent: async (n) => {
          await Promise.resolve();
          seen.push(n);
        },
      });
      producer.emit([1, 2]);
      await settle();
    }
    assert.deepEqual(seen, [1, 2]);
    await producer.stop();
  });
});
