// The worker module of the bare peer: plain postMessage, no webstage. Each
// message is { kernel, events }; the answer is the mapped events.

import { KERNELS } from "./kernel.ts";

const scope = globalThis as unknown as {
  onmessage: ((event: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
};

scope.onmessage = (event) => {
  const { kernel, events } = event.data as { kernel: keyof typeof KERNELS; events: number[] };
  const map = KERNELS[kernel];
  const out = new Array<number>(events.length);
  for (let i = 0; i < events.length; i++) out[i] = map(events[i]);
  scope.postMessage(out);
};
scope.postMessage("ready");
