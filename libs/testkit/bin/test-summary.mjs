// Prints one closing line for the whole workspace, "N passed, N failed", from
// the TAP file each package's `test` target writes (cached runs included), and
// fails if a package that has tests produced no results.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

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
    passed += count("pass");
    failed += count("fail");
    skipped += count("skipped");
  }
}
if (missing.length > 0) {
  console.error(`test-summary: no test results for ${missing.join(", ")}`);
  process.exitCode = 1;
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
if (failed > 0 || passed === 0) process.exitCode = 1;
