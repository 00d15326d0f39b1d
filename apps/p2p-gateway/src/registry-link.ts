import { fromBinary } from "@bufbuild/protobuf";
import {
  AdmissionPolicySchema,
  Buckets,
  DialFailedSchema,
  DialRequestSchema,
  Direction,
  DisconnectReason,
  DisconnectReasonSchema,
  enumLabel,
  StateKeys,
  Subjects,
  type AdmissionPolicy,
} from "@timenet/proto";
import { isValidIp, normalizeIp, type PeerIp } from "@timenet/net-address";
import { StateBucket, type Bus, type BusSubscription, type StateWatch } from "@timenet/bus";
import type { Logger, PeerLabeler } from "@timenet/telemetry";
import type { AdmissionControl } from "./admission.js";
import type { ConnectionManager, DialError } from "./connection-manager.js";
import type { GatewayMetrics } from "./metrics.js";
import type { CloseInfo, PeerConnection } from "./peer-connection.js";

export interface RegistryLinkOptions {
  bus: Bus;
  manager: ConnectionManager;
  admission: AdmissionControl;
  metrics: GatewayMetrics;
  logger: Logger;
  labeler: PeerLabeler;
  /** Allow-listed IPs beyond this many do not get their own metrics label. */
  maxNamedPeers: number;
}

/**
 * The gateway's side of the registry contract (proto/timenet/registry/v1):
 * it dials whom the registry says (never an IP it is connected to or already
 * dialling), reports failed attempts, and enforces the admission policy the
 * registry publishes as state (bucket REGISTRY_ADMISSION), closing sockets of
 * IPs that become banned. It never asks the registry anything.
 */
export class RegistryLink {
  private readonly subs: BusSubscription[] = [];
  private policyWatch: StateWatch | undefined;

  constructor(private readonly o: RegistryLinkOptions) {}

  /**
   * Subscribes to dial orders and watches the admission policy. Resolves once
   * the stored policy is in force, or after `waitMs` when none is stored yet
   * (a registry starting beside us writes one shortly).
   */
  async start(waitMs: number): Promise<void> {
    const { bus, manager } = this.o;
    this.subs.push(bus.subscribe(Subjects.registryDial, DialRequestSchema, (m) => this.onDialRequest(m.ip, m.port, m.reason)));
    manager.events.on("dialFailed", (e: { ip: PeerIp; port: number }, err: DialError) =>
      this.publishDialFailed(e.ip, e.port, DisconnectReason.UNSPECIFIED, err.code.toLowerCase(), err.message),
    );
    manager.events.on("closing", (conn: PeerConnection, info: CloseInfo) => {
      // An outbound attempt whose handshake failed is a failed dial; a lost
      // duplicate or our own shutdown is not.
      if (conn.direction !== Direction.OUTBOUND || info.wasEstablished) return;
      if (info.reason === DisconnectReason.DUPLICATE || info.reason === DisconnectReason.SHUTDOWN) return;
      this.publishDialFailed(conn.remoteIp, conn.remotePort, info.reason, "", info.detail);
    });
    const bucket = await StateBucket.follow(bus, Buckets.admission);
    let firstPolicy!: () => void;
    const applied = new Promise<void>((r) => (firstPolicy = r));
    this.policyWatch = await bucket.watch({ key: StateKeys.admissionPolicy, decode: (_key, v) => fromBinary(AdmissionPolicySchema, v) }, (change) => {
      if (change.op !== "put") return;
      this.applyPolicy(change.value);
      firstPolicy();
    });
    await this.policyWatch.initialized;
    if (this.o.admission.hasPolicy || waitMs <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([applied, new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
    clearTimeout(timer);
    if (!this.o.admission.hasPolicy) this.o.logger.warn({ waited_ms: waitMs }, "no admission policy from the peer-registry yet; accepting without bans until it writes one");
  }

  stop(): void {
    this.policyWatch?.stop();
    for (const s of this.subs) s.unsubscribe();
    this.subs.length = 0;
  }

  private onDialRequest(rawIp: string, port: number, reason: string): void {
    const { manager, metrics, logger } = this.o;
    if (!isValidIp(rawIp) || port === 0 || port > 65535) {
      metrics.dialRequests.inc({ result: "bad_request" });
      return;
    }
    const ip = normalizeIp(rawIp);
    const skip = manager.isConnected(ip)
      ? "already_connected"
      : manager.isDialing(ip)
        ? "already_dialing"
        : manager.selfIps.has(ip)
          ? "self"
          : this.o.admission.isBanned(ip)
            ? "banned"
            : undefined;
    if (skip) {
      metrics.dialRequests.inc({ result: skip });
      logger.debug({ peer_ip: ip, skip }, "dial request skipped");
      if (skip === "self") this.publishDialFailed(ip, port, DisconnectReason.SELF_CONNECTION, "", "this address is this node");
      return;
    }
    metrics.dialRequests.inc({ result: "dialled" });
    logger.info({ peer_ip: ip, port, why: reason }, "dialling peer");
    // A failed connect or handshake arrives as "dialFailed" and is reported. A
    // dial refused by our own limits (connection cap, shutdown) is not the
    // peer's failure and is not reported: the registry retries it without
    // blame once DIAL_GIVE_UP passes.
    manager.dial({ ip, port }).catch(() => undefined);
  }

  private applyPolicy(p: AdmissionPolicy): void {
    const { admission, manager, metrics, logger, labeler } = this.o;
    if (!admission.apply(p)) return;
    metrics.admissionPolicyVersion.set(Number(p.version));
    const banned = admission.bannedIps();
    metrics.bannedIps.set(banned.length);
    let named = 0;
    for (const ip of admission.allowList) if (named++ < this.o.maxNamedPeers) labeler.add(ip);
    for (const ip of banned) {
      const n = manager.closeAll(ip, DisconnectReason.BANNED, "banned by the peer-registry");
      if (n > 0) logger.warn({ peer_ip: ip, sockets: n, reason: enumLabel(DisconnectReasonSchema, DisconnectReason.BANNED) }, "closed a banned peer");
    }
  }

  private publishDialFailed(ip: string, port: number, reason: DisconnectReason, socketError: string, detail: string): void {
    if (!this.o.bus.publish(Subjects.dialFailed, DialFailedSchema, { ip, port, reason, socketError, detail })) {
      this.o.metrics.natsPublishErrors.inc({ subject: Subjects.dialFailed });
    }
  }
}
