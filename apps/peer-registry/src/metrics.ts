import { Counter, Gauge, type Registry } from "prom-client";

/** Per-state counts, read from the book when Prometheus scrapes. */
export interface BookCounts {
  connected: number;
  disconnected: number;
  banned: number;
  size: number;
}

/**
 * Every metric of the registry, created in one place. Labels are enums
 * (state, reason, kind, result): never an IP.
 */
export class RegistryMetrics {
  readonly peers: Gauge<"state">;
  readonly bookSize: Gauge;
  readonly bans: Counter<"reason">;
  readonly unbans: Counter<"reason">;
  readonly offences: Counter<"kind" | "severity">;
  readonly dialAttempts: Counter<"why">;
  readonly dialFailures: Counter<"reason">;
  readonly redialsDeferred: Counter<"reason">;
  readonly forgotten: Counter<"reason">;
  readonly candidates: Counter<"result">;
  readonly exchangeSources: Gauge;
  readonly portCorrections: Counter<"was">;
  readonly clipped: Counter<"field">;
  readonly peerExchangeRequests: Counter<"result">;
  readonly gatewayState: Counter<"change">;
  readonly policyPublishes: Counter<"result">;
  readonly listenerErrors: Counter<"event">;

  constructor(registry: Registry, counts: () => BookCounts) {
    const r = [registry];
    this.peers = new Gauge({
      name: "timenet_registry_peers",
      help: "Peers in the book by state (connected equals the gateway's established connections)",
      labelNames: ["state"],
      registers: r,
      collect() {
        const c = counts();
        this.set({ state: "connected" }, c.connected);
        this.set({ state: "disconnected" }, c.disconnected);
        this.set({ state: "banned" }, c.banned);
      },
    });
    this.bookSize = new Gauge({
      name: "timenet_registry_book_size",
      help: "Entries in the peer book (one per IP)",
      registers: r,
      collect() {
        this.set(counts().size);
      },
    });
    this.bans = new Counter({ name: "timenet_registry_bans_total", help: "Bans imposed, by reason (offence kind, score, operator)", labelNames: ["reason"], registers: r });
    this.unbans = new Counter({ name: "timenet_registry_unbans_total", help: "Bans lifted: expired, operator, allow_listed, or evicted (lifted early to keep MAX_BANS)", labelNames: ["reason"], registers: r });
    this.offences = new Counter({ name: "timenet_registry_offences_total", help: "Offences received, by kind and severity", labelNames: ["kind", "severity"], registers: r });
    this.dialAttempts = new Counter({ name: "timenet_registry_dial_attempts_total", help: "Dials asked of the gateway: persistent (configured) or fill (towards the outbound target)", labelNames: ["why"], registers: r });
    this.dialFailures = new Counter({
      name: "timenet_registry_dial_failures_total",
      help: "Dials that failed, by reason (socket error, handshake reason, no_answer, stale_address: a port the record no longer holds)",
      labelNames: ["reason"],
      registers: r,
    });
    this.redialsDeferred = new Counter({
      name: "timenet_registry_redials_deferred_total",
      help: "Due redials held back, once per hold, by reason (same_node_connected: its node is connected under another IP)",
      labelNames: ["reason"],
      registers: r,
    });
    this.forgotten = new Counter({
      name: "timenet_registry_forgotten_total",
      help: "Book entries removed: given_up (dial failures), unverified (a peer-exchange address that never answered as a peer), evicted (book full); given_up_judged: only the address of a judged IP was dropped",
      labelNames: ["reason"],
      registers: r,
    });
    this.candidates = new Counter({
      name: "timenet_registry_peer_exchange_candidates_total",
      help: "Addresses learned from peer exchange: accepted, or rejected (known, invalid, private, self, rate_limited, book_full)",
      labelNames: ["result"],
      registers: r,
    });
    this.exchangeSources = new Gauge({ name: "timenet_registry_peer_exchange_sources", help: "Telling peers whose candidate budget is remembered (bounded by PEER_EXCHANGE_SOURCES)", registers: r });
    this.portCorrections = new Counter({
      name: "timenet_registry_port_corrections_total",
      help: "Ports replaced by the peer's own Hello, by what the replaced one was: unverified (a peer-exchange claim) or verified",
      labelNames: ["was"],
      registers: r,
    });
    this.clipped = new Counter({ name: "timenet_registry_clipped_fields_total", help: "Peer-supplied fields cut to their limit before the book stored them, by field", labelNames: ["field"], registers: r });
    this.peerExchangeRequests = new Counter({ name: "timenet_registry_peer_exchange_requests_total", help: "GetPeers: answered (to peers) and asked (of peers) by result", labelNames: ["result"], registers: r });
    this.gatewayState = new Counter({
      name: "timenet_registry_gateway_state_total",
      help: "Changes read from the gateway's connection state: connected, disconnected, end_missed (ended unseen: our restart, never the peer's fault), gateway_restarted, invalid",
      labelNames: ["change"],
      registers: r,
    });
    this.policyPublishes = new Counter({ name: "timenet_registry_admission_policy_publishes_total", help: "Admission policies written for the gateway: ok, error (retried)", labelNames: ["result"], registers: r });
    this.listenerErrors = new Counter({ name: "timenet_registry_listener_errors_total", help: "In-process event listeners that threw (a bug; the event went on to the others)", labelNames: ["event"], registers: r });
  }
}
