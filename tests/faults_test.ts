import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  BroadcastDispatcher,
  type CancelMode,
  Consumer,
  DemandDispatcher,
  Producer,
  ProducerConsumer,
} from "../mod.ts";
import { deferred, range, settle } from "./_helpers.ts";
import { counter, forwarder } from "./_stages.ts";

/** Resolves once `producer` has handed an emitted event to someone. */
async function serves(producer: Producer<number>): Promise<boolean> {
  const { consumer, until } = forwarder<number>([[producer, { cancel: "temporary" }]]);
  producer.emit([1]);
  await until(1);
  await consumer.stop();
  return true;
}

describe("faults: a consumer leaving", () => {
  for (const cancel of ["permanent", "transient", "temporary"] as CancelMode[]) {
    it(`never stops its producer, whatever the reason (${cancel})`, async () => {
      const producer = new Producer<number>();
      for (const reason of ["normal", "shutdown", new Error("crash")]) {
        const consumer = new Consumer<number>({
          subscribeTo: [[producer, { cancel }]],
          handleEvents: () => {},
        });
        await settle();
        await consumer.stop(reason);
      }
      const thrower = new Consumer<number>({
        subscribeTo: [[producer, { cancel }]],
        handleEvents: () => {
          throw new Error("boom");
        },
      });
      producer.emit([0]);
      await assert.rejects(thrower.closed, { message: "boom" });
      assert.ok(await serves(producer));
      await producer.stop();
      await producer.closed;
    });
  }

  it("carries its unmet demand over, so the next consumer's ask is not passed upstream twice", async () => {
    const demands: number[] = [];
    const producer = new Producer<number>({ handleDemand: (d) => void demands.push(d) });
    const first = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 0 }]],
      handleEvents: () => {},
    });
    await settle();
    await first.stop(new Error("crash"));
    const { consumer, batches, until } = forwarder<number>([[producer, {
      maxDemand: 10,
      minDemand: 0,
    }]]);
    await settle();
    assert.deepEqual(demands, [10], "the second ask of 10 is covered by the first");
    producer.emit(range(0, 10));
    await until(1);
    assert.deepEqual(batches, [range(0, 10)]);
    await producer.stop();
    await consumer.closed;
  });
});

