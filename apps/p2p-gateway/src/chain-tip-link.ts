import { ChainTipSchema, Subjects, type ChainTip } from "@timenet/proto";
import type { Bus, BusSubscription } from "@timenet/bus";
import type { Logger } from "@timenet/telemetry";

export interface ChainTipLinkOptions {
  bus: Bus;
  logger: Logger;
  genesisHash: Uint8Array;
  /** Our Hello's best height and hash. */
  setTip(height: number, hash: Uint8Array): void;
  /** Only a tip this fresh is announced: a node catching up does not spam its peers. */
  announceMaxAgeMs: number;
  /** Sends a new tip to every peer as NewBlock (NatsBridge.announceBlock). */
  announce(tip: ChainTip): void;
}

/**
 * Follows the block-store's chain.tip: keeps our Hello's best height current
 * and announces a new, fresh tip to every peer as NewBlock, straight to the
 * bridge (one NATS hop less between a new block and our peers).
 */
export class ChainTipLink {
  private sub: BusSubscription | undefined;
  private height = -1;
  private warnedGenesis = false;

  constructor(private readonly o: ChainTipLinkOptions) {}

  start(): void {
    this.sub = this.o.bus.subscribe(Subjects.chainTip, ChainTipSchema, (t) => this.onTip(t));
  }

  stop(): void {
    this.sub?.unsubscribe();
  }

  private onTip(t: ChainTip): void {
    if (!Buffer.from(t.genesisHash).equals(Buffer.from(this.o.genesisHash))) {
      if (!this.warnedGenesis) {
        this.o.logger.error(
          { store_genesis: Buffer.from(t.genesisHash).toString("hex"), our_genesis: Buffer.from(this.o.genesisHash).toString("hex") },
          "the block-store is on another network than this gateway (NETWORK differs): its tip is ignored",
        );
        this.warnedGenesis = true;
      }
      return;
    }
    const grew = t.height > this.height;
    this.height = t.height;
    this.o.setTip(t.height, t.hash);
    if (!grew || !t.header || Date.now() - Number(t.timestampMs) > this.o.announceMaxAgeMs) return;
    this.o.announce(t);
  }
}
