// A web-platform stand-in for `node:test`, used where Node's module does not
// exist (headless Chromium, workerd). It has only what the suite uses, with
// Node's semantics, and fails loudly on anything else:
//
// - `describe`, `it` and `test`, as `(name, fn)` or `(name, { skip, timeout }, fn)`,
//   nested to any depth; `describe` bodies run at once and must be synchronous.
// - `beforeEach`/`afterEach` in a suite or at the top of a file (outer
//   `beforeEach` first, inner `afterEach` first; `afterEach` runs even when
//   the test failed).
// - async tests; a test function receives `{ name, signal }`.
// - `mock.fn([implementation])` with `mock.callCount()` and
//   `mock.calls[i].arguments / result / error / this`.
//
// Absent (a missing export, a TypeError or an error when used): `before`/`after`,
// `.skip`/`.todo`/`.only`, callback tests, subtests, `t.mock`, `mock.method`,
// `mock.timers`, other test options. Add them here when a test needs them.
//
// The harness drives it through `__webstageRun` and `__webstageUncaught`.

// ---------------------------------------------------------------- mock.fn

/** `mock.fn(implementation)`: a function that records its calls in `.mock`. */
function fn(implementation = function () {}) {
  if (typeof implementation !== "function") {
    throw new TypeError("mock.fn in the webstage test shim takes one function");
  }
  const calls = [];
  const context = {
    get calls() {
      return calls.slice();
    },
    callCount: () => calls.length,
  };
  return new Proxy(implementation, {
    apply(target, thisArg, args) {
      const call = { arguments: args, result: undefined, error: undefined, this: thisArg };
      try {
        call.result = Reflect.apply(target, thisArg, args);
        return call.result;
      } catch (error) {
        call.error = error;
        throw error;
      } finally {
        calls.push(Object.freeze(call));
      }
    },
    get(target, property, receiver) {
      return property === "mock" ? context : Reflect.get(target, property, receiver);
    },
  });
}

/** The global mock tracker: `mock.fn` only. */
export const mock = Object.freeze({ fn });

// ---------------------------------------------------------------- registration

const OPTIONS = new Set(["skip", "timeout"]);

class Suite {
  constructor(name, parent) {
    this.name = name;
    this.parent = parent;
    this.children = [];
    this.hooks = { beforeEach: [], afterEach: [] };
    this.error = undefined;
  }
  get path() {
    return this.parent ? [...this.parent.path, this.name] : [];
  }
}

/** The suite `describe`/`it`/hooks register into; null while tests run. */
let registering = null;
/** The test whose function (or hook) is running now, for uncaught errors. */
let running = null;
/** Where results go for the current run. */
let sink = null;

function parseArgs(kind, name, options, fn) {
  if (typeof options === "function") [options, fn] = [{}, options];
  if (typeof name !== "string" || typeof fn !== "function") {
    throw new TypeError(`${kind}() in the webstage test shim takes (name, [options,] fn)`);
  }
  const unknown = Object.keys(options ?? {}).filter((key) => !OPTIONS.has(key));
  if (unknown.length > 0) {
    throw new TypeError(`${kind}("${name}"): the webstage test shim has no option ${unknown}`);
  }
  if (fn.length > 1) {
    throw new TypeError(`${kind}("${name}"): the webstage test shim has no callback tests`);
  }
  if (!registering) {
    throw new Error(`${kind}("${name}") must be called while a test file is loading`);
  }
  return [name, options ?? {}, fn];
}

/** `describe(name[, options], fn)`. */
export function describe(name, options, fn) {
  [name, options, fn] = parseArgs("describe", name, options, fn);
  const suite = new Suite(name, registering);
  suite.skip = Boolean(options.skip) || Boolean(registering.skip);
  registering.children.push(suite);
  const previous = registering;
  registering = suite;
  try {
    const result = fn();
    if (result && typeof result.then === "function") {
      throw new TypeError(`describe("${name}") must be synchronous in the webstage test shim`);
    }
  } catch (error) {
    suite.error = error;
  } finally {
    registering = previous;
  }
}

