import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/**
 * Every metric of the gateway, created in one place and passed to the parts
 * that update them. Labels are bounded: reasons and kinds are enums, and the
 * `peer` label is an IP only for peers named in configuration, else "other".
 */
export class GatewayMetrics {
  readonly peers: Gauge<"direction">;
  readonly sockets: Gauge;
  readonly connectionLifetime: Histogram<"direction">;
  readonly connects: Counter<"direction" | "peer">;
  readonly disconnects: Counter<"reason" | "initiator" | "direction" | "peer">;
  readonly pingsSent: Counter<"peer">;
  readonly pongsReceived: Counter<"peer">;
  readonly pongsMissed: Counter<"peer">;
  readonly rtt: Histogram<"peer">;
  readonly frames: Counter<"kind" | "direction">;
  readonly bytes: Counter<"kind" | "direction">;
  readonly handshakeFailures: Counter<"reason">;
  readonly authenticationFailures: Counter<"stage" | "peer">;
  readonly duplicatesResolved: Counter<"rule" | "kept">;
  readonly natsPublishErrors: Counter<"subject">;
  readonly dialAttempts: Counter<"peer">;
  readonly dialFailures: Counter<"reason" | "peer">;
  readonly acceptRefused: Counter<"reason">;
  readonly evictions: Counter<"state">;
  readonly readPauses: Counter;
  readonly closesCutShort: Counter;
  readonly gossip: Counter<"kind" | "result">;
  readonly newBlocksSent: Counter<"how">;
  readonly newBlocksWithheld: Counter;
  readonly dropped: Counter<"reason">;
  readonly offences: Counter<"kind">;
  readonly peerRequests: Counter<"result">;
  readonly rateLimited: Counter<"kind">;
  readonly busyAnswers: Counter<"result">;
  readonly framesSkipped: Counter<"kind" | "why">;
  readonly decodeSecondsTotal: Counter<"kind">;
  readonly dialRequests: Counter<"result">;
  readonly admissionPolicyVersion: Gauge;
  readonly bannedIps: Gauge;
  readonly stateWrites: Counter<"result">;
  readonly stateQueue: Gauge;
  readonly listenerErrors: Counter<"event">;
  readonly clockOffset: Gauge;
  readonly clockPeers: Gauge;
  readonly clockSuspect: Gauge;
  readonly sourceIpMasked: Gauge;
  /** Brings the clock gauges up to date; called at every scrape (set by the gateway's ClockOffsets). */
  refreshClock: () => void = () => undefined;

  /** Labelled counter children used for every frame, made once: a label lookup per frame is what a flood of tiny frames costs. */
  private readonly children = new Map<string, { inc(n?: number): void }>();

  private child(key: string, make: () => { inc(n?: number): void }): { inc(n?: number): void } {
    let c = this.children.get(key);
    if (!c) this.children.set(key, (c = make()));
    return c;
  }

  /** Counts one frame. */
  traffic(kind: string, direction: "in" | "out", bytes: number): void {
    this.child(`frames/${kind}/${direction}`, () => this.frames.labels({ kind, direction })).inc();
    this.child(`bytes/${kind}/${direction}`, () => this.bytes.labels({ kind, direction })).inc(bytes);
  }

  /** Counts a frame skipped unread. */
  skipped(kind: string, why: string): void {
    this.child(`skipped/${kind}/${why}`, () => this.framesSkipped.labels({ kind, why })).inc();
  }

  /** CPU spent decoding a peer's frame. */
  decodeSeconds(kind: string, seconds: number): void {
    this.child(`decode/${kind}`, () => this.decodeSecondsTotal.labels({ kind })).inc(seconds);
  }

