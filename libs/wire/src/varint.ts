/** Bytes of `n` as a protobuf varint (a bigint for uint64 fields such as timestamps). */
export function varintLength(n: number | bigint): number {
  let len = 1;
  if (typeof n === "bigint") {
    for (let v = n; v >= 0x80n; v >>= 7n) len++;
    return len;
  }
  for (let v = n; v >= 0x80; v = Math.floor(v / 0x80)) len++;
  return len;
}

/** Bytes of a length-delimited field holding `n` bytes: its tag (`tagBytes`: 1 for fields 1–15), the length varint, the body. */
export function lengthDelimitedBytes(n: number, tagBytes = 1): number {
  return tagBytes + varintLength(n) + n;
}

/** Writes `n` as a varint into `out` at `pos`; returns the position after it. */
export function writeVarint(out: Uint8Array, pos: number, n: number): number {
  for (; n >= 0x80; n = Math.floor(n / 0x80)) out[pos++] = (n % 0x80) | 0x80;
  out[pos++] = n;
  return pos;
}

/** `n` as a varint on its own: for hand-built frames (tests, the attack suite). */
export function encodeVarint(n: number): Uint8Array {
  const out = new Uint8Array(varintLength(n));
  writeVarint(out, 0, n);
  return out;
}
