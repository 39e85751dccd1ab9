// Real brokers for the broker tests: `nats-server -js` and `redis-server`,
// each started on a free loopback port in a fresh temporary folder and
// killed by `stop()`. A missing binary skips the tests loudly, unless CI is
// set: then it fails them (`.ci/run` installs both with apt).

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import process from "node:process";

/** Where Debian installs the binaries when PATH lacks the sbin folders (nats-server is in /usr/sbin). */
const SYSTEM_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/** The path of an executable named `name` on PATH or in the system folders, or undefined. */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), ...SYSTEM_DIRS];
  for (const dir of dirs) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  return undefined;
}

/**
 * `false` when `binary` is installed, else the reason to skip, printed
 * loudly. With CI set a missing binary is an error: the tests must run there.
 */
export function skipWithout(binary: "nats-server" | "redis-server"): string | false {
  if (findBinary(binary) !== undefined) return false;
  const reason = `${binary} is not installed: install it with \`apt-get install -y ${binary}\``;
  if (process.env.CI) {
    throw new Error(`${reason} (CI is set, so the broker tests cannot be skipped)`);
  }
  console.error(`\n!!! SKIPPED broker tests: ${reason}\n`);
  return reason;
}

/** A free TCP port on 127.0.0.1 (the OS picks it; the server binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A broker process that can be stopped and started again on the same port and data folder. */
export interface BrokerServer {
  readonly port: number;
  /** `nats://127.0.0.1:port` or `redis://127.0.0.1:port`. */
  readonly url: string;
  /** Its data folder (JetStream store, Redis AOF). */
  readonly dir: string;
  /** Stops the process (SIGTERM: a clean shutdown, data flushed) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  dispose(): Promise<void>;
}

class Server implements BrokerServer {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  readonly #binary: string;
  readonly #args: string[];
  readonly #ready: RegExp;
  #child: ChildProcess | undefined;

  constructor(scheme: string, binary: string, args: string[], ready: RegExp, port: number) {
    this.port = port;
    this.url = `${scheme}://127.0.0.1:${port}`;
    this.dir = mkdtempSync(join(tmpdir(), `webstage-${scheme}-`));
    this.#binary = binary;
    this.#args = args.map((arg) => arg.replaceAll("{dir}", this.dir));
    this.#ready = ready;
  }

  start(): Promise<void> {
    const child = spawn(this.#binary, this.#args, {
      cwd: this.dir,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.#child = child;
    let output = "";
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`${this.#binary} did not start within 15 s:\n${output}`));
      }, 15_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (this.#ready.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on("data", onData);
      child.stderr!.on("data", onData);
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(
          new Error(`${this.#binary} exited (${code ?? signal}) before it was ready:\n${output}`),
        );
      });
    });
  }

  stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      child.once("exit", () => resolve());
      child.kill(signal);
    });
  }

  async dispose(): Promise<void> {
    await this.stop("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Starts `nats-server -js` on a free loopback port, its JetStream store in a temporary folder. */
export async function startNats(): Promise<BrokerServer> {
  const port = await freePort();
  const server = new Server(
    "nats",
    findBinary("nats-server")!,
    [
      "-a",
      "127.0.0.1",
      "-p",
      String(port),
      "-js",
      "-sd",
      "{dir}",
    ],
    /Server is ready/,
    port,
  );
  await server.start();
  return server;
}

/**
 * Starts `redis-server` on a free loopback port. Without persistence
 * (`--save "" --appendonly no`) unless `persistent`, which turns on an
 * append-only file synced on every write, so a restart keeps every entry.
 */
export async function startRedis(options: { persistent?: boolean } = {}): Promise<BrokerServer> {
  const port = await freePort();
  const persistence = options.persistent
    ? ["--appendonly", "yes", "--appendfsync", "always"]
    : ["--appendonly", "no"];
  const server = new Server(
    "redis",
    findBinary("redis-server")!,
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      "{dir}",
      "--save",
      "",
      ...persistence,
    ],
    /Ready to accept connections/,
    port,
  );
  await server.start();
  return server;
}
