import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Consumer, Producer, rateLimit, type Subscription } from "../../mod.ts";
import { currentStreams, range } from "../_helpers.ts";
import { counter } from "../_stages.ts";
import { FakeClock } from "./_fake_clock.ts";

/** A consumer recording every event with the (fake) time it arrived. */
function recorder<T>(
  clock: FakeClock,
  source: ReturnType<typeof rateLimit<T>>,
  options: { manual?: boolean; maxDemand?: number } = {},
) {
  const seen: Array<{ at: number; event: T }> = [];
  let subscription: Subscription<T> | undefined;
  const consumer = new Consumer<T>({
    subscribeTo: [[source, { maxDemand: options.maxDemand ?? 1000 }]],
    handleSubscribe: (s) => {
      subscription = s;
      return options.manual ? "manual" : "automatic";
    },
    handleEvents: (events) => {
      for (const event of events) seen.push({ at: clock.now(), event });
    },
  });
  return { seen, consumer, ask: (n: number) => subscription!.ask(n) };
}

/** The most events in any window [t, t + interval) of the arrival times. */
function busiestWindow(times: number[], interval: number): number {
  let most = 0;
  for (const start of times) {
    const count = times.filter((t) => t >= start && t < start + interval).length;
    most = Math.max(most, count);
  }
  return most;
}

const sum = (list: number[]) => list.reduce((a, b) => a + b, 0);

