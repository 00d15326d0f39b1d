import { FrameError, kindLabel, type EnvelopeHead, type FrameVerdict, type ShapeLimit } from "@timenet/wire";
import { NEW_BLOCK_ANNOUNCEMENT_BYTES, type Answer, type FramePrices } from "./frame-prices.js";
import type { LimitVerdict } from "./peer-rate-limits.js";

/** What the policy needs to know about its connection when a frame's head arrives. */
export interface FramePolicyContext {
  /** Goodbye only, until the handshake completed. */
  established(): boolean;
  /** The answer we wait for under this request id, if any. */
  expectedAnswer(requestId: number): Answer | undefined;
  /** We asked under this id and stopped waiting: an answer now is late, not unsolicited. */
  askedLately(requestId: number): boolean;
  /** The per-peer rate limits (count and bytes) for a message we did not ask for. */
  limit(kind: string, size: number): LimitVerdict;
  /** The peer is over its limits for good (one offence per emptied abuse bucket). */
  abuse(kind: string): void;
  /** A GetBlocks with this request id was over the peer's rate limit and is skipped unread: it is answered busy (bounded). */
  overLimitQuestion(requestId: number): void;
}

const DECODE = { action: "decode" } as const;
/** The largest frame of a kind this build does not know that is skipped rather than refused. */
const MAX_UNKNOWN_KIND_BYTES = 64 * 1024;
/** Before the handshake completed (the Hellos ride in the Noise handshake; it completes as the channel opens), only a refusal. */
const HANDSHAKE_KINDS = new Set(["goodbye"]);

/**
 * Prices every incoming frame from its length and head, before its body is
 * buffered or decoded: the one place that says what a connection accepts in
 * each phase. Before the handshake only Goodbye, a few hundred bytes; Hello
 * and HelloAck never (since protocol 3 the Hellos ride in the Noise
 * handshake); after it every kind within its price; `Blocks` (and
 * large `Peers`) only as the answer to our own question and within what we
 * asked (Blocks then forwarded to the asker undecoded, their shape checked;
 * a late answer is skipped unread; Blocks never asked for close the
 * connection); unknown kinds up to 64 KiB and frames over the peer's rate
 * limits are skipped unread (their bytes are discarded as they arrive), a
 * GetBlocks among them answered busy; a pushed block over the pushes' own
 * budget is skipped unread behind its announcement, which is read.
 */
export function inboundFrameAdmission(prices: FramePrices, ctx: FramePolicyContext): (head: EnvelopeHead, bodyLength: number) => FrameVerdict {
  return (head, bodyLength) => {
    const kind = head.kind;
    const label = kindLabel(kind);
    if (!ctx.established()) {
      if (kind === undefined || !HANDSHAKE_KINDS.has(kind)) return new FrameError("UNEXPECTED_FRAME", `${label} before the handshake completed`);
      return priced(label, bodyLength, prices.of(kind)!);
    }
    if (kind === "hello" || kind === "helloAck") return new FrameError("UNEXPECTED_FRAME", `${label} as a frame (the Hellos ride in the Noise handshake)`);
    // No payload at all means nothing in any version of the protocol (an unknown kind has a field number).
    if (head.field === 0) return new FrameError("UNEXPECTED_FRAME", "an envelope without a payload");
    if (head.requestId !== 0 && (kind === "blocks" || kind === "peers")) {
      const answer = ctx.expectedAnswer(head.requestId);
      // Our own question's answer: priced by what we asked, never rate limited.
      if (answer && answer.kind === kind) {
        if (bodyLength > answer.maxBytes) return new FrameError("FRAME_TOO_LARGE", `${label} answer of ${bodyLength} bytes, we asked for at most ${answer.maxBytes}`);
        // Blocks are only carried on to the asker, which decodes them (and applies their field rules): not decoded here too.
        return { action: kind === "blocks" ? "forward" : "decode", shape: answer.shape };
      }
    }
    if (kind === "blocks") {
      // A late answer (we stopped waiting) is skipped unread; Blocks nobody
      // asked for are the peer's own doing, refused from the header (it must
      // not make us decrypt megabytes to skip them).
      if (head.requestId === 0 || !ctx.askedLately(head.requestId)) return new FrameError("UNEXPECTED_FRAME", "blocks nobody asked for");
    }
    // A later protocol's kind is skipped unread, but never a large one.
    if (kind === undefined && bodyLength > MAX_UNKNOWN_KIND_BYTES) return new FrameError("FRAME_TOO_LARGE", `unknown kind (field ${head.field}) of ${bodyLength} bytes`);
    // A NewBlock longer than an announcement carries its block: limited apart, by what decoding and passing it on cost.
    const limited = kind === "newBlock" && bodyLength > NEW_BLOCK_ANNOUNCEMENT_BYTES ? "new_block_push" : label;
    const verdict = ctx.limit(limited, bodyLength + 4);
    if (verdict === "abuse") ctx.abuse(label);
    if (verdict === "announce_only") {
      // Over the pushes' budget: the announcement in front is read, the block behind it skipped unread (never decoded).
      const price = priced(label, bodyLength, prices.of("newBlock")!);
      return price instanceof FrameError ? price : { action: "prefix", bytes: head.payloadOffset + NEW_BLOCK_ANNOUNCEMENT_BYTES, why: "push_over_limit" };
    }
    if (verdict !== "ok") {
      // Unanswered, an honest asker (another version, another limit) would wait out its timeout and blame us for it.
      if (kind === "getBlocks" && head.requestId !== 0) ctx.overLimitQuestion(head.requestId);
      return { action: "skip", why: "rate_limited" };
    }
    if (kind === "blocks") return { action: "skip", why: "late" };
    if (kind === undefined) return { action: "skip", why: "unknown_kind" };
    if (kind === "peers") return priced(label, bodyLength, prices.of(kind)!, prices.peersShape);
    return priced(label, bodyLength, prices.of(kind)!);
  };
}

function priced(label: string, bodyLength: number, price: number, shape?: ShapeLimit): FrameVerdict {
  if (bodyLength > price) return new FrameError("FRAME_TOO_LARGE", `${label} of ${bodyLength} bytes, at most ${price}`);
  return shape ? { action: "decode", shape } : DECODE;
}
