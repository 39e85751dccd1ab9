import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { balance, broadcast, merge, partition } from "../mod.ts";
import { range, settle } from "./_helpers.ts";
import { countingSource, drain, readUntilStalled, take } from "./_counting.ts";

function fromArray<T>(items: readonly T[]): ReadableStream<T> {
  return new ReadableStream<T>({
    start(controller) {
      for (const item of items) controller.enqueue(item);
      controller.close();
    },
  });
}

describe("broadcast", () => {
  it("gives every output every event, in order", async () => {
    const outputs = broadcast(fromArray(range(0, 1000)), 3, { maxDemand: 16 });
    assert.equal(outputs.length, 3);
    const results = await Promise.all(outputs.map(drain));
    for (const result of results) assert.deepEqual(result, range(0, 1000));
  });

  it("reads nothing before an output asks, and at most maxDemand while one output is not read", async () => {
    const source = countingSource();
    const [a, b] = broadcast(source.stream, 2, { maxDemand: 8 });
    await settle();
    assert.equal(source.pulled, 8, "each output asks for maxDemand at once; broadcast asks once");
    const readerA = a.getReader();
    const { values, pending } = await readUntilStalled(readerA);
    assert.deepEqual(values, range(0, 8), "the unread output holds the other back");
    assert.equal(source.pulled, 8);
    const readerB = b.getReader();
    assert.deepEqual(await take(readerB, 12), range(0, 12), "reading it releases both");
    assert.deepEqual(await pending, { done: false, value: 8 });
    await readerA.cancel();
    await readerB.cancel();
  });

  it("cancelling one output releases the others at once", async () => {
    const source = countingSource();
    const [a, b] = broadcast(source.stream, 2, { maxDemand: 4 });
    const readerA = a.getReader();
    const { values, pending } = await readUntilStalled(readerA);
    assert.deepEqual(values, range(0, 4));
    await b.cancel("not needed");
    assert.deepEqual(await pending, { done: false, value: 4 });
    assert.deepEqual(await take(readerA, 20), range(5, 25));
    assert.deepEqual(source.cancels, []);
    await readerA.cancel("done");
    await settle();
    assert.deepEqual(
      source.cancels,
      ["done"],
      "the last cancel cancels the source with its reason",
    );
  });

  it("an error in the source errors every output after the events read before it", async () => {
    const source = countingSource(Infinity, 5);
    const outputs = broadcast(source.stream, 2, { maxDemand: 3 });
    const readers = outputs.map((output) => output.getReader());
    // Read together: an output that is not read holds the others back.
    const read = async (reader: ReadableStreamDefaultReader<number>) => {
      assert.deepEqual(await take(reader, 3), [0, 1, 2]);
      await assert.rejects(take(reader, Infinity), { message: "failed at 5" });
    };
    await Promise.all(readers.map(read));
  });

  it("rejects bad arguments before reading anything", () => {
    const stream = fromArray([1]);
    assert.throws(() => broadcast(stream, 0), {
      name: "RangeError",
      message: "Cannot broadcast a stream as count must be an integer >= 1: current value is 0",
    });
    assert.throws(() => broadcast(stream, 2, { maxDemand: 0 }), {
      name: "RangeError",
      message: "Cannot broadcast a stream as maxDemand must be an integer >= 1: current value is 0",
    });
    assert.throws(() => broadcast([1, 2] as never, 2), {
      name: "TypeError",
      message:
        "Cannot broadcast a stream as source must be a ReadableStream: current value is array of length 2",
    });
    assert.throws(() => broadcast(stream, 2, 5 as never), {
      name: "TypeError",
      message: "Cannot broadcast a stream as options must be an object: current value is 5",
    });
    assert.equal(stream.locked, false, "nothing half-built");
    stream.getReader();
    assert.throws(() => broadcast(stream, 2), {
      name: "TypeError",
      message:
        "Cannot broadcast a stream as source must be unlocked: current value is a locked ReadableStream",
    });
  });
});

