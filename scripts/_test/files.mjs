// Finds the test files: tests/**/*_test.ts, skipping files and folders whose
// name starts with "_" (helpers) or ".".

import { readdirSync, statSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";

/**
 * @param {string} root the repository root
 * @param {string[]} filters paths (files or folders) to restrict to; empty for all
 * @returns {string[]} paths relative to root, with "/" separators, sorted
 */
export function findTestFiles(root, filters) {
  const found = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith("_") || entry.name.startsWith(".")) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith("_test.ts")) found.push(path);
    }
  };
  const testsDir = join(root, "tests");
  try {
    if (statSync(testsDir).isDirectory()) walk(testsDir);
  } catch {
    // no tests folder yet
  }
  const wanted = filters.map((filter) => resolve(root, filter));
  return found
    .filter((path) =>
      wanted.length === 0 ||
      wanted.some((w) => path === w || path.startsWith(w.endsWith(sep) ? w : w + sep))
    )
    .map((path) => relative(root, path).split(sep).join("/"))
    .sort();
}

/**
 * The worker modules the tests start by URL (.ts files in a _fixtures folder under tests/): no test
 * imports them, so the type-checking lane names them itself.
 *
 * @param {string} root the repository root
 * @returns {string[]} paths relative to root, with "/" separators, sorted
 */
export function findFixtureFiles(root) {
  const found = [];
  const walk = (dir, inFixtures) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path, inFixtures || entry.name === "_fixtures");
      else if (inFixtures && entry.name.endsWith(".ts")) found.push(path);
    }
  };
  try {
    walk(join(root, "tests"), false);
  } catch {
    // no tests folder yet
  }
  return found.map((path) => relative(root, path).split(sep).join("/")).sort();
}
