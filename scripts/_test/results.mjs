// Turns the raw results every runtime adapter produces into counts, the same
// way for all of them, so the per-runtime lines can be compared.
//
// A record is { file?, path: string[], status: "pass" | "fail" | "skip" |
// "todo", kind?: string, error?: string }. Only leaves count: a `describe`
// or a test with subtests is not a test of its own (Bun cannot see `t.test`
// subtests, Deno cannot tell a describe from a test with steps). A failing
// non-leaf counts once when none of its descendants failed (a failing
// `after` hook, say). Records with kind "load-error" or "suite-error" always
// count as one failure.

const SEP = "\u0000";

/**
 * @param {Array<{ file?: string, path: string[], status: string, kind?: string, error?: string }>} records
 * @returns {{ passed: number, failed: number, skipped: number,
 *   failures: Array<{ name: string, error: string }> }}
 */
export function summarize(records) {
  const prefixes = new Set();
  const failingPrefixes = new Set();
  const keyOf = (record, length = record.path.length) =>
    [record.file ?? "", ...record.path.slice(0, length)].join(SEP);
  for (const record of records) {
    for (let i = 0; i < record.path.length; i++) {
      prefixes.add(keyOf(record, i));
      if (record.status === "fail") failingPrefixes.add(keyOf(record, i));
    }
  }
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const failures = [];
  for (const record of records) {
    const key = keyOf(record);
    const always = record.kind === "load-error" || record.kind === "suite-error";
    const leaf = always ||
      (record.kind !== "suite" && record.kind !== "parent" && !prefixes.has(key));
    if (!leaf) {
      if (record.status === "fail" && !failingPrefixes.has(key)) {
        failed++;
        failures.push({ name: displayName(record), error: record.error ?? "" });
      }
      continue;
    }
    if (record.status === "pass") passed++;
    else if (record.status === "fail") {
      failed++;
      failures.push({ name: displayName(record), error: record.error ?? "" });
    } else skipped++;
  }
  return { passed, failed, skipped, failures };
}

function displayName(record) {
  const name = record.path.join(" > ");
  return record.file ? `${record.file} › ${name}` : name;
}
