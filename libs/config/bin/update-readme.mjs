#!/usr/bin/env node
// Regenerates a configuration table in the README from a service's env schema:
//   node libs/config/bin/update-readme.mjs <README> <marker> <built config module> <export name>
// replaces the text between <!-- marker:start --> and <!-- marker:end -->.
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import { hostname } from "node:os";
import { describeSchema } from "../dist/src/index.js";

const [readme, marker, modulePath, exportName] = process.argv.slice(2);
if (!readme || !marker || !modulePath || !exportName) {
  console.error("usage: update-readme.mjs <README> <marker> <built config module> <export name>");
  process.exit(2);
}
const mod = await import(pathToFileURL(resolve(modulePath)).href);
const schema = mod[exportName];
if (!schema) {
  console.error(`${modulePath} has no export ${exportName}`);
  process.exit(2);
}
const text = readFileSync(readme, "utf8");
const start = `<!-- ${marker}:start -->`;
const end = `<!-- ${marker}:end -->`;
const i = text.indexOf(start);
const j = text.indexOf(end);
if (i < 0 || j < i) {
  console.error(`${readme} has no ${start} ... ${end} section`);
  process.exit(2);
}
// Defaults computed on this machine (the hostname) are described, not printed.
const rows = describeSchema(schema).split("`" + hostname() + "`").join("the hostname");
const table = `| variable | default | meaning |\n|---|---|---|\n${rows}`;
writeFileSync(readme, `${text.slice(0, i + start.length)}\n${table}\n${text.slice(j)}`);
console.log(`${readme}: ${marker} table updated`);
