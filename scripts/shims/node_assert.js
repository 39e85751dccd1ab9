// A web-platform stand-in for `node:assert/strict`, used where Node's module
// does not exist (headless Chromium, workerd). It has only what the suite
// uses, with Node's strict semantics: `ok`, `equal` (`Object.is`), `notEqual`,
// `deepEqual` (`deepStrictEqual` over primitives, arrays, objects, Map, Set,
// Error, Date and RegExp; other built-ins with hidden state throw rather than
// pass), `fail`, `match`, `doesNotMatch`, and `throws`/`rejects` checking a class, a
// validation function, a RegExp or an object of expected properties (RegExp
// values test strings). Messages differ from Node's; never assert on them.

/** Thrown by every failed assertion, like Node's `assert.AssertionError`. */
export class AssertionError extends Error {
  /** @param {{ message?: string, actual?: unknown, expected?: unknown, operator?: string }} options */
  constructor(options) {
    super(
      options.message ??
        `${inspect(options.actual)} ${options.operator} ${inspect(options.expected)}`,
    );
    this.name = "AssertionError";
    this.code = "ERR_ASSERTION";
    this.actual = options.actual;
    this.expected = options.expected;
    this.operator = options.operator;
  }
}

/** Raises an AssertionError, or rethrows `message` when it is an Error, as Node does. */
function raise(message, actual, expected, operator) {
  if (message instanceof Error) throw message;
  throw new AssertionError({ message, actual, expected, operator });
}

/** A short rendering of a value for failure messages. */
function inspect(value, depth = 0) {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "function") return `[Function: ${value.name || "(anonymous)"}]`;
  if (typeof value !== "object" || value === null) {
    return Object.is(value, -0) ? "-0" : String(value);
  }
  if (depth > 3) return Array.isArray(value) ? "[Array]" : "[Object]";
  const next = (v) => inspect(v, depth + 1);
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  if (Array.isArray(value)) {
    const items = value.slice(0, 50).map(next);
    if (value.length > 50) items.push(`... ${value.length - 50} more items`);
    return `[ ${items.join(", ")} ]`;
  }
  if (value instanceof Map) {
    return `Map(${value.size}) { ${[...value].map(([k, v]) => `${next(k)} => ${next(v)}`)} }`;
  }
  if (value instanceof Set) return `Set(${value.size}) { ${[...value].map(next).join(", ")} }`;
  const entries = ownKeys(value).map((k) => `${String(k)}: ${next(value[k])}`);
  return `${value.constructor?.name ?? "Object"} { ${entries.join(", ")} }`;
}

function ownKeys(object) {
  return Reflect.ownKeys(object).filter((key) =>
    Object.prototype.propertyIsEnumerable.call(object, key)
  );
}

// ---------------------------------------------------------------- deep equality

const tagOf = (value) => Object.prototype.toString.call(value);

/** Built-ins whose content is not in their own keys; compared by kind below or refused. */
const OPAQUE = ["[object Promise]", "[object WeakMap]", "[object WeakSet]", "[object WeakRef]"];

function deepEqual(a, b, memo = new Map()) {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b) || tagOf(a) !== tagOf(b)) {
    return false;
  }
  // Cycles: a pair already under comparison is taken as equal.
  let seen = memo.get(a);
  if (seen?.has(b)) return true;
  if (!seen) memo.set(a, seen = new Set());
  seen.add(b);

  if (OPAQUE.includes(tagOf(a))) return false; // only the same object is equal
  if (a instanceof Date) {
    if (!Object.is(a.getTime(), b.getTime())) return false;
  } else if (a instanceof RegExp) {
    if (String(a) !== String(b) || a.lastIndex !== b.lastIndex) return false;
  } else if (a instanceof Error) {
    if (a.message !== b.message || a.name !== b.name) return false;
    if (("cause" in a || "cause" in b) && !deepEqual(a.cause, b.cause, memo)) return false;
  } else if (a instanceof Map) {
    if (a.size !== b.size) return false;
    for (const [key, value] of a) {
      if (typeof key === "object" && key !== null) throw unsupported("Map keys that are objects");
      if (!b.has(key) || !deepEqual(value, b.get(key), memo)) return false;
    }
  } else if (a instanceof Set) {
    if (a.size !== b.size) return false;
    const rest = [...b].filter((value) => !a.has(value));
    for (const value of a) {
      if (b.has(value)) continue;
      const index = rest.findIndex((other) => deepEqual(value, other, memo));
      if (index === -1) return false;
      rest.splice(index, 1);
    }
  } else if (Array.isArray(a)) {
    if (a.length !== b.length) return false;
  } else if (
    tagOf(a) !== "[object Object]" && !(ArrayBuffer.isView(a) && !(a instanceof DataView))
  ) {
    throw unsupported(tagOf(a));
  }
  const keysA = ownKeys(a), keysB = ownKeys(b);
  if (keysA.length !== keysB.length) return false;
  for (const key of keysA) {
    if (!Object.prototype.propertyIsEnumerable.call(b, key)) return false;
    if (!deepEqual(a[key], b[key], memo)) return false;
  }
  return true;
}

function unsupported(what) {
  return new TypeError(`deepEqual in the webstage test shim cannot compare ${what}`);
}

// ---------------------------------------------------------------- assertions

/** Asserts that `value` is truthy. */
export function ok(value, message) {
  if (!value) raise(message ?? `The expression evaluated to a falsy value`, value, true, "==");
}

/** Asserts `Object.is(actual, expected)`. */
export function equal(actual, expected, message) {
  if (!Object.is(actual, expected)) raise(message, actual, expected, "strictEqual");
}

