/** Bytes of `n` as a protobuf varint. */
export function varintLength(n: number): number {
  let len = 1;
  for (let v = n; v >= 0x80; v = Math.floor(v / 0x80)) len++;
  return len;
}

/** Bytes of a length-delimited field holding `n` bytes: its tag (`tagBytes`: 1 for fields 1–15), the length varint, the body. */
export function lengthDelimitedBytes(n: number, tagBytes = 1): number {
  return tagBytes + varintLength(n) + n;
}
