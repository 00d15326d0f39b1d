import { varintLength, writeVarint } from "./varint.js";

/**
 * Writes `head` (the encoded fields before it, possibly empty) followed by
 * length-delimited field `tag` holding `body`, as one allocation. An
 * embedded message is encoded exactly as length-delimited bytes, so splicing
 * a message's encoding in equals encoding the decoded message again, without
 * the cost: how a peer's answer or a stored block is carried on unchanged.
 * `tag` is the whole tag varint: (field << 3) | 2.
 */
export function withEmbeddedField(head: Uint8Array, tag: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(head.length + varintLength(tag) + varintLength(body.length) + body.length);
  out.set(head, 0);
  let pos = writeVarint(out, head.length, tag);
  pos = writeVarint(out, pos, body.length);
  out.set(body, pos);
  return out;
}

/**
 * The encoding of a repeated length-delimited field `tag` with one entry per
 * body, each entry's bytes as given (a PutBlocksRequest around blocks as
 * they were received). `tag` as in withEmbeddedField.
 */
export function repeatedEmbeddedField(tag: number, entries: readonly Uint8Array[]): Uint8Array {
  const tagBytes = varintLength(tag);
  const out = new Uint8Array(entries.reduce((n, e) => n + tagBytes + varintLength(e.length) + e.length, 0));
  let pos = 0;
  for (const e of entries) {
    pos = writeVarint(out, pos, tag);
    pos = writeVarint(out, pos, e.length);
    out.set(e, pos);
    pos += e.length;
  }
  return out;
}
