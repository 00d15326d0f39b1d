import { create } from "@bufbuild/protobuf";
import { EnvelopeSchema, PeerRequestErrorCode, PeerRequestSchema, Subjects } from "@timenet/proto";
import type { Bus } from "@timenet/bus";
import type { PeerIp } from "@timenet/net-address";
import { STOPPED, unlessAborted } from "./abortable.js";
import type { FetchResult } from "./batch-outcome.js";
import { decodePeerResponse, MalformedAnswerError, receivedBytes } from "./received-blocks.js";

/** Our gateway's own answer arrives this long after the peer's timeout at the latest. */
const GATEWAY_MARGIN_MS = 2_000;

/**
 * Asks a peer for up to `count` blocks from `from` through our gateway
 * (p2p.request GetBlocks). A peer may answer fewer (its SERVE_MAX_BLOCKS and
 * SERVE_MAX_BYTES caps): that is a short answer, not a failure.
 */
export async function getBlocks(bus: Bus, peer: PeerIp, from: number, count: number, timeoutMs: number, signal: AbortSignal): Promise<FetchResult> {
  let reply;
  try {
    const question = bus.requestEncoded(
      Subjects.peerRequest,
      PeerRequestSchema,
      { peerIp: peer, envelope: create(EnvelopeSchema, { payload: { case: "getBlocks", value: { fromHeight: from, count } } }), timeoutMs },
      { timeoutMs: timeoutMs + GATEWAY_MARGIN_MS },
    );
    // Stopping: the answer no longer matters, and the batch is handed back at once.
    reply = await unlessAborted(question, signal);
  } catch (err) {
    return { kind: "gateway_silent", detail: (err as Error).message };
  }
  if (reply === STOPPED) return { kind: "stopping" };
  let res;
  try {
    // The blocks' bytes as the peer sent them are kept for the put (received-blocks.ts).
    res = decodePeerResponse(reply);
  } catch (err) {
    if (err instanceof MalformedAnswerError) return { kind: "malformed", detail: err.message };
    return { kind: "gateway_silent", detail: `reply does not decode as a PeerResponse: ${(err as Error).message}` };
  }
  if (res.result.case === "error") {
    const { code, message } = res.result.value;
    if (code === PeerRequestErrorCode.TIMEOUT) return { kind: "timeout", detail: message };
    // Our gateway has enough questions out to it already: like the peer's own busy, nothing about the peer.
    if (code === PeerRequestErrorCode.TOO_MANY_REQUESTS) return { kind: "busy" };
    return code === PeerRequestErrorCode.PEER_CLOSED ? { kind: "peer_left", detail: message } : { kind: "peer_unreachable", detail: message };
  }
  const env = res.result.value;
  if (!env || env.payload.case !== "blocks") return { kind: "not_blocks", answered: env?.payload.case ?? "nothing" };
  const blocks = env.payload.value.blocks.slice(0, count);
  if (blocks.length === 0) return env.payload.value.busy ? { kind: "busy" } : { kind: "empty" };
  for (const [i, b] of blocks.entries()) {
    if (b.header?.height !== from + i) return { kind: "out_of_order", index: i, height: b.header?.height };
  }
  return { kind: "blocks", blocks, bytes: blocks.reduce((n, b) => n + receivedBytes(b), 0) };
}