describe("balance", () => {
  it("shares the events: each once, in order within each output", async () => {
    const results = await Promise.all(
      balance(fromArray(range(0, 500)), 3, { maxDemand: 10 }).map(drain),
    );
    assert.deepEqual(results.flat().sort((x, y) => x - y), range(0, 500));
    for (const result of results) {
      assert.deepEqual(result, result.slice().sort((x, y) => x - y));
    }
  });

  it("an idle output holds at most maxDemand events while the others go on", async () => {
    const source = countingSource();
    const [idle, busy] = balance(source.stream, 2, { maxDemand: 8 });
    const reader = busy.getReader();
    const read = await take(reader, 100);
    assert.equal(read.length, 100);
    await settle();
    assert.ok(source.pulled - read.length <= 8 + 8, `held ${source.pulled - read.length}`);
    await idle.cancel();
    await reader.cancel();
  });

  it("ends every output when the source ends", async () => {
    const results = await Promise.all(balance(fromArray([1, 2, 3]), 4).map(drain));
    assert.deepEqual(results.flat().sort(), [1, 2, 3]);
  });

  it("rejects a bad count", () => {
    assert.throws(() => balance(fromArray([1]), 1.5), {
      name: "RangeError",
      message: "Cannot balance a stream as count must be an integer >= 1: current value is 1.5",
    });
  });
});

describe("every helper", () => {
  it("an output holds at most maxDemand events that its reader has not taken, however far it has read", async () => {
    for (const split of [broadcast, balance]) {
      const source = countingSource();
      const [output] = split(source.stream, 1, { maxDemand: 8 });
      const reader = output.getReader();
      for (let read = 1; read <= 30; read++) {
        await reader.read();
        await settle();
        assert.ok(
          source.pulled - read <= 8,
          `${split.name}: ${source.pulled - read} held after ${read} reads`,
        );
      }
      await reader.cancel();
    }
  });

  it("an error in the source errors every output of balance and partition", async () => {
    const outputs = [
      ...balance(countingSource(Infinity, 10).stream, 2, { maxDemand: 4 }),
      ...partition(countingSource(Infinity, 10).stream, {
        partitions: 2,
        hash: (n: number) => n % 2,
      }),
    ];
    for (const result of await Promise.allSettled(outputs.map(drain))) {
      assert.equal(result.status, "rejected");
      assert.equal((result as PromiseRejectedResult).reason.message, "failed at 10");
    }
  });
});

