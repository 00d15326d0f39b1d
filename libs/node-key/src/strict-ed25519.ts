/**
 * Strict ed25519 encodings (what libsodium's verify refuses and OpenSSL's
 * accepts): a point whose y coordinate is not below p (non-canonical), or
 * that has small order (order 1, 2, 4 or 8, either sign of x). With a
 * small-order public key, the signature R = identity, S = 0 verifies for
 * every message, so such a key proves nothing about who signed.
 */
const P = (1n << 255n) - 19n;
/** The group order: S must be below it (RFC 8032 5.1.7). */
const L = (1n << 252n) + 27742317777372353535851937790883648493n;
/** y of the order-8 points (the other pair has p - y8); 0 (order 4), 1 (order 1) and p - 1 (order 2) complete the torsion. */
const Y8 = 0x05fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826n;
const SMALL_ORDER_Y = new Set([0n, 1n, P - 1n, Y8, P - Y8]);

function littleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

/** True for a 32-byte point encoding that is canonical and not of small order. */
export function isStrictPoint(encoded: Uint8Array): boolean {
  if (encoded.length !== 32) return false;
  const y = littleEndian(encoded) & ((1n << 255n) - 1n); // the top bit is the sign of x
  return y < P && !SMALL_ORDER_Y.has(y);
}

/** True for a 64-byte signature whose R is a strict point and whose S is below the group order. */
export function isStrictSignature(signature: Uint8Array): boolean {
  return signature.length === 64 && isStrictPoint(signature.subarray(0, 32)) && littleEndian(signature.subarray(32)) < L;
}
