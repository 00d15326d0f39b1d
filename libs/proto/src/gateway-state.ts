import { fromBinary } from "@bufbuild/protobuf";
import { ConnectionStateSchema, GatewayRunSchema, type ConnectionState, type GatewayRun } from "./gen/timenet/p2p/v1/state_pb.js";
import { StateKeys } from "./subjects.js";

/** A value of the gateway's bucket P2P_CONNECTIONS: its run entry, or one IP's connection state. */
export type GatewayStateValue = { run: GatewayRun } | { connection: ConnectionState };

/**
 * The peer's tip as its connection's entry says: the highest block it
 * announced since its Hello (announced_height), else the Hello's. A claim;
 * undefined for an entry without a Hello.
 */
export function peerTipOf(s: ConnectionState): { height: number; hash: Uint8Array } | undefined {
  if (!s.hello) return undefined;
  return s.announcedHeight > s.hello.bestHeight ? { height: s.announcedHeight, hash: s.announcedHash } : { height: s.hello.bestHeight, hash: s.hello.bestHash };
}

/** Decodes a value of bucket P2P_CONNECTIONS by its key (proto/timenet/p2p/v1/state.proto). */
export function decodeGatewayState(key: string, value: Uint8Array): GatewayStateValue {
  return key === StateKeys.gatewayRun ? { run: fromBinary(GatewayRunSchema, value) } : { connection: fromBinary(ConnectionStateSchema, value) };
}