  constructor(registry: Registry) {
    const r = [registry];
    this.peers = new Gauge({ name: "timenet_gateway_peers", help: "Established peer connections (one per IP) by direction", labelNames: ["direction"], registers: r });
    this.sockets = new Gauge({ name: "timenet_gateway_sockets", help: "Open peer TCP sockets, including handshaking and closing ones", registers: r });
    this.connectionLifetime = new Histogram({
      name: "timenet_gateway_connection_lifetime_seconds",
      help: "How long established connections lived, observed when they close",
      labelNames: ["direction"],
      buckets: [1, 10, 30, 90, 300, 900, 3600, 4 * 3600, 24 * 3600, 7 * 24 * 3600],
      registers: r,
    });
    this.connects = new Counter({ name: "timenet_gateway_connects_total", help: "Connections that completed the handshake and were kept", labelNames: ["direction", "peer"], registers: r });
    this.disconnects = new Counter({
      name: "timenet_gateway_disconnects_total",
      help: "Closed connections by reason; initiator is local (we closed) or peer (it closed or said Goodbye)",
      labelNames: ["reason", "initiator", "direction", "peer"],
      registers: r,
    });
    this.pingsSent = new Counter({ name: "timenet_gateway_pings_sent_total", help: "Pings sent", labelNames: ["peer"], registers: r });
    this.pongsReceived = new Counter({ name: "timenet_gateway_pongs_received_total", help: "Pongs that matched an outstanding ping", labelNames: ["peer"], registers: r });
    this.pongsMissed = new Counter({ name: "timenet_gateway_pongs_missed_total", help: "Pings whose pong never came", labelNames: ["peer"], registers: r });
    this.rtt = new Histogram({
      name: "timenet_gateway_rtt_seconds",
      help: "Ping round-trip time",
      labelNames: ["peer"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: r,
    });
    this.frames = new Counter({ name: "timenet_gateway_frames_total", help: "Frames by envelope kind and direction (in, out)", labelNames: ["kind", "direction"], registers: r });
    this.bytes = new Counter({ name: "timenet_gateway_bytes_total", help: "Bytes on the wire by envelope kind and direction (in, out)", labelNames: ["kind", "direction"], registers: r });
    this.handshakeFailures = new Counter({ name: "timenet_gateway_handshake_failures_total", help: "Handshakes that failed, by reason", labelNames: ["reason"], registers: r });
    this.authenticationFailures = new Counter({
      name: "timenet_gateway_authentication_failures_total",
      help: "Connections closed because the encrypted channel failed (stage handshake: the Noise handshake or preamble; transport: a message that did not authenticate). Never counted against the peer: bytes changed on the path look the same",
      labelNames: ["stage", "peer"],
      registers: r,
    });
    this.duplicatesResolved = new Counter({
      name: "timenet_gateway_duplicates_resolved_total",
      help: "Second sockets to one IP resolved: which rule decided and whether the existing or the new socket was kept",
      labelNames: ["rule", "kept"],
      registers: r,
    });
    this.natsPublishErrors = new Counter({ name: "timenet_gateway_nats_publish_errors_total", help: "Failed publishes to NATS by subject", labelNames: ["subject"], registers: r });
    this.dialAttempts = new Counter({ name: "timenet_gateway_dial_attempts_total", help: "Outbound dials started", labelNames: ["peer"], registers: r });
    this.dialFailures = new Counter({ name: "timenet_gateway_dial_failures_total", help: "Outbound dials that failed before a socket opened (socket error), were refused at our own socket cap (too_many_connections), or were dropped as it opened (banned: the IP was banned while it connected)", labelNames: ["reason", "peer"], registers: r });
    this.acceptRefused = new Counter({ name: "timenet_gateway_accept_refused_total", help: "Inbound sockets refused at accept, before any handshake byte: a disconnect reason (banned, too_many_connections, shutdown) or accept_rate_ip / accept_rate_subnet", labelNames: ["reason"], registers: r });
    this.gossip = new Counter({ name: "timenet_gateway_gossip_total", help: "Gossip received: Tx relayed (first sight), NewBlock announced (first from that peer; never relayed), duplicate, or push_not_next (a pushed block that does not extend our tip: published without it)", labelNames: ["kind", "result"], registers: r });
    this.newBlocksSent = new Counter({
      name: "timenet_gateway_new_blocks_sent_total",
      help: "Our new tips sent to peers as NewBlock, by how: pushed (with the block), paced (without: over PUSH_PACE towards that peer), beyond_fanout (without: BLOCK_PUSH_FANOUT peers had it pushed) or announced (without: larger than BLOCK_PUSH_MAX_BYTES)",
      labelNames: ["how"],
      registers: r,
    });
    // Shown at 0 from the start (dashboards), not "no data" until our first new tip.
    this.newBlocksSent.inc({ how: "pushed" }, 0);
    this.newBlocksSent.inc({ how: "paced" }, 0);
    this.newBlocksSent.inc({ how: "beyond_fanout" }, 0);
    this.newBlocksWithheld = new Counter({
      name: "timenet_gateway_new_blocks_withheld_total",
      help: "Our new tips not sent to a peer because it announced that block to us first: it holds it",
      registers: r,
    });
    this.dropped = new Counter({ name: "timenet_gateway_dropped_messages_total", help: "Messages dropped: no such peer, connection gone, unknown kind", labelNames: ["reason"], registers: r });
    this.offences = new Counter({ name: "timenet_gateway_offences_total", help: "Offences reported to the registry, by kind", labelNames: ["kind"], registers: r });
    this.peerRequests = new Counter({ name: "timenet_gateway_peer_requests_total", help: "p2p.request questions to peers by result", labelNames: ["result"], registers: r });
    this.rateLimited = new Counter({ name: "timenet_gateway_rate_limited_total", help: "Peer messages dropped for exceeding the per-peer rate limit, by kind (new_block_push: a NewBlock carrying its block, over RATE_LIMIT_PUSHES, its block dropped and its announcement read, or over the gossip limits)", labelNames: ["kind"], registers: r });
    this.busyAnswers = new Counter({
      name: "timenet_gateway_busy_answers_total",
      help: "GetBlocks over a peer's rate limit: answered busy (sent), or beyond twice the limit skipped unanswered (skipped)",
      labelNames: ["result"],
      registers: r,
    });
    for (const result of ["sent", "skipped"]) this.busyAnswers.inc({ result }, 0);
    this.readPauses = new Counter({
      name: "timenet_gateway_read_pauses_total",
      help: "Times a peer's socket was not read for a while (TCP holds the sender back), by budget: peer (it sent more unread, skipped frames than its own budget) or node (every peer together sent more unasked bytes than the node's budget, and this one more than its fair share); peer is the IP if named in configuration, else other",
      labelNames: ["budget", "peer"],
      registers: r,
    });
    for (const budget of ["peer", "node"]) this.readPauses.inc({ budget, peer: "other" }, 0);
    this.closesCutShort = new Counter({
      name: "timenet_gateway_closes_cut_short_total",
      help: "Sockets we had closed that were destroyed before the peer's FIN because it sent more than 64 KiB after our close (not read any further)",
      registers: r,
    });
    this.evictions = new Counter({
      name: "timenet_gateway_evictions_total",
      help: "Inbound connections closed (EVICTED) to make room for a newcomer when every slot was taken, by state: handshaking (still in its handshake after HANDSHAKE_EVICTABLE_AFTER; closed first) or established (eviction's choice)",
      labelNames: ["state"],
      registers: r,
    });
    for (const state of ["handshaking", "established"]) this.evictions.inc({ state }, 0);
    this.framesSkipped = new Counter({
      name: "timenet_gateway_frames_skipped_total",
      help: "Peer frames discarded unread (never buffered or decoded), by kind and why: rate_limited, late (an answer after we stopped waiting), unknown_kind, push_over_limit (a pushed block over the push budget; its announcement is read)",
      labelNames: ["kind", "why"],
      registers: r,
    });
    this.decodeSecondsTotal = new Counter({ name: "timenet_gateway_decode_seconds_total", help: "CPU seconds spent decoding peer frames, by kind (decode work peers cost us)", labelNames: ["kind"], registers: r });
    this.dialRequests = new Counter({
      name: "timenet_gateway_dial_requests_total",
      help: "registry.dial requests: dialled, or skipped (already_connected, already_dialing, self, banned, bad_request)",
      labelNames: ["result"],
      registers: r,
    });
    this.admissionPolicyVersion = new Gauge({ name: "timenet_gateway_admission_policy_version", help: "Version of the registry's admission policy in force (-1: none yet)", registers: r });
    this.bannedIps = new Gauge({ name: "timenet_gateway_banned_ips", help: "IPs banned by the admission policy in force", registers: r });
    this.stateWrites = new Counter({
      name: "timenet_gateway_state_writes_total",
      help: "Writes of the connection set to the P2P_CONNECTIONS bucket: ok, error (retried), resync (queue overflow: rewritten whole)",
      labelNames: ["result"],
      registers: r,
    });
    this.stateQueue = new Gauge({ name: "timenet_gateway_state_queue", help: "Connection-state writes waiting for NATS (0 when the bucket is up to date)", registers: r });
    this.listenerErrors = new Counter({
      name: "timenet_gateway_listener_errors_total",
      help: "Exceptions thrown by in-process event listeners, caught so the emitter (often a socket read) and the other listeners carry on: a gateway bug, never the peer's fault",
      labelNames: ["event"],
      registers: r,
    });
    // Judged afresh at every scrape: our wall clock may have been stepped since the last connection event.
    const collect = () => this.refreshClock();
    this.clockOffset = new Gauge({
      name: "timenet_gateway_clock_offset_seconds",
      help: "Our wall clock minus the median of the connected peers' clocks (from their Hello timestamps); negative: ours is behind. 0 with no peers",
      registers: r,
      collect,
    });
    this.clockPeers = new Gauge({ name: "timenet_gateway_clock_peers", help: "Connected peers whose Hello timestamp is in the clock offset's median", registers: r, collect });
    this.clockSuspect = new Gauge({
      name: "timenet_gateway_clock_suspect",
      help: "1 when our clock looks wrong: at least CLOCK_MIN_PEERS peers sampled and |clock offset| above CLOCK_WARN_OFFSET (check NTP; no peer is penalised for it)",
      registers: r,
      collect,
    });
    this.sourceIpMasked = new Gauge({
      name: "timenet_gateway_source_ip_masked",
      help: "1 when inbound peers' source IPs look replaced by a proxy (several peers from one private address, e.g. Docker's userland-proxy); /readyz fails too. Nobody is penalised for it",
      registers: r,
    });
    this.admissionPolicyVersion.set(-1);
    for (const d of ["inbound", "outbound"]) this.peers.set({ direction: d }, 0);
  }
}
