import { create } from "@bufbuild/protobuf";
import { PeerAddressSchema, PeerSource, type PeerAddress } from "@timenet/proto";
import { isPublicIp, isValidIp, normalizeIp, type PeerIp } from "@timenet/net-address";
import { TokenBucket, type Rate } from "@timenet/rate-limit";
import type { Logger } from "@timenet/telemetry";
import type { RegistryMetrics } from "./metrics.js";
import { isBanned, type PeerRecords } from "./peer-records.js";

export type CandidateResult = "accepted" | "known" | "invalid" | "private" | "self" | "rate_limited" | "book_full" | "unknown_source";

export interface PeerAddressesOptions {
  records: PeerRecords;
  metrics: RegistryMetrics;
  logger: Logger;
  publicIp: PeerIp | undefined;
  /** Addresses per Peers answer, sent or read. */
  max: number;
  /** Only peers seen within this are shared. */
  maxAgeMs: number;
  /** New candidates accepted from one source peer. */
  candidateRate: Rate;
  /** When a new IP may first be dialled (the dial planner's rule). */
  firstDialAt: (ip: string, now: number) => number;
}

/**
 * The addresses side of peer exchange, on an explicit clock: which peers we
 * tell others about (ones we have really been connected to, recently, never
 * banned, never private ones to a public peer), and which addresses we take
 * from others as dial candidates (a bounded number per source peer, so one
 * peer cannot flood the book). A source's budget lives as long as its book
 * entry: reconnecting does not refill it.
 */
export class PeerAddresses {
  private readonly budgets = new Map<PeerIp, TokenBucket>();

  constructor(private readonly o: PeerAddressesOptions) {
    o.records.events.on("removed", (ip) => this.budgets.delete(ip));
  }

  /** Up to `max` good peers to tell `forIp` about. */
  share(forIp: PeerIp, max: number, now: number): PeerAddress[] {
    const toPublic = isPublicIp(forIp);
    return [...this.o.records.all()]
      .filter(
        (p) =>
          p.ip !== forIp &&
          !p.isSelf &&
          p.port !== 0 &&
          p.totalConnections > 0 &&
          !isBanned(p, now) &&
          (p.connId !== 0 || now - Number(p.lastSeenMs) <= this.o.maxAgeMs) &&
          (!toPublic || isPublicIp(p.ip)),
      )
      .sort((x, y) => Number(y.connId !== 0) - Number(x.connId !== 0) || Number(y.lastSeenMs - x.lastSeenMs))
      .slice(0, Math.min(max, this.o.max))
      .map((p) => create(PeerAddressSchema, { ip: p.ip, port: p.port, lastSeenMs: p.connId !== 0 ? BigInt(now) : p.lastSeenMs }));
  }

  /** Takes the addresses a peer sent as dial candidates; returns how many of each result. */
  ingest(from: PeerIp, addrs: readonly PeerAddress[], now: number): Partial<Record<CandidateResult, number>> {
    const tally: Partial<Record<CandidateResult, number>> = {};
    const count = (result: CandidateResult, n = 1) => {
      this.o.metrics.candidates.inc({ result }, n);
      tally[result] = (tally[result] ?? 0) + n;
    };
    const read = addrs.slice(0, this.o.max);
    if (addrs.length > read.length) count("rate_limited", addrs.length - read.length);
    // Budgets are kept for book entries only, so they are bounded by the book.
    if (!this.o.records.has(from)) {
      if (read.length > 0) count("unknown_source", read.length);
      return tally;
    }
    let budget = this.budgets.get(from);
    if (!budget) {
      budget = new TokenBucket(this.o.candidateRate, now);
      this.budgets.set(from, budget);
    }
    const fromPublic = isPublicIp(from);
    for (const a of read) {
      if (!isValidIp(a.ip)) count("invalid");
      else {
        const ip = normalizeIp(a.ip);
        if (ip === from || this.o.records.has(ip)) count("known");
        else if (!budget.take(1, now)) count("rate_limited");
        else count(this.addCandidate(ip, a.port, fromPublic, now));
      }
    }
    if (tally.accepted) this.o.logger.info({ peer_ip: from, ...tally }, "learned peers from peer exchange");
    return tally;
  }

  private addCandidate(ip: PeerIp, port: number, fromPublic: boolean, now: number): CandidateResult {
    if (port === 0 || port > 65535) return "invalid";
    if (ip === this.o.publicIp) return "self";
    if (fromPublic && !isPublicIp(ip)) return "private";
    const p = this.o.records.getOrCreate(ip, PeerSource.PEER_EXCHANGE, now, { nextDialMs: this.o.firstDialAt(ip, now) });
    if (!p) return "book_full";
    p.port = port;
    this.o.records.save(p, now);
    return "accepted";
  }
}
