import { ipToBytes } from "./ip.js";

/**
 * True for private addresses in the strict sense: RFC 1918 (10/8,
 * 172.16/12, 192.168/16) and IPv6 unique local (fc00::/7). These are what a
 * NAT or a Docker bridge hands out; loopback, link-local and CGNAT are not
 * included (isPublicIp is the wider "not routable on the internet" test).
 */
export function isPrivateIp(ip: string): boolean {
  const b = ipToBytes(ip);
  if (b.length === 4) {
    const [a, c] = [b[0]!, b[1]!];
    return a === 10 || (a === 172 && c >= 16 && c < 32) || (a === 192 && c === 168);
  }
  return (b[0]! & 0xfe) === 0xfc;
}