describe("faults: throwing callbacks stop only their own stage", () => {
  for (const async of [false, true]) {
    it(`a consumer whose handleEvents ${async ? "rejects" : "throws"} stops with that error; the producer and the others go on`, async () => {
      const { producer } = counter();
      const boom = new Error("boom");
      const failing = new Consumer<number>({
        subscribeTo: [[producer, { maxDemand: 4 }]],
        handleEvents: async ? () => Promise.reject(boom) : () => {
          throw boom;
        },
      });
      const other = forwarder<number>([[producer, { maxDemand: 4 }]]);
      await assert.rejects(failing.closed, (e) => e === boom);
      await other.until(5);
      await producer.stop();
      await producer.closed;
      await other.consumer.closed;
    });
  }

  it("a producer whose handleDemand throws stops with that error, and so do its permanent consumers", async () => {
    const boom = new Error("boom");
    const producer = new Producer<number>({
      demand: "accumulate",
      handleDemand: () => {
        throw boom;
      },
    });
    const temporary = new Consumer<number>({ handleEvents: () => {} });
    const permanent = new Consumer<number>({ handleEvents: () => {} });
    temporary.subscribeTo(producer, { cancel: "temporary", maxDemand: 1 });
    permanent.subscribeTo(producer, { maxDemand: 1 });
    producer.setDemandMode("forward");
    await assert.rejects(producer.closed, (e) => e === boom);
    await assert.rejects(permanent.closed, (e) => e === boom);
    await settle();
    const other = new Producer<number>();
    temporary.subscribeTo(other);
    await temporary.stop();
    await temporary.closed;
    await other.stop();
  });

  it("a producer whose async handleDemand rejects stops with that error", async () => {
    const boom = new Error("boom");
    const producer = new Producer<number>({ handleDemand: () => Promise.reject(boom) });
    const consumer = new Consumer<number>({
      subscribeTo: [[producer, { cancel: "temporary" }]],
      handleEvents: () => {},
    });
    await assert.rejects(producer.closed, (e) => e === boom);
    await consumer.stop();
  });

  it("a handleDemand returning a non-iterable stops the producer with a TypeError", async () => {
    const producer = new Producer<number>({ handleDemand: () => 5 as never });
    const consumer = new Consumer<number>({
      subscribeTo: [[producer, { cancel: "temporary" }]],
      handleEvents: () => {},
    });
    await assert.rejects(producer.closed, {
      name: "TypeError",
      message:
        "Cannot handle demand as the returned events must be an iterable or nothing: current value is 5",
    });
    await consumer.stop();
  });

  it("a producer-consumer whose handleEvents throws stops; its permanent consumer stops with it; upstream goes on", async () => {
    const { producer } = counter();
    const boom = new Error("boom");
    const pc = new ProducerConsumer<number, number>({
      subscribeTo: [producer],
      handleEvents: () => {
        throw boom;
      },
    });
    const downstream = new Consumer<number>({ subscribeTo: [pc], handleEvents: () => {} });
    await assert.rejects(pc.closed, (e) => e === boom);
    await assert.rejects(downstream.closed, (e) => e === boom);
    const other = forwarder<number>([[producer, { maxDemand: 2 }]]);
    await other.until(1);
    await producer.stop();
  });

  it("a producer-consumer whose handleEvents returns a non-iterable stops with a TypeError", async () => {
    const producer = new Producer<number>();
    producer.emit([1]);
    const pc = new ProducerConsumer<number, number>({
      subscribeTo: [producer],
      handleEvents: () => 5 as never,
    });
    const consumer = new Consumer<number>({
      subscribeTo: [[pc, { cancel: "temporary" }]],
      handleEvents: () => {},
    });
    await assert.rejects(pc.closed, {
      name: "TypeError",
      message:
        "Cannot handle events as the returned events must be an iterable or nothing: current value is 5",
    });
    await consumer.stop();
    await producer.stop();
  });

  it("throwing handleInfo, handleCancel or handleSubscribe stops that stage with the error", async () => {
    const boom = new Error("boom");
    const throws = () => {
      throw boom;
    };
    const byInfo = new Consumer<number>({ handleEvents: () => {}, handleInfo: throws });
    byInfo.info("x");
    await assert.rejects(byInfo.closed, (e) => e === boom);

    const producer = new Producer<number>({ handleSubscribe: throws });
    const victim = new Consumer<number>({
      subscribeTo: [[producer, { cancel: "temporary" }]],
      handleEvents: () => {},
    });
    await assert.rejects(producer.closed, (e) => e === boom);
    await victim.stop();

    const source = new Producer<number>();
    const bySubscribe = new Consumer<number>({
      subscribeTo: [source],
      handleEvents: () => {},
      handleSubscribe: throws,
    });
    await assert.rejects(bySubscribe.closed, (e) => e === boom);

    const byCancel = new Consumer<number>({
      subscribeTo: [[source, { cancel: "temporary" }]],
      handleEvents: () => {},
      handleCancel: throws,
    });
    await settle();
    await source.stop();
    await assert.rejects(byCancel.closed, (e) => e === boom);

    const cancelling = new Producer<number>({ handleCancel: throws });
    const leaver = new Consumer<number>({ subscribeTo: [cancelling], handleEvents: () => {} });
    await settle();
    await leaver.stop();
    await assert.rejects(cancelling.closed, (e) => e === boom);
  });
});