/** Asserts `!Object.is(actual, expected)`. */
export function notEqual(actual, expected, message) {
  if (Object.is(actual, expected)) raise(message, actual, expected, "notStrictEqual");
}

/** Asserts that `actual` and `expected` are deeply and strictly equal. */
function deepStrictEqual(actual, expected, message) {
  if (!deepEqual(actual, expected)) raise(message, actual, expected, "deepStrictEqual");
}
export { deepStrictEqual as deepEqual };

/** Asserts that `actual` and `expected` are not deeply and strictly equal. */
function notDeepStrictEqual(actual, expected, message) {
  if (deepEqual(actual, expected)) raise(message, actual, expected, "notDeepStrictEqual");
}
export { notDeepStrictEqual as notDeepEqual };

/** Throws an AssertionError with `message` (or rethrows it if it is an Error). */
export function fail(message = "Failed") {
  raise(message, undefined, undefined, "fail");
}

/** Asserts that `string` matches `regexp`. */
export function match(string, regexp, message) {
  if (!(regexp instanceof RegExp)) throw new TypeError('The "regexp" argument must be a RegExp');
  if (typeof string !== "string" || !regexp.test(string)) {
    raise(message ?? `${inspect(string)} does not match ${regexp}`, string, regexp, "match");
  }
}

/** Asserts that `string` does not match `regexp`. */
export function doesNotMatch(string, regexp, message) {
  if (!(regexp instanceof RegExp)) throw new TypeError('The "regexp" argument must be a RegExp');
  if (typeof string !== "string" || regexp.test(string)) {
    raise(message ?? `${inspect(string)} matches ${regexp}`, string, regexp, "doesNotMatch");
  }
}

const NO_EXCEPTION = Symbol("no exception");

/**
 * Checks a thrown or rejected value against `expected` as Node does: a class
 * requires `instanceof`; another function is a validator that must return
 * `true`; a RegExp tests `String(actual)`; an object requires each of its own
 * keys to deep-equal the same key of `actual`, RegExp values testing strings.
 */
function validateError(actual, expected, message, operator) {
  if (expected === undefined) return;
  if (expected instanceof RegExp) {
    if (!expected.test(String(actual))) {
      raise(message ?? `${inspect(String(actual))} does not match ${expected}`, actual, expected, operator);
    }
  } else if (typeof expected === "function") {
    if (expected.prototype !== undefined && actual instanceof expected) return;
    if (expected === Error || Error.isPrototypeOf(expected)) {
      raise(message ?? `Expected an instance of ${expected.name}: got ${inspect(actual)}`, actual, expected, operator);
    }
    const result = expected.call({}, actual);
    if (result !== true) {
      raise(message ?? `The validation function returned ${inspect(result)} for ${inspect(actual)}`, actual, expected, operator);
    }
  } else if (typeof expected === "object" && expected !== null) {
    const keys = ownKeys(expected);
    if (keys.length === 0) throw new TypeError(`The "error" argument may not be an empty object`);
    for (const key of keys) {
      const want = expected[key], have = actual?.[key];
      const same = want instanceof RegExp && typeof have === "string"
        ? want.test(have)
        : actual !== null && (typeof actual === "object" || typeof actual === "function") &&
          key in actual && deepEqual(have, want);
      if (!same) {
        raise(
          message ?? `Property "${String(key)}" is ${inspect(have)}, expected ${inspect(want)}`,
          actual,
          expected,
          operator,
        );
      }
    }
  } else {
    throw new TypeError(`The "expected" argument must be a RegExp, a function or an object`);
  }
}

/** `(fn, message)` means no expected value, as in Node. */
function splitExpected(expected, message) {
  return typeof expected === "string" ? [undefined, expected] : [expected, message];
}

/** Asserts that `fn` throws, and that the thrown value matches `expected`. */
export function throws(fn, expected, message) {
  if (typeof fn !== "function") throw new TypeError('The "fn" argument must be a function');
  [expected, message] = splitExpected(expected, message);
  let actual = NO_EXCEPTION;
  try {
    fn();
  } catch (error) {
    actual = error;
  }
  if (actual === NO_EXCEPTION) raise(message ?? "Missing expected exception.", undefined, expected, "throws");
  validateError(actual, expected, message, "throws");
}

/** Awaits `promiseOrFn` (a promise or a function returning one) and asserts that it rejects with a value matching `expected`. */
export async function rejects(promiseOrFn, expected, message) {
  [expected, message] = splitExpected(expected, message);
  const promise = typeof promiseOrFn === "function" ? promiseOrFn() : promiseOrFn;
  if (typeof promise?.then !== "function") {
    throw new TypeError(`rejects() needs a promise or a function returning one: got ${inspect(promise)}`);
  }
  let actual = NO_EXCEPTION;
  try {
    await promise;
  } catch (error) {
    actual = error;
  }
  if (actual === NO_EXCEPTION) raise(message ?? "Missing expected rejection.", undefined, expected, "rejects");
  validateError(actual, expected, message, "rejects");
}

/** `node:assert/strict`'s default export: `ok` with every assertion attached. */
function assert(value, message) {
  ok(value, message);
}

Object.assign(assert, {
  AssertionError,
  deepEqual: deepStrictEqual,
  doesNotMatch,
  equal,
  fail,
  match,
  notDeepEqual: notDeepStrictEqual,
  notEqual,
  ok,
  rejects,
  throws,
});
assert.strict = assert;

export { assert as strict };
export default assert;
