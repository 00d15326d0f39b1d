import type { Envelope } from "@timenet/proto";
import type { EncodedEnvelope } from "./encoded-envelope.js";

export type EnvelopeKind = NonNullable<Envelope["payload"]["case"]>;

/** Every kind, for metrics that pre-create their label values. */
export const ENVELOPE_KINDS: readonly EnvelopeKind[] = [
  "hello",
  "helloAck",
  "ping",
  "pong",
  "getPeers",
  "peers",
  "getBlocks",
  "blocks",
  "newBlock",
  "tx",
  "goodbye",
];

/** snake_case kind for labels and subjects; "unknown" for a payload this build does not know. */
export function envelopeKindLabel(envelope: Envelope | EncodedEnvelope): string {
  return kindLabel("head" in envelope ? envelope.head.kind : envelope.payload.case);
}

/** The label of a kind read from a frame's head (EnvelopeHead.kind): snake_case, or "unknown". */
export function kindLabel(kind: EnvelopeKind | undefined): string {
  return kind === undefined ? "unknown" : snake(kind);
}

export function snake(kind: string): string {
  return kind.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
