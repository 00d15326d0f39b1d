import { lookup } from "node:dns/promises";
import { isValidIp, normalizeIp } from "@timenet/net-address";
import type { ChainTip } from "@timenet/proto";
import type { FleetHost } from "./fleet-file.js";
import { probeGateway, probeTip, type GatewayView } from "./node-probes.js";
import type { Part } from "./part.js";
import { nodeTarget } from "./registry-target.js";
import type { Dial } from "./dial.js";

/** What `status --all` learnt of one host. */
export interface HostReport {
  name: string;
  address: string;
  /** The IP its peers see it at (p2p_ip, else the address resolved when it is a name), to find it in their connections. */
  ip: string | undefined;
  gatewayTarget: string;
  storeTarget: string;
  gateway: Part<GatewayView>;
  tip: Part<ChainTip>;
}

/** The address as an IP, looked up when it is a host name; undefined when it does not resolve. */
async function peerIpOf(host: string): Promise<string | undefined> {
  const bare = host.replace(/^\[|\]$/g, "");
  if (isValidIp(bare)) return normalizeIp(bare);
  try {
    return normalizeIp((await lookup(bare)).address);
  } catch {
    return undefined;
  }
}

/** Asks every host's gateway (GetInfo, ListConnections) and store (GetTip), all at once. */
export function probeFleet(hosts: readonly FleetHost[], ports: { gateway: number; store: number }, dial: Dial): Promise<HostReport[]> {
  return Promise.all(
    hosts.map(async (h) => {
      const gatewayTarget = nodeTarget(h.node, h.gatewayPort ?? ports.gateway);
      const storeTarget = `${h.node.host}:${h.storePort ?? ports.store}`;
      const [ip, gateway, tip] = await Promise.all([h.p2pIp ?? peerIpOf(h.node.host), probeGateway(gatewayTarget, dial), probeTip(storeTarget, dial)]);
      return { name: h.name, address: h.address, ip, gatewayTarget, storeTarget, gateway, tip };
    }),
  );
}
