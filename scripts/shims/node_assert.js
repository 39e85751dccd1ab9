// A web-platform stand-in for `node:assert/strict`, used where Node's module
// does not exist (headless Chromium, workerd). It implements the subset the
// test suite uses with Node's strict semantics: `equal` is `Object.is`,
// `deepEqual` is `deepStrictEqual` (prototypes, own enumerable keys and
// symbols, Map/Set contents, Date/RegExp/Error/boxed primitives, typed
// arrays, cycles), and `throws`/`rejects` validate a class, a RegExp, a
// validation function, an object of expected properties or an Error instance
// the way Node does. Messages differ from Node's; never assert on them.

/** Thrown by every failed assertion, like Node's `assert.AssertionError`. */
export class AssertionError extends Error {
  /**
   * @param {{ message?: string | Error, actual?: unknown, expected?: unknown, operator?: string }} options
   */
  constructor(options) {
    const generated = options.message === undefined;
    super(
      generated
        ? defaultMessage(options.actual, options.expected, options.operator)
        : String(options.message),
    );
    this.name = "AssertionError";
    this.code = "ERR_ASSERTION";
    this.actual = options.actual;
    this.expected = options.expected;
    this.operator = options.operator;
    this.generatedMessage = generated;
  }
}

function defaultMessage(actual, expected, operator) {
  switch (operator) {
    case "==":
    case "strictEqual":
      return `Expected values to be strictly equal:\n\n${inspect(actual)} !== ${
        inspect(expected)
      }\n`;
    case "notStrictEqual":
      return `Expected "actual" to be strictly unequal to: ${inspect(expected)}`;
    case "deepStrictEqual":
      return `Expected values to be strictly deep-equal:\n+ actual - expected\n\n+ ${
        inspect(actual)
      }\n- ${inspect(expected)}\n`;
    case "notDeepStrictEqual":
      return `Expected "actual" not to be strictly deep-equal to: ${inspect(expected)}`;
    case "fail":
      return "Failed";
    default:
      return `${inspect(actual)} ${operator} ${inspect(expected)}`;
  }
}

/**
 * Raises an AssertionError, or rethrows `message` when it is an Error, as
 * Node does for every assertion's optional message argument.
 */
function raise(message, actual, expected, operator) {
  if (message instanceof Error) throw message;
  throw new AssertionError({ message, actual, expected, operator });
}

// ---------------------------------------------------------------- inspect

/**
 * A short, readable rendering of a value for failure messages.
 *
 * @param {unknown} value
 * @returns {string}
 */
export function inspect(value, depth = 0, seen = new Set()) {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "bigint":
      return `${value}n`;
    case "symbol":
      return value.toString();
    case "function":
      return `[Function: ${value.name || "(anonymous)"}]`;
    case "number":
      return Object.is(value, -0) ? "-0" : String(value);
    case "undefined":
      return "undefined";
    case "boolean":
      return String(value);
  }
  if (value === null) return "null";
  if (seen.has(value)) return "[Circular]";
  if (depth > 4) return Array.isArray(value) ? "[Array]" : "[Object]";
  seen.add(value);
  try {
    const next = (v) => inspect(v, depth + 1, seen);
    if (value instanceof Error) {
      return `${value.name}: ${value.message}`;
    }
    if (value instanceof Date) return `Date(${value.toISOString?.() ?? "Invalid"})`;
    if (value instanceof RegExp) return String(value);
    if (Array.isArray(value)) {
      const items = value.slice(0, 50).map(next);
      if (value.length > 50) items.push(`... ${value.length - 50} more items`);
      return `[ ${items.join(", ")} ]`;
    }
    if (value instanceof Map) {
      const items = [...value].slice(0, 50).map(([k, v]) => `${next(k)} => ${next(v)}`);
      return `Map(${value.size}) { ${items.join(", ")} }`;
    }
    if (value instanceof Set) {
      return `Set(${value.size}) { ${[...value].slice(0, 50).map(next).join(", ")} }`;
    }
    if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
      return `${value.constructor.name}(${value.length}) [ ${
        Array.from(value).slice(0, 50).join(", ")
      } ]`;
    }
    if (typeof value.then === "function") return "Promise { ... }";
    const proto = Object.getPrototypeOf(value);
    const prefix = proto === null
      ? "[Object: null prototype] "
      : proto === Object.prototype
      ? ""
      : `${proto.constructor?.name ?? "Object"} `;
    const entries = ownKeys(value).map((k) =>
      `${typeof k === "symbol" ? `[${k.toString()}]` : k}: ${next(value[k])}`
    );
    return `${prefix}{ ${entries.join(", ")} }`;
  } finally {
    seen.delete(value);
  }
}

