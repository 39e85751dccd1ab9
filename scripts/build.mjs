// Builds the npm package and checks it as its users will meet it.
//
// Usage: node scripts/build.mjs [--sync]
//
// 1. package.json's name-independent fields (version, exports) are derived
//    from deno.json, the one source of truth; a mismatch fails the build
//    (`--sync` rewrites package.json instead).
// 2. tsc compiles mod.ts and src/ to dist/ (ESM + .d.ts, web types only,
//    `stripInternal`: no `@internal` declaration reaches the .d.ts files),
//    then node.ts (the "./node" entry) with Node's types;
//    the .d.ts files' "./x.ts" specifiers become "./x.js" (TypeScript issue
//    61037), so TypeScript consumers older than 5.7 resolve them too, and
//    the JSDoc examples in .js and .d.ts import "webstage" (the npm name)
//    instead of "@webstage/webstage" (the JSR name). A declaration file that
//    still says `@internal`, or any file that still names the JSR package,
//    fails the build.
// 3. publint --strict and attw --pack . --profile esm-only.
// 4. npm pack, install the tarball into a fresh temporary project, then run
//    a pipeline that imports "webstage" from Node and type-check a
//    TypeScript file that imports it, as a user would.
// 5. The entry points with peer dependencies ("webstage/nats",
//    "webstage/redis", "webstage/otel") from the same tarball, in a project
//    under .tmp/ whose peer dependencies (@nats-io/jetstream, ioredis,
//    @opentelemetry/api) resolve from this repository's node_modules, as
//    from a user's: imported from Node and type-checked.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const sync = process.argv.includes("--sync");

function step(title) {
  console.log(`\n== ${title}`);
}
function run(command, args, options = {}) {
  execFileSync(command, args, { cwd: root, stdio: "inherit", ...options });
}

