// The page the Chromium runtime loads: an import map sends `node:test` and
// `node:assert/strict` to the in-page shims, then the harness imports the
// compiled test files one after the other.

/** @param {string[]} files compiled test files, relative to the server root */
export function pageHtml() {
  const imports = {
    "node:test": "/scripts/shims/node_test.js",
    "node:assert/strict": "/scripts/shims/node_assert.js",
    "node:assert": "/scripts/shims/node_assert.js",
  };
  return `<!doctype html>
<meta charset="utf-8">
<title>webstage tests</title>
<script type="importmap">${JSON.stringify({ imports })}</script>
<script type="module">
  import { __webstageRun, __webstageUncaught, __webstageDescribeError } from "/scripts/shims/node_test.js";
  const stray = [];
  const onError = (error) => { if (!__webstageUncaught(error)) stray.push(__webstageDescribeError(error)); };
  addEventListener("error", (event) => onError(event.error ?? event.message));
  addEventListener("unhandledrejection", (event) => { event.preventDefault(); onError(event.reason); });
  globalThis.runTests = async (files) => {
    const results = await __webstageRun(files.map((name) => ({ name, load: () => import("/build/" + name.replace(/\\.ts$/, ".js")) })));
    for (const error of stray.splice(0)) results.push({ file: "<page>", path: ["uncaught error outside any test"], status: "fail", kind: "load-error", error });
    return results;
  };
  globalThis.harnessReady = true;
</script>`;
}
