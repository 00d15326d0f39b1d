import { createPrivateKey, createPublicKey, diffieHellman, randomBytes, type KeyObject } from "node:crypto";
import { NoiseError } from "./noise-error.js";

export const DH_LEN = 32;

/** An X25519 key pair: the private half stays an OpenSSL KeyObject. */
export interface DhKeyPair {
  publicKey: Uint8Array;
  privateKey: KeyObject;
}

/** X25519's base point (u = 9): X25519(private, base point) is the public key. */
const BASE_POINT = createPublicKey({ key: { kty: "OKP", crv: "X25519", x: Buffer.concat([Buffer.from([9]), Buffer.alloc(31)]).toString("base64url") }, format: "jwk" });

/**
 * A fresh key pair: 32 random bytes (X25519 clamps them itself), and the
 * public key as X25519 of them and the base point. Not generateKeyPairSync
 * plus a JWK export: Node 20's KeyObject export holds the key's mutex while
 * it allocates, and a garbage collection there that finalizes the key
 * generation's job locks the same mutex: the thread deadlocks for good (seen
 * in the attack suite's worker, native stack in hand; the gateway makes an
 * ephemeral key per handshake the same way). Costs ~77 µs, against ~41.
 */
export function generateDhKeyPair(): DhKeyPair {
  return dhKeyPairFromPrivate(randomBytes(DH_LEN));
}

/** The key pair of a fixed 32-byte private key (test vectors, and every fresh key). */
export function dhKeyPairFromPrivate(raw: Uint8Array): DhKeyPair {
  if (raw.length !== DH_LEN) throw new NoiseError("BAD_KEY", `an X25519 private key is ${DH_LEN} bytes, got ${raw.length}`);
  // A JWK import reads only d for a private key (x must be a string, and is not used).
  const privateKey = createPrivateKey({ key: { kty: "OKP", crv: "X25519", d: Buffer.from(raw).toString("base64url"), x: "" }, format: "jwk" });
  return { publicKey: new Uint8Array(diffieHellman({ privateKey, publicKey: BASE_POINT })), privateKey };
}

/**
 * X25519(private, remote public). An all-zero result means the remote key
 * has small order (it contributes nothing secret): refused, as the Noise
 * spec allows and libp2p does.
 */
export function dh(own: DhKeyPair, remotePublic: Uint8Array): Buffer {
  if (remotePublic.length !== DH_LEN) throw new NoiseError("BAD_MESSAGE", `an X25519 key is ${DH_LEN} bytes, got ${remotePublic.length}`);
  let out: Buffer;
  try {
    // A JWK import, not DER: OpenSSL 3's DER decoder takes ~85 µs a key here, the JWK path ~8 µs (a handshake parses three).
    const remote = createPublicKey({ key: { kty: "OKP", crv: "X25519", x: Buffer.from(remotePublic).toString("base64url") }, format: "jwk" });
    out = diffieHellman({ privateKey: own.privateKey, publicKey: remote });
  } catch (err) {
    // OpenSSL itself fails on an all-zero shared secret.
    throw new NoiseError("BAD_KEY", `X25519 with the peer's key failed: ${(err as Error).message}`);
  }
  if (out.every((b) => b === 0)) throw new NoiseError("BAD_KEY", "X25519 result is zero: the peer's key has small order");
  return out;
}
