// A web-platform stand-in for `node:test`, used where Node's module does not
// exist (headless Chromium, workerd). It implements the subset the test suite
// uses, with Node's semantics:
//
// - `describe`/`suite`, `it`/`test` (with `.skip`, `.todo`, `.only` and the
//   `{ skip, todo, timeout }` options), nested to any depth; `describe` bodies
//   run at once and must be synchronous.
// - `before`/`after` (once per suite), `beforeEach`/`afterEach` (outer
//   `beforeEach` first, inner `afterEach` first; `afterEach` runs even when
//   the test failed). Hooks at the top of a file apply to that file only.
// - async tests, callback tests (`(t, done)`), `t.test` subtests (awaited by
//   their parent), `t.skip()`, `t.todo()`, `t.signal`, `t.name`, `t.mock`
//   (restored after the test, as in Node).
// - `mock.fn` and `mock.method` (with `times`, `getter`, `setter`), calls
//   tracking (`mock.calls[i].arguments/result/error/this/target`,
//   `callCount()`), `mockImplementation(Once)`, `resetCalls`, `restore`,
//   `mock.restoreAll()`, `mock.reset()`.
//
// Not supported (throws or is absent): `mock.timers` (only `reset()` is a
// no-op), `mock.module`, `t.plan`, `t.assert`, `run`, snapshots,
// `only` filtering (`only` runs like a normal test).
//
// The harness drives it through `__webstageRun` and `__webstageUncaught`.

// ---------------------------------------------------------------- mocks

const kDefault = Symbol("default implementation");

/** The `.mock` property of a mocked function. */
class MockFunctionContext {
  #calls = [];
  #implementation;
  #original;
  #onces = new Map();
  #times;
  #restore;

  constructor(implementation, original, times, restore) {
    this.#implementation = implementation;
    this.#original = original;
    this.#times = times;
    this.#restore = restore;
  }

  /** A copy of the calls made so far. */
  get calls() {
    return this.#calls.slice();
  }

  /** How many times the mock has been called. */
  callCount() {
    return this.#calls.length;
  }

  /** Replaces the implementation for every later call. */
  mockImplementation(implementation) {
    if (typeof implementation !== "function") {
      throw new TypeError('The "implementation" argument must be of type function');
    }
    this.#implementation = implementation;
  }

  /** Replaces the implementation for call number `onCall` (default: the next one). */
  mockImplementationOnce(implementation, onCall = this.#calls.length) {
    if (typeof implementation !== "function") {
      throw new TypeError('The "implementation" argument must be of type function');
    }
    this.#onces.set(onCall, implementation);
  }

  /** Forgets the calls made so far. */
  resetCalls() {
    this.#calls = [];
  }

  /** Puts back what the mock replaced (for `mock.method`); the mock then calls the original. */
  restore() {
    this.#implementation = this.#original;
    this.#onces.clear();
    this.#restore?.();
  }

  /** @internal */
  nextImplementation() {
    const index = this.#calls.length;
    const once = this.#onces.get(index);
    if (once) {
      this.#onces.delete(index);
      return once;
    }
    if (this.#times !== undefined && index >= this.#times) return this.#original;
    return this.#implementation;
  }

  /** @internal */
  track(call) {
    this.#calls.push(Object.freeze(call));
  }
}

/** `mock` and `t.mock`: creates mocks and restores them. */
class MockTracker {
  #mocks = [];

  /**
   * `mock.fn([original[, implementation]][, options])`.
   */
  fn(original = function () {}, implementation = original, options = {}) {
    if (original !== null && typeof original === "object") {
      options = original;
      original = function () {};
      implementation = original;
    } else if (implementation !== null && typeof implementation === "object") {
      options = implementation;
      implementation = original;
    }
    if (typeof original !== "function" || typeof implementation !== "function") {
      throw new TypeError("mock.fn expects functions");
    }
    return this.#makeMock(original, implementation, options.times, undefined);
  }

