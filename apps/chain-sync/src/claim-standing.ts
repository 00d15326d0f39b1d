import type { PeerIp } from "@timenet/net-address";

export interface ClaimStandingOptions {
  /** IPs remembered; beyond this the one written to longest ago is forgotten. Default 4096. */
  maxEntries?: number;
  /** How long a proven unbacked claim keeps the IP's claims from steering anything. Default 10 min. */
  unbackedForMs?: number;
  /** A probe that failed without proof suspends the IP's claims this long, doubling with each failure in a row. Default 1 s. */
  suspendMinMs?: number;
  /** The longest such suspension. Default 5 min. */
  suspendMaxMs?: number;
  now?: () => number;
}

export const CLAIM_STANDING_DEFAULTS = {
  maxEntries: 4_096,
  unbackedForMs: 10 * 60_000,
  suspendMinMs: 1_000,
  suspendMaxMs: 5 * 60_000,
};

interface Standing {
  /** The highest height this IP served us valid blocks for. */
  backed: number;
  /** Until then (ms) its claims count only up to `backed`. */
  distrustedUntil: number;
  /** Probes that failed in a row without proof: the next suspension is suspendMinMs * 2^n. */
  failedProbes: number;
  /** The highest height those probes asked for: the run ends once the IP has served up to it. */
  failedUpTo: number;
  /** Until then (ms) a proof is not reported again: it was, by this replica or another. */
  reportedUntil: number;
  /** The claim this replica reported last: never reported twice. */
  reportedClaim: number;
}

/** Why an IP's claims stopped steering. */
export type DistrustReason = "unbacked" | "probe_failed" | "reported";

/**
 * What each peer IP's height claims are worth, remembered per IP (so across
 * its reconnects and its Goodbyes), bounded. A claim steers our planning only
 * while the IP is in good standing; an IP out of it counts only up to what it
 * has backed (served us as valid blocks).
 *
 * It falls out of standing for a while when a probe of its claim fails: for
 * `unbackedForMs` when the failure proves the claim was never backed (see
 * `batch-worker`: no blocks at least max_reorg_depth below it), for a
 * doubling suspension when it proves nothing (it left, timed out, or lacked
 * a height a reorg could have taken back): an honest peer whose link broke
 * is back within a second, a peer that keeps failing fades out.
 */
export class ClaimStanding {
  private readonly o: Required<ClaimStandingOptions>;
  private readonly ips = new Map<PeerIp, Standing>();

  constructor(o: ClaimStandingOptions = {}, private readonly onDistrust: (ip: PeerIp, reason: DistrustReason, forMs: number) => void = () => undefined) {
    this.o = { ...CLAIM_STANDING_DEFAULTS, now: Date.now, ...o };
  }

  /** The claim as far as it steers: whole in good standing, else only what the IP has backed. */
  credible(ip: PeerIp, claim: number): number {
    const s = this.ips.get(ip);
    if (!s || this.o.now() >= s.distrustedUntil) return claim;
    return Math.min(claim, s.backed);
  }

  trusts(ip: PeerIp): boolean {
    const s = this.ips.get(ip);
    return !s || this.o.now() >= s.distrustedUntil;
  }

  /** The highest height the IP served us valid blocks for (0: none). */
  backedOf(ip: PeerIp): number {
    return this.ips.get(ip)?.backed ?? 0;
  }

  /**
   * The IP served valid blocks up to `height`. Once that covers what its
   * failed probes asked for, their run is over (a link that broke, not a
   * claim that fails: a peer serving the real chain and leaving at the first
   * height past it never gets there).
   */
  backed(ip: PeerIp, height: number): void {
    const s = this.entry(ip);
    s.backed = Math.max(s.backed, height);
    if (s.failedProbes > 0 && s.backed >= s.failedUpTo) s.failedProbes = 0;
  }

  /**
   * A probe of its claim, for heights up to `askedUpTo`, failed without
   * proof: suspended, longer each time in a row. Failures while already
   * suspended are the same event (batches asked at once when the peer
   * left): they do not count again.
   */
  probeFailed(ip: PeerIp, askedUpTo: number): void {
    const s = this.entry(ip);
    s.failedUpTo = Math.max(s.failedUpTo, askedUpTo);
    if (this.o.now() < s.distrustedUntil) return;
    const forMs = Math.min(this.o.suspendMaxMs, this.o.suspendMinMs * 2 ** Math.min(30, s.failedProbes));
    s.failedProbes++;
    this.distrust(ip, s, forMs, "probe_failed");
  }

  /**
   * Its answer proved `claim` was never backed: out of standing for
   * unbackedForMs. True when this is to be reported: not reported before for
   * this claim, nor (by anyone) within unbackedForMs.
   */
  unbacked(ip: PeerIp, claim: number): boolean {
    const s = this.entry(ip);
    this.distrust(ip, s, this.o.unbackedForMs, "unbacked");
    const now = this.o.now();
    if (s.reportedClaim === claim || now < s.reportedUntil) return false;
    s.reportedClaim = claim;
    s.reportedUntil = now + this.o.unbackedForMs;
    return true;
  }

  /** Another replica of this node proved (and reported) an unbacked claim of the IP. */
  reportedElsewhere(ip: PeerIp): void {
    const s = this.entry(ip);
    const now = this.o.now();
    if (now < s.reportedUntil) return; // ours, or one already known
    s.reportedUntil = now + this.o.unbackedForMs;
    this.distrust(ip, s, this.o.unbackedForMs, "reported");
  }

  get size(): number {
    return this.ips.size;
  }

  private distrust(ip: PeerIp, s: Standing, forMs: number, reason: DistrustReason): void {
    const until = this.o.now() + forMs;
    if (until <= s.distrustedUntil) return;
    s.distrustedUntil = until;
    this.onDistrust(ip, reason, forMs);
  }

  /** The IP's entry, made the most recent; the least recently written one goes beyond maxEntries. */
  private entry(ip: PeerIp): Standing {
    let s = this.ips.get(ip);
    if (s) this.ips.delete(ip);
    else s = { backed: 0, distrustedUntil: 0, failedProbes: 0, failedUpTo: 0, reportedUntil: 0, reportedClaim: -1 };
    this.ips.set(ip, s);
    if (this.ips.size > this.o.maxEntries) this.ips.delete(this.ips.keys().next().value!);
    return s;
  }
}