/** `it(name[, options], fn)`. */
export function it(name, options, fn) {
  [name, options, fn] = parseArgs("it", name, options, fn);
  registering.children.push({ name, options, fn, parent: registering });
}

/** `test(name[, options], fn)`: the same as {@linkcode it}. */
export function test(name, options, fn) {
  it(name, options, fn);
}

function registerHook(kind) {
  return (fn) => {
    if (typeof fn !== "function") throw new TypeError(`${kind}() takes a function`);
    if (!registering) throw new Error(`${kind}() must be called while a test file is loading`);
    registering.hooks[kind].push(fn);
  };
}

/** Runs `fn` before each test of the enclosing suite (or file), nested suites included. */
export const beforeEach = registerHook("beforeEach");
/** Runs `fn` after each test of the enclosing suite (or file), nested suites included. */
export const afterEach = registerHook("afterEach");

// ---------------------------------------------------------------- running

/** A test that runs longer than this fails (Node's --test-timeout, as the harness sets it). */
const DEFAULT_TIMEOUT = 20_000;

/** Calls `fn(context)`, failing after `timeout` ms (aborting `controller`). */
function invoke(fn, context, controller, timeout, label) {
  let timer;
  return Promise.race([
    new Promise((resolve) => resolve(fn.call(undefined, context))),
    new Promise((_, reject) => {
      timer = setTimeout(() => {
        const error = new Error(`${label} timed out after ${timeout}ms`);
        controller.abort(error);
        reject(error);
      }, timeout);
    }),
  ]).finally(() => clearTimeout(timer));
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

/**
 * Runs one test: the `beforeEach` hooks of `scopes` (outermost first), the
 * function, then the `afterEach` hooks (innermost first).
 */
async function runTest(testCase, path, scopes) {
  if (testCase.options.skip || testCase.parent.skip) {
    record(path, "skip");
    return;
  }
  const controller = new AbortController();
  const context = { name: testCase.name, signal: controller.signal };
  const state = { error: undefined, fail: (error) => void (state.error ??= error) };
  const previous = running;
  running = state;
  const timeout = testCase.options.timeout ?? DEFAULT_TIMEOUT;
  const hook = (fn, kind) => invoke(fn, context, controller, timeout, `${kind} hook`);
  try {
    beforeHooks: for (const scope of scopes) {
      for (const fn of scope.hooks.beforeEach) {
        try {
          await hook(fn, "beforeEach");
        } catch (error) {
          state.fail(new Error(`failed running beforeEach hook: ${error?.message}`, { cause: error }));
          break beforeHooks;
        }
      }
    }
    if (state.error === undefined) {
      try {
        await invoke(testCase.fn, context, controller, timeout, `test "${testCase.name}"`);
      } catch (error) {
        state.fail(error);
      }
    }
    for (const scope of [...scopes].reverse()) {
      for (const fn of scope.hooks.afterEach) {
        try {
          await hook(fn, "afterEach");
        } catch (error) {
          state.fail(new Error(`failed running afterEach hook: ${error?.message}`, { cause: error }));
        }
      }
    }
  } finally {
    running = previous;
  }
  record(path, state.error === undefined ? "pass" : "fail", state.error);
}

async function runSuite(suite, scopes) {
  const base = suite.path;
  if (suite.error !== undefined) {
    record(base.length ? base : ["<file>"], "fail", suite.error, "suite-error");
    return;
  }
  const inner = [...scopes, suite];
  for (const child of suite.children) {
    if (child instanceof Suite) await runSuite(child, inner);
    else await runTest(child, [...base, child.name], inner);
  }
}

/**
 * Loads and runs test files one after the other.
 *
 * @param {Array<{ name: string, load: () => Promise<unknown> }>} files
 * @param {(file: string) => void} [onStart] told before each file runs
 * @returns {Promise<Array<{ file: string, path: string[], status: string, kind: string, error?: string }>>}
 */
export async function __webstageRun(files, onStart) {
  const results = [];
  for (const file of files) {
    onStart?.(file.name);
    const root = new Suite(undefined, null);
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
