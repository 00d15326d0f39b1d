import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { BlockSchema, type Block } from "@timenet/proto";
import type { EncodedBlocks } from "@timenet/testkit";
import { rememberReceived } from "../src/received-blocks.js";

/**
 * A chain held as its blocks' encodings in one buffer, decoded a run at a
 * time. The bench keeps its whole chain for the raw rate of every round; as
 * 20,000 decoded blocks (~200,000 objects) it made every major GC of the
 * bench's process mark them all, and the in-process replicas paid for it
 * (8 mark-compacts of 60–90 ms each in one 8 s run): a cost no chain-sync
 * process has. A decoded run is put as its bytes (received-blocks.ts).
 */
export class EncodedChain implements EncodedBlocks {
  readonly bytes: Buffer;
  readonly offsets: Uint32Array;

  constructor(blocks: readonly Block[]) {
    const encoded = blocks.map((b) => toBinary(BlockSchema, b));
    this.offsets = new Uint32Array(encoded.length + 1);
    encoded.forEach((e, i) => (this.offsets[i + 1] = this.offsets[i]! + e.length));
    this.bytes = Buffer.concat(encoded);
  }

  get length(): number {
    return this.offsets.length - 1;
  }

  /** Blocks [start, end), decoded. */
  slice(start: number, end: number): Block[] {
    const out: Block[] = [];
    for (let i = start; i < Math.min(end, this.length); i++) {
      const e = this.bytes.subarray(this.offsets[i], this.offsets[i + 1]);
      const block = fromBinary(BlockSchema, e);
      rememberReceived(block, e);
      out.push(block);
    }
    return out;
  }
}