describe("faults: stopping", () => {
  it('closed resolves on "normal", "shutdown" and undefined, and rejects with any other reason', async () => {
    for (const reason of ["normal", "shutdown", undefined]) {
      const producer = new Producer<number>();
      await producer.stop(reason);
      await producer.closed;
    }
    for (const reason of ["oops", new Error("x"), null, 0]) {
      const consumer = new Consumer<number>({ handleEvents: () => {} });
      await consumer.stop(reason);
      await assert.rejects(consumer.closed, (e) => e === reason);
    }
  });

  it("stop() resolves once stopped, even for an abnormal reason, and a second stop changes nothing", async () => {
    const producer = new Producer<number>();
    await producer.stop("first");
    await producer.stop("second");
    await assert.rejects(producer.closed, (e) => e === "first");
  });

  it("stop() drops the buffer at once; close() delivers it first, then stops normally", async () => {
    const stopped = new Producer<number>({ bufferSize: Infinity });
    stopped.emit(range(0, 10));
    await stopped.stop();
    assert.equal(stopped.bufferedCount, 0);

    const closing = new Producer<number>({ bufferSize: Infinity });
    closing.emit(range(0, 10));
    const done = closing.close();
    let closed = false;
    done.then(() => (closed = true));
    await settle();
    assert.equal(closed, false, "waits for the buffer to be delivered");
    const { consumer, batches } = forwarder<number>([[closing, { maxDemand: 4, minDemand: 0 }]]);
    await done;
    await closing.closed;
    await consumer.closed;
    assert.deepEqual(batches.flat(), range(0, 10));
  });

  it("close() calls handleDemand no more", async () => {
    const demands: number[] = [];
    const producer = new Producer<number>({ handleDemand: (d) => void demands.push(d) });
    await producer.close();
    const late = new Producer<number>({
      handleDemand: (d) => void demands.push(d),
      bufferSize: Infinity,
    });
    late.emit([1, 2]);
    const closing = late.close();
    const { consumer, batches } = forwarder<number>([[late, { maxDemand: 10, minDemand: 0 }]]);
    await closing;
    await consumer.closed;
    assert.deepEqual(batches, [[1, 2]]);
    assert.deepEqual(demands, []);
  });

  it("a consumer's close() handles what is on its way, then stops normally", async () => {
    const producer = new Producer<number>({ bufferSize: Infinity });
    producer.emit(range(0, 10));
    const gate = deferred();
    const handled: number[] = [];
    const consumer = new Consumer<number>({
      subscribeTo: [[producer, { maxDemand: 10, minDemand: 5 }]],
      handleEvents: async (events) => {
        await gate.promise;
        handled.push(...events);
      },
    });
    await settle();
    const closing = consumer.close();
    gate.resolve();
    await closing;
    await consumer.closed;
    assert.deepEqual(handled, range(0, 10));
    assert.ok(await serves(producer), "the producer goes on");
    await producer.stop();
  });

  it("a producer-consumer's close() delivers its queued and buffered events downstream first", async () => {
    const producer = new Producer<number>({ bufferSize: Infinity });
    producer.emit(range(0, 6));
    const pc = new ProducerConsumer<number, number>({
      subscribeTo: [[producer, { maxDemand: 6, minDemand: 0 }]],
      handleEvents: (events) => events.map((e) => e * 10),
    });
    await settle();
    const closing = pc.close();
    const { consumer, batches } = forwarder<number>([[pc, { maxDemand: 2, minDemand: 0 }]]);
    await closing;
    await consumer.closed;
    assert.deepEqual(batches.flat(), range(0, 6).map((e) => e * 10));
    await producer.stop();
  });

  it("[Symbol.asyncDispose] closes the stage", async () => {
    const producer = new Producer<number>({ bufferSize: Infinity });
    producer.emit([1]);
    const { consumer, batches } = forwarder<number>([producer]);
    await producer[Symbol.asyncDispose]();
    await consumer[Symbol.asyncDispose]();
    assert.deepEqual(batches, [[1]]);
    await consumer.closed;
  });

  it("aborting the signal stops the stage with signal.reason; an aborted signal stops it at once", async () => {
    const controller = new AbortController();
    const producer = new Producer<number>({ signal: controller.signal });
    const consumer = new Consumer<number>({ subscribeTo: [producer], handleEvents: () => {} });
    const reason = new Error("enough");
    controller.abort(reason);
    await assert.rejects(producer.closed, (e) => e === reason);
    await assert.rejects(consumer.closed, (e) => e === reason);

    const aborted = AbortSignal.abort("gone");
    const stage = new ProducerConsumer<number, number>({ handleEvents: (e) => e, signal: aborted });
    await assert.rejects(stage.closed, (e) => e === "gone");
    const c = new Consumer<number>({ handleEvents: () => {}, signal: aborted });
    await assert.rejects(c.closed, (e) => e === "gone");
  });

  it("a stopped stage ignores emit and info", async () => {
    const infos: unknown[] = [];
    const producer = new Producer<number>({ handleInfo: (m) => void infos.push(m) });
    await producer.stop();
    producer.emit([1]);
    producer.info("late");
    await settle();
    assert.equal(producer.bufferedCount, 0);
    assert.deepEqual(infos, []);
  });
});

