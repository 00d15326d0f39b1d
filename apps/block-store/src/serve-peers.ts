import { PeerMessageSchema, SendToPeerSchema, Subjects, type Block } from "@timenet/proto";
import type { Bus, BusSubscription } from "@timenet/bus";
import type { Logger } from "@timenet/telemetry";
import type { BlockStore } from "./block-store.js";
import type { StoreMetrics } from "./metrics.js";

export interface PeerServerDeps {
  bus: Bus;
  store: BlockStore;
  metrics: StoreMetrics;
  logger: Logger;
  maxBlocks: number;
  /** Bytes of the encoded Blocks message; the first block is sent whatever its size. */
  maxBytes: number;
}

/** Bytes one block adds to a `repeated Block` field: tag, length varint, body. */
function entryBytes(bodyLength: number): number {
  let varint = 1;
  for (let n = bodyLength; n >= 0x80; n = Math.floor(n / 0x80)) varint++;
  return 1 + varint + bodyLength;
}

/**
 * Answers peers' GetBlocks (arriving from the gateway on p2p.in.get_blocks)
 * with main-chain blocks, on the connection the request came in on, with the
 * request's id. Replicas share the work through the queue group.
 */
export function servePeers(d: PeerServerDeps): BusSubscription {
  const { bus, store, metrics, logger } = d;
  return bus.subscribe(
    Subjects.peerIn("get_blocks"),
    PeerMessageSchema,
    (m) => {
      const p = m.envelope?.payload;
      if (p?.case !== "getBlocks") return;
      const blocks: Block[] = [];
      let bytes = 0;
      for (const { block, encoded } of store.mainChain(p.value.fromHeight, Math.min(p.value.count, d.maxBlocks))) {
        const size = entryBytes(encoded.length);
        if (blocks.length > 0 && bytes + size > d.maxBytes) break;
        blocks.push(block);
        bytes += size;
      }
      const sent = bus.publish(Subjects.peerOutSend, SendToPeerSchema, {
        peerIp: m.peerIp,
        connId: m.connId,
        envelope: { requestId: m.envelope!.requestId, payload: { case: "blocks", value: { blocks } } },
      });
      if (sent) metrics.blocksServed.inc(blocks.length);
      logger.debug(
        { peer_ip: m.peerIp, conn_id: m.connId, from_height: p.value.fromHeight, count: p.value.count, sent: blocks.length, bytes },
        "answered GetBlocks",
      );
    },
    { queue: "block-store" },
  );
}