  /**
   * `mock.method(object, methodName[, implementation][, options])`.
   */
  method(object, methodName, implementation = kDefault, options = {}) {
    if (implementation !== null && typeof implementation === "object") {
      options = implementation;
      implementation = kDefault;
    }
    if (object === null || (typeof object !== "object" && typeof object !== "function")) {
      throw new TypeError('The "object" argument must be an object or a function');
    }
    const { getter = false, setter = false, times } = options;
    if (getter && setter) {
      throw new TypeError("The getter and setter options cannot both be true");
    }
    let descriptor;
    for (let o = object; o !== null && !descriptor; o = Object.getPrototypeOf(o)) {
      descriptor = Object.getOwnPropertyDescriptor(o, methodName);
    }
    if (!descriptor) {
      throw new TypeError(`Cannot mock property '${String(methodName)}': it does not exist`);
    }
    const original = getter ? descriptor.get : setter ? descriptor.set : descriptor.value;
    if (typeof original !== "function") {
      throw new TypeError(`Cannot mock property '${String(methodName)}': it is not a function`);
    }
    const own = Object.getOwnPropertyDescriptor(object, methodName);
    const restore = () => {
      if (own) Object.defineProperty(object, methodName, own);
      else delete object[methodName];
    };
    const mock = this.#makeMock(
      original,
      implementation === kDefault ? original : implementation,
      times,
      restore,
    );
    const replacement = { configurable: descriptor.configurable, enumerable: descriptor.enumerable };
    if (getter) Object.assign(replacement, { get: mock, set: descriptor.set });
    else if (setter) Object.assign(replacement, { get: descriptor.get, set: mock });
    else Object.assign(replacement, { value: mock, writable: descriptor.writable });
    Object.defineProperty(object, methodName, replacement);
    return mock;
  }

  /** `mock.getter(object, name[, implementation][, options])`. */
  getter(object, methodName, implementation = kDefault, options = {}) {
    if (implementation !== null && typeof implementation === "object") {
      options = implementation;
      implementation = kDefault;
    }
    return this.method(object, methodName, implementation, { ...options, getter: true });
  }

  /** `mock.setter(object, name[, implementation][, options])`. */
  setter(object, methodName, implementation = kDefault, options = {}) {
    if (implementation !== null && typeof implementation === "object") {
      options = implementation;
      implementation = kDefault;
    }
    return this.method(object, methodName, implementation, { ...options, setter: true });
  }

  /** Restores every mock created by this tracker; they stay usable. */
  restoreAll() {
    for (const context of this.#mocks) context.restore();
  }

  /** Restores every mock and forgets them. */
  reset() {
    this.restoreAll();
    this.#mocks = [];
  }

  /** Fake timers are not implemented by this shim. */
  get timers() {
    return fakeTimersUnsupported;
  }

  #makeMock(original, implementation, times, restore) {
    const context = new MockFunctionContext(implementation, original, times, restore);
    this.#mocks.push(context);
    return new Proxy(original, {
      apply(_target, thisArg, args) {
        const fn = context.nextImplementation();
        const call = { arguments: args, error: undefined, result: undefined, stack: new Error(), target: undefined, this: thisArg };
        try {
          call.result = Reflect.apply(fn, thisArg, args);
          return call.result;
        } catch (error) {
          call.error = error;
          throw error;
        } finally {
          context.track(call);
        }
      },
      construct(_target, args, newTarget) {
        const fn = context.nextImplementation();
        const call = { arguments: args, error: undefined, result: undefined, stack: new Error(), target: newTarget, this: undefined };
        try {
          call.result = Reflect.construct(fn, args, newTarget);
          call.this = call.result;
          return call.result;
        } catch (error) {
          call.error = error;
          throw error;
        } finally {
          context.track(call);
        }
      },
      get(target, property, receiver) {
        if (property === "mock") return context;
        return Reflect.get(target, property, receiver);
      },
    });
  }
}

function unsupportedTimers() {
  throw new Error(
    "mock.timers is not supported by the webstage browser/workerd test shim (scripts/shims/node_test.js)",
  );
}

const fakeTimersUnsupported = Object.freeze({
  enable: unsupportedTimers,
  tick: unsupportedTimers,
  runAll: unsupportedTimers,
  setTime: unsupportedTimers,
  reset() {},
  [Symbol.dispose ?? Symbol.for("Symbol.dispose")]() {},
});

/** The global mock tracker. */
export const mock = new MockTracker();

// ---------------------------------------------------------------- registration

class Suite {
  constructor(name, parent, options) {
    this.name = name;
    this.parent = parent;
    this.skip = Boolean(options.skip) || Boolean(parent?.skip);
    this.todo = Boolean(options.todo) || Boolean(parent?.todo);
    this.children = [];
    this.hooks = { before: [], after: [], beforeEach: [], afterEach: [] };
    this.ready = undefined;
    this.error = undefined;
  }
  get path() {
    return this.parent ? [...this.parent.path, this.name] : [];
  }
}