describe("faults: errors raised in the producer because of a subscriber (§4.3)", () => {
  /** A DemandDispatcher whose subscribe or dispatch can be made to throw. */
  function faulty(fail: { subscribe?: Error; dispatch?: Error }): DemandDispatcher<number> {
    const dispatcher = new DemandDispatcher<number>();
    const subscribe = dispatcher.subscribe.bind(dispatcher);
    const dispatch = dispatcher.dispatch.bind(dispatcher);
    dispatcher.subscribe = (subscription) => {
      if (fail.subscribe) throw fail.subscribe;
      return subscribe(subscription);
    };
    dispatcher.dispatch = (events) => {
      if (fail.dispatch) throw fail.dispatch;
      return dispatch(events);
    };
    return dispatcher;
  }

  it("a dispatcher whose subscribe throws ends only that subscription, with the error as reason", async () => {
    const refused = new Error("refused");
    const fail: { subscribe?: Error } = { subscribe: refused };
    const producer = new Producer<number>({ dispatcher: faulty(fail) });
    const cancels: Array<[CancelMode, unknown]> = [];
    const consumers = (["permanent", "transient", "temporary"] as const).map((cancel) =>
      new Consumer<number>({
        subscribeTo: [[producer, { cancel }]],
        handleEvents: () => {},
        handleCancel: (_s, reason) => void cancels.push([cancel, reason]),
      })
    );
    await assert.rejects(consumers[0].closed, (e) => e === refused);
    await assert.rejects(consumers[1].closed, (e) => e === refused);
    await settle();
    assert.deepEqual(cancels, [["permanent", refused], ["transient", refused], [
      "temporary",
      refused,
    ]]);
    // The producer and the temporary consumer go on.
    delete fail.subscribe;
    assert.equal(await serves(producer), true);
    await consumers[2].stop();
    await producer.stop();
  });

  it("a dispatcher whose dispatch throws stops the producer with that error, and its permanent consumers", async () => {
    const broken = new Error("broken");
    const fail: { dispatch?: Error } = {};
    const producer = new Producer<number>({ dispatcher: faulty(fail) });
    const { consumer } = forwarder<number>([producer]);
    await settle();
    fail.dispatch = broken;
    producer.emit([1]);
    await assert.rejects(producer.closed, (e) => e === broken);
    await assert.rejects(consumer.closed, (e) => e === broken);
  });

  it("a consumer built with an aborted signal subscribes to nothing, so it holds no demand anywhere", async () => {
    const subscribes: unknown[] = [];
    const producer = new Producer<number>({
      dispatcher: new BroadcastDispatcher(),
      handleSubscribe: (s) => void subscribes.push(s),
    });
    const dead = new Consumer<number>({
      subscribeTo: [producer],
      signal: AbortSignal.abort("gone"),
      handleEvents: () => {},
    });
    await assert.rejects(dead.closed, (e) => e === "gone");
    const { consumer, batches, until } = forwarder<number>([producer]);
    await settle();
    producer.emit([1, 2]);
    await until(1);
    assert.deepEqual(
      batches,
      [[1, 2]],
      "a broadcast is not held back by a subscriber that never asks",
    );
    assert.equal(subscribes.length, 1);
    await producer.stop();
    await consumer.closed;
  });
});
