import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  dhKeyPairFromPrivate,
  generateDhKeyPair,
  HandshakeXX,
  MAX_NOISE_MESSAGE_BYTES,
  MAX_TRANSPORT_PLAINTEXT,
  MESSAGE_OVERHEAD_BYTES,
  SEALED_LENGTH_BYTES,
  NoiseError,
  TransportOpener,
  TransportSealer,
  type NoiseSessionKeys,
} from "../src/index.js";

const hex = (s: string) => Buffer.from(s, "hex");

// The cacophony test vector for Noise_XX_25519_ChaChaPoly_SHA256 (an
// independent implementation's output): same keys in, same bytes out.
const VECTOR = {
  prologue: "4a6f686e2047616c74",
  initStatic: "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1",
  initEphemeral: "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a",
  respStatic: "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893",
  respEphemeral: "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b",
  handshakeHash: "c8e5f64e846193be2a834104c2a009868d6c9f3bd3c186299888b488b2f1f58e",
  messages: [
    ["4c756477696720766f6e204d69736573", "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79444c756477696720766f6e204d69736573"],
    [
      "4d757272617920526f746862617264",
      "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f14480884381cbad1f276e038c48378ffce2b65285e08d6b68aaa3629a5a8639392490e5b9bd5269c2f1e4f488ed8831161f19b7815528f8982ffe09be9b5c412f8a0db50f8814c7194e83f23dbd8d162c9326ad",
    ],
    ["462e20412e20486179656b", "c7195ffacac1307ff99046f219750fc47693e23c3cb08b89c2af808b444850a80ae475b9df0f169ae80a89be0865b57f58c9fea0d4ec82a286427402f113e4b6ae769a1d95941d49b25030"],
    ["4361726c204d656e676572", "96763ed773f8e47bb3712f0e29b3060ffc956ffc146cee53d5e1df"],
    ["4a65616e2d426170746973746520536179", "3e40f15f6f3a46ae446b253bf8b1d9ffb6ed9b174d272328ff91a7e2e5c79c07f5"],
  ],
};

test("the XX handshake and transport reproduce the cacophony test vector byte for byte", () => {
  const i = new HandshakeXX({
    role: "initiator",
    prologue: hex(VECTOR.prologue),
    staticKey: dhKeyPairFromPrivate(hex(VECTOR.initStatic)),
    ephemeralKey: dhKeyPairFromPrivate(hex(VECTOR.initEphemeral)),
  });
  const r = new HandshakeXX({
    role: "responder",
    prologue: hex(VECTOR.prologue),
    staticKey: dhKeyPairFromPrivate(hex(VECTOR.respStatic)),
    ephemeralKey: dhKeyPairFromPrivate(hex(VECTOR.respEphemeral)),
  });
  const m = VECTOR.messages;
  const m1 = i.write1(hex(m[0]![0]!));
  assert.equal(m1.toString("hex"), m[0]![1]);
  assert.equal(r.read1(m1).toString("hex"), m[0]![0]);
  const m2 = r.write2(hex(m[1]![0]!));
  assert.equal(m2.toString("hex"), m[1]![1]);
  assert.equal(i.read2(m2).toString("hex"), m[1]![0]);
  const m3 = i.write3(hex(m[2]![0]!));
  assert.equal(m3.toString("hex"), m[2]![1]);
  assert.equal(r.read3(m3).toString("hex"), m[2]![0]);
  const ik = i.keys();
  const rk = r.keys();
  assert.equal(Buffer.from(ik.handshakeHash).toString("hex"), VECTOR.handshakeHash);
  assert.deepEqual(rk.handshakeHash, ik.handshakeHash);
  // Transport messages keep alternating, as in the vector: responder, then initiator.
  const t4 = rk.send.encryptWithAd(new Uint8Array(0), hex(m[3]![0]!));
  assert.equal(t4.toString("hex"), m[3]![1]);
  assert.equal(ik.receive.decryptWithAd(new Uint8Array(0), t4).toString("hex"), m[3]![0]);
  const t5 = ik.send.encryptWithAd(new Uint8Array(0), hex(m[4]![0]!));
  assert.equal(t5.toString("hex"), m[4]![1]);
});

function session(prologueI = "p", prologueR = "p"): { i: NoiseSessionKeys; r: NoiseSessionKeys } {
  const i = new HandshakeXX({ role: "initiator", prologue: Buffer.from(prologueI), staticKey: generateDhKeyPair() });
  const r = new HandshakeXX({ role: "responder", prologue: Buffer.from(prologueR), staticKey: generateDhKeyPair() });
  r.read1(i.write1(new Uint8Array(0)));
  i.read2(r.write2(new Uint8Array(0)));
  r.read3(i.write3(new Uint8Array(0)));
  return { i: i.keys(), r: r.keys() };
}

