// terminate (DESIGN §5.4, GenStage's terminate/2) on every kind of stage:
// called once, after the last callback, before `closed` settles; on a
// graceful end of a producing stage the events it returns are delivered
// before the subscriptions end; ignored on stop(); a terminate that throws
// on a normal end is a failure.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  Consumer,
  ConsumerSupervisor,
  Producer,
  ProducerConsumer,
  type Subscription,
} from "../mod.ts";
import { currentStreams, deferred, range, settle } from "./_helpers.ts";
import { counter } from "./_stages.ts";

/** A consumer that logs its events and its end into `log`. */
function logger(log: string[], source: Producer<number> | ProducerConsumer<number, number>) {
  return new Consumer<number>({
    subscribeTo: [source],
    handleEvents: (events) => void log.push(`events ${events.join(",")}`),
    handleCancel: (_, reason) => void log.push(`cancel ${String(reason)}`),
  });
}

describe("terminate", () => {
  it("Producer: close() calls it once; the events it returns reach the consumer before its subscription ends", async () => {
    const log: string[] = [];
    const reasons: unknown[] = [];
    const producer = new Producer<number>({
      terminate: (reason) => {
        reasons.push(reason);
        log.push("terminate");
        return [98, 99];
      },
    });
    const consumer = logger(log, producer);
    producer.emit([1, 2]);
    await settle();
    await producer.close();
    await consumer.closed;
    assert.deepEqual(reasons, ["normal"]);
    assert.deepEqual(log, ["events 1,2", "terminate", "events 98,99", "cancel normal"]);
  });

  it("Producer: events it returns wait for demand, and the end waits for them", async () => {
    const producer = new Producer<number>({ terminate: () => range(0, 10) });
    let subscription: Subscription<number> | undefined;
    const seen: number[] = [];
    let ended = false;
    const consumer = new Consumer<number>({
      subscribeTo: [producer],
      handleSubscribe: (s) => {
        subscription = s;
        return "manual";
      },
      handleEvents: (events) => void seen.push(...events),
      handleCancel: () => void (ended = true),
    });
    await settle();
    const closing = producer.close();
    await settle();
    assert.deepEqual(seen, []);
    subscription!.ask(4);
    await settle();
    assert.deepEqual(seen, range(0, 4));
    assert.equal(ended, false, "6 are still to be delivered");
    subscription!.ask(6);
    await closing;
    await consumer.closed;
    assert.deepEqual(seen, range(0, 10));
    assert.equal(ended, true);
  });

  it("ProducerConsumer: a graceful end (its source ran out) delivers what it returns after every handled batch", async () => {
    const log: string[] = [];
    let held: number[] = [];
    const pairs = new ProducerConsumer<number, number>({
      subscribeTo: [[Producer.from(range(1, 6)), { maxDemand: 2 }]],
      handleEvents: (events) => {
        held.push(...events);
        const out = held.length >= 2 ? [held[0] + held[1]] : [];
        if (held.length >= 2) held = held.slice(2);
        return out;
      },
      terminate: (reason) => {
        log.push(`terminate ${String(reason)}`);
        return held;
      },
    });
    const consumer = logger(log, pairs);
    await consumer.closed;
    await pairs.closed;
    assert.deepEqual(log, [
      "events 3",
      "events 7",
      "terminate normal",
      "events 5",
      "cancel normal",
    ]);
  });

  it("ProducerConsumer through its faces: closing the writable delivers what terminate returns before the readable closes", async () => {
    const { WritableStream } = currentStreams();
    let last = 0;
    const sums = new ProducerConsumer<number, number>({
      handleEvents: (events) => void events.forEach((n) => (last += n)),
      terminate: () => [last],
    });
    const out: number[] = [];
    const piped = sums.readable.pipeTo(new WritableStream({ write: (n) => void out.push(n) }));
    const writer = sums.writable.getWriter();
    for (const n of [1, 2, 3, 4]) await writer.write(n);
    await writer.close();
    await piped;
    assert.deepEqual(out, [10]);
  });

  it('Consumer: called once with "normal" after its last handleEvents when its source ends', async () => {
    const log: string[] = [];
    const consumer = new Consumer<number>({
      subscribeTo: [[Producer.from(range(0, 4)), { maxDemand: 2, minDemand: 0 }]],
      handleEvents: async (events) => {
        await settle();
        log.push(`events ${events.join(",")}`);
      },
      terminate: (reason) => void log.push(`terminate ${String(reason)}`),
    });
    await consumer.closed;
    assert.deepEqual(log, ["events 0,1", "events 2,3", "terminate normal"]);
  });

  for (const kind of ["Producer", "ProducerConsumer", "Consumer"] as const) {
    it(`${kind}: stop() during an async callback runs terminate once that callback has settled, before closed settles`, async () => {
      const log: string[] = [];
      const running = deferred();
      const release = deferred();
      const slow = async () => {
        log.push("callback starts");
        running.resolve();
        await release.promise;
        log.push("callback ends");
      };
      const terminate = (reason: unknown) => void log.push(`terminate ${String(reason)}`);
      const { producer: source } = counter();
      let stage: { stop(reason?: unknown): Promise<void>; closed: Promise<void> };
      if (kind === "Producer") {
        const producer = new Producer<number>({
          handleDemand: () => slow().then(() => []),
          terminate,
        });
        new Consumer<number>({
          subscribeTo: [[producer, { cancel: "temporary" }]],
          handleEvents() {},
        });
        stage = producer;
      } else if (kind === "ProducerConsumer") {
        const pc = new ProducerConsumer<number, number>({
          subscribeTo: [source],
          handleEvents: () => slow().then(() => []),
          terminate,
        });
        new Consumer<number>({ subscribeTo: [[pc, { cancel: "temporary" }]], handleEvents() {} });
        stage = pc;
      } else {
        stage = new Consumer<number>({ subscribeTo: [source], handleEvents: slow, terminate });
      }
      await running.promise;
      const stopped = stage.stop("shutdown");
      stage.closed.then(() => log.push("closed"));
      await settle();
      assert.deepEqual(log, ["callback starts"], "terminate waits for the callback");
      release.resolve();
      await stopped;
      await stage.closed;
      await settle();
      assert.deepEqual(log, [
        "callback starts",
        "callback ends",
        "terminate shutdown",
        "closed",
      ]);
      await stage.stop("again");
      assert.equal(log.filter((line) => line.startsWith("terminate")).length, 1);
      await source.stop();
    });
  }

  it("closed waits for an async terminate", async () => {
    const done = deferred();
    let closed = false;
    const consumer = new Consumer<number>({
      handleEvents() {},
      terminate: () => done.promise,
    });
    consumer.closed.then(() => (closed = true));
    const stopping = consumer.stop();
    await settle();
    assert.equal(closed, false);
    done.resolve();
    await stopping;
    assert.equal(closed, true);
  });

  it("stop() ignores the events it returns: nothing more reaches the consumers", async () => {
    const producer = new Producer<number>({ terminate: () => [1, 2, 3] });
    const seen: number[] = [];
    const consumer = new Consumer<number>({
      subscribeTo: [producer],
      handleEvents: (events) => void seen.push(...events),
    });
    await settle();
    await producer.stop();
    await consumer.closed;
    assert.deepEqual(seen, []);
  });

  it("gets the reason of every kind of stop: a reason given to stop(), a callback's error, the signal's reason", async () => {
    const reasons: unknown[] = [];
    const terminate = (reason: unknown) => void reasons.push(reason);
    await new Consumer<number>({ handleEvents() {}, terminate }).stop("custom");
    const failure = new Error("handleInfo failed");
    const failing = new Consumer<number>({
      handleEvents() {},
      handleInfo: () => {
        throw failure;
      },
      terminate,
    });
    failing.info("go");
    await assert.rejects(failing.closed, (reason) => reason === failure);
    const controller = new AbortController();
    const aborted = new Consumer<number>({
      handleEvents() {},
      signal: controller.signal,
      terminate,
    });
    controller.abort("aborted by the test");
    await assert.rejects(aborted.closed, (reason) => reason === "aborted by the test");
    assert.deepEqual(reasons, ["custom", failure, "aborted by the test"]);
  });

  it("a terminate that throws on a normal end makes closed reject; on an abnormal end closed keeps the stop reason", async () => {
    const cleanup = new Error("cleanup failed");
    const throwing = new Consumer<number>({
      handleEvents() {},
      terminate: () => {
        throw cleanup;
      },
    });
    await throwing.stop();
    await assert.rejects(throwing.closed, (reason) => reason === cleanup);

    const rejecting = new Producer<number>({ terminate: () => Promise.reject(cleanup) });
    await rejecting.close();
    await assert.rejects(rejecting.closed, (reason) => reason === cleanup);

    const quiet = new Consumer<number>({
      name: "quiet",
      handleEvents() {},
      terminate: () => {
        throw undefined;
      },
    });
    await quiet.stop();
    await assert.rejects(quiet.closed, {
      message: "quiet failed: its terminate threw undefined",
    });

    const crash = new Error("crash");
    const abnormal = new Consumer<number>({
      handleEvents() {},
      terminate: () => {
        throw cleanup;
      },
    });
    await abnormal.stop(crash);
    await assert.rejects(abnormal.closed, (reason) => reason === crash);
  });

  it("a graceful end whose terminate throws fails the stage: its consumers see the failure", async () => {
    const cleanup = new Error("cleanup failed");
    const producer = new Producer<number>({
      terminate: () => {
        throw cleanup;
      },
    });
    const seen: number[] = [];
    const consumer = new Consumer<number>({
      subscribeTo: [producer],
      handleEvents: (events) => void seen.push(...events),
    });
    producer.emit([1, 2]);
    await producer.close();
    await assert.rejects(producer.closed, (reason) => reason === cleanup);
    await assert.rejects(consumer.closed, (reason) => reason === cleanup);
    assert.deepEqual(seen, [1, 2]);
  });

  it("a producer whose every subscriber left stops on close(): terminate is called once, its events ignored", async () => {
    const calls: unknown[] = [];
    const producer = new Producer<number>({
      terminate: (reason) => {
        calls.push(reason);
        return [7];
      },
    });
    const consumer = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 1 }]],
      handleSubscribe: () => "manual",
      handleEvents: () => assert.fail("nothing was asked"),
    });
    await settle();
    await consumer.stop();
    await producer.close();
    await producer.closed;
    assert.deepEqual(calls, ["normal"]);
  });

  it("a ConsumerSupervisor calls terminate once, after its last task has ended, before closed settles", async () => {
    const log: string[] = [];
    const supervisor = new ConsumerSupervisor<number>({
      subscribeTo: [[Producer.from([1, 2, 3]), { maxDemand: 2 }]],
      handleEvent: async (n) => {
        await settle();
        log.push(`task ${n}`);
      },
      terminate: (reason) => void log.push(`terminate ${String(reason)}`),
    });
    await supervisor.closed;
    log.push("closed");
    assert.deepEqual(log, ["task 1", "task 2", "task 3", "terminate normal", "closed"]);
  });

  it("a ConsumerSupervisor whose terminate throws on a normal end fails", async () => {
    const supervisor = new ConsumerSupervisor<number>({
      name: "tasks",
      subscribeTo: [Producer.from([1])],
      handleEvent: () => {},
      terminate: () => {
        throw undefined;
      },
    });
    await assert.rejects(supervisor.closed, {
      message: "tasks failed: its terminate threw undefined",
    });
  });
});
