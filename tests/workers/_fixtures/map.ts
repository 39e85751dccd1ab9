// A worker for the tests: multiplies each event by `factor` and misbehaves
// on request. `data` (the stage's `data` option) says how:
//   failAt   at the first event >= failAt, the batch throws a RangeError
//   crashAt  at the first event >= crashAt, an error escapes the callbacks (thrown
//            from a timer); the batch never answers
//   closeAt  at the first event >= closeAt, the worker closes itself; the batch never answers
//   gateAt   the batch holding this event says "waiting" on BroadcastChannel `gate`,
//            then waits there for "go" (see Gate in _workers.ts)
//   crashIdle  an error escapes right after init, with no batch in flight
//   failInit   init throws
// A misbehaviour with `armed: true` happens only in a worker that was sent
// `{ test: "arm" }` (see _workers.ts), so a replacement worker behaves.
import { serveStage } from "../../../src/serve_stage.ts";

interface Data {
  factor?: number;
  failAt?: number;
  crashAt?: number;
  closeAt?: number;
  gateAt?: number;
  gate?: string;
  armed?: boolean;
  crashIdle?: boolean;
  failInit?: boolean;
}

let armed = false;
addEventListener("message", (event) => {
  if ((event as MessageEvent).data?.test === "arm") armed = true;
});

let data: Data = {};
let gate: Promise<void> | undefined;
let gateChannel: BroadcastChannel | undefined;

function never(): Promise<never> {
  return new Promise<never>(() => {});
}

serveStage<number, number>({
  init(value) {
    data = (value ?? {}) as Data;
    if (data.failInit) throw new TypeError("init refused");
    if (data.gate !== undefined) {
      const channel = new BroadcastChannel(data.gate);
      gateChannel = channel;
      gate = new Promise<void>((resolve) => {
        channel.onmessage = () => {
          channel.close();
          resolve();
        };
      });
    }
    if (data.crashIdle) {
      setTimeout(() => {
        throw new Error("crashed while idle");
      }, 0);
    }
  },
  async handleEvents(events) {
    const live = data.armed !== true || armed;
    for (const event of events) {
      if (live && data.failAt !== undefined && event >= data.failAt) {
        throw new RangeError(`bad event ${event}`);
      }
      if (live && data.crashAt !== undefined && event >= data.crashAt) {
        setTimeout(() => {
          throw new Error(`crashed at ${event}`);
        }, 0);
        return await never();
      }
      if (live && data.closeAt !== undefined && event >= data.closeAt) {
        // Bun's workers have no close(): they exit.
        if (typeof globalThis.close === "function") close();
        else (globalThis as unknown as { process: { exit(code: number): void } }).process.exit(0);
        return await never();
      }
      if (event === data.gateAt) {
        gateChannel!.postMessage("waiting");
        await gate;
      }
    }
    const factor = data.factor ?? 1;
    return events.map((event) => event * factor);
  },
});
