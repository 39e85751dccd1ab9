// Seeded chaos over the whole chain (tests/_chaos.ts): a producer, a
// partitioning producer-consumer, partitioned consumers, a broadcasting
// producer-consumer and its consumers, all supervised, with random crashes
// of every kind of stage under each strategy and `redeliver` on every link.
// Counts every event. A few seeds here; many with `npm run chaos -- --seeds 1000`.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { describeRun, runChaos } from "./_chaos.ts";

const EVENTS = 1500;

describe("Chaos over the whole chain", () => {
  it("without crashes, every event reaches its consumer exactly once, every broadcast consumer too, within the memory bounds", async () => {
    const result = await runChaos({
      seed: 1,
      strategy: "one_for_one",
      events: EVENTS,
      crashRate: 0,
    });
    const summary = describeRun(result);
    assert.equal(result.emitted, EVENTS, summary);
    assert.deepEqual(result.lost, [], summary);
    assert.equal(result.duplicated, 0, summary);
    assert.deepEqual(result.broadcastMissed, [0, 0], summary);
    assert.equal(result.broadcastDuplicated, 0, summary);
    assert.deepEqual(result.overflows, [], summary);
    assert.equal(result.ending, "normal", summary);
  });

  for (const strategy of ["one_for_one", "rest_for_one", "one_for_all"] as const) {
    for (const seed of [7, 42]) {
      it(`${strategy}, random crashes (seed ${seed}): every event reaches its consumer at least once, within the memory bounds`, async () => {
        const result = await runChaos({ seed, strategy, events: EVENTS, crashRate: 0.03 });
        const summary = describeRun(result);
        assert.ok(Object.values(result.crashes).some((n) => n > 0), `no crash: ${summary}`);
        assert.equal(result.stalled, false, summary);
        assert.deepEqual(result.lost, [], summary);
        assert.equal(result.excused, 0, summary);
        assert.deepEqual(result.overflows, [], summary);
        assert.equal(result.ending, "normal", summary);
      });
    }
  }

  it("with crashes of the source too (seed 3), only what a crashed source held is lost", async () => {
    const result = await runChaos({
      seed: 3,
      strategy: "rest_for_one",
      events: EVENTS,
      crashRate: 0.03,
      sourceCrashRate: 0.05,
    });
    const summary = describeRun(result);
    assert.ok(result.crashes.source > 0, `the source never crashed: ${summary}`);
    assert.equal(result.stalled, false, summary);
    assert.deepEqual(result.lost, [], summary);
    assert.deepEqual(result.overflows, [], summary);
    assert.equal(result.ending, "normal", summary);
  });
});
