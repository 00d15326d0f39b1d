// `timenetctl producer-key create|show`, run as an operator runs it: the key
// file a producer loads, and a network file listing it that a node accepts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadNetwork, signBlock, blockHash, validateBlock, hashHex } from "@timenet/chain";
import { NodeKey } from "@timenet/node-key";
import { tempDir } from "@timenet/testkit";
import { runCliProcess } from "./cli-process.js";

test("producer-key create writes a 0600 key file NodeKey loads, prints its public key, and never overwrites", async () => {
  const dir = await tempDir("producer-key-");
  try {
    const file = join(dir.path, "keys", "producer.key");
    const created = await runCliProcess(["producer-key", "create", "--out", file]);
    assert.equal(created.code, 0, created.err);
    assert.equal(created.err, "");
    const lines = created.out.trim().split("\n");
    assert.equal(lines.length, 3, created.out);
    assert.equal(lines[0], `created producer key ${file} (ed25519, mode 0600); its public key:`);
    assert.match(lines[1]!, /^[0-9a-f]{64}$/);
    assert.match(lines[2]!, /paste it into "producers" of the network file/);
    const printed = lines[1]!;

    assert.equal(statSync(file).mode & 0o777, 0o600);
    const { key, created: madeByLoad } = await NodeKey.loadOrCreate(file);
    assert.equal(madeByLoad, false, "loadOrCreate reads the file, creates nothing");
    assert.equal(key.nodeId, printed);

    const show = await runCliProcess(["producer-key", "show", "--key", file]);
    assert.equal(show.code, 0, show.err);
    assert.equal(show.out, `${printed}\n`);
    const showJson = await runCliProcess(["--json", "producer-key", "show", "--key", file]);
    assert.deepEqual(JSON.parse(showJson.out), { file, publicKey: printed });

    // A second create on the same path: refused, one line, exit 2; the key is unchanged.
    const before = readFileSync(file, "utf8");
    const again = await runCliProcess(["producer-key", "create", "--out", file]);
    assert.equal(again.code, 2);
    assert.equal(again.out, "");
    assert.match(again.err, /^timenetctl: [^\n]*producer\.key already exists: not overwritten \(its public key: timenetctl producer-key show --key [^\n]*\)\n$/);
    assert.equal(readFileSync(file, "utf8"), before);

    // The printed key in a network file: the network loads, and a block that key signs is valid in it.
    const networkFile = join(dir.path, "lab.json");
    writeFileSync(networkFile, JSON.stringify({ name: "lab", genesis_timestamp_ms: 1767225600000, producers: [printed], block_interval_ms: 5000 }));
    const lab = loadNetwork(networkFile);
    assert.deepEqual(lab.producers.map(hashHex), [printed]);
    const parent = lab.genesis.header!;
    const block = signBlock({ height: 1, prevHash: blockHash(parent), timestampMs: parent.timestampMs + 5000n, txs: [new TextEncoder().encode("tx")] }, key);
    const v = validateBlock(block, parent, lab, Number(parent.timestampMs) + 10_000);
    assert.equal(v.ok, true, v.ok ? "" : v.detail);
  } finally {
    await dir.remove();
  }
});

test("producer-key: a missing --out/--key, a missing or non-key file are one line and exit 2", async () => {
  const dir = await tempDir("producer-key-");
  try {
    const missingOut = await runCliProcess(["producer-key", "create"]);
    assert.equal(missingOut.code, 2);
    assert.match(missingOut.err, /^timenetctl: required option '--out <file>' not specified\n$/);
    const missingFile = await runCliProcess(["producer-key", "show", "--key", join(dir.path, "nope.key")]);
    assert.equal(missingFile.code, 2);
    assert.match(missingFile.err, /^timenetctl: cannot read .*nope\.key: no such file\n$/);
    const notKey = join(dir.path, "notes.txt");
    writeFileSync(notKey, "hello\n");
    const bad = await runCliProcess(["producer-key", "show", "--key", notKey]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /^timenetctl: .*notes\.txt: not a PEM private key[^\n]*\n$/);
  } finally {
    await dir.remove();
  }
});
