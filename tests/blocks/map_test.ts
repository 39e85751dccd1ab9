import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Consumer, map, Producer, type Subscription } from "../../mod.ts";
import { currentStreams, type Deferred, deferred, range } from "../_helpers.ts";
import { counter } from "../_stages.ts";
import { settled } from "./_fake_clock.ts";

/** An async function whose calls wait until the test settles them, one by one. */
function controlled<I>() {
  const calls: Array<{ event: I; signal: AbortSignal; done: Deferred<string> }> = [];
  let running = 0;
  let most = 0;
  const fn = (event: I, { signal }: { signal: AbortSignal }) => {
    const done = deferred<string>();
    calls.push({ event, signal, done });
    most = Math.max(most, ++running);
    return done.promise.finally(() => running--);
  };
  return {
    fn,
    calls,
    get running() {
      return running;
    },
    get most() {
      return most;
    },
    /** Settles the call for `event` with `"<event>!"`. */
    finish(event: I) {
      calls.find((c) => c.event === event)!.done.resolve(`${event}!`);
    },
  };
}

/** A consumer recording every event. */
function recorder<T>(source: ReturnType<typeof map<never, T>>, manual = false) {
  const seen: T[] = [];
  let subscription: Subscription<T> | undefined;
  const consumer = new Consumer<T>({
    subscribeTo: [[source, { maxDemand: 100 }]],
    handleSubscribe: (s) => {
      subscription = s;
      return manual ? "manual" : "automatic";
    },
    handleEvents: (events) => void seen.push(...events),
  });
  return { seen, consumer, ask: (n: number) => subscription!.ask(n) };
}