class TestCase {
  constructor(name, parent, options, fn) {
    this.name = name;
    this.parent = parent;
    this.options = options;
    this.fn = fn;
  }
}

/** The suite `describe`/`it`/hooks register into; null while tests run. */
let registering = null;
/** The test whose function (or hook) is running now, for uncaught errors. */
let running = null;
/** Where results go for the current run. */
let sink = null;

function parseArgs(name, options, fn) {
  if (typeof name === "function") return [name.name || "<anonymous>", {}, name];
  if (typeof options === "function") return [String(name ?? "<anonymous>"), {}, options];
  return [String(name ?? fn?.name ?? "<anonymous>"), options ?? {}, fn];
}

function registerSuite(name, options, fn, extra) {
  [name, options, fn] = parseArgs(name, options, fn);
  options = { ...options, ...extra };
  if (!registering) {
    throw new Error(
      `describe("${name}") was called while tests were running; the shim only supports describe at module level or inside describe`,
    );
  }
  const suite = new Suite(name, registering, options);
  registering.children.push(suite);
  if (typeof fn === "function") {
    const previous = registering;
    registering = suite;
    try {
      const result = fn.call(undefined, { name, signal: new AbortController().signal });
      if (result && typeof result.then === "function") {
        suite.ready = Promise.resolve(result).then(undefined, (error) => {
          suite.error = error;
        });
      }
    } catch (error) {
      suite.error = error;
    } finally {
      registering = previous;
    }
  }
}

function registerTest(name, options, fn, extra) {
  [name, options, fn] = parseArgs(name, options, fn);
  options = { ...options, ...extra };
  if (!registering) {
    if (running) return running.test(name, options, fn);
    throw new Error(`test("${name}") was called outside of a test file being loaded`);
  }
  registering.children.push(new TestCase(name, registering, options, fn));
  return Promise.resolve();
}

function variants(register) {
  const api = (name, options, fn) => register(name, options, fn, {});
  api.skip = (name, options, fn) => register(name, options, fn, { skip: true });
  api.todo = (name, options, fn) => register(name, options, fn, { todo: true });
  api.only = (name, options, fn) => register(name, options, fn, {});
  return api;
}

/** `describe(name[, options][, fn])`. */
export const describe = variants(registerSuite);
/** Alias of {@linkcode describe}. */
export const suite = describe;
/** `it(name[, options][, fn])`. */
export const it = variants(registerTest);
/** `test(name[, options][, fn])`. */
export const test = it;

function registerHook(kind) {
  return (fn, options = {}) => {
    if (registering) registering.hooks[kind].push({ fn, options });
    else if (running) running.addHook(kind, fn, options);
    else throw new Error(`${kind}() was called outside of a test file being loaded`);
  };
}

/** Runs `fn` once before the tests of the enclosing suite (or file). */
export const before = registerHook("before");
/** Runs `fn` once after the tests of the enclosing suite (or file). */
export const after = registerHook("after");
/** Runs `fn` before each test of the enclosing suite (or file), nested suites included. */
export const beforeEach = registerHook("beforeEach");
/** Runs `fn` after each test of the enclosing suite (or file), nested suites included. */
export const afterEach = registerHook("afterEach");

// ---------------------------------------------------------------- running

class SkipSignal {
  constructor(kind, message) {
    this.kind = kind;
    this.message = message;
  }
}

/** A test that runs longer than this fails (Node's --test-timeout, as the harness sets it). */
const DEFAULT_TIMEOUT = 20_000;