function ownKeys(object) {
  return Reflect.ownKeys(object).filter((key) =>
    Object.prototype.propertyIsEnumerable.call(object, key)
  );
}

// ---------------------------------------------------------------- deep equality

const tagOf = (value) => Object.prototype.toString.call(value);

/**
 * Node's `isDeepStrictEqual`.
 *
 * @param {unknown} a
 * @param {unknown} b
 * @returns {boolean}
 */
export function isDeepStrictEqual(a, b) {
  return deepEqualInner(a, b, new Map());
}

function deepEqualInner(a, b, memo) {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) {
    return false;
  }
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (tagOf(a) !== tagOf(b)) return false;

  // Cycles: a pair already under comparison is assumed equal.
  let seen = memo.get(a);
  if (seen?.has(b)) return true;
  if (!seen) memo.set(a, seen = new Set());
  seen.add(b);

  if (Array.isArray(a)) {
    if (a.length !== b.length) return false;
  } else if (a instanceof Date) {
    if (!Object.is(a.getTime(), b.getTime())) return false;
  } else if (a instanceof RegExp) {
    if (a.source !== b.source || a.flags !== b.flags || a.lastIndex !== b.lastIndex) {
      return false;
    }
  } else if (a instanceof Error) {
    if (a.message !== b.message || a.name !== b.name) return false;
    if (("cause" in a || "cause" in b) && !deepEqualInner(a.cause, b.cause, memo)) {
      return false;
    }
  } else if (ArrayBuffer.isView(a)) {
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    if (x.length !== y.length) return false;
    if (a instanceof Float32Array || a instanceof Float64Array) {
      for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
    } else {
      for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    }
  } else if (a instanceof ArrayBuffer) {
    if (a.byteLength !== b.byteLength) return false;
    const x = new Uint8Array(a);
    const y = new Uint8Array(b);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  } else if (
    a instanceof Number || a instanceof String || a instanceof Boolean ||
    a instanceof BigInt || a instanceof Symbol
  ) {
    if (!Object.is(a.valueOf(), b.valueOf())) return false;
  } else if (a instanceof Map) {
    if (a.size !== b.size || !mapsEqual(a, b, memo)) return false;
  } else if (a instanceof Set) {
    if (a.size !== b.size || !setsEqual(a, b, memo)) return false;
  } else if (
    a instanceof WeakMap || a instanceof WeakSet || a instanceof Promise ||
    (typeof WeakRef === "function" && a instanceof WeakRef)
  ) {
    return false; // not comparable by content: only the same object is equal
  }

  const keysA = ownKeys(a);
  const keysB = ownKeys(b);
  if (keysA.length !== keysB.length) return false;
  for (const key of keysA) {
    if (!Object.prototype.propertyIsEnumerable.call(b, key)) return false;
    if (!deepEqualInner(a[key], b[key], memo)) return false;
  }
  return true;
}

function isPrimitiveKey(value) {
  return value === null || (typeof value !== "object" && typeof value !== "function");
}

function setsEqual(a, b, memo) {
  const pending = [];
  for (const value of a) {
    if (b.has(value)) continue;
    if (isPrimitiveKey(value)) return false;
    pending.push(value);
  }
  if (pending.length === 0) return true;
  const candidates = [...b].filter((value) => !isPrimitiveKey(value) && !a.has(value));
  for (const value of pending) {
    const index = candidates.findIndex((other) => deepEqualInner(value, other, memo));
    if (index === -1) return false;
    candidates.splice(index, 1);
  }
  return true;
}

function mapsEqual(a, b, memo) {
  const pending = [];
  for (const [key, value] of a) {
    if (b.has(key)) {
      if (!deepEqualInner(value, b.get(key), memo)) return false;
    } else if (isPrimitiveKey(key)) {
      return false;
    } else {
      pending.push([key, value]);
    }
  }
  if (pending.length === 0) return true;
  const candidates = [...b].filter(([key]) => !isPrimitiveKey(key) && !a.has(key));
  for (const [key, value] of pending) {
    const index = candidates.findIndex(([otherKey, otherValue]) =>
      deepEqualInner(key, otherKey, memo) && deepEqualInner(value, otherValue, memo)
    );
    if (index === -1) return false;
    candidates.splice(index, 1);
  }
  return true;
}

// ---------------------------------------------------------------- assertions

