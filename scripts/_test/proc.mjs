// Runs a child process in its own process group, capturing its output, with
// a time limit that kills the whole group.

import { spawn } from "node:child_process";
import process from "node:process";

/**
 * @typedef {object} ProcResult
 * @property {number | null} code exit code (null when killed)
 * @property {string} output stdout and stderr, interleaved as they arrived
 * @property {boolean} timedOut whether the time limit killed it
 */

/**
 * @param {string} command
 * @param {string[]} args
 * @param {{ cwd: string, env?: Record<string, string>, timeoutMs: number,
 *   onLine?: (line: string) => void, stdout?: (chunk: string) => void }} options
 *   `stdout`, when given, receives stdout instead of `output`.
 * @returns {Promise<ProcResult>}
 */
export function runProcess(command, args, options) {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let output = "";
    let timedOut = false;
    let pending = "";
    const take = (chunk) => {
      output += chunk;
      if (options.onLine) {
        pending += chunk;
        const lines = pending.split("\n");
        pending = lines.pop();
        for (const line of lines) options.onLine(line);
      }
    };
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", options.stdout ?? take);
    child.stderr.on("data", take);
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, options.timeoutMs);
    const onExit = () => killGroup(child.pid);
    process.once("exit", onExit);
    child.on("error", (error) => {
      output += `\n${error.message}\n`;
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      process.removeListener("exit", onExit);
      if (pending && options.onLine) options.onLine(pending);
      resolve({ code, output, timedOut });
    });
  });
}

function killGroup(pid) {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // already gone
  }
}
