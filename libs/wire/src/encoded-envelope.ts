import { peekEnvelopeHead, type EnvelopeHead } from "./envelope-head.js";

/**
 * An Envelope kept as its encoding (a peer's frame body, or an answer our own
 * store built from stored block bytes), sent on without being decoded and
 * encoded again. Its head has been read, so it is in canonical form (the
 * only form a peer accepts) and its kind is known.
 */
export interface EncodedEnvelope {
  readonly body: Uint8Array;
  readonly head: EnvelopeHead;
}

/** Reads the head of an encoded Envelope; throws FrameError("BAD_FRAME") for one not in canonical form. */
export function encodedEnvelope(body: Uint8Array): EncodedEnvelope {
  return { body, head: peekEnvelopeHead(body, body.length) };
}

export function isEncodedEnvelope(e: object): e is EncodedEnvelope {
  return "body" in e && "head" in e;
}
