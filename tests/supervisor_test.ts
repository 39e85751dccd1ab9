import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type ChildSpec,
  Consumer,
  Producer,
  RestartIntensityError,
  type Supervisable,
  Supervisor,
  type SupervisorChildren,
  type SupervisorOptions,
} from "../mod.ts";
import { deferred, settle } from "./_helpers.ts";
import { FakeStage, Starts } from "./_supervision.ts";

function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => assert.fail("expected a rejection"), (reason) => reason);
}

describe("Supervisor options", () => {
  const start = () => new FakeStage("x", []);
  const cases: Array<[string, unknown, ErrorConstructor, string]> = [
    ["no options", undefined, TypeError, "options must be an object: current value is undefined"],
    [
      "children not an array",
      {},
      TypeError,
      "children must be an array: current value is undefined",
    ],
    [
      "a child not an object",
      { children: [1] },
      TypeError,
      "children[0] must be an object: current value is 1",
    ],
    [
      "a child without start",
      { children: [{ id: "p" }] },
      TypeError,
      "children[0].start must be a function: current value is undefined",
    ],
    [
      "an id not a string",
      { children: [{ id: 1, start }] },
      TypeError,
      "children[0].id must be a string: current value is 1",
    ],
    [
      "a duplicate id",
      { children: [{ id: "p", start }, { id: "p", start }] },
      TypeError,
      'children[1].id must be unique: current value is "p"',
    ],
    [
      "an unknown restart type",
      { children: [{ start, restart: "always" }] },
      TypeError,
      'children[0].restart must be one of "permanent", "transient" or "temporary": current value is "always"',
    ],
    [
      "an unknown strategy",
      { children: [], strategy: "one_for_some" },
      TypeError,
      'strategy must be one of "one_for_one", "one_for_all" or "rest_for_one": current value is "one_for_some"',
    ],
    [
      "a negative maxRestarts",
      { children: [], maxRestarts: -1 },
      RangeError,
      "maxRestarts must be an integer >= 0: current value is -1",
    ],
    [
      "a fractional maxRestarts",
      { children: [], maxRestarts: 1.5 },
      RangeError,
      "maxRestarts must be an integer >= 0: current value is 1.5",
    ],
    [
      "a maxSeconds string",
      { children: [], maxSeconds: "5" },
      TypeError,
      'maxSeconds must be a number: current value is "5"',
    ],
    [
      "a negative maxSeconds",
      { children: [], maxSeconds: -1 },
      RangeError,
      "maxSeconds must be a finite number >= 0: current value is -1",
    ],
    [
      "an infinite maxSeconds",
      { children: [], maxSeconds: Infinity },
      RangeError,
      "maxSeconds must be a finite number >= 0: current value is Infinity",
    ],
    [
      "a fractional shutdownMs",
      { children: [], shutdownMs: 1.5 },
      RangeError,
      "shutdownMs must be an integer >= 0 or Infinity: current value is 1.5",
    ],
    [
      "a negative child shutdownMs",
      { children: [{ start, shutdownMs: -1 }] },
      RangeError,
      "children[0].shutdownMs must be an integer >= 0 or Infinity: current value is -1",
    ],
    [
      "a bad signal",
      { children: [], signal: {} },
      TypeError,
      "signal must be an AbortSignal: current value is an object",
    ],
    [
      "a bad clock",
      { children: [], now: 5 },
      TypeError,
      "now must be a function: current value is 5",
    ],
    [
      "timers without clearTimeout",
      { children: [], timers: { setTimeout } },
      TypeError,
      "timers must be an object with setTimeout and clearTimeout: current value is an object",
    ],
  ];
  for (const [what, options, type, rule] of cases) {
    it(`rejects ${what}`, () => {
      assert.throws(() => new Supervisor(options as SupervisorOptions), {
        name: type.name,
        message: `Cannot construct Supervisor as ${rule}`,
      });
    });
  }

  it("starts nothing when an option is invalid", () => {
    let started = 0;
    assert.throws(
      () =>
        new Supervisor({
          children: [{ start: () => (started++, new FakeStage("a", [])) }],
          strategy: "bad" as "one_for_one",
        }),
      TypeError,
    );
    assert.equal(started, 0);
  });

  it("rejects a start that returns something other than a stage, stopping the children already started", async () => {
    const starts = new Starts();
    assert.throws(
      () =>
        new Supervisor({
          children: [{ id: "a", start: starts.start("a") }, {
            id: "b",
            start: () => ({}) as Supervisable,
          }],
        }),
      {
        name: "TypeError",
        message:
          'Cannot start child "b" as the result of start must be a stage with closed and stop: current value is an object',
      },
    );
    await starts.last("a").closed;
    assert.deepEqual(starts.log, ["start a", "stop a shutdown"]);
  });

  it("throws what a start threw during the initial start, stopping the children already started", async () => {
    const starts = new Starts();
    const boom = new Error("cannot start");
    assert.throws(
      () =>
        new Supervisor({
          children: [
            { id: "a", start: starts.start("a") },
            { id: "b", start: starts.start("b") },
            {
              id: "c",
              start: () => {
                throw boom;
              },
            },
          ],
        }),
      (error) => error === boom,
    );
    await Promise.all([starts.last("a").closed, starts.last("b").closed]);
    assert.deepEqual(starts.log, ["start a", "start b", "stop b shutdown", "stop a shutdown"]);
  });
});

