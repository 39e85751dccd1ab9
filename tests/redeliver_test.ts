import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Consumer, Producer, ProducerConsumer } from "../mod.ts";
import { deferred, range, settle } from "./_helpers.ts";
import { forwarder } from "./_stages.ts";

/** A producer that emits 0..total-1 on demand and records each demand. */
function counter(total: number): { producer: Producer<number>; demands: number[] } {
  let next = 0;
  const demands: number[] = [];
  const producer = new Producer<number>({
    handleDemand: (demand) => {
      demands.push(demand);
      const out: number[] = [];
      while (out.length < demand && next < total) out.push(next++);
      return out;
    },
  });
  return { producer, demands };
}

describe("redeliver", () => {
  it("gives every event to someone exactly once when a consumer with redeliver throws", async () => {
    const total = 100;
    const producer = Producer.from(range(0, total));
    const handled: number[] = [];
    const survivor: number[] = [];
    let failedChunk: number[] = [];
    let calls = 0;
    const failing = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 5, redeliver: true }]],
      handleEvents: (events) => {
        if (++calls === 3) {
          failedChunk = events;
          throw new Error("boom");
        }
        handled.push(...events);
      },
    });
    const good = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 5, redeliver: true }]],
      handleEvents: (events) => {
        handled.push(...events);
        survivor.push(...events);
      },
    });
    await assert.rejects(failing.closed, { message: "boom" });
    await good.closed;
    assert.equal(handled.length, total);
    assert.deepEqual([...handled].sort((a, b) => a - b), range(0, total));
    // The survivor got the failed chunk and the events queued behind it, in
    // order, before any event produced after them.
    assert.equal(failedChunk.length, 5);
    // From the failed chunk on, the survivor sees the redelivered events in
    // order, then the new ones: one increasing run.
    const after = survivor.slice(survivor.indexOf(failedChunk[0]));
    assert.deepEqual(after.slice(0, 5), failedChunk);
    assert.deepEqual(after, [...after].sort((a, b) => a - b));
  });

  it("serves the redelivered events before asking handleDemand again, so nothing is asked twice", async () => {
    const { producer, demands } = counter(Infinity);
    const failing = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 5, redeliver: true }]],
      handleEvents: () => {
        throw new Error("boom");
      },
    });
    await assert.rejects(failing.closed, { message: "boom" });
    assert.deepEqual(demands, [10]);
    assert.equal(producer.bufferedCount, 10);
    const batches: number[][] = [];
    const three = deferred();
    const survivor = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 5 }]],
      handleEvents: (events) => {
        batches.push(events);
        if (batches.length === 3) three.resolve();
      },
    });
    await three.promise;
    assert.deepEqual(batches.slice(0, 3), [range(0, 5), range(5, 10), range(10, 15)]);
    assert.deepEqual(demands.slice(0, 2), [10, 5]);
    await producer.stop();
    await survivor.closed;
  });

  it("puts back the whole failed chunk and every queued event, before new events", async () => {
    const producer = new Producer<number>({ bufferSize: Infinity });
    producer.emit(range(0, 20));
    const failed = deferred<number[]>();
    const failing = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 5, redeliver: true }]],
      handleEvents: (events) => {
        failed.resolve(events);
        throw new Error("boom");
      },
    });
    await assert.rejects(failing.closed, { message: "boom" });
    assert.deepEqual(await failed.promise, [0, 1, 2, 3, 4]);
    // [0..9] went to the failing consumer; [0..9] are back at the front of the buffer.
    assert.equal(producer.bufferedCount, 20);
    const batches: number[][] = [];
    const all = deferred();
    const survivor = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 0 }]],
      handleEvents: (events) => {
        batches.push(events);
        if (batches.flat().length === 20) all.resolve();
      },
    });
    await all.promise;
    assert.deepEqual(batches, [range(0, 10), range(10, 20)]);
    await producer.stop();
    await survivor.closed;
  });

  it("loses exactly the failed chunk and the queued events without redeliver", async () => {
    const producer = new Producer<number>({ bufferSize: Infinity });
    producer.emit(range(0, 20));
    const failing = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 5 }]],
      handleEvents: () => {
        throw new Error("boom");
      },
    });
    await assert.rejects(failing.closed, { message: "boom" });
    assert.equal(producer.bufferedCount, 10);
    const batches: number[][] = [];
    const all = deferred();
    const survivor = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 0 }]],
      handleEvents: (events) => {
        batches.push(events);
        all.resolve();
      },
    });
    await all.promise;
    assert.deepEqual(batches, [range(10, 20)]);
    await producer.stop();
    await survivor.closed;
  });

  it("gives back the events of a producer-consumer with redeliver whose handleEvents throws", async () => {
    const producer = new Producer<number>({ bufferSize: Infinity });
    producer.emit(range(0, 20));
    const failing = new ProducerConsumer<number, number>({
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 5, redeliver: true }]],
      handleEvents: () => {
        throw new Error("boom");
      },
    });
    const downstream = new Consumer<number>({
      subscribeTo: [[failing, { cancel: "temporary" }]],
      handleEvents: () => {},
    });
    await assert.rejects(failing.closed, { message: "boom" });
    assert.equal(producer.bufferedCount, 20);
    const batches: number[][] = [];
    const all = deferred();
    const survivor = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 0 }]],
      handleEvents: (events) => {
        batches.push(events);
        if (batches.flat().length === 20) all.resolve();
      },
    });
    await all.promise;
    assert.deepEqual(batches, [range(0, 10), range(10, 20)]);
    await producer.stop();
    await survivor.closed;
    await downstream.stop();
  });

  it("gives back what a producer-consumer held back for lack of downstream demand", async () => {
    const producer = new Producer<number>({ bufferSize: Infinity });
    producer.emit(range(0, 20));
    const stalled = new ProducerConsumer<number, number>({
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 5, redeliver: true }]],
      handleEvents: (events) => events,
    });
    await settle();
    assert.equal(producer.bufferedCount, 10);
    await stalled.stop(new Error("down"));
    await assert.rejects(stalled.closed, { message: "down" });
    assert.equal(producer.bufferedCount, 20);
    await producer.stop();
  });

  it("gives back the events of a consumer stopped with an abnormal reason, and of an aborted one", async () => {
    for (const how of ["stop", "abort"] as const) {
      const producer = new Producer<number>({ bufferSize: Infinity });
      producer.emit(range(0, 20));
      const controller = new AbortController();
      const started = deferred();
      const consumer = new Consumer<number>({
        subscribeTo: [[producer, { maxDemand: 10, minDemand: 5, redeliver: true }]],
        signal: controller.signal,
        handleEvents: () => {
          started.resolve();
          return new Promise<void>(() => {});
        },
      });
      await started.promise;
      if (how === "stop") await consumer.stop("crash");
      else controller.abort(new Error("aborted"));
      await assert.rejects(consumer.closed);
      assert.equal(producer.bufferedCount, 20, how);
      await producer.stop();
    }
  });

  it("gives nothing back on a normal stop", async () => {
    const producer = new Producer<number>({ bufferSize: Infinity });
    producer.emit(range(0, 20));
    const started = deferred();
    const consumer = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 5, redeliver: true }]],
      handleEvents: () => {
        started.resolve();
        return new Promise<void>(() => {});
      },
    });
    await started.promise;
    await consumer.stop("normal");
    const survivor = deferred<number[]>();
    const other = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 0 }]],
      handleEvents: (events) => survivor.resolve(events),
    });
    assert.deepEqual(await survivor.promise, range(10, 20));
    assert.equal(producer.bufferedCount, 0);
    await producer.stop();
    await other.closed;
  });

  it("gives back what a closing consumer fails to handle after its cancel", async () => {
    const producer = new Producer<number>({ bufferSize: Infinity });
    producer.emit(range(0, 20));
    const first = deferred<void>();
    const release = deferred<void>();
    const handled: number[] = [];
    const consumer = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 5, redeliver: true }]],
      handleEvents: async (events) => {
        if (events[0] === 0) {
          first.resolve();
          await release.promise;
          handled.push(...events);
          return;
        }
        throw new Error("boom");
      },
    });
    await first.promise;
    const closing = consumer.close();
    release.resolve();
    await closing;
    await assert.rejects(consumer.closed, { message: "boom" });
    assert.deepEqual(handled, range(0, 5));
    assert.equal(producer.bufferedCount, 15);
    await producer.stop();
  });

  it("keeps a finished source's producer alive until its redeliver consumers have handled what they hold", async () => {
    // The source ends while the failing consumer still works on its events:
    // the producer waits, takes them back and gives them to the survivor.
    const producer = Producer.from(range(0, 20));
    const handled: number[] = [];
    const survivor: number[] = [];
    const failing = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 5, redeliver: true }]],
      handleEvents: async (events) => {
        await null;
        if (events.includes(9)) throw new Error("boom");
        handled.push(...events);
      },
    });
    const good = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 5, redeliver: true }]],
      handleEvents: async (events) => {
        await null;
        handled.push(...events);
        survivor.push(...events);
      },
    });
    await assert.rejects(failing.closed, { message: "boom" });
    await good.closed;
    await producer.closed;
    assert.equal(handled.length, 20);
    assert.deepEqual([...handled].sort((a, b) => a - b), range(0, 20));
    assert.deepEqual(survivor.slice(-5), range(5, 10));
  });

  it("lets a closing producer stop once its redeliver consumers have handled everything", async () => {
    const producer = new Producer<number>();
    const gate = deferred<void>();
    const seen: number[] = [];
    const consumer = new Consumer<number>({
      subscribeTo: [[producer, {
        maxDemand: 10,
        minDemand: 5,
        redeliver: true,
        cancel: "temporary",
      }]],
      handleEvents: async (events) => {
        await gate.promise;
        seen.push(...events);
      },
    });
    producer.emit(range(0, 4));
    await settle();
    let stopped = false;
    const closing = producer.close().then(() => (stopped = true));
    await settle();
    assert.equal(stopped, false);
    gate.resolve();
    await closing;
    assert.deepEqual(seen, range(0, 4));
    await consumer.stop();
  });

  it("redelivers through a producer-consumer's own buffer when its consumer fails", async () => {
    const producer = new Producer<number>({ bufferSize: Infinity });
    producer.emit(range(0, 8));
    const pc = new ProducerConsumer<number, number>({
      subscribeTo: [[producer, { maxDemand: 8, minDemand: 0 }]],
      handleEvents: (events) => events.map((e) => e * 10),
    });
    const failing = new Consumer<number>({
      subscribeTo: [[pc, { maxDemand: 4, minDemand: 2, redeliver: true, cancel: "temporary" }]],
      handleEvents: () => {
        throw new Error("boom");
      },
    });
    await assert.rejects(failing.closed, { message: "boom" });
    await settle();
    assert.equal(pc.bufferedCount, 8, "the 4 taken back wait before the 4 it kept");
    const seen: number[] = [];
    const all = deferred();
    const survivor = new Consumer<number>({
      subscribeTo: [[pc, { maxDemand: 8, minDemand: 0 }]],
      handleEvents: (events) => {
        seen.push(...events);
        if (seen.length === 8) all.resolve();
      },
    });
    await all.promise;
    assert.deepEqual(seen, range(0, 8).map((e) => e * 10));
    await producer.stop();
    await survivor.closed;
  });

  it("redelivers what a manual subscription was sent and did not handle", async () => {
    const producer = new Producer<number>({ bufferSize: Infinity });
    producer.emit(range(0, 10));
    const failing = new Consumer<number>({
      subscribeTo: [[producer, { redeliver: true }]],
      handleSubscribe: (subscription) => {
        subscription.ask(6);
        return "manual";
      },
      handleEvents: (events) => {
        if (events.length === 6) throw new Error("boom");
      },
    });
    await assert.rejects(failing.closed, { message: "boom" });
    assert.equal(producer.bufferedCount, 10);
    await producer.stop();
  });

  it("a failing producer-consumer also gives back the chunks whose output had not all left its buffer", async () => {
    const producer = new Producer<number>({ bufferSize: Infinity });
    producer.emit(range(0, 10));
    const pc = new ProducerConsumer<number, number>({
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 0, redeliver: true }]],
      handleEvents: (events) => events.flatMap((e) => [e, e]),
    });
    const got = deferred<number[]>();
    const consumer = new Consumer<number>({
      subscribeTo: [[pc, { cancel: "temporary" }]],
      handleSubscribe: (subscription) => {
        subscription.ask(5);
        return "manual";
      },
      handleEvents: (events) => got.resolve(events),
    });
    assert.deepEqual(await got.promise, [0, 0, 1, 1, 2]);
    assert.equal(pc.bufferedCount, 15);
    assert.equal(producer.bufferedCount, 0);
    await pc.stop(new Error("crash"));
    // The whole chunk comes back: what was already sent will be sent again (at least once).
    assert.equal(producer.bufferedCount, 10);
    await producer.stop();
    await consumer.stop();
  });

  it("redelivered events serve a later ask even when the dispatcher matched it with a departed consumer's demand", async () => {
    const demands: number[] = [];
    // Answers each demand with half of it: the producer owes the rest.
    let next = 0;
    const producer = new Producer<number>({
      handleDemand: (demand) => {
        demands.push(demand);
        return Array.from({ length: demand / 2 }, () => next++);
      },
    });
    const failing = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 0, redeliver: true }]],
      handleEvents: () => {
        throw new Error("boom");
      },
    });
    await assert.rejects(failing.closed, { message: "boom" });
    assert.equal(producer.bufferedCount, 5);
    const got = deferred<[number[], number[]]>();
    const survivor = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 5, minDemand: 0 }]],
      handleEvents: (events) => got.resolve([events, [...demands]]),
    });
    const [events, asked] = await got.promise;
    assert.deepEqual(events, [0, 1, 2, 3, 4]);
    assert.deepEqual(asked, [10], "the ask was matched with the 5 still owed: nothing asked twice");
    await producer.stop();
    await survivor.closed;
  });

  it("a producer-consumer with redeliver that does not fail delivers everything once and lets its producer close", async () => {
    const producer = Producer.from(range(0, 20));
    const pc = new ProducerConsumer<number, number>({
      subscribeTo: [[producer, { maxDemand: 6, minDemand: 2, redeliver: true }]],
      handleEvents: (events) => events.flatMap((e) => [e, e]),
    });
    const seen: number[] = [];
    const consumer = new Consumer<number>({
      subscribeTo: [[pc, { maxDemand: 3, minDemand: 1 }]],
      handleEvents: (events) => void seen.push(...events),
    });
    await producer.closed;
    await pc.closed;
    await consumer.closed;
    assert.deepEqual(seen, range(0, 20).flatMap((e) => [e, e]));
  });

  it("keeps an info behind the events buffered before it when redelivered events are put in front", async () => {
    const infos: Array<[unknown, number]> = [];
    const producer: Producer<string> = new Producer<string>({
      bufferSize: Infinity,
      handleInfo: (message) => void infos.push([message, producer.bufferedCount]),
    });
    const gate = deferred();
    const failing = new Consumer<string>({
      subscribeTo: [[producer, { maxDemand: 2, minDemand: 0, redeliver: true }]],
      handleEvents: async () => {
        await gate.promise;
        throw new Error("boom");
      },
    });
    await settle();
    producer.emit(["a1", "a2"]);
    producer.emit(["c"]);
    producer.info("M");
    gate.resolve();
    await assert.rejects(failing.closed, { message: "boom" });
    await settle();
    assert.deepEqual(infos, []);
    assert.equal(producer.bufferedCount, 3);
    const { consumer, batches, until } = forwarder<string>([[producer, { maxDemand: 10 }]]);
    await until(1);
    await settle();
    assert.deepEqual(batches, [["a1", "a2", "c"]]);
    assert.deepEqual(infos, [["M", 0]]);
    await producer.stop();
    await consumer.closed;
  });
});
