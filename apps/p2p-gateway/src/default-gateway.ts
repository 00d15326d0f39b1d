import { readFileSync } from "node:fs";

/**
 * The IPv4 default gateway in a /proc/net/route table (the row whose
 * destination and mask are 0 and that is up with a gateway, RTF_UP|RTF_GATEWAY);
 * undefined when there is none. In a container on a Docker bridge this is the
 * bridge's address, the one docker-proxy's connections come from.
 */
export function parseDefaultGateway(routeTable: string): string | undefined {
  for (const line of routeTable.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [, destination, gateway, flags, , , , mask] = f;
    if (destination !== "00000000" || mask !== "00000000") continue;
    if ((parseInt(flags!, 16) & 0x3) !== 0x3) continue;
    const n = parseInt(gateway!, 16);
    if (!Number.isFinite(n) || n === 0) continue;
    // The kernel prints the address in host (little-endian) byte order.
    return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24].join(".");
  }
  return undefined;
}

/** This machine's (container's) IPv4 default gateway; undefined if /proc/net/route is unreadable or has none. */
export function readDefaultGateway(path = "/proc/net/route"): string | undefined {
  try {
    return parseDefaultGateway(readFileSync(path, "utf8"));
  } catch {
    return undefined;
  }
}