describe("Supervisor start", () => {
  it("starts the children in order, each seeing the siblings started before it", async () => {
    const starts = new Starts();
    const seen: string[] = [];
    const look = (children: SupervisorChildren) =>
      seen.push(["a", "b", "c"].map((id) => (children.get(id) ? id : "-")).join(""));
    const supervisor = new Supervisor({
      children: ["a", "b", "c"].map((id) => ({ id, start: starts.start(id, look) })),
    });
    assert.deepEqual(starts.log, ["start a", "start b", "start c"]);
    assert.deepEqual(seen, ["---", "a--", "ab-"]);
    assert.equal(supervisor.get("b"), starts.last("b"));
    assert.equal(supervisor.get("nope"), undefined);
    await supervisor.close();
  });

  it("names children by their index when they have no id", async () => {
    const starts = new Starts();
    const supervisor = new Supervisor({
      children: [{ start: starts.start("a") }, { start: starts.start("b") }],
    });
    assert.equal(supervisor.get("1"), starts.last("b"));
    await supervisor.close();
  });

  it("stops normally at once when it has no children", async () => {
    await new Supervisor({ children: [] }).closed;
  });
});

describe("Supervisor restart types", () => {
  it("restarts a permanent child after a normal stop and after a crash", async () => {
    const starts = new Starts();
    const supervisor = new Supervisor({ children: [{ id: "a", start: starts.start("a") }] });
    let next = starts.next("a");
    starts.last("a").finish();
    const second = await next;
    assert.equal(supervisor.get("a"), second);
    next = starts.next("a");
    second.crash(new Error("boom"));
    const third = await next;
    assert.equal(supervisor.get("a"), third);
    assert.equal(starts.of("a").length, 3);
    await supervisor.close();
  });

  it("restarts a transient child after a crash only", async () => {
    const starts = new Starts();
    const supervisor = new Supervisor({
      children: [{ id: "t", start: starts.start("t"), restart: "transient" }, {
        id: "keep",
        start: starts.start("keep"),
      }],
    });
    const next = starts.next("t");
    starts.last("t").crash(new Error("boom"));
    await next;
    starts.last("t").finish();
    await settle();
    assert.equal(starts.of("t").length, 2);
    assert.equal(supervisor.get("t"), undefined);
    await supervisor.close();
  });

  it("never restarts a temporary child", async () => {
    const starts = new Starts();
    const supervisor = new Supervisor({
      children: [{ id: "t", start: starts.start("t"), restart: "temporary" }, {
        id: "keep",
        start: starts.start("keep"),
      }],
    });
    starts.last("t").crash(new Error("boom"));
    await settle();
    assert.equal(starts.of("t").length, 1);
    assert.equal(supervisor.get("t"), undefined);
    assert.equal(supervisor.get("keep"), starts.last("keep"));
    await supervisor.close();
  });

  it("stops normally once every child has ended for good", async () => {
    const starts = new Starts();
    const supervisor = new Supervisor({
      children: [
        { id: "t", start: starts.start("t"), restart: "transient" },
        { id: "u", start: starts.start("u"), restart: "temporary" },
      ],
    });
    starts.last("t").finish();
    starts.last("u").crash(new Error("ignored"));
    await supervisor.closed;
    assert.deepEqual(starts.log, ["start t", "start u"]);
  });
});

