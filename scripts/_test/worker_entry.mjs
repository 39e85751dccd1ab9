// Writes the entry module the workerd runtime bundles: every test file is
// imported lazily and run by the node:test shim inside one fetch handler.

/**
 * @param {string[]} files test files relative to the repository root
 * @param {string} base the path from the entry's folder to the repository root, ending in "/"
 * @returns {string} the entry's source
 */
export function workerEntry(files, base) {
  const list = files
    .map((file) =>
      `  { name: ${JSON.stringify(file)}, load: () => import(${JSON.stringify(base + file)}) },`
    )
    .join("\n");
  return `import { __webstageRun, __webstageUncaught, __webstageDescribeError } from "${base}scripts/shims/node_test.js";
const files = [
${list}
];
const stray = [];
addEventListener("unhandledrejection", (event) => {
  event.preventDefault?.();
  if (!__webstageUncaught(event.reason)) stray.push(__webstageDescribeError(event.reason));
});
export default {
  async fetch() {
    const results = await __webstageRun(files);
    for (const error of stray.splice(0)) {
      results.push({ file: "<worker>", path: ["uncaught error outside any test"], status: "fail", kind: "load-error", error });
    }
    return Response.json(results);
  },
};
`;
}