describe("rateLimit", () => {
  it("lets at most limit events through in any window of intervalMs, paced by demand (fake time)", async () => {
    const clock = new FakeClock();
    const { producer, demands } = counter();
    const limiter = rateLimit<number>({
      limit: 3,
      intervalMs: 1000,
      clock,
      subscribeTo: [producer],
    });
    const out = recorder(clock, limiter);
    await clock.advance(0);
    assert.deepEqual(out.seen.map((s) => s.at), [0, 0, 0]);
    for (let step = 0; step < 35; step++) await clock.advance(100);
    // t = 3500: windows starting at 0, 1000, 2000 and 3000.
    assert.deepEqual(out.seen.map((s) => s.at), [
      0,
      0,
      0,
      1000,
      1000,
      1000,
      2000,
      2000,
      2000,
      3000,
      3000,
      3000,
    ]);
    assert.deepEqual(out.seen.map((s) => s.event), range(0, 12), "unchanged and in order");
    assert.equal(sum(demands), 12, "upstream was asked for exactly what left: nothing piles up");
    assert.ok(demands.every((d) => d <= 3));
    await limiter.stop();
    assert.equal(clock.pending, 0, "stopping cleared its timer");
    await producer.stop();
  });

  it("measures when events leave: a stalled consumer does not get a burst when it asks again", async () => {
    const clock = new FakeClock();
    const { producer, demands } = counter();
    const limiter = rateLimit<number>({
      limit: 3,
      intervalMs: 1000,
      clock,
      subscribeTo: [producer],
    });
    const out = recorder(clock, limiter, { manual: true });
    await clock.advance(0);
    out.ask(2);
    await clock.advance(500);
    out.ask(10);
    await clock.advance(0);
    assert.deepEqual(out.seen.map((s) => s.at), [0, 0, 500]);
    await clock.advance(2499);
    const times = out.seen.map((s) => s.at);
    assert.deepEqual(times, [0, 0, 500, 1000, 1000, 1500, 2000, 2000, 2500]);
    assert.ok(busiestWindow(times, 1000) <= 3);
    assert.equal(sum(demands), 9, "upstream gave exactly what left");
    out.ask(0);
    await limiter.stop();
    await producer.stop();
  });

  it("a consumer that asks for little slows the source to its pace", async () => {
    const clock = new FakeClock();
    const { producer, demands } = counter();
    const limiter = rateLimit<number>({
      limit: 100,
      intervalMs: 10,
      clock,
      subscribeTo: [producer],
    });
    const out = recorder(clock, limiter, { manual: true });
    await clock.advance(0);
    for (let i = 0; i < 5; i++) {
      out.ask(2);
      await clock.advance(20);
    }
    assert.equal(out.seen.length, 10);
    assert.equal(sum(demands), 10, "the source produced only what the consumer asked for");
    await limiter.stop();
    await producer.stop();
  });

  it("passes a finite source through whole and in order, then ends normally", async () => {
    const clock = new FakeClock();
    const limiter = rateLimit<number>({
      limit: 50,
      intervalMs: 100,
      clock,
      subscribeTo: [Producer.from(range(0, 500))],
    });
    const out = recorder(clock, limiter, { maxDemand: 30 });
    let ended = false;
    out.consumer.closed.then(() => (ended = true));
    // The end of the source is learnt when it is asked again: in the 11th window.
    for (let step = 0; step < 12 && !ended; step++) await clock.advance(100);
    assert.equal(ended, true);
    await limiter.closed;
    assert.deepEqual(out.seen.map((s) => s.event), range(0, 500));
    assert.ok(busiestWindow(out.seen.map((s) => s.at), 100) <= 50);
    assert.equal(out.seen.at(-1)!.at, 900, "10 windows of 50");
  });

  it("shares the limit among several sources: an idle one does not starve a busy one", async () => {
    const clock = new FakeClock();
    const busy = counter();
    const idle = new Producer<number>({});
    const limiter = rateLimit<number>({
      limit: 4,
      intervalMs: 1000,
      clock,
      subscribeTo: [idle, busy.producer],
    });
    const out = recorder(clock, limiter);
    for (let step = 0; step < 30; step++) await clock.advance(100);
    const times = out.seen.map((s) => s.at);
    assert.ok(busiestWindow(times, 1000) <= 4);
    for (const start of [0, 1000, 2000]) {
      const count = times.filter((t) => t >= start && t < start + 1000).length;
      assert.ok(count >= 2, `${count} events in [${start}, ${start + 1000})`);
    }
    idle.emit([-1, -2]);
    await clock.advance(1000);
    const events = out.seen.map((s) => s.event);
    assert.ok(
      events.includes(-1) && events.includes(-2),
      "the idle source's share was kept for it",
    );
    assert.ok(busiestWindow(out.seen.map((s) => s.at), 1000) <= 4);
    await limiter.stop();
    await Promise.all([busy.producer.stop(), idle.stop()]);
  });

  it("works through its faces", async () => {
    const clock = new FakeClock();
    const { ReadableStream, WritableStream } = currentStreams();
    const source = new ReadableStream<number>({
      start(controller) {
        for (let i = 0; i < 20; i++) controller.enqueue(i);
        controller.close();
      },
    });
    const seen: Array<[number, number]> = [];
    const piped = source.pipeThrough(rateLimit<number>({ limit: 5, intervalMs: 100, clock }))
      .pipeTo(new WritableStream({ write: (n) => void seen.push([clock.now(), n]) }));
    for (let step = 0; step < 6; step++) await clock.advance(50);
    await piped;
    assert.deepEqual(seen.map(([, n]) => n), range(0, 20));
    assert.deepEqual(seen.map(([at]) => at), [0, 100, 200, 300].flatMap((t) => Array(5).fill(t)));
  });

  it("a failing source stops it and clears its timer; a crashing consumer does not", async () => {
    const clock = new FakeClock();
    const { producer } = counter();
    const limiter = rateLimit<number>({
      limit: 2,
      intervalMs: 100,
      clock,
      subscribeTo: [producer],
    });
    const crash = new Error("consumer crash");
    let handled = 0;
    const first = new Consumer<number>({
      subscribeTo: [limiter],
      handleEvents: (events) => {
        handled += events.length;
        throw crash;
      },
    });
    await assert.rejects(first.closed, (reason) => reason === crash);
    const out = recorder(clock, limiter);
    await clock.advance(100);
    assert.equal(handled, 2);
    assert.deepEqual(out.seen.map((s) => s.at), [100, 100], "the window of the first 2 counted");
    assert.equal(clock.pending, 1);
    const boom = new Error("source failed");
    await producer.stop(boom);
    await assert.rejects(limiter.closed, (reason) => reason === boom);
    await assert.rejects(out.consumer.closed, (reason) => reason === boom);
    assert.equal(clock.pending, 0);
  });

  it("rejects bad options", () => {
    const cases: Array<[unknown, string, string]> = [
      [
        undefined,
        "TypeError",
        "Cannot construct rateLimit as options must be an object: current value is undefined",
      ],
      [
        { intervalMs: 10 },
        "TypeError",
        "Cannot construct rateLimit as limit must be a number: current value is undefined",
      ],
      [
        { limit: 0, intervalMs: 10 },
        "RangeError",
        "Cannot construct rateLimit as limit must be an integer >= 1: current value is 0",
      ],
      [
        { limit: 1 },
        "TypeError",
        "Cannot construct rateLimit as intervalMs must be a number: current value is undefined",
      ],
      [
        { limit: 1, intervalMs: 0 },
        "RangeError",
        "Cannot construct rateLimit as intervalMs must be an integer in [1, 2147483647]: current value is 0",
      ],
      [
        { limit: 1, intervalMs: Infinity },
        "RangeError",
        "Cannot construct rateLimit as intervalMs must be an integer in [1, 2147483647]: current value is Infinity",
      ],
      [
        { limit: 1, intervalMs: 2 ** 31 },
        "RangeError",
        "Cannot construct rateLimit as intervalMs must be an integer in [1, 2147483647]: current value is 2147483648",
      ],
      [
        { limit: 1, intervalMs: 1, clock: { now: () => 0 } },
        "TypeError",
        "Cannot construct rateLimit as clock must be an object with now, setTimeout and clearTimeout: current value is an object",
      ],
      [
        { limit: 1, intervalMs: 1, name: "" },
        "TypeError",
        'Cannot construct rateLimit as name must be a non-empty string: current value is ""',
      ],
    ];
    for (const [options, name, message] of cases) {
      assert.throws(() => rateLimit(options as never), { name, message });
    }
  });
});