describe("Supervisor strategies", () => {
  function three(strategy: SupervisorOptions["strategy"]) {
    const starts = new Starts();
    const children: ChildSpec[] = ["a", "b", "c"].map((id) => ({ id, start: starts.start(id) }));
    return { starts, supervisor: new Supervisor({ strategy, children }) };
  }

  it("one_for_one restarts the failed child alone", async () => {
    const { starts, supervisor } = three("one_for_one");
    const next = starts.next("b");
    starts.last("b").crash(new Error("boom"));
    await next;
    assert.deepEqual(starts.log, ["start a", "start b", "start c", "start b"]);
    await supervisor.close();
  });

  it("one_for_all stops the others in reverse start order, then restarts every child in order", async () => {
    const { starts, supervisor } = three("one_for_all");
    const next = starts.next("c");
    starts.last("b").crash(new Error("boom"));
    await next;
    assert.deepEqual(starts.log.slice(3), [
      "stop c shutdown",
      "stop a shutdown",
      "start a",
      "start b",
      "start c",
    ]);
    await supervisor.close();
  });

  it("rest_for_one restarts the failed child and the children started after it", async () => {
    const { starts, supervisor } = three("rest_for_one");
    const next = starts.next("c");
    starts.last("b").crash(new Error("boom"));
    await next;
    assert.deepEqual(starts.log.slice(3), ["stop c shutdown", "start b", "start c"]);
    assert.equal(starts.of("a").length, 1);
    await supervisor.close();
  });

  it("one_for_all does not restart a temporary sibling it had to stop", async () => {
    const starts = new Starts();
    const supervisor = new Supervisor({
      strategy: "one_for_all",
      children: [{ id: "a", start: starts.start("a") }, {
        id: "t",
        start: starts.start("t"),
        restart: "temporary",
      }],
    });
    const next = starts.next("a");
    starts.last("a").crash(new Error("boom"));
    await next;
    await settle();
    assert.deepEqual(starts.log, ["start a", "start t", "stop t shutdown", "start a"]);
    assert.equal(supervisor.get("t"), undefined);
    await supervisor.close();
  });

  it("ignores the stops it caused itself", async () => {
    const { starts, supervisor } = three("one_for_all");
    const next = starts.next("c");
    starts.last("a").crash(new Error("boom"));
    await next;
    await settle();
    assert.equal(starts.log.filter((line) => line.startsWith("start")).length, 6);
    await supervisor.close();
  });
});

