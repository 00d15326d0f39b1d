import { enumLabel, OffenceKindSchema, OffenceSchema, Subjects, type OffenceKind } from "@timenet/proto";
import type { PeerIp } from "@timenet/net-address";
import type { Bus } from "@timenet/bus";
import type { Logger } from "@timenet/telemetry";
import type { SyncMetrics } from "./metrics.js";

/** Reports a peer's offence to the registry (p2p.offence), with a metric and a log line naming it. */
export type ReportOffence = (peer: PeerIp, kind: OffenceKind, detail: string) => void;

export function offenceReporter(bus: Bus, metrics: SyncMetrics, logger: Logger): ReportOffence {
  return (peer, kind, detail) => {
    const label = enumLabel(OffenceKindSchema, kind);
    metrics.offences.inc({ kind: label });
    logger.warn({ peer_ip: peer, kind: label, detail }, "peer offence reported");
    bus.publish(Subjects.offence, OffenceSchema, { ip: peer, kind, detail, atMs: BigInt(Date.now()) });
  };
}
