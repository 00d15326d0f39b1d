import { status } from "@grpc/grpc-js";
import { PORT_PLAN } from "@timenet/config";
import type { PeerRegistryService } from "@timenet/proto";
import { AddressError, normalizeIp, parseEndpoint, type PeerIp } from "@timenet/net-address";
import { GrpcStatusError, type ServiceImpl } from "@timenet/grpc";
import type { PeerBook } from "./peer-book.js";

export interface RegistryServiceDeps {
  book: PeerBook;
  targetOutbound: number;
  /** Bans and unbans change the admission policy: send it at once. */
  publishPolicy(): void;
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
  const { book } = d;
  return {
    listPeers(req) {
      return { peers: book.list(req.state) };
    },
    getPeer(req) {
      const ip = ipOf(req.ip);
      const peer = book.get(ip);
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
      return { peer: book.addPersistent(endpoint) };
    },
    banPeer(req) {
      const ip = ipOf(req.ip);
      const peer = book.ban(ip, Number(req.durationMs), req.reason);
      d.publishPolicy();
      return { peer };
    },
    unbanPeer(req) {
      const ip = ipOf(req.ip);
      const peer = book.unban(ip);
      if (!peer) throw new GrpcStatusError(status.NOT_FOUND, `no peer ${ip} in the book`);
      d.publishPolicy();
      return { peer };
    },
    stats() {
      const c = book.counts();
      const dir = book.directions();
      return {
        connected: c.connected,
        inbound: dir.inbound,
        outbound: dir.outbound,
        disconnected: c.disconnected,
        banned: c.banned,
        bookSize: c.size,
        targetOutbound: d.targetOutbound,
        dialsPending: book.dialsPending,
      };
    },
  };
}