function withTimeout(promise, timeout, label) {
  if (!Number.isFinite(timeout)) return promise;
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${label} timed out after ${timeout}ms`)),
        timeout,
      );
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Calls `fn(context)` or `fn(context, done)` and settles when it is finished. */
function invoke(fn, self, context, timeout, label) {
  let promise;
  if (fn.length >= 2) {
    promise = new Promise((resolve, reject) => {
      const result = fn.call(self, context, (error) => (error ? reject(error) : resolve()));
      if (result && typeof result.then === "function") {
        reject(new Error(`${label} uses a callback and also returns a promise`));
      }
    });
  } else {
    promise = new Promise((resolve) => resolve(fn.call(self, context)));
  }
  return withTimeout(promise, timeout, label);
}

/** What a test function receives as `t`. */
class TestContext {
  #controller = new AbortController();
  #path;
  #subtests = [];
  #queue = Promise.resolve();
  #beforeRan = false;
  #hooks = { before: [], after: [], beforeEach: [], afterEach: [] };
  #skip;
  #error;

  constructor(path) {
    this.#path = path;
    this.mock = new MockTracker();
  }
  /** The test's name. */
  get name() {
    return this.#path.at(-1);
  }
  /** The test's name with its suites, joined by " > ". */
  get fullName() {
    return this.#path.join(" > ");
  }
  /** Aborted when the test times out. */
  get signal() {
    return this.#controller.signal;
  }
  /** Marks the test as skipped; the rest of its function still runs. */
  skip(message) {
    this.#skip = new SkipSignal("skip", message);
  }
  /** Marks the test as todo: a failure does not count. */
  todo(message) {
    this.#skip = new SkipSignal("todo", message);
  }
  /** Records a diagnostic message (ignored). */
  diagnostic(_message) {}
  /**
   * Runs a subtest after the subtests started before it; the parent waits
   * for all of them before it ends.
   */
  test(name, options, fn) {
    [name, options, fn] = parseArgs(name, options, fn);
    const testCase = new TestCase(name, null, options, fn);
    const path = [...this.#path, name];
    const promise = this.#queue.then(async () => {
      if (!this.#beforeRan) {
        this.#beforeRan = true;
        try {
          await this.runOwnHooks("before");
        } catch (error) {
          this.fail(hookError("before", error));
        }
      }
      if (this.error !== undefined) record(path, "fail", this.error);
      else await runTest(testCase, path, [{ hooks: this.#hooks }]);
    });
    this.#queue = promise;
    this.#subtests.push(promise);
    return promise;
  }
  before(fn, options = {}) {
    this.addHook("before", fn, options);
  }
  after(fn, options = {}) {
    this.addHook("after", fn, options);
  }
  beforeEach(fn, options = {}) {
    this.addHook("beforeEach", fn, options);
  }
  afterEach(fn, options = {}) {
    this.addHook("afterEach", fn, options);
  }
  /** @internal */
  addHook(kind, fn, options) {
    this.#hooks[kind].push({ fn, options });
  }
  /** @internal */
  get subtests() {
    return this.#subtests;
  }
  /** @internal */
  get skipSignal() {
    return this.#skip;
  }
  /** @internal */
  fail(error) {
    this.#error ??= error;
  }
  /** @internal */
  get error() {
    return this.#error;
  }
  /** @internal */
  abort(reason) {
    this.#controller.abort(reason);
  }
  /** @internal */
  async runOwnHooks(kind) {
    for (const hook of this.#hooks[kind]) {
      await invoke(hook.fn, undefined, this, hook.options.timeout, `${kind} hook`);
    }
  }
}

function record(path, status, error, kind = "test") {
  sink.push({ path, status, kind, error: error === undefined ? undefined : describeError(error) });
}

function describeError(error) {
  if (error instanceof Error || (error && typeof error === "object" && "message" in error)) {
    const stack = typeof error.stack === "string" ? error.stack : "";
    const head = `${error.name ?? "Error"}: ${error.message}`;
    let text = stack.includes(error.message) ? stack : `${head}\n${stack}`;
    if (error.cause !== undefined) text += `\n[cause]: ${describeError(error.cause)}`;
    return text;
  }
  return `Uncaught non-error value: ${String(error)}`;
}

function hookError(kind, error) {
  return new Error(`failed running ${kind} hook: ${error?.message ?? error}`, { cause: error });
}

/**
 * Runs one test: the `beforeEach` hooks of `scopes` (outermost first), the
 * function, its subtests, then the `afterEach` hooks (innermost first).
 * `scopes` are suites or parent test contexts, each with `hooks`.
 */
async function runTest(testCase, path, scopes) {
  const { options, fn } = testCase;
  if (options.skip || testCase.parent?.skip) {
    record(path, "skip");
    return;
  }
  const todo = Boolean(options.todo) || Boolean(testCase.parent?.todo);
  if (typeof fn !== "function") {
    record(path, todo ? "todo" : "skip");
    return;
  }
  const context = new TestContext(path);
  const previous = running;
  running = context;
  try {
    for (const scope of scopes) {
      for (const hook of scope.hooks.beforeEach) {
        try {
          await invoke(hook.fn, undefined, context, hook.options.timeout, "beforeEach hook");
        } catch (error) {
          context.fail(hookError("beforeEach", error));
          break;
        }
      }
      if (context.error) break;
    }
    if (!context.error) {
      try {
        await invoke(fn, context, context, options.timeout ?? DEFAULT_TIMEOUT, `test "${path.at(-1)}"`);
      } catch (error) {
        context.abort(error);
        context.fail(error);
      }
    }
    // Subtests that were started and not awaited are still waited for.
    await Promise.allSettled(context.subtests);
    try {
      await context.runOwnHooks("after");
    } catch (error) {
      context.fail(hookError("after", error));
    }
    for (const scope of [...scopes].reverse()) {
      for (const hook of scope.hooks.afterEach) {
        try {
          await invoke(hook.fn, undefined, context, hook.options.timeout, "afterEach hook");
        } catch (error) {
          context.fail(hookError("afterEach", error));
        }
      }
    }
  } finally {
    running = previous;
    context.mock.reset();
  }
  const kind = context.subtests.length > 0 ? "parent" : "test";
  const skip = context.skipSignal;
  if (context.error !== undefined) {
    record(path, todo || skip?.kind === "todo" ? "todo" : "fail", context.error, kind);
  } else {
    record(path, skip ? skip.kind : todo ? "todo" : "pass", undefined, kind);
  }
}

function hasRunnableTests(suite) {
  return suite.children.some((child) =>
    child instanceof Suite
      ? hasRunnableTests(child)
      : !child.options.skip && !suite.skip && typeof child.fn === "function"
  );
}

async function runSuite(suite, scopes) {
  if (suite.ready) await suite.ready;
  const base = suite.path;
  if (suite.error !== undefined) {
    record(base.length ? base : ["<file>"], "fail", suite.error, "suite-error");
    return;
  }
  const inner = [...scopes, suite];
  const runnable = hasRunnableTests(suite);
  let beforeFailure;
  if (runnable) {
    for (const hook of suite.hooks.before) {
      try {
        await invoke(hook.fn, undefined, { name: suite.name }, hook.options.timeout, "before hook");
      } catch (error) {
        beforeFailure = hookError("before", error);
        break;
      }
    }
  }
  for (const child of suite.children) {
    if (child instanceof Suite) {
      if (beforeFailure) failAll(child, [...base, child.name], beforeFailure);
      else await runSuite(child, inner);
    } else if (beforeFailure && !child.options.skip) {
      record([...base, child.name], "fail", beforeFailure);
    } else {
      await runTest(child, [...base, child.name], inner);
    }
  }
  if (runnable) {
    for (const hook of suite.hooks.after) {
      try {
        await invoke(hook.fn, undefined, { name: suite.name }, hook.options.timeout, "after hook");
      } catch (error) {
        record(
          [...base, base.length ? "<after hook>" : "<file after hook>"],
          "fail",
          hookError("after", error),
        );
      }
    }
  }
}

function failAll(suite, path, error) {
  for (const child of suite.children) {
    if (child instanceof Suite) failAll(child, [...path, child.name], error);
    else record([...path, child.name], "fail", error);
  }
}

/**
 * Loads and runs test files one after the other.
 *
 * @param {Array<{ name: string, load: () => Promise<unknown> }>} files
 * @param {(file: string, path: string[]) => void} [onStart] told before each file runs
 * @returns {Promise<Array<{ file: string, path: string[], status: string, kind: string, error?: string }>>}
 */
export async function __webstageRun(files, onStart) {
  const results = [];
  for (const file of files) {
    onStart?.(file.name);
    const root = new Suite(undefined, null, {});
    sink = [];
    registering = root;
    try {
      await file.load();
    } catch (error) {
      record(["<load>"], "fail", error, "load-error");
    } finally {
      registering = null;
    }
    if (!sink.length) {
      try {
        await runSuite(root, []);
      } catch (error) {
        record(["<harness>"], "fail", error, "load-error");
      }
    }
    for (const entry of sink) results.push({ file: file.name, ...entry });
    sink = null;
  }
  return results;
}

/**
 * Reports an error nobody caught (an `error` or `unhandledrejection` event):
 * it fails the test running now, or else becomes a failure of its own.
 *
 * @returns {boolean} whether a running test took it
 */
export function __webstageUncaught(error) {
  if (running) {
    running.fail(error);
    return true;
  }
  return false;
}

/** Formats an error the way results carry it. */
export { describeError as __webstageDescribeError };
