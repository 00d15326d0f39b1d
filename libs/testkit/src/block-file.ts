import { readFileSync, writeFileSync } from "node:fs";

/**
 * Encoded blocks in one buffer and where each begins: entry i is
 * bytes[offsets[i], offsets[i + 1]). How a bench holds a long chain without
 * its decoded objects, and hands it to another process.
 */
export interface EncodedBlocks {
  readonly bytes: Buffer;
  readonly offsets: Uint32Array;
}

/** File layout: the entry count (u32, big-endian), count + 1 offsets (u32 each), then the bytes. */
export function writeBlockFile(path: string, chain: EncodedBlocks): void {
  const count = chain.offsets.length - 1;
  const head = Buffer.alloc(4 * (count + 2));
  head.writeUInt32BE(count, 0);
  chain.offsets.forEach((o, i) => head.writeUInt32BE(o, 4 * (i + 1)));
  writeFileSync(path, Buffer.concat([head, chain.bytes]));
}

export function readBlockFile(path: string): EncodedBlocks {
  const file = readFileSync(path);
  const count = file.readUInt32BE(0);
  const offsets = new Uint32Array(count + 1);
  for (let i = 0; i <= count; i++) offsets[i] = file.readUInt32BE(4 * (i + 1));
  const bytes = file.subarray(4 * (count + 2));
  if (bytes.length !== offsets[count]) throw new Error(`${path}: ${bytes.length} bytes of blocks, its offsets say ${offsets[count]}`);
  return { bytes, offsets };
}
