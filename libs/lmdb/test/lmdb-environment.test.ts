import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "@timenet/testkit";
import { LmdbEnvironment, StoreOpenError } from "../src/index.js";

const tables = (root: Parameters<Parameters<typeof LmdbEnvironment.open>[2]>[0]) => ({ kv: root.openDB<string, string>({ name: "kv", encoding: "string" }) });

test("tables written, flushed and closed are there when the environment is opened again", async () => {
  const dir = await tempDir("lmdb-");
  try {
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

test("a read-only environment beside the writer sees every commit and cannot write", async () => {
  const dir = await tempDir("lmdb-");
  try {
    const writer = await LmdbEnvironment.open(join(dir.path, "db"), "the test store", tables);
    await writer.tables.kv.put("a", "1");
    const reader = await LmdbEnvironment.open(join(dir.path, "db"), "the test store", tables, { readOnly: true });
    assert.equal(reader.tables.kv.get("a"), "1");
    writer.root.transactionSync(() => writer.tables.kv.putSync("b", "2"));
    reader.root.resetReadTxn();
    assert.equal(reader.tables.kv.get("b"), "2", "a commit after the reader opened is visible to it");
    assert.throws(() => reader.root.transactionSync(() => reader.tables.kv.putSync("c", "3")));
    await reader.close();
    assert.equal(writer.tables.kv.get("b"), "2", "closing the reader leaves the writer's environment open");
    await writer.close();
  } finally {
    await dir.remove();
  }
});
