// A worker for the transfer test: each event is a Uint8Array; the result is
// a Uint8Array of the same length filled with the low byte of its sum,
// transferred back.
import { serveStage } from "../../../src/serve_stage.ts";

serveStage<Uint8Array, Uint8Array>({
  handleEvents: (events) =>
    events.map((bytes) => {
      let sum = 0;
      for (const byte of bytes) sum += byte;
      return new Uint8Array(bytes.length).fill(sum & 0xff);
    }),
  transfer: (results) => results.map((bytes) => bytes.buffer as ArrayBuffer),
});
