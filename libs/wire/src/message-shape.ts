import { FrameError } from "./frame-error.js";
import { VarintReader } from "./envelope-head.js";

/**
 * How many fields a message may hold, and, for one length-delimited field,
 * the limit of each nested message in it. Checked by a scan that allocates
 * nothing and stops at the first excess, so the cost of refusing a message
 * stuffed with millions of empty entries is bounded by the limit, not by the
 * message's size; decoding (which allocates an object per entry) only
 * follows a scan that passed.
 */
export interface ShapeLimit {
  maxFields: number;
  nested?: { field: number; limit: ShapeLimit };
}

/**
 * Throws FrameError("BAD_FRAME") when the message in bytes[start, end)
 * exceeds its shape limit; returns how many entries of the nested field it
 * holds (0 without a nested limit).
 */
export function checkShape(bytes: Uint8Array, start: number, end: number, limit: ShapeLimit, path = "payload"): number {
  const r = new VarintReader(bytes.subarray(start, end));
  let fields = 0;
  let entries = 0;
  while (!r.done) {
    if (++fields > limit.maxFields) throw new FrameError("BAD_FRAME", `${path}: more than ${limit.maxFields} fields`);
    const tag = r.varint();
    const wireType = tag % 8;
    if (limit.nested && wireType === 2 && Math.floor(tag / 8) === limit.nested.field) {
      const len = r.varint();
      const from = start + r.pos;
      if (from + len > end) throw new FrameError("BAD_FRAME", `${path}: field runs past its message`);
      checkShape(bytes, from, from + len, limit.nested.limit, `${path}.${limit.nested.field}[${fields - 1}]`);
      r.pos += len;
      entries++;
    } else {
      r.skip(wireType);
    }
  }
  return entries;
}
