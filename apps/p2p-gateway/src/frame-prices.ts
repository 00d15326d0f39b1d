import { maxTxBytes } from "@timenet/chain";
import { FIELD_LIMITS, lengthDelimitedBytes, type EnvelopeKind, type ShapeLimit } from "@timenet/wire";

/** What the network's rules allow, from which every kind's price follows. */
export interface FramePriceInputs {
  /** The connection's absolute frame cap (MAX_FRAME_BYTES). */
  maxFrameBytes: number;
  /** The network's largest block (encoded), and most transactions in one. */
  maxBlockBytes: number;
  maxTxs: number;
}

/** Bytes an envelope adds around its payload (request id, tag, length). */
const ENVELOPE_OVERHEAD = 16;
/** Bytes one entry of a repeated message field adds around it (tag, length). */
const ENTRY_OVERHEAD = 6;

/** What a NewBlock's announcement (height, hash, header) may take: a longer NewBlock carries its block (a push). */
export const NEW_BLOCK_ANNOUNCEMENT_BYTES = 1024;

/**
 * The most an encoded envelope of each kind may be, by the protocol's own
 * bounds (FIELD_LIMITS in the wire lib): a Goodbye is at most a kilobyte, a
 * ping sixteen bytes. A frame above its kind's price is refused from its
 * header, before its body is buffered or decoded. Hello and HelloAck have
 * none: they are never frames (a Hello rides in the Noise handshake, within
 * MAX_HELLO_BYTES), and the frame policy refuses both by kind.
 */
const SMALL_PRICES: Partial<Record<EnvelopeKind, number>> = {
  goodbye: 1024,
  ping: 32,
  pong: 32,
  getPeers: 32,
  getBlocks: 32,
  // The announcement (height, hash, header), and a block pushed with it (NewBlock.block, field 4: one tag byte).
  newBlock: NEW_BLOCK_ANNOUNCEMENT_BYTES + lengthDelimitedBytes(FIELD_LIMITS.pushedBlockBytes, 1),
};

/** Addresses in one Peers message (answer or not), and the bytes they may take. */
export const MAX_PEERS_PER_MESSAGE = 1000;
const PEER_ADDRESS_BYTES = 80;

export class FramePrices {
  constructor(private readonly n: FramePriceInputs) {}

  /** The price of a kind that needs no question of ours; undefined for blocks (answers only). */
  of(kind: EnvelopeKind): number | undefined {
    // Exact: a Tx one byte over the network's limit is refused from its header.
    // (Envelope field 19's tag takes two bytes, Tx.data's one.)
    if (kind === "tx") return Math.min(this.n.maxFrameBytes, lengthDelimitedBytes(lengthDelimitedBytes(this.maxTxBytes), 2));
    if (kind === "peers") return Math.min(this.n.maxFrameBytes, MAX_PEERS_PER_MESSAGE * PEER_ADDRESS_BYTES + ENVELOPE_OVERHEAD);
    return SMALL_PRICES[kind];
  }

  /** The network's transaction size limit (what fits one block beside its header). */
  get maxTxBytes(): number {
    return maxTxBytes(this.n);
  }

  get peersShape(): ShapeLimit {
    return { maxFields: MAX_PEERS_PER_MESSAGE };
  }

  /** The answer to our GetBlocks for `count` blocks: at most that many, each at most a full block. */
  blocksAnswer(count: number): Answer {
    const n = Math.max(1, count);
    return {
      kind: "blocks",
      maxBytes: Math.min(this.n.maxFrameBytes, n * (this.n.maxBlockBytes + ENTRY_OVERHEAD) + ENVELOPE_OVERHEAD),
      // A Block is a header and its txs; an empty entry is still one of the n (+1: the busy flag).
      shape: { maxFields: n + 1, nested: { field: 1, limit: { maxFields: 1 + this.n.maxTxs } } },
    };
  }

  /** The answer to our GetPeers asking for `max` addresses. */
  peersAnswer(max: number): Answer {
    const n = Math.min(max > 0 ? max : MAX_PEERS_PER_MESSAGE, MAX_PEERS_PER_MESSAGE);
    return { kind: "peers", maxBytes: Math.min(this.n.maxFrameBytes, n * PEER_ADDRESS_BYTES + ENVELOPE_OVERHEAD), shape: { maxFields: n } };
  }
}


/** What we accept as the answer to one of our questions. */
export interface Answer {
  kind: "blocks" | "peers";
  maxBytes: number;
  shape: ShapeLimit;
}