test("a different prologue on each side fails the handshake at message 2", () => {
  const i = new HandshakeXX({ role: "initiator", prologue: Buffer.from("net A"), staticKey: generateDhKeyPair() });
  const r = new HandshakeXX({ role: "responder", prologue: Buffer.from("net B"), staticKey: generateDhKeyPair() });
  r.read1(i.write1(new Uint8Array(0)));
  assert.throws(() => i.read2(r.write2(new Uint8Array(0))), (e: unknown) => e instanceof NoiseError && e.code === "DECRYPT_FAILED");
});

test("a small-order (all-zero) X25519 key is refused", () => {
  const r = new HandshakeXX({ role: "responder", prologue: Buffer.from("p"), staticKey: generateDhKeyPair() });
  r.read1(Buffer.alloc(32));
  assert.throws(() => r.write2(new Uint8Array(0)), (e: unknown) => e instanceof NoiseError && e.code === "BAD_KEY");
});

test("a stream of any size crosses in messages of at most 65,535 bytes, for any split of the bytes", () => {
  const { i, r } = session();
  const sealer = new TransportSealer(i.send);
  const opener = new TransportOpener(r.receive);
  const plain = randomBytes(200_000);
  const wire = sealer.seal(plain);
  // Four messages of at most 65,519 bytes of plaintext, each with its sealed length and its tag.
  assert.equal(wire.length, plain.length + 4 * MESSAGE_OVERHEAD_BYTES);
  assert.ok(MAX_TRANSPORT_PLAINTEXT + 16 <= MAX_NOISE_MESSAGE_BYTES);
  // Feed it in random splits, including single bytes.
  const got: Buffer[] = [];
  for (let at = 0; at < wire.length; ) {
    const n = Math.min(wire.length - at, Math.random() < 0.2 ? 1 : 1 + Math.floor(Math.random() * 70_000));
    got.push(...opener.push(wire.subarray(at, at + n)));
    at += n;
  }
  assert.deepEqual(Buffer.concat(got), plain);
  assert.equal(opener.bufferedBytes, 0);
  assert.equal(opener.messages, 4n);
});

test("a length changed on the path fails at once, without waiting for a body that will never come", () => {
  const { i, r } = session();
  const sealer = new TransportSealer(i.send);
  const opener = new TransportOpener(r.receive);
  const wire = sealer.seal(Buffer.from("a message whose length an attacker flips"));
  const header = Buffer.from(wire.subarray(0, SEALED_LENGTH_BYTES));
  header[1]! ^= 0x40; // the length's low byte: a plain length would now ask for 64 more bytes
  assert.throws(() => opener.push(header), (e: unknown) => e instanceof NoiseError && e.code === "DECRYPT_FAILED");
});

test("one flipped bit, an injected message or a replayed one fails authentication, and the opener stays failed", () => {
  for (const tamper of ["flip", "inject", "replay"] as const) {
    const { i, r } = session();
    const sealer = new TransportSealer(i.send);
    const opener = new TransportOpener(r.receive);
    const first = sealer.seal(Buffer.from("first"));
    opener.push(first);
    let bad: Buffer;
    if (tamper === "flip") {
      bad = sealer.seal(Buffer.from("second"));
      bad[5]! ^= 0x01;
    } else if (tamper === "inject") {
      bad = randomBytes(40);
    } else {
      bad = first;
    }
    assert.throws(() => opener.push(bad), (e: unknown) => e instanceof NoiseError && e.code === "DECRYPT_FAILED", tamper);
    assert.throws(() => opener.push(sealer.seal(Buffer.from("third"))), NoiseError);
  }
});

test("both directions rekey after the configured number of messages and stay in step", () => {
  const { i, r } = session();
  const sealer = new TransportSealer(i.send, { rekeyAfterMessages: 3 });
  const opener = new TransportOpener(r.receive, { rekeyAfterMessages: 3 });
  for (let n = 0; n < 10; n++) {
    const [pt] = opener.push(sealer.seal(Buffer.from(`m${n}`)));
    assert.equal(pt!.toString(), `m${n}`);
  }
  assert.equal(sealer.messages, 10n);
  // A receiver that does not rekey cannot read past the first rekey.
  const { i: i2, r: r2 } = session();
  const s2 = new TransportSealer(i2.send, { rekeyAfterMessages: 2 });
  const o2 = new TransportOpener(r2.receive, { rekeyAfterMessages: 1_000 });
  o2.push(s2.seal(Buffer.from("a")));
  o2.push(s2.seal(Buffer.from("b")));
  assert.throws(() => o2.push(s2.seal(Buffer.from("c"))), NoiseError);
});
