import { peerTipOf, StateKeys, type GatewayStateValue } from "@timenet/proto";
import { isValidIp, normalizeIp, type PeerIp } from "@timenet/net-address";
import type { StateChange } from "@timenet/bus";
import type { PeerHeights } from "./peer-heights.js";

/**
 * Who is connected, from the gateway's published state (bucket
 * P2P_CONNECTIONS): each established connection of the gateway's current run
 * brings its peer's height into PeerHeights (the highest block it announced
 * since its Hello, else the Hello's: a replica that starts late, or whose
 * NATS was away when an announcement came, still knows it), and its end (or
 * a new gateway run) takes it out. Read whole at start, then followed; the
 * gateway is never asked.
 */
export class ConnectedPeers {
  private runId = "";
  /** Each live peer's connection id: a new connection under the same IP starts its entry afresh. */
  private readonly live = new Map<PeerIp, number>();

  constructor(
    private readonly heights: PeerHeights,
    /** Only peers on our chain: another genesis's height means nothing to us. */
    private readonly genesisHex: string,
    /** Something changed that the planner should look at. */
    private readonly onChange: () => void,
    /** A new connection's peer and the tip its Hello names (a branch the sync by height may never fetch: see ForkProbes); and a peer gone. */
    private readonly tips?: { seen(ip: PeerIp, height: number, hash: Uint8Array): void; gone(ip: PeerIp): void },
  ) {}

  apply(change: StateChange<GatewayStateValue>): void {
    if (change.op === "delete") {
      const ip = StateKeys.ipOf(change.key);
      if (ip !== undefined && isValidIp(ip)) this.drop(normalizeIp(ip));
      return;
    }
    const v = change.value;
    if ("run" in v) {
      const id = Buffer.from(v.run.runId).toString("hex");
      if (id === this.runId) return;
      this.runId = id;
      // A new gateway run: the previous run's connections are gone.
      for (const ip of [...this.live.keys()]) this.drop(ip);
      return;
    }
    const s = v.connection;
    if (!isValidIp(s.ip) || Buffer.from(s.runId).toString("hex") !== this.runId) return;
    const ip = normalizeIp(s.ip);
    if (change.key !== StateKeys.connection(ip)) return;
    if (s.ended || !s.hello || Buffer.from(s.hello.genesisHash).toString("hex") !== this.genesisHex) {
      this.drop(ip);
      return;
    }
    // What a peer did on its previous connection (a losing branch served, say) is not carried into this one.
    const held = this.live.get(ip);
    if (held !== undefined && held !== s.connId) this.drop(ip);
    // The peer's tip as the gateway last wrote it: the highest block it announced since its Hello, else the Hello's.
    const { height, hash } = peerTipOf(s)!;
    // What this replica already holds of the peer (its announcements heard live), for a connection it knows.
    const before = held === s.connId ? this.heights.heightOf(ip) : undefined;
    this.live.set(ip, s.connId);
    this.heights.set(ip, height);
    // A new connection's tip, or a block it announced that this replica did not hear (it started later, or its NATS was away).
    if (before === undefined || height > before) this.tips?.seen(ip, height, hash);
    this.onChange();
  }

  private drop(ip: PeerIp): void {
    this.live.delete(ip);
    this.heights.remove(ip);
    this.tips?.gone(ip);
  }
}
