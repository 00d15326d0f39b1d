import { hashHex } from "@timenet/chain";
import type { BlockProducerService } from "@timenet/proto";
import type { ServiceImpl } from "@timenet/grpc";
import type { Mempool } from "./mempool.js";
import type { ProducerIdentity } from "./producer-key.js";
import type { Production } from "./production.js";

export interface ProducerServiceDeps {
  identity: ProducerIdentity;
  producers: number;
  mempool: Mempool;
  production: Production;
}

/** The operator's view of the producer. */
export function producerServiceImpl(d: ProducerServiceDeps): ServiceImpl<typeof BlockProducerService> {
  const producerId = hashHex(d.identity.key.publicKey);
  return {
    status() {
      const s = d.production.status();
      return {
        producerId,
        mempoolTxs: d.mempool.size,
        mempoolBytes: BigInt(d.mempool.bytes),
        blocksProduced: BigInt(s.blocksProduced),
        lastHeight: s.lastHeight,
        lastProducedMs: BigInt(s.lastProducedMs),
        nextTurnHeight: s.nextTurnHeight ?? 0,
        tipHeight: s.tipHeight ?? 0,
        producers: d.producers,
        producerIndex: d.identity.index,
      };
    },
  };
}
