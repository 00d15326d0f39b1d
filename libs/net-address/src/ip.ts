import { isIP } from "node:net";

/** A peer's identity: its IP address in one canonical textual form. */
export type PeerIp = string & { readonly __peerIp: unique symbol };

export class AddressError extends Error {
  readonly code = "ERR_BAD_ADDRESS";
  constructor(message: string) {
    super(message);
    this.name = "AddressError";
  }
}

/**
 * Normalises an IP so that one machine has one identity: IPv4-mapped IPv6
 * (`::ffff:1.2.3.4`, as a dual-stack listener reports IPv4 peers) becomes
 * plain IPv4, IPv6 is lower-cased and compressed, zone ids are dropped.
 */
export function normalizeIp(raw: string): PeerIp {
  let ip = raw.trim();
  if (ip.startsWith("[") && ip.endsWith("]")) ip = ip.slice(1, -1);
  const zone = ip.indexOf("%");
  if (zone >= 0) ip = ip.slice(0, zone);
  const family = isIP(ip);
  if (family === 4) return ip as PeerIp;
  if (family !== 6) throw new AddressError(`not an IP address: "${raw}"`);
  const words = ipv6Words(ip);
  // ::ffff:a.b.c.d and ::ffff:hhhh:hhhh are the same IPv4 peer.
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    const hi = words[6]!;
    const lo = words[7]!;
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}` as PeerIp;
  }
  return compressIpv6(words) as PeerIp;
}

export function isValidIp(raw: string): boolean {
  try {
    normalizeIp(raw);
    return true;
  } catch {
    return false;
  }
}

/** 16 bytes for IPv6, 4 for IPv4 (after normalisation). */
export function ipToBytes(ip: string): Uint8Array {
  const n = normalizeIp(ip);
  if (isIP(n) === 4) return Uint8Array.from(n.split(".").map(Number));
  const out = new Uint8Array(16);
  ipv6Words(n).forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

/**
 * Numeric order of two addresses: negative when a < b. IPv4 is ordered as its
 * mapped form (::ffff:a.b.c.d), so every pair has one answer on both ends.
 */
export function compareIp(a: string, b: string): number {
  const x = toSortable(a);
  const y = toSortable(b);
  for (let i = 0; i < 16; i++) {
    const d = x[i]! - y[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

function toSortable(ip: string): Uint8Array {
  const bytes = ipToBytes(ip);
  if (bytes.length === 16) return bytes;
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out.set(bytes, 12);
  return out;
}

function ipv6Words(ip: string): number[] {
  let s = ip.toLowerCase();
  // Trailing dotted IPv4 (::ffff:1.2.3.4) becomes two hex words.
  const lastColon = s.lastIndexOf(":");
  const tail = s.slice(lastColon + 1);
  if (tail.includes(".")) {
    const p = tail.split(".").map(Number);
    s = `${s.slice(0, lastColon + 1)}${((p[0]! << 8) | p[1]!).toString(16)}:${((p[2]! << 8) | p[3]!).toString(16)}`;
  }
  const [head, rest] = s.split("::") as [string, string | undefined];
  const left = head ? head.split(":") : [];
  const right = rest !== undefined && rest !== "" ? rest.split(":") : [];
  const fill = rest === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...Array<string>(fill).fill("0"), ...right].map((h) => parseInt(h, 16));
}

function compressIpv6(words: number[]): string {
  // RFC 5952: compress the longest run (>= 2) of zero words, leftmost on ties.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}
