#!/usr/bin/env node
// Makes a fresh machine ready for the README's commands, so that a newcomer
// needs nothing but Node and npm:
//   node tools/machine/ensure-machine.mjs test     (npm's `pretest`)
//   node tools/machine/ensure-machine.mjs devnet   (npm's `predevnet`, and soak/attack)
// It checks Node's version, installs the Debian packages the command needs
// when run as root on a Debian-like machine (else prints the one line to run
// and exits 1), and runs `npm ci` when node_modules is missing or older than
// package-lock.json. Uses only Node's standard library: it runs before
// node_modules exists.
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const MIN_NODE = [20, 19];

/** Debian package → the executables it provides that we run. */
const PACKAGES = {
  "nats-server": ["nats-server"],
  prometheus: ["prometheus", "promtool"],
};

/** What each README command needs from Debian. */
const NEEDS = {
  test: ["nats-server", "prometheus"],
  devnet: ["nats-server"],
};

const say = (line) => console.error(`timenet: ${line}`);

/** An executable from PATH or Debian's sbin directories (not on every user's PATH). */
export function findExecutable(name) {
  for (const dir of [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/usr/bin", "/usr/local/bin", "/sbin"]) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

function checkNode() {
  const [major, minor] = process.versions.node.split(".").map(Number);
  if (major < MIN_NODE[0] || (major === MIN_NODE[0] && minor < MIN_NODE[1])) {
    say(`Node ${process.versions.node} is too old: timenet needs Node >= ${MIN_NODE.join(".")}`);
    process.exit(1);
  }
}

/** Installs the missing packages when root with apt-get; otherwise one line and exit 1. */
export function ensurePackages(packages) {
  const missing = packages.filter((p) => PACKAGES[p].some((exe) => findExecutable(exe) === undefined));
  if (missing.length === 0) return;
  const line = `apt-get install -y ${missing.join(" ")}`;
  const apt = findExecutable("apt-get");
  if (apt === undefined) {
    say(`missing ${missing.join(", ")}: install them with your system's package manager (on Debian: sudo ${line})`);
    process.exit(1);
  }
  if (process.getuid?.() !== 0) {
    say(`missing ${missing.join(", ")}: run  sudo ${line}`);
    process.exit(1);
  }
  say(`installing ${missing.join(", ")} (Debian packages)...`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const update = spawnSync(apt, ["update", "-qq"], { stdio: ["ignore", "ignore", "inherit"], env });
  const install = update.status === 0 ? spawnSync(apt, ["install", "-y", "-qq", ...missing], { stdio: ["ignore", "ignore", "inherit"], env }) : update;
  const still = missing.filter((p) => PACKAGES[p].some((exe) => findExecutable(exe) === undefined));
  if (install.status !== 0 || still.length > 0) {
    say(`could not install ${still.join(", ") || missing.join(", ")} (apt-get exited ${install.status}): run  ${line}`);
    process.exit(1);
  }
}

/** `npm ci` when node_modules is absent or older than the lock file (a pull that changed dependencies). */
export function ensureNodeModules() {
  const lock = join(ROOT, "package-lock.json");
  const installed = join(ROOT, "node_modules", ".package-lock.json");
  if (existsSync(installed) && statSync(installed).mtimeMs >= statSync(lock).mtimeMs) return;
  say(existsSync(installed) ? "package-lock.json changed: npm ci..." : "installing npm dependencies (npm ci)...");
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const r = spawnSync(npm, ["ci", "--no-audit", "--no-fund"], { cwd: ROOT, stdio: "inherit" });
  if (r.status !== 0) {
    say(`npm ci failed (exit ${r.status}); run it in ${ROOT} to see why`);
    process.exit(1);
  }
}

export function ensureMachine(command) {
  const needs = NEEDS[command];
  if (needs === undefined) {
    say(`ensure-machine: unknown command "${command}" (one of: ${Object.keys(NEEDS).join(", ")})`);
    process.exit(2);
  }
  checkNode();
  ensurePackages(needs);
  ensureNodeModules();
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) ensureMachine(process.argv[2] ?? "test");
