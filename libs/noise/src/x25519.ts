import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from "node:crypto";
import { NoiseError } from "./noise-error.js";

// DER prefix of an X25519 PKCS#8 private key; the raw 32 bytes follow.
const PKCS8_X25519_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");

export const DH_LEN = 32;

/** An X25519 key pair: the private half stays an OpenSSL KeyObject. */
export interface DhKeyPair {
  publicKey: Uint8Array;
  privateKey: KeyObject;
}

/** X25519's base point (u = 9): X25519(private, base point) is the public key. */
const BASE_POINT = createPublicKey({ key: { kty: "OKP", crv: "X25519", x: Buffer.concat([Buffer.from([9]), Buffer.alloc(31)]).toString("base64url") }, format: "jwk" });

/**
 * A fresh key pair: OpenSSL's, with the public key computed as X25519 of the
 * private key and the base point, never exported. Node's KeyObject export
 * holds the key's mutex while it allocates, and a garbage collection there
 * that finalizes the key generation's job takes the same mutex: the thread
 * deadlocks for good (seen in the attack runner's worker, native stack in
 * hand; the gateway made every handshake's ephemeral key that way). ~76 µs.
 */
export function generateDhKeyPair(): DhKeyPair {
  const { privateKey } = generateKeyPairSync("x25519");
  return { publicKey: publicOf(privateKey), privateKey };
}

/** The key pair of a fixed 32-byte private key (test vectors). */
export function dhKeyPairFromPrivate(raw: Uint8Array): DhKeyPair {
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, raw]), format: "der", type: "pkcs8" });
  return { publicKey: publicOf(privateKey), privateKey };
}

/** X25519(private, base point): the public key, without exporting a KeyObject. */
function publicOf(privateKey: KeyObject): Uint8Array {
  return new Uint8Array(diffieHellman({ privateKey, publicKey: BASE_POINT }));
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