describe("partition", () => {
  it("sends each event to the output of its partition; null drops it", async () => {
    const outputs = partition(fromArray(range(0, 30)), {
      partitions: 3,
      hash: (n: number) => (n % 5 === 0 ? null : n % 3),
      maxDemand: 4,
    });
    assert.ok(Array.isArray(outputs));
    const results = await Promise.all(outputs.map(drain));
    for (const p of [0, 1, 2]) {
      assert.deepEqual(results[p], range(0, 30).filter((n) => n % 5 !== 0 && n % 3 === p));
    }
  });

  it("returns a Map for named partitions", async () => {
    const outputs = partition(fromArray(["apple", "avocado", "banana", "blueberry", "cherry"]), {
      partitions: ["a", "b", "c"],
      hash: (fruit: string) => fruit[0],
    });
    assert.ok(outputs instanceof Map);
    assert.deepEqual([...outputs.keys()], ["a", "b", "c"]);
    const [a, b, c] = await Promise.all([...outputs.values()].map(drain));
    assert.deepEqual([a, b, c], [["apple", "avocado"], ["banana", "blueberry"], ["cherry"]]);
  });

  it("an output that is not read stalls the others once its backlog is full (the documented limit)", async () => {
    const source = countingSource();
    const [, odd] = partition(source.stream, {
      partitions: 2,
      hash: (n: number) => n % 2,
      maxDemand: 4,
    });
    const { values } = await readUntilStalled(odd.getReader());
    assert.ok(values.length > 0);
    // The even output holds 4 and its backlog 4 (plus up to what was already asked for).
    assert.ok(source.pulled <= 2 * (4 + 4 + 4) + 4, `pulled ${source.pulled}`);
  });

  it("cancelling an output drops its events (even a full backlog) and lets the others go on", async () => {
    const source = countingSource();
    const [even, odd] = partition(source.stream, {
      partitions: 2,
      hash: (n: number) => n % 2,
      maxDemand: 4,
    });
    const reader = odd.getReader();
    const { pending } = await readUntilStalled(reader);
    const before = source.pulled;
    await even.cancel();
    assert.equal((await pending)!.done, false);
    const more = await take(reader, 50);
    assert.equal(more.length, 50);
    assert.ok(more.every((n) => n % 2 === 1 && n > 0));
    assert.ok(source.pulled > before);
    await reader.cancel("bye");
    await settle();
    assert.deepEqual(source.cancels, ["bye"]);
  });

  it("a hash that throws errors every output", async () => {
    const oops = new Error("oops");
    const outputs = partition(fromArray([1, 2, 3]), {
      partitions: 2,
      hash: (n: number) => {
        if (n === 3) throw oops;
        return n % 2;
      },
    });
    for (const output of outputs) await assert.rejects(drain(output), (error) => error === oops);
  });

  it("rejects bad options with errors naming partition", () => {
    assert.throws(() => partition(fromArray([1]), { partitions: 0, hash: () => 0 }), {
      name: "RangeError",
      message:
        "Cannot partition a stream as partitions must be an integer >= 1: current value is 0",
    });
    assert.throws(() => partition(fromArray([1]), { partitions: 2 } as never), {
      name: "TypeError",
      message: "Cannot partition a stream as hash must be a function: current value is undefined",
    });
    assert.throws(() => partition(fromArray([1]), undefined as never), {
      name: "TypeError",
      message: "Cannot partition a stream as options must be an object: current value is undefined",
    });
    assert.throws(
      () => partition(fromArray([1]), { partitions: 2, hash: () => 0, maxBacklog: -1 }),
      {
        name: "RangeError",
        message:
          "Cannot partition a stream as maxBacklog must be an integer >= 1 or Infinity: current value is -1",
      },
    );
  });
});

describe("merge", () => {
  it("reads every source into one stream, in order within each source", async () => {
    const merged = await drain(
      merge([fromArray(range(0, 50)), fromArray(range(100, 130))], { maxDemand: 7 }),
    );
    assert.equal(merged.length, 80);
    assert.deepEqual(merged.filter((n) => n < 100), range(0, 50));
    assert.deepEqual(merged.filter((n) => n >= 100), range(100, 130));
  });

  it("pulls its sources only when read, at most maxDemand ahead", async () => {
    const a = countingSource();
    const b = countingSource();
    const reader = merge([a.stream, b.stream], { maxDemand: 5 }).getReader();
    await settle();
    assert.deepEqual([a.pulled, b.pulled], [0, 0]);
    await reader.read();
    await settle();
    assert.ok(a.pulled <= 5 && b.pulled <= 5, `pulled ${a.pulled} and ${b.pulled}`);
    await reader.cancel("enough");
    await settle();
    assert.equal(a.cancels.length, 1);
    assert.equal(b.cancels.length, 1);
  });

  it("errors when a source errors, and cancels the others", async () => {
    const ok = countingSource();
    const failing = countingSource(Infinity, 3);
    await assert.rejects(drain(merge([ok.stream, failing.stream], { maxDemand: 2 })), {
      message: "failed at 3",
    });
    await settle();
    assert.equal(ok.cancels.length, 1);
  });

  it("an empty list gives a stream that closes", async () => {
    assert.deepEqual(await drain(merge([])), []);
  });

  it("rejects what is not an array of unlocked streams", () => {
    assert.throws(() => merge("x" as never), {
      name: "TypeError",
      message:
        'Cannot merge streams as sources must be an array of ReadableStreams: current value is "x"',
    });
    const locked = fromArray([1]);
    locked.getReader();
    const free = fromArray([1]);
    assert.throws(() => merge([free, locked]), {
      name: "TypeError",
      message:
        "Cannot merge streams as sources[1] must be unlocked: current value is a locked ReadableStream",
    });
    assert.equal(free.locked, false, "nothing half-built");
  });
});
