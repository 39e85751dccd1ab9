// How many items each fan-out helper pulls from its source when one output is
// never read while another is read, next to ReadableStream.prototype.tee() on
// the same kind of source. Counts, not timings: the source is a
// ReadableStream with highWaterMark 0 that counts its pulls.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { balance, broadcast, partition } from "../mod.ts";
import { countingSource, readUntilStalled, take } from "./_counting.ts";

const N = 5_000;
const maxDemand = 100;

/** tee(): one branch read to N, the other never; returns what was pulled. */
async function teePulls(): Promise<number> {
  const source = countingSource();
  const [read, idle] = source.stream.tee();
  const reader = read.getReader();
  assert.equal((await take(reader, N)).length, N);
  const pulled = source.pulled;
  // A tee's cancel settles once both branches are cancelled.
  await Promise.all([reader.cancel(), idle.cancel()]);
  return pulled;
}

describe("memory with one output never read: bounded helpers next to tee()", () => {
  it("tee() pulls everything the fast branch reads and queues it all for the idle branch", async () => {
    assert.ok(await teePulls() >= N);
  });

  it("broadcast pulls at most maxDemand for 2 outputs; tee pulls N", async () => {
    const tee = await teePulls();
    const source = countingSource();
    const [read, idle] = broadcast(source.stream, 2, { maxDemand });
    const reader = read.getReader();
    const { values } = await readUntilStalled(reader);
    assert.equal(values.length, maxDemand, "the idle output paces the other");
    assert.ok(source.pulled <= maxDemand, `broadcast pulled ${source.pulled}, tee ${tee}`);
    assert.ok(tee >= N);
    await reader.cancel();
    await idle.cancel();
  });

  it("balance holds at most maxDemand per output while one output is read to N; tee holds N", async () => {
    const tee = await teePulls();
    const source = countingSource();
    const [idle, read] = balance(source.stream, 2, { maxDemand });
    const reader = read.getReader();
    assert.equal((await take(reader, N)).length, N);
    const held = source.pulled - N;
    assert.ok(
      held <= maxDemand * 2,
      `balance holds ${held} (pulled ${source.pulled}), tee holds ${tee}`,
    );
    assert.ok(tee >= N);
    await reader.cancel();
    await idle.cancel();
  });

  it("partition pulls a bounded amount (outputs and backlogs) before the unread partition stalls it; tee pulls N", async () => {
    const tee = await teePulls();
    const source = countingSource();
    const [idle, read] = partition(source.stream, {
      partitions: 2,
      hash: (n: number) => n % 2,
      maxDemand,
    });
    const reader = read.getReader();
    const { values } = await readUntilStalled(reader);
    // Per output: maxDemand in the output, maxBacklog (= maxDemand) in its
    // backlog, plus what was already asked for when the backlog filled.
    const bound = 2 * (maxDemand + maxDemand + maxDemand);
    assert.ok(
      source.pulled <= bound,
      `partition pulled ${source.pulled} (bound ${bound}), tee ${tee}`,
    );
    assert.ok(values.length >= maxDemand, `the read output got ${values.length} before stalling`);
    assert.ok(tee >= N);
    await reader.cancel();
    await idle.cancel();
  });
});
