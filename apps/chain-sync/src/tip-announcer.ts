import { hashHex } from "@timenet/chain";
import { SendToPeerSchema, Subjects, type BlockStoreService } from "@timenet/proto";
import type { PeerIp } from "@timenet/net-address";
import type { Bus } from "@timenet/bus";
import type { ServiceClient } from "@timenet/grpc";
import type { Logger } from "@timenet/telemetry";
import type { SyncMetrics } from "./metrics.js";
import { rememberRecent } from "./recent-map.js";

export interface TipAnnouncerOptions {
  bus: Bus;
  store: ServiceClient<typeof BlockStoreService>;
  metrics: SyncMetrics;
  logger: Logger;
  /** Peers remembered with the tip last sent to them (the least recent forgotten first). Default 1024. */
  maxPeers?: number;
}

/**
 * A peer that served us a branch our fork choice does not prefer lacks our
 * blocks. Our gateway announces a tip only when it grows, so a node whose
 * chain stopped growing (no producer of its own on that branch) would never
 * tell it: we send it our tip, as a NewBlock, once per tip, and its
 * chain-sync probes it (ForkProbes) and lets its store's fork choice decide.
 */
export class TipAnnouncer {
  private readonly sent = new Map<PeerIp, string>();
  private readonly maxPeers: number;

  constructor(private readonly o: TipAnnouncerOptions) {
    this.maxPeers = o.maxPeers ?? 1024;
  }

  async announceTo(ip: PeerIp): Promise<void> {
    let tip;
    try {
      tip = (await this.o.store.getTip({}, { deadlineMs: 5_000 })).tip;
    } catch (err) {
      this.o.metrics.tipsAnnounced.inc({ result: "store_failed" });
      this.o.logger.warn({ peer_ip: ip, err: (err as Error).message }, "our tip not sent to a peer on a branch we do not prefer: the block-store did not answer");
      return;
    }
    if (!tip?.header) return void this.o.metrics.tipsAnnounced.inc({ result: "store_failed" });
    const hex = hashHex(tip.hash);
    if (this.sent.get(ip) === hex) return void this.o.metrics.tipsAnnounced.inc({ result: "already_sent" });
    rememberRecent(this.sent, ip, hex, this.maxPeers);
    const ok = this.o.bus.publish(Subjects.peerOutSend, SendToPeerSchema, {
      peerIp: ip,
      envelope: { payload: { case: "newBlock", value: { height: tip.height, hash: tip.hash, header: tip.header } } },
    });
    this.o.metrics.tipsAnnounced.inc({ result: ok ? "sent" : "bus_failed" });
    this.o.logger.info({ peer_ip: ip, height: tip.height, hash: hex }, "our tip sent to a peer that served a branch we do not prefer");
  }

  /** Forgets a peer (its connection ended): a new connection is told again. */
  forget(ip: PeerIp): void {
    this.sent.delete(ip);
  }
}
