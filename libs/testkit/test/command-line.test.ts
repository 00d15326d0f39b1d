import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const MODULE = fileURLToPath(new URL("../src/command-line.js", import.meta.url));
// A script as a bench writes it: two options, one a number list.
const SCRIPT = `
import { parseCommandLine } from ${JSON.stringify(MODULE)};
const cli = parseCommandLine({ command: "npm run bench:x", about: "Measures x.", options: {
  workers: { type: "string", default: "1,2", arg: "N,N", help: "worker counts" },
  rtt: { type: "string", arg: "MS", help: "round-trip time" },
  cpu: { type: "boolean", help: "print CPU time" },
  mode: { type: "string", default: "fast", arg: "fast|slow", help: "how" },
} });
cli.oneOf("mode", ["fast", "slow"]);
process.stdout.write(JSON.stringify({ workers: cli.numbers("workers", { min: 1, max: 8 }), rtt: cli.values.rtt === undefined ? null : cli.number("rtt", { min: 0 }), cpu: cli.values.cpu }));
`;

const scriptFile = join(mkdtempSync(join(tmpdir(), "command-line-")), "bench-x.mjs");
writeFileSync(scriptFile, SCRIPT);

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [scriptFile, ...args], { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("a script's options parse with their defaults, numbers and lists checked", () => {
  assert.deepEqual(JSON.parse(run().stdout), { workers: [1, 2], rtt: null, cpu: false });
  assert.deepEqual(JSON.parse(run("--workers", "4,8", "--rtt", "100", "--cpu").stdout), { workers: [4, 8], rtt: 100, cpu: true });
});

test("--help lists every option with its meaning and default, and exits 0", () => {
  const r = run("--help");
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^usage: npm run bench:x -- \[options\]\n\nMeasures x\./);
  assert.match(r.stdout, /--workers N,N +worker counts \(default 1,2\)/);
  assert.match(r.stdout, /--rtt MS +round-trip time\n/);
  assert.match(r.stdout, /--cpu +print CPU time\n/);
});

test("an unknown option or a bad number is one line naming it and exit 2, not a stack trace", () => {
  for (const [args, said] of [
    [["--verbose"], /^npm run bench:x: Unknown option '--verbose'.* \(see --help\)\n$/],
    [["--rtt"], /^npm run bench:x: Option '--rtt <value>' argument missing \(see --help\)\n$/],
    [["--rtt", "fast"], /^npm run bench:x: --rtt takes whole numbers in 0\.\., not "fast"\n$/],
    [["--workers", "1,,4"], /^npm run bench:x: --workers takes whole numbers in 1\.\.8, not ""\n$/],
    [["--workers", "16"], /^npm run bench:x: --workers takes whole numbers in 1\.\.8, not "16"\n$/],
    [["--mode", "medium"], /^npm run bench:x: --mode takes fast or slow, not "medium"\n$/],
  ] as const) {
    const r = run(...args);
    assert.equal(r.status, 2, args.join(" "));
    assert.match(r.stderr, said);
    assert.equal(r.stdout, "");
  }
});
