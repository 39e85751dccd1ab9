// The worker module of examples/parallel_hash.ts: hashes each line of a batch.

import { serveStage } from "../mod.ts";
import { hashLine } from "./sha256.ts";

let rounds = 1;

serveStage<string, string>({
  init(data) {
    rounds = (data as { rounds: number }).rounds;
  },
  handleEvents: (lines) => lines.map((line) => hashLine(line, rounds)),
});
