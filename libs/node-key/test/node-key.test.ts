import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NodeKey, verifySignature } from "../src/index.js";

test("the key file is created once and the node id survives a reload", async () => {
  const dir = await mkdtemp(join(tmpdir(), "node-key-"));
  try {
    const path = join(dir, "sub", "node.key");
    const first = await NodeKey.loadOrCreate(path);
    assert.equal(first.created, true);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const second = await NodeKey.loadOrCreate(path);
    assert.equal(second.created, false);
    assert.equal(second.key.nodeId, first.key.nodeId);
    assert.equal(first.key.publicKey.length, 32);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("signatures verify with the public key and fail when anything changes", () => {
  const key = NodeKey.generate();
  const other = NodeKey.generate();
  const data = new TextEncoder().encode("hello");
  const sig = key.sign(data);
  assert.equal(verifySignature(key.publicKey, data, sig), true);
  assert.equal(verifySignature(other.publicKey, data, sig), false);
  assert.equal(verifySignature(key.publicKey, new TextEncoder().encode("hellO"), sig), false);
  assert.equal(verifySignature(key.publicKey.subarray(1), data, sig), false);
  assert.equal(verifySignature(key.publicKey, data, sig.subarray(1)), false);
});

test("a corrupt key file is a clear error, not a new identity", async () => {
  const dir = await mkdtemp(join(tmpdir(), "node-key-"));
  try {
    const path = join(dir, "node.key");
    await writeFile(path, "garbage");
    await assert.rejects(NodeKey.loadOrCreate(path), { code: "ERR_NODE_KEY", message: /node key .*node\.key/ });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a key from a seed is deterministic and matches RFC 8032 test vector 1", () => {
  const seed = Buffer.from("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "hex");
  const key = NodeKey.fromSeed(seed);
  assert.equal(key.nodeId, "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  assert.equal(
    Buffer.from(key.sign(new Uint8Array(0))).toString("hex"),
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  );
  assert.equal(NodeKey.fromSeed(seed).nodeId, key.nodeId);
  assert.equal(NodeKey.fromPem(key.toPem()).nodeId, key.nodeId);
  assert.throws(() => NodeKey.fromSeed(seed.subarray(1)), { code: "ERR_NODE_KEY", message: /32 bytes, got 31/ });
});

test("a small-order public key with R = identity, S = 0 never verifies here, whatever this Node's OpenSSL says", async () => {
  const { createPublicKey, verify } = await import("node:crypto");
  const smallOrder = Buffer.alloc(32);
  smallOrder[0] = 1; // the identity point
  const forged = Buffer.concat([smallOrder, Buffer.alloc(32)]); // R = identity, S = 0
  const data = new TextEncoder().encode("any message at all");
  const spki = Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), smallOrder]);
  // The attack the strict checks exist for: OpenSSL 3.0 (Node 20) alone says
  // yes; newer OpenSSL (Node 22+) refuses too. Ours must refuse on every one.
  let openssl: boolean;
  try {
    openssl = verify(null, data, createPublicKey({ key: spki, format: "der", type: "spki" }), forged);
  } catch {
    openssl = false;
  }
  if (process.versions.openssl.startsWith("3.0.")) assert.equal(openssl, true, "the forgery this test guards against still works in OpenSSL 3.0");
  assert.equal(verifySignature(smallOrder, data, forged), false);
});

test("every small-order and non-canonical point encoding is refused; real keys and signatures pass", async () => {
  const { isStrictPoint, isStrictSignature } = await import("../src/index.js");
  const le = (n: bigint) => {
    const b = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) b[i] = Number((n >> BigInt(8 * i)) & 0xffn);
    return b;
  };
  const p = (1n << 255n) - 19n;
  const y8 = 0x05fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826n;
  for (const y of [0n, 1n, p - 1n, y8, p - y8, p, p + 1n, (1n << 255n) - 1n]) {
    for (const sign of [0n, 1n << 255n]) assert.equal(isStrictPoint(le(y | sign)), false, `y=${y.toString(16)}`);
  }
  for (let i = 0; i < 20; i++) {
    const k = NodeKey.generate();
    assert.equal(isStrictPoint(k.publicKey), true);
    assert.equal(isStrictSignature(k.sign(new Uint8Array([i]))), true);
  }
  // S + L: the same signature made non-canonical, which OpenSSL already refuses; refused before it here.
  const k = NodeKey.generate();
  const sig = Buffer.from(k.sign(new Uint8Array([1])));
  const L = (1n << 252n) + 27742317777372353535851937790883648493n;
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i]!);
  le(s + L).copy(sig, 32);
  assert.equal(isStrictSignature(sig), false);
  assert.equal(verifySignature(k.publicKey, new Uint8Array([1]), sig), false);
});
