import { test } from "node:test";
import assert from "node:assert/strict";
import { truncateSync } from "node:fs";
import { join } from "node:path";
import { readBlockFile, tempDir, writeBlockFile } from "../src/index.js";

test("a block file gives back every entry's bytes, and a cut file says so instead of serving short blocks", async () => {
  const dir = await tempDir("block-file-");
  try {
    const entries = [Buffer.from("first"), Buffer.alloc(0), Buffer.alloc(70_000, 7), Buffer.from("last")];
    const offsets = new Uint32Array(entries.length + 1);
    entries.forEach((e, i) => (offsets[i + 1] = offsets[i]! + e.length));
    const file = join(dir.path, "chain.blocks");
    writeBlockFile(file, { bytes: Buffer.concat(entries), offsets });

    const back = readBlockFile(file);
    assert.deepEqual([...back.offsets], [...offsets]);
    entries.forEach((e, i) => assert.deepEqual(back.bytes.subarray(back.offsets[i], back.offsets[i + 1]), e));

    truncateSync(file, 4 * (entries.length + 2) + 10);
    assert.throws(() => readBlockFile(file), /10 bytes of blocks, its offsets say 70009/);
  } finally {
    await dir.remove();
  }
});
