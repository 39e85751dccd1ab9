// A small JUnit XML reader for the reports `deno test --junit-path` and
// `bun test --reporter=junit` write, and their conversion to result records.

/**
 * @typedef {{ name: string, attrs: Record<string, string>, children: XmlElement[], text: string }} XmlElement
 */

const ENTITIES = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function decode(text) {
  return text.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (whole, entity) => {
    if (entity[0] === "#") {
      const code = entity[1] === "x" || entity[1] === "X"
        ? parseInt(entity.slice(2), 16)
        : parseInt(entity.slice(1), 10);
      return String.fromCodePoint(code);
    }
    return ENTITIES[entity] ?? whole;
  });
}

/**
 * Parses XML into elements (no namespaces, no CDATA, no comments needed).
 *
 * @param {string} xml
 * @returns {XmlElement} a synthetic root whose children are the top elements
 */
export function parseXml(xml) {
  const root = { name: "#root", attrs: {}, children: [], text: "" };
  const stack = [root];
  const tag =
    /<(\/?)([\w:.-]+)((?:\s+[\w:.-]+\s*=\s*"[^"]*")*)\s*(\/?)>|<\?[^>]*\?>|<!--[\s\S]*?-->|([^<]+)/g;
  for (const match of xml.matchAll(tag)) {
    const [, closing, name, rawAttrs, selfClosing, text] = match;
    const top = stack[stack.length - 1];
    if (text !== undefined) {
      top.text += decode(text);
    } else if (name === undefined) {
      continue;
    } else if (closing) {
      if (stack.length > 1) stack.pop();
    } else {
      const attrs = {};
      for (const [, key, value] of rawAttrs.matchAll(/([\w:.-]+)\s*=\s*"([^"]*)"/g)) {
        attrs[key] = decode(value);
      }
      const element = { name, attrs, children: [], text: "" };
      top.children.push(element);
      if (!selfClosing) stack.push(element);
    }
  }
  return root;
}

function testcaseStatus(testcase) {
  const failure = testcase.children.find((c) => c.name === "failure" || c.name === "error");
  if (failure) {
    const text = failure.text.trim() || failure.attrs.message || "failed";
    return { status: "fail", error: text };
  }
  const skipped = testcase.children.find((c) => c.name === "skipped");
  if (skipped) return { status: skipped.attrs.message === "TODO" ? "todo" : "skip" };
  return { status: "pass" };
}

function* elements(element, name) {
  for (const child of element.children) {
    if (child.name === name) yield child;
    yield* elements(child, name);
  }
}

/**
 * Deno writes one flat testsuite per module plus one for `node:test` steps
 * ("ext:deno_node/testing.ts"); names hold the path joined by " > ". Doc
 * examples come as modules named like "./src/x.ts$12-20.ts" or "…#12-20.ts".
 *
 * @param {string} xml
 * @returns {{ tests: object[], docs: object[] }} records
 */
export function denoRecords(xml) {
  const tests = [];
  const docs = [];
  // node:test steps lose their module: give them the module of the
  // top-level test of the same name, when only one module has that name.
  const fileOf = new Map();
  for (const suite of elements(parseXml(xml), "testsuite")) {
    const suiteName = suite.attrs.name ?? "";
    const isDoc = /[#$]\d+-\d+\.\w+$/.test(suiteName);
    const isModule = !isDoc && !suiteName.startsWith("ext:");
    for (const testcase of suite.children.filter((c) => c.name === "testcase")) {
      const { status, error } = testcaseStatus(testcase);
      const record = { path: testcase.attrs.name.split(" > "), status, error };
      if (isDoc) {
        record.path = [suiteName.replace(/^\.\//, "")];
        docs.push(record);
        continue;
      }
      if (isModule && record.path.length === 1) {
        const file = suiteName.replace(/^\.\//, "");
        const known = fileOf.get(record.path[0]);
        fileOf.set(record.path[0], known === undefined || known === file ? file : null);
      }
      tests.push(record);
    }
  }
  for (const record of tests) record.file = fileOf.get(record.path[0]) ?? undefined;
  return { tests, docs };
}

/**
 * Bun nests a testsuite per file and per describe, with testcases as leaves.
 *
 * @param {string} xml
 * @returns {object[]} records
 */
export function bunRecords(xml) {
  const records = [];
  const visit = (element, file, path) => {
    for (const child of element.children) {
      if (child.name === "testsuite") {
        if (file === undefined) visit(child, child.attrs.file ?? child.attrs.name, []);
        else visit(child, file, [...path, child.attrs.name]);
      } else if (child.name === "testcase") {
        const { status, error } = testcaseStatus(child);
        records.push({ file, path: [...path, child.attrs.name], status, error });
      }
    }
  };
  for (const top of parseXml(xml).children) {
    if (top.name === "testsuites") visit(top, undefined, []);
  }
  return records;
}