describe("Supervisor restart intensity", () => {
  it("gives up after maxRestarts restarts: stops every child in reverse order and rejects with the last failure as cause", async () => {
    const starts = new Starts();
    const supervisor = new Supervisor({
      maxRestarts: 2,
      children: ["a", "b", "c"].map((id) => ({ id, start: starts.start(id) })),
    });
    for (let i = 0; i < 2; i++) {
      const next = starts.next("b");
      starts.last("b").crash(new Error(`crash ${i}`));
      await next;
    }
    const last = new Error("crash 2");
    starts.last("b").crash(last);
    const error = await rejection(supervisor.closed);
    assert.ok(error instanceof RestartIntensityError);
    assert.equal(error.name, "RestartIntensityError");
    assert.equal(error.cause, last);
    assert.equal(
      error.message,
      "Supervisor reached its maximum restart intensity: more than 2 restarts within 5 seconds",
    );
    assert.deepEqual(starts.log.slice(-2), ["stop c shutdown", "stop a shutdown"]);
    assert.equal(starts.of("b").length, 3);
    assert.equal(supervisor.get("a"), undefined);
  });

  it("gives up at the first failure with maxRestarts 0", async () => {
    const starts = new Starts();
    const supervisor = new Supervisor({
      maxRestarts: 0,
      children: [{ id: "a", start: starts.start("a") }],
    });
    const boom = new Error("boom");
    starts.last("a").crash(boom);
    const error = await rejection(supervisor.closed);
    assert.ok(error instanceof RestartIntensityError);
    assert.equal(error.cause, boom);
    assert.equal(starts.of("a").length, 1);
  });

  it("counts a one_for_all restart once", async () => {
    const starts = new Starts();
    const supervisor = new Supervisor({
      strategy: "one_for_all",
      maxRestarts: 1,
      children: ["a", "b"].map((id) => ({ id, start: starts.start(id) })),
    });
    const next = starts.next("b");
    starts.last("a").crash(new Error("boom"));
    await next;
    await settle();
    assert.equal(starts.of("a").length, 2);
    starts.last("b").crash(new Error("again"));
    assert.ok((await rejection(supervisor.closed)) instanceof RestartIntensityError);
  });

  it("forgets restarts older than maxSeconds", async () => {
    let now = 0;
    const starts = new Starts();
    const supervisor = new Supervisor({
      maxRestarts: 1,
      maxSeconds: 10,
      now: () => now,
      children: [{ id: "a", start: starts.start("a") }],
    });
    for (let i = 0; i < 5; i++) {
      now += 10_001;
      const next = starts.next("a");
      starts.last("a").crash(new Error(`crash ${i}`));
      await next;
    }
    now += 5_000;
    starts.last("a").crash(new Error("within the window"));
    const error = await rejection(supervisor.closed);
    assert.ok(error instanceof RestartIntensityError);
    assert.equal((error.cause as Error).message, "within the window");
    assert.equal(starts.of("a").length, 6);
  });

  it("retries a restart whose start throws, and gives up with that error once the limit is reached", async () => {
    let attempts = 0;
    const refused = new Error("refused");
    const first = new FakeStage("a", []);
    const supervisor = new Supervisor({
      maxRestarts: 3,
      children: [{
        id: "a",
        start: () => {
          if (attempts++ === 0) return first;
          throw refused;
        },
      }],
    });
    first.crash(new Error("boom"));
    const error = await rejection(supervisor.closed);
    assert.ok(error instanceof RestartIntensityError);
    assert.equal(error.cause, refused);
    assert.equal(attempts, 4); // the first start and three restarts
  });

  it("recovers when a failed restart succeeds on a later try", async () => {
    let attempts = 0;
    const starts = new Starts();
    const make = starts.start("a");
    const supervisor = new Supervisor({
      children: [{
        id: "a",
        start: (children) => {
          if (attempts++ === 1) throw new Error("not yet");
          return make(children);
        },
      }],
    });
    const next = starts.next("a");
    starts.last("a").crash(new Error("boom"));
    const restarted = await next;
    assert.equal(supervisor.get("a"), restarted);
    assert.equal(attempts, 3);
    await supervisor.close();
  });
});

