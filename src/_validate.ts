// Option validation shared by every public entry point. Each helper throws a
// TypeError (wrong type or shape) or a RangeError (number out of range) whose
// message reads: `Cannot <action> as <name> must be <rule>: current value is <value>`.

/**
 * The largest `maxDemand` (and stream `highWaterMark`): 2³² − 1, the most
 * elements an array holds, so a batch of that demand can exist. Far larger
 * values would also lose precision once added up.
 */
export const MAX_DEMAND: number = 2 ** 32 - 1;

/** Renders a rejected value for an error message. */
export function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return `function ${value.name || "(anonymous)"}`;
  if (typeof value === "symbol" || typeof value === "bigint") return String(value);
  if (Array.isArray(value)) return `array of length ${value.length}`;
  if (value !== null && typeof value === "object") {
    const name = (value as { constructor?: { name?: string } }).constructor?.name;
    return name && name !== "Object" ? `an instance of ${name}` : "an object";
  }
  return String(value);
}

/** Builds the error message for a rule that `value` broke. */
export function message(action: string, name: string, rule: string, value: unknown): string {
  return `Cannot ${action} as ${name} must be ${rule}: current value is ${show(value)}`;
}

/** Checks that `value` is an integer ≥ `min` (or `Infinity` when `infinite`). */
export function integer(
  action: string,
  name: string,
  value: unknown,
  min: number,
  max: number = Infinity,
  infinite: boolean = false,
): number {
  if (typeof value !== "number") {
    throw new TypeError(message(action, name, "a number", value));
  }
  if (infinite && value === Infinity) return value;
  const rule = max === Infinity
    ? `an integer >= ${min}${infinite ? " or Infinity" : ""}`
    : `an integer in [${min}, ${max}]`;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(message(action, name, rule, value));
  }
  return value;
}

/** Checks that `value` is one of `allowed` (strings, as WebIDL enums). */
export function oneOf<const K extends string>(
  action: string,
  name: string,
  value: unknown,
  allowed: readonly K[],
): K {
  if (!allowed.includes(value as K)) {
    const list = allowed.map((a) => JSON.stringify(a));
    const rule = list.length === 2
      ? `${list[0]} or ${list[1]}`
      : `one of ${list.slice(0, -1).join(", ")} or ${list[list.length - 1]}`;
    throw new TypeError(message(action, name, rule, value));
  }
  return value as K;
}

/** Checks that `value` is a function, or undefined when `optional`. */
export function callback<F>(
  action: string,
  name: string,
  value: unknown,
  optional: boolean = true,
): F | undefined {
  if (value === undefined && optional) return undefined;
  if (typeof value !== "function") {
    throw new TypeError(message(action, name, "a function", value));
  }
  return value as F;
}

/** Checks that `value` is an object (options bag) or undefined. */
export function options<O extends object>(
  action: string,
  name: string,
  value: unknown,
): Partial<O> {
  if (value === undefined) return {};
  if (value === null || typeof value !== "object") {
    throw new TypeError(message(action, name, "an object", value));
  }
  return value as Partial<O>;
}

/** Checks that `value` is an AbortSignal or undefined. */
export function signal(action: string, value: unknown): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (
    value === null || typeof value !== "object" ||
    typeof (value as AbortSignal).aborted !== "boolean" ||
    typeof (value as AbortSignal).addEventListener !== "function"
  ) {
    throw new TypeError(message(action, "signal", "an AbortSignal", value));
  }
  return value as AbortSignal;
}

/**
 * Checks an integer ≥ `min` with a documented maximum: below `min` (or not
 * an integer) the message gives the lower bound, above `max` both.
 */
export function capped(
  action: string,
  name: string,
  value: unknown,
  min: number,
  max: number,
): number {
  integer(action, name, value, min);
  if ((value as number) > max) {
    throw new RangeError(message(action, name, `an integer in [${min}, ${max}]`, value));
  }
  return value as number;
}

/** Checks a demand or high-water mark: an integer in [1, MAX_DEMAND]. */
export function demand(action: string, name: string, value: unknown): number {
  return capped(action, name, value, 1, MAX_DEMAND);
}
