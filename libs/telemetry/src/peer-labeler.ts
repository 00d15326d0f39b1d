/**
 * Maps a peer IP to a metrics label: the IP itself for peers named in
 * configuration (bounded and chosen by the operator), "other" for everyone
 * else, so a flood of strangers cannot blow up label cardinality.
 */
export class PeerLabeler {
  private readonly named = new Set<string>();

  constructor(named: Iterable<string> = []) {
    for (const ip of named) this.named.add(ip);
  }

  add(ip: string): void {
    this.named.add(ip);
  }

  label(ip: string): string {
    return this.named.has(ip) ? ip : "other";
  }
}
