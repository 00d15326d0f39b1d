// Prints one closing line for the whole workspace, "N passed, N failed", from
// the TAP file each package's `test` target writes (cached runs included), and
// fails if a package that has tests produced no results. Above that line it
// repeats each failed test with its error: `npm test` runs this even when a
// task failed, so the end of a long CI log says which test failed and why
// (the tasks' own output is interleaved and can scroll out of a log's tail).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const MAX_LINES_PER_FAILURE = 30;
const failures = [];

/** The "not ok" entries of a TAP file with their diagnostics, leaving out suites that failed only through a subtest. */
function failedTests(dir, tap) {
  const lines = tap.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)not ok \d+ - (.*)$/.exec(lines[i]);
    if (!m) continue;
    const indent = m[1];
    const block = [];
    for (let j = i + 1; j < lines.length && lines[j] !== `${indent}  ...`; j++) block.push(lines[j].slice(indent.length));
    if (block.some((l) => /failureType: 'subtestsFailed'/.test(l))) continue;
    const shown = block.filter((l) => !/^\s*(---|duration_ms:)/.test(l));
    const clipped = shown.length > MAX_LINES_PER_FAILURE ? [...shown.slice(0, MAX_LINES_PER_FAILURE), "  …"] : shown;
    failures.push(`✖ ${dir}: ${m[2]}\n${clipped.join("\n")}`);
  }
}

let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
for (const group of ["libs", "apps"]) {
  for (const name of readdirSync(group)) {
    const dir = join(group, name);
    if (!existsSync(join(dir, "test"))) continue;
    const file = join(dir, "test-results", "tap.txt");
    if (!existsSync(file)) {
      missing.push(dir);
      continue;
    }
    const tap = readFileSync(file, "utf8");
    const count = (key) => [...tap.matchAll(new RegExp(`^# ${key} (\\d+)$`, "gm"))].reduce((n, m) => n + Number(m[1]), 0);
    const fails = count("fail");
    passed += count("pass");
    failed += fails;
    skipped += count("skipped");
    if (fails > 0) failedTests(dir, tap);
  }
}
if (missing.length > 0) {
  console.error(`test-summary: no test results for ${missing.join(", ")}`);
  process.exitCode = 1;
}
if (failures.length > 0) console.log(`\nfailed tests:\n\n${failures.join("\n\n")}\n`);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
if (failed > 0 || passed === 0) process.exitCode = 1;