describe("Supervisor shutdown", () => {
  it("close() closes the children one by one in start order and resolves closed", async () => {
    const starts = new Starts();
    const supervisor = new Supervisor({
      children: ["a", "b", "c"].map((id) => ({ id, start: starts.start(id) })),
    });
    await supervisor.close();
    await supervisor.closed;
    assert.deepEqual(starts.log.slice(3), ["close a", "close b", "close c"]);
    assert.equal(supervisor.get("a"), undefined);
  });

  it("close() waits for a child to stop before closing the next", async () => {
    const starts = new Starts();
    const supervisor = new Supervisor({
      shutdownMs: Infinity,
      children: ["a", "b"].map((id) => ({ id, start: starts.start(id) })),
    });
    starts.last("a").hangOnClose = true;
    const done = supervisor.close();
    await settle();
    assert.deepEqual(starts.log.slice(2), ["close a"]);
    starts.last("a").finish();
    await done;
    assert.deepEqual(starts.log.slice(2), ["close a", "close b"]);
  });

  it("stops a child whose close takes longer than shutdownMs", async () => {
    const starts = new Starts();
    const supervisor = new Supervisor({
      shutdownMs: 1,
      children: ["a", "b"].map((id) => ({ id, start: starts.start(id) })),
    });
    starts.last("a").hangOnClose = true;
    await supervisor.close();
    assert.deepEqual(starts.log.slice(2), ["close a", "stop a shutdown", "close b"]);
  });

  it('stops a child that has no close(), and one with shutdownMs 0, with "shutdown"', async () => {
    const log: string[] = [];
    const stopped = deferred<void>();
    const plain: Supervisable = {
      closed: stopped.promise,
      stop: (reason) => {
        log.push(`stop plain ${String(reason)}`);
        stopped.resolve();
        return stopped.promise;
      },
    };
    const quick = new FakeStage("quick", log);
    const supervisor = new Supervisor({
      children: [{ id: "plain", start: () => plain }, {
        id: "quick",
        start: () => quick,
        shutdownMs: 0,
      }],
    });
    await supervisor.close();
    assert.deepEqual(log, ["stop plain shutdown", "stop quick shutdown"]);
  });

  it('stop() stops every child with "shutdown" in reverse start order', async () => {
    const starts = new Starts();
    const supervisor = new Supervisor({
      children: ["a", "b", "c"].map((id) => ({ id, start: starts.start(id) })),
    });
    await supervisor.stop();
    await supervisor.closed;
    assert.deepEqual(starts.log.slice(3), [
      "stop c shutdown",
      "stop b shutdown",
      "stop a shutdown",
    ]);
  });

  it("stop(reason) rejects closed with an abnormal reason", async () => {
    const starts = new Starts();
    const supervisor = new Supervisor({ children: [{ id: "a", start: starts.start("a") }] });
    const reason = new Error("enough");
    await supervisor.stop(reason);
    assert.equal(await rejection(supervisor.closed), reason);
    assert.deepEqual(starts.log, ["start a", "stop a shutdown"]);
  });

  it("stop() during a slow close stops the remaining children at once", async () => {
    const starts = new Starts();
    const supervisor = new Supervisor({
      shutdownMs: Infinity,
      children: ["a", "b"].map((id) => ({ id, start: starts.start(id) })),
    });
    starts.last("a").hangOnClose = true;
    void supervisor.close();
    await settle();
    await supervisor.stop();
    assert.deepEqual(starts.log.slice(2), ["close a", "stop b shutdown", "stop a shutdown"]);
  });

  it("does not restart children while shutting down", async () => {
    const starts = new Starts();
    const supervisor = new Supervisor({
      shutdownMs: Infinity,
      children: ["a", "b"].map((id) => ({ id, start: starts.start(id) })),
    });
    starts.last("a").hangOnClose = true;
    const done = supervisor.close();
    starts.last("b").crash(new Error("boom"));
    await settle();
    starts.last("a").finish();
    await done;
    assert.equal(starts.of("b").length, 1);
  });

  it("Symbol.asyncDispose closes gracefully", async () => {
    const starts = new Starts();
    {
      await using _supervisor = new Supervisor({
        children: [{ id: "a", start: starts.start("a") }],
      });
    }
    assert.deepEqual(starts.log, ["start a", "close a"]);
  });

  it("aborting its signal stops it at once with the reason, as stop() does", async () => {
    const starts = new Starts();
    const controller = new AbortController();
    const supervisor = new Supervisor({
      signal: controller.signal,
      children: ["a", "b"].map((id) => ({ id, start: starts.start(id) })),
    });
    const bye = new Error("bye");
    controller.abort(bye);
    await assert.rejects(supervisor.closed, (error) => error === bye);
    assert.deepEqual(starts.log.slice(2), ["stop b shutdown", "stop a shutdown"]);
  });

  it("an already aborted signal stops it at once", async () => {
    const starts = new Starts();
    const supervisor = new Supervisor({
      signal: AbortSignal.abort(),
      children: [{ id: "a", start: starts.start("a") }],
    });
    await assert.rejects(supervisor.closed, { name: "AbortError" });
    assert.deepEqual(starts.log, ["start a", "stop a shutdown"]);
  });

  it("supervises another supervisor", async () => {
    const starts = new Starts();
    const outer = new Supervisor({
      children: [{
        id: "inner",
        start: () => new Supervisor({ children: [{ id: "a", start: starts.start("a") }] }),
      }],
    });
    const inner = outer.get<Supervisor>("inner")!;
    const next = starts.next("a");
    starts.last("a").crash(new Error("boom"));
    await next;
    assert.equal(outer.get("inner"), inner);
    await outer.close();
    assert.deepEqual(starts.log, ["start a", "start a", "close a"]);
  });
});

