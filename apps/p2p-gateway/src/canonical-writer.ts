/**
 * Bytes that signatures and transcripts cover, defined field by field (not
 * by protobuf, whose encoding is not canonical across implementations):
 * fixed-width big-endian integers, and strings and byte strings after their
 * u32 length.
 */
export class CanonicalWriter {
  private parts: Buffer[] = [];
  u32(n: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n >>> 0);
    this.parts.push(b);
  }
  u64(n: bigint): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt.asUintN(64, n));
    this.parts.push(b);
  }
  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.parts.push(Buffer.from(b));
  }
  str(s: string): void {
    this.bytes(Buffer.from(s, "utf8"));
  }
  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** The canonical encoding of a list of strings and byte strings (each after its u32 length). */
export function canonicalFields(...fields: Array<string | Uint8Array>): Buffer {
  const w = new CanonicalWriter();
  for (const f of fields) {
    if (typeof f === "string") w.str(f);
    else w.bytes(f);
  }
  return w.finish();
}
