import { ipToBytes } from "./ip.js";

/**
 * The subnet an address belongs to, as a string key ("v4:127.0.0.0/24"), for
 * per-subnet limits: one operator with a /24 cannot take every inbound slot.
 */
export function subnetKey(ip: string, prefixV4 = 24, prefixV6 = 64): string {
  const bytes = ipToBytes(ip);
  const prefix = bytes.length === 4 ? prefixV4 : prefixV6;
  const masked = Uint8Array.from(bytes, (b, i) => {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    return bits === 0 ? 0 : b & ((0xff << (8 - bits)) & 0xff);
  });
  const text = bytes.length === 4 ? masked.join(".") : Buffer.from(masked).toString("hex");
  return `${bytes.length === 4 ? "v4" : "v6"}:${text}/${prefix}`;
}

/**
 * False for loopback, private (RFC 1918, ULA), link-local, CGNAT and
 * unspecified addresses: ones that mean nothing to a peer on the internet.
 */
export function isPublicIp(ip: string): boolean {
  const b = ipToBytes(ip);
  if (b.length === 4) {
    const [a, c] = [b[0]!, b[1]!];
    return !(
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 100 && c >= 64 && c < 128) ||
      (a === 169 && c === 254) ||
      (a === 172 && c >= 16 && c < 32) ||
      (a === 192 && c === 168) ||
      a >= 224
    );
  }
  const allZeroTo15 = b.slice(0, 15).every((x) => x === 0);
  if (allZeroTo15 && (b[15] === 0 || b[15] === 1)) return false; // :: and ::1
  if ((b[0]! & 0xfe) === 0xfc) return false; // fc00::/7 unique local
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return false; // fe80::/10 link-local
  if (b[0] === 0xff) return false; // multicast
  return true;
}
