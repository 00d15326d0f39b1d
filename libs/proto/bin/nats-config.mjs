#!/usr/bin/env node
// Writes the NATS users of a node from the permission table (built lib):
//   node libs/proto/bin/nats-config.mjs [--check]
// deploy/nats/users.conf (the authorization block nats.conf includes) and the
// "nats-users" table of deploy/README.md. --check: exit 1 when either differs.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { renderNatsAuthorization, renderNatsPermissionTable } from "../dist/src/index.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const check = process.argv.includes("--check");
const start = "<!-- nats-users:start -->";
const end = "<!-- nats-users:end -->";

function withTable(text) {
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`deploy/README.md has no ${start} ... ${end} section`);
  return `${text.slice(0, i + start.length)}\n${renderNatsPermissionTable()}\n${text.slice(j)}`;
}

const files = [
  [`${root}deploy/nats/users.conf`, () => renderNatsAuthorization()],
  [`${root}deploy/README.md`, (old) => withTable(old)],
];
let stale = 0;
for (const [path, render] of files) {
  const old = readFileSync(path, "utf8");
  const next = render(old);
  if (old === next) continue;
  stale++;
  if (check) console.error(`${path} is out of date: run node libs/proto/bin/nats-config.mjs`);
  else writeFileSync(path, next);
}
process.exit(check && stale > 0 ? 1 : 0);
