/** What eviction knows about an established inbound connection (none of it a claim the peer can make). */
export interface EvictionCandidate {
  ip: string;
  /** The peer's subnet (/24, /64): its network group. */
  subnet: string;
  connectedAtMs: number;
  /** Last ping round trip (0 = none measured yet). */
  rttMs: number;
  /** When it last gave us something new: the first announcement of a higher block, or blocks we asked for (0 = never). */
  lastUsefulAtMs: number;
}

export interface EvictionProtection {
  /** Subnets protected, one connection each, chosen by a key only this process knows. Default 4. */
  bySubnet: number;
  /** Lowest round trips protected. Default 8. */
  byRtt: number;
  /** Most recently useful protected. Default 4. */
  byUseful: number;
  /** Share of the rest protected by how long they have been connected. Default 0.5. */
  oldestShare: number;
}

export const DEFAULT_EVICTION_PROTECTION: EvictionProtection = { bySubnet: 4, byRtt: 8, byUseful: 4, oldestShare: 0.5 };

/**
 * The inbound connection to close for a new one when every inbound slot is
 * taken, or undefined when all are protected (the newcomer is refused).
 * Bitcoin Core's eviction, in the same order: peers are protected by traits
 * an attacker cannot cheaply fake — a spread of network groups (chosen by a
 * secret key, so an attacker cannot aim at the protected ones), low latency
 * to us, recently useful blocks, and long uptime; of those left, the
 * youngest connection of the most crowded subnet goes. Allow-listed peers are
 * never candidates.
 */
export function selectEvictionVictim<C extends EvictionCandidate>(
  all: readonly C[],
  subnetKey: (subnet: string) => number,
  p: EvictionProtection = DEFAULT_EVICTION_PROTECTION,
): C | undefined {
  let rest = [...all];
  const protect = (sorted: C[], n: number) => {
    const kept = new Set(sorted.slice(0, n));
    rest = rest.filter((c) => !kept.has(c));
  };
  // One per subnet, for the subnets the secret key ranks first.
  const firstOfSubnet = new Map<string, C>();
  for (const c of [...rest].sort((a, b) => subnetKey(a.subnet) - subnetKey(b.subnet) || a.connectedAtMs - b.connectedAtMs)) {
    if (!firstOfSubnet.has(c.subnet)) firstOfSubnet.set(c.subnet, c);
  }
  protect([...firstOfSubnet.values()], p.bySubnet);
  protect(rest.filter((c) => c.rttMs > 0).sort((a, b) => a.rttMs - b.rttMs), p.byRtt);
  protect(rest.filter((c) => c.lastUsefulAtMs > 0).sort((a, b) => b.lastUsefulAtMs - a.lastUsefulAtMs), p.byUseful);
  protect([...rest].sort((a, b) => a.connectedAtMs - b.connectedAtMs), Math.floor(rest.length * p.oldestShare));
  if (rest.length === 0) return undefined;
  // The most crowded subnet (ties: the one whose newest member is youngest) loses its youngest.
  const bySubnet = new Map<string, C[]>();
  for (const c of rest) bySubnet.set(c.subnet, [...(bySubnet.get(c.subnet) ?? []), c]);
  const youngest = (g: C[]) => g.reduce((y, c) => (c.connectedAtMs > y.connectedAtMs ? c : y));
  const groups = [...bySubnet.values()].sort((a, b) => b.length - a.length || youngest(b).connectedAtMs - youngest(a).connectedAtMs);
  return youngest(groups[0]!);
}
