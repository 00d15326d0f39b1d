import { VarintReader } from "./envelope-head.js";
import { FrameError } from "./frame-error.js";

/**
 * The bytes of every occurrence of length-delimited field `field` at the top
 * level of the message in `bytes`, in order: views, not copies. For a
 * repeated message field these are its entries exactly as they were sent, so
 * a receiver that also decodes the message can keep each entry's bytes
 * instead of encoding it again. Throws FrameError("BAD_FRAME") on a message
 * that does not parse.
 */
export function fieldSlices(bytes: Uint8Array, field: number): Uint8Array[] {
  const r = new VarintReader(bytes);
  const out: Uint8Array[] = [];
  while (!r.done) {
    const tag = r.varint();
    const wireType = tag % 8;
    if (wireType === 2 && Math.floor(tag / 8) === field) {
      const len = r.varint();
      const end = r.pos + len;
      if (end > bytes.length) throw new FrameError("BAD_FRAME", `field ${field} runs past its message`);
      out.push(bytes.subarray(r.pos, end));
      r.pos = end;
    } else {
      r.skip(wireType);
    }
  }
  return out;
}
