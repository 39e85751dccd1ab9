// The messages a stage and its worker exchange, and how errors cross. Both
// sides import this file: the stage (src/_worker_channel.ts) and the worker
// (src/serve_stage.ts). Every message is a plain object whose `webstage`
// field names its kind, so messages of other code on the same port are left
// alone.

/** Stage → worker: the `data` option, once, before any batch. */
export interface InitMessage {
  readonly webstage: "init";
  readonly data: unknown;
}

/** Stage → worker: a batch to handle. */
export interface RunMessage {
  readonly webstage: "run";
  readonly id: number;
  readonly events: unknown[];
}

/** Worker → stage: `serveStage` is listening (sent once, first). */
export interface ReadyMessage {
  readonly webstage: "ready";
}

/** Worker → stage: the results of batch `id`. */
export interface DoneMessage {
  readonly webstage: "done";
  readonly id: number;
  readonly events: unknown[];
}

/** Worker → stage: batch `id` failed (id 0: `init` failed). */
export interface FailMessage {
  readonly webstage: "fail";
  readonly id: number;
  readonly error: EncodedError;
}

/** Worker → stage: the worker is closing itself (`close()`). */
export interface ClosedMessage {
  readonly webstage: "closed";
}

export type ToWorker = InitMessage | RunMessage;
export type FromWorker = ReadyMessage | DoneMessage | FailMessage | ClosedMessage;

/** An error as it crosses: an Error's parts, or any other thrown value that can be cloned. */
export type EncodedError =
  | {
    readonly kind: "error";
    readonly name: string;
    readonly message: string;
    readonly stack: string | undefined;
  }
  | { readonly kind: "value"; readonly value: unknown };

/** Whether `data` is one of webstage's messages (of any kind). */
export function isProtocolMessage(data: unknown): boolean {
  return typeof data === "object" && data !== null &&
    typeof (data as { webstage?: unknown }).webstage === "string";
}

/** Encodes a thrown value so that it survives structured cloning. */
export function encodeError(error: unknown): EncodedError {
  if (error instanceof Error) {
    return {
      kind: "error",
      name: error.name,
      message: error.message,
      stack: typeof error.stack === "string" ? error.stack : undefined,
    };
  }
  try {
    return { kind: "value", value: structuredClone(error) };
  } catch {
    return { kind: "error", name: "Error", message: String(error), stack: undefined };
  }
}

const ERRORS: Readonly<Record<string, ErrorConstructor>> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/** Rebuilds what {@linkcode encodeError} encoded: built-in error classes keep their class. */
export function decodeError(encoded: EncodedError): unknown {
  if (encoded.kind === "value") return encoded.value;
  const Class = Object.hasOwn(ERRORS, encoded.name) ? ERRORS[encoded.name] : Error;
  const error = new Class(encoded.message);
  if (error.name !== encoded.name) {
    Object.defineProperty(error, "name", {
      value: encoded.name,
      writable: true,
      configurable: true,
      enumerable: false,
    });
  }
  if (encoded.stack !== undefined) error.stack = encoded.stack;
  return error;
}
