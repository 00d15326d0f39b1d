import { status } from "@grpc/grpc-js";
import { PORT_PLAN } from "@timenet/config";
import type { PeerRegistryService } from "@timenet/proto";
import { AddressError, normalizeIp, parseEndpoint, type PeerIp } from "@timenet/net-address";
import { GrpcStatusError, type ServiceImpl } from "@timenet/grpc";
import type { DialPlanner } from "./dial-planner.js";
import type { PeerJudge } from "./peer-judge.js";
import type { PeerRecords } from "./peer-records.js";

export interface RegistryServiceDeps {
  records: PeerRecords;
  planner: DialPlanner;
  judge: PeerJudge;
  targetOutbound: number;
}

function ipOf(raw: string): PeerIp {
  try {
    return normalizeIp(raw);
  } catch (err) {
    if (err instanceof AddressError) throw new GrpcStatusError(status.INVALID_ARGUMENT, `not an IP address: "${raw}"`);
    throw err;
  }
}

/** The operator's view of the peer book, and the few levers they have. */
export function registryServiceImpl(d: RegistryServiceDeps): ServiceImpl<typeof PeerRegistryService> {
  const { records, planner, judge } = d;
  return {
    listPeers(req) {
      return { peers: records.list(req.state) };
    },
    getPeer(req) {
      const ip = ipOf(req.ip);
      const peer = records.get(ip);
      if (!peer) throw new GrpcStatusError(status.NOT_FOUND, `no peer ${ip} in the book`);
      return { peer };
    },
    addPeer(req) {
      let endpoint;
      try {
        endpoint = parseEndpoint(req.endpoint, PORT_PLAN.p2p);
      } catch (err) {
        throw new GrpcStatusError(status.INVALID_ARGUMENT, (err as Error).message);
      }
      return { peer: planner.addPersistent(endpoint, Date.now()) };
    },
    banPeer(req) {
      const ip = ipOf(req.ip);
      return { peer: judge.ban(ip, Number(req.durationMs), req.reason, Date.now()) };
    },
    unbanPeer(req) {
      const ip = ipOf(req.ip);
      const peer = judge.unban(ip, Date.now());
      if (!peer) throw new GrpcStatusError(status.NOT_FOUND, `no peer ${ip} in the book`);
      return { peer };
    },
    stats() {
      const c = records.counts();
      const dir = records.directions();
      return {
        connected: c.connected,
        inbound: dir.inbound,
        outbound: dir.outbound,
        disconnected: c.disconnected,
        banned: c.banned,
        bookSize: c.size,
        targetOutbound: d.targetOutbound,
        dialsPending: planner.pendingCount,
      };
    },
  };
}
