import type { MessageInitShape } from "@bufbuild/protobuf";
import type { GatewayService, GetInfoResponseSchema } from "@timenet/proto";
import { DisconnectReason } from "@timenet/proto";
import { isValidIp, normalizeIp } from "@timenet/net-address";
import { GrpcStatusError, type ServiceImpl } from "@timenet/grpc";
import { status } from "@grpc/grpc-js";
import type { ConnectionManager } from "./connection-manager.js";

/** The operator's view of the gateway: who it is, its connections, and a way to drop one. */
export function gatewayServiceImpl(manager: ConnectionManager, info: () => MessageInitShape<typeof GetInfoResponseSchema>): ServiceImpl<typeof GatewayService> {
  return {
    getInfo: () => info(),
    listConnections() {
      return {
        connections: manager.connections().map((c) => ({
          ip: c.remoteIp,
          port: c.peerHello?.listenPort ?? 0,
          direction: c.direction,
          connectedSinceMs: BigInt(c.establishedAt),
          lastRttMs: c.lastRttMs,
          bytesIn: BigInt(c.traffic.bytesIn),
          bytesOut: BigInt(c.traffic.bytesOut),
          framesIn: BigInt(c.traffic.framesIn),
          framesOut: BigInt(c.traffic.framesOut),
          connId: c.connId,
          nodeId: Buffer.from(c.secureSession?.remoteNodeId ?? []).toString("hex"),
          softwareVersion: c.peerHello?.softwareVersion ?? "",
          bestHeight: c.bestHeight,
          remotePort: c.remotePort,
          encryption: c.encryption,
          transportMessagesOut: c.transportMessages.out,
          transportMessagesIn: c.transportMessages.in,
        })),
      };
    },
    disconnect(req) {
      if (!isValidIp(req.ip)) throw new GrpcStatusError(status.INVALID_ARGUMENT, `not an IP address: "${req.ip}"`);
      return { disconnected: manager.disconnect(normalizeIp(req.ip), DisconnectReason.OPERATOR, "operator request") };
    },
  };
}
