// A node:test reporter (Node >= 20) that writes one JSON line per finished
// test or suite, plus the stderr of files that crash, for scripts/test.mjs.
// Line: {"file","path":[...],"status","kind","error"}.

const stacks = new Map();
const stderrByFile = new Map();

function errorText(error) {
  if (error === undefined || error === null) return undefined;
  const cause = error.code === "ERR_TEST_FAILURE" && error.cause !== undefined
    ? error.cause
    : undefined;
  const main = cause ?? error;
  let text = typeof main?.stack === "string" && main.stack.includes(String(main.message))
    ? main.stack
    : `${main?.name ?? "Error"}: ${main?.message ?? String(main)}${
      main?.stack ? `\n${main.stack}` : ""
    }`;
  if (cause !== undefined && error.failureType === "hookFailed") {
    text = `${error.message}\n${text}`;
  }
  return text;
}

export default async function* reporter(source) {
  for await (const event of source) {
    const data = event.data ?? {};
    const file = data.file ?? "";
    if (event.type === "test:stderr" || event.type === "test:stdout") {
      const text = data.message ?? "";
      if (event.type === "test:stderr") {
        stderrByFile.set(file, (stderrByFile.get(file) ?? "") + text);
      }
      continue;
    }
    if (
      event.type === "test:diagnostic" &&
      /generated asynchronous activity after the test ended/.test(data.message ?? "")
    ) {
      // An error raised after its test ended (an unobserved stage failure, a
      // stray rejection) fails the run instead of passing as a note.
      const line = { file, path: ["after a test ended"], status: "fail", kind: "test" };
      yield `${JSON.stringify({ ...line, error: data.message })}\n`;
      continue;
    }
    if (event.type === "test:start") {
      const stack = stacks.get(file) ?? [];
      stack.length = data.nesting;
      stack.push(data.name);
      stacks.set(file, stack);
      continue;
    }
    if (event.type !== "test:pass" && event.type !== "test:fail") continue;
    const stack = stacks.get(file) ?? [];
    const path = [...stack.slice(0, data.nesting), data.name];
    let status = event.type === "test:pass" ? "pass" : "fail";
    if (data.skip !== undefined && data.skip !== false) status = "skip";
    else if (data.todo !== undefined && data.todo !== false) status = "todo";
    let kind = data.details?.type === "suite" ? "suite" : "test";
    let error = status === "fail" ? errorText(data.details?.error) : undefined;
    if (data.nesting === 0 && data.name === file) {
      // The file itself failed (it threw while loading, or exited early).
      kind = "load-error";
      error = `${error ?? "test file failed"}\n${stderrByFile.get(file) ?? ""}`.trim();
    }
    yield `${JSON.stringify({ file, path, status, kind, error })}\n`;
  }
}
