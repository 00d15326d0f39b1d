import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "@timenet/testkit";
import { LmdbEnvironment, StoreOpenError } from "../src/index.js";

test("tables written, flushed and closed are there when the environment is opened again", async () => {
  const dir = await tempDir("lmdb-");
  try {
    const tables = (root: Parameters<Parameters<typeof LmdbEnvironment.open>[2]>[0]) => ({ kv: root.openDB<string, string>({ name: "kv", encoding: "string" }) });
    const env = await LmdbEnvironment.open(join(dir.path, "db"), "the test store", tables);
    await env.tables.kv.put("a", "1");
    await env.close();
    const again = await LmdbEnvironment.open(join(dir.path, "db"), "the test store", tables);
    assert.equal(again.tables.kv.get("a"), "1");
    await again.close();
  } finally {
    await dir.remove();
  }
});

test("a path that cannot hold an environment fails with one clear error naming the store", async () => {
  const dir = await tempDir("lmdb-");
  try {
    const file = join(dir.path, "not-a-dir");
    writeFileSync(file, "x");
    await assert.rejects(
      LmdbEnvironment.open(join(file, "db"), "the peer book", () => ({})),
      (err: unknown) => err instanceof StoreOpenError && err.code === "ERR_STORE_OPEN" && err.message.startsWith(`cannot open the peer book at ${join(file, "db")}`),
    );
  } finally {
    await dir.remove();
  }
});
