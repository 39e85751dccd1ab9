// Checks that every catalogue code a test name cites (G24, BF2, CS13, BF8–BF10, …)
// has an entry in tests/CODES.md. Test names are read with TypeScript's parser:
// the first argument of every describe/it/test call, template literals included.
//
// Usage: node scripts/check_codes.mjs

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PREFIXES = "G|D|B|P|BF|CS";
const CODE = new RegExp(`\\b(${PREFIXES})(\\d+)\\b`, "g");
const RANGE = new RegExp(`\\b(${PREFIXES})(\\d+)\\s*[–-]\\s*\\1?(\\d+)\\b`, "g");

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** Code -> where it is cited ("file: name"). */
const cited = new Map();
for (const file of testFiles(join(root, "tests"))) {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest);
  const visit = (node) => {
    if (
      ts.isCallExpression(node) && ts.isIdentifier(node.expression) &&
      ["describe", "it", "test"].includes(node.expression.text) && node.arguments.length > 0
    ) {
      const name = node.arguments[0].getText(source);
      const codes = [...name.matchAll(CODE)].map((m) => m[1] + m[2]);
      for (const [, prefix, from, to] of name.matchAll(RANGE)) {
        for (let i = Number(from); i <= Number(to); i++) codes.push(prefix + i);
      }
      for (const code of codes) {
        if (!cited.has(code)) cited.set(code, `${relative(root, file)}: ${name}`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}

const key = new Set(
  readFileSync(join(root, "tests", "CODES.md"), "utf8").split("\n")
    .map((line) => line.match(/^\|\s*([A-Z]+\d+)\s*\|/)?.[1])
    .filter((code) => code !== undefined),
);

const missing = [...cited].filter(([code]) => !key.has(code));
for (const [code, where] of missing) {
  console.error(`${code} has no entry in tests/CODES.md (cited by ${where})`);
}
console.log(
  `${cited.size} codes cited by test names, ${missing.length} missing from tests/CODES.md`,
);
process.exitCode = missing.length > 0 ? 1 : 0;