/** Asserts that `value` is truthy. */
export function ok(value, message) {
  if (arguments.length === 0) {
    raise("No value argument passed to `assert.ok()`", undefined, true, "==");
  }
  if (!value) {
    raise(
      message ?? `The expression evaluated to a falsy value:\n\n  assert.ok(${inspect(value)})\n`,
      value,
      true,
      "==",
    );
  }
}

/** Asserts `Object.is(actual, expected)`. */
export function strictEqual(actual, expected, message) {
  if (!Object.is(actual, expected)) raise(message, actual, expected, "strictEqual");
}

/** Asserts `!Object.is(actual, expected)`. */
export function notStrictEqual(actual, expected, message) {
  if (Object.is(actual, expected)) raise(message, actual, expected, "notStrictEqual");
}

/** Asserts that `actual` and `expected` are deeply and strictly equal. */
export function deepStrictEqual(actual, expected, message) {
  if (!isDeepStrictEqual(actual, expected)) {
    raise(message, actual, expected, "deepStrictEqual");
  }
}

/** Asserts that `actual` and `expected` are not deeply and strictly equal. */
export function notDeepStrictEqual(actual, expected, message) {
  if (isDeepStrictEqual(actual, expected)) {
    raise(message, actual, expected, "notDeepStrictEqual");
  }
}

/** Throws an AssertionError with `message` (or rethrows it if it is an Error). */
export function fail(message = "Failed") {
  if (message instanceof Error) throw message;
  throw new AssertionError({ message, operator: "fail" });
}

/** Throws `value` if it is neither `undefined` nor `null`. */
export function ifError(value) {
  if (value === null || value === undefined) return;
  if (value instanceof Error) throw value;
  raise(`ifError got unwanted exception: ${inspect(value)}`, value, null, "ifError");
}

/** Asserts that `string` matches `regexp`. */
export function match(string, regexp, message) {
  if (!(regexp instanceof RegExp)) {
    throw new TypeError('The "regexp" argument must be an instance of RegExp');
  }
  if (typeof string !== "string" || !regexp.test(string)) {
    raise(
      message ??
        (typeof string !== "string"
          ? `The "string" argument must be of type string. Received ${inspect(string)}`
          : `The input did not match the regular expression ${regexp}. Input:\n\n${
            inspect(string)
          }\n`),
      string,
      regexp,
      "match",
    );
  }
}

/** Asserts that `string` does not match `regexp`. */
export function doesNotMatch(string, regexp, message) {
  if (!(regexp instanceof RegExp)) {
    throw new TypeError('The "regexp" argument must be an instance of RegExp');
  }
  if (typeof string !== "string" || regexp.test(string)) {
    raise(
      message ??
        `The input was expected to not match the regular expression ${regexp}. Input:\n\n${
          inspect(string)
        }\n`,
      string,
      regexp,
      "doesNotMatch",
    );
  }
}

const NO_EXCEPTION = Symbol("no exception");

/**
 * Checks a thrown or rejected value against `expected` the way Node does:
 * a RegExp tests `String(actual)`; a class requires `instanceof`; another
 * function is a validator that must return `true`; an object (or an Error
 * instance) requires each of its own keys (plus `name` and `message` for an
 * Error) to deep-equal the same key of `actual`, RegExp values testing
 * string properties.
 */
function validateError(actual, expected, message, operator) {
  if (expected === undefined) return;
  if (expected instanceof RegExp) {
    if (expected.test(String(actual))) return;
    raise(
      message ??
        `The input did not match the regular expression ${expected}. Input:\n\n${
          inspect(String(actual))
        }\n`,
      actual,
      expected,
      operator,
    );
  }
  if (typeof expected === "function") {
    if (expected.prototype !== undefined && actual instanceof expected) return;
    if (Error.isPrototypeOf(expected) || expected === Error) {
      raise(
        message ??
          `The error is expected to be an instance of "${expected.name}". Received "${
            actual?.constructor?.name ?? inspect(actual)
          }"\n\nError message:\n\n${actual?.message ?? inspect(actual)}`,
        actual,
        expected,
        operator,
      );
    }
    const result = expected.call({}, actual);
    if (result !== true) {
      raise(
        message ??
          `The ${
            expected.name ? `"${expected.name}" validation function` : "validation function"
          } is expected to return "true". Received ${inspect(result)}\n\nCaught error:\n\n${
            inspect(actual)
          }`,
        actual,
        expected,
        operator,
      );
    }
    return;
  }
  if (typeof expected === "object" && expected !== null) {
    const keys = ownKeys(expected);
    if (expected instanceof Error) keys.push("name", "message");
    if (keys.length === 0) {
      throw new TypeError(`The "error" argument may not be an empty object`);
    }
    for (const key of keys) {
      const want = expected[key];
      const have = actual?.[key];
      if (
        want instanceof RegExp && typeof have === "string" ? want.test(have) : (
          actual !== null && (typeof actual === "object" || typeof actual === "function") &&
          key in actual && isDeepStrictEqual(have, want)
        )
      ) continue;
      raise(
        message ??
          `Expected values to be strictly deep-equal on property "${String(key)}":\n+ actual - expected\n\n+ ${
            inspect(have)
          }\n- ${inspect(want)}\n`,
        actual,
        expected,
        operator,
      );
    }
    return;
  }
  throw new TypeError(
    `The "expected" argument must be a RegExp, a function, an object or an Error instance. Received ${
      inspect(expected)
    }`,
  );
}

