// Finds a server binary the broker tests need (nats-server, redis-server):
// on PATH, or in the system folders where Debian installs them (nats-server
// goes to /usr/sbin, which a non-root PATH may lack). tests/brokers/_servers.ts
// looks them up the same way.

import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import process from "node:process";

const SYSTEM_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/**
 * @param {string} name an executable's name
 * @returns {string | undefined} its path, or undefined when it is not installed
 */
export function findBinary(name) {
  const dirs = [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), ...SYSTEM_DIRS];
  for (const dir of dirs) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  return undefined;
}