describe("Supervisor with stages", () => {
  function counter(): Producer<number> {
    let next = 0;
    return new Producer<number>({
      handleDemand: (demand) => Array.from({ length: demand }, () => next++),
    });
  }

  it("one_for_one: a restarted consumer subscribes to the same running producer", async () => {
    const producers: Producer<number>[] = [];
    const sources: unknown[] = [];
    let crash = true;
    const restarted = deferred<number[]>();
    const supervisor = new Supervisor({
      children: [
        { id: "producer", start: () => (producers.push(counter()), producers.at(-1)!) },
        {
          id: "consumer",
          start: (children) => {
            const source = children.get<Producer<number>>("producer")!;
            sources.push(source);
            return new Consumer<number>({
              subscribeTo: [[source, { maxDemand: 4, minDemand: 2 }]],
              handleEvents: (events) => {
                if (crash) {
                  crash = false;
                  throw new Error("first batch");
                }
                restarted.resolve(events);
              },
            });
          },
        },
      ],
    });
    const events = await restarted.promise;
    assert.equal(producers.length, 1);
    assert.deepEqual(sources, [producers[0], producers[0]]);
    assert.ok(events[0] >= 2); // the crashed consumer's events are gone, the new ones are fresh
    await supervisor.stop();
  });

  it("rest_for_one: a crashed producer is restarted with fresh consumers subscribed to it", async () => {
    const producers: Producer<number>[] = [];
    const received: Array<[number, number[]]> = [];
    const second = deferred<void>();
    const supervisor = new Supervisor({
      strategy: "rest_for_one",
      children: [
        { id: "producer", start: () => (producers.push(counter()), producers.at(-1)!) },
        {
          id: "consumer",
          start: (children) => {
            const source = children.get<Producer<number>>("producer")!;
            const generation = producers.indexOf(source);
            return new Consumer<number>({
              subscribeTo: [[source, { maxDemand: 2, minDemand: 1 }]],
              handleEvents: (events) => {
                received.push([generation, events]);
                if (generation === 1) second.resolve();
              },
            });
          },
        },
      ],
    });
    await producers[0].stop(new Error("producer crashed"));
    await second.promise;
    assert.equal(producers.length, 2);
    assert.deepEqual(received.find(([generation]) => generation === 1), [1, [0]]);
    await supervisor.close();
  });
});