function splitExpected(expected, message) {
  if (typeof expected === "string") return [undefined, expected];
  return [expected, message];
}

/** Asserts that `fn` throws, and that the thrown value matches `expected`. */
export function throws(fn, expected, message) {
  if (typeof fn !== "function") {
    throw new TypeError(`The "fn" argument must be of type function. Received ${inspect(fn)}`);
  }
  [expected, message] = splitExpected(expected, message);
  let actual = NO_EXCEPTION;
  try {
    fn();
  } catch (error) {
    actual = error;
  }
  if (actual === NO_EXCEPTION) {
    raise(
      message ?? `Missing expected exception${expected?.name ? ` (${expected.name})` : ""}.`,
      undefined,
      expected,
      "throws",
    );
  }
  validateError(actual, expected, message, "throws");
}

/** Asserts that `fn` does not throw. */
export function doesNotThrow(fn, expected, message) {
  [expected, message] = splitExpected(expected, message);
  try {
    fn();
  } catch (error) {
    raise(
      message ?? `Got unwanted exception.\nActual message: "${error?.message ?? error}"`,
      error,
      expected,
      "doesNotThrow",
    );
  }
}

async function settle(promiseOrFn) {
  let promise = promiseOrFn;
  if (typeof promiseOrFn === "function") {
    promise = promiseOrFn();
    if (promise === null || typeof promise?.then !== "function") {
      throw new TypeError(
        `Expected instance of Promise to be returned from the "promiseFn" function but got ${inspect(promise)}.`,
      );
    }
  } else if (promise === null || typeof promise?.then !== "function") {
    throw new TypeError(
      `The "promiseFn" argument must be of type function or an instance of Promise. Received ${
        inspect(promise)
      }`,
    );
  }
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return NO_EXCEPTION;
}

/** Awaits `promiseOrFn` and asserts that it rejects with a value matching `expected`. */
export async function rejects(promiseOrFn, expected, message) {
  [expected, message] = splitExpected(expected, message);
  const actual = await settle(promiseOrFn);
  if (actual === NO_EXCEPTION) {
    raise(
      message ?? `Missing expected rejection${expected?.name ? ` (${expected.name})` : ""}.`,
      undefined,
      expected,
      "rejects",
    );
  }
  validateError(actual, expected, message, "rejects");
}

/** Awaits `promiseOrFn` and asserts that it does not reject. */
export async function doesNotReject(promiseOrFn, expected, message) {
  [expected, message] = splitExpected(expected, message);
  const actual = await settle(promiseOrFn);
  if (actual !== NO_EXCEPTION) {
    raise(
      message ?? `Got unwanted rejection.\nActual message: "${actual?.message ?? actual}"`,
      actual,
      expected,
      "doesNotReject",
    );
  }
}

/** `node:assert/strict`'s default export: `ok` with every assertion attached. */
function assert(value, message) {
  if (arguments.length === 0) ok();
  ok(value, message);
}

export {
  deepStrictEqual as deepEqual,
  notDeepStrictEqual as notDeepEqual,
  notStrictEqual as notEqual,
  strictEqual as equal,
};

Object.assign(assert, {
  AssertionError,
  deepEqual: deepStrictEqual,
  deepStrictEqual,
  doesNotMatch,
  doesNotReject,
  doesNotThrow,
  equal: strictEqual,
  fail,
  ifError,
  match,
  notDeepEqual: notDeepStrictEqual,
  notDeepStrictEqual,
  notEqual: notStrictEqual,
  notStrictEqual,
  ok,
  rejects,
  strictEqual,
  throws,
});
assert.strict = assert;

export { assert as strict };
export default assert;
