// The worker module of the worker scenarios: maps each event through the
// kernel named by the stage's `data`.

import { serveStage } from "../../mod.ts";
import { KERNELS } from "./kernel.ts";

let kernel: (x: number) => number = KERNELS.trivial;

serveStage<number, number>({
  init(data) {
    kernel = KERNELS[data as keyof typeof KERNELS];
  },
  handleEvents(events) {
    const out = new Array<number>(events.length);
    for (let i = 0; i < events.length; i++) out[i] = kernel(events[i]);
    return out;
  },
});