describe("map", () => {
  it("runs at most concurrency calls at once, starting the next as soon as one finishes", async () => {
    const f = controlled<number>();
    const stage = map(f.fn, { concurrency: 3, subscribeTo: [Producer.from(range(0, 10))] });
    const out = recorder(stage);
    await settled();
    assert.deepEqual(f.calls.map((c) => c.event), [0, 1, 2]);
    f.finish(1);
    await settled();
    assert.deepEqual(
      f.calls.map((c) => c.event),
      [0, 1, 2, 3],
      "1 finished: 3 started, 0 still runs",
    );
    f.finish(3);
    f.finish(2);
    await settled();
    assert.deepEqual(f.calls.map((c) => c.event), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(out.seen, [], "in order: everything waits for 0");
    f.finish(0);
    await settled();
    assert.deepEqual(out.seen, ["0!", "1!", "2!", "3!"]);
    for (let i = 4; i < 10; i++) {
      await settled();
      f.finish(i);
    }
    await out.consumer.closed;
    assert.deepEqual(out.seen, range(0, 10).map((i) => `${i}!`));
    assert.equal(f.most, 3);
  });

  it("ordered: false sends results as the calls finish", async () => {
    const f = controlled<number>();
    const stage = map(f.fn, {
      concurrency: 4,
      ordered: false,
      subscribeTo: [Producer.from(range(0, 4))],
    });
    const out = recorder(stage);
    await settled();
    for (const i of [2, 0, 3, 1]) {
      f.finish(i);
      await settled();
    }
    await out.consumer.closed;
    assert.deepEqual(out.seen, ["2!", "0!", "3!", "1!"]);
  });

  it("a synchronous function maps a long source whole and in order", async () => {
    const stage = map((n: number) => n * 2, {
      concurrency: 8,
      subscribeTo: [[Producer.from(range(0, 10_000)), { maxDemand: 1000 }]],
    });
    const seen: number[] = [];
    let batches = 0;
    const consumer = new Consumer<number>({
      subscribeTo: [stage],
      handleEvents: (events) => {
        batches++;
        seen.push(...events);
      },
    });
    await consumer.closed;
    assert.deepEqual(seen, range(0, 10_000).map((n) => n * 2));
    assert.ok(batches <= 40, `results leave in batches (${batches})`);
  });

  it("results of fast async calls leave in batches, not one by one", async () => {
    const stage = map((n: number) => Promise.resolve(n + 1), {
      concurrency: 8,
      subscribeTo: [Producer.from(range(0, 2000))],
    });
    const seen: number[] = [];
    let batches = 0;
    const consumer = new Consumer<number>({
      subscribeTo: [stage],
      handleEvents: (events) => {
        batches++;
        seen.push(...events);
      },
    });
    await consumer.closed;
    assert.deepEqual(seen, range(1, 2001));
    assert.ok(batches <= 20, `${batches} batches for 2000 results`);
  });

  it("gives fn a signal that is aborted with the reason when the stage stops", async () => {
    const f = controlled<number>();
    const { producer } = counter();
    const stage = map(f.fn, { concurrency: 2, subscribeTo: [producer] });
    recorder(stage);
    await settled();
    assert.equal(f.calls.length, 2);
    assert.ok(f.calls.every((c) => !c.signal.aborted));
    await stage.stop("shutdown");
    assert.ok(f.calls.every((c) => c.signal.aborted && c.signal.reason === "shutdown"));
    f.finish(0);
    await settled();
    assert.equal(f.calls.length, 2, "nothing starts after the stop");
    await producer.stop();
  });

  it("a call that rejects stops the stage with that error and aborts the calls still running", async () => {
    const f = controlled<number>();
    const stage = map(f.fn, { concurrency: 3, subscribeTo: [Producer.from(range(0, 10))] });
    const out = recorder(stage);
    await settled();
    const failure = new Error("lookup failed");
    f.calls[1].done.reject(failure);
    await assert.rejects(stage.closed, (reason) => reason === failure);
    await assert.rejects(out.consumer.closed, (reason) => reason === failure);
    assert.deepEqual(f.calls.map((c) => c.signal.aborted), [true, true, true]);
    assert.equal(f.calls[0].signal.reason, failure);
    assert.deepEqual(out.seen, []);
  });

  it("a call that throws at once stops the stage; a rejection with undefined is a failure, not a normal end", async () => {
    const thrown = new Error("bad event");
    const throwing = map((n: number) => {
      if (n === 5) throw thrown;
      return n;
    }, { subscribeTo: [Producer.from(range(0, 10))] });
    const out = recorder(throwing);
    await assert.rejects(throwing.closed, (reason) => reason === thrown);
    await assert.rejects(out.consumer.closed, (reason) => reason === thrown);
    assert.deepEqual(out.seen, [], "the results of the batch that failed never left");

    const quiet = map((n: number) => (n === 1 ? Promise.reject(undefined) : n), {
      name: "quiet",
      subscribeTo: [Producer.from([0, 1, 2])],
    });
    const quietOut = recorder(quiet);
    await assert.rejects(quiet.closed, (error: Error) => {
      assert.equal(error.message, "quiet failed: its fn threw undefined");
      assert.equal(error.cause, undefined);
      return true;
    });
    await assert.rejects(quietOut.consumer.closed, {
      message: "quiet failed: its fn threw undefined",
    });
  });

  it("a graceful end waits for the calls in progress and sends their results first", async () => {
    const f = controlled<number>();
    const stage = map(f.fn, { concurrency: 2, subscribeTo: [Producer.from(range(0, 5))] });
    const out = recorder(stage);
    let closed = false;
    stage.closed.then(() => (closed = true));
    for (let i = 0; i < 5; i++) {
      await settled();
      assert.equal(closed, false);
      f.finish(i);
    }
    await out.consumer.closed;
    assert.equal(closed, true);
    assert.deepEqual(out.seen, ["0!", "1!", "2!", "3!", "4!"]);
    assert.ok(f.calls.every((c) => c.signal.aborted && c.signal.reason === "normal"));
  });

  it("is demand-bounded: it computes at most concurrency results beyond downstream demand", async () => {
    const { producer, demands } = counter();
    let calls = 0;
    const stage = map((n: number) => (calls++, n), {
      concurrency: 4,
      subscribeTo: [[producer, { maxDemand: 20, minDemand: 10 }]],
    });
    const out = recorder(stage, true);
    await settled();
    assert.equal(calls, 0, "nothing is computed before downstream asks");
    assert.deepEqual(demands, [20], "one ask of maxDemand: the events wait in the subscription");
    out.ask(6);
    await settled();
    assert.equal(out.seen.length, 6);
    assert.equal(calls, 10, "6 left, 4 computed ahead");
    assert.deepEqual(demands, [20, 10], "asked again once 10 of its 20 had started");
    out.ask(100);
    await settled();
    assert.ok(demands.every((d) => d <= 20));
    const produced = demands.reduce((a, b) => a + b, 0);
    assert.ok(produced - out.seen.length <= 20 + 4, `${produced} produced, ${out.seen.length} out`);
    await producer.stop();
  });

  it("a consumer that crashes leaves it running; the next one gets the rest", async () => {
    const { producer } = counter();
    const stage = map((n: number) => n, { concurrency: 2, subscribeTo: [producer] });
    const crash = new Error("consumer crash");
    const first: number[] = [];
    const crashing = new Consumer<number>({
      subscribeTo: [[stage, { maxDemand: 1, minDemand: 0 }]],
      handleEvents: (events) => {
        first.push(...events);
        throw crash;
      },
    });
    await assert.rejects(crashing.closed, (reason) => reason === crash);
    const rest: number[] = [];
    const next = new Consumer<number>({
      subscribeTo: [[stage, { maxDemand: 5 }]],
      handleEvents: (events) => void rest.push(...events),
    });
    await settled();
    assert.deepEqual(first, [0]);
    assert.deepEqual(rest.slice(0, 20), range(1, 21), "what it computed for the first goes on");
    await next.stop();
    await stage.stop();
    await producer.stop();
  });

  it("works through its faces", async () => {
    const { ReadableStream, WritableStream } = currentStreams();
    const source = new ReadableStream<string>({
      start(controller) {
        for (const word of ["web", "stage", "map"]) controller.enqueue(word);
        controller.close();
      },
    });
    const out: number[] = [];
    await source.pipeThrough(
      map((word: string) => Promise.resolve(word.length), { concurrency: 2 }),
    )
      .pipeTo(new WritableStream({ write: (n) => void out.push(n) }));
    assert.deepEqual(out, [3, 5, 3]);
    const reader = map((n: number) => n + 1, { subscribeTo: [Producer.from([1, 2])] }).readable
      .getReader();
    const values: number[] = [];
    for (let r = await reader.read(); !r.done; r = await reader.read()) values.push(r.value);
    assert.deepEqual(values, [2, 3]);
  });

  it("rejects bad arguments", () => {
    const cases: Array<[unknown, unknown, string, string]> = [
      [
        undefined,
        undefined,
        "TypeError",
        "Cannot construct map as fn must be a function: current value is undefined",
      ],
      [
        (n: number) => n,
        5,
        "TypeError",
        "Cannot construct map as options must be an object: current value is 5",
      ],
      [
        (n: number) => n,
        { concurrency: 0 },
        "RangeError",
        "Cannot construct map as concurrency must be an integer >= 1: current value is 0",
      ],
      [
        (n: number) => n,
        { concurrency: 1.5 },
        "RangeError",
        "Cannot construct map as concurrency must be an integer >= 1: current value is 1.5",
      ],
      [
        (n: number) => n,
        { ordered: "yes" },
        "TypeError",
        'Cannot construct map as ordered must be a boolean: current value is "yes"',
      ],
      [
        (n: number) => n,
        { signal: {} },
        "TypeError",
        "Cannot construct map as signal must be an AbortSignal: current value is an object",
      ],
    ];
    for (const [fn, options, name, message] of cases) {
      assert.throws(() => map(fn as never, options as never), { name, message });
    }
  });
});