// 1. package.json from deno.json
step("package.json fields from deno.json");
const deno = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
const pkgPath = join(root, "package.json");
const pkgText = readFileSync(pkgPath, "utf8");
const pkg = JSON.parse(pkgText);
const exportsMap = typeof deno.exports === "string" ? { ".": deno.exports } : deno.exports;
const derived = {
  version: deno.version,
  exports: Object.fromEntries(
    Object.entries(exportsMap).map(([key, target]) => {
      const base = target.replace(/^\.\//, "./dist/").replace(/\.ts$/, "");
      return [key, { types: `${base}.d.ts`, default: `${base}.js` }];
    }),
  ),
  types: `./dist/${exportsMap["."].replace(/^\.\//, "").replace(/\.ts$/, ".d.ts")}`,
  files: ["dist", "README.md", "LICENSE"],
  sideEffects: false,
};
const mismatched = Object.keys(derived).filter((key) =>
  JSON.stringify(pkg[key]) !== JSON.stringify(derived[key])
);
if (mismatched.length && !sync) {
  console.error(
    `package.json disagrees with deno.json on ${mismatched.join(", ")}: ` +
      "run `node scripts/build.mjs --sync` and commit package.json",
  );
  process.exit(1);
}
if (mismatched.length) {
  Object.assign(pkg, derived);
  writeFileSync(pkgPath, JSON.stringify(pkg, null, 2) + "\n");
  console.log(`rewrote ${mismatched.join(", ")}`);
} else console.log("in sync");

// 2. tsc → dist/
step("tsc -p tsconfig.build.json, then tsconfig.node.json");
rmSync(join(root, "dist"), { recursive: true, force: true });
for (const project of ["tsconfig.build.json", "tsconfig.node.json"]) {
  run(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", project]);
}
const walk = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
let rewritten = 0;
let renamed = 0;
const stale = [];
for (const file of walk(join(root, "dist"))) {
  const declaration = file.endsWith(".d.ts");
  const text = readFileSync(file, "utf8");
  let fixed = declaration
    ? text.replace(/(from\s+["']\.{1,2}\/[^"']*?)\.ts(["'])/g, "$1.js$2")
    : text;
  if (fixed !== text) rewritten++;
  const examples = fixed.replace(
    /(from\s+["'])@webstage\/webstage(\/[a-z]+)?(["'])/g,
    `$1${pkg.name}$2$3`,
  );
  if (examples !== fixed) renamed++;
  fixed = examples;
  if (fixed !== text) writeFileSync(file, fixed);
  if (fixed.includes("@webstage/webstage")) stale.push(`${file}: names @webstage/webstage`);
  if (declaration && /@internal\b/.test(fixed)) stale.push(`${file}: declares @internal`);
}
if (stale.length) {
  console.error(stale.join("\n"));
  process.exit(1);
}
// The topology page as a file too, for static hosting (webstage/topology returns the same HTML).
const { topologyPage } = await import(pathToFileURL(join(root, "dist", "topology.js")).href);
writeFileSync(join(root, "dist", "topology.html"), topologyPage());
console.log(
  `dist/ built (and dist/topology.html); .ts specifiers rewritten in ${rewritten} declaration files; ` +
    `examples import "${pkg.name}" in ${renamed} files; no @internal declarations`,
);

// 3. package linters
step("publint --strict");
run(bin("publint"), ["--strict"]);
step("attw --pack . --profile esm-only");
run(bin("attw"), ["--pack", ".", "--profile", "esm-only"]);

// 4. the packed tarball, installed and imported as a user would
step("install the packed tarball and import webstage from Node");
const scratch = mkdtempSync(join(tmpdir(), "webstage-pack-"));
try {
  const packed = JSON.parse(
    execFileSync("npm", ["pack", "--json", "--pack-destination", scratch], { cwd: root })
      .toString(),
  );
  const tarball = join(scratch, packed[0].filename);
  const leaked = packed[0].files.map((file) => file.path).filter((path) =>
    !/^(dist\/|README\.md$|LICENSE$|package\.json$)/.test(path)
  );
  if (leaked.length) throw new Error(`the package holds unexpected files: ${leaked.join(", ")}`);
  const app = join(scratch, "app");
  run("mkdir", ["-p", app]);
  writeFileSync(
    join(app, "package.json"),
    JSON.stringify({ name: "app", private: true, type: "module" }),
  );
  run("npm", ["install", "--no-audit", "--no-fund", "--offline", tarball], { cwd: app });
  writeFileSync(
    join(app, "main.mjs"),
    `import { readFileSync } from "node:fs";
import { Consumer, Producer, ProducerConsumer, toReadableStream, WorkerStage } from "webstage";
const doubled = new ProducerConsumer({
  subscribeTo: [[Producer.from([1, 2, 3, 4]), { maxDemand: 2 }]],
  handleEvents: (events) => events.map((n) => n * 2),
});
const reader = toReadableStream([doubled]).getReader();
const seen = [];
for (;;) {
  const { done, value } = await reader.read();
  if (done) break;
  seen.push(value);
}
if (seen.join() !== "2,4,6,8") throw new Error("unexpected events: " + seen.join());
if (typeof Consumer !== "function") throw new Error("Consumer is missing");
const { topologyPage } = await import("webstage/topology");
const page = readFileSync("node_modules/webstage/dist/topology.html", "utf8");
if (page !== topologyPage()) throw new Error("dist/topology.html is not topologyPage()");
console.log("imported webstage from the tarball and ran a pipeline:", seen.join(" "));
console.log("webstage/topology's page equals the shipped dist/topology.html");

// webstage/node: a stage whose callback runs in a worker thread.
const { NodeWorker } = await import("webstage/node");
const { writeFileSync } = await import("node:fs");
writeFileSync("square_worker.mjs",
  'import { serveStage } from "webstage";\\n' +
  "serveStage({ handleEvents: (events) => events.map((n) => n * n) });\\n");
const squares = new WorkerStage(new URL("./square_worker.mjs", import.meta.url), {
  Worker: NodeWorker,
  subscribeTo: [[Producer.from([1, 2, 3, 4]), { maxDemand: 2 }]],
});
const squared = [];
await new Consumer({ subscribeTo: [squares], handleEvents: (events) => void squared.push(...events) }).closed;
if (squared.join() !== "1,4,9,16") throw new Error("unexpected squares: " + squared.join());
console.log("imported webstage/node and ran a stage in a worker thread:", squared.join(" "));
`,
  );
  run(process.execPath, ["main.mjs"], { cwd: app });
  // The README's first sample, as a user copies it (its only TypeScript is the generic
  // arguments, removed here so that Node 20 runs it as JavaScript).
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const sample = readme.match(/```ts\n([\s\S]*?)```/)[1].replace(/<number(, number)?>/g, "");
  writeFileSync(join(app, "readme.mjs"), sample);
  step("run the README's first sample from the installed tarball");
  run(process.execPath, ["readme.mjs"], { cwd: app });
  writeFileSync(
    join(app, "main.ts"),
    `import { Consumer, Producer, type SubscribeOptions, WorkerStage } from "webstage";
import { NodeWorker } from "webstage/node";
const options: SubscribeOptions<number> = { maxDemand: 10 };
export const squares: WorkerStage<number, number> = new WorkerStage<number, number>("./w.js", {
  Worker: NodeWorker,
});
const consumer: Consumer<number> = new Consumer<number>({
  subscribeTo: [[Producer.from([1, 2, 3]), options]],
  handleEvents(events: number[]): void {
    void events;
  },
});
export const closed: Promise<void> = consumer.closed;
`,
  );
  writeFileSync(
    join(app, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "es2022",
        module: "nodenext",
        moduleResolution: "nodenext",
        lib: ["es2022", "dom", "esnext.disposable"],
        types: [],
        strict: true,
        noEmit: true,
      },
      files: ["main.ts"],
    }),
  );
  run(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", app]);
  console.log("a TypeScript file importing webstage type-checks against the package");

  step("import webstage/nats, webstage/redis and webstage/otel with their peer dependencies");
  const brokers = join(root, ".tmp", "pack-brokers");
  rmSync(brokers, { recursive: true, force: true });
  run("mkdir", ["-p", brokers]);
  writeFileSync(
    join(brokers, "package.json"),
    JSON.stringify({ name: "brokers-app", private: true, type: "module" }),
  );
  run("npm", ["install", "--no-audit", "--no-fund", "--offline", tarball], { cwd: brokers });
  writeFileSync(
    join(brokers, "main.mjs"),
    `import { JetStreamProducer, JetStreamSink } from "webstage/nats";
import { RedisStreamProducer, RedisStreamSink } from "webstage/redis";
import { instrument } from "webstage/otel";
import { Producer } from "webstage";
const classes = { JetStreamProducer, JetStreamSink, RedisStreamProducer, RedisStreamSink };
for (const [name, value] of Object.entries(classes)) {
  if (typeof value !== "function") throw new Error(name + " is missing");
}
try {
  new JetStreamProducer({ connection: {}, stream: "S", consumer: "c" });
  throw new Error("a bad connection was accepted");
} catch (error) {
  if (!(error instanceof TypeError)) throw error;
}
const producer = new Producer({ name: "p" });
instrument([producer]).unregister(); // the global (no-op) MeterProvider of @opentelemetry/api
await producer.stop();
console.log("imported webstage/nats, webstage/redis and webstage/otel from the tarball");
`,
  );
  run(process.execPath, ["main.mjs"], { cwd: brokers });
  writeFileSync(
    join(brokers, "main.ts"),
    `import { Consumer } from "webstage";
import { type JetStreamMessage, JetStreamProducer } from "webstage/nats";
import { RedisStreamProducer, RedisStreamSink } from "webstage/redis";
import { connect } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import { type Instrumentation, instrument } from "webstage/otel";
import { metrics } from "@opentelemetry/api";
export function observe(consumer: Consumer<unknown>): Instrumentation {
  return instrument([consumer], { meter: metrics.getMeter("app") });
}
export async function worker(url: string): Promise<Consumer<JetStreamMessage>> {
  const connection = await connect({ servers: url });
  const jobs = new JetStreamProducer({ connection, stream: "JOBS", consumer: "workers" });
  return new Consumer<JetStreamMessage>({
    subscribeTo: [[jobs, { maxDemand: 10 }]],
    handleEvents(messages: JetStreamMessage[]): void {
      for (const message of messages) void message.json<{ id: string }>().id;
    },
  });
}
export function copy(redis: Redis): RedisStreamSink<string> {
  const entries = new RedisStreamProducer({ redis, stream: "in", group: "copiers" });
  void entries;
  return new RedisStreamSink<string>({ redis, stream: "out" });
}
`,
  );
  writeFileSync(
    join(brokers, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "es2022",
        module: "nodenext",
        moduleResolution: "nodenext",
        lib: ["es2022", "dom", "esnext.disposable"],
        types: ["node"], // ioredis's types need Node's: a Redis user has them
        strict: true,
        noEmit: true,
      },
      files: ["main.ts"],
    }),
  );
  run(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", brokers]);
  console.log(
    "a TypeScript file importing webstage/nats, webstage/redis and webstage/otel type-checks",
  );
  rmSync(brokers, { recursive: true, force: true });
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
console.log("\nbuild: ok");
